using System;
using System.Linq;
using PSKeepalive.Core.SelfTest;
using Xunit;

namespace PSKeepalive.Tests.SelfTest;

/// <summary>The probe timeline from samples, and its verdict against the schedule, without the kernel.</summary>
public sealed class ProbeTimelineTests
{
    private static readonly TcpKeepaliveTestPlan OneOneThree = TcpKeepaliveTestPlan.Create(1, 1, 3, 0, false, 15);

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    /// <summary>Samples every 50 ms as the self-test takes them, with the timer the kernel would show for probes sent at <paramref name="sent"/>.</summary>
    private static ProbeTimeline Sampled(double until, double interval, params double[] sent)
    {
        var timeline = new ProbeTimeline(S(interval));
        for (double at = 0.05; at <= until; at += 0.05)
        {
            int probes = sent.Count(t => t <= at);
            TimeSpan? left = probes == 0 ? null : S(sent[probes - 1] + interval - at);
            timeline.Observe(S(at), probes, left);
        }

        return timeline;
    }

    [Fact]
    public void TheKeepaliveTimer_DatesEachProbeToAJiffy_WhateverTheSampleInterval()
    {
        var timeline = Sampled(4.0, 1, 1.013, 2.041, 3.069);

        Assert.Equal(new[] { 1.013, 2.041, 3.069 }, timeline.Times.Select(t => Math.Round(t.TotalSeconds, 3)));
        Assert.True(timeline.Resolution <= ProbeTimeline.JiffyBound, $"resolution {timeline.Resolution}");
    }

    [Fact]
    public void TheCounterAlone_BoundsAProbeBetweenTwoSamples()
    {
        var timeline = new ProbeTimeline(S(1));
        timeline.Observe(S(0.95), 0, null);
        timeline.Observe(S(1.05), 1, null);

        Assert.Equal(1.0, timeline.Times.Single().TotalSeconds, 3);
        Assert.Equal(0.05, timeline.Resolution.TotalSeconds, 3);
    }

    [Fact]
    public void ASkippedProbe_KeepsTheCountersBounds_AndTheNewestGetsTheTimersTime()
    {
        var timeline = new ProbeTimeline(S(1));
        timeline.Observe(S(0.5), 0, null);
        timeline.Observe(S(2.5), 2, S(0.5)); // a stalled sampler: probes 1 and 2 both went out since 0.5 s; 2 at 2.0 s

        Assert.Equal(2, timeline.Count);
        Assert.Equal(1.5, timeline.Times[0].TotalSeconds, 3); // somewhere in [0.5, 2.5]
        Assert.Equal(2.0, timeline.Times[1].TotalSeconds, 3);
        Assert.Equal(1.0, timeline.Resolution.TotalSeconds, 3);
    }

    [Fact]
    public void ATimerReArmedForAnotherReason_DoesNotMoveAProbeOutOfItsBounds()
    {
        var timeline = new ProbeTimeline(S(1));
        timeline.Observe(S(0.95), 0, null);
        timeline.Observe(S(1.05), 1, S(0.45)); // TCP_RESOURCE_PROBE_INTERVAL (0.5 s): would put the probe at 0.5 s

        Assert.Equal(1.0, timeline.Times.Single().TotalSeconds, 3);
    }

    [Fact]
    public void OnSchedule_NamesEveryProbeAndTheReset()
    {
        var finding = Sampled(4.0, 1, 1.013, 2.041, 3.069).Judge(OneOneThree, S(4.09), "ETIMEDOUT", S(4.09));

        Assert.Equal(new[] { 1.013, 2.041, 3.069 }, finding.ProbeTimes);
        Assert.Equal(new[] { 1.0, 2.0, 3.0 }, finding.ExpectedProbeTimes);
        Assert.Empty(finding.LateProbes);
        Assert.Empty(finding.MissingProbes);
        Assert.Null(finding.Problem);
        Assert.Equal("1.01 2.04 3.07 | reset 4.09", finding.Text);
        Assert.Contains("on schedule at 1.01, 2.04 and 3.07 s", finding.Summary);
    }

    /// <summary>The 2005 report: "the first probe goes out on schedule ... but then it stops sending anything at all".</summary>
    [Fact]
    public void ProbesThatStop_AreNamedMissing()
    {
        var finding = Sampled(8.0, 1, 1.01).Judge(OneOneThree, null, null, S(8.0));

        Assert.Equal(new[] { 2, 3 }, finding.MissingProbes);
        Assert.Equal("1.01 - - | still open at 8.00", finding.Text);
        Assert.Contains("Probes 2 and 3 of 3 never went out (due at 2.00 and 3.00 s)", finding.Problem);
        Assert.Contains("the last one seen went out at 1.01 s", finding.Problem);
        Assert.Null(finding.Summary);
    }

