using System;
using System.Diagnostics;
using System.Linq;
using System.Net;
using PSKeepalive.Commands;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Tests.Connections;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Connections;

/// <summary>
/// TcpConnection carries the namespace it was listed in, and the cmdlets that act on piped connections bind it, so
/// that closing or re-reading happens in that namespace instead of the caller's.
/// </summary>
public sealed class ConnectionNamespaceTests
{
    [RootFact]
    public void ListedInANamespace_CarriesItsPath_AndClosingThroughItReachesTheSocket()
    {
        using var ns = new PrivateNetworkNamespace();
        using var sockets = ns.Run(() => new LoopbackSockets(IPAddress.Loopback));
        var (client, server) = ns.Run(() => sockets.Connect());

        var inside = TcpConnections.Enumerate(new TcpConnectionQuery { NetworkNamespace = ns.Path, LocalPorts = [LoopbackSockets.PortOf(client)] }).ToList();
        TcpConnection listed = Assert.Single(inside);
        Assert.Equal(ns.Path, listed.NetworkNamespace);
        using var here = new LoopbackSockets(IPAddress.Loopback);
        TcpConnection mine = Assert.Single(TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [here.ListenerPort] }));
        Assert.Null(mine.NetworkNamespace);

        TcpConnectionCloseResult closed = TcpConnectionCloser.Close(TcpCloseTarget.From(listed), listed.NetworkNamespace);

        Assert.Equal(TcpCloseOutcome.Closed, closed.Outcome);
        Assert.Empty(TcpConnections.Enumerate(new TcpConnectionQuery { NetworkNamespace = ns.Path, LocalPorts = [LoopbackSockets.PortOf(client)], States = [TcpState.Established] }));
        GC.KeepAlive(server);
    }

    [RootFact]
    public void NamespaceOf_IsNullForTheCallersNamespace_AndTheProcPathForAnotherOne()
    {
        Assert.Null(RetrofitTargets.NamespaceOf(Environment.ProcessId));

        using var child = Process.Start(new ProcessStartInfo("unshare", ["--net", "sleep", "30"]) { UseShellExecute = false })!;
        try
        {
            string expected = $"/proc/{child.Id}/ns/net";
            DateTime deadline = DateTime.UtcNow.AddSeconds(10);
            string? found = null;
            while (DateTime.UtcNow < deadline && (found = RetrofitTargets.NamespaceOf(child.Id)) is null)
            {
                System.Threading.Thread.Sleep(10); // until unshare has moved and exec'd
            }

            Assert.Equal(expected, found);
        }
        finally
        {
            child.Kill();
            child.WaitForExit(10_000);
        }
    }

    [Theory]
    [InlineData(typeof(CloseTcpConnectionCommand), null)]
    [InlineData(typeof(EnableTcpKeepaliveCommand), "Connection")]
    [InlineData(typeof(DisableTcpKeepaliveCommand), "Connection")]
    public void Cmdlets_BindNetworkNamespaceByPropertyName_AndAllowNull(Type type, string? parameterSet)
    {
        var parameter = CmdletMetadata.Parameters(type).Single(p => p.Name == "NetworkNamespace");
        var attribute = CmdletMetadata.Attribute(parameter, "ParameterAttribute")!;

        Assert.True(CmdletMetadata.Named(attribute, "ValueFromPipelineByPropertyName") is true);
        Assert.Equal(parameterSet, CmdletMetadata.Named(attribute, "ParameterSetName"));
        Assert.NotNull(CmdletMetadata.Attribute(parameter, "AllowNullAttribute")); // a connection of the caller's namespace pipes null
        Assert.NotNull(CmdletMetadata.Attribute(parameter, "AllowEmptyStringAttribute"));
        Assert.Null(CmdletMetadata.Attribute(parameter, "ValidateNotNullOrEmptyAttribute"));
        Assert.Equal(typeof(string), parameter.PropertyType);
        Assert.NotNull(typeof(TcpConnection).GetProperty(nameof(TcpConnection.NetworkNamespace)));
    }
}

/// <summary>`connections --netns PATH --json` names the namespace on each connection.</summary>
public sealed class ConnectionNamespaceCliTests
{
    [RootFact]
    public void Json_NamesTheNamespace_OnlyWhenOneWasGiven()
    {
        using var ns = new PrivateNetworkNamespace();
        using var sockets = ns.Run(() => new LoopbackSockets(IPAddress.Loopback));
        string port = sockets.ListenerPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

        CliResult inside = CliRunner.Run("connections", "--netns", ns.Path, "--local-port", port, "--json");
        using var here = new LoopbackSockets(IPAddress.Loopback);
        CliResult outside = CliRunner.Run("connections", "--local-port", here.ListenerPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json");

        Assert.True(inside.ExitCode == 0, inside.ToString());
        using var document = System.Text.Json.JsonDocument.Parse(inside.StandardOutput);
        Assert.Equal(ns.Path, Assert.Single(document.RootElement.EnumerateArray()).GetProperty("networkNamespace").GetString());
        using var hereDocument = System.Text.Json.JsonDocument.Parse(outside.StandardOutput);
        Assert.False(Assert.Single(hereDocument.RootElement.EnumerateArray()).TryGetProperty("networkNamespace", out _));
    }
}

/// <summary>Listing by process finds a process of another namespace in its own namespace.</summary>
public sealed class ProcessNamespaceTests
{
    [RootFact]
    public void OwningProcess_InAnotherNamespace_IsListedThere()
    {
        var start = new ProcessStartInfo("unshare") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (string argument in new[] { "--net", "sh", "-c", "ip link set lo up && exec python3 -c \"import socket,time\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\nprint(s.getsockname()[1], flush=True); time.sleep(60)\"" })
        {
            start.ArgumentList.Add(argument);
        }

        using var holder = Process.Start(start)!;
        try
        {
            var ready = holder.StandardOutput.ReadLineAsync();
            Assert.True(ready.Wait(TimeSpan.FromSeconds(20)), "the socket holder did not start within 20 s");
            int port = int.Parse(ready.Result!, System.Globalization.CultureInfo.InvariantCulture);

            TcpConnection listener = Assert.Single(TcpConnections.Enumerate(new TcpConnectionQuery { OwningProcesses = [holder.Id] }));

            Assert.Equal(port, listener.LocalPort);
            Assert.Equal(TcpState.Listen, listener.State);
            Assert.Equal($"/proc/{holder.Id}/ns/net", listener.NetworkNamespace);
            Assert.Equal(holder.Id, listener.OwningProcess);

            // Processes of two namespaces: each namespace is listed in turn, each connection carries its own.
            using var here = new LoopbackSockets(IPAddress.Loopback);
            var both = TcpConnections.Enumerate(new TcpConnectionQuery { OwningProcesses = [holder.Id, Environment.ProcessId], LocalPorts = [port, here.ListenerPort] }).ToList();
            Assert.Equal(2, both.Count);
            Assert.Equal($"/proc/{holder.Id}/ns/net", Assert.Single(both, c => c.LocalPort == port).NetworkNamespace);
            Assert.Null(Assert.Single(both, c => c.LocalPort == here.ListenerPort).NetworkNamespace);

            string pid = holder.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            CliResult closed = CliRunner.Run("close", "--process", pid, "--state", "listen", "--json");
            Assert.True(closed.ExitCode == 0, closed.ToString());
            Assert.Contains("\"outcome\":\"Closed\"", closed.StandardOutput.Replace(" ", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.Empty(TcpConnections.Enumerate(new TcpConnectionQuery { OwningProcesses = [holder.Id] }));
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit(10_000);
        }
    }
}
