using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Sockets;
using PSKeepalive.Core.Watch;
using Xunit;

namespace PSKeepalive.Tests.Watch;

/// <summary>Samples in, events out, without the kernel: what each change of sock_diag's view means.</summary>
public sealed class TrackerTests
{
    private static readonly DateTime T0 = new(2026, 12, 2, 10, 0, 0, DateTimeKind.Local);

    private long _now = 1_000_000;

    private TcpConnectionTracker Tracker(TcpConnectionQuery? query = null, Func<IReadOnlyList<TcpConnection>, IReadOnlyDictionary<ulong, SocketKeepaliveOptions>>? readOptions = null) =>
        new(query ?? new TcpConnectionQuery(), readOptions, () => _now);

    private void Advance(double seconds) => _now += (long)(seconds * Stopwatch.Frequency);

    private static TcpConnection Connection(ulong cookie, TcpState state = TcpState.Established, TcpTimer timer = TcpTimer.Keepalive, double? expires = 60, int probes = 0, int remotePort = 5432) => new()
    {
        AddressFamily = "IPv4",
        LocalAddress = "127.0.0.1",
        LocalPort = 40000 + (int)cookie,
        RemoteAddress = "127.0.0.1",
        RemotePort = remotePort,
        State = state,
        Inode = 1000 + (long)cookie,
        Uid = 0,
        Cookie = cookie,
        Timer = timer,
        TimerExpires = timer == TcpTimer.None || expires is null ? null : TimeSpan.FromSeconds(expires.Value),
        ProbesSent = probes,
        NetworkNamespace = "/run/netns/x",
    };

    private static string Kinds(IEnumerable<TcpConnectionEvent> events) =>
        string.Join(" ", events.Select(e => $"{TcpConnectionEvent.KindName(e.Kind)}:{e.Cookie}/{e.Probes}"));

    [Fact]
    public void TheFirstSample_IsTheBaseline_UnlessExistingConnectionsAreNews()
    {
        var quiet = Tracker();
        Assert.Empty(quiet.Update([Connection(1), Connection(2)], T0, reportNew: false));
        Assert.Equal(2, quiet.Count);

        var news = Tracker();
        Assert.Equal("new:1/0 new:2/0", Kinds(news.Update([Connection(1), Connection(2)], T0)));
    }

    [Fact]
    public void ProbesThenTheReset_AreProbeEventsThenAKeepaliveTimeout()
    {
        // The deaf peer of the 20,000-ghosts story, sampled every 0.5 s with idle 1, interval 1, count 3.
        var tracker = Tracker();
        tracker.Update([Connection(7, expires: 1)], T0, reportNew: false);
        var events = new List<TcpConnectionEvent>();
        foreach ((double at, int probes, double? left) in new (double, int, double?)[] { (0.5, 0, 0.5), (1.0, 1, 0.99), (1.5, 1, 0.49), (2.0, 2, 1.0), (2.5, 2, 0.5), (3.0, 3, 0.99), (3.5, 3, 0.49) })
        {
            Advance(0.5);
            events.AddRange(tracker.Update([Connection(7, expires: left, probes: probes)], T0.AddSeconds(at)));
        }

        Advance(0.5); // the reset went out at 4.0 s: gone from the sample at 4.0 s
        events.AddRange(tracker.Update([], T0.AddSeconds(4.0)));

        Assert.Equal("probe:7/1 probe:7/2 probe:7/3 keepaliveTimeout:7/3", Kinds(events));
        Assert.Equal(new[] { 1.0, 2.0, 3.0, 4.0 }, events.Select(e => (e.Time - T0).TotalSeconds));
        Assert.Equal("keepalive probe 2 unanswered", events[1].Detail);
        TcpConnectionEvent timeout = events[^1];
        Assert.Equal(TcpState.Established, timeout.State); // the last state seen
        Assert.StartsWith("ended by keepalive with 3 probes unanswered", timeout.Detail);
        Assert.Equal("/run/netns/x", timeout.NetworkNamespace);
        Assert.Equal(0, tracker.Count);
    }

    [Fact]
    public void ACloseBeforeTheKeepaliveTimerWasDue_IsAClose()
    {
        var tracker = Tracker();
        tracker.Update([Connection(7, expires: 1, probes: 1)], T0, reportNew: false);
        Advance(0.5);

        Assert.Equal("closed:7/1", Kinds(tracker.Update([], T0.AddSeconds(0.5))));
    }

    [Fact]
    public void AVanishWithoutUnansweredProbes_IsAClose()
    {
        var tracker = Tracker();
        tracker.Update([Connection(7, expires: 0.1)], T0, reportNew: false);
        Advance(1);

        var closed = tracker.Update([], T0.AddSeconds(1)).Single();
        Assert.Equal(TcpConnectionEventKind.Closed, closed.Kind);
        Assert.Equal("closed: gone from sock_diag", closed.Detail);
    }

    [Fact]
    public void ProbesSkippedBetweenSamples_AreEachReported_InOrder()
    {
        var tracker = Tracker();
        tracker.Update([Connection(7)], T0, reportNew: false);
        Advance(5);

        Assert.Equal("probe:7/1 probe:7/2 probe:7/3", Kinds(tracker.Update([Connection(7, expires: 1, probes: 3)], T0)));
    }

