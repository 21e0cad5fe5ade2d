using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using PSKeepalive.Core.Connections;
using Xunit;

namespace PSKeepalive.Tests.Connections;

/// <summary>
/// The listing asks for both families in one walk of the kernel's tables (TCPDIAG_GETSOCK) and falls back to a
/// dump per family (SOCK_DIAG_BY_FAMILY) when the kernel refuses: both ways list exactly the same sockets.
/// </summary>
[Collection(nameof(OneWalkDumpTests))]
public sealed class OneWalkDumpTests
{
    [Fact]
    public void OneWalk_AndADumpPerFamily_ListTheSameSockets()
    {
        using var v4 = new LoopbackSockets(IPAddress.Loopback);
        using var v6 = new LoopbackSockets(IPAddress.IPv6Loopback);
        v4.Connect();
        v4.Connect(600);
        v6.Connect();
        v6.Connect(600);
        var ports = new HashSet<int> { v4.ListenerPort, v6.ListenerPort };

        var oneWalk = Mine(ports);
        List<string> perFamily;
        TcpConnections.OneWalk = false;
        try
        {
            perFamily = Mine(ports);
        }
        finally
        {
            TcpConnections.OneWalk = true;
        }

        Assert.Equal(2 * 5, oneWalk.Count); // per family: the listener, two clients, two accepted sockets
        Assert.Equal(perFamily, oneWalk);
    }

    [Fact]
    public void RefusedOneWalk_FallsBackToADumpPerFamily()
    {
        using var v4 = new LoopbackSockets(IPAddress.Loopback);
        using var v6 = new LoopbackSockets(IPAddress.IPv6Loopback);
        v4.Connect(600);
        v6.Connect(600);
        var ports = new HashSet<int> { v4.ListenerPort, v6.ListenerPort };
        var expected = Mine(ports);

        TcpConnections.SimulateOneWalkRefusal = true;
        List<string> afterRefusal;
        try
        {
            afterRefusal = Mine(ports);
        }
        finally
        {
            TcpConnections.SimulateOneWalkRefusal = false;
            TcpConnections.ForgetOneWalkRefusal();
        }

        Assert.Equal(2 * 3, expected.Count);
        Assert.Equal(expected, afterRefusal);
    }

    /// <summary>The sockets on these listener ports (either side), one sortable line each, without the timer's countdown.</summary>
    private static List<string> Mine(HashSet<int> ports) =>
        TcpConnections.Enumerate(new TcpConnectionQuery())
            .Where(c => ports.Contains(c.LocalPort) || ports.Contains(c.RemotePort))
            .Select(c => $"{c.Cookie} {c.AddressFamily} {c.LocalAddress}:{c.LocalPort} {c.RemoteAddress}:{c.RemotePort} {c.State} {c.Timer} {c.Inode} {c.Uid}")
            .Order(StringComparer.Ordinal)
            .ToList();
}
