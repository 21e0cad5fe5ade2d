using System;
using System.Buffers.Binary;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using PSKeepalive.Core.Bpf;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using static PSKeepalive.Core.Bpf.Register;

namespace PSKeepalive.Core.Processes;

/// <summary>
/// The owner scan done by the kernel: a BPF iterator over every task's open files (bpf_iter "task_file",
/// Linux 5.8+) runs a 29-instruction program that writes (tgid, fd, inode) for each socket. ~100,000 sockets
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
        if (!Enabled || !SupportedArchitecture() || !InInitialPidNamespace() || KernelLayout.Value is not Layout layout)
        {
            return false;
        }

        try
        {
            byte[] code = InstructionEncoder.Encode(Program(layout.TaskTgid, layout.FileInode, layout.InodeMode, layout.InodeNumber));
            using SafeFileHandle program = BpfSystemCall.LoadProgram(BpfProgramType.Tracing, ProgramName, code, "GPL", BpfAttachType.TraceIterator, (uint)layout.AttachBtfId);
            using SafeFileHandle link = BpfSystemCall.CreateLink(program, BpfAttachType.TraceIterator, ProgramName);
            using SafeFileHandle iterator = BpfSystemCall.CreateIterator(link, ProgramName);
            if (Read((int)iterator.DangerousGetHandle(), owners, out descriptors))
            {
                return true;
            }
        }
        catch (KeepaliveException)
        {
            // Not allowed here (no CAP_BPF/CAP_PERFMON, lockdown, a seccomp filter) or refused by this kernel: walk /proc.
        }

        owners.Clear();
        descriptors = 0;
        return false;
    }

    private const string ProgramName = "psk_sock_owners";

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
    internal static Instruction[] Program(int taskTgid, int fileInode, int inodeMode, int inodeNumber) =>
    [
        Asm.Move(R6, R1),                                                     // ctx
        Asm.Load(Size.DoubleWord, R7, R6, 0),                                 // meta
        Asm.Load(Size.DoubleWord, R2, R6, 24),                                // file
        Asm.JumpIf(JumpOperation.Equal, R2, 0, "end"),
        Asm.Load(Size.DoubleWord, R3, R6, 8),                                 // task
        Asm.JumpIf(JumpOperation.Equal, R3, 0, "skip"),
        Asm.Load(Size.DoubleWord, R4, R2, checked((short)fileInode)),         // file->f_inode
        Asm.JumpIf(JumpOperation.Equal, R4, 0, "skip"),
        Asm.Load(Size.HalfWord, R5, R4, checked((short)inodeMode)),           // inode->i_mode
        Asm.Alu64(AluOperation.And, R5, 0xf000),                              // S_IFMT
        Asm.JumpIf(JumpOperation.NotEqual, R5, 0xc000, "skip"),               // S_IFSOCK
        Asm.Load(Size.DoubleWord, R5, R4, checked((short)inodeNumber)),       // inode->i_ino
        Asm.Store(Size.DoubleWord, R10, -8, R5),
        Asm.Load(Size.Word, R5, R3, checked((short)taskTgid)),                // task->tgid
        Asm.Store(Size.Word, R10, -16, R5),
        Asm.Load(Size.Word, R5, R6, 16),                                      // fd
        Asm.Store(Size.Word, R10, -12, R5),
        Asm.Jump("write"),
        Asm.Load(Size.DoubleWord, R5, R7, 16).WithLabel("end"),               // meta->seq_num: objects shown so far
        Asm.Store(Size.DoubleWord, R10, -8, R5),
        Asm.Store(Size.Word, R10, -16, 0),
        Asm.Store(Size.Word, R10, -12, unchecked((int)TrailerFd)),
        Asm.Load(Size.DoubleWord, R1, R7, 0).WithLabel("write"),              // meta->seq
        Asm.Move(R2, R10),
        Asm.Alu64(AluOperation.Add, R2, -RecordLength),
        Asm.Move(R3, RecordLength),
        Asm.Call(HelperFunction.SequenceWrite),
        Asm.Move(R0, 0).WithLabel("skip"),
        Asm.Exit(),
    ];

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

    /// <summary>The architectures Core knows bpf(2)'s number on.</summary>
    private static bool SupportedArchitecture() => RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

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
}
