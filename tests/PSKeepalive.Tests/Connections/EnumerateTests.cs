using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using PSKeepalive.Core.Connections;
using Xunit;

namespace PSKeepalive.Tests.Connections;

public sealed class EnumerateTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void FindsListenerAndPairs_WithStatePortsTimerAndNoKeepalive(string address)
    {
        using var sockets = new LoopbackSockets(IPAddress.Parse(address));
        var (plainClient, plainServer) = sockets.Connect();
        var (keepaliveClient, _) = sockets.Connect(keepaliveIdleSeconds: 600);

        var found = TcpConnections.Enumerate(new TcpConnectionQuery { LocalPort = sockets.ListenerPort }).ToList();
        var listener = Assert.Single(found, c => c.State == TcpState.Listen);
        Assert.Equal(address, listener.LocalAddress);
        Assert.Equal(TcpTimer.None, listener.Timer);
        Assert.Null(listener.NoKeepalive);
        Assert.Equal(address.Contains(':') ? "IPv6" : "IPv4", listener.AddressFamily);

        var plain = Assert.Single(TcpConnections.Enumerate(new TcpConnectionQuery { LocalPort = LoopbackSockets.PortOf(plainClient) }));
        Assert.Equal(TcpState.Established, plain.State);
        Assert.Equal(sockets.ListenerPort, plain.RemotePort);
        Assert.Equal(address, plain.RemoteAddress);
        Assert.Equal(TcpTimer.None, plain.Timer);
        Assert.Null(plain.TimerExpires);
        Assert.True(plain.NoKeepalive);
        Assert.False(plain.KeepaliveTimerActive);
        Assert.NotEqual(0, plain.Inode);

        var keepalive = Assert.Single(TcpConnections.Enumerate(new TcpConnectionQuery { LocalPort = LoopbackSockets.PortOf(keepaliveClient) }));
        Assert.Equal(TcpState.Established, keepalive.State);
        Assert.Equal(TcpTimer.Keepalive, keepalive.Timer);
        Assert.True(keepalive.KeepaliveTimerActive);
        Assert.False(keepalive.NoKeepalive);
        Assert.Equal(0, keepalive.ProbesSent);
        Assert.InRange(keepalive.TimerExpires!.Value, TimeSpan.FromSeconds(550), TimeSpan.FromSeconds(600));
        GC.KeepAlive(plainServer);
    }
}
