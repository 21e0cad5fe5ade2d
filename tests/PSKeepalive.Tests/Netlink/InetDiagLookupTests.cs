using System;
using System.Net;
using System.Net.Sockets;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Netlink;
using PSKeepalive.Tests.Sockets;
using Xunit;

namespace PSKeepalive.Tests.Netlink;

/// <summary>The exact single-socket sock_diag query, against sockets this test owns.</summary>
public sealed class InetDiagLookupTests
{
    private static (byte Family, InetDiagSocketId Id) IdOf(Socket socket, ulong cookie = ulong.MaxValue)
    {
        var local = (IPEndPoint)socket.LocalEndPoint!;
        var remote = (IPEndPoint)socket.RemoteEndPoint!;
        var id = new InetDiagSocketId { SourcePort = (ushort)local.Port, DestinationPort = (ushort)remote.Port, Cookie = cookie };
        local.Address.GetAddressBytes().CopyTo((Span<byte>)id.Source);
        remote.Address.GetAddressBytes().CopyTo((Span<byte>)id.Destination);
        return (local.AddressFamily == AddressFamily.InterNetworkV6 ? InetDiag.AfInet6 : InetDiag.AfInet, id);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Query_FindsTheSocket_WithItsKeepaliveTimer(string address)
    {
        using var pair = LoopbackPair.Open(IPAddress.Parse(address));
        pair.Client.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        pair.Client.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 30);
        using var netlink = NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag);
        (byte family, InetDiagSocketId id) = IdOf(pair.Client);

        InetDiagMessage? found = InetDiagLookup.Query(netlink, family, id);

        Assert.NotNull(found);
        InetDiagMessage message = found!.Value;
        Assert.Equal(id.SourcePort, message.SocketId.SourcePort);
        Assert.Equal(id.DestinationPort, message.SocketId.DestinationPort);
        Assert.Equal((byte)TcpState.Established, message.State);
        Assert.Equal((byte)TcpTimer.Keepalive, message.Timer);
        Assert.Equal(0, message.Retrans);
        Assert.InRange(message.Expires, 25_000u, 30_000u);
        Assert.NotEqual(0ul, message.SocketId.Cookie);

        // The cookie it gave names the same socket; another cookie names none.
        Assert.NotNull(InetDiagLookup.Query(netlink, family, IdOf(pair.Client, message.SocketId.Cookie).Id));
        Assert.Null(InetDiagLookup.Query(netlink, family, IdOf(pair.Client, message.SocketId.Cookie + 1).Id));
    }

    [Fact]
    public void Query_OfAClosedSocket_IsNull()
    {
        using var pair = LoopbackPair.Open(IPAddress.Loopback);
        (byte family, InetDiagSocketId id) = IdOf(pair.Client);
        pair.Client.LingerState = new LingerOption(true, 0); // RST: no TIME_WAIT socket stays behind under this id
        pair.Client.Close();
        using var netlink = NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag);

        Assert.Null(InetDiagLookup.Query(netlink, family, id));
    }
}
