using System.Runtime.InteropServices;

namespace PSKeepalive.Core.Interop;

/// <summary>stat(2)/fstat(2) fields Core needs (inode numbers of sockets and namespaces).</summary>
internal static unsafe partial class FileStatus
{
    // struct stat on x86_64 and aarch64 (glibc): st_dev (8 bytes), then st_ino (8 bytes). Larger buffer for the rest.
    private const int StatBufferSize = 256;
    private const int InodeOffset = 8;

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Stat(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static partial int FStat(int fd, byte* buffer);

    /// <summary>The inode of <paramref name="path"/> (following links); throws the typed errno exception on failure.</summary>
    internal static ulong InodeOf(string path)
    {
        byte* buffer = stackalloc byte[StatBufferSize];
        if (Stat(path, buffer) != 0)
        {
            throw Errno.Last("File", $"stat {path}", path);
        }

        return *(ulong*)(buffer + InodeOffset);
    }

    /// <summary>The inode of an open descriptor.</summary>
    internal static ulong InodeOf(int fd)
    {
        byte* buffer = stackalloc byte[StatBufferSize];
        if (FStat(fd, buffer) != 0)
        {
            throw Errno.Last("File", $"fstat descriptor {fd}", fd);
        }

        return *(ulong*)(buffer + InodeOffset);
    }
}
