using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Processes;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Core.Watch;

/// <summary>What <see cref="TcpConnectionWatch.Run"/> watches, how often and how long.</summary>
public sealed record TcpConnectionWatchOptions
{
    public const int MinSampleIntervalMilliseconds = 10;
    public const int MaxSampleIntervalMilliseconds = 3_600_000;
    public const int DefaultSampleIntervalMilliseconds = 1000;

    /// <summary>The longest duration accepted, seconds (30 days); without a duration the watch runs until stopped.</summary>
    public const int MaxDurationSeconds = 2_592_000;

    /// <summary>
    /// The connections to watch, chosen exactly as Get-TcpConnection / `connections` choose them (the same
    /// <see cref="TcpConnectionQuery"/> and filter). States and NoKeepaliveOnly choose a connection when it first
    /// appears; it is then followed to its end. Include* options of the query are not used (see <see cref="IncludeSocketOption"/>).
    /// </summary>
    public TcpConnectionQuery Query { get; init; } = new();

    /// <summary>Time between the starts of two samples (default 1 s); each sample is one sock_diag dump.</summary>
    public TimeSpan SampleInterval { get; init; } = TimeSpan.FromMilliseconds(DefaultSampleIntervalMilliseconds);

    /// <summary>Stop after this long; null watches until cancelled.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Report the connections present at the start as <see cref="TcpConnectionEventKind.New"/> too.</summary>
    public bool IncludeExisting { get; init; }

    /// <summary>
    /// Read TCP_KEEPCNT (and the other values) of each new connection, and again when keepalive is switched on, from
    /// the socket through an owner (pidfd_getfd; root or CAP_SYS_PTRACE): events then say "probe n of CNT". Costs one
    /// /proc owner walk per sample that has new connections.
    /// </summary>
    public bool IncludeSocketOption { get; init; }

    /// <summary>Checks the ranges and the query; throws <see cref="KeepaliveValidationException"/> naming the parameter.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Query);
        Query.Validate();
        if (SampleInterval < TimeSpan.FromMilliseconds(MinSampleIntervalMilliseconds) || SampleInterval > TimeSpan.FromMilliseconds(MaxSampleIntervalMilliseconds))
        {
            throw new KeepaliveValidationException(
                TcpConnectionWatch.Subject,
                nameof(SampleInterval),
                $"SampleInterval must be between {MinSampleIntervalMilliseconds} and {MaxSampleIntervalMilliseconds} milliseconds; "
                    + $"{SampleInterval.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)} is outside that range.",
                SampleInterval);
        }

        if (Duration is TimeSpan duration && (duration <= TimeSpan.Zero || duration > TimeSpan.FromSeconds(MaxDurationSeconds)))
        {
            throw new KeepaliveValidationException(
                TcpConnectionWatch.Subject,
                nameof(Duration),
                $"Duration must be more than 0 and at most {MaxDurationSeconds} seconds (30 days); {duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} is outside that range.",
                duration);
        }
    }
}

/// <summary>What one sample of a watch cost and found (for -Verbose/-Debug and the benchmark).</summary>
/// <param name="Number">1 for the first sample (the baseline).</param>
/// <param name="Started">When it began: the Time of its events. An event happened after the previous sample's start and before this one's end (Started + Took).</param>
/// <param name="Listed">Connections the dump listed through the filter.</param>
/// <param name="Followed">Connections followed after the sample.</param>
/// <param name="Events">Events the sample produced.</param>
/// <param name="Took">Time the sample took (dump, decode and comparison).</param>
public sealed record TcpConnectionWatchSample(int Number, DateTime Started, int Listed, int Followed, int Events, TimeSpan Took);

/// <summary>
/// Watches TCP connections by sampling sock_diag at an interval (through <see cref="TcpConnections.Enumerate"/>, the
/// same filter and enumeration as Get-TcpConnection) and comparing each sample with the previous one
/// (<see cref="TcpConnectionTracker"/>): new connections, keepalive probes sent and answered, keepalive switched on
/// and off, ends by keepalive and other closes. Events are streamed as each sample finds them.
/// </summary>
public static class TcpConnectionWatch
{
    internal const string Subject = "Watch";

    /// <summary>
    /// Streams the events of the watch until <see cref="TcpConnectionWatchOptions.Duration"/> has passed or
    /// <paramref name="cancellationToken"/> is cancelled (then it ends quietly, without an exception). The first
    /// sample is taken at once (the baseline), then one every SampleInterval. Enumerate it on one thread; stopping
    /// the enumeration early (Select-Object -First 5) ends the watch.
    /// </summary>
    /// <param name="options">What to watch; validated before anything is read.</param>
    /// <param name="cancellationToken">Ends the watch (Ctrl+C, StopProcessing).</param>
    /// <param name="sampled">Called after each sample's events were taken, on the enumerating thread, with what it cost and found.</param>
    public static IEnumerable<TcpConnectionEvent> Run(TcpConnectionWatchOptions options, CancellationToken cancellationToken = default, Action<TcpConnectionWatchSample>? sampled = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return Iterate(options, cancellationToken, sampled);
    }

    /// <summary>The query each sample runs: the user's addresses, ports, process and namespace; the states a followed connection can reach.</summary>
    public static TcpConnectionQuery SamplingQuery(TcpConnectionQuery query) => query with
    {
        States = TcpConnectionTracker.SampledStates(query),
        NoKeepaliveOnly = false,
        IncludeSocketOption = false,
        IncludeProcess = false,
        IncludeInfo = false,
    };

