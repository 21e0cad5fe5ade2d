using System;
using PSKeepalive.Core.Connections;
using Xunit;

namespace PSKeepalive.Tests.Connections;

/// <summary>The Keepalive column (CLI table and Format.ps1xml) shows the socket's own options when they were read.</summary>
public sealed class KeepaliveColumnTests
{
    private static readonly TcpConnection Established = new()
    {
        AddressFamily = "IPv4",
        LocalAddress = "127.0.0.1",
        LocalPort = 40000,
        RemoteAddress = "127.0.0.1",
        RemotePort = 40001,
        State = TcpState.Established,
        Inode = 1,
        Uid = 0,
        Cookie = 1,
        Timer = TcpTimer.None,
    };

    [Fact]
    public void OptionsRead_Enabled_ShowsIdleIntervalCount_EvenWhileTheTimerRuns()
    {
        var running = Established with { Timer = TcpTimer.Keepalive, TimerExpires = TimeSpan.FromSeconds(29), KeepaliveEnabled = true, Idle = 30, Interval = 5, ProbeCount = 3 };
        var listener = Established with { State = TcpState.Listen, KeepaliveEnabled = true, Idle = 32767, Interval = 32767, ProbeCount = 127 };

        Assert.Equal("on 30/5/3", TcpConnectionText.Keepalive(running));
        Assert.Equal("on 32767/32767/127", TcpConnectionText.Keepalive(listener));
        Assert.True(TcpConnectionText.Keepalive(listener).Length <= 18);
    }

    [Fact]
    public void OptionsRead_Disabled_ShowsOff()
    {
        Assert.Equal("off", TcpConnectionText.Keepalive(Established with { State = TcpState.Listen, KeepaliveEnabled = false, Idle = 7200, Interval = 75, ProbeCount = 9 }));
    }

    [Fact]
    public void OptionsNotRead_KeepsTheTimerView()
    {
        Assert.Equal("keepalive 29s/0", TcpConnectionText.Keepalive(Established with { Timer = TcpTimer.Keepalive, TimerExpires = TimeSpan.FromSeconds(29) }));
        Assert.Equal("off", TcpConnectionText.Keepalive(Established));
        Assert.Equal("-", TcpConnectionText.Keepalive(Established with { State = TcpState.Listen }));
    }
}
