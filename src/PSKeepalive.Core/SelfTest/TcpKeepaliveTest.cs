using System;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Namespaces;
using PSKeepalive.Core.Settings;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Core.SelfTest;

/// <summary>
/// Proves end to end, on this host and in seconds, that the kernel ends a connection to a silent peer when
/// the settings say it should. A loopback connection is opened inside the process; the probing end (the
/// client) gets the keepalive options, the other end is made deaf with a drop-all socket filter
/// (<see cref="DeafPeer"/>), and the test waits, bounded, until recv() on the probing end fails. Needs no
/// privilege (except to enter another network namespace); several tests can run at once.
/// </summary>
public static class TcpKeepaliveTest
{
    public const int DefaultIdle = 1;
    public const int DefaultInterval = 1;
    public const int DefaultCount = 3;

    /// <summary>The longest timeout accepted, in seconds (7 days).</summary>
    public const int MaxTimeoutSeconds = 604800;

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(300);

    /// <summary>How much earlier than expected a failure may come and still pass.</summary>
    public static readonly TimeSpan EarlyTolerance = TimeSpan.FromMilliseconds(500);

    private const string Subject = "KeepaliveTest";

    private static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Bound on the loopback connect and accept (normally well under a millisecond).</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How much later than expected a failure may come and still pass: max(1 s, 25 % of expected).</summary>
    public static TimeSpan LateTolerance(TimeSpan expected) =>
        TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, expected.Ticks / 4));

    /// <summary>Runs the test and blocks until it ends; see <see cref="RunAsync"/>.</summary>
    public static TcpKeepaliveTestResult Run(TcpKeepaliveTestOptions options, CancellationToken cancellationToken = default) =>
        RunAsync(options, cancellationToken).GetAwaiter().GetResult();

    /// <summary>
    /// Runs one self-test. Refuses (before opening anything) options out of range and tests that could not be
    /// decided within the timeout; otherwise returns a result whether or not the kernel behaved as expected.
    /// </summary>
    public static async Task<TcpKeepaliveTestResult> RunAsync(TcpKeepaliveTestOptions options, CancellationToken cancellationToken = default)
    {
        Validate(options);
        cancellationToken.ThrowIfCancellationRequested();
        TimeSpan timeout = options.Timeout ?? DefaultTimeout;
        Session session = NetworkNamespace.Run(options.NetworkNamespace, () => Session.Open(options, timeout));
        using (session)
        {
            return await session.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Checks the options on their own (ranges, contradictions), without any system call.</summary>
    public static void Validate(TcpKeepaliveTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.UseSystemSettings && (options.Idle is not null || options.Interval is not null || options.Count is not null))
        {
            string given = options.Idle is not null ? "Idle" : options.Interval is not null ? "Interval" : "Count";
            throw new KeepaliveValidationException(
                Subject,
                "UseSystemSettings",
                $"UseSystemSettings takes Idle, Interval and Count from the network namespace's sysctls; do not give {given} as well.",
                given);
        }

        if (options.Idle is int idle)
        {
            KeepaliveLimits.CheckIdle(idle, "Idle", Subject);
        }

        if (options.Interval is int interval)
        {
            KeepaliveLimits.CheckInterval(interval, "Interval", Subject);
        }

        if (options.Count is int count)
        {
            KeepaliveLimits.CheckCount(count, "Count", Subject);
        }

        KeepaliveLimits.CheckUserTimeout(options.UserTimeout, "UserTimeout", Subject);
        if (options.Timeout is TimeSpan timeout && (timeout < TimeSpan.FromSeconds(1) || timeout > TimeSpan.FromSeconds(MaxTimeoutSeconds)))
        {
            throw new KeepaliveValidationException(
                Subject,
                "Timeout",
                $"Timeout must be between 1 and {MaxTimeoutSeconds} seconds; {timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} is outside that range.",
                timeout);
        }
    }

    /// <summary>Seconds as a person reads them: "4.08 s", "15m25s".</summary>
    internal static string Format(TimeSpan value)
    {
        if (value < TimeSpan.FromSeconds(60))
        {
            return value.TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture) + " s";
        }

        var text = new System.Text.StringBuilder();
        if (value.Days > 0)
        {
            text.Append(value.Days).Append('d');
        }

        if (value.Hours > 0)
        {
            text.Append(value.Hours).Append('h');
        }

        if (value.Minutes > 0)
        {
            text.Append(value.Minutes).Append('m');
        }

        if (value.Seconds > 0 || text.Length == 0)
        {
            text.Append(value.Seconds).Append('s');
        }

        return text.ToString();
    }

    /// <summary>
    /// Judges an outcome against the plan: pass or fail, and the sentences that say why. A probe timeline off its
    /// schedule (a late, early, missing or extra probe) fails a test that would otherwise pass, and names the probe
    /// in a test that failed anyway.
    /// </summary>
    internal static (bool Passed, string Message) Judge(
        TcpKeepaliveTestPlan plan, TimeSpan? measured, string? error, int probes, int retransmissions, TimeSpan waited, ProbeTimelineFinding? timeline = null)
    {
        (bool passed, string message) = JudgeDetection(plan, measured, error, probes, retransmissions, waited);
        if (timeline?.Problem is string problem)
        {
            return passed
                ? (false, $"The connection timed out after {Format(measured!.Value)} as expected ({Format(plan.Expected)}: {plan.Derivation}), but the probes did not keep to the schedule: {problem}")
                : (false, $"{message} {problem}");
        }

        return passed && timeline?.Summary is string summary ? (true, $"{message} {summary}") : (passed, message);
    }

    private static (bool Passed, string Message) JudgeDetection(TcpKeepaliveTestPlan plan, TimeSpan? measured, string? error, int probes, int retransmissions, TimeSpan waited)
    {
        string expected = $"{Format(plan.Expected)} ({plan.Derivation})";
        string mechanism = plan.Mechanism switch
        {
            TcpKeepaliveTestMechanism.Keepalive => "keepalive",
            TcpKeepaliveTestMechanism.KeepaliveUserTimeout => "keepalive with TCP_USER_TIMEOUT",
            TcpKeepaliveTestMechanism.UserTimeout => "TCP_USER_TIMEOUT",
            _ => "retransmission",
        };

        if (measured is not TimeSpan took)
        {
            return (false,
                $"The connection was still open after {Format(waited)} although {mechanism} should have ended it after about {expected}; "
                + $"{probes} keepalive probes and {retransmissions} retransmissions were seen: the kernel did not act on these settings.");
        }

        if (error != "ETIMEDOUT")
        {
            return (false,
                $"The connection ended after {Format(took)} with {error ?? "data"} instead of ETIMEDOUT, which {mechanism} gives after about {expected}.");
        }

        if (took < plan.Expected - EarlyTolerance)
        {
            return (false,
                $"The connection timed out after {Format(took)}, earlier than the expected {expected} minus the tolerance of {Format(EarlyTolerance)}; "
                + $"{probes} keepalive probes were seen.");
        }

        if (took > plan.Expected + plan.Tolerance)
        {
            return (false,
                $"The connection timed out after {Format(took)}, later than the expected {expected} plus the tolerance of {Format(plan.Tolerance)}; "
                + $"{probes} keepalive probes were seen.");
        }

        if (plan.Mechanism == TcpKeepaliveTestMechanism.Keepalive && probes != plan.Count)
        {
            return (false,
                $"The connection timed out after {Format(took)} as expected ({expected}), but TCP_INFO showed {probes} keepalive probes where TCP_KEEPCNT is {plan.Count}.");
        }

        string keepaliveAlone = Format(plan.KeepaliveAlone);
        return plan.Mechanism switch
        {
            TcpKeepaliveTestMechanism.Keepalive =>
                (true, $"Keepalive ended the connection to the silent peer with ETIMEDOUT after {Format(took)} (expected {Format(plan.Expected)}: {plan.Derivation}), after {probes} unanswered {(probes == 1 ? "probe" : "probes")}."),
            TcpKeepaliveTestMechanism.KeepaliveUserTimeout =>
                (true, $"Keepalive probes went unanswered and TCP_USER_TIMEOUT ({plan.UserTimeout} ms) ended the connection with ETIMEDOUT after {Format(took)} "
                    + $"(expected {Format(plan.Expected)}: {plan.Derivation}) after {probes} probes; TCP_KEEPCNT ({plan.Count}) did not apply."),
            TcpKeepaliveTestMechanism.UserTimeout =>
                (true, $"With unacknowledged data in flight keepalive did not fire ({probes} probes); TCP_USER_TIMEOUT ({plan.UserTimeout} ms) ended the connection "
                    + $"with ETIMEDOUT after {Format(took)} and {retransmissions} retransmissions, where keepalive alone would have taken {keepaliveAlone}."),
            _ =>
                (true, $"With unacknowledged data in flight keepalive did not fire ({probes} probes); retransmission gave up with ETIMEDOUT after {Format(took)} "
                    + $"({retransmissions} retransmissions, expected {Format(plan.Expected)}: {plan.Derivation}), where keepalive alone would have taken {keepaliveAlone}."),
        };
    }

    /// <summary>Refuses a test whose expected duration does not fit in the timeout, naming that duration.</summary>
    private static void EnsureFits(TcpKeepaliveTestPlan plan, TimeSpan timeout, bool usedSystemSettings, string networkNamespace)
    {
        TimeSpan needed = plan.Expected + plan.Tolerance;
        if (needed <= timeout)
        {
            return;
        }

        long neededSeconds = (long)Math.Ceiling(needed.TotalSeconds);
        string source = usedSystemSettings ? $" from the sysctls of {networkNamespace}" : string.Empty;
        string hint = plan.Mechanism switch
        {
            TcpKeepaliveTestMechanism.Retransmission =>
                " With data in flight keepalive does not fire and retransmission decides; give UserTimeout (TCP_USER_TIMEOUT, ms) to bound it instead.",
            _ when usedSystemSettings => " Or test shorter explicit values (Idle, Interval, Count) without UseSystemSettings.",
            _ => string.Empty,
        };
        throw new KeepaliveValidationException(
            Subject,
            "Timeout",
            $"The connection is expected to fail only after about {Format(plan.Expected)} ({plan.Derivation}{source}); the test will not wait longer than "
                + $"its timeout of {Format(timeout)}. Give a timeout of at least {neededSeconds} seconds to wait that long.{hint}",
            timeout);
    }

    /// <summary>One connection under test: the probing client, the deaf peer, the plan and the clock.</summary>
    private sealed class Session : IDisposable
    {
        private readonly Socket _prober;
        private readonly Socket _peer;
        private readonly TcpKeepaliveTestPlan _plan;
        private readonly TimeSpan _wait;
        private readonly bool _usedSystemSettings;
        private readonly string _address;
        private readonly string _namespace;
        private readonly long _reference;
        private readonly ProbingSocketDiag _diag;
        private readonly ProbeTimeline _timeline;

        private Session(
            Socket prober, Socket peer, TcpKeepaliveTestPlan plan, TimeSpan wait, bool usedSystemSettings, string address, string networkNamespace, long reference, ProbingSocketDiag diag)
        {
            _diag = diag;
            _timeline = new ProbeTimeline(TimeSpan.FromSeconds(plan.Interval));
            _prober = prober;
            _peer = peer;
            _plan = plan;
            _wait = wait;
            _usedSystemSettings = usedSystemSettings;
            _address = address;
            _namespace = networkNamespace;
            _reference = reference;
        }

        /// <summary>Runs on a thread in the test's network namespace: reads what it needs, refuses what cannot fit, opens and arms the connection.</summary>
        public static Session Open(TcpKeepaliveTestOptions options, TimeSpan timeout)
        {
            string networkNamespace = NetworkNamespace.Current();
            int idle, interval, count;
            if (options.UseSystemSettings)
            {
                TcpKeepaliveSetting system = new TcpKeepaliveSettings().Get();
                (idle, interval, count) = (system.Time, system.Interval, system.Probes);
            }
            else
            {
                (idle, interval, count) = (options.Idle ?? DefaultIdle, options.Interval ?? DefaultInterval, options.Count ?? DefaultCount);
            }

            int retries2 = options.WithDataInFlight && options.UserTimeout == 0 ? new SysctlFile().ReadInt("net.ipv4.tcp_retries2") : 0;
            var plan = TcpKeepaliveTestPlan.Create(idle, interval, count, options.UserTimeout, options.WithDataInFlight, retries2);
            EnsureFits(plan, timeout, options.UseSystemSettings, networkNamespace);
            TimeSpan wait = plan.Expected + plan.Tolerance + plan.Tolerance;
            if (wait > timeout)
            {
                wait = timeout;
            }

            IPAddress address = options.IPv6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
            (Socket prober, Socket peer) = Connect(address, networkNamespace);
            ProbingSocketDiag? diag = null;
            try
            {
                diag = ProbingSocketDiag.Open(prober);
                // The clock starts where the kernel's does, not when our own set-up (which JIT and load can stretch to
                // hundreds of milliseconds) happens to finish: TCP_KEEPIDLE counts from the last segment received (the
                // handshake), read back from TCP_INFO; SO_KEEPALIVE alone arms a full keepalive time when it is set;
                // retransmission and TCP_USER_TIMEOUT count from the send, also read back. With data in flight the data
                // is queued before keepalive is switched on, so that no probe can go out first, however slow the set-up.
                DeafPeer.AttachDropAll(peer.SafeHandle, peer);
                SocketKeepalive.Set(prober, new SocketKeepaliveChange(Enabled: false)); // already off: compiles the code of the timed call below
                long? reference = null;
                if (options.WithDataInFlight)
                {
                    byte[] data = new byte[64];
                    if (prober.Send(data) != data.Length)
                    {
                        throw new KeepaliveKernelException(Subject, "Could not queue the test data on the probing socket in one send.", prober, 0);
                    }

                    reference = KernelReference(prober, info => info.LastDataSent);
                }

                var change = options.UseSystemSettings
                    ? new SocketKeepaliveChange(Enabled: true, UserTimeout: options.UserTimeout > 0 ? options.UserTimeout : null)
                    : new SocketKeepaliveChange(true, idle, interval, count, options.UserTimeout);
                long beforeSet = Stopwatch.GetTimestamp();
                SocketKeepalive.Set(prober, change);
                reference ??= options.UseSystemSettings ? beforeSet : KernelReference(prober, info => Math.Min(info.LastDataRecv, info.LastAckRecv));

                return new Session(prober, peer, plan, wait, options.UseSystemSettings, address.ToString(), networkNamespace, reference.Value, diag);
            }
            catch
            {
                diag?.Dispose();
                Abort(prober);
                Abort(peer);
                throw;
            }
        }

        /// <summary>
        /// Waits on a dedicated thread, so that the moment of failure is read when poll(2) returns and not when a
        /// busy thread pool gets round to a continuation (seen: seconds late while other work blocked the pool).
        /// </summary>
        public Task<TcpKeepaliveTestResult> WaitAsync(CancellationToken cancellationToken)
        {
            var completion = new TaskCompletionSource<TcpKeepaliveTestResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() =>
            {
                try
                {
                    completion.SetResult(Wait(cancellationToken));
                }
                catch (OperationCanceledException e)
                {
                    completion.SetCanceled(e.CancellationToken);
                }
                catch (Exception e)
                {
                    completion.SetException(e);
                }
            })
            {
                IsBackground = true,
                Name = "pskeepalive-selftest",
            };
            thread.Start();
            return completion.Task;
        }

        /// <summary>Time since the moment the kernel counts from.</summary>
        private TimeSpan Elapsed => Stopwatch.GetElapsedTime(_reference);

        private TcpKeepaliveTestResult Wait(CancellationToken cancellationToken)
        {
            int probes = 0;
            int retransmissions = 0;
            void Sample()
            {
                // sock_diag first: its timer dates the newest probe exactly; tcp_info's counter covers the rest.
                var diag = _diag.Sample();
                TcpInfo info = TcpInfo.Read(_prober.SafeHandle, _prober);
                long now = Stopwatch.GetTimestamp();
                probes = Math.Max(probes, info.Probes);
                retransmissions = (int)Math.Max(retransmissions, Math.Min(info.TotalRetrans, int.MaxValue));
                // With data in flight sock_diag shows the retransmission timer (Sample gives null) and no probe is expected.
                if (diag is var (diagProbes, left, timestamp))
                {
                    _timeline.Observe(Stopwatch.GetElapsedTime(_reference, timestamp), diagProbes, left);
                }

                _timeline.Observe(Stopwatch.GetElapsedTime(_reference, now), info.Probes, null);
            }

            TimeSpan? measured = null;
            string? error = null;
            byte[] buffer = new byte[256];
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Sample();
                TimeSpan left = _wait - Elapsed;
                if (left <= TimeSpan.Zero)
                {
                    break;
                }

                if (!_prober.Poll(left < SampleInterval ? left : SampleInterval, SelectMode.SelectRead))
                {
                    continue;
                }

                // Readable: an error (ETIMEDOUT expected), an end of stream, or (never expected) data.
                measured = Elapsed;
                try
                {
                    int received = _prober.Receive(buffer);
                    error = received == 0 ? "EOF" : null;
                }
                catch (SocketException e)
                {
                    error = Errno.Name(e.NativeErrorCode);
                }

                break;
            }

            TimeSpan waited = Elapsed;
            Sample();
            ProbeTimelineFinding timeline = _timeline.Judge(_plan, measured, error, waited);
            (bool passed, string message) = Judge(_plan, measured, error, probes, retransmissions, waited, timeline);
            return new TcpKeepaliveTestResult(
                _plan.Idle,
                _plan.Interval,
                _plan.Count,
                _plan.UserTimeout,
                _plan.Expected,
                measured,
                error,
                probes,
                retransmissions,
                passed,
                _plan.Tolerance,
                EarlyTolerance,
                _plan.DataInFlight,
                _usedSystemSettings,
                _plan.Mechanism,
                _address,
                _namespace,
                message)
            {
                ProbeTimes = timeline.ProbeTimes,
                ExpectedProbeTimes = timeline.ExpectedProbeTimes,
                LateProbes = timeline.LateProbes,
                MissingProbes = timeline.MissingProbes,
                TimelineResolution = timeline.Resolution,
                Timeline = timeline.Text,
            };
        }

        public void Dispose()
        {
            _diag.Dispose();
            Abort(_prober);
            Abort(_peer);
        }

        /// <summary>Closes with SO_LINGER 0 (RST), so that no FIN is retransmitted to the deaf end after the test.</summary>
        private static void Abort(Socket socket)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }

            socket.Dispose();
        }

        /// <summary>The Stopwatch timestamp of a kernel event that TCP_INFO reports as "milliseconds ago".</summary>
        private static long KernelReference(Socket socket, Func<TcpInfo, uint> millisecondsAgo)
        {
            TcpInfo info = TcpInfo.Read(socket.SafeHandle, socket);
            long now = Stopwatch.GetTimestamp();
            return now - (millisecondsAgo(info) * Stopwatch.Frequency / 1000);
        }

        private static (Socket Prober, Socket Peer) Connect(IPAddress address, string networkNamespace)
        {
            string hint = $" (is the loopback interface up in {networkNamespace}? ip link set lo up)";
            Socket? listener = null;
            Socket? client = null;
            try
            {
                listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                listener.Bind(new IPEndPoint(address, 0));
                listener.Listen(1);
                client = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);

                // Bounded: with lo down a blocking connect() would retry its SYN for about two minutes.
                client.Blocking = false;
                try
                {
                    client.Connect(listener.LocalEndPoint!);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
                {
                }

                if (!client.Poll(ConnectTimeout, SelectMode.SelectWrite))
                {
                    throw new KeepaliveTimeoutException(
                        Subject,
                        $"The loopback connection to {address} was not established within {Format(ConnectTimeout)}{hint}.",
                        address.ToString());
                }

                int pending = (int)client.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
                if (pending != 0)
                {
                    throw Errno.ToException(pending, Subject, $"open a loopback TCP connection on {address} in {networkNamespace}{hint}", address.ToString());
                }

                client.Blocking = true;
                if (!listener.Poll(ConnectTimeout, SelectMode.SelectRead))
                {
                    throw new KeepaliveTimeoutException(Subject, $"The loopback connection to {address} was not accepted within {Format(ConnectTimeout)}.", address.ToString());
                }

                Socket peer = listener.Accept();
                return (client, peer);
            }
            catch (SocketException e)
            {
                client?.Dispose();
                throw Errno.ToException(e.NativeErrorCode, Subject, $"open a loopback TCP connection on {address} in {networkNamespace}{hint}", address.ToString());
            }
            catch
            {
                client?.Dispose();
                throw;
            }
            finally
            {
                listener?.Dispose();
            }
        }
    }
}
