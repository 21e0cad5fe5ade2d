using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.SelfTest;
using PSKeepalive.Core.Watch;
using PSKeepalive.Tests.Connections;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Watch;

/// <summary>
/// The watch against the real kernel: loopback connections this test owns, with deaf peers (the self-test's
/// drop-all socket filter) so that keepalive probes go unanswered. One watch follows all the cases at once, so
/// this costs one watch's duration (6 s), not the sum.
/// </summary>
public sealed class WatchKernelTests
{
    private static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Where a kernel event one to four keepalive steps after the handshake may fall: never before its time (timers do
    /// not fire early; 50 ms for the jiffy rounding of the clocks compared), and per step at most the kernel's own
    /// tolerance later (ProbeTimeline.StepTolerance: the timer wheel's rounding plus softirq delay).
    /// </summary>
    private static (DateTime Earliest, DateTime Latest) Due(DateTime connected, int steps) =>
        (connected.AddSeconds(steps - 0.05), connected.AddSeconds(steps) + (steps * ProbeTimeline.StepTolerance(TimeSpan.FromSeconds(1))));

    [DeafPeerFact]
    public void ProbesAnswersSwitchesAndCloses_ComeInOrder_OnTheKernelsSchedule()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        (Socket deafClient, Socket deafServer) = sockets.Connect();
        (Socket muteClient, Socket muteServer) = sockets.Connect();
        (_, Socket plainServer) = sockets.Connect();
        DateTime connected = DateTime.Now;
        LoopbackSockets.MakeDeaf(deafClient);
        LoopbackSockets.MakeDeaf(muteClient);
        SetKeepalive(deafServer, idle: 1, interval: 1, count: 3); // probes at 1, 2, 3 s after the handshake, reset at 4 s
        SetKeepalive(muteServer, idle: 1, interval: 1, count: 5); // probes at 1, 2 s; hears again at 2.5 s: the 3 s probe is answered
        var options = new TcpConnectionWatchOptions
        {
            Query = new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [sockets.ListenerPort] },
            SampleInterval = SampleInterval,
            Duration = TimeSpan.FromSeconds(6),
        };

