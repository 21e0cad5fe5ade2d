using System;
using System.Globalization;

namespace PSKeepalive.Core.SelfTest;

/// <summary>
/// What the kernel should do with given settings, derived from tcp_keepalive_timer() and
/// tcp_write_timeout() (net/ipv4/tcp_timer.c):
/// <list type="bullet">
/// <item>keepalive alone: probes at Idle, Idle+Interval, ...; the connection dies at Idle + Interval x Count after Count probes;</item>
/// <item>keepalive with TCP_USER_TIMEOUT: Count no longer applies; the connection dies at the first probe timer, after at least
/// one probe, at which the idle time has reached the user timeout: Idle + Interval x k, k = max(1, ceil((UserTimeout - Idle) / Interval));</item>
/// <item>unacknowledged data in flight: the keepalive timer only re-arms itself; TCP_USER_TIMEOUT, when set, ends the connection
/// that long after the first timer retransmission (tcp_clamp_rto_to_user_timeout and retransmits_timed_out count from
/// tp-&gt;retrans_stamp, not from the send), otherwise retransmission gives up after net.ipv4.tcp_retries2 (tcp_model_timeout with
/// TCP_RTO_MIN 200 ms, TCP_RTO_MAX 120 s: 924.6 s for the default 15), counted from the same point. On loopback with one segment
/// in flight that first retransmission comes about 0.4 s after the send: a tail loss probe after ~TCP_RTO_MIN, then the RTO
/// (~TCP_RTO_MIN); measured here 0.41 to 0.50 s for user timeouts of 0.5 to 5 s.</item>
/// </list>
/// Without TCP_USER_TIMEOUT the retransmission limit is checked only when the RTO timer expires, and the expiries double
/// (0.4, 0.8, 1.6 ... s apart, at most 120 s): the connection dies at the first expiry at or past the modelled time, which
/// timer slack can put one whole interval later (tcp_retries2 = 3: modelled 3.4 s, died at about 6.7 s; = 5: 13 s, died at
/// 13.5 s). The late tolerance of that mechanism therefore covers 1.25 x the interval that straddles the modelled time.
/// </summary>
internal sealed record TcpKeepaliveTestPlan(
    int Idle,
    int Interval,
    int Count,
    int UserTimeout,
    bool DataInFlight,
    int Retries2,
    TcpKeepaliveTestMechanism Mechanism,
    TimeSpan Expected,
    int ExpectedProbes)
{
    internal static readonly TimeSpan RtoMin = TimeSpan.FromMilliseconds(200);
    internal static readonly TimeSpan RtoMax = TimeSpan.FromSeconds(120);

    /// <summary>From the send to the first timer retransmission on loopback: tail loss probe plus one RTO, each about TCP_RTO_MIN.</summary>
    internal static readonly TimeSpan FirstRetransmission = TimeSpan.FromMilliseconds(400);

    /// <summary>How much later than <see cref="Expected"/> still passes; see the class summary for retransmission.</summary>
    public TimeSpan Tolerance => Mechanism == TcpKeepaliveTestMechanism.Retransmission
        ? Max(TcpKeepaliveTest.LateTolerance(Expected), RetransmissionIntervalAt(Retries2) * 1.25)
        : TcpKeepaliveTest.LateTolerance(Expected);

    /// <summary>How long keepalive alone would take with these values (Idle + Interval x Count).</summary>
    public TimeSpan KeepaliveAlone => TimeSpan.FromSeconds(Idle + ((long)Interval * Count));

    public static TcpKeepaliveTestPlan Create(int idle, int interval, int count, int userTimeout, bool dataInFlight, int retries2)
    {
        if (dataInFlight)
        {
            return userTimeout > 0
                ? new(idle, interval, count, userTimeout, true, retries2, TcpKeepaliveTestMechanism.UserTimeout, FirstRetransmission + TimeSpan.FromMilliseconds(userTimeout), 0)
                : new(idle, interval, count, 0, true, retries2, TcpKeepaliveTestMechanism.Retransmission, FirstRetransmission + RetransmissionTimeout(retries2), 0);
        }

        if (userTimeout <= 0)
        {
            return new(idle, interval, count, 0, false, retries2, TcpKeepaliveTestMechanism.Keepalive, TimeSpan.FromSeconds(idle + ((long)interval * count)), count);
        }

        long probes = Math.Max(1, (long)Math.Ceiling(((userTimeout / 1000.0) - idle) / interval));
        return new(
            idle,
            interval,
            count,
            userTimeout,
            false,
            retries2,
            TcpKeepaliveTestMechanism.KeepaliveUserTimeout,
            TimeSpan.FromSeconds(idle + (interval * probes)),
            (int)Math.Min(probes, int.MaxValue));
    }

    /// <summary>tcp_model_timeout(): when retransmission of unacknowledged data gives up after <paramref name="retries2"/> retries.</summary>
    public static TimeSpan RetransmissionTimeout(int retries2)
    {
        int threshold = (int)Math.Log2(RtoMax / RtoMin); // ilog2(600) = 9
        if (retries2 <= threshold)
        {
            return RtoMin * ((2L << Math.Max(retries2, 0)) - 1);
        }

        return (RtoMin * ((2L << threshold) - 1)) + (RtoMax * (retries2 - threshold));
    }

    /// <summary>
    /// The RTO interval (nominal, from TCP_RTO_MIN doubling up to TCP_RTO_MAX) during which the time since the first
    /// retransmission reaches <see cref="RetransmissionTimeout"/>: the kernel notices only at the end of it, or of the next.
    /// </summary>
    public static TimeSpan RetransmissionIntervalAt(int retries2)
    {
        TimeSpan limit = RetransmissionTimeout(retries2);
        TimeSpan elapsed = TimeSpan.Zero;
        TimeSpan interval = RtoMin;
        while (true)
        {
            interval = Min(interval * 2, RtoMax);
            if (elapsed + interval >= limit)
            {
                return interval;
            }

            elapsed += interval;
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Where the expected time comes from, for messages: "1 + 1 x 3 s".</summary>
    public string Derivation => Mechanism switch
    {
        TcpKeepaliveTestMechanism.Keepalive => $"{Idle} + {Interval} x {Count} s",
        TcpKeepaliveTestMechanism.KeepaliveUserTimeout =>
            $"the first keepalive timer at or after TCP_USER_TIMEOUT {UserTimeout} ms: {Idle} + {Interval} x {ExpectedProbes} s",
        TcpKeepaliveTestMechanism.UserTimeout =>
            $"TCP_USER_TIMEOUT {UserTimeout} ms, counted from the first retransmission about {FirstRetransmission.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s after the send",
        _ => string.Create(
            CultureInfo.InvariantCulture,
            $"net.ipv4.tcp_retries2 = {Retries2}, counted from the first retransmission and noticed at an RTO expiry up to {TcpKeepaliveTest.Format(RetransmissionIntervalAt(Retries2))} later"),
    };
}
