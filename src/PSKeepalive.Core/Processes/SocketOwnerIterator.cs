using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Processes;

/// <summary>
/// The owner scan done by the kernel: a BPF iterator over every task's open files (bpf_iter "task_file",
/// Linux 5.8+) runs a 30-instruction program that writes (tgid, fd, inode) for each socket. ~100,000 sockets
/// then cost one read of 1.6 MB, about 50 ms of kernel time here, where /proc/*/fd needs one readlinkat per
/// descriptor (~300 ms). Struct offsets come from the running kernel's BTF and the verifier checks every read
/// against it. Needs root (CAP_BPF and CAP_PERFMON), /sys/kernel/btf/vmlinux, and the initial PID namespace
/// (the program reads global PIDs, as /proc shows them there); when anything is missing or refused,
/// <see cref="TryScan"/> returns false and the caller walks /proc instead. Nothing stays loaded: the program,
/// its link and the iterator are closed before TryScan returns.
/// </summary>
internal static unsafe class SocketOwnerIterator
{
    /// <summary>Tests and benchmarks: false makes every scan walk /proc.</summary>
    internal static bool Enabled { get; set; } = true;

    private const int RecordLength = 16;      // u32 tgid, u32 fd, u64 inode (or, in the trailer, descriptors seen)
    private const uint TrailerFd = uint.MaxValue;
    private const uint InitialPidNamespace = 0xEFFFFFFC; // PROC_PID_INIT_INO

    private static readonly Lazy<Layout?> KernelLayout = new(ReadLayout);

    /// <summary>
    /// Adds an owner for every socket descriptor of every process to <paramref name="owners"/> (empty on entry) and
    /// counts the descriptors looked at; false (and <paramref name="owners"/> left empty) when the iterator is unavailable here.
    /// </summary>
    public static bool TryScan(OwnerRecords owners, out int descriptors)
    {
        descriptors = 0;
        if (!Enabled || SyscallNumber() is not long bpf || !InInitialPidNamespace() || KernelLayout.Value is not Layout layout)
        {
            return false;
        }

        int program = -1, link = -1, iterator = -1;
        try
        {
            program = Load(bpf, layout);
            link = program < 0 ? -1 : CreateLink(bpf, program);
            iterator = link < 0 ? -1 : CreateIterator(bpf, link);
            if (iterator < 0 || !Read(iterator, owners, out descriptors))
            {
                owners.Clear();
                return false;
            }

            return true;
        }
        finally
        {
            foreach (int fd in new[] { iterator, link, program })
            {
                if (fd >= 0)
                {
                    Libc.Close(fd);
                }
            }
        }
    }

    /// <summary>Where this kernel keeps what the program reads, from its BTF.</summary>
    private sealed record Layout(int AttachBtfId, int TaskTgid, int FileInode, int InodeMode, int InodeNumber);

    private static Layout? ReadLayout()
    {
        using KernelBtf? btf = KernelBtf.Open();
        if (btf is null)
        {
            return null;
        }

        int function = btf.Find(KernelBtf.KindFunction, "bpf_iter_task_file"u8);
        if (function < 0 ||
            !btf.TryMember("task_struct"u8, "tgid"u8, out int tgid, out int tgidSize) || tgidSize != 4 ||
            !btf.TryMember("file"u8, "f_inode"u8, out int inode, out int inodeSize) || inodeSize != 8 ||
            !btf.TryMember("inode"u8, "i_mode"u8, out int mode, out int modeSize) || modeSize != 2 ||
            !btf.TryMember("inode"u8, "i_ino"u8, out int number, out int numberSize) || numberSize != 8)
        {
            return null;
        }

        return new Layout(function, tgid, inode, mode, number);
    }

    /// <summary>
    /// The program, for the iterator's context (struct bpf_iter__task_file: meta at 0, task at 8, fd at 16, file
    /// at 24, as the kernel passes an iterator's arguments). For each socket file: {tgid, fd, inode} with
    /// bpf_seq_write; at the end (file NULL): {0, ~0, meta->seq_num}, the number of descriptors visited.
    /// </summary>
    internal static Instruction[] Program(int taskTgid, int fileInode, int inodeMode, int inodeNumber)
    {
        const byte Ctx = 6, Meta = 7;
        var code = new List<Instruction>
        {
            Instruction.MoveRegister(Ctx, 1),
            Instruction.Load(8, Meta, Ctx, 0),              // meta
            Instruction.Load(8, 2, Ctx, 24),                // file
            Instruction.JumpIfEqual(2, 0, "end"),
            Instruction.Load(8, 3, Ctx, 8),                 // task
            Instruction.JumpIfEqual(3, 0, "skip"),
            Instruction.Load(8, 4, 2, fileInode),           // file->f_inode
            Instruction.JumpIfEqual(4, 0, "skip"),
            Instruction.Load(2, 5, 4, inodeMode),           // inode->i_mode
            Instruction.AndImmediate(5, 0xf000),            // S_IFMT
            Instruction.JumpIfNotEqual(5, 0xc000, "skip"),  // S_IFSOCK
            Instruction.Load(8, 5, 4, inodeNumber),         // inode->i_ino
            Instruction.Store(8, 10, -8, 5),
            Instruction.Load(4, 5, 3, taskTgid),            // task->tgid
            Instruction.Store(4, 10, -16, 5),
            Instruction.Load(4, 5, Ctx, 16),                // fd
            Instruction.Store(4, 10, -12, 5),
            Instruction.Jump("write"),
            Instruction.Label("end"),
            Instruction.Load(8, 5, Meta, 16),               // meta->seq_num: objects shown so far
            Instruction.Store(8, 10, -8, 5),
            Instruction.StoreImmediate(4, 10, -16, 0),
            Instruction.StoreImmediate(4, 10, -12, unchecked((int)TrailerFd)),
            Instruction.Label("write"),
            Instruction.Load(8, 1, Meta, 0),                // meta->seq
            Instruction.MoveRegister(2, 10),
            Instruction.AddImmediate(2, -RecordLength),
            Instruction.MoveImmediate(3, RecordLength),
            Instruction.Call(127),                          // bpf_seq_write
            Instruction.Label("skip"),
            Instruction.MoveImmediate(0, 0),
            Instruction.Exit(),
        };
        return Instruction.Resolve(code);
    }