        // Scripted on a thread of its own while the watch runs here (not the thread pool, which other tests running
        // alongside can starve for seconds); each action notes when it happened.
        ulong lateCookie = 0;
        DateTime lateAt = default, onAt = default, offAt = default, closedAt = default, hearsAt = default;
        Task actions = Task.Factory.StartNew(() =>
        {
            Thread.Sleep(500);
            (Socket lateClient, Socket lateServer) = sockets.Connect();
            lateAt = DateTime.Now;
            Thread.Sleep(500);
            onAt = DateTime.Now;
            plainServer.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            Thread.Sleep(1000);
            offAt = DateTime.Now;
            plainServer.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, false);
            Thread.Sleep(500);
            lateCookie = TcpConnections.Enumerate(sockets.QueryFor(lateServer)).Single().Cookie;
            closedAt = DateTime.Now;
            lateClient.Shutdown(SocketShutdown.Both); // an orderly close (FIN) from both ends
            lateServer.Shutdown(SocketShutdown.Both);
            muteClient.SetRawSocketOption(1, 27, new byte[4]); // SOL_SOCKET, SO_DETACH_FILTER: it hears again
            hearsAt = DateTime.Now;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var samples = new List<TcpConnectionWatchSample>();
        List<TcpConnectionEvent> events = TcpConnectionWatch.Run(options, sampled: samples.Add).ToList();
        Assert.True(actions.Wait(TimeSpan.FromSeconds(10)), "the scripted actions did not finish");

        ulong Cookie(Socket server) => TcpConnections.Enumerate(sockets.QueryFor(server)).Single().Cookie;
        List<TcpConnectionEvent> Of(ulong cookie) => events.Where(e => e.Cookie == cookie).ToList();
        static string Kinds(IEnumerable<TcpConnectionEvent> list) => string.Join(" ", list.Select(e => $"{TcpConnectionEvent.KindName(e.Kind)}:{e.Probes}"));
        string all = string.Join("\n", samples.Select(s => $"sample {s.Number} {s.Started:HH:mm:ss.fff} +{s.Took.TotalMilliseconds:0} ms"))
            + "\n" + string.Join("\n", events.Select(e => $"{e.Time:HH:mm:ss.fff} {e.Cookie} {e.Kind} {e.Probes} {e.Detail}"))
            + $"\nconnected {connected:HH:mm:ss.fff}";

        // Each event happened after the previous sample began and before its own sample ended: the check below holds
        // whatever the machine's load made of the sampling rhythm.
        void AssertAt(TcpConnectionEvent e, (DateTime Earliest, DateTime Latest) expected)
        {
            int i = samples.FindIndex(s => s.Started == e.Time);
            Assert.True(i >= 1, $"{e.Kind} carries no sample's time\n{all}");
            DateTime after = samples[i - 1].Started, before = samples[i].Started + samples[i].Took + TimeSpan.FromMilliseconds(20);
            Assert.True(
                after <= expected.Latest && expected.Earliest <= before,
                $"{e.Kind} {e.Probes} was seen between {after:HH:mm:ss.fff} and {before:HH:mm:ss.fff}, expected between {expected.Earliest:HH:mm:ss.fff} and {expected.Latest:HH:mm:ss.fff}\n{all}");
        }

        static (DateTime, DateTime) At(DateTime moment) => (moment, moment);

        // The deaf peer: one event per probe at 1, 2 and 3 s after the handshake, then the reset at 4 s. (Probe 1 is
        // in the baseline when a loaded machine takes more than 1 s for the first sample.)
        List<TcpConnectionEvent> deaf = events.Where(e => e.RemotePort == LoopbackSockets.PortOf(deafClient)).ToList();
        Assert.Matches("^(probe:1 )?probe:2 probe:3 keepaliveTimeout:3$", Kinds(deaf));
        foreach (TcpConnectionEvent e in deaf)
        {
            AssertAt(e, Due(connected, e.Kind == TcpConnectionEventKind.KeepaliveTimeout ? 4 : e.Probes));
        }

        Assert.StartsWith("ended by keepalive with 3 probes unanswered", deaf[^1].Detail, StringComparison.Ordinal);
        Assert.Equal(TcpState.Established, deaf[^1].State);

        // The peer that hears again: a probe every second until it hears (at 2.5 s, later when a loaded machine ran the
        // scripted actions late), then the first probe after that is answered and the counter goes back to 0. The
        // last unanswered probe is the one due before it heard, or the one before that if the timer wheel had not yet
        // sent it when the filter came off.
        List<TcpConnectionEvent> mute = Of(Cookie(muteServer));
        int heardAfter = (int)Math.Floor((hearsAt - connected).TotalSeconds);
        all += $"\nhears again {hearsAt:HH:mm:ss.fff} ({heardAfter} s after the handshake)";
        Assert.True(heardAfter is >= 2 and <= 4, $"the filter came off {heardAfter} s after the handshake, too late for this test's timings\n{all}");
        int answered = mute.FindIndex(e => e.Kind == TcpConnectionEventKind.Answered);
        Assert.True(answered >= 1, all);
        string unanswered = string.Join(" ", Enumerable.Range(2, heardAfter - 1).Select(k => $"probe:{k}"));
        string lastOneAnswered = string.Join(" ", Enumerable.Range(2, heardAfter - 2).Select(k => $"probe:{k}"));
        Assert.Matches($"^(probe:1 )?({unanswered}|{lastOneAnswered}) ?answered:0$", Kinds(mute.Take(answered + 1)));
        foreach (TcpConnectionEvent e in mute.Take(answered))
        {
            AssertAt(e, Due(connected, e.Probes));
        }

        // Answered once it hears, by the first probe after that: the one due at the next whole second, or the one due
        // just before it if the timer wheel had not fired it yet.
        int nextStep = (int)Math.Floor((hearsAt - connected).TotalSeconds) + 1;
        AssertAt(mute[answered], (hearsAt, Due(connected, nextStep).Latest));
        Assert.Equal($"the peer answered after {mute[answered - 1].Probes} unanswered probes", mute[answered].Detail);

        // Keepalive switched on and off on an idle connection, seen in the samples around the switches.
        List<TcpConnectionEvent> plain = Of(Cookie(plainServer));
        Assert.Equal("keepaliveOn:0 keepaliveOff:0", Kinds(plain));
        AssertAt(plain[0], At(onAt));
        AssertAt(plain[1], At(offAt));

        // A connection made at 0.5 s and closed at 2.5 s: new, then closed.
        List<TcpConnectionEvent> late = Of(lateCookie);
        Assert.Equal("new:0 closed:0", Kinds(late));
        AssertAt(late[0], At(lateAt));
        AssertAt(late[1], At(closedAt));

        // Nothing else: the listener and the set-up's connections are the baseline.
        Assert.Equal(deaf.Count + mute.Count + plain.Count + late.Count, events.Count);
    }

