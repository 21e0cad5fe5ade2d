using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Netlink;

namespace PSKeepalive.Core.SelfTest;

/// <summary>
/// The self-test's view of its probing socket through sock_diag: one exact lookup per sample (no dump, no privilege)
/// gives the keepalive timer and the time left on it, which <see cref="ProbeTimeline"/> turns into exact probe times.
/// Opened on the test's namespace thread, so that the netlink socket belongs to the test's namespace.
/// </summary>
internal sealed class ProbingSocketDiag : IDisposable
{
    private readonly NetlinkSocket _netlink;
    private readonly byte _family;
    private readonly InetDiagSocketId _id;
    private bool _failed;

    private ProbingSocketDiag(NetlinkSocket netlink, byte family, InetDiagSocketId id)
    {
        _netlink = netlink;
        _family = family;
        _id = id;
    }

    /// <summary>Opens the lookup for <paramref name="prober"/> (connected) in the calling thread's network namespace.</summary>
    public static ProbingSocketDiag Open(Socket prober)
    {
        var local = (IPEndPoint)prober.LocalEndPoint!;
        var remote = (IPEndPoint)prober.RemoteEndPoint!;
        bool ipv6 = local.AddressFamily == AddressFamily.InterNetworkV6;
        var id = new InetDiagSocketId
        {
            SourcePort = (ushort)local.Port,
            DestinationPort = (ushort)remote.Port,
            Cookie = ulong.MaxValue, // INET_DIAG_NOCOOKIE: the 4-tuple alone names a loopback connection
        };
        local.Address.GetAddressBytes().CopyTo((Span<byte>)id.Source);
        remote.Address.GetAddressBytes().CopyTo((Span<byte>)id.Destination);
        return new ProbingSocketDiag(NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag), ipv6 ? InetDiag.AfInet6 : InetDiag.AfInet, id);
    }

    /// <summary>
    /// The probe counter and, when the keepalive timer is the armed one, the time left on it, read at the returned
    /// Stopwatch timestamp (the middle of the round trip). Null when the socket is gone (closed by the kernel) or
    /// when a lookup failed once: the test then falls back on tcp_info's counter alone, at the sample resolution.
    /// </summary>
    public (int Probes, TimeSpan? KeepaliveTimerLeft, long Timestamp)? Sample()
    {
        if (_failed)
        {
            return null;
        }

        long before = Stopwatch.GetTimestamp();
        InetDiagMessage? message;
        try
        {
            message = InetDiagLookup.Query(_netlink, _family, _id);
        }
        catch (KeepaliveException)
        {
            _failed = true;
            return null;
        }

        long timestamp = before + ((Stopwatch.GetTimestamp() - before) / 2);
        if (message is not InetDiagMessage diag || diag.Timer != (byte)TcpTimer.Keepalive)
        {
            return null;
        }

        return (diag.Retrans, TimeSpan.FromMilliseconds(diag.Expires), timestamp);
    }

    public void Dispose() => _netlink.Dispose();
}
