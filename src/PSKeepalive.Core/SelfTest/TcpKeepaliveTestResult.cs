using System;
using System.Collections.Generic;

namespace PSKeepalive.Core.SelfTest;

/// <summary>What should end the connection to the silent peer in a self-test.</summary>
public enum TcpKeepaliveTestMechanism
{
    /// <summary>Keepalive alone: Idle + Interval x Count.</summary>
    Keepalive,

    /// <summary>Keepalive probes, with TCP_USER_TIMEOUT deciding when an unanswered run ends (tcp(7)).</summary>
    KeepaliveUserTimeout,

    /// <summary>Unacknowledged data in flight: keepalive is idle, TCP_USER_TIMEOUT ends the connection.</summary>
    UserTimeout,

    /// <summary>Unacknowledged data in flight without TCP_USER_TIMEOUT: retransmission gives up after net.ipv4.tcp_retries2.</summary>
    Retransmission,
}

/// <summary>
/// The outcome of one end-to-end keepalive self-test on a loopback connection whose peer was made deaf.
/// </summary>
/// <param name="Idle">TCP_KEEPIDLE in force on the probing end, seconds.</param>
/// <param name="Interval">TCP_KEEPINTVL in force, seconds.</param>
/// <param name="ProbeCount">TCP_KEEPCNT in force (not "Count", which would hide PowerShell's .Count).</param>
/// <param name="UserTimeout">TCP_USER_TIMEOUT in force, milliseconds (0 = unset).</param>
/// <param name="ExpectedDetection">When the settings say the connection should fail.</param>
/// <param name="MeasuredDetection">When it did fail; null when it was still open at the end of the wait.</param>
/// <param name="Error">The error recv() reported ("ETIMEDOUT"), "EOF" for an orderly end, null when it did not fail.</param>
/// <param name="ProbesSent">The most keepalive probes TCP_INFO (tcpi_probes) reported on the probing end.</param>
/// <param name="Retransmissions">Segments the probing end retransmitted (tcpi_total_retrans).</param>
/// <param name="Passed">True when it failed with ETIMEDOUT within the tolerance of the expected time (and, for keepalive alone, after Count probes).</param>
/// <param name="Tolerance">How much later than expected still passes: max(1 s, 25 % of expected).</param>
/// <param name="EarlyTolerance">How much earlier than expected still passes (0.5 s).</param>
/// <param name="WithDataInFlight">Unacknowledged data was queued after the peer went deaf.</param>
/// <param name="UsedSystemSettings">Only SO_KEEPALIVE was set; the namespace's sysctls governed.</param>
/// <param name="Mechanism">What should end the connection under these settings.</param>
/// <param name="Address">The loopback address used ("127.0.0.1" or "::1").</param>
/// <param name="NetworkNamespace">The namespace the test ran in ("net:[4026531840]").</param>
/// <param name="Message">One sentence saying what happened and why.</param>
public sealed record TcpKeepaliveTestResult(
    int Idle,
    int Interval,
    int ProbeCount,
    int UserTimeout,
    TimeSpan ExpectedDetection,
    TimeSpan? MeasuredDetection,
    string? Error,
    int ProbesSent,
    int Retransmissions,
    bool Passed,
    TimeSpan Tolerance,
    TimeSpan EarlyTolerance,
    bool WithDataInFlight,
    bool UsedSystemSettings,
    TcpKeepaliveTestMechanism Mechanism,
    string Address,
    string NetworkNamespace,
    string Message)
{
    /// <summary>
    /// When each keepalive probe went out, seconds after the last data (the moment TCP_KEEPIDLE counts from), to the
    /// millisecond; in the order sent. Read from sock_diag's keepalive timer of the probing socket (exact to one
    /// jiffy, see <see cref="TimelineResolution"/>), without privilege.
    /// </summary>
    public IReadOnlyList<double> ProbeTimes { get; init; } = Array.Empty<double>();

    /// <summary>The schedule the probes should keep: Idle, Idle + Interval, ... (empty when no probe is expected).</summary>
    public IReadOnlyList<double> ExpectedProbeTimes { get; init; } = Array.Empty<double>();

    /// <summary>Numbers (from 1) of the probes that went out later than their step of the schedule allows.</summary>
    public IReadOnlyList<int> LateProbes { get; init; } = Array.Empty<int>();

    /// <summary>Numbers (from 1) of the expected probes that never went out.</summary>
    public IReadOnlyList<int> MissingProbes { get; init; } = Array.Empty<int>();

    /// <summary>The largest uncertainty of a probe time (one jiffy when read from the timer; half a sample interval otherwise).</summary>
    public TimeSpan TimelineResolution { get; init; }

    /// <summary>The timeline at a glance: "1.00 2.00 3.00 | reset 4.01" ("!" marks a probe off schedule, "-" a missing one).</summary>
    public string Timeline { get; init; } = string.Empty;
}
