using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Threading;
using PSKeepalive.Core.Netlink;

namespace PSKeepalive.Core.Connections;

/// <summary>
/// Reads one sock_diag dump on its own thread into a bounded queue of datagrams, so that the kernel's work
/// for the second address family runs on another processor while the first family is parsed and consumed.
/// At most <see cref="Capacity"/> datagrams (32 KiB each) wait: memory stays bounded whatever the number of
/// sockets, and when the queue is full the kernel simply waits (a netlink dump only advances on recv).
/// Parsing and validation stay on the consumer's thread; this thread only finds where the dump ends.
/// </summary>
internal sealed class DumpPrefetcher : IDisposable
{
    /// <summary>Datagrams held at most (about 1 MiB).</summary>
    public const int Capacity = 32;

    private readonly NetlinkSocket _socket;
    private readonly BlockingCollection<Chunk> _queue = new(new ConcurrentQueue<Chunk>(), Capacity);
    private readonly CancellationTokenSource _cancel = new();
    private readonly Thread _thread;

    /// <summary>Sends <paramref name="request"/> on <paramref name="socket"/> (errors surface here) and starts reading.</summary>
    public DumpPrefetcher(NetlinkSocket socket, byte[] request)
    {
        _socket = socket;
        _socket.Send(request);
        _thread = new Thread(Run) { IsBackground = true, Name = "pskeepalive-dump" };
        _thread.Start();
    }

    /// <summary>One datagram (rented buffer, to give back with <see cref="Return"/>), or the reader's failure.</summary>
    public readonly record struct Chunk(byte[]? Buffer, int Length, ExceptionDispatchInfo? Failure);

    /// <summary>The datagrams in order; ends after the one holding NLMSG_DONE/NLMSG_ERROR.</summary>
    public IEnumerable<Chunk> Chunks() => _queue.GetConsumingEnumerable(_cancel.Token);

    public static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);

    public void Dispose()
    {
        _cancel.Cancel();
        _thread.Join();
        while (_queue.TryTake(out Chunk chunk))
        {
            if (chunk.Buffer is not null)
            {
                Return(chunk.Buffer);
            }
        }

        _queue.Dispose();
        _cancel.Dispose();
    }

    private void Run()
    {
        try
        {
            while (!_cancel.IsCancellationRequested)
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent(NetlinkSocket.ReceiveBufferSize);
                int length = _socket.ReceiveInto(buffer);
                bool last = EndsDump(buffer.AsSpan(0, length));
                _queue.Add(new Chunk(buffer, length, null), _cancel.Token);
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
            TryAdd(new Chunk(null, 0, ExceptionDispatchInfo.Capture(e)));
        }
        finally
        {
            _queue.CompleteAdding();
        }
    }

    private void TryAdd(Chunk chunk)
    {
        try
        {
            _queue.Add(chunk, _cancel.Token);
        }
        catch (OperationCanceledException)
        {
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
