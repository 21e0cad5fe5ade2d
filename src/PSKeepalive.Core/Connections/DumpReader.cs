using System;
using System.Buffers;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Threading;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Netlink;

namespace PSKeepalive.Core.Connections;

/// <summary>
/// The datagrams of one sock_diag dump, in order. With read-ahead, a thread of its own receives them (the
/// kernel fills each datagram inside recv, so that is where the dump's kernel work runs) into a bounded queue
/// while the caller parses and writes on its thread: on two processors the kernel's walk and our work overlap.
/// At most <see cref="Capacity"/> datagrams (32 KiB each) wait, so memory stays bounded whatever the number of
/// sockets; when the queue is full the kernel simply waits (a netlink dump only advances on recv). Without
/// read-ahead (one processor) the caller's thread receives each datagram into the socket's own buffer.
/// Parsing and validation stay on the caller's thread; the reader only finds where the dump ends.
/// </summary>
internal sealed class DumpReader : IDisposable
{
    /// <summary>Datagrams held at most (about 1 MiB).</summary>
    public const int Capacity = 32;

    private readonly NetlinkSocket _socket;
    private readonly Thread? _thread;
    private readonly object _gate = new();
    private readonly Chunk[] _ring = new Chunk[Capacity];
    private int _head;      // next chunk to take
    private int _count;     // chunks waiting
    private bool _stopped;  // the consumer is gone: the reader ends
    private bool _finished; // the reader has ended: no chunk will come
    private byte[]? _held;

    /// <summary>Sends <paramref name="request"/> on <paramref name="socket"/> (errors surface here) and starts reading, ahead on another thread when <paramref name="readAhead"/>.</summary>
    public DumpReader(NetlinkSocket socket, ReadOnlySpan<byte> request, bool readAhead)
    {
        _socket = socket;
        _socket.Send(request);
        if (readAhead)
        {
            _thread = new Thread(Run) { IsBackground = true, Name = "pskeepalive-dump" };
            _thread.Start();
        }
    }

    /// <summary>One datagram (a rented buffer), or the reader's failure.</summary>
    private readonly record struct Chunk(byte[]? Buffer, int Length, ExceptionDispatchInfo? Failure);

    /// <summary>
    /// The next datagram: its bytes are <paramref name="buffer"/>[0..length), valid until the next call. The
    /// caller stops after the datagram holding NLMSG_DONE or NLMSG_ERROR; a failure of the reader is rethrown here.
    /// </summary>
    public void Next(out byte[] buffer, out int length)
    {
        if (_thread is null)
        {
            length = _socket.ReceiveInto();
            buffer = _socket.BufferArray;
            return;
        }

        ReturnHeld();
        Chunk chunk;
        lock (_gate)
        {
            // Monitor.Wait sleeps at once: a consumer faster than the kernel would otherwise spin away a processor.
            while (_count == 0)
            {
                if (_finished)
                {
                    throw new KeepaliveDataException(NetlinkSocket.Subject, "The sock_diag dump ended without NLMSG_DONE.");
                }

                Monitor.Wait(_gate);
            }

            chunk = _ring[_head];
            _ring[_head] = default;
            _head = (_head + 1) % Capacity;
            if (_count-- == Capacity)
            {
                Monitor.Pulse(_gate); // the reader waits for room
            }
        }

        chunk.Failure?.Throw();
        _held = chunk.Buffer!;
        buffer = chunk.Buffer!;
        length = chunk.Length;
    }

    public void Dispose()
    {
        if (_thread is null)
        {
            return;
        }

        lock (_gate)
        {
            _stopped = true;
            Monitor.PulseAll(_gate);
        }

        _thread.Join();
        ReturnHeld();
        for (int i = 0; i < _count; i++)
        {
            byte[]? left = _ring[(_head + i) % Capacity].Buffer;
            if (left is not null)
            {
                ArrayPool<byte>.Shared.Return(left);
            }
        }

        _count = 0;
    }

    private void ReturnHeld()
    {
        if (_held is not null)
        {
            ArrayPool<byte>.Shared.Return(_held);
            _held = null;
        }
    }

    private void Run()
    {
        try
        {
            while (true)
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent(NetlinkSocket.ReceiveBufferSize);
                int length = _socket.ReceiveInto(buffer);
                bool last = EndsDump(buffer.AsSpan(0, length));
                if (!Put(new Chunk(buffer, length, null)))
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    return; // the consumer stopped early (Select-Object -First): leave the rest of the dump unread
                }

                if (last)
                {
                    return;
                }
            }
        }
        catch (Exception e)
        {
            // Handed to the consumer, which rethrows it at this point of the stream.
            Put(new Chunk(null, 0, ExceptionDispatchInfo.Capture(e)));
        }
        finally
        {
            lock (_gate)
            {
                _finished = true;
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Queues a chunk, waiting for room; false when the consumer has stopped.</summary>
    private bool Put(Chunk chunk)
    {
        lock (_gate)
        {
            while (_count == Capacity && !_stopped)
            {
                Monitor.Wait(_gate);
            }

            if (_stopped)
            {
                return false;
            }

            _ring[(_head + _count) % Capacity] = chunk;
            if (_count++ == 0)
            {
                Monitor.Pulse(_gate); // the consumer waits for a chunk
            }

            return true;
        }
    }

    /// <summary>
    /// True when the datagram ends the dump (NLMSG_DONE or NLMSG_ERROR), or cannot be walked: then the consumer's
    /// parser raises the precise error, and reading further would be pointless.
    /// </summary>
    private static bool EndsDump(ReadOnlySpan<byte> datagram)
    {
        int offset = 0;
        while (datagram.Length - offset >= NetlinkConstants.HeaderLength)
        {
            uint length = MemoryMarshal.Read<uint>(datagram.Slice(offset));
            ushort type = MemoryMarshal.Read<ushort>(datagram.Slice(offset + 4));
            if (type is NetlinkConstants.MessageDone or NetlinkConstants.MessageError)
            {
                return true;
            }

            if (length < NetlinkConstants.HeaderLength || length > datagram.Length - offset)
            {
                return true;
            }

            offset += NetlinkConstants.Align((int)length);
        }

        return offset < datagram.Length; // trailing bytes that are no message: malformed
    }
}
