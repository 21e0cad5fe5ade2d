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

    /// <summary>The view passes a deserialized connection's properties one by one: the same words as for the record.</summary>
    [Fact]
    public void PlainValues_GiveTheRecordsText()
    {
        TcpConnection[] cases =
        [
            Established,
            Established with { Timer = TcpTimer.Keepalive, TimerExpires = TimeSpan.FromSeconds(29), ProbesSent = 1 },
            Established with { Timer = TcpTimer.Retransmit, TimerExpires = TimeSpan.FromSeconds(1.2) },
            Established with { State = TcpState.TimeWait, Timer = TcpTimer.TimeWait, TimerExpires = TimeSpan.FromSeconds(59) },
            Established with { Timer = TcpTimer.ZeroWindowProbe, TimerExpires = TimeSpan.FromSeconds(3), ProbesSent = 2 },
            Established with { KeepaliveEnabled = true, Idle = 30, Interval = 5, ProbeCount = 3 },
            Established with { KeepaliveEnabled = true },
            Established with { KeepaliveEnabled = false },
            Established with { State = TcpState.Listen },
        ];

        foreach (TcpConnection c in cases)
        {
            Assert.Equal(
                TcpConnectionText.Keepalive(c),
                TcpConnectionText.Keepalive(c.KeepaliveEnabled, c.Idle, c.Interval, c.ProbeCount, c.Timer, c.TimerExpires, c.ProbesSent, c.NoKeepalive));
        }
    }

    [Fact]
    public void ProcessColumn_FromPlainValues()
    {
        var owner = new TcpConnectionProcess(812, "nginx", "nginx: worker", 5);

        Assert.Equal("nginx/812", TcpConnectionText.Process(Established with { Processes = [owner] }));
        Assert.Equal("nginx/812 +2", TcpConnectionText.Process(Established with { Processes = [owner, owner with { Pid = 813 }, owner with { Pid = 814 }] }));
        Assert.Equal("77", TcpConnectionText.Process(Established with { OwningProcess = 77 }));
        Assert.Equal(string.Empty, TcpConnectionText.Process(Established));
        Assert.Equal("nginx/812 +2", TcpConnectionText.Process(812, "nginx", 3));

        // PowerShell hands $null to a string parameter as "": an unknown name, not "/9".
        Assert.Equal("9", TcpConnectionText.Process(9, string.Empty, 1));
        Assert.Equal("9", TcpConnectionText.Process(9, null, 1));
        Assert.Equal(string.Empty, TcpConnectionText.Process(null, "ghost", 0));
    }
}