    [Fact]
    public void AnAnswer_ResetsTheCounter_AndLaterProbesCountFromOne()
    {
        var tracker = Tracker();
        tracker.Update([Connection(7, probes: 2)], T0, reportNew: false);

        TcpConnectionEvent answered = tracker.Update([Connection(7, probes: 0)], T0).Single();
        Assert.Equal(TcpConnectionEventKind.Answered, answered.Kind);
        Assert.Equal(0, answered.Probes);
        Assert.Equal("the peer answered after 2 unanswered probes", answered.Detail);

        // Answered and probed again within one sample interval.
        tracker.Update([Connection(7, probes: 2)], T0);
        Assert.Equal("answered:7/0 probe:7/1", Kinds(tracker.Update([Connection(7, probes: 1)], T0)));
    }

    [Fact]
    public void DataInFlight_HidesTheCounter_WithoutAFalseAnswer()
    {
        var tracker = Tracker();
        tracker.Update([Connection(7, probes: 1)], T0, reportNew: false);

        // The retransmission timer shows retransmits, not probes; keepalive is neither on nor off as far as sock_diag tells.
        Assert.Empty(tracker.Update([Connection(7, timer: TcpTimer.Retransmit, expires: 0.2, probes: 0)], T0));
        Assert.Equal("probe:7/2", Kinds(tracker.Update([Connection(7, probes: 2)], T0)));
    }

    [Fact]
    public void KeepaliveSwitchedOnAndOff_FollowTheTimerOfAnIdleConnection()
    {
        var tracker = Tracker();
        tracker.Update([Connection(7, timer: TcpTimer.None)], T0, reportNew: false);

        TcpConnectionEvent on = tracker.Update([Connection(7, expires: 30)], T0).Single();
        Assert.Equal(TcpConnectionEventKind.KeepaliveOn, on.Kind);
        Assert.Equal(TimeSpan.FromSeconds(30), on.TimerExpires);
        Assert.Equal("keepalive switched on, keepalive timer 30s, 0 probes unanswered", on.Detail);

        Assert.Empty(tracker.Update([Connection(7, timer: TcpTimer.Retransmit, expires: 0.2)], T0)); // data in flight: unknown
        Assert.Equal("keepaliveOff:7/0", Kinds(tracker.Update([Connection(7, timer: TcpTimer.None)], T0)));
    }

    [Fact]
    public void ClosingStates_AreOneClose_AndTheLaterVanishIsSilent()
    {
        var tracker = Tracker();
        tracker.Update([Connection(7)], T0, reportNew: false);

        TcpConnectionEvent closing = tracker.Update([Connection(7, TcpState.FinWait1, TcpTimer.Retransmit, 0.2)], T0).Single();
        Assert.Equal(TcpConnectionEventKind.Closed, closing.Kind);
        Assert.Equal(TcpState.FinWait1, closing.State);
        Assert.Equal("closing (fin-wait-1)", closing.Detail);

        Assert.Empty(tracker.Update([Connection(7, TcpState.FinWait2, TcpTimer.Keepalive, 50)], T0));
        Assert.Empty(tracker.Update([], T0));
        Assert.Equal(0, tracker.Count);
    }

    [Fact]
    public void AResetSocketStillListedAsClosed_IsJudgedLikeOneThatVanished()
    {
        var tracker = Tracker();
        tracker.Update([Connection(7, expires: 0.5, probes: 3)], T0, reportNew: false);
        Advance(1);

        TcpConnectionEvent end = tracker.Update([Connection(7, TcpState.Closed, TcpTimer.None)], T0).Single();
        Assert.Equal(TcpConnectionEventKind.KeepaliveTimeout, end.Kind);
        Assert.Equal(TcpState.Closed, end.State);
        Assert.Empty(tracker.Update([], T0));
    }

    [Fact]
    public void AConnectionBornAndClosingBetweenSamples_IsNewThenClosed()
    {
        var tracker = Tracker();
        tracker.Update([], T0, reportNew: false);

        Assert.Equal("new:7/0 closed:7/0", Kinds(tracker.Update([Connection(7, TcpState.FinWait2, TcpTimer.None)], T0)));
    }

    [Fact]
    public void TheStateFilter_ChoosesWhenFirstSeen_ThenTheConnectionIsFollowedToItsEnd()
    {
        var tracker = Tracker(new TcpConnectionQuery { States = [TcpState.Established] });
        tracker.Update([], T0, reportNew: false);

        Assert.Empty(tracker.Update([Connection(1, TcpState.CloseWait)], T0)); // not established when first seen
        Assert.Equal("new:2/0", Kinds(tracker.Update([Connection(1, TcpState.CloseWait), Connection(2)], T0)));
        Assert.Equal("closed:2/0", Kinds(tracker.Update([Connection(1, TcpState.CloseWait), Connection(2, TcpState.LastAck, TcpTimer.Retransmit, 0.2)], T0)));
    }

