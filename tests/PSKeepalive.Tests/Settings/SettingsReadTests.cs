using System.IO;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Settings;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Settings;

public sealed class SettingsReadTests
{
    [Fact]
    public void Get_AgreesWithProcSys()
    {
        var setting = new TcpKeepaliveSettings().Get();

        Assert.Equal(ReadProc("tcp_keepalive_time"), setting.Time);
        Assert.Equal(ReadProc("tcp_keepalive_intvl"), setting.Interval);
        Assert.Equal(ReadProc("tcp_keepalive_probes"), setting.Probes);
        Assert.Equal(setting.Time + ((long)setting.Interval * setting.Probes), setting.DeadPeerDetectionSeconds);
        Assert.Equal(setting.DeadPeerDetectionSeconds, (long)setting.DeadPeerDetectionTime.TotalSeconds);
    }

    [Fact]
    public void Get_NamesTheNamespaceItRead()
    {
        var setting = new TcpKeepaliveSettings().Get();

        Assert.Matches(@"^net:\[\d+\]$", setting.NetworkNamespace);
        Assert.Equal(new FileInfo("/proc/thread-self/ns/net").LinkTarget, setting.NetworkNamespace);
    }

    [Fact]
    public void Get_MissingSysctlRoot_IsNotFoundNamingThePath()
    {
        var settings = new TcpKeepaliveSettings("/nonexistent-pskeepalive-root");

        var error = Assert.Throws<KeepaliveNotFoundException>(() => settings.Get());

        Assert.Equal("SysctlNotFound", error.ErrorId);
        Assert.Contains("/nonexistent-pskeepalive-root/net/ipv4/tcp_keepalive_time", error.Message);
        Assert.Equal(TcpKeepaliveSettings.TimeKey, error.Target);
    }

    [Fact]
    public void Get_NonIntegerContent_IsInvalidData()
    {
        using var root = new TemporarySysctlRoot("7200", "not-a-number", "9");

        var error = Assert.Throws<KeepaliveDataException>(() => new TcpKeepaliveSettings(root.Path).Get());

        Assert.Contains("not-a-number", error.Message);
    }

    [Fact]
    public void Get_PathThatIsNoNamespace_IsRefusedClearly()
    {
        var error = Assert.Throws<KeepaliveInvalidTargetException>(() => new TcpKeepaliveSettings().Get("/etc/hostname"));

        Assert.Contains("not a network namespace", error.Message);
        Assert.Equal("NetworkNamespaceInvalidTarget", error.ErrorId);
    }

    [Fact]
    public void Get_MissingNamespacePath_IsNotFound()
    {
        var error = Assert.Throws<KeepaliveNotFoundException>(() => new TcpKeepaliveSettings().Get("/run/netns/pskeepalive-no-such-namespace"));

        Assert.Contains("/run/netns/pskeepalive-no-such-namespace", error.Message);
    }

    private static int ReadProc(string name) => int.Parse(File.ReadAllText("/proc/sys/net/ipv4/" + name).Trim());
}
