using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.Win32.SafeHandles;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Launch;

/// <summary>
/// A child process started with posix_spawn and held by a pidfd taken at once (the child cannot be reaped, so its
/// pid cannot be reused, until this object reaps it). Waiting polls the pidfd, the exit status comes from
/// waitid(P_PIDFD), and signals go through pidfd_send_signal: no SIGCHLD handler is involved, so neither .NET's
/// (which only reaps the children its Process class started) nor an inherited SIG_IGN can lose the status.
/// </summary>
public sealed unsafe class SpawnedProcess : IDisposable
{
    private const string Subject = "Process";

    // glibc <spawn.h> and <signal.h>, Linux (checked against the headers by a test).
    internal const short PosixSpawnSetSigDefault = 0x04;
    internal const short PosixSpawnSetSigMask = 0x08;
    internal const int SIGPIPE = 13;
    internal const int SIGCHLD = 17;
    internal const int CLD_EXITED = 1;
    internal const int CLD_KILLED = 2;
    internal const int CLD_DUMPED = 3;

    // Buffers larger than glibc's posix_spawnattr_t (336 bytes), posix_spawn_file_actions_t (80), sigset_t (128),
    // struct sigaction (152) and siginfo_t (128) on x86_64 and aarch64.
    internal const int SpawnAttributesSize = 512;
    internal const int FileActionsSize = 256;
    internal const int SignalSetSize = 128;
    internal const int SigActionSize = 256;
    internal const int SignalInfoSize = 128;
    internal const int SignalInfoCode = 8;
    internal const int SignalInfoStatus = 24;

    private int? _exitCode;

    private SpawnedProcess(int pid, SafeFileHandle pidfd)
    {
        Id = pid;
        Pidfd = pidfd;
    }

    public int Id { get; }

    /// <summary>The pidfd (pidfd_open right after the spawn).</summary>
    public SafeFileHandle Pidfd { get; }

    public bool HasExited => _exitCode is not null || WaitForExit(0);

    /// <summary>
    /// Starts <paramref name="path"/> with <paramref name="arguments"/> (argv[0] first), exactly
    /// <paramref name="environment"/>, in <paramref name="workingDirectory"/>, with an empty signal mask and SIGPIPE
    /// at its default action (.NET ignores it, and children would inherit that). Stdio is inherited.
    /// </summary>
    public static SpawnedProcess Start(string path, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, string workingDirectory)
    {
        KeepChildStatus();
        byte[][] argv = arguments.Select(Utf8).ToArray();
        byte[][] envp = environment.Select(e => Utf8(e.Key + "=" + e.Value)).ToArray();
        var pinned = new List<System.Runtime.InteropServices.GCHandle>();
        byte* attributes = stackalloc byte[SpawnAttributesSize];
        byte* fileActions = stackalloc byte[FileActionsSize];
        byte* defaults = stackalloc byte[SignalSetSize];
        byte* mask = stackalloc byte[SignalSetSize];
        byte** argvPointers = stackalloc byte*[argv.Length + 1];
        byte** envpPointers = stackalloc byte*[envp.Length + 1];
        int pid;
        int result;
        try
        {
            for (int i = 0; i < argv.Length; i++)
            {
                argvPointers[i] = Pin(argv[i], pinned);
            }

            argvPointers[argv.Length] = null;
            for (int i = 0; i < envp.Length; i++)
            {
                envpPointers[i] = Pin(envp[i], pinned);
            }

            envpPointers[envp.Length] = null;
            _ = Libc.PosixSpawnAttrInit(attributes);
            _ = Libc.PosixSpawnFileActionsInit(fileActions);
            try
            {
                _ = Libc.SigEmptySet(defaults);
                _ = Libc.SigAddSet(defaults, SIGPIPE);
                _ = Libc.SigEmptySet(mask);
                _ = Libc.PosixSpawnAttrSetSigDefault(attributes, defaults);
                _ = Libc.PosixSpawnAttrSetSigMask(attributes, mask);
                _ = Libc.PosixSpawnAttrSetFlags(attributes, PosixSpawnSetSigDefault | PosixSpawnSetSigMask);
                _ = Libc.PosixSpawnFileActionsAddChdir(fileActions, Pin(Utf8(workingDirectory), pinned));
                result = Libc.PosixSpawn(&pid, Pin(Utf8(path), pinned), fileActions, attributes, argvPointers, envpPointers);
            }
            finally
            {
                _ = Libc.PosixSpawnFileActionsDestroy(fileActions);
                _ = Libc.PosixSpawnAttrDestroy(attributes);
            }
        }
        finally
        {
            foreach (var handle in pinned)
            {
                handle.Free();
            }
        }

        if (result != 0)
        {
            // posix_spawn returns the error number (it does not set errno).
            throw Errno.ToException(result, Subject, $"start '{path}'", path, "execute permission on the program");
        }

        long fd = Libc.Syscall(Libc.SYS_pidfd_open, pid, 0, 0);
        if (fd < 0)
        {
            throw Errno.Last(Subject, $"open a pidfd for the started process {pid} (pidfd_open needs Linux 5.3)", pid);
        }

        return new SpawnedProcess(pid, new SafeFileHandle((IntPtr)fd, ownsHandle: true));
    }

