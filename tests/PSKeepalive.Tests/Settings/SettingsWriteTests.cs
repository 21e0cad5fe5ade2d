using System.IO;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Settings;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Settings;

/// <summary>Writes happen only in private network namespaces or temporary directories; the host's values are asserted unchanged.</summary>
public sealed class SettingsWriteTests
{
    [RootFact]
    public void Set_InPrivateNamespace_ChangesItAndNotTheHost()
    {
        var host = HostSysctls.Read();
        using var ns = new PrivateNetworkNamespace();

        var result = ns.Run(() => new TcpKeepaliveSettings().Set(new TcpKeepaliveSettingChange(600, 30, 5)));

        Assert.Equal((600, 30, 5), (result.Time, result.Interval, result.Probes));
        Assert.Equal("600", ns.ReadSysctl("net/ipv4/tcp_keepalive_time"));
        Assert.Equal("30", ns.ReadSysctl("net/ipv4/tcp_keepalive_intvl"));
        Assert.Equal("5", ns.ReadSysctl("net/ipv4/tcp_keepalive_probes"));
        Assert.Equal(750, result.DeadPeerDetectionSeconds);
        Assert.Equal(host, HostSysctls.Read());
    }

    [RootFact]
    public void Set_WithNamespacePath_WritesThereWithoutMovingTheCaller()
    {
        var host = HostSysctls.Read();
        string callerNamespace = new FileInfo("/proc/thread-self/ns/net").LinkTarget!;
        using var ns = new PrivateNetworkNamespace();

        var result = new TcpKeepaliveSettings().Set(new TcpKeepaliveSettingChange(Time: 321), ns.Path);

        Assert.Equal(321, result.Time);
        Assert.Equal("321", ns.ReadSysctl("net/ipv4/tcp_keepalive_time"));
        Assert.NotEqual(callerNamespace, result.NetworkNamespace);
        Assert.Equal(callerNamespace, new FileInfo("/proc/thread-self/ns/net").LinkTarget);
        Assert.Equal(321, new TcpKeepaliveSettings().Get(ns.Path).Time);
        Assert.Equal(host, HostSysctls.Read());
    }

    [RootFact]
    public void Set_OnlyTime_LeavesTheOthers()
    {
        using var ns = new PrivateNetworkNamespace();
        string interval = ns.ReadSysctl("net/ipv4/tcp_keepalive_intvl");
        string probes = ns.ReadSysctl("net/ipv4/tcp_keepalive_probes");

        new TcpKeepaliveSettings().Set(new TcpKeepaliveSettingChange(Time: 100), ns.Path);

        Assert.Equal(interval, ns.ReadSysctl("net/ipv4/tcp_keepalive_intvl"));
        Assert.Equal(probes, ns.ReadSysctl("net/ipv4/tcp_keepalive_probes"));
    }

    [RootTheory]
    [InlineData(0, null, null, "Time", "1 and 32767")]
    [InlineData(-1, null, null, "Time", "1 and 32767")]
    [InlineData(32768, null, null, "Time", "1 and 32767")]
    [InlineData(null, 0, null, "Interval", "1 and 32767")]
    [InlineData(null, 32768, null, "Interval", "1 and 32767")]
    [InlineData(null, null, 0, "Probes", "1 and 127")]
    [InlineData(null, null, -1, "Probes", "1 and 127")]
    [InlineData(null, null, 128, "Probes", "1 and 127")]
    [InlineData(600, 30, 128, "Probes", "1 and 127")]
    public void Set_OutOfRange_IsRefusedAndNothingIsWritten(int? time, int? interval, int? probes, string parameter, string range)
    {
        using var ns = new PrivateNetworkNamespace();
        var before = new TcpKeepaliveSettings().Get(ns.Path);

        var error = Assert.Throws<KeepaliveValidationException>(
            () => new TcpKeepaliveSettings().Set(new TcpKeepaliveSettingChange(time, interval, probes), ns.Path));

        Assert.Equal(parameter, error.ParameterName);
        Assert.Contains(parameter, error.Message);
        Assert.Contains(range, error.Message);
        int? refused = parameter switch { "Time" => time, "Interval" => interval, _ => probes };
        Assert.Contains(refused!.Value.ToString(), error.Message);
        Assert.Equal(KeepaliveErrorKind.InvalidArgument, error.Kind);
        Assert.Equal(before, new TcpKeepaliveSettings().Get(ns.Path));
    }

    [Fact]
    public void Set_NothingToChange_IsRefused()
    {
        var error = Assert.Throws<KeepaliveValidationException>(() => TcpKeepaliveSettings.Validate(new TcpKeepaliveSettingChange()));

        Assert.Contains("at least one", error.Message);
    }

    [Fact]
    public void Set_LastWriteFails_RestoresTheValuesAlreadyWritten()
    {
        using var root = new TemporarySysctlRoot("7200", "75", "9");
        var settings = new TcpKeepaliveSettings(root.Path);
        SysctlWriteException error;
        if (Privilege.IsRoot)
        {
            // Root ignores file modes, so the write runs with fsuid nobody, which owns all but the last file.
            Unprivileged.Chown(root.FileOf("tcp_keepalive_time"), Unprivileged.Nobody);
            Unprivileged.Chown(root.FileOf("tcp_keepalive_intvl"), Unprivileged.Nobody);
            error = Assert.Throws<SysctlWriteException>(() => Unprivileged.Run(() => settings.Set(new TcpKeepaliveSettingChange(600, 30, 5))));
        }
        else
        {
            File.SetUnixFileMode(root.FileOf("tcp_keepalive_probes"), UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            error = Assert.Throws<SysctlWriteException>(() => settings.Set(new TcpKeepaliveSettingChange(600, 30, 5)));
        }

        Assert.Equal(KeepaliveErrorKind.PermissionDenied, error.Kind);
        Assert.Equal("SysctlPermissionDenied", error.ErrorId);
        Assert.Equal(TcpKeepaliveSettings.ProbesKey, error.Target);
        Assert.True(error.RolledBack);
        Assert.Equal(2, error.Restored.Count);
        Assert.Contains("Restored", error.Message);
        Assert.Contains("root, or CAP_NET_ADMIN", error.Message);
        Assert.Equal(("7200", "75", "9"), (root.Read("tcp_keepalive_time"), root.Read("tcp_keepalive_intvl"), root.Read("tcp_keepalive_probes")));
    }

    [RootFact]
    public void Set_WithoutPrivilege_NamesTheSysctlAndThePrivilege()
    {
        using var ns = new PrivateNetworkNamespace();

        var error = ns.Run(() => Assert.Throws<SysctlWriteException>(
            () => Unprivileged.Run(() => new TcpKeepaliveSettings().Set(new TcpKeepaliveSettingChange(Time: 600)))));

        Assert.Equal("SysctlPermissionDenied", error.ErrorId);
        Assert.Contains("net.ipv4.tcp_keepalive_time", error.Message);
        Assert.Contains("CAP_NET_ADMIN", error.Message);
        Assert.Contains("Nothing was changed", error.Message);
    }
}
