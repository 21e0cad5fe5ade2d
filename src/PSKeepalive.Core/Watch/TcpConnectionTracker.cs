using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Core.Watch;

/// <summary>
/// Turns successive samples of sock_diag (lists of <see cref="TcpConnection"/>) into events, following each
/// connection by its socket cookie. What sock_diag shows and what it means:
/// <list type="bullet">
/// <item>the keepalive timer's idiag_retrans is icsk_probes_out: it rises by one per unanswered probe and drops to 0
/// when any ACK arrives (tcp_ack), so a rise is a probe and a drop an answer;</item>
/// <item>an ESTABLISHED idle socket has its keepalive timer armed if and only if SO_KEEPALIVE is on
/// (<see cref="TcpConnection.NoKeepalive"/>), so a timer appearing or going away is keepalive switched on or off;</item>
/// <item>a reset by keepalive unhashes the socket at once (tcp_done), so it vanishes from the next sample. Nothing in
/// sock_diag says why a socket vanished (the SKNLGRP_INET_TCP_DESTROY multicast reports destruction, which waits for
/// the owner's close(), and carries no reason either), so the reason is inferred: a connection that vanishes after
/// its keepalive timer was due while probes were unanswered was ended by keepalive; any other end is a close.</item>
/// </list>
/// Which connections are followed is decided when they first appear (the filter's state and -NoKeepalive select
/// them then); a followed connection is followed to its end whatever its state or timer become.
/// </summary>
internal sealed class TcpConnectionTracker
{
    /// <summary>Slack on "the timer was due": the kernel reports the time left in whole milliseconds counted in jiffies.</summary>
    internal static readonly TimeSpan DueSlack = TimeSpan.FromMilliseconds(20);

    /// <summary>States in which a connection is closing or closed from its owner's point of view.</summary>
    private const uint ClosingStates =
        (1u << (int)TcpState.FinWait1) | (1u << (int)TcpState.FinWait2) | (1u << (int)TcpState.Closing) |
        (1u << (int)TcpState.LastAck) | (1u << (int)TcpState.TimeWait) | (1u << (int)TcpState.Closed);

    private readonly Dictionary<ulong, Tracked> _tracked = new();
    private readonly List<Pending> _pending = new();
    private readonly List<Tracked> _needOptions = new();
    private readonly uint _admittedStates;
    private readonly bool _noKeepaliveOnly;
    private readonly Func<long> _clock;
    private readonly Func<IReadOnlyList<TcpConnection>, IReadOnlyDictionary<ulong, SocketKeepaliveOptions>>? _readOptions;
    private long _generation;

    /// <param name="query">The user's filter: its states and NoKeepaliveOnly decide which new connections are followed.</param>
    /// <param name="readOptions">Reads the keepalive options of the given connections (by cookie) when asked for; null not to read them.</param>
    /// <param name="clock">Stopwatch timestamps (tests give their own).</param>
    public TcpConnectionTracker(
        TcpConnectionQuery query,
        Func<IReadOnlyList<TcpConnection>, IReadOnlyDictionary<ulong, SocketKeepaliveOptions>>? readOptions = null,
        Func<long>? clock = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        _admittedStates = query.StateMask;
        _noKeepaliveOnly = query.NoKeepaliveOnly;
        _readOptions = readOptions;
        _clock = clock ?? Stopwatch.GetTimestamp;
    }

    /// <summary>Connections followed now.</summary>
    public int Count => _tracked.Count;

    /// <summary>
    /// The states the sampling dump must cover: the user's, plus those a followed connection can move to while it
    /// closes (so that its end is seen as it happens). TIME_WAIT is left out (a busy host has many): a connection
    /// that reaches it between two samples simply vanishes, which is a close either way.
    /// </summary>
    public static IReadOnlyCollection<TcpState>? SampledStates(TcpConnectionQuery query)
    {
        if (query.States is null || query.States.Count == 0)
        {
            return null;
        }

        var states = new HashSet<TcpState>(query.States)
        {
            TcpState.CloseWait, TcpState.FinWait1, TcpState.FinWait2, TcpState.Closing, TcpState.LastAck, TcpState.Closed,
        };
        return states;
    }

