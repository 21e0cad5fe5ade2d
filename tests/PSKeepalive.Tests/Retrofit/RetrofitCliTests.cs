using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Retrofit;

/// <summary>`pskeepalive enable/disable --pid` end to end, always against the python3 child the test started.</summary>
public sealed class RetrofitCliTests
{
    [RootFact]
    public void Enable_Pid_TheChildSeesExactlyTheNewValues_AndTheKeepaliveTimerRuns()
    {
        using var child = new SocketHolderChild(connections: 2);

        var run = CliRunner.Run("enable", "--pid", child.Pid.ToString(), "--idle", "1", "--interval", "1", "--count", "2", "--user-timeout", "4000", "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        var results = JsonDocument.Parse(run.StandardOutput).RootElement.EnumerateArray().ToList();
        Assert.Equal(3, results.Count); // two connections and the listener; not the UDP socket
        Assert.All(results, r =>
        {
            Assert.Equal("Applied", r.GetProperty("outcome").GetString());
            Assert.Equal(child.Pid, r.GetProperty("pid").GetInt32());
            Assert.False(r.GetProperty("before").GetProperty("enabled").GetBoolean());
            Assert.True(r.GetProperty("after").GetProperty("enabled").GetBoolean());
            Assert.Equal(1, r.GetProperty("after").GetProperty("idle").GetInt32());
            Assert.Equal(4000, r.GetProperty("after").GetProperty("userTimeout").GetInt32());
        });
        Assert.Equal(
            child.Connections.Select(c => c.Inode).Append(child.Listener.Inode).OrderBy(i => i),
            results.Select(r => r.GetProperty("inode").GetUInt64()).OrderBy(i => i));
        Assert.All(child.Options().Values, o => Assert.Equal(new ChildOptions(true, 1, 1, 2, 4000), o));
        foreach (HeldSocket held in child.Connections)
        {
            Assert.Contains("timer:(keepalive", RetrofitCoreTests.Ss(held.LocalPort));
        }
    }

    [RootFact]
    public void Disable_Pid_SwitchesItOff_AndTableOutputNamesEverySocket()
    {
        using var child = new SocketHolderChild(connections: 1);
        Assert.Equal(0, CliRunner.Run("enable", "--pid", child.Pid.ToString(), "--idle", "300").ExitCode);
        Assert.True(child.Options()[child.Connections[0].Fd].Enabled);

        var run = CliRunner.Run("disable", "--pid", child.Pid.ToString());

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Applied", run.StandardOutput);
        Assert.Contains($"127.0.0.1:{child.Connections[0].LocalPort}", run.StandardOutput);
        Assert.Contains("on 300/", run.StandardOutput); // before
        Assert.Contains("off", run.StandardOutput);     // after
        Assert.All(child.Options().Values, o => Assert.False(o.Enabled));
        Assert.All(child.Options().Values, o => Assert.Equal(300, o.Idle));
    }

    [RootFact]
    public void Enable_WhatIf_ChangesNothing()
    {
        using var child = new SocketHolderChild(connections: 2);
        var before = child.Options();

        var run = CliRunner.Run("enable", "--pid", child.Pid.ToString(), "--idle", "5", "--what-if", "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(0, JsonDocument.Parse(run.StandardOutput).RootElement.GetArrayLength());
        Assert.Equal(3, run.StandardError.Split('\n').Count(l => l.StartsWith("What if: Set SO_KEEPALIVE=1, TCP_KEEPIDLE=5 on process " + child.Pid, StringComparison.Ordinal)));
        Assert.Equal(before, child.Options());
    }

    [RootFact]
    public void Enable_OutOfRange_ExitsTwo_AndChangesNothing()
    {
        using var child = new SocketHolderChild(connections: 1);
        var before = child.Options();

        var run = CliRunner.Run("enable", "--pid", child.Pid.ToString(), "--count", "128");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("Count must be between 1 and 127", run.StandardError);
        Assert.Contains("SocketInvalidArgument", run.StandardError);
        Assert.Equal(before, child.Options());
    }

    [Fact]
    public void Enable_WithoutPid_IsAParseError()
    {
        var run = CliRunner.Run("enable", "--idle", "60");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--pid", run.StandardError);
    }

    [RootFact]
    public void Enable_VanishedProcess_ExitsOne_WithNotFound()
    {
        var child = new SocketHolderChild(connections: 1);
        int pid = child.Pid;
        child.Dispose();

        var run = CliRunner.Run("enable", "--pid", pid.ToString());

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("ProcessNotFound", run.StandardError);
        Assert.Contains(pid.ToString(), run.StandardError);
    }

    /// <summary>An unprivileged user (nobody, via setpriv) against a process of root: a clear permission message, exit 1.</summary>
    [RootFact]
    public void Enable_AsNobody_AgainstRootsProcess_ExitsOne_NamingThePrivilege()
    {
        using var child = new SocketHolderChild(connections: 1);
        var before = child.Options();

        var run = RunAsNobody("enable", "--pid", child.Pid.ToString(), "--idle", "60");

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("ProcessPermissionDenied", run.StandardError);
        Assert.Contains("CAP_SYS_PTRACE", run.StandardError);
        Assert.Contains("root", run.StandardError);
        Assert.Equal(before, child.Options());
    }

    internal static CliResult RunAsNobody(params string[] arguments)
    {
        var start = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", CliRunner.DllPath }.Concat(arguments))
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["HOME"] = "/tmp";
        start.Environment["DOTNET_CLI_HOME"] = "/tmp";
        using var process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill();
            throw new TimeoutException("pskeepalive as nobody did not exit within 60 s.");
        }

        process.WaitForExit();
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }
}