    private static int Load(long bpf, Layout layout)
    {
        Instruction[] program = Program(layout.TaskTgid, layout.FileInode, layout.InodeMode, layout.InodeNumber);
        byte[] code = new byte[program.Length * Instruction.Length];
        for (int i = 0; i < program.Length; i++)
        {
            program[i].Write(code.AsSpan(i * Instruction.Length));
        }

        byte* attr = stackalloc byte[AttrLength];
        new Span<byte>(attr, AttrLength).Clear();
        fixed (byte* insns = code)
        fixed (byte* license = "GPL\0"u8)
        fixed (byte* name = "psk_sock_owners\0"u8)
        {
            *(uint*)(attr + 0) = BpfProgTypeTracing;
            *(uint*)(attr + 4) = (uint)program.Length;
            *(ulong*)(attr + 8) = (ulong)insns;
            *(ulong*)(attr + 16) = (ulong)license;
            new ReadOnlySpan<byte>(name, 15).CopyTo(new Span<byte>(attr + 48, 15));
            *(uint*)(attr + 68) = BpfTraceIter;          // expected_attach_type
            *(uint*)(attr + 108) = (uint)layout.AttachBtfId;
            return (int)Libc.Syscall(bpf, BpfProgLoad, (long)attr, AttrLength);
        }
    }

    private static int CreateLink(long bpf, int program)
    {
        byte* attr = stackalloc byte[AttrLength];
        new Span<byte>(attr, AttrLength).Clear();
        *(uint*)(attr + 0) = (uint)program;
        *(uint*)(attr + 8) = BpfTraceIter;
        return (int)Libc.Syscall(bpf, BpfLinkCreate, (long)attr, AttrLength);
    }

    private static int CreateIterator(long bpf, int link)
    {
        byte* attr = stackalloc byte[AttrLength];
        new Span<byte>(attr, AttrLength).Clear();
        *(uint*)(attr + 0) = (uint)link;
        return (int)Libc.Syscall(bpf, BpfIterCreate, (long)attr, AttrLength);
    }

