using System.IO;
using System.Text.Json;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Cli;

/// <summary>`pskeepalive settings` and `set` run as processes, as a user would. Writes only in private namespaces.</summary>
public sealed class SettingsCliTests
{
    [Fact]
    public void Settings_Json_MatchesProcSys()
    {
        var result = CliRunner.Run("settings", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.StandardOutput);
        var root = json.RootElement;
        int time = root.GetProperty("time").GetInt32();
        int interval = root.GetProperty("interval").GetInt32();
        int probes = root.GetProperty("probes").GetInt32();
        Assert.Equal(ReadProc("tcp_keepalive_time"), time);
        Assert.Equal(ReadProc("tcp_keepalive_intvl"), interval);
        Assert.Equal(ReadProc("tcp_keepalive_probes"), probes);
        Assert.Equal(time + ((long)interval * probes), root.GetProperty("deadPeerDetectionSeconds").GetInt64());
        Assert.StartsWith("net:[", root.GetProperty("networkNamespace").GetString());
    }

    [Fact]
    public void Settings_Table_ShowsHeaderAndValues()
    {
        var result = CliRunner.Run("settings");

        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = result.StandardOutput.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^\s*Time\s+Interval\s+Probes\s+DeadPeerDetection\s+NetworkNamespace$", lines[0]);
        Assert.Contains($"{ReadProc("tcp_keepalive_time")}s", lines[1]);
    }

    [RootFact]
    public void Set_InNamespace_ChangesItAndNotTheHost()
    {
        var host = HostSysctls.Read();
        using var ns = new PrivateNetworkNamespace();

        var result = CliRunner.Run("set", "--time", "600", "--interval", "30", "--probes", "5", "--netns", ns.Path, "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.StandardOutput);
        Assert.Equal(600, json.RootElement.GetProperty("time").GetInt32());
        Assert.Equal(750, json.RootElement.GetProperty("deadPeerDetectionSeconds").GetInt64());
        Assert.Equal("600", ns.ReadSysctl("net/ipv4/tcp_keepalive_time"));
        Assert.Equal("30", ns.ReadSysctl("net/ipv4/tcp_keepalive_intvl"));
        Assert.Equal("5", ns.ReadSysctl("net/ipv4/tcp_keepalive_probes"));
        Assert.Equal(host, HostSysctls.Read());
    }

    [RootTheory]
    [InlineData("--time", "0", "between 1 and 32767")]
    [InlineData("--time", "-1", "between 1 and 32767")]
    [InlineData("--time", "32768", "between 1 and 32767")]
    [InlineData("--interval", "0", "between 1 and 32767")]
    [InlineData("--probes", "128", "between 1 and 127")]
    [InlineData("--probes", "0", "between 1 and 127")]
    [InlineData("--time", "abc", "whole number")]
    [InlineData("--interval", "1.5", "whole number")]
    public void Set_BadValue_ExitsTwoAndWritesNothing(string option, string value, string expected)
    {
        var host = HostSysctls.Read();
        using var ns = new PrivateNetworkNamespace();
        string before = ns.ReadSysctl("net/ipv4/tcp_keepalive_time");

        var result = CliRunner.Run("set", option, value, "--netns", ns.Path);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(expected, result.StandardError);
        Assert.Equal(string.Empty, result.StandardOutput);
        Assert.Equal(before, ns.ReadSysctl("net/ipv4/tcp_keepalive_time"));
        Assert.Equal(host, HostSysctls.Read());
    }

    [Fact]
    public void Set_NothingGiven_ExitsTwo()
    {
        var result = CliRunner.Run("set");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("at least one", result.StandardError);
    }

    [Fact]
    public void UnknownCommandOrOption_ExitsTwo()
    {
        Assert.Equal(2, CliRunner.Run("settings", "--bogus").ExitCode);
        Assert.Equal(2, CliRunner.Run("no-such-command").ExitCode);
    }

    [RootFact]
    public void Set_WhatIf_ChangesNothing()
    {
        using var ns = new PrivateNetworkNamespace();
        string before = ns.ReadSysctl("net/ipv4/tcp_keepalive_time");
        string persistPath = Path.Combine(Path.GetTempPath(), $"pskeepalive-whatif-{System.Guid.NewGuid():N}.conf");

        var result = CliRunner.Run("set", "--time", "42", "--netns", ns.Path, "--what-if", "--persist", "--persist-path", persistPath, "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using (var json = System.Text.Json.JsonDocument.Parse(result.StandardOutput))
        {
            Assert.Equal(42, json.RootElement.GetProperty("time").GetInt32());
            Assert.True(json.RootElement.GetProperty("whatIf").GetBoolean());
        }

        Assert.Contains("What if: set net.ipv4.tcp_keepalive_time = 42", result.StandardError);
        Assert.Equal(before, ns.ReadSysctl("net/ipv4/tcp_keepalive_time"));
        Assert.False(File.Exists(persistPath));
    }

    [RootFact]
    public void Set_Persist_WritesTheFileAndReportsIt()
    {
        using var ns = new PrivateNetworkNamespace();
        string directory = Path.Combine(Path.GetTempPath(), $"pskeepalive-cli-persist-{System.Guid.NewGuid():N}");
        string persistPath = Path.Combine(directory, "90-pskeepalive.conf");
        try
        {
            var result = CliRunner.Run("set", "--probes", "4", "--netns", ns.Path, "--persist", "--persist-path", persistPath, "--json");

            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("net.ipv4.tcp_keepalive_probes = 4\n", File.ReadAllText(persistPath));
            using var json = JsonDocument.Parse(result.StandardOutput);
            Assert.Equal(persistPath, json.RootElement.GetProperty("persistedTo").GetString());
            // A temporary directory is not one systemd-sysctl reads: the user is told.
            Assert.Contains("not read at boot", result.StandardError);
            Assert.Equal("4", ns.ReadSysctl("net/ipv4/tcp_keepalive_probes"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [RootFact]
    public void Set_PersistPathAlone_ImpliesPersist()
    {
        // Naming the file says where to persist; it used to be ignored without --persist.
        using var ns = new PrivateNetworkNamespace();
        string persistPath = Path.Combine(Path.GetTempPath(), $"pskeepalive-cli-persist-{System.Guid.NewGuid():N}.conf");
        try
        {
            var result = CliRunner.Run("set", "--probes", "5", "--netns", ns.Path, "--persist-path", persistPath);

            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("net.ipv4.tcp_keepalive_probes = 5\n", File.ReadAllText(persistPath));
        }
        finally
        {
            File.Delete(persistPath);
        }
    }

    [Fact]
    public void Settings_BadNamespace_ExitsOneWithAClearMessage()
    {
        var result = CliRunner.Run("settings", "--netns", "/etc/hostname");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("not a network namespace", result.StandardError);
        Assert.Contains("NetworkNamespaceInvalidTarget", result.StandardError);
    }

    private static int ReadProc(string name) => int.Parse(File.ReadAllText("/proc/sys/net/ipv4/" + name).Trim());
}
