using System;
using System.Threading;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Namespaces;

namespace PSKeepalive.Core.Netlink;

/// <summary>
/// A netlink socket (AF_NETLINK, SOCK_RAW) bound to a kernel-chosen port, with one reused receive buffer.
/// It sends one request at a time and hands back each datagram the kernel answers with; the caller walks
/// it with <see cref="NetlinkMessageReader"/>. Not thread-safe; a socket belongs to the network namespace
/// of the thread that opened it (see <see cref="Open(int, string?)"/>) and can then be used from any thread.
/// </summary>
public sealed unsafe class NetlinkSocket : IDisposable
{
    /// <summary>The error subject of everything netlink: "Netlink" + kind gives the stable error id.</summary>
    public const string Subject = "Netlink";

    /// <summary>
    /// Receive buffer size. The kernel caps one dump datagram at 32 KiB (netlink_recvmsg clamps
    /// max_recvmsg_len to SKB_WITH_OVERHEAD(32768)); twice that leaves room, and MSG_TRUNC still catches more.
    /// </summary>
    public const int ReceiveBufferSize = 64 * 1024;

    /// <summary>SO_RCVBUF asked for, so that the kernel can queue the next dump part while we parse (capped by net.core.rmem_max).</summary>
    private const int SocketReceiveBuffer = 1 << 20;

    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(ReceiveBufferSize, pinned: true);
    private readonly int _protocol;
    private int _fd;
    private int _sequence;

    private NetlinkSocket(int fd, int protocol, uint portId)
    {
        _fd = fd;
        _protocol = protocol;
        PortId = portId;
        _sequence = Environment.TickCount & 0x3fffffff;
    }

    /// <summary>The port id (nl_pid) the kernel assigned at bind.</summary>
    public uint PortId { get; }

    /// <summary>
    /// Opens a netlink socket for <paramref name="protocol"/> (e.g. <see cref="NetlinkConstants.ProtocolSockDiag"/>)
    /// in the caller's network namespace, or in the one at <paramref name="networkNamespace"/>
    /// (/run/netns/NAME, /proc/PID/ns/net): the socket is created on a thread that joined it, then used from here.
    /// </summary>
    public static NetlinkSocket Open(int protocol, string? networkNamespace = null) =>
        NetworkNamespace.Run(networkNamespace, () => OpenHere(protocol));

    private static NetlinkSocket OpenHere(int protocol)
    {
        int fd = Libc.Socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, protocol);
        if (fd < 0)
        {
            throw Errno.Last(Subject, $"open a netlink socket (protocol {protocol})", protocol);
        }

        try
        {
            int size = SocketReceiveBuffer;
            Libc.SetSockOpt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUF, &size, sizeof(int)); // best effort: a smaller buffer only costs speed
            int on = 1;
            Libc.SetSockOpt(fd, Libc.SOL_NETLINK, Libc.NETLINK_EXT_ACK, &on, sizeof(int)); // best effort: richer error text

            SockAddrNl address = default;
            address.Family = Libc.AF_NETLINK;
            if (Libc.Bind(fd, &address, (uint)sizeof(SockAddrNl)) != 0)
            {
                throw Errno.Last(Subject, "bind a netlink socket", protocol);
            }

            uint length = (uint)sizeof(SockAddrNl);
            if (Libc.GetSockName(fd, &address, &length) != 0)
            {
                throw Errno.Last(Subject, "read the netlink socket's port id", protocol);
            }

