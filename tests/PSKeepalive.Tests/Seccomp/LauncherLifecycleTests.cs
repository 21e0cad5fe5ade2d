using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Seccomp;

/// <summary>
/// The launchers (pskeepalive-seccomp, and `pskeepalive run` with either method) under hostile conditions: started
/// with SIGCHLD ignored, signalled after their program's process ID was reused, signalled with kill() rather than
/// from a terminal, and asked to stop while descendants of the program still run.
/// </summary>
public sealed class LauncherLifecycleTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static readonly Dictionary<string, string> NoOptions = new();

    /// <summary>python3 that ignores SIGCHLD and execs the rest of its arguments, as in the reproduction.</summary>
    private const string IgnoringSigchld =
        "import signal, os, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execvp(sys.argv[1], sys.argv[1:])";

    /// <summary>The command that starts a launcher: the C launcher itself, or `pskeepalive run --method M --`.</summary>
    public static string[] Launcher(string which) => which switch
    {
        "launcher" => [LauncherProcess.LauncherPath],
        "run-preload" => ["dotnet", Support.CliRunner.DllPath, "run", "--method", "preload", "--"],
        "run-seccomp" => ["dotnet", Support.CliRunner.DllPath, "run", "--method", "seccomp", "--"],
        _ => throw new ArgumentOutOfRangeException(nameof(which)),
    };

    private static LauncherProcess StartUnderIgnoredSigchld(string which, params string[] program) =>
        LauncherProcess.StartProgram(PreloadPython, NoOptions, ["-c", IgnoringSigchld, .. Launcher(which), .. program]);

    private static string PreloadPython => Preload.PreloadPrograms.Python;

    [Theory]
    [InlineData("launcher")]
    [InlineData("run-preload")]
    [InlineData("run-seccomp")]
    public void StartedWithSigchldIgnored_TheLauncherEndsWithTheProgramsStatus(string which)
    {
        using LauncherProcess launcher = StartUnderIgnoredSigchld(which, "sh", "-c", "exit 7");
        launcher.Process.StandardInput.Close();
        LauncherResult result = launcher.WaitForExit(Bound);
        Assert.True(result.ExitCode == 7, result.ToString());
    }

    [Theory]
    [InlineData("launcher")]
    [InlineData("run-preload")]
    [InlineData("run-seccomp")]
    public void StartedWithSigchldIgnored_TheProgramStartsWithSigchldAtItsDefault(string which)
    {
        // POSIX leaves an ignored SIGCHLD's inheritance across exec unspecified; a program that inherits it cannot
        // wait() for its own children.
        using LauncherProcess launcher = StartUnderIgnoredSigchld(which, "grep", "SigIgn", "/proc/self/status");
        launcher.Process.StandardInput.Close();
        LauncherResult result = launcher.WaitForExit(Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        const ulong sigchld = 1UL << (17 - 1);
        Assert.Equal(0UL, IgnoredMask(result.StandardOutput) & sigchld);
    }

    [RootTheory]
    [InlineData("launcher")]
    [InlineData("run-preload")]
    [InlineData("run-seccomp")]
    public void SignalAfterTheProgramsPidWasReused_NeverReachesTheNewOwner(string which)
    {
        // In a private PID namespace (PID 1 is the python below; every process in it dies with it), the launcher
        // starts under a parent that ignores SIGCHLD and runs a program that exits at once. Its PID is then handed
        // to an unrelated `sleep` through ns_last_pid, and the launcher, if still running, gets SIGTERM.
        const string scenario = """
import os, signal, subprocess, sys, time
pidfile = sys.argv[1]
launcher = sys.argv[2:]
def ignore_sigchld():
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
p = subprocess.Popen(launcher + ["sh", "-c", 'echo $$ > "$0"; exit 0', pidfile], preexec_fn=ignore_sigchld)
deadline = time.monotonic() + 20
child = 0
while child == 0 and time.monotonic() < deadline:
    try:
        child = int(open(pidfile).read().strip() or 0)
    except (FileNotFoundError, ValueError):
        time.sleep(0.02)
while time.monotonic() < deadline:
    try:
        os.kill(child, 0)
        time.sleep(0.02)
    except ProcessLookupError:
        break
stranger = None
for attempt in range(50):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(child - 1))
    s = subprocess.Popen(["sleep", "30"])
    if s.pid == child:
        stranger = s
        break
    s.kill()
    s.wait()
if stranger is None:
    print("could not reuse pid", child)
    sys.exit(3)
if p.poll() is None:
    os.kill(p.pid, signal.SIGTERM)
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        pass
time.sleep(0.3)
print("stranger", "alive" if stranger.poll() is None else "killed by %d" % -stranger.returncode)
print("launcher", "running" if p.poll() is None else "exited %d" % p.returncode)
sys.stdout.flush()
""";
        string directory = CCompiler.NewDirectory();
        string pidfile = Path.Combine(directory, "child.pid");
        using LauncherProcess unshare = LauncherProcess.StartProgram(
            "unshare",
            NoOptions,
            ["--pid", "--fork", "--kill-child", PreloadPython, "-c", scenario, pidfile, .. Launcher(which)]);
        unshare.Process.StandardInput.Close();
        LauncherResult result = unshare.WaitForExit(TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("stranger alive", result.StandardOutput, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run-preload", 2)]
    [InlineData("run-preload", 3)]
    [InlineData("run-seccomp", 2)]
    [InlineData("run-seccomp", 3)]
    [InlineData("launcher", 2)]
    public void SignalSentWithKill_IsPassedOnToTheProgram(string which, int signal)
    {
        // Not from a terminal: nothing else delivers it to the program, so the launcher must (SIGINT 2, SIGQUIT 3).
        string[] command = Launcher(which);
        using LauncherProcess launcher = LauncherProcess.StartProgram(command[0], NoOptions, [.. command[1..], "sh", "-c", "echo ready; exec sleep 30"]);
        Assert.Equal("ready", launcher.ReadLine(Bound));
        launcher.Signal(signal);
        LauncherResult result = launcher.WaitForExit(TimeSpan.FromSeconds(10));
        Assert.True(result.ExitCode == 128 + signal, result.ToString());
    }

    [Theory]
    [InlineData("launcher")]
    [InlineData("run-seccomp")]
    public void StopRequest_AfterTheProgramExited_EndsTheSupervisor_WhileDescendantsStillRun(string which)
    {
        string[] command = Launcher(which);
        using LauncherProcess launcher = LauncherProcess.StartProgram(
            command[0], NoOptions, [.. command[1..], "sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!; exit 5"]);
        string? line = launcher.ReadLine(Bound);
        Assert.NotNull(line);
        int orphan = int.Parse(line!, CultureInfo.InvariantCulture);
        try
        {
            Assert.Null(launcher.ReadLine(TimeSpan.FromMilliseconds(500))); // the program has exited by now
            Assert.False(launcher.Process.HasExited, "the supervisor serves the descendant until asked to stop");
            var clock = Stopwatch.StartNew();
            launcher.Signal(SeccompTestLibc.SIGTERM);
            LauncherResult result = launcher.WaitForExit(TimeSpan.FromSeconds(10));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), result.ToString());
            Assert.True(result.ExitCode == 5, result.ToString()); // the program's status
            Assert.Contains("lose their supervisor", result.StandardError, StringComparison.Ordinal);
        }
        finally
        {
            SeccompTestLibc.Kill(orphan, SeccompTestLibc.SIGKILL);
        }
    }

    [Fact]
    public void StopRequest_PassedOnToTheProgram_AlsoEndsTheSupervisorWhenTheProgramExits()
    {
        // The program dies of the forwarded SIGTERM and leaves a descendant: the request was to stop, so the
        // supervisor does not stay for the descendant.
        using LauncherProcess launcher = LauncherProcess.Start(NoOptions, "sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!; exec sleep 30");
        string? line = launcher.ReadLine(Bound);
        Assert.NotNull(line);
        int orphan = int.Parse(line!, CultureInfo.InvariantCulture);
        try
        {
            launcher.Signal(SeccompTestLibc.SIGTERM);
            LauncherResult result = launcher.WaitForExit(TimeSpan.FromSeconds(10));
            Assert.True(result.ExitCode == 128 + SeccompTestLibc.SIGTERM, result.ToString());
            Assert.True(result.Elapsed < TimeSpan.FromSeconds(10), result.ToString());
        }
        finally
        {
            SeccompTestLibc.Kill(orphan, SeccompTestLibc.SIGKILL);
        }
    }

    [Theory]
    [InlineData("launcher", false)]
    [InlineData("launcher", true)]
    [InlineData("run-preload", false)]
    [InlineData("run-preload", true)]
    public void CtrlC_FromTheTerminal_ReachesTheProgramOnce(string which, bool programInItsOwnSession)
    {
        // On a pseudo-terminal the launcher is the foreground process group: Ctrl-C signals it and, when the program
        // shares its group, the program too; the launcher passes it on only when the program is elsewhere (setsid).
        const string terminal = """
import os, pty, sys, time
pid, master = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
output = b""
deadline = time.monotonic() + 25
sent = False
while time.monotonic() < deadline:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    output += chunk
    if not sent and b"ready" in output:
        time.sleep(0.3)
        os.write(master, b"\x03")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(output.decode(errors="replace"))
print("status", os.waitstatus_to_exitcode(status))
""";
        // The program counts the SIGINTs it gets for a second and a half after saying it is ready.
        const string counter = """
import signal, sys, time
count = 0
def handler(signum, frame):
    global count
    count += 1
signal.signal(signal.SIGINT, handler)
print("ready", flush=True)
end = time.monotonic() + 1.5
while time.monotonic() < end:
    time.sleep(0.05)
print("sigint count", count, flush=True)
""";
        string[] program = programInItsOwnSession
            ? ["setsid", PreloadPython, "-c", counter]
            : [PreloadPython, "-c", counter];
        using LauncherProcess launcher = LauncherProcess.StartProgram(PreloadPython, NoOptions, ["-c", terminal, .. Launcher(which), .. program]);
        launcher.Process.StandardInput.Close();
        LauncherResult result = launcher.WaitForExit(Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("sigint count 1", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("status 0", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void LdPreloadOption_IsSetForTheProgramOnly_AndExecKeepsTheProcessId()
    {
        string shim = PSKeepalive.Core.Launch.PreloadLauncher.LocateLibrary();
        LauncherResult supervised = LauncherProcess.Run(NoOptions, Bound, "--ld-preload", shim, "--", "sh", "-c", "echo \"$LD_PRELOAD\"; tr '\\0' '\\n' < /proc/$PPID/environ | grep -c '^LD_PRELOAD=' || true");
        Assert.True(supervised.ExitCode == 0, supervised.ToString());
        Assert.Equal([shim, "0"], supervised.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        using LauncherProcess exec = LauncherProcess.Start(NoOptions, "--exec", "--ld-preload", shim, "--", "sh", "-c", "echo $$");
        exec.Process.StandardInput.Close();
        LauncherResult result = exec.WaitForExit(Bound);
        Assert.Equal(exec.Pid.ToString(CultureInfo.InvariantCulture), result.StandardOutput.Trim());
    }

    private static ulong IgnoredMask(string output)
    {
        string line = output.Split('\n').FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("no SigIgn line in: " + output);
        return ulong.Parse(line["SigIgn:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
