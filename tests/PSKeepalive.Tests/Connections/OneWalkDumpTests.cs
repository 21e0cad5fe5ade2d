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
        var ports = Listeners(v4, v6);

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
        var ports = Listeners(v4, v6);
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

    private static HashSet<string> Listeners(params LoopbackSockets[] sockets) =>
        sockets.Select(s => Endpoint(s.Address.ToString(), s.ListenerPort)).ToHashSet(StringComparer.Ordinal);

    private static string Endpoint(string address, int port) => $"{address} {port}";

    /// <summary>
    /// The test's own sockets: listening or connected on either side of these listeners, one sortable line each,
    /// without the timer's countdown. Not by port alone: another test's socket in TIME_WAIT, or on another address,
    /// can carry the same port number.
    /// </summary>
    private static List<string> Mine(HashSet<string> listeners) =>
        TcpConnections.Enumerate(new TcpConnectionQuery())
            .Where(c => c.State is TcpState.Listen or TcpState.Established)
            .Where(c => listeners.Contains(Endpoint(c.LocalAddress, c.LocalPort)) || listeners.Contains(Endpoint(c.RemoteAddress, c.RemotePort)))
            .Select(c => $"{c.Cookie} {c.AddressFamily} {c.LocalAddress}:{c.LocalPort} {c.RemoteAddress}:{c.RemotePort} {c.State} {c.Timer} {c.Inode} {c.Uid}")
            .Order(StringComparer.Ordinal)
            .ToList();
}