    /// <summary>"every 1000 ms, state established, remote port 5432, in /run/netns/x": what is sampled, for -Verbose.</summary>
    public static string Describe(TcpConnectionWatchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        TcpConnectionQuery q = options.Query;
        var text = new StringBuilder("sock_diag every ");
        text.Append(options.SampleInterval.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)).Append(" ms");
        text.Append(options.Duration is TimeSpan d ? $" for {d.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s" : " until stopped");
        text.Append(" in ").Append(q.NetworkNamespace ?? "this network namespace").Append(", connections with ");
        var filters = new List<string>();
        if (q.States is { Count: > 0 })
        {
            filters.Add("state " + string.Join("/", q.States.Select(TcpStateNames.ToName)) + " when first seen");
        }

        if (q.LocalAddresses is { Count: > 0 } localAddresses)
        {
            filters.Add($"local address {string.Join("/", localAddresses)}");
        }

        if (q.LocalPorts is { Count: > 0 } localPorts)
        {
            filters.Add($"local port {string.Join("/", localPorts)}");
        }

        if (q.RemoteAddresses is { Count: > 0 } remoteAddresses)
        {
            filters.Add($"remote address {string.Join("/", remoteAddresses)}");
        }

        if (q.RemotePorts is { Count: > 0 } remotePorts)
        {
            filters.Add($"remote port {string.Join("/", remotePorts)}");
        }

        if (q.OwningProcesses is { Count: > 0 } pids)
        {
            filters.Add($"process {string.Join("/", pids)}");
        }

        if (q.NoKeepaliveOnly)
        {
            filters.Add("no keepalive when first seen");
        }

        text.Append(filters.Count == 0 ? "any address, port and state" : string.Join(", ", filters));
        if (options.IncludeSocketOption)
        {
            text.Append("; keepalive options read from new sockets through their owners");
        }

        return text.ToString();
    }

    private static IEnumerable<TcpConnectionEvent> Iterate(TcpConnectionWatchOptions options, CancellationToken cancellationToken, Action<TcpConnectionWatchSample>? sampled)
    {
        TcpConnectionQuery query = SamplingQuery(options.Query);
        IReadOnlyCollection<int>? pids = options.Query.OwningProcesses;
        var tracker = new TcpConnectionTracker(options.Query, options.IncludeSocketOption ? connections => ReadOptions(connections, pids) : null);
        var clock = Stopwatch.StartNew();
        TimeSpan end = options.Duration ?? TimeSpan.MaxValue;
        TimeSpan nextStart = TimeSpan.Zero;
        for (int number = 1; ; number++)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                yield break;
            }

            long started = Stopwatch.GetTimestamp();
            DateTime time = DateTime.Now;
            int listed = 0;
            List<TcpConnectionEvent> events = tracker.Update(Counted(TcpConnections.Enumerate(query), () => listed++), time, options.IncludeExisting || number > 1);
            var sample = new TcpConnectionWatchSample(number, time, listed, tracker.Count, events.Count, Stopwatch.GetElapsedTime(started));
            foreach (TcpConnectionEvent e in events)
            {
                yield return e;
            }

            sampled?.Invoke(sample); // after the sample's events: the CLI flushes its output here

            if (clock.Elapsed >= end)
            {
                yield break;
            }

            // Samples keep their rhythm (start to start); a sample slower than the interval is followed at once.
            nextStart += options.SampleInterval;
            TimeSpan wait = (nextStart < end ? nextStart : end) - clock.Elapsed;
            if (wait > TimeSpan.Zero && Wait(wait, cancellationToken))
            {
                yield break;
            }

            if (nextStart < clock.Elapsed - options.SampleInterval)
            {
                nextStart = clock.Elapsed; // fell behind (a stalled machine): do not rush to catch up
            }
        }
    }

    /// <summary>Sleeps, or returns true as soon as the watch is cancelled.</summary>
    private static bool Wait(TimeSpan wait, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            Thread.Sleep(wait);
            return false;
        }

        return cancellationToken.WaitHandle.WaitOne(wait);
    }

    private static IEnumerable<TcpConnection> Counted(IEnumerable<TcpConnection> connections, Action counted)
    {
        foreach (TcpConnection connection in connections)
        {
            counted();
            yield return connection;
        }
    }

    /// <summary>The keepalive options of <paramref name="connections"/> through their owners (one owner walk), by cookie; unreadable ones are left out.</summary>
    private static IReadOnlyDictionary<ulong, SocketKeepaliveOptions> ReadOptions(IReadOnlyList<TcpConnection> connections, IReadOnlyCollection<int>? pids)
    {
        SocketOwnerMap owners = SocketOwnerScan.Scan(pids);
        var found = new Dictionary<ulong, SocketKeepaliveOptions>();
        IEnumerable<TcpConnection> owned = connections
            .Where(c => c.Inode > 0)
            .Select(c => c with { Processes = owners.Processes((ulong)c.Inode) });
        foreach (TcpConnection c in ConnectionSocketOptions.Fill(owned))
        {
            if (c.KeepaliveEnabled is bool enabled && c.Idle is int idle && c.Interval is int interval && c.ProbeCount is int count && c.UserTimeout is int userTimeout)
            {
                found[c.Cookie] = new SocketKeepaliveOptions(enabled, idle, interval, count, userTimeout);
            }
        }

        return found;
    }
}