    /// <summary>Reads the iterator to its end: records into owners, the trailer into descriptors; false on a read error or without a trailer.</summary>
    private static bool Read(int iterator, OwnerRecords owners, out int descriptors)
    {
        descriptors = 0;
        bool trailer = false;
        byte[] buffer = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);
        int kept = 0; // bytes of a record split across two reads (the kernel writes whole records; kept for safety)
        fixed (byte* data = buffer)
        {
            while (true)
            {
                nint read = Libc.Read(iterator, data + kept, (nuint)(buffer.Length - kept));
                if (read < 0)
                {
                    if (Libc.LastErrno == Errno.EINTR)
                    {
                        continue;
                    }

                    return false;
                }

                if (read == 0)
                {
                    return trailer && kept == 0;
                }

                int length = kept + (int)read;
                int whole = length - (length % RecordLength);
                for (int at = 0; at < whole; at += RecordLength)
                {
                    uint tgid = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(at));
                    uint fd = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(at + 4));
                    ulong inode = BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(at + 8));
                    if (fd == TrailerFd && tgid == 0)
                    {
                        descriptors = (int)Math.Min(inode, int.MaxValue);
                        trailer = true;
                    }
                    else if (fd <= int.MaxValue && tgid is > 0 and <= int.MaxValue)
                    {
                        owners.Add(new SocketOwnerScan.RawOwner(inode, (int)tgid, (int)fd));
                    }
                }

                kept = length - whole;
                buffer.AsSpan(whole, kept).CopyTo(buffer);
            }
        }
    }

    /// <summary>bpf(2)'s number on this architecture; null where this code does not know it.</summary>
    private static long? SyscallNumber() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 321,
        Architecture.Arm64 => 280,
        _ => null,
    };

    private static bool InInitialPidNamespace()
    {
        try
        {
            return new FileInfo("/proc/self/ns/pid").LinkTarget == $"pid:[{InitialPidNamespace}]";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    // linux/bpf.h
    private const long BpfProgLoad = 5;
    private const long BpfLinkCreate = 28;
    private const long BpfIterCreate = 33;
    private const uint BpfProgTypeTracing = 26;
    private const uint BpfTraceIter = 28;

    /// <summary>The bytes of union bpf_attr passed: every field used lies below (the kernel treats the rest as zero).</summary>
    private const int AttrLength = 120;

    /// <summary>One BPF instruction (struct bpf_insn), or a label for jumps to resolve.</summary>
    internal readonly record struct Instruction(byte Code, byte Destination, byte Source, short Offset, int Immediate, string? Target = null, string? Name = null)
    {
        public const int Length = 8;

        // Classes, sizes, modes, operations and sources of linux/bpf_common.h and linux/bpf.h.
        private const byte ClassLdx = 0x01, ClassSt = 0x02, ClassStx = 0x03, ClassJmp = 0x05, ClassAlu64 = 0x07;
        private const byte ModeMem = 0x60;
        private const byte SourceImmediate = 0x00, SourceRegister = 0x08;
        private const byte OpAdd = 0x00, OpAnd = 0x50, OpMove = 0xb0;
        private const byte OpJa = 0x00, OpJeq = 0x10, OpJne = 0x50, OpCall = 0x80, OpExit = 0x90;

        public static Instruction MoveRegister(byte destination, byte source) => new((byte)(ClassAlu64 | OpMove | SourceRegister), destination, source, 0, 0);

        public static Instruction MoveImmediate(byte destination, int value) => new((byte)(ClassAlu64 | OpMove | SourceImmediate), destination, 0, 0, value);

        public static Instruction AddImmediate(byte destination, int value) => new((byte)(ClassAlu64 | OpAdd | SourceImmediate), destination, 0, 0, value);

        public static Instruction AndImmediate(byte destination, int value) => new((byte)(ClassAlu64 | OpAnd | SourceImmediate), destination, 0, 0, value);

        /// <summary>destination = *(size *)(source + offset).</summary>
        public static Instruction Load(int size, byte destination, byte source, int offset) => new((byte)(ClassLdx | ModeMem | SizeCode(size)), destination, source, checked((short)offset), 0);

        /// <summary>*(size *)(destination + offset) = source.</summary>
        public static Instruction Store(int size, byte destination, int offset, byte source) => new((byte)(ClassStx | ModeMem | SizeCode(size)), destination, source, checked((short)offset), 0);

        /// <summary>*(size *)(destination + offset) = value.</summary>
        public static Instruction StoreImmediate(int size, byte destination, int offset, int value) => new((byte)(ClassSt | ModeMem | SizeCode(size)), destination, 0, checked((short)offset), value);

        public static Instruction JumpIfEqual(byte register, int value, string target) => new((byte)(ClassJmp | OpJeq | SourceImmediate), register, 0, 0, value, target);

        public static Instruction JumpIfNotEqual(byte register, int value, string target) => new((byte)(ClassJmp | OpJne | SourceImmediate), register, 0, 0, value, target);

        public static Instruction Jump(string target) => new((byte)(ClassJmp | OpJa), 0, 0, 0, 0, target);

        public static Instruction Call(int helper) => new((byte)(ClassJmp | OpCall), 0, 0, 0, helper);

        public static Instruction Exit() => new((byte)(ClassJmp | OpExit), 0, 0, 0, 0);

        public static Instruction Label(string name) => new(0, 0, 0, 0, 0, null, name);

        /// <summary>Drops the labels and turns jump targets into offsets (relative to the next instruction).</summary>
        public static Instruction[] Resolve(List<Instruction> code)
        {
            var positions = new Dictionary<string, int>();
            var result = new List<Instruction>();
            foreach (Instruction instruction in code)
            {
                if (instruction.Name is not null)
                {
                    positions[instruction.Name] = result.Count;
                }
                else
                {
                    result.Add(instruction);
                }
            }

            for (int i = 0; i < result.Count; i++)
            {
                if (result[i].Target is string target)
                {
                    result[i] = result[i] with { Offset = checked((short)(positions[target] - i - 1)), Target = null };
                }
            }

            return result.ToArray();
        }

        public void Write(Span<byte> destination)
        {
            destination[0] = Code;
            destination[1] = (byte)((Source << 4) | (Destination & 0x0f));
            BinaryPrimitives.WriteInt16LittleEndian(destination.Slice(2), Offset);
            BinaryPrimitives.WriteInt32LittleEndian(destination.Slice(4), Immediate);
        }

        private static byte SizeCode(int size) => size switch
        {
            4 => 0x00,
            2 => 0x08,
            1 => 0x10,
            8 => 0x18,
            _ => throw new ArgumentOutOfRangeException(nameof(size), size, "A BPF load or store is 1, 2, 4 or 8 bytes."),
        };
    }
}