    [Fact]
    public void TheNoKeepaliveFilter_ChoosesGhosts_AndFollowsThemWhenKeepaliveIsSwitchedOn()
    {
        var tracker = Tracker(new TcpConnectionQuery { NoKeepaliveOnly = true });
        tracker.Update([Connection(1, timer: TcpTimer.None), Connection(2)], T0, reportNew: false);
        Assert.Equal(1, tracker.Count);

        // Enable-TcpKeepalive: the ghost gets a timer and stays followed; the connection that had keepalive stays out.
        Assert.Equal("keepaliveOn:1/0", Kinds(tracker.Update([Connection(1, expires: 3), Connection(2)], T0)));
        Assert.Equal("probe:1/1", Kinds(tracker.Update([Connection(1, expires: 1, probes: 1), Connection(2, probes: 1)], T0)));
    }

    [Fact]
    public void ARepeatWithinOneSample_IsIgnored()
    {
        var tracker = Tracker();
        tracker.Update([Connection(7)], T0, reportNew: false);

        Assert.Equal("probe:7/1", Kinds(tracker.Update([Connection(7, probes: 1), Connection(7, probes: 1)], T0)));
    }

    [Fact]
    public void SocketOptions_ReadForNewConnections_GiveProbeNOfCount()
    {
        var asked = new List<ulong>();
        var tracker = Tracker(readOptions: connections =>
        {
            asked.AddRange(connections.Select(c => c.Cookie));
            return connections.ToDictionary(c => c.Cookie, _ => new SocketKeepaliveOptions(true, 1, 1, 3, 0));
        });
        tracker.Update([Connection(7, timer: TcpTimer.None)], T0, reportNew: false);
        TcpConnectionEvent on = tracker.Update([Connection(7, expires: 1)], T0).Single();
        TcpConnectionEvent probe = tracker.Update([Connection(7, expires: 1, probes: 2)], T0)[1];

        Assert.Equal(new ulong[] { 7, 7 }, asked); // when first seen, and again when keepalive was switched on
        Assert.Equal(3, on.ProbeCount);
        Assert.EndsWith("(idle 1 s, interval 1 s, count 3)", on.Detail);
        Assert.Equal("keepalive probe 2 of 3 unanswered", probe.Detail);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData(new[] { TcpState.Listen }, null)]
    [InlineData(new[] { TcpState.Established }, new[] { TcpState.Established, TcpState.FinWait1, TcpState.FinWait2, TcpState.Closed, TcpState.CloseWait, TcpState.LastAck, TcpState.Closing })]
    public void TheSamplingDump_CoversWhereAFollowedConnectionCanGo(TcpState[]? asked, TcpState[]? sampled)
    {
        var states = TcpConnectionTracker.SampledStates(new TcpConnectionQuery { States = asked });

        if (asked is null)
        {
            Assert.Null(states);
            return;
        }

        Assert.Contains(asked[0], states!);
        Assert.DoesNotContain(TcpState.TimeWait, states!);
        if (sampled is not null)
        {
            Assert.Equal(sampled.OrderBy(s => s), states!.OrderBy(s => s));
        }
    }

    [Fact]
    public void AVanishedConnection_IsReportedAsTheLastSampleShowedIt()
    {
        var tracker = Tracker();
        tracker.Update([Connection(7)], T0, reportNew: false);
        Advance(1);
        Assert.Empty(tracker.Update([Connection(7, state: TcpState.CloseWait, expires: 30) with { Inode = 0 }], T0.AddSeconds(1)));
        Advance(1);

        TcpConnectionEvent gone = tracker.Update([], T0.AddSeconds(2)).Single();
        Assert.Equal((TcpState.CloseWait, TcpTimer.Keepalive, 30.0, 0L), (gone.State, gone.Timer, gone.TimerExpires!.Value.TotalSeconds, gone.Inode));
        Assert.Equal((40007, 5432, "/run/netns/x"), (gone.LocalPort, gone.RemotePort, gone.NetworkNamespace));
    }

    [Fact]
    public void FollowedConnections_DoNotHoldOnToEachSamplesObjects()
    {
        // A watch follows every connection on the host for hours: if the map kept each sample's objects, every
        // sample's 100k objects would be promoted to the oldest generation (measured: +125 ms of CPU per sample).
        var tracker = Tracker();
        tracker.Update(Enumerable.Range(1, 100).Select(i => Connection((ulong)i)), T0, reportNew: false);
        WeakReference[] second = SampleAndForget(tracker);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.Equal(100, tracker.Count);
        Assert.Equal(0, second.Count(w => w.IsAlive));
    }

    // Not inlined, so that no local of the caller's frame keeps a sample's connection alive.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private WeakReference[] SampleAndForget(TcpConnectionTracker tracker)
    {
        Advance(1);
        TcpConnection[] sample = Enumerable.Range(1, 100).Select(i => Connection((ulong)i, expires: 59)).ToArray();
        Assert.Empty(tracker.Update(sample, T0.AddSeconds(1)));
        return sample.Select(c => new WeakReference(c)).ToArray();
    }
}
