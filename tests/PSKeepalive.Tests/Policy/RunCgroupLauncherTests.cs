using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using PSKeepalive.Tests.Preload;
using PSKeepalive.Tests.Seccomp;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Policy;

/// <summary>
/// The C launcher's cgroup method (pskeepalive-seccomp --run-cgroup DIR, what `run --method cgroup` execs): the
/// program runs in DIR, DIR goes when the program ends unless processes it left behind still run there, and
/// nothing but an empty cgroup made for the run is ever taken or removed.
/// </summary>
public sealed class RunCgroupLauncherTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static readonly Dictionary<string, string> NoOptions = new();

    /// <summary>python3: a process group of its own with eight children, then one SIGKILL to the whole group.</summary>
    internal const string KillsItsWholeGroup = """
import os, signal, time
os.setpgid(0, 0)
for _ in range(8):
    if os.fork() == 0:
        time.sleep(30)
        os._exit(0)
os.killpg(0, signal.SIGKILL)
""";

    [CgroupFact]
    public void ProcessesThatEndTogetherWithTheProgram_DoNotKeepTheCgroup()
    {
        // Without the launcher's short grace the program is reaped while its children are still leaving, and the
        // cgroup stays behind (17 of 20 runs here): three rounds make a pass by luck unlikely.
        for (int round = 0; round < 3; round++)
        {
            using var cgroup = new ThrowawayCgroup();
            LauncherResult result = LauncherProcess.Run(NoOptions, Bound, "--run-cgroup", cgroup.Path, "--", PreloadPrograms.Python, "-c", KillsItsWholeGroup);

            Assert.True(result.ExitCode == 128 + 9, result.ToString());
            Assert.False(Directory.Exists(cgroup.Path), $"round {round}: the cgroup stayed: {result}");
            Assert.Equal(string.Empty, result.StandardError);
        }
    }

    [CgroupFact]
    public void ProcessesLeftRunning_KeepTheCgroup_AndTheLauncherSaysSo_WithoutWaitingForThem()
    {
        using var cgroup = new ThrowawayCgroup();
        LauncherResult result = LauncherProcess.Run(NoOptions, Bound, "--run-cgroup", cgroup.Path, "--", "/bin/sh", "-c", "sleep 30 >/dev/null 2>&1 & exit 3");

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(10), result.ToString());
        Assert.Contains("still run in " + cgroup.Path, result.StandardError, StringComparison.Ordinal);
        Assert.Single(cgroup.Processes()); // the sleep; Dispose ends it
    }

    [Fact]
    public void ADirectoryThatIsNotACgroup_IsRefused_NothingRuns_AndItIsKept()
    {
        string directory = CCompiler.NewDirectory();
        string marker = Path.Combine(directory, "ran");

        LauncherResult result = LauncherProcess.Run(NoOptions, Bound, "--run-cgroup", directory, "--", "/bin/sh", "-c", "touch \"$0\"", marker);

        Assert.True(result.ExitCode == 125, result.ToString());
        Assert.Contains("not a cgroup v2 directory", result.StandardError, StringComparison.Ordinal);
        Assert.True(Directory.Exists(directory));
        Assert.False(File.Exists(marker));
    }

    [CgroupFact]
    public void ACgroupWithProcesses_IsRefused_AndKeptWithThem()
    {
        using var cgroup = new ThrowawayCgroup();
        using var resident = System.Diagnostics.Process.Start(cgroup.StartInfo("sleep", "30"))!;
        var deadline = DateTime.UtcNow + Bound;
        while (cgroup.Processes().Count == 0 && DateTime.UtcNow < deadline)
        {
            System.Threading.Thread.Sleep(20);
        }

        LauncherResult result = LauncherProcess.Run(NoOptions, Bound, "--run-cgroup", cgroup.Path, "--", "/bin/true");

        Assert.True(result.ExitCode == 125, result.ToString());
        Assert.Contains("has processes", result.StandardError, StringComparison.Ordinal);
        Assert.Equal([resident.Id], cgroup.Processes());
    }

    [CgroupFact]
    public void WithExec_TheLauncherMovesInAndBecomesTheProgram_LeavingTheCgroupToTheCaller()
    {
        using var cgroup = new ThrowawayCgroup();
        LauncherResult result;
        int pid;
        using (LauncherProcess exec = LauncherProcess.Start(NoOptions, "--run-cgroup", cgroup.Path, "--exec", "--", "/bin/sh", "-c", "echo $$; grep ^0:: /proc/self/cgroup"))
        {
            exec.Process.StandardInput.Close();
            result = exec.WaitForExit(Bound);
            pid = exec.Pid;
        }

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal([pid.ToString(CultureInfo.InvariantCulture), "0::" + cgroup.CgroupPath], result.StandardOutput.Split('\n'));
        Assert.True(Directory.Exists(cgroup.Path), "--exec leaves the cgroup to its caller");
    }

    [CgroupFact]
    public void TheSettingsVariables_AreNotRead_AndReachTheProgramAsTheyAre()
    {
        // The policy carries the values: an invalid PSKEEPALIVE_IDLE is the program's business, and PSKEEPALIVE_OFF
        // does not start it outside the cgroup.
        using var cgroup = new ThrowawayCgroup();
        var environment = new Dictionary<string, string> { ["PSKEEPALIVE_IDLE"] = "soon", ["PSKEEPALIVE_OFF"] = "1" };

        LauncherResult result = LauncherProcess.Run(environment, Bound, "--run-cgroup", cgroup.Path, "--", "/bin/sh", "-c", "echo \"$PSKEEPALIVE_IDLE\"; grep ^0:: /proc/self/cgroup");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["soon", "0::" + cgroup.CgroupPath], result.StandardOutput.Split('\n'));
        Assert.False(Directory.Exists(cgroup.Path), "the run cgroup was not removed");
    }
}
