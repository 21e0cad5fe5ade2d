using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.SelfTest;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.SelfTest;

/// <summary>
/// The self-test against the real kernel. The slow cases (seconds each) run concurrently in one test, so
/// this part of the suite costs about the longest case, not their sum. Windows are asserted, never exact times.
/// </summary>
public sealed class SelfTestKernelTests
{
    [DeafPeerFact]
    public async Task SlowCases_RunConcurrently_AndFollowTheSettings()
    {
        var clock = Stopwatch.StartNew();
        using var cancel = new CancellationTokenSource();
        Task<TcpKeepaliveTestResult> cancelled = TcpKeepaliveTest.RunAsync(new() { Idle = 1, Interval = 1, Count = 3 }, cancel.Token);
        Task<TcpKeepaliveTestResult> idle1 = TcpKeepaliveTest.RunAsync(new() { Idle = 1, Interval = 1, Count = 3 });
        Task<TcpKeepaliveTestResult> idle2 = TcpKeepaliveTest.RunAsync(new() { Idle = 2, Interval = 1, Count = 2 });
        Task<TcpKeepaliveTestResult> ipv6 = TcpKeepaliveTest.RunAsync(new() { Idle = 1, Interval = 1, Count = 3, IPv6 = true });
        Task<TcpKeepaliveTestResult> defaults = TcpKeepaliveTest.RunAsync(new());
        Task<TcpKeepaliveTestResult> dataWithUserTimeout = TcpKeepaliveTest.RunAsync(
            new() { Idle = 1, Interval = 1, Count = 3, UserTimeout = 2000, WithDataInFlight = true });
        Task<TcpKeepaliveTestResult> keepaliveWithUserTimeout = TcpKeepaliveTest.RunAsync(
            new() { Idle = 1, Interval = 1, Count = 5, UserTimeout = 2500 });

        // Cancelled long before its connection would die (4 s): it must end cancelled, not with a result.
        Thread.Sleep(300);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(TimeSpan.FromSeconds(30)));
        await Task.WhenAll(idle1, idle2, ipv6, defaults, dataWithUserTimeout, keepaliveWithUserTimeout).WaitAsync(TimeSpan.FromSeconds(30));

        AssertKeepalivePassed(idle1.Result, TimeSpan.FromSeconds(4), probes: 3);
        AssertKeepalivePassed(idle2.Result, TimeSpan.FromSeconds(4), probes: 2);
        AssertKeepalivePassed(ipv6.Result, TimeSpan.FromSeconds(4), probes: 3);
        Assert.Equal("::1", ipv6.Result.Address);
        Assert.Equal("127.0.0.1", idle1.Result.Address);
        AssertKeepalivePassed(defaults.Result, TimeSpan.FromSeconds(4), probes: 3);
        Assert.Equal((1, 1, 3), (defaults.Result.Idle, defaults.Result.Interval, defaults.Result.ProbeCount));

