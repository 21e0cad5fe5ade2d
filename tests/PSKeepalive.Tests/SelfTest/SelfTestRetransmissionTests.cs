using System;
using System.Threading.Tasks;
using PSKeepalive.Core.SelfTest;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.SelfTest;

/// <summary>
/// Data in flight without TCP_USER_TIMEOUT: retransmission decides. With the default tcp_retries2 (15) that takes
/// about 15 minutes, so the test lowers it in a private namespace; its own class so that it runs alongside the others.
/// </summary>
public sealed class SelfTestRetransmissionTests
{
    [RootFact]
    public async Task DataInFlight_WithoutUserTimeout_FollowsTcpRetries2()
    {
        var host = System.IO.File.ReadAllText("/proc/sys/net/ipv4/tcp_retries2");
        using var ns = new PrivateNetworkNamespace();
        ns.WriteSysctl("net/ipv4/tcp_retries2", "3");

        var result = await TcpKeepaliveTest.RunAsync(new() { WithDataInFlight = true, NetworkNamespace = ns.Path })
            .WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(result.Passed, result.Message);
        Assert.Equal(TcpKeepaliveTestMechanism.Retransmission, result.Mechanism);
        Assert.Equal("ETIMEDOUT", result.Error);
        Assert.Equal(0, result.ProbesSent);
        Assert.True(result.Retransmissions >= 4, $"{result.Retransmissions} retransmissions");
        // Never before the modelled 3.4 s; at the latest one RTO interval (3.2 s) and its slack later.
        Assert.InRange(result.MeasuredDetection!.Value, TimeSpan.FromSeconds(2.9), TimeSpan.FromSeconds(7.4));
        Assert.Contains("retransmission gave up", result.Message);
        Assert.Equal(host, System.IO.File.ReadAllText("/proc/sys/net/ipv4/tcp_retries2"));
    }
}
