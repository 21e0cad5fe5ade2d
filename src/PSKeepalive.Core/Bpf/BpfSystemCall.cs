using System;
using System.Buffers.Binary;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Bpf;

/// <summary>What BPF_PROG_QUERY reports for one cgroup and attach type: its own programs, not inherited ones.</summary>
/// <param name="AttachFlags">The flags the cgroup's programs were attached with (all share them).</param>
/// <param name="ProgramIds">The attached programs, in the order the kernel runs them.</param>
public sealed record BpfQueryResult(BpfAttachFlags AttachFlags, uint[] ProgramIds);

/// <summary>
/// The bpf(2) system call for the commands Core uses, one method per command. Every failure goes through
/// <see cref="Errno"/> (subject "Bpf"; "BpfProgram" for a refused load, with the verifier's log); descriptors
/// come back as SafeFileHandles that close themselves.
/// </summary>
internal static unsafe class BpfSystemCall
{
    public const string Subject = "Bpf";

    /// <summary>What grants the bpf(2) commands Core uses, for permission errors.</summary>
    public const string Privilege =
        "root, or CAP_BPF and CAP_NET_ADMIN (with kernel.unprivileged_bpf_disabled set, as on most distributions, unprivileged users cannot use bpf(2) at all)";

    /// <summary>Size of the buffer for the verifier's log when a load fails.</summary>
    private const int VerifierLogSize = 256 * 1024;

