using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using PSKeepalive.Core;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Sockets;
using Xunit;

namespace PSKeepalive.Tests.Sockets;

/// <summary>Real TCP sockets on loopback, created by each test; nothing else is touched.</summary>
public sealed class SocketKeepaliveTests
{
    public static TheoryData<string> Loopbacks => new() { "127.0.0.1", "::1" };

    [Theory]
    [MemberData(nameof(Loopbacks))]
    public void Set_ThenGet_RoundTripsEveryOption(string address)
    {
        using var pair = LoopbackPair.Open(IPAddress.Parse(address));

        var set = SocketKeepalive.Set(pair.Client, new SocketKeepaliveChange(true, 11, 7, 5, 12345));
        var read = SocketKeepalive.Get(pair.Client);

        Assert.Equal(new SocketKeepaliveOptions(true, 11, 7, 5, 12345), set);
        Assert.Equal(set, read);
        Assert.Equal(46, read.DeadPeerDetectionSeconds);
        // The other end of the connection is a different socket and keeps its own values.
        Assert.False(SocketKeepalive.Get(pair.Server).Enabled);
        Assert.Equal(0, SocketKeepalive.Get(pair.Server).UserTimeout);
        // .NET sees the same socket option the kernel holds.
        Assert.Equal(1, (int)pair.Client.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
    }

    [Theory]
    [MemberData(nameof(Loopbacks))]
    public void Get_OnFreshSocket_ReportsTheNamespaceSysctls(string address)
    {
        using var pair = LoopbackPair.Open(IPAddress.Parse(address));

        var options = SocketKeepalive.Get(pair.Client);

        Assert.False(options.Enabled);
        Assert.Equal(ReadHostSysctl("tcp_keepalive_time"), options.Idle);
        Assert.Equal(ReadHostSysctl("tcp_keepalive_intvl"), options.Interval);
        Assert.Equal(ReadHostSysctl("tcp_keepalive_probes"), options.ProbeCount);
        Assert.Equal(0, options.UserTimeout);
    }

    [Fact]
    public void Set_PartialChange_LeavesTheOtherOptions()
    {
        using var pair = LoopbackPair.Open(IPAddress.Loopback);
        SocketKeepalive.Set(pair.Client, new SocketKeepaliveChange(true, 100, 20, 4, 3000));

        var result = SocketKeepalive.Set(pair.Client, new SocketKeepaliveChange(Interval: 9));

        Assert.Equal(new SocketKeepaliveOptions(true, 100, 9, 4, 3000), result);
    }

    [Fact]
    public void Set_Disable_TurnsSoKeepaliveOffAndKeepsTheTimers()
    {
        using var pair = LoopbackPair.Open(IPAddress.Loopback);
        SocketKeepalive.Set(pair.Client, new SocketKeepaliveChange(true, 30, 5, 3));

        var result = SocketKeepalive.Set(pair.Client, new SocketKeepaliveChange(Enabled: false));

        Assert.False(result.Enabled);
        Assert.Equal((30, 5, 3), (result.Idle, result.Interval, result.ProbeCount));
    }

    [Fact]
    public void FdAndSafeHandleOverloads_SeeTheSameSocket()
    {
        using var pair = LoopbackPair.Open(IPAddress.Loopback);
        int fd = (int)pair.Client.Handle;

        SocketKeepalive.Set(fd, new SocketKeepaliveChange(true, 42));
        SocketKeepalive.Set(pair.Client.SafeHandle, new SocketKeepaliveChange(Count: 8));

        Assert.Equal(new SocketKeepaliveOptions(true, 42, SocketKeepalive.Get(fd).Interval, 8, 0), SocketKeepalive.Get(pair.Client.SafeHandle));
        Assert.Equal(SocketKeepalive.Get(fd), SocketKeepalive.Get(pair.Client));
    }

    [Theory]
    [MemberData(nameof(Loopbacks))]
    public void OptionsSetOnListener_AreInheritedByAcceptedSockets(string address)
    {
        using var pair = LoopbackPair.Open(
            IPAddress.Parse(address),
            listener => SocketKeepalive.Set(listener, new SocketKeepaliveChange(true, 123, 17, 6, 4567)));

        var accepted = SocketKeepalive.Get(pair.Server);

        // SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPCNT and TCP_USER_TIMEOUT are documented as inherited; TCP_KEEPINTVL is too on 6.x.
        Assert.True(accepted.Enabled);
        Assert.Equal(123, accepted.Idle);
        Assert.Equal(6, accepted.ProbeCount);
        Assert.Equal(4567, accepted.UserTimeout);
        Assert.Equal(17, accepted.Interval);
        Assert.False(SocketKeepalive.Get(pair.Client).Enabled);
    }

    [Theory]
    [InlineData("Idle", 0, "1 and 32767")]
    [InlineData("Idle", -1, "1 and 32767")]
    [InlineData("Idle", 32768, "1 and 32767")]
    [InlineData("Interval", 0, "1 and 32767")]
    [InlineData("Interval", 32768, "1 and 32767")]
    [InlineData("Count", 0, "1 and 127")]
    [InlineData("Count", 128, "1 and 127")]
    [InlineData("Count", -5, "1 and 127")]
    [InlineData("UserTimeout", -1, "0 and 2147483647")]
    [InlineData("UserTimeout", int.MinValue, "0 and 2147483647")]
    public void Set_OutOfRange_IsRefusedAndNothingChanges(string parameter, int value, string range)
    {
        using var pair = LoopbackPair.Open(IPAddress.Loopback);
        SocketKeepalive.Set(pair.Client, new SocketKeepaliveChange(false, 50, 10, 5, 1000));
        var before = SocketKeepalive.Get(pair.Client);
        // Valid values alongside the bad one must not be applied either.
        var change = parameter switch
        {
            "Idle" => new SocketKeepaliveChange(true, value, 2, 2, 2000),
            "Interval" => new SocketKeepaliveChange(true, 2, value, 2, 2000),
            "Count" => new SocketKeepaliveChange(true, 2, 2, value, 2000),
            _ => new SocketKeepaliveChange(true, 2, 2, 2, value),
        };

        var error = Assert.Throws<KeepaliveValidationException>(() => SocketKeepalive.Set(pair.Client, change));

        Assert.Equal(parameter, error.ParameterName);
        Assert.Equal("SocketInvalidArgument", error.ErrorId);
        Assert.Contains(range, error.Message);
        Assert.Contains(value.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
        Assert.Equal(before, SocketKeepalive.Get(pair.Client));
    }

    [Fact]
    public void Validate_RefusesAnEmptyChange()
    {
        var error = Assert.Throws<KeepaliveValidationException>(() => SocketKeepalive.Validate(new SocketKeepaliveChange()));
        Assert.Contains("at least one", error.Message);
    }

    [Fact]
    public void Validate_AcceptsTheLimits()
    {
        SocketKeepalive.Validate(new SocketKeepaliveChange(true, KeepaliveLimits.MinIdle, KeepaliveLimits.MinInterval, KeepaliveLimits.MinCount, 0));
        SocketKeepalive.Validate(new SocketKeepaliveChange(false, KeepaliveLimits.MaxIdle, KeepaliveLimits.MaxInterval, KeepaliveLimits.MaxCount, int.MaxValue));
    }

    [Fact]
    public void Set_AtTheKernelLimits_IsAccepted()
    {
        using var pair = LoopbackPair.Open(IPAddress.Loopback);

        var max = SocketKeepalive.Set(pair.Client, new SocketKeepaliveChange(true, 32767, 32767, 127, int.MaxValue));
        var min = SocketKeepalive.Set(pair.Client, new SocketKeepaliveChange(true, 1, 1, 1, 0));

        Assert.Equal(new SocketKeepaliveOptions(true, 32767, 32767, 127, int.MaxValue), max);
        Assert.Equal(new SocketKeepaliveOptions(true, 1, 1, 1, 0), min);
    }

    [Theory]
    [InlineData(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp, "UDP")]
    [InlineData(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp, "UDP")]
    [InlineData(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified, "Unix")]
    [InlineData(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified, "Unix")]
    public void NonTcpSockets_AreRefusedAndLeftAlone(AddressFamily family, SocketType type, ProtocolType protocol, string named)
    {
        using var socket = new Socket(family, type, protocol);

        var getError = Assert.Throws<KeepaliveInvalidTargetException>(() => SocketKeepalive.Get(socket));
        var setError = Assert.Throws<KeepaliveInvalidTargetException>(
            () => SocketKeepalive.Set(socket, new SocketKeepaliveChange(true, 5, 5, 5)));

        Assert.Equal("SocketInvalidTarget", setError.ErrorId);
        Assert.Contains(named, setError.Message);
        Assert.Contains("only to TCP", getError.Message);
        Assert.Same(socket, setError.Target);
        // SO_KEEPALIVE is a generic socket option the kernel would have accepted: it must still be off.
        Assert.Equal(0, (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
    }

    [Fact]
    public void NotASocket_IsAnInvalidTarget()
    {
        using var file = File.OpenRead("/proc/self/stat");
        int fd = (int)file.SafeFileHandle.DangerousGetHandle();

        var error = Assert.Throws<KeepaliveInvalidTargetException>(() => SocketKeepalive.Get(fd));

        Assert.Equal(88, error.Errno); // ENOTSOCK
        Assert.Contains("ENOTSOCK", error.Message);
        Assert.Throws<KeepaliveInvalidTargetException>(() => SocketKeepalive.EnsureTcp(fd));
    }

    [Fact]
    public void ClosedDescriptor_IsNotFound()
    {
        var error = Assert.Throws<KeepaliveNotFoundException>(() => SocketKeepalive.Get(1_000_000));

        Assert.Equal(9, error.Errno); // EBADF
        Assert.Equal("SocketNotFound", error.ErrorId);
    }

    [Fact]
    public void DisposedSocket_IsNotFound()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Dispose();

        var error = Assert.Throws<KeepaliveNotFoundException>(() => SocketKeepalive.Set(socket, new SocketKeepaliveChange(true)));

        Assert.Contains("closed", error.Message);
    }

    [Fact]
    public void UnconnectedTcpSocket_CanBePrepared()
    {
        using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);

        var result = SocketKeepalive.Set(socket, new SocketKeepaliveChange(true, 60, 10, 3, 30000));

        Assert.Equal(new SocketKeepaliveOptions(true, 60, 10, 3, 30000), result);
    }

    private static int ReadHostSysctl(string name) =>
        int.Parse(File.ReadAllText("/proc/sys/net/ipv4/" + name).Trim(), System.Globalization.CultureInfo.InvariantCulture);
}
