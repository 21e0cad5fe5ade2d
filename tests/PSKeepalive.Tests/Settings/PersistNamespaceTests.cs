using System;
using System.IO;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Settings;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Settings;

/// <summary>
/// Persisting values set in another network namespace to a file systemd-sysctl reads at boot would change the
/// host's values at the next boot: refused before anything is written.
/// </summary>
public sealed class PersistNamespaceTests
{
    [RootFact]
    public void OtherNamespace_AndABootFile_IsRefused_OtherCombinationsAreAccepted()
    {
        using var ns = new PrivateNetworkNamespace();
        string bootDirectory = CCompiler.NewDirectory();
        var persistence = new SysctlPersistence([bootDirectory], sysctlConf: null);
        string bootFile = Path.Combine(bootDirectory, "90-pskeepalive.conf");
        string otherFile = Path.Combine(CCompiler.NewDirectory(), "blue.conf");

        var refused = Assert.Throws<KeepaliveValidationException>(() => persistence.CheckNamespace(ns.Path, bootFile));
        Assert.Equal("SysctlInvalidArgument", refused.ErrorId);
        Assert.Contains("change the host's", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(bootFile));

        persistence.CheckNamespace(ns.Path, otherFile);           // not read at boot: the namespace's own file
        persistence.CheckNamespace(null, bootFile);               // this namespace
        persistence.CheckNamespace("/proc/self/ns/net", bootFile); // this namespace, named by path
        Assert.True(persistence.IsReadAtBoot(bootFile));
        Assert.False(persistence.IsReadAtBoot(otherFile));
    }
}
