using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Settings;
using Xunit;

namespace PSKeepalive.Tests.Settings;

/// <summary>
/// Get-TcpKeepaliveSetting -NetworkNamespace X | Set-TcpKeepaliveSetting -Time 999 once wrote the caller's namespace
/// (the host's) with X's Interval and Probes. What a piped setting changes, and where, decided without the kernel.
/// </summary>
public sealed class PipedSettingTests
{
    private static readonly PipedTcpKeepaliveSetting FromX = new(7200, 75, 9, "net:[4026532281]", null);

    [Fact]
    public void PipedSetting_IsChangedWhereItWasRead_WithTheTypedValuesOverridingOnlyTheirOwn()
    {
        var (change, target) = TcpKeepaliveSettings.ChangeFor(FromX, new TcpKeepaliveSettingChange(Time: 999), null);

        Assert.Equal("net:[4026532281]", target);
        Assert.Equal(new TcpKeepaliveSettingChange(999, 75, 9), change);
    }

    [Fact]
    public void PipedSetting_IsCopiedOnlyToAnExplicitNamespace()
    {
        var (change, target) = TcpKeepaliveSettings.ChangeFor(FromX, new TcpKeepaliveSettingChange(Probes: 3), "/run/netns/other");

        Assert.Equal("/run/netns/other", target);
        Assert.Equal(new TcpKeepaliveSettingChange(7200, 75, 3), change);
    }

    [Fact]
    public void SettingOfAnotherComputer_IsRefusedWithoutAnExplicitNamespace_AndCopiedWithOne()
    {
        var remote = FromX with { NetworkNamespace = "net:[4026531840]", ComputerName = "web1" };

        var refused = Assert.Throws<KeepaliveInvalidTargetException>(() => TcpKeepaliveSettings.ChangeFor(remote, new TcpKeepaliveSettingChange(Time: 999), null));
        var (change, target) = TcpKeepaliveSettings.ChangeFor(remote, new TcpKeepaliveSettingChange(), "/proc/self/ns/net");

        Assert.Equal("NetworkNamespaceInvalidTarget", refused.ErrorId);
        Assert.Contains("web1", refused.Message, System.StringComparison.Ordinal);
        Assert.Contains("-NetworkNamespace", refused.Message, System.StringComparison.Ordinal);
        Assert.Equal("/proc/self/ns/net", target);
        Assert.Equal(new TcpKeepaliveSettingChange(7200, 75, 9), change);
    }

    [Fact]
    public void ObjectNamingNoNamespace_IsWrittenToTheCallers()
    {
        var (change, target) = TcpKeepaliveSettings.ChangeFor(FromX with { NetworkNamespace = "" }, new TcpKeepaliveSettingChange(), null);

        Assert.Null(target);
        Assert.Equal(new TcpKeepaliveSettingChange(7200, 75, 9), change);
    }

    [Fact]
    public void NothingPiped_IsTheTypedChangeWhereTyped()
    {
        var typed = new TcpKeepaliveSettingChange(Interval: 10);

        Assert.Equal((typed, (string?)null), TcpKeepaliveSettings.ChangeFor(null, typed, null));
        Assert.Equal((typed, "blue"), TcpKeepaliveSettings.ChangeFor(null, typed, "blue"));
    }
}
