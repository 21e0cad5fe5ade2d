using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace PSKeepalive.Core.SelfTest;

/// <summary>
/// When each keepalive probe of a self-test went out, as offsets from the moment the kernel counts from (the last
/// data received), learned without privilege by sampling the probing socket every few tens of milliseconds:
/// <list type="bullet">
/// <item>the probe counter (sock_diag's idiag_retrans under the keepalive timer, or tcp_info's tcpi_probes) says that
/// probe n went out between the last sample that showed fewer and the first that showed n;</item>
/// <item>sock_diag's keepalive timer says exactly when: right after sending probe n, tcp_keepalive_timer() re-arms the
/// timer for TCP_KEEPINTVL, so the time left on it, read at t, puts probe n at t + left - TCP_KEEPINTVL. The kernel
/// reports the time left in milliseconds counted in jiffies, so this is exact to one jiffy (at most 10 ms, HZ &gt;= 100).</item>
/// </list>
/// Each probe is kept as an interval [earliest, latest] that every sample may narrow; its time is the middle and its
/// resolution half the width.
/// </summary>
internal sealed class ProbeTimeline
{
    /// <summary>One jiffy at the coarsest kernel clock (CONFIG_HZ=100).</summary>
    public static readonly TimeSpan JiffyBound = TimeSpan.FromMilliseconds(10);

    /// <summary>How much earlier than its schedule a probe may seem to go out (the reference itself is read in jiffies).</summary>
    public static readonly TimeSpan EarlyStepTolerance = TimeSpan.FromMilliseconds(50);

    private readonly TimeSpan _interval;
    private readonly List<(TimeSpan Earliest, TimeSpan Latest)> _probes = new();
    private TimeSpan _previousSample;

    /// <param name="interval">TCP_KEEPINTVL in force on the probing socket.</param>
    public ProbeTimeline(TimeSpan interval) => _interval = interval;

    /// <summary>Probes seen so far.</summary>
    public int Count => _probes.Count;

    /// <summary>
    /// How much later than its step of the schedule (TCP_KEEPIDLE after the last data, TCP_KEEPINTVL after the
    /// previous probe) a probe may go out and still be on time: the kernel's timer wheel fires a timer up to 1/8 of
    /// its delay late by design (a timer of 64·8^k to 512·8^k jiffies is rounded up to a multiple of 8^k), plus
    /// 250 ms for a loaded machine's softirq.
    /// </summary>
    public static TimeSpan StepTolerance(TimeSpan step) => TimeSpan.FromMilliseconds(250) + (step / 8);

    /// <summary>
    /// Records one sample taken at <paramref name="at"/> (offset from the reference): the probe counter, and the time
    /// left on the keepalive timer when that was the armed timer (null otherwise).
    /// </summary>
    public void Observe(TimeSpan at, int probes, TimeSpan? keepaliveTimerLeft)
    {
        for (int n = _probes.Count + 1; n <= probes; n++)
        {
            _probes.Add((_previousSample, at));
        }

        if (probes >= 1 && keepaliveTimerLeft is TimeSpan left)
        {
            TimeSpan sent = at + left - _interval;
            (TimeSpan earliest, TimeSpan latest) = _probes[probes - 1];
            earliest = Max(earliest, sent - JiffyBound);
            latest = Min(latest, sent + JiffyBound);

            // Disjoint: the timer was re-armed for another reason (after local congestion the kernel retries in
            // TCP_RESOURCE_PROBE_INTERVAL); keep what the counter said.
            if (earliest <= latest)
            {
                _probes[probes - 1] = (earliest, latest);
            }
        }

        _previousSample = Max(_previousSample, at);
    }

    /// <summary>Each probe's time (middle of its interval).</summary>
    public IReadOnlyList<TimeSpan> Times => _probes.Select(p => p.Earliest + ((p.Latest - p.Earliest) / 2)).ToList();

    /// <summary>The largest uncertainty of any probe's time (half its interval); zero without probes.</summary>
    public TimeSpan Resolution => _probes.Count == 0 ? TimeSpan.Zero : _probes.Max(p => (p.Latest - p.Earliest) / 2);

