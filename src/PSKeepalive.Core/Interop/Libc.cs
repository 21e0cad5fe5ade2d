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

    // Retrofit (issue 6): descriptors of other processes, checked with fstat, addresses of the copy.
    internal const long SYS_pidfd_open = 434;
    internal const long SYS_pidfd_getfd = 438;

    [LibraryImport(Library, EntryPoint = "fstat", SetLastError = true)]
    internal static partial int FStat(int fd, byte* statBuffer);

    [LibraryImport(Library, EntryPoint = "getsockname", SetLastError = true)]
    internal static partial int GetSockName(int fd, byte* address, uint* length);

    [LibraryImport(Library, EntryPoint = "getpeername", SetLastError = true)]
    internal static partial int GetPeerName(int fd, byte* address, uint* length);

    /// <summary>The errno of the last call declared above, on this thread.</summary>
    internal static int LastErrno => Marshal.GetLastPInvokeError();
}
