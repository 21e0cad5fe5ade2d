using System.Runtime.InteropServices;

namespace PSKeepalive.Core.Interop;

/// <summary>
/// The libc entry points Core calls. Every call that can fail is declared with SetLastError so that
/// <see cref="Errno"/> can turn the errno into a typed exception; nothing else reads errno.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Library = "libc";

    internal const int CLONE_NEWNET = 0x40000000;

    internal const int O_RDONLY = 0x0;
    internal const int O_WRONLY = 0x1;
    internal const int O_CLOEXEC = 0x80000;
    internal const int O_DIRECTORY = 0x10000;

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "pread", SetLastError = true)]
    internal static partial nint PRead(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Library, EntryPoint = "pwrite", SetLastError = true)]
    internal static partial nint PWrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Library, EntryPoint = "fsync", SetLastError = true)]
    internal static partial int FSync(int fd);

    [LibraryImport(Library, EntryPoint = "setns", SetLastError = true)]
    internal static partial int SetNs(int fd, int nstype);

    [LibraryImport(Library, EntryPoint = "unshare", SetLastError = true)]
    internal static partial int Unshare(int flags);

    [LibraryImport(Library, EntryPoint = "geteuid")]
    internal static partial uint GetEUid();

    [LibraryImport(Library, EntryPoint = "gettid")]
    internal static partial int GetTid();

    /// <summary>execve(2): `pskeepalive run` becomes the launcher (Launch/ProcessImage).</summary>
    [LibraryImport(Library, EntryPoint = "execve", SetLastError = true)]
    internal static partial int Execve(byte* path, byte** argv, byte** envp);

    [LibraryImport(Library, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Library, EntryPoint = "setsockopt", SetLastError = true)]
    internal static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport(Library, EntryPoint = "getsockopt", SetLastError = true)]
    internal static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall(long number, long arg1, long arg2, long arg3);

    // Netlink and /proc scanning (issue 4: connections).
    internal const int AF_NETLINK = 16;
    internal const int SOCK_RAW = 3;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int SOL_SOCKET = 1;
    internal const int SO_RCVBUF = 8;
    internal const int SOL_NETLINK = 270;
    internal const int NETLINK_EXT_ACK = 11;
    internal const int MSG_TRUNC = 0x20;
    internal const int AT_FDCWD = -100;

    [LibraryImport(Library, EntryPoint = "bind", SetLastError = true)]
    internal static partial int Bind(int fd, void* address, uint length);

    [LibraryImport(Library, EntryPoint = "getsockname", SetLastError = true)]
    internal static partial int GetSockName(int fd, void* address, uint* length);

    [LibraryImport(Library, EntryPoint = "sendto", SetLastError = true)]
    internal static partial nint SendTo(int fd, byte* buffer, nuint length, int flags, void* address, uint addressLength);

    [LibraryImport(Library, EntryPoint = "recv", SetLastError = true)]
    internal static partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Library, EntryPoint = "openat", SetLastError = true)]
    internal static partial int OpenAt(int dirfd, byte* path, int flags);

    [LibraryImport(Library, EntryPoint = "readlinkat", SetLastError = true)]
    internal static partial nint ReadLinkAt(int dirfd, byte* path, byte* buffer, nuint size);

    [LibraryImport(Library, EntryPoint = "getdents64", SetLastError = true)]
    internal static partial nint GetDents64(int fd, byte* buffer, nuint count);

    internal const int SEEK_SET = 0;

    [LibraryImport(Library, EntryPoint = "lseek", SetLastError = true)]
    internal static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, byte* buffer, nuint count);

    // Retrofit (issue 6): descriptors of other processes, checked with fstat, addresses of the copy (getsockname: above).
    internal const long SYS_pidfd_open = 434;
    internal const long SYS_pidfd_getfd = 438;

    [LibraryImport(Library, EntryPoint = "fstat", SetLastError = true)]
    internal static partial int FStat(int fd, byte* statBuffer);

    [LibraryImport(Library, EntryPoint = "getpeername", SetLastError = true)]
    internal static partial int GetPeerName(int fd, byte* address, uint* length);

    [LibraryImport(Library, EntryPoint = "getxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint GetXattr(string path, string name, byte* value, nuint size);

    // Persisting (Settings/LockedFileReplacement, SysctlPersistence): locks, exact modes and owners, real paths.
    internal const int LOCK_EX = 2;
    internal const int LOCK_NB = 4;
    internal const int W_OK = 2;
    internal const int X_OK = 1;
    internal const int R_OK = 4;

    [LibraryImport(Library, EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(int fd, int operation);

    [LibraryImport(Library, EntryPoint = "fchmod", SetLastError = true)]
    internal static partial int FChmod(int fd, uint mode);

    [LibraryImport(Library, EntryPoint = "fchown", SetLastError = true)]
    internal static partial int FChown(int fd, uint owner, uint group);

    [LibraryImport(Library, EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Access(string path, int mode);

    /// <summary>realpath(3) with a buffer it allocates (free it with <see cref="Free"/>).</summary>
    [LibraryImport(Library, EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial byte* RealPath(string path, byte* resolved);

    [LibraryImport(Library, EntryPoint = "free")]
    internal static partial void Free(void* pointer);

    // Output (DescriptorOutputStream): write(2) so that EPIPE/ENOSPC reach the caller, poll(2) for a non-blocking stdout.
    internal const short POLLOUT = 4;
    internal const short POLLERR = 8;

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint count, int timeout);

    /// <summary>struct pollfd.</summary>
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    // Cgroup keepalive policies (issue 12): the bpf(2) system call, cgroup2 directories, and the cgroup launcher.
    internal const long SYS_bpf_x64 = 321;
    internal const long SYS_bpf_arm64 = 280;
    internal const long SYS_pidfd_send_signal = 424;
    internal const int LOCK_UN = 8;
    internal const int P_PIDFD = 3;
    internal const int WEXITED = 4;
    internal const int CLOCK_REALTIME = 0;
    internal const int CLOCK_BOOTTIME = 7;
    internal const short POLLIN = 0x1;

    [LibraryImport(Library, EntryPoint = "tcgetpgrp")]
    internal static partial int TcGetPgrp(int fd);

    [LibraryImport(Library, EntryPoint = "getpgrp")]
    internal static partial int GetPgrp();

    /// <summary>syscall(2) with four arguments: a call declared with three leaves the fourth register undefined.</summary>
    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall4(long number, long arg1, long arg2, long arg3, long arg4);

    [LibraryImport(Library, EntryPoint = "fstatfs", SetLastError = true)]
    internal static partial int FStatFs(int fd, byte* statfsBuffer);

    [LibraryImport(Library, EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MkDir(string path, uint mode);

    [LibraryImport(Library, EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RmDir(string path);

    [LibraryImport(Library, EntryPoint = "clock_gettime", SetLastError = true)]
    internal static partial int ClockGetTime(int clock, long* timespec);

    [LibraryImport(Library, EntryPoint = "waitid", SetLastError = true)]
    internal static partial int WaitId(int idType, int id, byte* signalInfo, int options);

    [LibraryImport(Library, EntryPoint = "sigaction", SetLastError = true)]
    internal static partial int SigAction(int signal, void* action, void* oldAction);

    [LibraryImport(Library, EntryPoint = "posix_spawn", SetLastError = true)]
    internal static partial int PosixSpawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

    [LibraryImport(Library, EntryPoint = "posix_spawnattr_init")]
    internal static partial int PosixSpawnAttrInit(void* attributes);

    [LibraryImport(Library, EntryPoint = "posix_spawnattr_destroy")]
    internal static partial int PosixSpawnAttrDestroy(void* attributes);

    [LibraryImport(Library, EntryPoint = "posix_spawnattr_setflags")]
    internal static partial int PosixSpawnAttrSetFlags(void* attributes, short flags);

    [LibraryImport(Library, EntryPoint = "posix_spawnattr_setsigdefault")]
    internal static partial int PosixSpawnAttrSetSigDefault(void* attributes, void* signals);

    [LibraryImport(Library, EntryPoint = "posix_spawnattr_setsigmask")]
    internal static partial int PosixSpawnAttrSetSigMask(void* attributes, void* signals);

    [LibraryImport(Library, EntryPoint = "posix_spawn_file_actions_init")]
    internal static partial int PosixSpawnFileActionsInit(void* fileActions);

    [LibraryImport(Library, EntryPoint = "posix_spawn_file_actions_destroy")]
    internal static partial int PosixSpawnFileActionsDestroy(void* fileActions);

    [LibraryImport(Library, EntryPoint = "posix_spawn_file_actions_addchdir_np")]
    internal static partial int PosixSpawnFileActionsAddChdir(void* fileActions, byte* path);

    [LibraryImport(Library, EntryPoint = "sigemptyset")]
    internal static partial int SigEmptySet(void* set);

    [LibraryImport(Library, EntryPoint = "sigaddset")]
    internal static partial int SigAddSet(void* set, int signal);

    /// <summary>The errno of the last call declared above, on this thread.</summary>
    internal static int LastErrno => Marshal.GetLastPInvokeError();
}