    /// <summary>
    /// Takes one sample: every connection sock_diag listed now (through the filter's addresses, ports and process).
    /// Returns the events since the previous sample, in the order they happened as far as one sample can tell.
    /// </summary>
    /// <param name="connections">The sample (streamed: it is read once, here).</param>
    /// <param name="time">When the sample began (events carry it).</param>
    /// <param name="reportNew">False for a first sample whose connections are not news (the watch began with them).</param>
    public List<TcpConnectionEvent> Update(IEnumerable<TcpConnection> connections, DateTime time, bool reportNew = true)
    {
        _generation++;
        long started = _clock();
        _pending.Clear();
        _needOptions.Clear();
        foreach (TcpConnection connection in connections)
        {
            if (_tracked.TryGetValue(connection.Cookie, out Tracked? tracked))
            {
                if (tracked.Generation != _generation)
                {
                    Compare(tracked, connection, started);
                }

                continue; // a repeat within one sample: an interrupted dump was read again
            }

            if (Admits(connection))
            {
                Admit(connection, started, reportNew);
            }
        }

        long ended = _clock();
        List<ulong>? gone = null;
        foreach (Tracked tracked in _tracked.Values)
        {
            if (tracked.Generation != _generation)
            {
                Vanished(tracked, ended);
                (gone ??= new List<ulong>()).Add(tracked.Cookie);
            }
        }

        if (gone is not null)
        {
            foreach (ulong cookie in gone)
            {
                _tracked.Remove(cookie);
            }
        }

        ReadOptions();
        var events = new List<TcpConnectionEvent>(_pending.Count);
        foreach (Pending pending in _pending)
        {
            events.Add(Build(pending, time));
        }

        return events;
    }

    private bool Admits(TcpConnection connection) =>
        (_admittedStates & (1u << (int)connection.State)) != 0 && (!_noKeepaliveOnly || connection.NoKeepalive == true);

    private void Admit(TcpConnection connection, long started, bool report)
    {
        var tracked = new Tracked(connection, started)
        {
            Generation = _generation,
            Keepalive = KeepaliveOf(connection),
            Probes = connection.Timer == TcpTimer.Keepalive ? connection.ProbesSent : 0,
        };
        _tracked.Add(connection.Cookie, tracked);
        if (_readOptions is not null)
        {
            _needOptions.Add(tracked);
        }

        if (report)
        {
            Add(tracked, connection, TcpConnectionEventKind.New, tracked.Probes);
        }

        if (report && IsClosing(connection.State))
        {
            tracked.ClosedReported = true; // born and closing between two samples
            Add(tracked, connection, TcpConnectionEventKind.Closed, tracked.Probes);
        }
    }

    private void Compare(Tracked tracked, TcpConnection now, long started)
    {
        TcpState before = tracked.State;
        tracked.Generation = _generation;
        if (tracked.ClosedReported)
        {
            tracked.Remember(now, started);
            return;
        }

        if (now.State == TcpState.Closed)
        {
            // Still listed, unhashed but bound (kernels from 6.3 list such sockets): ended as if it vanished.
            Ended(tracked, now, _clock());
            tracked.Remember(now, started);
            return;
        }

        if (KeepaliveOf(now) is bool keepalive)
        {
            if (tracked.Keepalive is bool was && was != keepalive)
            {
                Add(tracked, now, keepalive ? TcpConnectionEventKind.KeepaliveOn : TcpConnectionEventKind.KeepaliveOff, keepalive ? now.ProbesSent : 0);
                if (keepalive && _readOptions is not null)
                {
                    _needOptions.Add(tracked); // Enable-TcpKeepalive sets the values with the switch: read them again
                }

                if (!keepalive)
                {
                    tracked.Probes = 0;
                }
            }

            tracked.Keepalive = keepalive;
        }

        if (now.Timer == TcpTimer.Keepalive)
        {
            int probes = now.ProbesSent;
            if (probes < tracked.Probes)
            {
                tracked.AnsweredAfter = tracked.Probes;
                Add(tracked, now, TcpConnectionEventKind.Answered, 0);
                tracked.Probes = 0;
            }

            for (int n = tracked.Probes + 1; n <= probes; n++)
            {
                Add(tracked, now, TcpConnectionEventKind.Probe, n);
            }

            tracked.Probes = probes;
        }

        if (IsClosing(now.State) && !IsClosing(before))
        {
            tracked.ClosedReported = true;
            Add(tracked, now, TcpConnectionEventKind.Closed, tracked.Probes);
        }

        tracked.Remember(now, started);
    }