        // Data in flight: keepalive never probes; TCP_USER_TIMEOUT ends it at about 2.4 s (2 s from the first retransmission), sooner than keepalive's 4 s.
        var data = dataWithUserTimeout.Result;
        Assert.True(data.Passed, data.Message);
        Assert.Equal(TcpKeepaliveTestMechanism.UserTimeout, data.Mechanism);
        Assert.True(data.WithDataInFlight);
        Assert.Equal("ETIMEDOUT", data.Error);
        Assert.Equal(0, data.ProbesSent);
        Assert.True(data.Retransmissions > 0, $"retransmissions {data.Retransmissions}");
        Assert.Equal(TimeSpan.FromSeconds(2.4), data.ExpectedDetection);
        AssertWithin(data.MeasuredDetection, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3.4));
        Assert.True(data.MeasuredDetection < TimeSpan.FromSeconds(3.5), "TCP_USER_TIMEOUT should end it before keepalive's 4 s would");
        Assert.Contains("did not fire", data.Message);
        Assert.Empty(data.ProbeTimes);
        Assert.StartsWith("no probes | reset ", data.Timeline);

        // Keepalive with TCP_USER_TIMEOUT 2.5 s: dies at the probe timer at 3 s after 2 probes; TCP_KEEPCNT 5 (6 s) does not apply.
        var userTimeout = keepaliveWithUserTimeout.Result;
        Assert.True(userTimeout.Passed, userTimeout.Message);
        Assert.Equal(TcpKeepaliveTestMechanism.KeepaliveUserTimeout, userTimeout.Mechanism);
        Assert.Equal(TimeSpan.FromSeconds(3), userTimeout.ExpectedDetection);
        Assert.Equal("ETIMEDOUT", userTimeout.Error);
        Assert.Equal(2, userTimeout.ProbesSent);
        AssertOnSchedule(userTimeout);
        AssertWithin(userTimeout.MeasuredDetection, TimeSpan.FromSeconds(2.5), TimeSpan.FromSeconds(4));

        // Run one after another they would take 21 s.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the concurrent cases took {clock.Elapsed}");
    }

    [Fact]
    public async Task DataInFlightWithoutUserTimeout_IsRefusedUnlessTheTimeoutAllowsIt()
    {
        var error = await Assert.ThrowsAsync<KeepaliveValidationException>(
            () => TcpKeepaliveTest.RunAsync(new() { WithDataInFlight = true }));

        Assert.Equal("Timeout", error.ParameterName);
        Assert.Equal("KeepaliveTestInvalidArgument", error.ErrorId);
        Assert.Contains("tcp_retries2", error.Message);
        Assert.Contains("UserTimeout", error.Message);
        Assert.Contains("at least", error.Message);
    }

    [Fact]
    public async Task LongExplicitValues_AreRefusedNamingTheDuration()
    {
        var error = await Assert.ThrowsAsync<KeepaliveValidationException>(
            () => TcpKeepaliveTest.RunAsync(new() { Idle = 600, Interval = 60, Count = 5, Timeout = TimeSpan.FromSeconds(60) }));

        Assert.Contains("15m", error.Message); // 600 + 60 x 5 = 900 s
        Assert.Contains("1125 seconds", error.Message); // 900 s + 25 %
    }

    [Theory]
    [InlineData(0, 1, 3, 0, "Idle")]
    [InlineData(1, 32768, 3, 0, "Interval")]
    [InlineData(1, 1, 128, 0, "Count")]
    [InlineData(1, 1, 3, -1, "UserTimeout")]
    public async Task OutOfRangeOptions_AreRefused(int idle, int interval, int count, int userTimeout, string parameter)
    {
        var error = await Assert.ThrowsAsync<KeepaliveValidationException>(
            () => TcpKeepaliveTest.RunAsync(new() { Idle = idle, Interval = interval, Count = count, UserTimeout = userTimeout }));

        Assert.Equal(parameter, error.ParameterName);
    }

    [Fact]
    public void UseSystemSettingsWithExplicitValues_IsRefused()
    {
        var error = Assert.Throws<KeepaliveValidationException>(
            () => TcpKeepaliveTest.Validate(new() { UseSystemSettings = true, Count = 2 }));

        Assert.Equal("UseSystemSettings", error.ParameterName);
        Assert.Contains("Count", error.Message);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(604801)]
    public void TimeoutOutOfRange_IsRefused(double seconds)
    {
        var error = Assert.Throws<KeepaliveValidationException>(
            () => TcpKeepaliveTest.Validate(new() { Timeout = TimeSpan.FromSeconds(seconds) }));

        Assert.Equal("Timeout", error.ParameterName);
    }

    [Fact]
    public async Task MissingNamespace_IsNotFound()
    {
        var error = await Assert.ThrowsAsync<KeepaliveNotFoundException>(
            () => TcpKeepaliveTest.RunAsync(new() { NetworkNamespace = "/run/netns/pskeepalive-no-such-namespace" }));

        Assert.Equal("NetworkNamespaceNotFound", error.ErrorId);
    }

    private static void AssertKeepalivePassed(TcpKeepaliveTestResult result, TimeSpan expected, int probes)
    {
        Assert.True(result.Passed, result.Message);
        Assert.Equal(TcpKeepaliveTestMechanism.Keepalive, result.Mechanism);
        Assert.Equal(expected, result.ExpectedDetection);
        Assert.Equal("ETIMEDOUT", result.Error);
        Assert.Equal(probes, result.ProbesSent);
        Assert.False(result.WithDataInFlight);
        Assert.False(result.UsedSystemSettings);
        Assert.Equal(TimeSpan.FromSeconds(1), result.Tolerance);
        AssertWithin(result.MeasuredDetection, expected - TimeSpan.FromSeconds(0.5), expected + TimeSpan.FromSeconds(1.5));
        Assert.StartsWith("net:[", result.NetworkNamespace);
        AssertOnSchedule(result);
    }

    /// <summary>
    /// Probe k at Idle + (k - 1) x Interval after the last data: never earlier than the self-test's own early tolerance
    /// (timers do not fire early, but the reference and the timer's time left are read in jiffies, and a sample's clock
    /// is read before the kernel answers it, later under load), and later by at most the step tolerance per step so far.
    /// </summary>
    private static void AssertOnSchedule(TcpKeepaliveTestResult result)
    {
        Assert.Equal(result.ProbesSent, result.ProbeTimes.Count);
        Assert.Equal(result.ExpectedProbeTimes.Count, result.ProbeTimes.Count);
        Assert.Empty(result.LateProbes);
        Assert.Empty(result.MissingProbes);
        Assert.InRange(result.TimelineResolution, TimeSpan.Zero, ProbeTimeline.JiffyBound);
        double tolerance = ProbeTimeline.StepTolerance(TimeSpan.FromSeconds(result.Interval)).TotalSeconds;
        for (int k = 0; k < result.ProbeTimes.Count; k++)
        {
            Assert.InRange(result.ProbeTimes[k], result.ExpectedProbeTimes[k] - ProbeTimeline.EarlyStepTolerance.TotalSeconds, result.ExpectedProbeTimes[k] + ((k + 1) * tolerance));
        }

        Assert.Matches(@"^(\d+\.\d\d ){" + result.ProbeTimes.Count + @"}\| reset \d+\.\d\d$", result.Timeline);
    }

    private static void AssertWithin(TimeSpan? measured, TimeSpan low, TimeSpan high)
    {
        Assert.NotNull(measured);
        Assert.InRange(measured!.Value, low, high);
    }
}
