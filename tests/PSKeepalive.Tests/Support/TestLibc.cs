using System.Runtime.InteropServices;

namespace PSKeepalive.Tests.Support;

/// <summary>libc calls only tests need (namespaces, fsuid, interface flags, signals).</summary>
internal static unsafe partial class TestLibc
{
    internal const int CLONE_NEWNET = 0x40000000;

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEUid();

    [LibraryImport("libc", EntryPoint = "gettid")]
    internal static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "unshare", SetLastError = true)]
    internal static partial int Unshare(int flags);

    /// <summary>Per-thread filesystem uid: leaving 0 drops CAP_DAC_OVERRIDE for this thread only.</summary>
    [LibraryImport("libc", EntryPoint = "setfsuid")]
    internal static partial int SetFsUid(uint uid);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall(long number, long arg1, long arg2, long arg3);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "close")]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Chown(string path, uint owner, uint group);

    internal const int SIGINT = 2;
    internal const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>Owner and group of a file, without following a last link (statx: one layout on every architecture).</summary>
    internal static (uint Uid, uint Gid) OwnerOf(string path)
    {
        const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100;
        const uint StatxUid = 0x8, StatxGid = 0x10;
        byte* buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxUid | StatxGid, buffer) != 0)
        {
            throw new System.IO.IOException($"statx {path} failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return (*(uint*)(buffer + 20), *(uint*)(buffer + 24));
    }
}