    private void Vanished(Tracked tracked, long ended)
    {
        if (!tracked.ClosedReported)
        {
            Ended(tracked, tracked.LastShown(), ended);
        }
    }

    /// <summary>The end of a followed connection: by keepalive when its keepalive timer was due with probes unanswered.</summary>
    private void Ended(Tracked tracked, TcpConnection shown, long seen)
    {
        tracked.ClosedReported = true;
        if (tracked.Timer == TcpTimer.Keepalive && tracked.Probes >= 1 && tracked.TimerExpires is TimeSpan left)
        {
            TimeSpan sinceDue = Stopwatch.GetElapsedTime(tracked.Stamp, seen) - left;
            if (sinceDue >= -DueSlack)
            {
                tracked.DueFor = sinceDue < TimeSpan.Zero ? TimeSpan.Zero : sinceDue;
                Add(tracked, shown, TcpConnectionEventKind.KeepaliveTimeout, tracked.Probes);
                return;
            }
        }

        Add(tracked, shown, TcpConnectionEventKind.Closed, tracked.Probes);
    }

    private void Add(Tracked tracked, TcpConnection connection, TcpConnectionEventKind kind, int probes) =>
        _pending.Add(new Pending(tracked, connection, kind, probes));

    private void ReadOptions()
    {
        if (_readOptions is null || _needOptions.Count == 0)
        {
            return;
        }

        var connections = new List<TcpConnection>(_needOptions.Count);
        foreach (Tracked tracked in _needOptions)
        {
            connections.Add(tracked.LastShown());
        }

        IReadOnlyDictionary<ulong, SocketKeepaliveOptions> found = _readOptions(connections);
        foreach (Tracked tracked in _needOptions)
        {
            if (found.TryGetValue(tracked.Cookie, out SocketKeepaliveOptions? options))
            {
                tracked.Options = options;
            }
        }
    }

    private static TcpConnectionEvent Build(Pending pending, DateTime time)
    {
        TcpConnection c = pending.Connection;
        Tracked tracked = pending.Tracked;
        int? count = tracked.Options?.ProbeCount;
        return new TcpConnectionEvent
        {
            Time = time,
            Kind = pending.Kind,
            Probes = pending.Probes,
            ProbeCount = count,
            State = c.State,
            Timer = c.Timer,
            TimerExpires = c.TimerExpires,
            AddressFamily = c.AddressFamily,
            LocalAddress = c.LocalAddress,
            LocalPort = c.LocalPort,
            RemoteAddress = c.RemoteAddress,
            RemotePort = c.RemotePort,
            Cookie = c.Cookie,
            Inode = c.Inode,
            InterfaceIndex = c.InterfaceIndex,
            NetworkNamespace = c.NetworkNamespace,
            Detail = Detail(pending, tracked, count),
        };
    }

