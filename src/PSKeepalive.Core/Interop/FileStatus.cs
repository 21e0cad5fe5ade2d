using System.Runtime.InteropServices;

namespace PSKeepalive.Core.Interop;

/// <summary>stat(2)/fstat(2) fields Core needs (inode numbers of sockets and namespaces).</summary>
internal static unsafe partial class FileStatus
{
    // struct stat on x86_64 and aarch64 (glibc): st_dev (8 bytes), then st_ino (8 bytes). Larger buffer for the rest.
    private const int StatBufferSize = 256;
    private const int InodeOffset = 8;
    private const int SizeOffset = 48; // st_size, on x86_64 and aarch64 alike

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

    // struct statfs: f_type first (a long on x86_64 and aarch64); PROC_SUPER_MAGIC.
    private const int StatFsBufferSize = 256;
    private const long ProcSuperMagic = 0x9fa0;

    [LibraryImport("libc", EntryPoint = "fstatfs", SetLastError = true)]
    private static partial int FStatFs(int fd, byte* buffer);

    /// <summary>True when the descriptor is on a proc filesystem.</summary>
    internal static bool IsProcfs(int fd)
    {
        byte* buffer = stackalloc byte[StatFsBufferSize];
        return FStatFs(fd, buffer) == 0 && *(long*)buffer == ProcSuperMagic;
    }

    /// <summary>st_size of an open descriptor; -1 when fstat fails.</summary>
    internal static long SizeOf(int fd)
    {
        byte* buffer = stackalloc byte[StatBufferSize];
        return FStat(fd, buffer) == 0 ? *(long*)(buffer + SizeOffset) : -1;
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

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>
    /// Owner, group and permission bits (including set-ID and sticky) of <paramref name="path"/>, following links;
    /// null when it does not exist. statx has one layout on every architecture (struct stat has not).
    /// </summary>
    internal static (uint Uid, uint Gid, uint Mode)? OwnerAndMode(string path)
    {
        const int AtFdCwd = -100;
        const uint StatxMode = 0x2, StatxUid = 0x8, StatxGid = 0x10;
        byte* buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, 0, StatxMode | StatxUid | StatxGid, buffer) != 0)
        {
            int errno = Libc.LastErrno;
            if (errno == Errno.ENOENT)
            {
                return null;
            }

            throw Errno.ToException(errno, "File", $"statx {path}", path);
        }

        // struct statx: stx_uid at 20, stx_gid at 24, stx_mode (u16) at 28.
        return (*(uint*)(buffer + 20), *(uint*)(buffer + 24), (uint)(*(ushort*)(buffer + 28) & 0xFFF));
    }
}
