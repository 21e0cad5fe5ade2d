using System;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text.Json;
using PSKeepalive.Core.Connections;
using PSKeepalive.Tests.Connections;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Retrofit;

/// <summary>`close` leaves a server's listening socket alone unless --state listen asks for it; states are ss names.</summary>
public sealed class CloseListenerTests
{
    [Theory]
    [InlineData("Listen", "0.0.0.0", 0, false, "listening")]
    [InlineData("listen", "::", 0, false, "listening")]
    [InlineData("Unknown", "0.0.0.0", 0, false, "listening")] // typed by hand: the any-address and port 0 are a listener's
    [InlineData("Unknown", "::", 0, false, "listening")]
    [InlineData("TimeWait", "127.0.0.1", 40000, false, "TIME_WAIT")]
    [InlineData("TimeWait", "127.0.0.1", 40000, true, "TIME_WAIT")]
    [InlineData("Listen", "0.0.0.0", 0, true, null)]
    [InlineData("Established", "127.0.0.1", 40000, false, null)]
    [InlineData("Unknown", "127.0.0.1", 40000, false, null)]
    public void LeftAlone_SkipsTimeWaitAlways_AndListenersUnlessIncluded(string state, string remote, int remotePort, bool includeListeners, string? reason)
    {
        var target = new PSKeepalive.Core.Retrofit.TcpCloseTarget("127.0.0.1", 5432, remote, remotePort, State: state);

        var result = PSKeepalive.Core.Retrofit.TcpConnectionCloser.LeftAlone(target, includeListeners);

        if (reason is null)
        {
            Assert.Null(result);
            return;
        }

        Assert.NotNull(result);
        Assert.Equal(PSKeepalive.Core.Retrofit.TcpCloseOutcome.Skipped, result.Outcome);
        Assert.Contains(reason, result.Reason, StringComparison.Ordinal);
        Assert.Null(result.ErrorId);
    }

    [RootFact]
    public void Close_ByLocalPort_ClosesTheConnections_KeepsTheListener_UntilAskedByState()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        var (client, server) = sockets.Connect();
        string port = sockets.ListenerPort.ToString(CultureInfo.InvariantCulture);

        CliResult first = CliRunner.Run("close", "--local-address", "127.0.0.1", "--local-port", port, "--json");

        Assert.True(first.ExitCode == 0, first.ToString());
        using (var results = JsonDocument.Parse(first.StandardOutput))
        {
            var closed = Assert.Single(results.RootElement.EnumerateArray());
            Assert.Equal("established", closed.GetProperty("state").GetString());
            Assert.Equal("Closed", closed.GetProperty("outcome").GetString());
        }

        Assert.Contains("1 listening socket(s) left alone", first.StandardError, StringComparison.Ordinal);
        Assert.Contains("--state listen", first.StandardError, StringComparison.Ordinal);
        var left = TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [sockets.ListenerPort] }).ToList();
        Assert.Equal(TcpState.Listen, Assert.Single(left).State);

        CliResult second = CliRunner.Run("close", "--local-address", "127.0.0.1", "--local-port", port, "--state", "listen");

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("listen ", second.StandardOutput, StringComparison.Ordinal);
        Assert.Empty(TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [sockets.ListenerPort], States = [TcpState.Listen] }));
        GC.KeepAlive(client);
        GC.KeepAlive(server);
    }

    [RootFact]
    public void Close_ATupleWithoutCookie_ThatNamesNoConnection_LeavesTheListenerOnItsAddressAlone()
    {
        // Without a cookie the kernel's own lookup would fall back to the listener on 127.0.0.1:port and destroy it.
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        var typo = new PSKeepalive.Core.Retrofit.TcpCloseTarget("127.0.0.1", sockets.ListenerPort, "127.0.0.1", 1);

        var result = PSKeepalive.Core.Retrofit.TcpConnectionCloser.Close(typo);

        Assert.Equal(PSKeepalive.Core.Retrofit.TcpCloseOutcome.Skipped, result.Outcome);
        Assert.Equal("ConnectionNotFound", result.ErrorId);
        var listener = TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [sockets.ListenerPort], States = [TcpState.Listen] });
        Assert.Single(listener);
    }

    [RootFact]
    public void Close_ATupleWithoutCookie_ClosesExactlyThatConnection_AndReportsWhatItWas()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        var (client, server) = sockets.Connect();
        var (other, otherServer) = sockets.Connect();
        int clientPort = LoopbackSockets.PortOf(client);
        TcpConnection listed = Assert.Single(TcpConnections.Enumerate(sockets.QueryFor(client)));
        var typed = new PSKeepalive.Core.Retrofit.TcpCloseTarget("127.0.0.1", clientPort, "127.0.0.1", sockets.ListenerPort);

        var result = PSKeepalive.Core.Retrofit.TcpConnectionCloser.Close(typed);

        Assert.Equal(PSKeepalive.Core.Retrofit.TcpCloseOutcome.Closed, result.Outcome);
        Assert.Equal("Established", result.State);
        Assert.Equal(listed.Cookie, result.Cookie);
        Assert.DoesNotContain(TcpConnections.Enumerate(sockets.QueryFor(client)), c => c.State == TcpState.Established);
        Assert.Single(TcpConnections.Enumerate(sockets.QueryFor(other)));
        Assert.Single(TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [sockets.ListenerPort], States = [TcpState.Listen] }));
        GC.KeepAlive(server);
        GC.KeepAlive(otherServer);
    }
}
