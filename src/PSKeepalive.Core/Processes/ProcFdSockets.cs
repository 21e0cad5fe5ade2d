using System;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Processes;

/// <summary>
/// The socket descriptors of one process: opens a /proc/PID/fd directory and yields (fd, inode) for every
/// descriptor whose link is "socket:[INODE]", with getdents64 and one readlinkat per descriptor into the
/// caller's buffers, so a descriptor costs one system call and no allocation. Descriptors closed between
/// getdents64 and readlinkat are skipped. A failed open or getdents64, or a link that may not be read (EACCES,
/// EPERM), ends the walk and leaves its errno in <see cref="Errno"/>: the owner scan counts the process as
/// denied or vanished, the retrofit throws.
/// Call <see cref="Dispose"/> in a finally (not with <c>using</c>, which would make MoveNext act on a copy).
/// </summary>
internal unsafe ref struct ProcFdSockets
{
    /// <summary>Bytes of readlinkat buffer the caller provides: "socket:[" + 20 digits + "]" fits.</summary>
    public const int LinkBufferSize = 64;

    private readonly byte* _link;
    private int _directoryFd;
    private DirectoryEntries _entries;
    private int _errno;

    /// <param name="path">NUL-terminated path of the fd directory ("/proc/PID/fd").</param>
    /// <param name="buffer">getdents64 buffer.</param>
    /// <param name="bufferSize">Its size in bytes.</param>
    /// <param name="link">readlinkat buffer of <see cref="LinkBufferSize"/> bytes.</param>
    /// <param name="firstFd">Start at this descriptor number: /proc's fd directories resume listing at offset fd + 2.</param>
    public ProcFdSockets(byte* path, byte* buffer, int bufferSize, byte* link, int firstFd = 0)
    {
        _link = link;
        _directoryFd = Libc.OpenAt(Libc.AT_FDCWD, path, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        _errno = _directoryFd < 0 ? Libc.LastErrno : 0;
        if (firstFd > 0 && _directoryFd >= 0 && Libc.LSeek(_directoryFd, firstFd + 2L, Libc.SEEK_SET) < 0)
        {
            _errno = Libc.LastErrno;
            Libc.Close(_directoryFd);
            _directoryFd = -1;
        }

        _entries = new DirectoryEntries(_directoryFd, buffer, bufferSize);
    }

    /// <summary>Stop before this descriptor number (entries come in ascending order); int.MaxValue: read to the end.</summary>
    public int EndFd { get; set; } = int.MaxValue;

    /// <summary>The number of open descriptors (the size of a procfs fd directory, Linux 6.2+); null when unknown or not procfs.</summary>
    public readonly long? CountDescriptors()
    {
        if (_directoryFd < 0 || !FileStatus.IsProcfs(_directoryFd))
        {
            return null;
        }

        long size = FileStatus.SizeOf(_directoryFd);
        return size > 0 ? size : null;
    }

    /// <summary>0 while the walk goes on and after it ended normally; the errno of a failed open or getdents64.</summary>
    public readonly int Errno => _errno;

    /// <summary>Entries looked at so far whose name does not start with "." (every descriptor, sockets or not).</summary>
    public int Descriptors { get; private set; }

    /// <summary>The current socket descriptor; its Fd is -1 when the entry's name was not a number.</summary>
    public (int Fd, ulong Inode) Current { get; private set; }

    public bool MoveNext()
    {
        if (_directoryFd < 0)
        {
            return false;
        }

        while (_entries.MoveNext())
        {
            byte* name = _entries.Name;
            if (name[0] == (byte)'.')
            {
                continue;
            }

            if (EndFd != int.MaxValue && DirectoryEntries.ParseDecimal(name) >= EndFd)
            {
                break; // the rest is another thread's range
            }

            Descriptors++;
            nint linkLength = Libc.ReadLinkAt(_directoryFd, name, _link, LinkBufferSize);
            if (linkLength > 0 && SocketOwnerScan.TryParseSocketInode(new ReadOnlySpan<byte>(_link, (int)linkLength), out ulong inode))
            {
                Current = (DirectoryEntries.ParseDecimal(name), inode);
                return true;
            }

            if (linkLength < 0 && Libc.LastErrno is int errno && errno is Interop.Errno.EACCES or Interop.Errno.EPERM)
            {
                // The directory could be listed but its links may not be read (the ptrace check on /proc/PID/fd/N):
                // the process is unreadable, not socket-less. Root meets this too (PID 1 of some hosts).
                _errno = errno;
                return false;
            }

            // Otherwise (ENOENT): the descriptor was closed meanwhile, or the process is going away.
        }

        _errno = _entries.Errno;
        return false;
    }

    /// <summary>Closes the directory (once).</summary>
    public void Dispose()
    {
        if (_directoryFd >= 0)
        {
            Libc.Close(_directoryFd);
            _directoryFd = -1;
        }
    }
}
