using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Tests.Support;
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
        var (plainClient, _) = sockets.Connect();
        var (keepaliveClient, _) = sockets.Connect(keepaliveIdleSeconds: 600);

        var found = TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = [address], LocalPorts = [sockets.ListenerPort] }).ToList();
        var listener = Assert.Single(found, c => c.State == TcpState.Listen);
        Assert.Equal(address, listener.LocalAddress);
        Assert.Equal(TcpTimer.None, listener.Timer);
        Assert.Null(listener.NoKeepalive);
        Assert.Equal(address.Contains(':') ? "IPv6" : "IPv4", listener.AddressFamily);
        Assert.Equal(2, found.Count(c => c.State == TcpState.Established));

        var plain = Single(sockets.QueryFor(plainClient));
        Assert.Equal(TcpState.Established, plain.State);
        Assert.Equal(sockets.ListenerPort, plain.RemotePort);
        Assert.Equal(address, plain.RemoteAddress);
        Assert.Equal(TcpTimer.None, plain.Timer);
        Assert.Null(plain.TimerExpires);
        Assert.True(plain.NoKeepalive);
        Assert.False(plain.KeepaliveTimerActive);
        Assert.NotEqual(0, plain.Inode);
        Assert.Equal((long)TestLibc.GetEUid(), plain.Uid);

        var keepalive = Single(sockets.QueryFor(keepaliveClient));
        Assert.Equal(TcpState.Established, keepalive.State);
        Assert.Equal(TcpTimer.Keepalive, keepalive.Timer);
        Assert.True(keepalive.KeepaliveTimerActive);
        Assert.False(keepalive.NoKeepalive);
        Assert.Equal(0, keepalive.ProbesSent);
        Assert.InRange(keepalive.TimerExpires!.Value, TimeSpan.FromSeconds(550), TimeSpan.FromSeconds(600));
        Assert.Equal("keepalive", TcpConnectionText.Keepalive(keepalive)[..9]);
    }

    [DeafPeerTheory]
    [InlineData("127.0.0.1", false)]
    [InlineData("::1", true)]
    public void UnacknowledgedData_ShowsTheRetransmitTimer_AndKeepaliveIsUnknown(string address, bool keepalive)
    {
        using var sockets = new LoopbackSockets(IPAddress.Parse(address));
        var (client, server) = sockets.Connect(keepalive ? 600 : null);
        LoopbackSockets.MakeDeaf(server);
        client.Send(new byte[1000]);

        TcpConnection? found = null;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            found = Single(sockets.QueryFor(client) with { IncludeInfo = true });
            if (found.Timer == TcpTimer.Retransmit)
            {
                break;
            }

            Thread.Sleep(20);
        }

        Assert.NotNull(found);
        Assert.Equal(TcpTimer.Retransmit, found.Timer);
        Assert.Null(found.NoKeepalive);
        Assert.False(found.KeepaliveTimerActive);
        Assert.Equal(1000, found.SendQueue);
        Assert.True(found.UnackedSegments >= 1);
        Assert.NotNull(found.TimerExpires);
        Assert.StartsWith("retransmit ", TcpConnectionText.Keepalive(found));
    }

    [Fact]
    public void Filters_ReturnExactlyTheExpectedSets()
    {
        using var v4 = new LoopbackSockets(IPAddress.Loopback);
        var (plain, plainServer) = v4.Connect();
        var (kept, keptServer) = v4.Connect(600);
        int port = v4.ListenerPort;

        // Everything on the listener's port, seen from either side. Live states only: an earlier test's client in
        // TIME_WAIT towards a listener that had the same port would also match.
        TcpState[] live = [TcpState.Listen, TcpState.Established];
        var remoteSide = TcpConnections.Enumerate(new TcpConnectionQuery { RemotePorts = [port], RemoteAddresses = ["127.0.0.1"], LocalAddresses = ["127.0.0.1"], States = live }).ToList();
        Assert.Equal(new[] { LoopbackSockets.PortOf(plain), LoopbackSockets.PortOf(kept) }.Order(), remoteSide.Select(c => c.LocalPort).Order());

        Assert.Equal(new[] { TcpState.Listen }, TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [port], States = new[] { TcpState.Listen } }).Select(c => c.State));
        Assert.Equal(2, TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [port], States = new[] { TcpState.Established } }).Count());
        Assert.Equal(3, TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [port], States = new[] { TcpState.Established, TcpState.Listen } }).Count());
        Assert.DoesNotContain(
            TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [port], States = new[] { TcpState.TimeWait } }),
            c => c.RemotePort == LoopbackSockets.PortOf(plain) || c.RemotePort == LoopbackSockets.PortOf(kept));

        // Certainly without keepalive: the plain client and both accepted sockets (they did not set it).
        var noKeepalive = TcpConnections.Enumerate(new TcpConnectionQuery { RemoteAddresses = ["127.0.0.1"], RemotePorts = [port], NoKeepaliveOnly = true, States = live }).ToList();
        Assert.Equal(LoopbackSockets.PortOf(plain), Assert.Single(noKeepalive).LocalPort);

        Assert.Equal(3, TcpConnections.Enumerate(new TcpConnectionQuery { LocalPorts = [port], LocalAddresses = ["127.0.0.1"], States = live }).Count());
        Assert.Empty(TcpConnections.Enumerate(new TcpConnectionQuery { LocalPorts = [port], LocalAddresses = ["127.0.0.2"] }));
        Assert.Empty(TcpConnections.Enumerate(new TcpConnectionQuery { LocalPorts = [port], LocalAddresses = ["::1"], RemotePorts = [0] }));
        Assert.Equal(
            new[] { LoopbackSockets.PortOf(plain) },
            TcpConnections.Enumerate(v4.QueryFor(plain)).Select(c => c.LocalPort));
        GC.KeepAlive(plainServer);
        GC.KeepAlive(keptServer);
    }

    [Fact]
    public void IncludeProcess_NamesThisProcessAndTheDescriptor()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        var (client, _) = sockets.Connect();

        var found = Single(sockets.QueryFor(client) with { IncludeProcess = true });

        Assert.Equal(Environment.ProcessId, found.OwningProcess);
        var owner = Assert.Single(found.Processes);
        Assert.Equal(Environment.ProcessId, owner.Pid);
        Assert.Equal((int)client.Handle, owner.Fd);
        Assert.False(string.IsNullOrEmpty(owner.Name));
        Assert.Contains("PSKeepalive.Tests", owner.CommandLine ?? string.Empty, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void WithoutIncludeProcess_NoOwnerIsLookedUp()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        var (client, _) = sockets.Connect();

        var found = Single(sockets.QueryFor(client));

        Assert.Null(found.OwningProcess);
        Assert.Empty(found.Processes);
        Assert.Null(found.Rtt);
    }

    [Fact]
    public void OwningProcessFilter_KeepsOnlyThatProcessesSockets()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        sockets.Connect();

        var mine = TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [sockets.ListenerPort], OwningProcesses = [Environment.ProcessId] }).ToList();
        Assert.Equal(2, mine.Count); // the listener and the accepted socket
        Assert.All(mine, c => Assert.Equal(Environment.ProcessId, c.OwningProcess));

        // PID 1 holds none of the sockets this test made.
        Assert.Empty(TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [sockets.ListenerPort], OwningProcesses = [1] }));
    }

    [Fact]
    public void IncludeInfo_FillsTcpInfoFields()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        var (client, server) = sockets.Connect();
        client.Send(new byte[10]);
        var buffer = new byte[10];
        server.ReceiveTimeout = 5000;
        Assert.Equal(10, server.Receive(buffer));

        var found = Single(sockets.QueryFor(client) with { IncludeInfo = true });

        Assert.NotNull(found.Rtt);
        Assert.True(found.Rtt > TimeSpan.Zero);
        Assert.InRange(found.LastDataSent!.Value, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Assert.Equal(0, found.Retransmits);
        Assert.Equal(0, found.UnackedSegments);
    }

    [Fact]
    public void Streaming_StopsEarly()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        sockets.Connect();

        var first = TcpConnections.Enumerate(new TcpConnectionQuery()).Take(1).ToList();

        Assert.Single(first);
    }

    [Theory]
    [InlineData(-1, null, null)]
    [InlineData(65536, null, null)]
    [InlineData(null, "not-an-address", null)]
    [InlineData(null, null, 0)]
    public void InvalidQuery_IsRefusedBeforeAnythingIsRead(int? port, string? address, int? pid)
    {
        var query = new TcpConnectionQuery
        {
            LocalPorts = port is int p ? [p] : null,
            RemoteAddresses = address is null ? null : [address],
            OwningProcesses = pid is int owner ? [owner] : null,
        };

        var error = Assert.Throws<KeepaliveValidationException>(() => TcpConnections.Enumerate(query));

        Assert.Equal("ConnectionInvalidArgument", error.ErrorId);
    }

    [RootFact]
    public void NetworkNamespace_ListsThatNamespacesSocketsAcrossSeveralDatagrams()
    {
        using var ns = new PrivateNetworkNamespace();
        const int Pairs = 300;
        using var sockets = ns.Run(() => new LoopbackSockets(IPAddress.Loopback));
        ns.Run(() =>
        {
            for (int i = 0; i < Pairs; i++)
            {
                sockets.Connect(i % 2 == 0 ? 600 : null);
            }
        });

        var inside = TcpConnections.Enumerate(new TcpConnectionQuery { NetworkNamespace = ns.Path, IncludeInfo = true }).ToList();

        Assert.Equal((2 * Pairs) + 1, inside.Count); // 600 sockets with tcp_info take several 32 KiB datagrams
        Assert.Equal(Pairs / 2, inside.Count(c => c.Timer == TcpTimer.Keepalive));
        Assert.Equal((2 * Pairs) - (Pairs / 2), inside.Count(c => c.NoKeepalive == true));
        var cookies = inside.Select(c => c.Cookie).ToHashSet();
        Assert.Equal(inside.Count, cookies.Count);
        Assert.DoesNotContain(TcpConnections.Enumerate(new TcpConnectionQuery { LocalPorts = [sockets.ListenerPort] }), c => cookies.Contains(c.Cookie));
    }

    [RootFact]
    public void ManyIpv6Sockets_AreAllListedOnce_AndStoppingEarlyEndsTheBackgroundDump()
    {
        // 4000 IPv6 sockets with tcp_info fill far more than the prefetch queue's 32 datagrams, so the thread
        // reading the IPv6 dump blocks on a full queue; stopping early must cancel it, not hang.
        using var ns = new PrivateNetworkNamespace();
        const int Pairs = 2000;
        using var sockets = ns.Run(() => new LoopbackSockets(IPAddress.IPv6Loopback));
        ns.Run(() =>
        {
            for (int i = 0; i < Pairs; i++)
            {
                sockets.Connect(i % 4 == 0 ? 600 : null);
            }
        });
        var query = new TcpConnectionQuery { NetworkNamespace = ns.Path, IncludeInfo = true };

        var all = TcpConnections.Enumerate(query).ToList();
        Assert.Equal((2 * Pairs) + 1, all.Count);
        Assert.Equal(all.Count, all.Select(c => c.Cookie).Distinct().Count());
        Assert.Equal(Pairs / 4, all.Count(c => c.Timer == TcpTimer.Keepalive));

        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 5; i++)
        {
            Assert.Single(TcpConnections.Enumerate(query).Take(1));
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"five early stops took {watch.Elapsed}");
    }

    private static TcpConnection Single(TcpConnectionQuery query) => Assert.Single(TcpConnections.Enumerate(query));
}
