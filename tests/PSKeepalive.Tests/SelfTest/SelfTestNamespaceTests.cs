using System;
using System.IO;
using System.Threading.Tasks;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.SelfTest;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.SelfTest;

/// <summary>-UseSystemSettings and -NetworkNamespace, in private namespaces whose sysctls the test sets; the host's are never touched.</summary>
public sealed class SelfTestNamespaceTests
{
    [RootFact]
    public async Task UseSystemSettings_InPrivateNamespace_FollowsItsSysctls()
    {
        var host = HostSysctls.Read();
        string callerNamespace = new FileInfo("/proc/thread-self/ns/net").LinkTarget!;
        using var ns = new PrivateNetworkNamespace();
        ns.WriteSysctl("net/ipv4/tcp_keepalive_time", "1");
        ns.WriteSysctl("net/ipv4/tcp_keepalive_intvl", "1");
        ns.WriteSysctl("net/ipv4/tcp_keepalive_probes", "2");

        var result = await TcpKeepaliveTest.RunAsync(new() { UseSystemSettings = true, NetworkNamespace = ns.Path })
            .WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(result.Passed, result.Message);
        Assert.True(result.UsedSystemSettings);
        Assert.Equal((1, 1, 2), (result.Idle, result.Interval, result.ProbeCount));
        Assert.Equal(TimeSpan.FromSeconds(3), result.ExpectedDetection);
        Assert.Equal(2, result.ProbesSent);
        Assert.Equal("ETIMEDOUT", result.Error);
        Assert.InRange(result.MeasuredDetection!.Value, TimeSpan.FromSeconds(2.5), TimeSpan.FromSeconds(4.5));
        Assert.NotEqual(callerNamespace, result.NetworkNamespace);
        Assert.Equal(callerNamespace, new FileInfo("/proc/thread-self/ns/net").LinkTarget);
        Assert.Equal(host, HostSysctls.Read());
    }

    [RootFact]
    public async Task UseSystemSettings_WithLongSysctls_IsRefusedNamingTheDuration()
    {
        using var ns = new PrivateNetworkNamespace();
        ns.WriteSysctl("net/ipv4/tcp_keepalive_time", "7200");
        ns.WriteSysctl("net/ipv4/tcp_keepalive_intvl", "75");
        ns.WriteSysctl("net/ipv4/tcp_keepalive_probes", "9");

        var error = await Assert.ThrowsAsync<KeepaliveValidationException>(
            () => TcpKeepaliveTest.RunAsync(new() { UseSystemSettings = true, NetworkNamespace = ns.Path }));

        Assert.Equal("Timeout", error.ParameterName);
        Assert.Contains("2h11m15s", error.Message); // 7200 + 75 x 9 = 7875 s
        Assert.Contains("sysctls", error.Message);
        Assert.Contains("9844 seconds", error.Message); // 7875 s + 25 %, rounded up
    }

    [RootFact]
    public async Task ExplicitValues_InAnotherNamespace_RunThere()
    {
        using var ns = new PrivateNetworkNamespace();

        var result = await TcpKeepaliveTest.RunAsync(new() { Idle = 1, Interval = 1, Count = 2, IPv6 = true, NetworkNamespace = ns.Path })
            .WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(result.Passed, result.Message);
        Assert.Equal(ns.Run(() => new FileInfo("/proc/thread-self/ns/net").LinkTarget), result.NetworkNamespace);
    }
}

/// <summary>A namespace whose loopback is down: bounded, and the error says what to check. Its own class: it waits 5 s.</summary>
public sealed class SelfTestLoopbackDownTests
{
    [RootFact]
    public async Task LoopbackDown_IsReportedWithAHint()
    {
        using var ns = new PrivateNetworkNamespace();
        ns.Run(TakeLoopbackDown);

        var clock = System.Diagnostics.Stopwatch.StartNew();

        var error = await Assert.ThrowsAnyAsync<KeepaliveException>(
            () => TcpKeepaliveTest.RunAsync(new() { NetworkNamespace = ns.Path }));

        // With lo down the SYN goes nowhere; the connect is bounded instead of retrying for two minutes.
        Assert.Equal("KeepaliveTestTimeout", error.ErrorId);
        Assert.Contains("loopback interface up", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
    }

    /// <summary>Clears IFF_UP on lo in the calling thread's namespace (SIOCGIFFLAGS, SIOCSIFFLAGS).</summary>
    private static unsafe void TakeLoopbackDown()
    {
        int fd = TestLibc.Socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */, 0);
        Assert.True(fd >= 0);
        try
        {
            byte* ifreq = stackalloc byte[40];
            new Span<byte>(ifreq, 40).Clear();
            ifreq[0] = (byte)'l';
            ifreq[1] = (byte)'o';
            Assert.Equal(0, TestLibc.Ioctl(fd, 0x8913, ifreq));
            *(short*)(ifreq + 16) &= ~1;
            Assert.Equal(0, TestLibc.Ioctl(fd, 0x8914, ifreq));
        }
        finally
        {
            TestLibc.Close(fd);
        }
    }
}