    /// <summary>True when the process has ended within <paramref name="timeoutMilliseconds"/> (-1: wait as long as it takes).</summary>
    public bool WaitForExit(int timeoutMilliseconds)
    {
        if (_exitCode is not null)
        {
            return true;
        }

        var poll = new Libc.PollFd { Fd = (int)Pidfd.DangerousGetHandle(), Events = Libc.POLLIN };
        var deadline = timeoutMilliseconds < 0 ? DateTime.MaxValue : DateTime.UtcNow.AddMilliseconds(timeoutMilliseconds);
        while (true)
        {
            int remaining = timeoutMilliseconds < 0 ? -1 : (int)Math.Max(0, (deadline - DateTime.UtcNow).TotalMilliseconds);
            int ready = Libc.Poll(&poll, 1, remaining);
            if (ready > 0)
            {
                return true;
            }

            if (ready == 0)
            {
                return false;
            }

            if (Libc.LastErrno != Errno.EINTR)
            {
                throw Errno.Last(Subject, $"wait for process {Id}", Id);
            }
        }
    }

    /// <summary>
    /// Waits for the end and reaps the process: its exit code, or 128 + the signal that ended it, as a shell reports it.
    /// </summary>
    public int WaitForExitCode()
    {
        if (_exitCode is int known)
        {
            return known;
        }

        byte* info = stackalloc byte[SignalInfoSize];
        while (true)
        {
            new Span<byte>(info, SignalInfoSize).Clear();
            if (Libc.WaitId(Libc.P_PIDFD, (int)Pidfd.DangerousGetHandle(), info, Libc.WEXITED) == 0)
            {
                int code = *(int*)(info + SignalInfoCode);
                int status = *(int*)(info + SignalInfoStatus);
                _exitCode = code is CLD_KILLED or CLD_DUMPED ? 128 + status : status;
                return _exitCode.Value;
            }

            if (Libc.LastErrno != Errno.EINTR)
            {
                throw Errno.Last(Subject, $"collect the exit status of process {Id}", Id);
            }
        }
    }

    /// <summary>Sends <paramref name="signal"/> through the pidfd; false when the process has ended already.</summary>
    public bool Signal(int signal) => Libc.Syscall4(Libc.SYS_pidfd_send_signal, Pidfd.DangerousGetHandle(), signal, 0, 0) == 0;

    public void Dispose() => Pidfd.Dispose();

    /// <summary>
    /// An inherited SIGCHLD = SIG_IGN makes the kernel reap children at once, losing their exit status (.NET leaves
    /// an ignored SIGCHLD as it is and installs no handler then): reset it to the default. .NET's Process class did
    /// not reap in that state either; what changes is that other children of this process, once ended, wait as
    /// zombies to be reaped instead of vanishing.
    /// </summary>
    private static void KeepChildStatus()
    {
        byte* current = stackalloc byte[SigActionSize];
        new Span<byte>(current, SigActionSize).Clear();
        if (Libc.SigAction(SIGCHLD, null, current) == 0 && *(nint*)current == 1)
        {
            byte* defaults = stackalloc byte[SigActionSize];
            new Span<byte>(defaults, SigActionSize).Clear(); // sa_handler = SIG_DFL, empty mask, no flags
            _ = Libc.SigAction(SIGCHLD, defaults, null);
        }
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text + "\0");

    private static byte* Pin(byte[] bytes, List<System.Runtime.InteropServices.GCHandle> pinned)
    {
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(bytes, System.Runtime.InteropServices.GCHandleType.Pinned);
        pinned.Add(handle);
        return (byte*)handle.AddrOfPinnedObject();
    }
}
