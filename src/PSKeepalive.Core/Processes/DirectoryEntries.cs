using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Processes;

/// <summary>
/// The entries of an open directory, read with getdents64 into a caller's buffer: no allocation, one system
/// call per buffer full. <see cref="MoveNext"/> returns false at the end and when getdents64 fails;
/// <see cref="Errno"/> tells the two apart (0 at the end), and each caller maps it to its own semantics.
/// </summary>
internal unsafe ref struct DirectoryEntries
{
    private readonly int _directoryFd;
    private readonly byte* _buffer;
    private readonly int _bufferSize;
    private nint _read;
    private int _offset;

    public DirectoryEntries(int directoryFd, byte* buffer, int bufferSize)
    {
        _directoryFd = directoryFd;
        _buffer = buffer;
        _bufferSize = bufferSize;
    }

    /// <summary>The NUL-terminated name of the current entry (it includes "." and "..").</summary>
    public byte* Name { get; private set; }

    /// <summary>0, or the errno of the getdents64 that failed.</summary>
    public int Errno { get; private set; }

    public bool MoveNext()
    {
        while (true)
        {
            if (_offset < _read)
            {
                // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
                ushort recordLength = *(ushort*)(_buffer + _offset + 16);
                if (recordLength != 0)
                {
                    Name = _buffer + _offset + 19;
                    _offset += recordLength;
                    return true;
                }

                // A zero-length record would never advance: drop the rest of this buffer.
            }

            _read = Libc.GetDents64(_directoryFd, _buffer, (nuint)_bufferSize);
            _offset = 0;
            if (_read <= 0)
            {
                Errno = _read < 0 ? Libc.LastErrno : 0;
                _read = 0;
                return false;
            }
        }
    }

    /// <summary>A NUL-terminated decimal name; -1 when it is not all digits (0 for an empty name).</summary>
    public static int ParseDecimal(byte* name)
    {
        int value = 0;
        for (byte* p = name; *p != 0; p++)
        {
            if (*p < (byte)'0' || *p > (byte)'9' || value > (int.MaxValue / 10) - 1)
            {
                return -1;
            }

            value = (value * 10) + (*p - '0');
        }

        return value;
    }
}