    private static string Detail(Pending pending, Tracked tracked, int? count)
    {
        TcpConnection c = pending.Connection;
        string of = count is int n ? $" of {n}" : string.Empty;
        string probes = pending.Probes == 1 && count is null ? "1 probe" : $"{pending.Probes}{of} probes";
        SocketKeepaliveOptions? options = tracked.Options;
        string values = options is { Enabled: true }
            ? string.Create(CultureInfo.InvariantCulture, $" (idle {options.Idle} s, interval {options.Interval} s, count {options.ProbeCount})")
            : string.Empty;
        return pending.Kind switch
        {
            TcpConnectionEventKind.New => $"new {TcpStateNames.ToName(c.State)} connection, {KeepaliveText(c)}{values}",
            TcpConnectionEventKind.Probe => $"keepalive probe {pending.Probes}{of} unanswered",
            TcpConnectionEventKind.Answered => $"the peer answered after {tracked.AnsweredAfter}{of} unanswered {(tracked.AnsweredAfter == 1 ? "probe" : "probes")}",
            TcpConnectionEventKind.KeepaliveOn => $"keepalive switched on, {KeepaliveText(c)}{values}",
            TcpConnectionEventKind.KeepaliveOff => "keepalive switched off",
            TcpConnectionEventKind.KeepaliveTimeout =>
                $"ended by keepalive with {probes} unanswered: gone {TcpConnectionText.Duration(tracked.DueFor)} after its keepalive timer was due",
            _ when c.State == TcpState.Closed || !IsClosing(c.State) => "closed: gone from sock_diag",
            _ => $"closing ({TcpStateNames.ToName(c.State)})",
        };
    }

    private static string KeepaliveText(TcpConnection c) => c.Timer switch
    {
        TcpTimer.Keepalive => $"keepalive timer {TcpConnectionText.Duration(c.TimerExpires)}, {c.ProbesSent} {(c.ProbesSent == 1 ? "probe" : "probes")} unanswered",
        _ when c.NoKeepalive == true => "no keepalive",
        TcpTimer.None => "no timer",
        _ => $"{TcpConnectionText.TimerName(c.Timer)} timer {TcpConnectionText.Duration(c.TimerExpires)}",
    };

    /// <summary>On (true), off (false) or unknown (null: another timer hides it, or the state has no keepalive).</summary>
    private static bool? KeepaliveOf(TcpConnection connection) => connection.NoKeepalive is bool off ? !off : null;

    private static bool IsClosing(TcpState state) => (ClosingStates & (1u << (int)state)) != 0;

    /// <summary>
    /// A followed connection. It keeps the first <see cref="TcpConnection"/> it was seen as (addresses, ports, cookie:
    /// what never changes) and copies what a sample can change into plain fields, instead of holding on to each
    /// sample's object: a long-lived map that points at young objects every sample makes the garbage collector
    /// promote them all (measured: 100k followed connections, 1 MiB gen0 budget, +125 ms of CPU per sample).
    /// </summary>
    private sealed class Tracked
    {
        private readonly TcpConnection _first;

        public Tracked(TcpConnection first, long stamp)
        {
            _first = first;
            Remember(first, stamp);
        }

        public ulong Cookie => _first.Cookie;

        /// <summary>What the latest sample showed.</summary>
        public TcpState State { get; private set; }

        public TcpTimer Timer { get; private set; }

        public TimeSpan? TimerExpires { get; private set; }

        public int ProbesSent { get; private set; }

        public long Inode { get; private set; }

        public long Generation { get; set; }

        /// <summary>Stopwatch timestamp of the sample that showed these values (its start).</summary>
        public long Stamp { get; private set; }

        public bool? Keepalive { get; set; }

        public int Probes { get; set; }

        public int AnsweredAfter { get; set; }

        public bool ClosedReported { get; set; }

        public TimeSpan DueFor { get; set; }

        public SocketKeepaliveOptions? Options { get; set; }

        public void Remember(TcpConnection shown, long stamp)
        {
            State = shown.State;
            Timer = shown.Timer;
            TimerExpires = shown.TimerExpires;
            ProbesSent = shown.ProbesSent;
            Inode = shown.Inode;
            Stamp = stamp;
        }

        /// <summary>The connection as the latest sample showed it (built on demand: a vanished connection's event, an owner lookup).</summary>
        public TcpConnection LastShown() => _first with { State = State, Timer = Timer, TimerExpires = TimerExpires, ProbesSent = ProbesSent, Inode = Inode };
    }

    /// <summary>An event found during the sample, built at its end (when the socket options read for it are known).</summary>
    private readonly record struct Pending(Tracked Tracked, TcpConnection Connection, TcpConnectionEventKind Kind, int Probes);
}