    private static long SystemCallNumber => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => Libc.SYS_bpf_x64,
        Architecture.Arm64 => Libc.SYS_bpf_arm64,
        _ => throw new KeepaliveNotSupportedException(
            Subject,
            $"BPF programs are supported on x86_64 and aarch64 only; this process runs on {RuntimeInformation.ProcessArchitecture}.",
            RuntimeInformation.ProcessArchitecture.ToString(),
            Errno.ENOSYS),
    };

    /// <summary>bpf(command, attr, size); the result (a descriptor, or 0), or -errno.</summary>
    private static long Call(BpfCommand command, byte* attr)
    {
        while (true)
        {
            long result = Libc.Syscall(SystemCallNumber, (long)command, (long)attr, BpfAttr.Size);
            if (result >= 0)
            {
                return result;
            }

            int errno = Libc.LastErrno;
            if (errno != Errno.EINTR)
            {
                return -errno;
            }
        }
    }

    private static KeepaliveException Failure(long result, string operation, object? target) =>
        Errno.ToException((int)-result, Subject, operation, target, Privilege);

    private static int Fd(SafeHandle handle) => (int)handle.DangerousGetHandle();

    /// <summary>BPF_MAP_CREATE of an array map.</summary>
    public static SafeFileHandle CreateArrayMap(string name, int keySize, int valueSize, int maxEntries)
    {
        byte* attr = stackalloc byte[BpfAttr.Size];
        new Span<byte>(attr, BpfAttr.Size).Clear();
        *(uint*)(attr + BpfAttr.MapType) = (uint)BpfMapType.Array;
        *(uint*)(attr + BpfAttr.KeySize) = (uint)keySize;
        *(uint*)(attr + BpfAttr.ValueSize) = (uint)valueSize;
        *(uint*)(attr + BpfAttr.MaxEntries) = (uint)maxEntries;
        WriteName(attr + BpfAttr.MapName, name);
        long fd = Call(BpfCommand.MapCreate, attr);
        return fd >= 0 ? new SafeFileHandle((IntPtr)fd, ownsHandle: true) : throw Failure(fd, $"create the BPF map {name}", name);
    }

    /// <summary>BPF_MAP_UPDATE_ELEM (BPF_ANY).</summary>
    public static void UpdateElement(SafeHandle map, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        byte* attr = stackalloc byte[BpfAttr.Size];
        new Span<byte>(attr, BpfAttr.Size).Clear();
        fixed (byte* k = key, v = value)
        {
            *(uint*)(attr + BpfAttr.ElementMapFd) = (uint)Fd(map);
            *(ulong*)(attr + BpfAttr.ElementKey) = (ulong)k;
            *(ulong*)(attr + BpfAttr.ElementValue) = (ulong)v;
            long result = Call(BpfCommand.MapUpdateElement, attr);
            if (result < 0)
            {
                throw Failure(result, "write the BPF map", null);
            }
        }
    }

    /// <summary>BPF_MAP_LOOKUP_ELEM; false when the key has no value (ENOENT).</summary>
    public static bool LookupElement(SafeHandle map, ReadOnlySpan<byte> key, Span<byte> value)
    {
        byte* attr = stackalloc byte[BpfAttr.Size];
        new Span<byte>(attr, BpfAttr.Size).Clear();
        fixed (byte* k = key, v = value)
        {
            *(uint*)(attr + BpfAttr.ElementMapFd) = (uint)Fd(map);
            *(ulong*)(attr + BpfAttr.ElementKey) = (ulong)k;
            *(ulong*)(attr + BpfAttr.ElementValue) = (ulong)v;
            long result = Call(BpfCommand.MapLookupElement, attr);
            if (result == -Errno.ENOENT)
            {
                return false;
            }

            return result >= 0 ? true : throw Failure(result, "read the BPF map", null);
        }
    }

    /// <summary>BPF_MAP_FREEZE: the map becomes read-only for bpf(2); programs still read it.</summary>
    public static void Freeze(SafeHandle map)
    {
        byte* attr = stackalloc byte[BpfAttr.Size];
        new Span<byte>(attr, BpfAttr.Size).Clear();
        *(uint*)(attr + BpfAttr.FreezeMapFd) = (uint)Fd(map);
        long result = Call(BpfCommand.MapFreeze, attr);
        if (result < 0)
        {
            throw Failure(result, "freeze the BPF map", null);
        }
    }

    /// <summary>
    /// BPF_PROG_LOAD. When the kernel refuses the program, it is loaded again with the verifier's log switched on,
    /// so that the error carries the log (<see cref="BpfVerifierException"/>); EPERM/EACCES are a missing privilege.
    /// </summary>
    /// <param name="type">The program type.</param>
    /// <param name="name">The program's name (15 characters at most are kept).</param>
    /// <param name="instructions">The encoded program (<see cref="InstructionEncoder"/>).</param>
    /// <param name="license">"GPL" for the helpers that need it.</param>
    /// <param name="expectedAttachType">expected_attach_type, for the program types that need one (0: none).</param>
    /// <param name="attachBtfId">attach_btf_id: the kernel BTF type the program attaches to (tracing programs; 0: none).</param>
    public static SafeFileHandle LoadProgram(BpfProgramType type, string name, ReadOnlySpan<byte> instructions, string license, BpfAttachType expectedAttachType = 0, uint attachBtfId = 0)
    {
        if (instructions.Length % InstructionEncoder.SlotSize != 0)
        {
            throw new ArgumentException("The instructions are not whole 8-byte slots.", nameof(instructions));
        }

        long result = Load(type, name, instructions, license, expectedAttachType, attachBtfId, null);
        if (result >= 0)
        {
            return new SafeFileHandle((IntPtr)result, ownsHandle: true);
        }

        int errno = (int)-result;
        if (errno is Errno.EPERM or Errno.EACCES && !IsPrivileged())
        {
            throw Errno.ToException(errno, Subject, $"load the BPF program {name}", name, Privilege);
        }

        byte[] log = new byte[VerifierLogSize];
        long again = Load(type, name, instructions, license, expectedAttachType, attachBtfId, log);
        if (again >= 0)
        {
            // Refused once, accepted with the log on (a transient failure such as EAGAIN): keep what loaded.
            return new SafeFileHandle((IntPtr)again, ownsHandle: true);
        }

        string text = Encoding.UTF8.GetString(log, 0, Math.Max(0, Array.IndexOf(log, (byte)0))).TrimEnd();
        throw new BpfVerifierException(
            "BpfProgram",
            $"The kernel refused to load the BPF program {name}: {Errno.Describe(errno)} ({Errno.Name(errno)})." +
            (text.Length == 0 ? " The verifier wrote no log." : " Verifier log:\n" + text),
            name,
            errno,
            text);
    }

    private static long Load(BpfProgramType type, string name, ReadOnlySpan<byte> instructions, string license, BpfAttachType expectedAttachType, uint attachBtfId, byte[]? log)
    {
        byte* attr = stackalloc byte[BpfAttr.Size];
        new Span<byte>(attr, BpfAttr.Size).Clear();
        byte[] licenseBytes = Encoding.ASCII.GetBytes(license + "\0");
        fixed (byte* code = instructions, licenseText = licenseBytes, logBuffer = log)
        {
            *(uint*)(attr + BpfAttr.ProgramType) = (uint)type;
            *(uint*)(attr + BpfAttr.InstructionCount) = (uint)(instructions.Length / InstructionEncoder.SlotSize);
            *(ulong*)(attr + BpfAttr.Instructions) = (ulong)code;
            *(ulong*)(attr + BpfAttr.License) = (ulong)licenseText;
            if (log is not null)
            {
                *(uint*)(attr + BpfAttr.LogLevel) = 1;
                *(uint*)(attr + BpfAttr.LogSize) = (uint)log.Length;
                *(ulong*)(attr + BpfAttr.LogBuffer) = (ulong)logBuffer;
            }

            WriteName(attr + BpfAttr.ProgramName, name);
            *(uint*)(attr + BpfAttr.ExpectedAttachType) = (uint)expectedAttachType;
            *(uint*)(attr + BpfAttr.AttachBtfId) = attachBtfId;
            return Call(BpfCommand.ProgramLoad, attr);
        }
    }

    /// <summary>BPF_LINK_CREATE of <paramref name="program"/> with no target (an iterator's link: BPF_TRACE_ITER).</summary>
    public static SafeFileHandle CreateLink(SafeHandle program, BpfAttachType type, string name)
    {
        byte* attr = stackalloc byte[BpfAttr.Size];
        new Span<byte>(attr, BpfAttr.Size).Clear();
        *(uint*)(attr + BpfAttr.LinkProgramFd) = (uint)Fd(program);
        *(uint*)(attr + BpfAttr.LinkAttachType) = (uint)type;
        long fd = Call(BpfCommand.LinkCreate, attr);
        return fd >= 0 ? new SafeFileHandle((IntPtr)fd, ownsHandle: true) : throw Failure(fd, $"create a link for the BPF program {name}", name);
    }

    /// <summary>BPF_ITER_CREATE: a new run of the iterator behind <paramref name="link"/>; read() the descriptor for its output.</summary>
    public static SafeFileHandle CreateIterator(SafeHandle link, string name)
    {
        byte* attr = stackalloc byte[BpfAttr.Size];
        new Span<byte>(attr, BpfAttr.Size).Clear();
        *(uint*)(attr + BpfAttr.IteratorLinkFd) = (uint)Fd(link);
        long fd = Call(BpfCommand.IteratorCreate, attr);
        return fd >= 0 ? new SafeFileHandle((IntPtr)fd, ownsHandle: true) : throw Failure(fd, $"start the BPF iterator {name}", name);
    }

    /// <summary>BPF_PROG_ATTACH of <paramref name="program"/> to <paramref name="target"/> (a cgroup directory).</summary>
    public static void Attach(SafeHandle target, SafeHandle program, BpfAttachType type, BpfAttachFlags flags, SafeHandle? replace, string targetName)
    {
        byte* attr = stackalloc byte[BpfAttr.Size];
        new Span<byte>(attr, BpfAttr.Size).Clear();
        *(uint*)(attr + BpfAttr.TargetFd) = (uint)Fd(target);
        *(uint*)(attr + BpfAttr.AttachBpfFd) = (uint)Fd(program);
        *(uint*)(attr + BpfAttr.AttachType) = (uint)type;
        *(uint*)(attr + BpfAttr.AttachFlags) = (uint)flags;
        if (replace is not null)
        {
            *(uint*)(attr + BpfAttr.ReplaceBpfFd) = (uint)Fd(replace);
        }

        long result = Call(BpfCommand.ProgramAttach, attr);
        if (result < 0)
        {
            throw Failure(result, $"attach a BPF program to {targetName}", targetName);
        }
    }

    /// <summary>BPF_PROG_DETACH of exactly <paramref name="program"/> from <paramref name="target"/>.</summary>
    public static void Detach(SafeHandle target, SafeHandle program, BpfAttachType type, string targetName)
    {
        byte* attr = stackalloc byte[BpfAttr.Size];
        new Span<byte>(attr, BpfAttr.Size).Clear();
        *(uint*)(attr + BpfAttr.TargetFd) = (uint)Fd(target);
        *(uint*)(attr + BpfAttr.AttachBpfFd) = (uint)Fd(program);
        *(uint*)(attr + BpfAttr.AttachType) = (uint)type;
        long result = Call(BpfCommand.ProgramDetach, attr);
        if (result < 0)
        {
            throw Failure(result, $"detach a BPF program from {targetName}", targetName);
        }
    }

    /// <summary>BPF_PROG_QUERY: the programs attached to <paramref name="target"/> itself (not its ancestors').</summary>
    public static BpfQueryResult Query(SafeHandle target, BpfAttachType type, string targetName)
    {
        uint capacity = 16;
        byte* attr = stackalloc byte[BpfAttr.Size];
        while (true)
        {
            uint[] ids = new uint[capacity];
            new Span<byte>(attr, BpfAttr.Size).Clear();
            fixed (uint* idBuffer = ids)
            {
                *(uint*)(attr + BpfAttr.QueryTargetFd) = (uint)Fd(target);
                *(uint*)(attr + BpfAttr.QueryAttachType) = (uint)type;
                *(ulong*)(attr + BpfAttr.QueryProgramIds) = (ulong)idBuffer;
                *(uint*)(attr + BpfAttr.QueryProgramCount) = capacity;
                long result = Call(BpfCommand.ProgramQuery, attr);
                uint count = *(uint*)(attr + BpfAttr.QueryProgramCount);
                if (result == -Errno.ENOSPC && count > capacity)
                {
                    capacity = count; // attached meanwhile: ask again with room for all
                    continue;
                }

                if (result < 0)
                {
                    throw Failure(result, $"list the BPF programs attached to {targetName}", targetName);
                }

                return new BpfQueryResult((BpfAttachFlags)(*(uint*)(attr + BpfAttr.QueryAttachFlags)), ids.AsSpan(0, (int)Math.Min(count, capacity)).ToArray());
            }
        }
    }

    /// <summary>BPF_PROG_GET_FD_BY_ID; null when no program has that id (any more).</summary>
    public static SafeFileHandle? ProgramById(uint id) => ObjectById(BpfCommand.ProgramGetFdById, id, "program");

    /// <summary>BPF_MAP_GET_FD_BY_ID; null when no map has that id (any more).</summary>
    public static SafeFileHandle? MapById(uint id) => ObjectById(BpfCommand.MapGetFdById, id, "map");

    private static SafeFileHandle? ObjectById(BpfCommand command, uint id, string what)
    {
        byte* attr = stackalloc byte[BpfAttr.Size];
        new Span<byte>(attr, BpfAttr.Size).Clear();
        *(uint*)(attr + BpfAttr.Id) = id;
        long fd = Call(command, attr);
        if (fd == -Errno.ENOENT)
        {
            return null;
        }

        return fd >= 0 ? new SafeFileHandle((IntPtr)fd, ownsHandle: true) : throw Failure(fd, $"open BPF {what} {id}", id);
    }

    /// <summary>BPF_PROG_GET_NEXT_ID: the next loaded program id after <paramref name="id"/>, or null at the end.</summary>
    public static uint? NextProgramId(uint id)
    {
        byte* attr = stackalloc byte[BpfAttr.Size];
        new Span<byte>(attr, BpfAttr.Size).Clear();
        *(uint*)(attr + BpfAttr.Id) = id;
        long result = Call(BpfCommand.ProgramGetNextId, attr);
        if (result == -Errno.ENOENT)
        {
            return null;
        }

        return result >= 0 ? *(uint*)(attr + BpfAttr.NextId) : throw Failure(result, "list loaded BPF programs", null);
    }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD for a program, with up to <paramref name="mapIdCapacity"/> of its map ids.</summary>
    public static BpfProgramInfo ProgramInfo(SafeHandle program, int mapIdCapacity = 8)
    {
        byte* info = stackalloc byte[BpfAttr.InfoBufferSize];
        new Span<byte>(info, BpfAttr.InfoBufferSize).Clear();
        uint[] mapIds = new uint[mapIdCapacity];
        fixed (uint* ids = mapIds)
        {
            *(uint*)(info + BpfAttr.ProgramInfoMapIdCount) = (uint)mapIdCapacity;
            *(ulong*)(info + BpfAttr.ProgramInfoMapIds) = (ulong)ids;
            int length = GetInfo(program, info, "BPF program");
            if (length < BpfAttr.ProgramInfoNeeded)
            {
                throw new KeepaliveDataException(Subject, $"The kernel returned {length} bytes of BPF program information; at least {BpfAttr.ProgramInfoNeeded} are needed.");
            }

            uint mapCount = *(uint*)(info + BpfAttr.ProgramInfoMapIdCount);
            return new BpfProgramInfo(
                (BpfProgramType)(*(uint*)(info + BpfAttr.ProgramInfoType)),
                *(uint*)(info + BpfAttr.ProgramInfoId),
                Convert.ToHexString(new ReadOnlySpan<byte>(info + BpfAttr.ProgramInfoTag, BpfAttr.TagSize)).ToLowerInvariant(),
                ReadName(info + BpfAttr.ProgramInfoName),
                *(ulong*)(info + BpfAttr.ProgramInfoLoadTime),
                *(uint*)(info + BpfAttr.ProgramInfoCreatedByUid),
                mapIds.AsSpan(0, (int)Math.Min(mapCount, (uint)mapIdCapacity)).ToArray(),
                (int)mapCount);
        }
    }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD for a map.</summary>
    public static BpfMapInfo MapInfo(SafeHandle map)
    {
        byte* info = stackalloc byte[BpfAttr.InfoBufferSize];
        new Span<byte>(info, BpfAttr.InfoBufferSize).Clear();
        int length = GetInfo(map, info, "BPF map");
        if (length < BpfAttr.MapInfoNeeded)
        {
            throw new KeepaliveDataException(Subject, $"The kernel returned {length} bytes of BPF map information; at least {BpfAttr.MapInfoNeeded} are needed.");
        }

        return new BpfMapInfo(
            (BpfMapType)(*(uint*)(info + BpfAttr.MapInfoType)),
            *(uint*)(info + BpfAttr.MapInfoId),
            *(uint*)(info + BpfAttr.MapInfoKeySize),
            *(uint*)(info + BpfAttr.MapInfoValueSize),
            *(uint*)(info + BpfAttr.MapInfoMaxEntries),
            ReadName(info + BpfAttr.MapInfoName));
    }

    private static int GetInfo(SafeHandle handle, byte* info, string what)
    {
        byte* attr = stackalloc byte[BpfAttr.Size];
        new Span<byte>(attr, BpfAttr.Size).Clear();
        *(uint*)(attr + BpfAttr.InfoBpfFd) = (uint)Fd(handle);
        *(uint*)(attr + BpfAttr.InfoLength) = BpfAttr.InfoBufferSize;
        *(ulong*)(attr + BpfAttr.Info) = (ulong)info;
        long result = Call(BpfCommand.ObjectGetInfoByFd, attr);
        return result >= 0 ? (int)*(uint*)(attr + BpfAttr.InfoLength) : throw Failure(result, $"read the {what} information", null);
    }

    /// <summary>Object names: up to 15 characters of [A-Za-z0-9_.], NUL-terminated in a 16-byte field.</summary>
    private static void WriteName(byte* field, string name)
    {
        if (name.Length >= BpfAttr.ObjectNameLength || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.'))
        {
            throw new ArgumentException($"'{name}' is no valid BPF object name (up to 15 of A-Z a-z 0-9 _ .).", nameof(name));
        }

        Encoding.ASCII.GetBytes(name, new Span<byte>(field, BpfAttr.ObjectNameLength));
    }

    private static string ReadName(byte* field)
    {
        var bytes = new ReadOnlySpan<byte>(field, BpfAttr.ObjectNameLength);
        int end = bytes.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? bytes : bytes[..end]);
    }

    /// <summary>Effective UID 0: a refusal then is no missing privilege (a lockdown or LSM), and the log is worth having.</summary>
    private static bool IsPrivileged() => Libc.GetEUid() == 0;

    /// <summary>Reads a little-endian u32 at <paramref name="offset"/> (map values).</summary>
    internal static uint U32(ReadOnlySpan<byte> bytes, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(bytes[offset..]);
}

/// <summary>What the kernel says about a loaded BPF program (struct bpf_prog_info, the fields Core uses).</summary>
/// <param name="Type">The program type.</param>
/// <param name="Id">Its id, as bpftool shows it.</param>
/// <param name="Tag">The tag (hash of its instructions), 16 hex digits.</param>
/// <param name="Name">The name given at load time.</param>
/// <param name="LoadTimeSinceBoot">When it was loaded, nanoseconds since boot (CLOCK_BOOTTIME).</param>
/// <param name="CreatedByUid">The user that loaded it.</param>
/// <param name="MapIds">The maps it uses.</param>
/// <param name="MapCount">How many maps it uses (may exceed <paramref name="MapIds"/>'s length).</param>
public sealed record BpfProgramInfo(BpfProgramType Type, uint Id, string Tag, string Name, ulong LoadTimeSinceBoot, uint CreatedByUid, uint[] MapIds, int MapCount);

/// <summary>What the kernel says about a BPF map (struct bpf_map_info, the fields Core uses).</summary>
public sealed record BpfMapInfo(BpfMapType Type, uint Id, uint KeySize, uint ValueSize, uint MaxEntries, string Name);