    [RootFact]
    public void IncludeSocketOption_ReadsTheCountOfEachNewConnection_ThroughItsOwner()
    {
        using var sockets = new LoopbackSockets(IPAddress.Loopback);
        (_, Socket server) = sockets.Connect();
        server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        server.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 30);
        server.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 5);
        server.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 4);
        var options = new TcpConnectionWatchOptions
        {
            Query = sockets.QueryFor(server) with { OwningProcesses = [Environment.ProcessId] }, // the owner walk reads this process only
            Duration = TimeSpan.FromSeconds(1),
            IncludeExisting = true,
            IncludeSocketOption = true,
        };

        TcpConnectionEvent found = Assert.Single(TcpConnectionWatch.Run(options));

        Assert.Equal(TcpConnectionEventKind.New, found.Kind);
        Assert.Equal(4, found.ProbeCount);
        Assert.EndsWith("(idle 30 s, interval 5 s, count 4)", found.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Duration_EndsTheWatch_AndCancellationEndsItQuietly()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var bounded = new TcpConnectionWatchOptions { Query = new TcpConnectionQuery { LocalPorts = [1] }, SampleInterval = TimeSpan.FromMilliseconds(200), Duration = TimeSpan.FromSeconds(1) };
        var samples = new List<TcpConnectionWatchSample>();
        Assert.Empty(TcpConnectionWatch.Run(bounded, sampled: samples.Add));
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 5);
        Assert.InRange(samples.Count, 2, 6); // the baseline at 0 and the last at 1 s; between them one every 0.2 s unless a dump takes longer
        Assert.Equal(Enumerable.Range(1, samples.Count), samples.Select(s => s.Number));

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        clock.Restart();
        var endless = bounded with { Duration = null };
        Assert.Empty(TcpConnectionWatch.Run(endless, cancel.Token));
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 5);
    }

    [Theory]
    [InlineData(9, null, "SampleInterval")]
    [InlineData(3_600_001, null, "SampleInterval")]
    [InlineData(1000, 0, "Duration")]
    [InlineData(1000, 2_592_001, "Duration")]
    public void OutOfRangeOptions_AreRefusedBeforeAnythingIsRead(int intervalMs, int? durationSeconds, string parameter)
    {
        var options = new TcpConnectionWatchOptions
        {
            SampleInterval = TimeSpan.FromMilliseconds(intervalMs),
            Duration = durationSeconds is int s ? TimeSpan.FromSeconds(s) : null,
        };

        var error = Assert.Throws<KeepaliveValidationException>(() => TcpConnectionWatch.Run(options));

        Assert.Equal(parameter, error.ParameterName);
        Assert.Equal("WatchInvalidArgument", error.ErrorId);
    }

    [Fact]
    public void TheSamplingQuery_KeepsTheUsersFilters_AndWidensOnlyWhatAFollowedConnectionCanBecome()
    {
        var query = new TcpConnectionQuery
        {
            States = [TcpState.Established], LocalAddresses = ["127.0.0.1"], LocalPorts = [5], RemoteAddresses = ["::1"], RemotePorts = [6], OwningProcesses = [7],
            NoKeepaliveOnly = true, IncludeInfo = true, IncludeProcess = true, NetworkNamespace = "/run/netns/x",
        };

        TcpConnectionQuery sampled = TcpConnectionWatch.SamplingQuery(query);

        Assert.Equal(("127.0.0.1", 5, "::1", 6, 7, "/run/netns/x"), (sampled.LocalAddresses!.Single(), sampled.LocalPorts!.Single(), sampled.RemoteAddresses!.Single(), sampled.RemotePorts!.Single(), sampled.OwningProcesses!.Single(), sampled.NetworkNamespace));
        Assert.False(sampled.NoKeepaliveOnly);
        Assert.False(sampled.IncludeInfo);
        Assert.False(sampled.IncludeProcess);
        Assert.Contains(TcpState.FinWait1, sampled.States!);
        Assert.DoesNotContain(TcpState.Listen, sampled.States!);
    }

    private static void SetKeepalive(Socket socket, int idle, int interval, int count)
    {
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, idle);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, interval);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, count);
    }
}