    /// <summary>
    /// Compares the probes with the plan's schedule (probe 1 at Idle, then one every Interval, ExpectedProbes of
    /// them, then the reset) and says which probe was late, early or missing. The reset is timed in user space
    /// (when recv() fails), with our own scheduling delay in it, so it is judged by the test's overall window only.
    /// </summary>
    public ProbeTimelineFinding Judge(TcpKeepaliveTestPlan plan, TimeSpan? measured, string? error, TimeSpan waited)
    {
        IReadOnlyList<TimeSpan> times = Times;
        bool keepalive = plan.Mechanism is TcpKeepaliveTestMechanism.Keepalive or TcpKeepaliveTestMechanism.KeepaliveUserTimeout;
        int expectedCount = keepalive ? plan.ExpectedProbes : 0;
        var expected = Enumerable.Range(0, expectedCount).Select(k => TimeSpan.FromSeconds(plan.Idle + ((long)plan.Interval * k))).ToList();

        var late = new List<int>();
        var early = new List<int>();
        var problems = new List<string>();
        for (int k = 1; keepalive && k <= Math.Min(times.Count, expectedCount); k++)
        {
            TimeSpan previous = k == 1 ? TimeSpan.Zero : times[k - 2];
            TimeSpan uncertainty = HalfWidth(k - 1) + (k == 1 ? TimeSpan.Zero : HalfWidth(k - 2));
            TimeSpan gap = times[k - 1] - previous;
            TimeSpan step = TimeSpan.FromSeconds(k == 1 ? plan.Idle : plan.Interval);
            string after = k == 1 ? "after the last data" : $"after probe {k - 1}";
            string option = k == 1 ? "TCP_KEEPIDLE" : "TCP_KEEPINTVL";
            if (gap - uncertainty > step + StepTolerance(step))
            {
                late.Add(k);
                problems.Add(
                    $"Probe {k} went out {Seconds(gap - step)} s late: at {Seconds(times[k - 1])} s, {Seconds(gap)} s {after}, where {option} is {Seconds(step)} s "
                    + $"(tolerance {Seconds(StepTolerance(step))} s).");
            }
            else if (gap + uncertainty < step - EarlyStepTolerance)
            {
                early.Add(k);
                problems.Add($"Probe {k} went out {Seconds(step - gap)} s early: at {Seconds(times[k - 1])} s, {Seconds(gap)} s {after}, where {option} is {Seconds(step)} s.");
            }
        }

        var missing = Enumerable.Range(times.Count + 1, Math.Max(0, expectedCount - times.Count)).ToList();
        if (missing.Count > 0)
        {
            string due = Join(missing.Select(k => Seconds(expected[k - 1])));
            string last = times.Count == 0 ? "no probe went out at all" : $"the last one seen went out at {Seconds(times[^1])} s";
            problems.Add(missing.Count == 1
                ? $"Probe {missing[0]} of {expectedCount} never went out (due at {due} s); {last}."
                : $"Probes {Join(missing.Select(k => k.ToString(CultureInfo.InvariantCulture)))} of {expectedCount} never went out (due at {due} s); {last}.");
        }

        if (keepalive && times.Count > expectedCount)
        {
            problems.Add($"{times.Count} probes went out where the schedule has {expectedCount}.");
        }

        string? summary = null;
        if (problems.Count == 0 && times.Count > 0)
        {
            summary = $"{(times.Count == 1 ? "The probe" : "The probes")} went out on schedule at {Join(times.Select(Seconds))} s (timed to {Seconds(Resolution)} s).";
        }

        return new ProbeTimelineFinding(
            times.Select(t => Math.Round(t.TotalSeconds, 3)).ToList(),
            expected.Select(t => t.TotalSeconds).ToList(),
            late,
            missing,
            Resolution,
            Text(times, late.Concat(early).ToHashSet(), Math.Max(expectedCount, times.Count), measured, error, waited),
            problems.Count == 0 ? null : string.Join(" ", problems),
            summary);
    }

    /// <summary>The compact form the table shows: "1.00 2.00 3.00 | reset 4.01"; "!" marks a probe off schedule, "-" a missing one.</summary>
    private static string Text(IReadOnlyList<TimeSpan> times, HashSet<int> offSchedule, int slots, TimeSpan? measured, string? error, TimeSpan waited)
    {
        var text = new StringBuilder();
        for (int k = 1; k <= slots; k++)
        {
            if (k > 1)
            {
                text.Append(' ');
            }

            text.Append(k <= times.Count ? Seconds(times[k - 1]) + (offSchedule.Contains(k) ? "!" : string.Empty) : "-");
        }

        if (slots == 0)
        {
            text.Append("no probes");
        }

        text.Append(" | ");
        text.Append(measured is TimeSpan end
            ? $"{(error == "ETIMEDOUT" ? "reset" : error ?? "data")} {Seconds(end)}"
            : $"still open at {Seconds(waited)}");
        return text.ToString();
    }

    private TimeSpan HalfWidth(int index) => (_probes[index].Latest - _probes[index].Earliest) / 2;

    private static string Seconds(TimeSpan value) => value.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture);

    private static string Join(IEnumerable<string> items)
    {
        var list = items.ToList();
        return list.Count <= 1 ? string.Concat(list) : string.Join(", ", list.Take(list.Count - 1)) + " and " + list[^1];
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}

/// <summary>What the probe timeline of one self-test showed, against the schedule.</summary>
/// <param name="ProbeTimes">Each probe's offset from the last data, seconds (to the millisecond).</param>
/// <param name="ExpectedProbeTimes">The schedule: Idle, Idle + Interval, ... for the probes the plan expects (empty with data in flight).</param>
/// <param name="LateProbes">Numbers (from 1) of the probes that went out later than their step allows.</param>
/// <param name="MissingProbes">Numbers of the expected probes that never went out.</param>
/// <param name="Resolution">The largest uncertainty of a probe time.</param>
/// <param name="Text">The compact timeline: "1.00 2.00 3.00 | reset 4.01".</param>
/// <param name="Problem">Sentences naming each late, early, missing or extra probe; null when the probes kept to the schedule.</param>
/// <param name="Summary">A sentence for a timeline on schedule; null when there is a problem or no probe.</param>
internal sealed record ProbeTimelineFinding(
    IReadOnlyList<double> ProbeTimes,
    IReadOnlyList<double> ExpectedProbeTimes,
    IReadOnlyList<int> LateProbes,
    IReadOnlyList<int> MissingProbes,
    TimeSpan Resolution,
    string Text,
    string? Problem,
    string? Summary);
