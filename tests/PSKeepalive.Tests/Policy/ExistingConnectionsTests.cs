using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Policy;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Tests.Preload;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Policy;

/// <summary>-IncludeExisting: connections the cgroup's processes already hold get the policy through the live retrofit.</summary>
public sealed class ExistingConnectionsTests
{
    // Connects to {PORT} (own keepalive when asked), listens on a port of its own, prints "ready LISTENPORT", holds both for 60 s.
    private const string Holder = """
        import socket, sys, time
        own = sys.argv[2] == 'own'
        c = socket.socket()
        if own:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 33)
        c.connect(('127.0.0.1', int(sys.argv[1])))
        l = socket.socket()
        l.bind(('127.0.0.1', 0))
        l.listen(1)
        print('ready', l.getsockname()[1], flush=True)
        l.settimeout(30)
        a, _ = l.accept()
        time.sleep(60)
        """;

    [CgroupTheory]
    [InlineData(KeepalivePolicyMode.Outgoing)]
    [InlineData(KeepalivePolicyMode.All)]
    public void ExistingConnections_GetTheValues_OwnKeepaliveIsKept_ModeIsRespected(KeepalivePolicyMode mode)
    {
        using var cgroup = new ThrowawayCgroup();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var peers = new List<IDisposable>();
        try
        {
            (Process plain, int plainListen) = StartHolder(cgroup, port, "plain");
            peers.Add(plain);
            peers.Add(listener.AcceptTcpClient());
            peers.Add(ConnectTo(plainListen));
            (Process own, int ownListen) = StartHolder(cgroup, port, "own");
            peers.Add(own);
            peers.Add(listener.AcceptTcpClient());
            peers.Add(ConnectTo(ownListen));

            var settings = new KeepalivePolicySettings { Idle = 64, Count = 4, Mode = mode };
            PolicyKernelTests.Set(cgroup, settings);
            List<KeepaliveChangeResult> results;
            using (CgroupDirectory directory = CgroupDirectory.Open(cgroup.Path))
            {
                results = ExistingConnections.Apply(directory, settings).ToList();
            }

            KeepaliveChangeResult plainOut = results.Single(r => r.Pid == plain.Id && r.RemotePort == port);
            KeepaliveChangeResult ownOut = results.Single(r => r.Pid == own.Id && r.RemotePort == port);
            Assert.Equal(KeepaliveChangeOutcome.Applied, plainOut.Outcome);
            Assert.Equal(64, plainOut.After!.Idle);
            Assert.Equal(4, plainOut.After.ProbeCount);
            Assert.Equal(KeepaliveChangeOutcome.Skipped, ownOut.Outcome);
            Assert.Contains("switched keepalive on itself", ownOut.Reason);
            Assert.Equal(33, ownOut.After!.Idle);

            // Listeners are never touched; accepted connections only when the mode covers them.
            Assert.DoesNotContain(results, r => r.LocalPort == plainListen && r.RemotePort == 0);
            var accepted = results.Where(r => r.LocalPort == plainListen && r.RemotePort != 0).ToList();
            Assert.Equal(mode == KeepalivePolicyMode.All ? 1 : 0, accepted.Count);
        }
        finally
        {
            foreach (IDisposable peer in peers)
            {
                if (peer is Process p && !p.HasExited)
                {
                    p.Kill();
                }

                peer.Dispose();
            }
        }
    }

    [CgroupFact]
    public void Cli_IncludeExisting_ListsTheChangedConnectionsUnderExisting()
    {
        using var cgroup = new ThrowawayCgroup();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        (Process holder, int holderListen) = StartHolder(cgroup, port, "plain");
        using (holder)
        using (TcpClient accepted = listener.AcceptTcpClient())
        using (TcpClient toHolder = ConnectTo(holderListen))
        {
            try
            {
                CliResult result = CliRunner.Run("policy", "set", "--cgroup", cgroup.Path, "--idle", "65", "--mode", "outgoing", "--include-existing", "--json");

                Assert.True(result.ExitCode == 0, result.ToString());
                var json = System.Text.Json.JsonDocument.Parse(result.StandardOutput).RootElement;
                var existing = json.GetProperty("existing").EnumerateArray().ToList();
                var changed = Assert.Single(existing, e => e.GetProperty("pid").GetInt32() == holder.Id && e.GetProperty("remotePort").GetInt32() == port);
                Assert.Equal("Applied", changed.GetProperty("outcome").GetString());
                Assert.Equal(65, changed.GetProperty("after").GetProperty("idle").GetInt32());
                Assert.Equal(65, json.GetProperty("idle").GetInt32());
            }
            finally
            {
                holder.Kill();
            }
        }
    }

    private static TcpClient ConnectTo(int port)
    {
        var client = new TcpClient();
        client.Connect(IPAddress.Loopback, port);
        return client;
    }

    private static (Process Process, int ListenPort) StartHolder(ThrowawayCgroup cgroup, int port, string kind)
    {
        ProcessStartInfo start = cgroup.StartInfo(PreloadPrograms.Python, "-c", Holder, port.ToString(System.Globalization.CultureInfo.InvariantCulture), kind);
        start.RedirectStandardOutput = true;
        Process process = Process.Start(start)!;
        var line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(20)) || line.Result is not string ready || !ready.StartsWith("ready ", StringComparison.Ordinal))
        {
            process.Kill();
            throw new TimeoutException("the holder did not get ready");
        }

        return (process, int.Parse(ready[6..], System.Globalization.CultureInfo.InvariantCulture));
    }
}
