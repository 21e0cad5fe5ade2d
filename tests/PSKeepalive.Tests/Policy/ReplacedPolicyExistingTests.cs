using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using PSKeepalive.Tests.Preload;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Policy;

/// <summary>
/// `policy set --include-existing` over a policy already there: the connections that policy gave keepalive carry
/// its values, not values their program chose, so they get the new ones; a program's own values are still kept.
/// </summary>
public sealed class ReplacedPolicyExistingTests
{
    // Connects to {PORT} (with its own keepalive, idle 33, when asked), prints "ready", holds the connection for 60 s.
    private const string Holder = """
        import socket, sys, time
        c = socket.socket()
        if sys.argv[2] == 'own':
            c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 33)
        c.connect(('127.0.0.1', int(sys.argv[1])))
        print('ready', flush=True)
        time.sleep(60)
        """;

    [CgroupFact]
    public void IncludeExisting_GivesTheNewValuesToConnectionsOfTheReplacedPolicy_NotToOwnKeepalive()
    {
        using var cgroup = new ThrowawayCgroup();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        CliResult first = CliRunner.Run("policy", "set", "--cgroup", cgroup.Path, "--idle", "41", "--count", "2", "--mode", "outgoing");
        Assert.True(first.ExitCode == 0, first.ToString());

        using Process byPolicy = StartHolder(cgroup, port, "plain");
        using Process own = StartHolder(cgroup, port, "own");
        using TcpClient acceptedOne = listener.AcceptTcpClient();
        using TcpClient acceptedTwo = listener.AcceptTcpClient();
        try
        {
            CliResult result = CliRunner.Run("policy", "set", "--cgroup", cgroup.Path, "--idle", "42", "--count", "2", "--mode", "outgoing", "--include-existing", "--json");

            Assert.True(result.ExitCode == 0, result.ToString());
            var existing = JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("existing").EnumerateArray().ToList();
            JsonElement replaced = Assert.Single(existing, e => e.GetProperty("pid").GetInt32() == byPolicy.Id);
            Assert.True(replaced.GetProperty("outcome").GetString() == "Applied", result.ToString());
            Assert.Equal(41, replaced.GetProperty("before").GetProperty("idle").GetInt32());
            Assert.Equal(42, replaced.GetProperty("after").GetProperty("idle").GetInt32());
            JsonElement kept = Assert.Single(existing, e => e.GetProperty("pid").GetInt32() == own.Id);
            Assert.Equal("Skipped", kept.GetProperty("outcome").GetString());
            Assert.Equal(33, kept.GetProperty("after").GetProperty("idle").GetInt32());
        }
        finally
        {
            byPolicy.Kill();
            own.Kill();
        }
    }

    private static Process StartHolder(ThrowawayCgroup cgroup, int port, string kind)
    {
        ProcessStartInfo start = cgroup.StartInfo(PreloadPrograms.Python, "-c", Holder, port.ToString(CultureInfo.InvariantCulture), kind);
        start.RedirectStandardOutput = true;
        Process process = Process.Start(start)!;
        var line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(20)) || line.Result != "ready")
        {
            process.Kill();
            throw new TimeoutException("the holder did not get ready");
        }

        return process;
    }
}
