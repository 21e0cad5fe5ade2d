using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Text.Json;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Connections;

/// <summary>`pskeepalive connections` run as a process, as a user would.</summary>
public sealed class ConnectionsCliTests
{
    [Fact]
    public void Json_ListsTheTestsSockets_WithCamelCaseKeys()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        var (plain, _) = sockets.Connect();
        var (kept, _) = sockets.Connect(600);

        // Established only: a client in TIME_WAIT towards an earlier listener that had the same port would match too.
        CliResult result = CliRunner.Run("connections", "--json", "--state", "established", "--remote-port", sockets.ListenerPort.ToString(), "--remote-address", "127.0.0.1", "--local-address", "127.0.0.1", "--include-process");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.StandardOutput);
        var items = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, items.Count);
        var byPort = items.ToDictionary(i => i.GetProperty("localPort").GetInt32());
        var plainJson = byPort[LoopbackSockets.PortOf(plain)];
        Assert.Equal("established", plainJson.GetProperty("state").GetString());
        Assert.Equal("none", plainJson.GetProperty("timer").GetString());
        Assert.True(plainJson.GetProperty("noKeepalive").GetBoolean());
        Assert.Equal(JsonValueKind.Null, plainJson.GetProperty("timerExpiresMs").ValueKind);
        Assert.Equal("127.0.0.1", plainJson.GetProperty("remoteAddress").GetString());
        Assert.Equal(sockets.ListenerPort, plainJson.GetProperty("remotePort").GetInt32());
        Assert.Equal(Environment.ProcessId, plainJson.GetProperty("owningProcess").GetInt32());
        Assert.Equal(Environment.ProcessId, plainJson.GetProperty("processes")[0].GetProperty("pid").GetInt32());
        // The owner flat too, as the cmdlet's ProcessId and ProcessName.
        Assert.Equal(Environment.ProcessId, plainJson.GetProperty("processId").GetInt32());
        Assert.Equal(plainJson.GetProperty("processes")[0].GetProperty("name").GetString(), plainJson.GetProperty("processName").GetString());

        var keptJson = byPort[LoopbackSockets.PortOf(kept)];
        Assert.Equal("keepalive", keptJson.GetProperty("timer").GetString());
        Assert.False(keptJson.GetProperty("noKeepalive").GetBoolean());
        Assert.InRange(keptJson.GetProperty("timerExpiresMs").GetInt64(), 550_000, 600_000);
        Assert.Equal(0, keptJson.GetProperty("probesSent").GetInt32());
    }

    [Fact]
    public void Table_ShowsStateEndpointsAndKeepaliveColumn()
    {
        using var sockets = new LoopbackSockets(IPAddress.IPv6Loopback);
        sockets.Connect(600);

        CliResult result = CliRunner.Run("connections", "--state", "established", "--remote-port", sockets.ListenerPort.ToString(), "--remote-address", "::1", "--local-address", "::1");

        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^State\s+Local\s+Remote\s+Keepalive$", lines[0]);
        Assert.Matches($@"^established\s+\[::1\]:\d+\s+\[::1\]:{sockets.ListenerPort}\s+keepalive \d+m\d*s?/0$", lines[1]);
    }

    [Fact]
    public void StateAndNoKeepaliveFilters_Work()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        var (plain, _) = sockets.Connect();
        sockets.Connect(600);
        string port = sockets.ListenerPort.ToString();

        var listen = Parse(CliRunner.Run("connections", "--json", "--state", "listen", "--local-port", port, "--local-address", "127.0.0.1"));
        Assert.Equal("listen", Assert.Single(listen.RootElement.EnumerateArray()).GetProperty("state").GetString());

        var both = Parse(CliRunner.Run("connections", "--json", "--state", "listen,established", "--local-port", port, "--local-address", "127.0.0.1"));
        Assert.Equal(3, both.RootElement.GetArrayLength());

        var none = Parse(CliRunner.Run("connections", "--json", "--no-keepalive", "--state", "established", "--remote-port", port, "--remote-address", "127.0.0.1", "--local-address", "127.0.0.1"));
        Assert.Equal(LoopbackSockets.PortOf(plain), Assert.Single(none.RootElement.EnumerateArray()).GetProperty("localPort").GetInt32());
    }

    [Fact]
    public void Filters_TakeListsWildcardsAndCidrBlocks_AsTheCmdletDoes()
    {
        using var one = new LoopbackSockets(IPAddress.Loopback);
        using var two = new LoopbackSockets(IPAddress.Loopback);
        one.Connect();
        two.Connect();
        string ports = $"{one.ListenerPort},{two.ListenerPort}";

        var commaList = Parse(CliRunner.Run("connections", "--json", "--state", "listen", "--local-port", ports, "--local-address", "127.*"));
        var repeated = Parse(CliRunner.Run("connections", "--json", "--state", "listen", "--local-port", one.ListenerPort.ToString(), "--local-port", two.ListenerPort.ToString(), "--local-address", "127.0.0.0/8"));
        // Established only: a TIME_WAIT left on the host by an earlier user of the same port would match too.
        var remote = Parse(CliRunner.Run("connections", "--json", "--state", "established", "--remote-port", ports, "--remote-address", "10.0.0.0/8,127.0.0.1"));
        var none = Parse(CliRunner.Run("connections", "--json", "--local-port", ports, "--local-address", "10.*"));

        Assert.Equal(2, commaList.RootElement.GetArrayLength());
        Assert.Equal(2, repeated.RootElement.GetArrayLength());
        Assert.Equal(2, remote.RootElement.GetArrayLength());
        Assert.Equal(0, none.RootElement.GetArrayLength());
    }

    [Theory]
    [InlineData("--local-address", "127.0.0.0/33", "prefix length")]
    [InlineData("--local-port", "80,abc", "whole number")]
    [InlineData("--process", "0", "ConnectionInvalidArgument")]
    [InlineData("--state", "bogus", "ConnectionInvalidArgument")]
    [InlineData("--local-port", "70000", "ConnectionInvalidArgument")]
    [InlineData("--remote-address", "nope", "ConnectionInvalidArgument")]
    [InlineData("--local-port", "abc", "whole number")]
    public void InvalidArguments_ExitTwo(string option, string value, string expected)
    {
        CliResult result = CliRunner.Run("connections", option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.StandardError);
        Assert.Equal(string.Empty, result.StandardOutput);
    }

    [Fact]
    public void MissingNamespace_ExitsOne()
    {
        CliResult result = CliRunner.Run("connections", "--netns", "/run/netns/pskeepalive-no-such-namespace");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("NetworkNamespaceNotFound", result.StandardError);
    }

    [RootFact]
    public void Netns_ListsTheSocketsOfThatNamespace()
    {
        using var ns = new PrivateNetworkNamespace();
        using var sockets = ns.Run(() => new LoopbackSockets(IPAddress.Loopback));
        ns.Run(() => sockets.Connect());

        var all = Parse(CliRunner.Run("connections", "--json", "--netns", ns.Path));

        Assert.Equal(3, all.RootElement.GetArrayLength());
        Assert.All(all.RootElement.EnumerateArray(), c => Assert.Equal("127.0.0.1", c.GetProperty("localAddress").GetString()));
    }

    [Fact]
    public void Json_EscapesOddProcessNamesAndCommandLines()
    {
        // A python3 child whose name (prctl PR_SET_NAME, at most 15 bytes) and arguments need JSON escaping:
        // quotes, backslashes, tabs, newlines, control and non-ASCII characters. The output must parse and give
        // back exactly what /proc holds.
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        const string Script = "import ctypes, socket, sys\n" +
            "ctypes.CDLL(None).prctl(15, sys.argv[2].encode(), 0, 0, 0)\n" +
            "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n" +
            "print(s.getsockname()[1], flush=True)\n" +
            "sys.stdin.read()\n";
        const string OddName = "q\"b\\t\tx\u0001\u00e9";
        const string OddArgument = "say \"hi\", C:\\path\\, tab\t, newline\n, \u20ac \U0001F600 \u2028 <&>";
        var start = new ProcessStartInfo("python3") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in new[] { "-c", Script, sockets.ListenerPort.ToString(), OddName, OddArgument })
        {
            start.ArgumentList.Add(argument);
        }

        using Process child = Process.Start(start)!;
        try
        {
            var portLine = child.StandardOutput.ReadLineAsync();
            Assert.True(portLine.Wait(TimeSpan.FromSeconds(20)), "the child did not connect within 20 s");
            string childPort = portLine.Result!.Trim();

            using var json = Parse(CliRunner.Run("connections", "--json", "--include-process", "--local-address", "127.0.0.1", "--local-port", childPort, "--remote-port", sockets.ListenerPort.ToString()));

            JsonElement owner = Assert.Single(Assert.Single(json.RootElement.EnumerateArray()).GetProperty("processes").EnumerateArray());
            Assert.Equal(child.Id, owner.GetProperty("pid").GetInt32());
            Assert.Equal(File.ReadAllText($"/proc/{child.Id}/comm").TrimEnd('\n'), owner.GetProperty("name").GetString());
            Assert.Equal(OddName, owner.GetProperty("name").GetString());
            Assert.Equal(File.ReadAllText($"/proc/{child.Id}/cmdline").TrimEnd('\0').Replace('\0', ' '), owner.GetProperty("commandLine").GetString());
            Assert.EndsWith(OddArgument, owner.GetProperty("commandLine").GetString());
        }
        finally
        {
            child.StandardInput.Close();
            if (!child.WaitForExit(5000))
            {
                child.Kill();
                child.WaitForExit(5000);
            }
        }
    }

    private static JsonDocument Parse(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.StandardOutput);
    }

    [Theory]
    [InlineData("connections")]
    [InlineData("watch")]
    [InlineData("close")]
    public void AProcessThatDoesNotExist_IsNamedAsNotFound_NotAnEmptyResult(string command)
    {
        // pid_max itself is never a process id: the kernel hands out 1..pid_max-1.
        string missing = File.ReadAllText("/proc/sys/kernel/pid_max").Trim();
        string[] extra = command switch { "watch" => ["--duration", "1"], "close" => ["--what-if"], _ => [] };

        CliResult result = CliRunner.Run([command, "--process", missing, .. extra]);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains($"There is no process {missing} (--process)", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("[ProcessNotFound]", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void IncludeInfo_AddsAnInfoColumnToTheTable_NotOnlyToJson()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        var (client, _) = sockets.Connect();
        string port = sockets.ListenerPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

        CliResult result = CliRunner.Run("connections", "--include-info", "--local-address", "127.0.0.1", "--local-port", port);

        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^State\s+Local\s+Remote\s+Keepalive\s+Info$", lines[0]);
        Assert.Matches(@"^listen\s.*\s-$", Assert.Single(lines, l => l.StartsWith("listen", StringComparison.Ordinal)));
        Assert.Matches(@"^established\s.*\srtt [0-9.]+ms, retrans 0, unacked 0, sent [0-9.]+s ago, received [0-9.]+s ago$", Assert.Single(lines, l => l.StartsWith("established", StringComparison.Ordinal)));
        GC.KeepAlive(client);
    }
}
