using System;
using System.IO;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core;

/// <summary>
/// A write-only stream over a file descriptor the process does not own (the CLI's standard output), written
/// with write(2) itself: .NET's console stream pretends that writes to a pipe whose reader has gone succeeded,
/// so a long dump would go on into the void, and other failures surface as untyped IOExceptions. Here every
/// failure is a <see cref="KeepaliveException"/> with subject "Output" and the errno (EPIPE, ENOSPC, EIO...).
/// A non-blocking descriptor is waited for with poll; partial writes are completed.
/// </summary>
public sealed unsafe class DescriptorOutputStream : Stream
{
    public const string Subject = "Output";

    private readonly int _fd;

    public DescriptorOutputStream(int fd = 1)
    {
        _fd = fd;
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                nint written = Libc.Write(_fd, start + done, (nuint)(buffer.Length - done));
                if (written >= 0)
                {
                    done += (int)written;
                    continue;
                }

                int errno = Libc.LastErrno;
                if (errno == Errno.EINTR)
                {
                    continue;
                }

                if (errno == Errno.EAGAIN)
                {
                    var poll = new Libc.PollFd { Fd = _fd, Events = Libc.POLLOUT };
                    _ = Libc.Poll(&poll, 1, -1); // then write again: the write reports any error
                    continue;
                }

                throw Errno.ToException(errno, Subject, "write the output", "standard output");
            }
        }
    }

    /// <summary>
    /// Throws the EPIPE error a write would meet when the descriptor is a pipe whose reader has gone, without writing
    /// (poll reports POLLERR on such a write end): a command with nothing to print for a while (a quiet watch) learns
    /// that nobody reads it any more. Other descriptors (files, terminals) pass.
    /// </summary>
    public void ThrowIfReaderGone()
    {
        var poll = new Libc.PollFd { Fd = _fd, Events = Libc.POLLOUT };
        if (Libc.Poll(&poll, 1, 0) == 1 && (poll.ReturnedEvents & Libc.POLLERR) != 0)
        {
            throw Errno.ToException(Errno.EPIPE, Subject, "write the output", "standard output");
        }
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
