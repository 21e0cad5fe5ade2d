using System;
using System.Diagnostics;
using PSKeepalive.Core.Namespaces;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Namespaces;

/// <summary>--netns / -NetworkNamespace take a bare NAME as 'ip netns' prints it, and a wrong one says what to give.</summary>
public sealed class NamespaceNameTests
{
    [Theory]
    [InlineData("blue", "/run/netns/blue")]
    [InlineData("/run/netns/blue", "/run/netns/blue")]
    [InlineData("/proc/1/ns/net", "/proc/1/ns/net")]
    [InlineData("./blue", "./blue")]
    public void Resolve_BareNameMeansRunNetns(string given, string expected)
    {
        Assert.Equal(expected, NetworkNamespace.Resolve(given));
    }

    [Fact]
    public void PermissionError_NamesWhatIsReallyMissing_EvenForRoot()
    {
        // /proc/1/ns/net can be denied to root (an outer user namespace's PID 1): "this needs root" would mislead.
        string asRoot = NetworkNamespace.OpenPrivilege("/proc/1/ns/net", root: true);
        string asUser = NetworkNamespace.OpenPrivilege("/proc/1/ns/net", root: false);

        Assert.Contains("ptrace", asRoot, StringComparison.Ordinal);
        Assert.Contains("although this process runs as root", asRoot, StringComparison.Ordinal);
        Assert.Contains("/run/netns", asRoot, StringComparison.Ordinal);
        Assert.StartsWith("root", asUser, StringComparison.Ordinal);
        Assert.Equal("root", NetworkNamespace.OpenPrivilege("/run/netns/blue", root: true));
    }

    [RootFact]
    public void PermissionError_ForAnotherUsersProcessNamespace_AsksForRootOrPtrace()
    {
        var error = Unprivileged.Run(() => Record.Exception(() => NetworkNamespace.Run("/proc/1/ns/net", NetworkNamespace.Current)));

        var permission = Assert.IsType<PSKeepalive.Core.Errors.KeepalivePermissionException>(error);
        Assert.Contains("CAP_SYS_PTRACE", permission.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cli_UnknownNamespace_SaysWhatToGive()
    {
        string name = "pskeepalive-none-" + Guid.NewGuid().ToString("N")[..8];
        CliResult result = CliRunner.Run("settings", "--netns", name);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"/run/netns/{name}", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("ip netns list", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("[NetworkNamespaceNotFound]", result.StandardError, StringComparison.Ordinal);
    }

    [RootFact]
    public void Cli_NamedNamespace_IsFoundByItsBareName()
    {
        string name = "pskt-" + Guid.NewGuid().ToString("N")[..10];
        Ip("netns", "add", name);
        try
        {
            CliResult byName = CliRunner.Run("settings", "--netns", name, "--json");
            CliResult byPath = CliRunner.Run("settings", "--netns", "/run/netns/" + name, "--json");

            Assert.True(byName.ExitCode == 0, byName.ToString());
            Assert.Equal(byPath.StandardOutput, byName.StandardOutput);
            Assert.DoesNotContain(NetworkNamespace.Current(), byName.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            Ip("netns", "delete", name);
        }
    }

    private static void Ip(params string[] arguments)
    {
        var start = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "ip did not finish within 30 s.");
        Assert.True(process.ExitCode == 0, "ip " + string.Join(' ', arguments) + ": " + error);
    }
}
