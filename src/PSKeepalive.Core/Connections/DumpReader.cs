using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Threading;
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
    private readonly BlockingCollection<Chunk>? _queue;
    private readonly CancellationTokenSource? _cancel;
    private readonly Thread? _thread;
    private byte[]? _held;

    /// <summary>Sends <paramref name="request"/> on <paramref name="socket"/> (errors surface here) and starts reading, ahead on another thread when <paramref name="readAhead"/>.</summary>
    public DumpReader(NetlinkSocket socket, ReadOnlySpan<byte> request, bool readAhead)
    {
        _socket = socket;
        _socket.Send(request);
        if (readAhead)
        {
            _queue = new BlockingCollection<Chunk>(new ConcurrentQueue<Chunk>(), Capacity);
            _cancel = new CancellationTokenSource();
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
        if (_queue is null)
        {
            length = _socket.ReceiveInto();
            buffer = _socket.BufferArray;
            return;
        }

        ReturnHeld();
        Chunk chunk = _queue.Take(_cancel!.Token);
        chunk.Failure?.Throw();
        _held = chunk.Buffer!;
        buffer = chunk.Buffer!;
        length = chunk.Length;
    }

    public void Dispose()
    {
        if (_queue is null)
        {
            return;
        }

        _cancel!.Cancel();
        _thread!.Join();
        ReturnHeld();
        while (_queue.TryTake(out Chunk chunk))
        {
            if (chunk.Buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(chunk.Buffer);
            }
        }

        _queue.Dispose();
        _cancel.Dispose();
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
            while (!_cancel!.IsCancellationRequested)
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent(NetlinkSocket.ReceiveBufferSize);
                int length = _socket.ReceiveInto(buffer);
                bool last = EndsDump(buffer.AsSpan(0, length));
                _queue!.Add(new Chunk(buffer, length, null), _cancel.Token);
                if (last)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The consumer stopped early (Select-Object -First): leave the rest of the dump unread.
        }
        catch (Exception e)
        {
            // Handed to the consumer, which rethrows it at this point of the stream.
            try
            {
                _queue!.Add(new Chunk(null, 0, ExceptionDispatchInfo.Capture(e)), _cancel!.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        finally
        {
            _queue!.CompleteAdding();
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
