using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using PSKeepalive.Tests.Connections;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Watch;

/// <summary>`pskeepalive watch` as a process, the way users run it: lines, JSON lines, the end by duration and by signal.</summary>
public sealed class WatchCliTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>The keys the issue lists, in its order; more follow them.</summary>
    private static readonly string[] IssueKeys = ["time", "kind", "probes", "state", "localAddress", "localPort", "remoteAddress", "remotePort", "cookie"];

    [DeafPeerFact]
    public async Task Watch_Json_OneObjectPerLine_FromTheExistingConnectionsToTheResetByKeepalive()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        (Socket client, Socket server) = sockets.Connect();
        LoopbackSockets.MakeDeaf(client);
        server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        server.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 1);
        server.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 1);
        server.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 2); // probes at 1 and 2 s, reset at 3 s
        string port = sockets.ListenerPort.ToString(CultureInfo.InvariantCulture);

        Task<CliResult> json = Run("watch", "--local-port", port, "--local-address", "127.0.0.1", "--include-existing", "--interval", "100", "--duration", "5", "--json");
        Task<CliResult> human = Run("watch", "--local-port", port, "--state", "established", "--interval", "100", "--duration", "5");
        await Task.WhenAll(json, human);

        Assert.True(json.Result.ExitCode == 0, json.Result.ToString());
        Assert.Equal(string.Empty, json.Result.StandardError);
        string[] lines = json.Result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var events = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        foreach (JsonElement e in events)
        {
            Assert.Equal(IssueKeys, e.EnumerateObject().Select(p => p.Name).Take(IssueKeys.Length));
            Assert.True(DateTimeOffset.TryParseExact(e.GetProperty("time").GetString(), "O", CultureInfo.InvariantCulture, DateTimeStyles.None, out _), e.ToString());
            Assert.Equal(JsonValueKind.Number, e.GetProperty("probes").ValueKind);
            Assert.Equal(JsonValueKind.Number, e.GetProperty("cookie").ValueKind);
            Assert.Equal("127.0.0.1", e.GetProperty("localAddress").GetString());
            Assert.Equal(sockets.ListenerPort, e.GetProperty("localPort").GetInt32());
        }

        // The listener and the accepted side as they were, then the accepted side's probes and its reset.
        string Kinds(Func<JsonElement, bool> which) => string.Join(" ", events.Where(which).Select(e => $"{e.GetProperty("kind").GetString()}:{e.GetProperty("probes").GetInt32()}"));
        Assert.Equal("new:0", Kinds(e => e.GetProperty("state").GetString() == "listen"));
        int serverPort = LoopbackSockets.PortOf(client);
        Assert.Matches("^new:[01] (probe:1 )?probe:2 keepaliveTimeout:2$", Kinds(e => e.GetProperty("remotePort").GetInt32() == serverPort));
        JsonElement reset = events.Last(e => e.GetProperty("remotePort").GetInt32() == serverPort);
        Assert.Equal("established", reset.GetProperty("state").GetString());
        Assert.Equal("keepalive", reset.GetProperty("timer").GetString());
        Assert.StartsWith("ended by keepalive", reset.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Readable lines: a header, then one line per event with the time, the kind, the state and both ends.
        Assert.True(human.Result.ExitCode == 0, human.Result.ToString());
        string[] rows = human.Result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^Time\s+Kind\s+State\s+Local\s+Remote\s+Detail$", rows[0]);
        Assert.Matches($@"^\d\d:\d\d:\d\d\.\d\d\d\s+keepaliveTimeout\s+established\s+127\.0\.0\.1:{port}\s+127\.0\.0\.1:{serverPort}\s+ended by keepalive with 2 probes unanswered", rows[^1]);
        Assert.Contains($"watching sock_diag every 100 ms for 5 s in this network namespace, connections with state established when first seen, local port {port}", human.Result.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(TestLibc.SIGINT)]
    [InlineData(TestLibc.SIGTERM)]
    public void Watch_EndsOnTheSignal_WithExitZero_FlushedAndWithoutAStackTrace(int signal)
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        sockets.Connect();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string argument in new[] { CliRunner.DllPath, "watch", "--local-port", sockets.ListenerPort.ToString(CultureInfo.InvariantCulture), "--include-existing", "--interval", "100", "--json" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        try
        {
            Task<string> stderr = process.StandardError.ReadToEndAsync();

            // The first sample's two lines (the listener, the accepted side) arrive flushed: the watch is in its loop,
            // with its signal handlers in place.
            for (int i = 0; i < 2; i++)
            {
                Task<string?> line = process.StandardOutput.ReadLineAsync();
                Assert.True(line.Wait(TimeSpan.FromSeconds(30)), "the first sample's events did not arrive within 30 s");
                Assert.Equal("new", JsonDocument.Parse(line.Result!).RootElement.GetProperty("kind").GetString());
            }

            Thread.Sleep(300);
            Assert.False(process.HasExited, "without --duration the watch runs until stopped");
            Assert.Equal(0UL, SignalMask(process.Id, "SigIgn") & (1UL << (signal - 1))); // inherited as ignored, it could not end the watch

            Assert.Equal(0, TestLibc.Kill(process.Id, signal));
            Task<string> rest = process.StandardOutput.ReadToEndAsync();
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(10)), "the watch did not end within 10 s of the signal");
            process.WaitForExit();

            Assert.Equal(0, process.ExitCode);
            Assert.Equal(string.Empty, stderr.Result);
            Assert.Equal(string.Empty, rest.Result);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Theory]
    [InlineData("--interval", "9", "--interval must be between 10 and 3600000 milliseconds")]
    [InlineData("--interval", "fast", "--interval takes a whole number")]
    [InlineData("--duration", "0", "--duration must be more than 0 and at most 2592000 seconds")]
    [InlineData("--local-port", "70000", "--local-port 70000 is outside the valid range 0..65535")]
    [InlineData("--state", "sleeping", "'sleeping' is not a TCP state")]
    public void Watch_BadArguments_ExitTwo_NamingTheRange(string option, string value, string message)
    {
        // Bounded either way: a value that were accepted would watch for one second only.
        CliResult result = CliRunner.Run(option == "--duration" ? ["watch", option, value] : ["watch", option, value, "--duration", "1"], Bound);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(message, result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Watch_NamespaceThatCannotBeOpened_GivesOnlyItsError_NoHeaderAndNoWatchingLine()
    {
        CliResult result = CliRunner.Run(["watch", "--netns", "pskeepalive-no-such-namespace", "--duration", "1"], Bound);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal(string.Empty, result.StandardOutput);
        Assert.Contains("[NetworkNamespaceNotFound]", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("watching", result.StandardError, StringComparison.Ordinal);
    }

    private static ulong SignalMask(int pid, string field)
    {
        string line = System.IO.File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return ulong.Parse(line[(field.Length + 1)..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    /// <summary>Each run waits on its own thread, not a pool thread.</summary>
    private static Task<CliResult> Run(params string[] arguments) =>
        Task.Factory.StartNew(() => CliRunner.Run(arguments, Bound), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