            return new NetlinkSocket(fd, protocol, address.PortId);
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }

    /// <summary>A fresh sequence number for the next request; replies carry it back.</summary>
    public uint NextSequence() => (uint)Interlocked.Increment(ref _sequence);

    /// <summary>Sends one complete request (header included) to the kernel.</summary>
    public void Send(ReadOnlySpan<byte> request)
    {
        ThrowIfDisposed();
        SockAddrNl kernel = default;
        kernel.Family = Libc.AF_NETLINK;
        fixed (byte* data = request)
        {
            while (true)
            {
                nint sent = Libc.SendTo(_fd, data, (nuint)request.Length, 0, &kernel, (uint)sizeof(SockAddrNl));
                if (sent >= 0)
                {
                    if (sent != request.Length)
                    {
                        throw new KeepaliveKernelException(Subject, $"The kernel took {sent} of {request.Length} bytes of a netlink request.", _protocol, 0);
                    }

                    return;
                }

                if (Libc.LastErrno != Errno.EINTR)
                {
                    throw Errno.Last(Subject, "send a netlink request", _protocol);
                }
            }
        }
    }

    /// <summary>
    /// Receives one datagram into the reused buffer and returns its bytes, valid until the next call.
    /// A datagram larger than the buffer is an error (MSG_TRUNC), never a silently shortened reply.
    /// </summary>
    public ReadOnlySpan<byte> Receive()
    {
        int length = ReceiveInto();
        return new ReadOnlySpan<byte>(_buffer, 0, length);
    }

    /// <summary>As <see cref="Receive"/>, for callers that cannot hold a span (iterators): the bytes are in <see cref="Buffer"/>[0..length).</summary>
    public int ReceiveInto() => ReceiveInto(_buffer);

    /// <summary>Receives one datagram into <paramref name="destination"/> (at least <see cref="ReceiveBufferSize"/> bytes); returns its length.</summary>
    public int ReceiveInto(byte[] destination)
    {
        ThrowIfDisposed();
        fixed (byte* data = destination)
        {
            while (true)
            {
                nint received = Libc.Recv(_fd, data, (nuint)destination.Length, Libc.MSG_TRUNC);
                if (received >= 0)
                {
                    if (received > destination.Length)
                    {
                        throw new KeepaliveDataException(
                            Subject,
                            $"A netlink datagram of {received} bytes did not fit the {destination.Length}-byte receive buffer; the reply was cut and is not used.",
                            received);
                    }

                    if (received == 0)
                    {
                        throw new KeepaliveDataException(Subject, "The kernel sent an empty netlink datagram before the end of the reply.");
                    }

                    return (int)received;
                }

                if (Libc.LastErrno != Errno.EINTR)
                {
                    throw Errno.Last(Subject, "receive a netlink reply", _protocol);
                }
            }
        }
    }

    /// <summary>The receive buffer; see <see cref="ReceiveInto()"/>.</summary>
    public ReadOnlySpan<byte> Buffer => _buffer;

    /// <summary>The receive buffer itself, for iterators that hold it across yields (valid until the next receive).</summary>
    internal byte[] BufferArray => _buffer;

    /// <summary>
    /// Sends <paramref name="request"/> (whose header must ask for NLM_F_ACK and carry <paramref name="sequence"/>)
    /// and waits for the kernel's acknowledgement: returns on success, throws the errno's typed exception otherwise.
    /// </summary>
    /// <param name="request">The complete request.</param>
    /// <param name="sequence">The request's nlmsg_seq.</param>
    /// <param name="operation">What the request does, for error messages ("destroy the socket 127.0.0.1:80").</param>
    /// <param name="target">The error's target.</param>
    /// <param name="privilegeHint">What grants permission when the kernel answers EPERM/EACCES.</param>
    public void SendAndWaitForAck(ReadOnlySpan<byte> request, uint sequence, string operation, object? target, string? privilegeHint = null)
    {
        Send(request);
        while (true)
        {
            var messages = new NetlinkMessageReader(Receive());
            while (messages.TryRead(out NetlinkMessage message))
            {
                if (message.Header.Sequence != sequence)
                {
                    continue; // a late part of an earlier exchange on this socket
                }

                if (message.Header.Type == NetlinkConstants.MessageError)
                {
                    NetlinkError error = NetlinkError.Decode(message.Payload, message.Header.Flags);
                    if (error.Errno == 0)
                    {
                        return;
                    }

                    throw ErrorFor(error, operation, target, privilegeHint);
                }

                if (message.Header.Type == NetlinkConstants.MessageDone)
                {
                    NetlinkError status = NetlinkError.DecodeDone(message.Payload, message.Header.Flags);
                    if (status.Errno == 0)
                    {
                        return;
                    }

                    throw ErrorFor(status, operation, target, privilegeHint);
                }
            }
        }
    }

    /// <summary>The typed exception for a kernel NLMSG_ERROR, with the extended ack text when the kernel gave one.</summary>
    public static KeepaliveException ErrorFor(NetlinkError error, string operation, object? target, string? privilegeHint = null) =>
        Errno.ToException(error.Errno, Subject, error.ExtendedMessage is null ? operation : $"{operation} ({error.ExtendedMessage})", target, privilegeHint);

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            Libc.Close(fd);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_fd < 0, this);

    /// <summary>struct sockaddr_nl.</summary>
    private struct SockAddrNl
    {
        public ushort Family;
        public ushort Pad;
        public uint PortId;
        public uint Groups;
    }
}
