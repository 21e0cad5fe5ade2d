using System;
using PSKeepalive.Core.SelfTest;
using Xunit;

namespace PSKeepalive.Tests.SelfTest;

/// <summary>The expected times and the verdicts, without the kernel.</summary>
public sealed class PlanAndJudgeTests
{
    [Theory]
    [InlineData(1, 1, 3, 4.0, 3)]
    [InlineData(2, 1, 2, 4.0, 2)]
    [InlineData(7200, 75, 9, 7875.0, 9)]
    public void KeepaliveAlone_IsIdlePlusIntervalTimesCount(int idle, int interval, int count, double seconds, int probes)
    {
        var plan = TcpKeepaliveTestPlan.Create(idle, interval, count, 0, false, 15);

        Assert.Equal(TcpKeepaliveTestMechanism.Keepalive, plan.Mechanism);
        Assert.Equal(TimeSpan.FromSeconds(seconds), plan.Expected);
        Assert.Equal(probes, plan.ExpectedProbes);
    }

    [Theory]
    [InlineData(1, 1, 5, 2500, 3.0, 2)]
    [InlineData(1, 1, 5, 500, 2.0, 1)] // a user timeout shorter than idle still waits for one probe
    [InlineData(10, 5, 9, 20000, 20.0, 2)] // reached exactly at the second probe timer
    public void KeepaliveWithUserTimeout_EndsAtTheFirstTimerPastIt(int idle, int interval, int count, int userTimeout, double seconds, int probes)
    {
        var plan = TcpKeepaliveTestPlan.Create(idle, interval, count, userTimeout, false, 15);

        Assert.Equal(TcpKeepaliveTestMechanism.KeepaliveUserTimeout, plan.Mechanism);
        Assert.Equal(TimeSpan.FromSeconds(seconds), plan.Expected);
        Assert.Equal(probes, plan.ExpectedProbes);
    }

    [Theory]
    [InlineData(15, 0.4 + 924.6)]
    [InlineData(8, 0.4 + 102.2)]
    [InlineData(3, 0.4 + 3.0)]
    [InlineData(10, 0.4 + 204.6 + 120)]
    public void DataInFlightWithoutUserTimeout_FollowsTcpRetries2(int retries2, double seconds)
    {
        var plan = TcpKeepaliveTestPlan.Create(1, 1, 3, 0, true, retries2);

        Assert.Equal(TcpKeepaliveTestMechanism.Retransmission, plan.Mechanism);
        Assert.Equal(seconds, plan.Expected.TotalSeconds, 3);
        Assert.Equal(0, plan.ExpectedProbes);
    }

    [Theory]
    [InlineData(3, 3.2, 4.0)] // intervals 0.4 + 0.8 + 1.6 = 2.8 s < 3 s: the 3.2 s interval straddles it
    [InlineData(5, 12.8, 16.0)]
    [InlineData(15, 120, 231.25)] // 25 % of 925 s is larger than 1.25 x 120 s
    public void Retransmission_ToleratesTheIntervalThatStraddlesTheLimit(int retries2, double interval, double tolerance)
    {
        var plan = TcpKeepaliveTestPlan.Create(1, 1, 3, 0, true, retries2);

        Assert.Equal(TimeSpan.FromSeconds(interval), TcpKeepaliveTestPlan.RetransmissionIntervalAt(retries2));
        Assert.Equal(tolerance, plan.Tolerance.TotalSeconds, 3);
    }

    [Fact]
    public void DataInFlightWithUserTimeout_IsTheUserTimeoutAfterTheFirstRetransmission()
    {
        var plan = TcpKeepaliveTestPlan.Create(1, 1, 3, 2000, true, 15);

        Assert.Equal(TcpKeepaliveTestMechanism.UserTimeout, plan.Mechanism);
        Assert.Equal(TimeSpan.FromSeconds(2.4), plan.Expected);
        Assert.Contains("first retransmission", plan.Derivation);
    }

    [Theory]
    [InlineData(4.0, 1.0)]
    [InlineData(3.9, 1.0)]
    [InlineData(100.0, 25.0)]
    public void LateTolerance_IsTheLargerOfOneSecondAndAQuarter(double expected, double tolerance)
    {
        Assert.Equal(TimeSpan.FromSeconds(tolerance), TcpKeepaliveTest.LateTolerance(TimeSpan.FromSeconds(expected)));
    }

    [Theory]
    [InlineData(4.08, "ETIMEDOUT", 3, true, "Keepalive ended")]
    [InlineData(3.6, "ETIMEDOUT", 3, true, "Keepalive ended")]
    [InlineData(5.0, "ETIMEDOUT", 3, true, "Keepalive ended")]
    [InlineData(3.4, "ETIMEDOUT", 3, false, "earlier than")]
    [InlineData(5.1, "ETIMEDOUT", 3, false, "later than")]
    [InlineData(4.1, "ECONNRESET", 3, false, "instead of ETIMEDOUT")]
    [InlineData(4.1, "EOF", 3, false, "instead of ETIMEDOUT")]
    [InlineData(4.1, "ETIMEDOUT", 1, false, "TCP_KEEPCNT is 3")]
    public void Judge_KeepaliveOutcomes(double seconds, string error, int probes, bool passed, string phrase)
    {
        var plan = TcpKeepaliveTestPlan.Create(1, 1, 3, 0, false, 15);

        var (ok, message) = TcpKeepaliveTest.Judge(plan, TimeSpan.FromSeconds(seconds), error, probes, 0, TimeSpan.FromSeconds(seconds));

        Assert.Equal(passed, ok);
        Assert.Contains(phrase, message);
    }

    [Fact]
    public void Judge_StillOpen_SaysTheKernelDidNotAct()
    {
        var plan = TcpKeepaliveTestPlan.Create(1, 1, 3, 0, false, 15);

        var (ok, message) = TcpKeepaliveTest.Judge(plan, null, null, 1, 0, TimeSpan.FromSeconds(6));

        Assert.False(ok);
        Assert.Contains("still open after 6 s", message);
        Assert.Contains("1 keepalive probes", message);
    }

    [Fact]
    public void Judge_DataInFlight_SaysKeepaliveDidNotFire()
    {
        var plan = TcpKeepaliveTestPlan.Create(1, 1, 3, 2000, true, 15);

        var (ok, message) = TcpKeepaliveTest.Judge(plan, TimeSpan.FromSeconds(2.44), "ETIMEDOUT", 0, 6, TimeSpan.FromSeconds(2.44));

        Assert.True(ok);
        Assert.Contains("keepalive did not fire", message);
        Assert.Contains("would have taken 4 s", message);
    }

    [Theory]
    [InlineData(4.08, "4.08 s")]
    [InlineData(925.0, "15m25s")]
    [InlineData(7875, "2h11m15s")]
    [InlineData(60, "1m")]
    public void Format_ReadsLikeADuration(double seconds, string text)
    {
        Assert.Equal(text, TcpKeepaliveTest.Format(TimeSpan.FromSeconds(seconds)));
    }
}
