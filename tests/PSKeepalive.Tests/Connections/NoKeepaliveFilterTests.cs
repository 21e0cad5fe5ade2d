using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using PSKeepalive.Core.Connections;
using PSKeepalive.Tests.Connections;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Connections;

/// <summary>
/// TcpConnectionQuery.NoKeepaliveOnly with IncludeSocketOption is decided in Core on the options read from each
/// socket, not on the timer guess (which drops listeners and sockets with data in flight before they are read).
/// </summary>
public sealed class NoKeepaliveFilterTests
{
    [RootFact]
    public void NoKeepaliveOnly_WithSocketOptions_IsExact_ListenersAndDataInFlightIncluded()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        var (plainClient, plainServer) = sockets.Connect();
        var (keptClient, keptServer) = sockets.Connect(keepaliveIdleSeconds: 600);
        var (busyClient, busyServer) = sockets.Connect();
        LoopbackSockets.MakeDeaf(busyServer);
        busyClient.Send(new byte[100]); // never acknowledged: the retransmit timer hides the keepalive state
        WaitForRetransmitTimer(sockets.QueryFor(busyClient));

        // Only this process's sockets: on a host with many loopback sockets another one can share an ephemeral port.
        var query = new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], OwningProcesses = [Environment.ProcessId], NoKeepaliveOnly = true, IncludeSocketOption = true };
        int[] ports = [sockets.ListenerPort, LoopbackSockets.PortOf(plainClient), LoopbackSockets.PortOf(keptClient), LoopbackSockets.PortOf(busyClient)];
        // A busy host reuses a local port for connections to other peers: only this process's sockets are ours.
        var mine = TcpConnections.Enumerate(query)
            .Where(c => ports.Contains(c.LocalPort) && c.OwningProcess == Environment.ProcessId)
            .ToList(); // the clients, the listener and the three accepted sockets (none set SO_KEEPALIVE)

        Assert.Equal(6, mine.Count);
        Assert.All(mine, c => Assert.False(c.KeepaliveEnabled));
        Assert.Contains(mine, c => c.State == TcpState.Listen && c.LocalPort == sockets.ListenerPort);
        Assert.Contains(mine, c => c.LocalPort == LoopbackSockets.PortOf(plainClient));
        Assert.Contains(mine, c => c.LocalPort == LoopbackSockets.PortOf(busyClient) && c.Timer == TcpTimer.Retransmit);
        Assert.DoesNotContain(mine, c => c.LocalPort == LoopbackSockets.PortOf(keptClient));

        // Without the options the timer decides: of the clients, only the idle plain one is certain.
        int[] clients = ports[1..];
        var guessed = TcpConnections.Enumerate(query with { IncludeSocketOption = false })
            .Where(c => clients.Contains(c.LocalPort) && c.RemotePort == sockets.ListenerPort).ToList();
        Assert.Equal(LoopbackSockets.PortOf(plainClient), Assert.Single(guessed).LocalPort);
        Assert.Null(guessed[0].KeepaliveEnabled);
        GC.KeepAlive(plainServer);
        GC.KeepAlive(keptServer);
    }

    [Fact]
    public void IncludeSocketOption_ImpliesTheOwnerScan()
    {
        Assert.True(new TcpConnectionQuery { IncludeSocketOption = true }.NeedsOwners);
        Assert.False(new TcpConnectionQuery { NoKeepaliveOnly = true }.NeedsOwners);
    }

    private static void WaitForRetransmitTimer(TcpConnectionQuery query)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (TcpConnections.Enumerate(query).Any(c => c.Timer == TcpTimer.Retransmit))
            {
                return;
            }

            System.Threading.Thread.Sleep(20);
        }

        throw new TimeoutException("The retransmit timer was not armed within 10 s.");
    }
}
