using System;
using System.IO;
using System.Linq;
using System.Threading;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Launch;
using PSKeepalive.Tests.Preload;
using PSKeepalive.Tests.Seccomp;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Policy;

/// <summary>
/// run --method cgroup (and Auto where available) and the Core behind it: the program runs in a cgroup of its own
/// with a policy, gets the options whatever it is, keeps its exit code and signals, and leaves nothing behind.
/// </summary>
public sealed class CgroupLaunchTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static readonly Lazy<string?> I386Probe = new(() =>
    {
        try
        {
            return CCompiler.Compile(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Policy", "fixtures", "policyprobe.c")), "policyprobe-i386", "-m32", "-static");
        }
        catch (InvalidOperationException)
        {
            return null; // no 32-bit toolchain: the test says so
        }
    });

    [CgroupTheory]
    [InlineData("dynamic")]
    [InlineData("static")]
    [InlineData("i386")]
    public void RunMethodCgroup_EveryKindOfProgram_GetsTheOptions_InACgroupOfItsOwn(string kind)
    {
        string? program = kind switch
        {
            "dynamic" => PolicyProbe.Dynamic,
            "static" => PolicyProbe.Static,
            _ => I386Probe.Value,
        };
        Assert.True(program is not null, "gcc -m32 -static failed: gcc-multilib is needed for the 32-bit probe");

        CliResult result = CliRunner.Run(
            ["run", "--method", "cgroup", "--idle", "74", "--interval", "8", "--count", "3", "--user-timeout", "4000", "--", "/bin/sh", "-c", "grep ^0:: /proc/self/cgroup; exec \"$0\" pair", program!],
            Bound);

        Assert.True(result.ExitCode == 0, result.ToString());
        var run = new ProgramRun(result.ExitCode, result.StandardOutput, result.StandardError);
        Assert.Matches(@"0::/.*" + CgroupLauncher.RunCgroupPrefix + @"\d+-\d+", result.StandardOutput);
        foreach (string end in new[] { "outgoing", "accepted" })
        {
            Assert.Equal((1, 74, 8, 3, 4000), (run[end]["so_keepalive"], run[end]["idle"], run[end]["intvl"], run[end]["cnt"], run[end]["user_timeout"]));
        }

        string cgroup = result.StandardOutput.Split('\n')[0][3..];
        Assert.False(Directory.Exists(ThrowawayCgroup.Mount + cgroup), "the run cgroup was not removed");
    }

    [CgroupFact]
    public void RunMethodAuto_AsRoot_ChoosesACgroup_AndPassesTheExitCode()
    {
        CliResult result = CliRunner.Run(["run", "--method", "auto", "--mode", "outgoing", "--idle", "75", "--", PolicyProbe.Static, "pair"], Bound);
        CliResult exit = CliRunner.Run(["run", "--method", "cgroup", "--", "/bin/sh", "-c", "exit 9"], Bound);

        var run = new ProgramRun(result.ExitCode, result.StandardOutput, result.StandardError);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(75, run["outgoing"]["idle"]);
        Assert.Equal(0, run["accepted"]["so_keepalive"]);
        Assert.Equal(9, exit.ExitCode);
    }

    [CgroupFact]
    public void SigtermToTheLauncher_ReachesTheProgram_AndTheCgroupIsRemoved()
    {
        using LauncherProcess cli = LauncherProcess.StartProgram(
            "dotnet", new System.Collections.Generic.Dictionary<string, string>(), CliRunner.DllPath, "run", "--method", "cgroup", "--",
            "/bin/sh", "-c", "echo ready $(grep ^0:: /proc/self/cgroup | cut -c4-); exec sleep 30");
        string? ready = cli.ReadLine(Bound);
        Assert.StartsWith("ready /", ready ?? string.Empty);
        string cgroup = ThrowawayCgroup.Mount + ready![6..];
        Assert.True(Directory.Exists(cgroup));

        cli.Signal(SeccompTestLibc.SIGTERM);

        Assert.Equal(128 + SeccompTestLibc.SIGTERM, cli.WaitForExit(Bound).ExitCode);
        Assert.False(Directory.Exists(cgroup), "the run cgroup was not removed");
    }

    [CgroupTheory]
    [InlineData(10, "USR1")]
    [InlineData(2, "INT")]
    public void SignalsSentWithKill_ReachTheProgram_WithoutATerminal(int signal, string name)
    {
        // No terminal here: a SIGINT can only come from kill(), so it is passed on like SIGUSR1 (pskeepalive-seccomp's rule).
        using LauncherProcess cli = LauncherProcess.StartProgram(
            "dotnet", new System.Collections.Generic.Dictionary<string, string>(), CliRunner.DllPath, "run", "--method", "cgroup", "--",
            "/bin/sh", "-c", $"trap 'echo got {name}; exit 42' {name}; echo ready; while :; do sleep 0.1; done");
        Assert.Equal("ready", cli.ReadLine(Bound));

        cli.Signal(signal);

        Assert.Equal("got " + name, cli.ReadLine(Bound));
        Assert.Equal(42, cli.WaitForExit(Bound).ExitCode);
    }

    [CgroupFact]
    public void RunMethodCgroup_BecomesTheCLauncher_WhichStartsTheProgramInTheCgroup_AndStaysOutside()
    {
        // One signal rule for every method: `run` execs pskeepalive-seccomp (same process ID), whose child moved in.
        using LauncherProcess cli = LauncherProcess.StartProgram(
            "dotnet", new System.Collections.Generic.Dictionary<string, string>(), CliRunner.DllPath, "run", "--method", "cgroup", "--",
            "/bin/sh", "-c", "echo $PPID; cat /proc/$PPID/comm; grep ^0:: /proc/$PPID/cgroup; grep ^0:: /proc/self/cgroup");
        cli.Process.StandardInput.Close();
        LauncherResult result = cli.WaitForExit(Bound);

        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = result.StandardOutput.Split('\n');
        Assert.Equal(cli.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), lines[0]);
        Assert.Equal("pskeepalive-sec", lines[1]); // comm: the first 15 bytes of pskeepalive-seccomp
        string outside = lines[2][3..].TrimEnd('/');
        Assert.Matches("^0::" + System.Text.RegularExpressions.Regex.Escape(outside) + "/" + CgroupLauncher.RunCgroupPrefix + @"\d+-\d+$", lines[3]);
        Assert.False(Directory.Exists(ThrowawayCgroup.Mount + lines[3][3..]), "the run cgroup was not removed");
    }

    [CgroupFact]
    public void RunMethodCgroup_InAPidNamespaceWithTheHostsProc_MakesTheRunCgroupBelowItsOwn()
    {
        // unshare --pid without --mount-proc: the CLI is PID 1 of its namespace, while /proc/1 is the host's init, so
        // its own cgroup must come from /proc/self, not /proc/{Environment.ProcessId}.
        using var cgroup = new ThrowawayCgroup();
        CliResult result = CliRunner.RunProgram(
            "/bin/sh",
            ["-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", cgroup.Path, "unshare", "--pid", "--fork", "--", "dotnet", CliRunner.DllPath,
             "run", "--method", "cgroup", "--", "/bin/sh", "-c", "grep ^0:: /proc/self/cgroup"],
            Bound);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches("^0::" + System.Text.RegularExpressions.Regex.Escape(cgroup.CgroupPath) + "/" + CgroupLauncher.RunCgroupPrefix + @"1-\d+$", result.StandardOutput.Trim());
    }

    [CgroupFact]
    public void ProcessesThatEndTogetherWithTheProgram_DoNotKeepTheCgroup_WhenTheCmdletWaits()
    {
        // Start-KeepaliveProcess's path (CgroupLauncher.Start, CgroupRun): the program and its children die of one
        // SIGKILL to their process group; the children may still be leaving when the program has been reaped.
        KeepaliveProcessLaunch launch = PreloadLauncher.Prepare(new KeepaliveLaunchRequest(PreloadPrograms.Python, ["-c", RunCgroupLauncherTests.KillsItsWholeGroup]) { Method = LaunchMethod.Cgroup });
        using CgroupRun run = CgroupLauncher.Start(launch);
        try
        {
            Assert.True(run.Process.WaitForExit((int)Bound.TotalMilliseconds));
            Assert.Equal(128 + 9, run.Process.WaitForExitCode());
            run.Dispose();

            Assert.Null(run.LeftBehind);
            Assert.False(Directory.Exists(run.Cgroup), "the run cgroup was not removed");
        }
        finally
        {
            _ = PSKeepalive.Core.Interop.Libc.RmDir(run.Cgroup);
        }
    }

    [CgroupFact]
    public void AParentThatIgnoresSigchld_DoesNotLoseTheExitCode()
    {
        // python3 sets SIGCHLD to SIG_IGN and execs the CLI, which inherits it (issue 15's hostile parent).
        CliResult result = CliRunner.Run(
            ["run", "--method", "cgroup", "--", PreloadPrograms.Python, "-c", "import signal, os, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execvp('dotnet', ['dotnet', sys.argv[1], 'run', '--method', 'cgroup', '--', 'sh', '-c', 'exit 7'])", CliRunner.DllPath],
            Bound);

        Assert.Equal(7, result.ExitCode);
    }

    [CgroupFact]
    public void ProcessesLeftBehind_KeepTheCgroupAndItsPolicy_UntilTheyEnd_ThenALaterStartSweepsIt()
    {
        CliResult result = CliRunner.Run(["run", "--method", "cgroup", "--idle", "76", "--", "/bin/sh", "-c", "grep ^0:: /proc/self/cgroup; sleep 3 & exit 0"], Bound);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("still run", result.StandardError);
        string cgroup = ThrowawayCgroup.Mount + result.StandardOutput.Trim()[3..];
        Assert.True(Directory.Exists(cgroup));
        Assert.Equal(76, Assert.Single(PSKeepalive.Core.Policy.TcpKeepalivePolicies.Get(PSKeepalive.Core.Cgroups.CgroupDirectory.Open(cgroup))).Idle);

        var deadline = DateTime.UtcNow + Bound;
        while (File.ReadAllText(Path.Combine(cgroup, "cgroup.procs")).Length > 0 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(100);
        }

        CgroupLauncher.SweepStale(Path.GetDirectoryName(cgroup)!);
        Assert.False(Directory.Exists(cgroup), "the empty run cgroup of a launcher that is gone was not swept");
    }

    [Fact]
    public void Choose_CgroupWhereUnavailable_IsRefusedWithTheReason_AutoFallsBack()
    {
        var request = new KeepaliveLaunchRequest("/bin/true", []) { Method = LaunchMethod.Cgroup };
        ProgramInspection inspection = ProgramInspector.Inspect("/bin/true");
        var unavailable = new CgroupSupportStatus(false, "Cgroup mode needs root: reason given.");
        var available = new CgroupSupportStatus(true, null);

        var e = Assert.Throws<KeepaliveNotSupportedException>(() => CgroupLauncher.Choose(request, inspection, () => unavailable));
        string? auto = CgroupLauncher.Choose(request with { Method = LaunchMethod.Auto }, inspection, () => unavailable);
        string? autoAvailable = CgroupLauncher.Choose(request with { Method = LaunchMethod.Auto }, inspection, () => available);
        string? preload = CgroupLauncher.Choose(request with { Method = LaunchMethod.Preload }, inspection, () => available);

        Assert.Equal("ProgramNotSupported", e.ErrorId);
        Assert.Contains("reason given", e.Message);
        Assert.Null(auto);
        Assert.NotNull(autoAvailable);
        Assert.Null(preload);
    }

    [Fact]
    public void Choose_CgroupWithoutRoot_IsRefusedAsAMissingPrivilege_NotAMissingFeature()
    {
        var request = new KeepaliveLaunchRequest("/bin/true", []) { Method = LaunchMethod.Cgroup };
        ProgramInspection inspection = ProgramInspector.Inspect("/bin/true");
        var notRoot = new CgroupSupportStatus(false, "Cgroup mode needs root: reason given.", NeedsPrivilege: true);

        var e = Assert.Throws<KeepalivePermissionException>(() => CgroupLauncher.Choose(request, inspection, () => notRoot));

        Assert.Equal("ProgramPermissionDenied", e.ErrorId);
        Assert.Contains("needs root", e.Message);
        Assert.Null(CgroupLauncher.Choose(request with { Method = LaunchMethod.Auto }, inspection, () => notRoot));
    }

    [Fact]
    public void Choose_AProgramTheKernelCannotRun_IsRefusedInCgroupMode_AndLeftToTheOthersUnderAuto()
    {
        string text = System.IO.Path.Combine(CCompiler.NewDirectory(), "not-a-program");
        File.WriteAllText(text, "neither ELF nor #!\n");
        File.SetUnixFileMode(text, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        ProgramInspection inspection = ProgramInspector.Inspect(text);
        var available = new CgroupSupportStatus(true, null);
        var request = new KeepaliveLaunchRequest(text, []) { Method = LaunchMethod.Cgroup };

        var e = Assert.Throws<KeepaliveInvalidTargetException>(() => CgroupLauncher.Choose(request, inspection, () => available));

        Assert.Equal("ProgramInvalidTarget", e.ErrorId);
        Assert.Null(CgroupLauncher.Choose(request with { Method = LaunchMethod.Auto }, inspection, () => available));
        Assert.NotNull(CgroupLauncher.Choose(request with { Force = true }, inspection, () => available));
    }

    [CgroupFact]
    public void WithoutRoot_CgroupModeIsNotAvailable_AndSaysWhy()
    {
        CgroupSupportStatus status = Unprivileged.Run(CgroupLauncher.CheckSupport);

        Assert.False(status.IsSupported);
        Assert.Contains("root", status.Reason);
        Assert.True(CgroupLauncher.CheckSupport().IsSupported, CgroupLauncher.CheckSupport().Reason);
    }
}