    [Fact]
    public void ALateProbe_IsNamedByItsStep_AndTheNextOneIsJudgedFromIt()
    {
        // Probe 2 leaves 1.6 s after probe 1 (step 1 s, tolerance 0.375 s); probe 3 keeps its 1 s step after probe 2.
        var finding = Sampled(5.0, 1, 1.01, 2.61, 3.62).Judge(OneOneThree, S(4.63), "ETIMEDOUT", S(4.63));

        Assert.Equal(new[] { 2 }, finding.LateProbes);
        Assert.Equal("1.01 2.61! 3.62 | reset 4.63", finding.Text);
        Assert.Contains("Probe 2 went out 0.60 s late: at 2.61 s, 1.60 s after probe 1, where TCP_KEEPINTVL is 1.00 s", finding.Problem);
    }

    [Fact]
    public void ALateFirstProbe_IsMeasuredFromTheLastData()
    {
        var finding = Sampled(6.0, 1, 2.5, 3.5, 4.5).Judge(OneOneThree, S(5.5), "ETIMEDOUT", S(5.5));

        Assert.Equal(new[] { 1 }, finding.LateProbes);
        Assert.Contains("after the last data, where TCP_KEEPIDLE is 1.00 s", finding.Problem);
    }

    [Fact]
    public void TheTimerWheelsRounding_IsNotLate()
    {
        // A 1 s timer at HZ=250 is 250 jiffies: the wheel rounds it up to 8 jiffies (32 ms), as seen on this kernel.
        var finding = Sampled(4.2, 1, 1.032, 2.064, 3.096).Judge(OneOneThree, S(4.128), "ETIMEDOUT", S(4.128));

        Assert.Null(finding.Problem);
    }

    [Fact]
    public void AnEarlyProbe_FailsToo()
    {
        var finding = Sampled(4.0, 1, 0.5, 1.5, 2.5).Judge(OneOneThree, S(3.5), "ETIMEDOUT", S(3.5));

        Assert.Empty(finding.LateProbes);
        Assert.Contains("Probe 1 went out 0.50 s early", finding.Problem);
        Assert.StartsWith("0.50! ", finding.Text);
    }

    [Fact]
    public void AnExtraProbe_IsNamed()
    {
        var finding = Sampled(5.0, 1, 1.01, 2.02, 3.03, 4.04).Judge(OneOneThree, S(5.05), "ETIMEDOUT", S(5.05));

        Assert.Contains("4 probes went out where the schedule has 3", finding.Problem);
    }

    [Fact]
    public void DataInFlight_HasNoSchedule()
    {
        var plan = TcpKeepaliveTestPlan.Create(1, 1, 3, 1500, true, 15);
        var finding = new ProbeTimeline(S(1)).Judge(plan, S(1.9), "ETIMEDOUT", S(1.9));

        Assert.Empty(finding.ExpectedProbeTimes);
        Assert.Null(finding.Problem);
        Assert.Equal("no probes | reset 1.90", finding.Text);
    }

    [Fact]
    public void Judge_FailsADetectionOnTime_WhenAProbeWasOffSchedule()
    {
        var finding = Sampled(5.0, 1, 1.01, 2.61, 3.62).Judge(OneOneThree, S(4.63), "ETIMEDOUT", S(4.63));

        var (passed, message) = TcpKeepaliveTest.Judge(OneOneThree, S(4.63), "ETIMEDOUT", 3, 0, S(4.63), finding);

        Assert.False(passed);
        Assert.Contains("as expected", message);
        Assert.Contains("did not keep to the schedule: Probe 2 went out 0.60 s late", message);
    }

    [Fact]
    public void Judge_AddsTheMissingProbes_ToADetectionThatFailed()
    {
        var finding = Sampled(8.0, 1, 1.01).Judge(OneOneThree, null, null, S(8.0));

        var (passed, message) = TcpKeepaliveTest.Judge(OneOneThree, null, null, 1, 0, S(8.0), finding);

        Assert.False(passed);
        Assert.Contains("still open after 8 s", message);
        Assert.Contains("Probes 2 and 3 of 3 never went out", message);
    }

    [Fact]
    public void Judge_OnSchedule_SaysWhenTheProbesWentOut()
    {
        var finding = Sampled(4.0, 1, 1.013, 2.041, 3.069).Judge(OneOneThree, S(4.09), "ETIMEDOUT", S(4.09));

        var (passed, message) = TcpKeepaliveTest.Judge(OneOneThree, S(4.09), "ETIMEDOUT", 3, 0, S(4.09), finding);

        Assert.True(passed, message);
        Assert.EndsWith("The probes went out on schedule at 1.01, 2.04 and 3.07 s (timed to 0.01 s).", message);
    }

    [Theory]
    [InlineData(1, 0.375)]
    [InlineData(75, 9.625)]
    [InlineData(7200, 900.25)]
    public void StepTolerance_IsAnEighthOfTheStep_Plus250Milliseconds(double step, double tolerance)
    {
        Assert.Equal(tolerance, ProbeTimeline.StepTolerance(S(step)).TotalSeconds, 3);
    }
}
