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
            Assert.Contains("timer:(keepalive", RetrofitCoreTests.Ss(held.LocalPort, child.ListenerPort));
        }
    }

    /// <summary>
    /// End to end through the CLI: two children, each holding one connection without keepalive; both peers (the
    /// test's sockets) go deaf. `enable --pid` on the first (idle 1, interval 1, count 2) makes its connection
    /// die with ETIMEDOUT about 3 s after its last data; the untouched twin in the other child stays up.
    /// </summary>
    [RootFact]
    public void Enable_Pid_DeafPeer_ConnectionDiesInIdlePlusIntervalTimesCount_TwinSurvives()
    {
        using var fixedChild = new SocketHolderChild(connections: 1);
        using var twinChild = new SocketHolderChild(connections: 1);
        HeldSocket fixedOne = fixedChild.Connections[0], twin = twinChild.Connections[0];
        var peer = fixedChild.PeerOf(fixedOne);
        peer.Send(new byte[] { 1 });
        double lastData = fixedChild.WaitData(fixedOne.Fd, TimeSpan.FromSeconds(10));
        System.Threading.Thread.Sleep(100); // the child's ACK reaches the peer before it goes deaf
        PSKeepalive.Core.SelfTest.DeafPeer.AttachDropAll(peer.SafeHandle, "test peer");
        PSKeepalive.Core.SelfTest.DeafPeer.AttachDropAll(twinChild.PeerOf(twin).SafeHandle, "test peer");

        var run = CliRunner.Run("enable", "--pid", fixedChild.Pid.ToString(), "--idle", "1", "--interval", "1", "--count", "2");
        Assert.True(run.ExitCode == 0, run.ToString());

        var closed = fixedChild.WaitClosed(fixedOne.Fd, TimeSpan.FromSeconds(15));
        Assert.NotNull(closed);
        Assert.Equal(110, closed!.Value.Errno); // ETIMEDOUT
        Assert.InRange(closed.Value.Time - lastData, 2.5, 6.0);
        Assert.False(twinChild.HasClosed(twin.Fd));
        Assert.False(twinChild.Options()[twin.Fd].Enabled);
        Assert.Contains(":" + twin.LocalPort, RetrofitCoreTests.Ss(twin.LocalPort, twinChild.ListenerPort)); // still ESTABLISHED
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
        Assert.Contains("--count must be between 1 and 127", run.StandardError);
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

    [RootFact]
    public void Connections_IncludeSocketOption_AgreesWithTheChild_BeforeAndAfterEnable()
    {
        using var child = new SocketHolderChild(connections: 2);
        string pid = child.Pid.ToString();

        var before = ListWithOptions(pid);
        Assert.Equal(3, before.Count); // two connections and the listener
        Assert.All(before, c =>
        {
            Assert.False(c.GetProperty("keepaliveEnabled").GetBoolean());
            Assert.True(c.GetProperty("noKeepalive").GetBoolean()); // exact, the LISTEN socket included
        });

        Assert.Equal(0, CliRunner.Run("enable", "--pid", pid, "--idle", "42", "--interval", "7", "--count", "5", "--user-timeout", "9000").ExitCode);

        var after = ListWithOptions(pid);
        var own = child.Options();
        Assert.Equal(3, after.Count);
        foreach (JsonElement c in after)
        {
            HeldSocket held = child.Connections.Append(child.Listener).Single(h => h.Inode == c.GetProperty("inode").GetUInt64());
            ChildOptions o = own[held.Fd];
            Assert.Equal(new ChildOptions(true, 42, 7, 5, 9000), o);
            Assert.Equal(
                o,
                new ChildOptions(
                    c.GetProperty("keepaliveEnabled").GetBoolean(),
                    c.GetProperty("idle").GetInt32(),
                    c.GetProperty("interval").GetInt32(),
                    c.GetProperty("probeCount").GetInt32(),
                    c.GetProperty("userTimeout").GetInt32()));
            Assert.False(c.GetProperty("noKeepalive").GetBoolean());
            if (c.GetProperty("state").GetString() == "listen")
            {
                Assert.Equal(child.Listener.Inode, held.Inode);
            }
            else
            {
                Assert.Equal("keepalive", c.GetProperty("timer").GetString()); // the kernel's keepalive timer runs
            }
        }

        // --no-keepalive with exact options: none of the child's sockets is without keepalive now.
        var none = CliRunner.Run("connections", "--process", pid, "--include-socket-option", "--no-keepalive", "--json");
        Assert.True(none.ExitCode == 0, none.ToString());
        Assert.Equal(0, JsonDocument.Parse(none.StandardOutput).RootElement.GetArrayLength());
    }

    [RootFact]
    public void Close_ClosesOnlyTheChosenConnection_PeerSeesReset()
    {
        using var child = new SocketHolderChild(connections: 2);
        HeldSocket doomed = child.Connections[0], twin = child.Connections[1];
        string[] filter = { "close", "--process", child.Pid.ToString(), "--local-port", doomed.LocalPort.ToString() };

        var preview = CliRunner.Run(filter.Append("--what-if").ToArray());
        Assert.True(preview.ExitCode == 0, preview.ToString());
        Assert.Contains($"What if: Close", preview.StandardError);
        Assert.Contains($":{doomed.LocalPort} -> ", preview.StandardError);
        Assert.Null(child.WaitClosed(doomed.Fd, TimeSpan.FromMilliseconds(300)));

        var run = CliRunner.Run(filter.Append("--json").ToArray());

        Assert.True(run.ExitCode == 0, run.ToString());
        var result = Assert.Single(JsonDocument.Parse(run.StandardOutput).RootElement.EnumerateArray());
        Assert.Equal("Closed", result.GetProperty("outcome").GetString());
        Assert.Equal(doomed.Inode, result.GetProperty("inode").GetUInt64());
        Assert.Equal(103, child.WaitClosed(doomed.Fd, TimeSpan.FromSeconds(10))!.Value.Errno); // ECONNABORTED
        var peer = child.PeerOf(doomed);
        peer.ReceiveTimeout = 5000;
        var error = Assert.Throws<System.Net.Sockets.SocketException>(() => peer.Receive(new byte[8]));
        Assert.Equal(System.Net.Sockets.SocketError.ConnectionReset, error.SocketErrorCode);
        Assert.False(child.HasClosed(twin.Fd));
        Assert.True(child.Options().ContainsKey(twin.Fd));
    }

    [Fact]
    public void Close_WithoutAnyFilter_IsRefused()
    {
        var run = CliRunner.Run("close", "--what-if");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("at least one filter", run.StandardError);
        Assert.Contains("every TCP connection", run.StandardError);
    }

    [RootFact]
    public void Close_AsNobody_ExitsOne_NamingCapNetAdmin()
    {
        using var child = new SocketHolderChild(connections: 1);
        HeldSocket held = child.Connections[0];

        var run = RunAsNobody("close", "--local-address", "127.0.0.1", "--local-port", held.LocalPort.ToString(), "--remote-port", child.ListenerPort.ToString());

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("CAP_NET_ADMIN", run.StandardError);
        Assert.Contains("ConnectionPermissionDenied", run.StandardError);
        Assert.Null(child.WaitClosed(held.Fd, TimeSpan.FromMilliseconds(300)));
    }

    /// <summary>
    /// nobody against a program of nobody: allowed exactly when Yama does not restrict ptrace (absent, or
    /// kernel.yama.ptrace_scope 0); otherwise refused with the setting named. Asserts whichever applies here.
    /// </summary>
    [RootFact]
    public void Enable_AsNobody_AgainstNobodysProcess_FollowsThePtraceRules()
    {
        using var child = new SocketHolderChild(connections: 1, asNobody: true);
        string scopeFile = "/proc/sys/kernel/yama/ptrace_scope";
        bool restricted = System.IO.File.Exists(scopeFile) && System.IO.File.ReadAllText(scopeFile).Trim() != "0";

        var run = RunAsNobody("enable", "--pid", child.Pid.ToString(), "--idle", "33", "--json");

        if (restricted)
        {
            Assert.True(run.ExitCode == 1, run.ToString());
            Assert.Contains("ptrace_scope", run.StandardError);
            Assert.False(child.Options()[child.Connections[0].Fd].Enabled);
        }
        else
        {
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.All(JsonDocument.Parse(run.StandardOutput).RootElement.EnumerateArray(), r => Assert.Equal("Applied", r.GetProperty("outcome").GetString()));
            Assert.Equal(new ChildOptions(true, 33, child.Options()[child.Connections[0].Fd].Interval, child.Options()[child.Connections[0].Fd].Count, 0), child.Options()[child.Connections[0].Fd]);
        }
    }

    private static List<JsonElement> ListWithOptions(string pid)
    {
        var run = CliRunner.Run("connections", "--process", pid, "--include-socket-option", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        return JsonDocument.Parse(run.StandardOutput).RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    internal static CliResult RunAsNobody(params string[] arguments)
    {
        var start = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Run from a copy nobody can read: the clone itself may be in a folder only its owner can enter.
        foreach (string a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", OtherUsersCopy.WithItsFolder(CliRunner.DllPath) }.Concat(arguments))
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
