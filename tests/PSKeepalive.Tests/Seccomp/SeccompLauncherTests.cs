using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Seccomp;

/// <summary>
/// pskeepalive-seccomp against the real kernel, with a statically linked probe (LD_PRELOAD cannot reach it):
/// the probe reads its own sockets' options back with getsockopt.
/// </summary>
public sealed class SeccompLauncherTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static readonly Dictionary<string, string> AllOptions = new()
    {
        ["PSKEEPALIVE_IDLE"] = "17",
        ["PSKEEPALIVE_INTERVAL"] = "4",
        ["PSKEEPALIVE_COUNT"] = "5",
        ["PSKEEPALIVE_USER_TIMEOUT"] = "6000",
    };

    private static Dictionary<string, string> With(Dictionary<string, string> baseline, params (string Key, string Value)[] more)
    {
        var result = new Dictionary<string, string>(baseline, StringComparer.Ordinal);
        foreach (var (key, value) in more)
        {
            result[key] = value;
        }

        return result;
    }

    private static void AssertApplied(ProbedOptions options, int idle = 17, int interval = 4, int count = 5, int userTimeout = 6000)
    {
        Assert.Equal(1, options.KeepAlive);
        Assert.Equal(idle, options.Idle);
        Assert.Equal(interval, options.Interval);
        Assert.Equal(count, options.Count);
        Assert.Equal(userTimeout, options.UserTimeout);
    }

    private static int HostKeepaliveTime() => int.Parse(File.ReadAllText("/proc/sys/net/ipv4/tcp_keepalive_time").Trim(), CultureInfo.InvariantCulture);

    [Fact]
    public void ProbeAloneHasNoKeepalive_ThePremise()
    {
        string output = CCompiler.RunToCompletion(SeccompProbe.Path, Bound, "loop4");
        var lines = ProbedOptions.All(output);
        Assert.Equal(3, lines.Count);
        Assert.All(lines.Values, o => Assert.Equal(0, o.KeepAlive));
    }

    [Theory]
    [InlineData("loop4")]
    [InlineData("loop6")]
    public void ModeAll_SetsEveryOptionExactly_OnConnectAndListen_AndAcceptInherits(string scenario)
    {
        LauncherResult result = LauncherProcess.Run(AllOptions, Bound, SeccompProbe.Path, scenario);
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = ProbedOptions.All(result.StandardOutput);
        AssertApplied(lines["listener"]);
        AssertApplied(lines["client"]);
        AssertApplied(lines["accepted"]);
    }

    [Fact]
    public void ModeOutgoing_TouchesConnectOnly()
    {
        LauncherResult result = LauncherProcess.Run(With(AllOptions, ("PSKEEPALIVE_MODE", "outgoing")), Bound, SeccompProbe.Path, "loop4");
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = ProbedOptions.All(result.StandardOutput);
        AssertApplied(lines["client"]);
        Assert.Equal(0, lines["listener"].KeepAlive);
        Assert.Equal(0, lines["accepted"].KeepAlive);
        Assert.Equal(0, lines["accepted"].UserTimeout);
    }

    [Fact]
    public void ModeListening_TouchesListenOnly_AcceptedSocketsInherit()
    {
        LauncherResult result = LauncherProcess.Run(With(AllOptions, ("PSKEEPALIVE_MODE", "LISTENING")), Bound, SeccompProbe.Path, "loop4");
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = ProbedOptions.All(result.StandardOutput);
        AssertApplied(lines["listener"]);
        AssertApplied(lines["accepted"]);
        Assert.Equal(0, lines["client"].KeepAlive);
        Assert.Equal(0, lines["client"].UserTimeout);
    }

    [Fact]
    public void WithoutTimingVariables_OnlySoKeepaliveIsSet_SysctlsApply()
    {
        LauncherResult result = LauncherProcess.Run(new Dictionary<string, string>(), Bound, SeccompProbe.Path, "loop4");
        Assert.True(result.ExitCode == 0, result.ToString());
        ProbedOptions client = ProbedOptions.All(result.StandardOutput)["client"];
        Assert.Equal(1, client.KeepAlive);
        Assert.Equal(HostKeepaliveTime(), client.Idle);
        Assert.Equal(0, client.UserTimeout);
    }

    [Fact]
    public void UdpSocket_IsLeftAlone()
    {
        // connect() on a UDP socket is notified too; the supervisor must see SOCK_DGRAM and leave it (SO_KEEPALIVE
        // is settable on a UDP socket, so a wrong touch would show as 1).
        LauncherResult result = LauncherProcess.Run(With(AllOptions, ("PSKEEPALIVE_DEBUG", "1")), Bound, SeccompProbe.Path, "udp", "9");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("udp so_keepalive=0", result.StandardOutput, StringComparison.Ordinal);
        Assert.Matches(@"connect\(\d+\): type 2, not SOCK_STREAM, left alone", result.StandardError);
    }

    [Fact]
    public void UnixSocket_IsLeftAlone()
    {
        LauncherResult result = LauncherProcess.Run(With(AllOptions, ("PSKEEPALIVE_DEBUG", "1")), Bound, SeccompProbe.Path, "unix");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("unix so_keepalive=0 listener_so_keepalive=0", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("family 1, not AF_INET/AF_INET6, left alone", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void CallsOnDescriptorsThatAreNotOpen_ContinueUntouched_TheProgramSeesItsOwnEBADF()
    {
        LauncherResult result = LauncherProcess.Run(With(AllOptions, ("PSKEEPALIVE_DEBUG", "1")), Bound, SeccompProbe.Path, "badfd");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("badfd connect errno=9 listen errno=9", result.StandardOutput.Trim());
        Assert.Matches(@"connect\(999\): pidfd_getfd: Bad file descriptor, left alone", result.StandardError);
        Assert.Contains("done: 2 notifications, 0 sockets set, 2 left alone, 0 failed; exit 0", result.StandardError, StringComparison.Ordinal);
    }

    [RootFact]
    public void NonDumpableProgram_UnderAnUnprivilegedSupervisor_IsLeftUntouched_NeverBlocked()
    {
        // pidfd_getfd needs ptrace access; a non-dumpable program (prctl(PR_SET_DUMPABLE, 0), as ssh-agent does) is
        // out of reach without CAP_SYS_PTRACE. The calls must still go through, unchanged; as root they are covered.
        string[] asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", OtherUsersCopy.Of(LauncherProcess.LauncherPath), SeccompProbe.Path, "nodump"];
        using LauncherProcess unprivileged = LauncherProcess.StartProgram("setpriv", With(AllOptions, ("PSKEEPALIVE_DEBUG", "1")), asNobody);
        LauncherResult result = unprivileged.WaitForExit(Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = ProbedOptions.All(result.StandardOutput);
        Assert.Equal(3, lines.Count);
        Assert.All(lines.Values, o => Assert.Equal(0, o.KeepAlive));
        Assert.Contains("pidfd_getfd: Operation not permitted", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("0 sockets set, 0 left alone, 2 failed; exit 0", result.StandardError, StringComparison.Ordinal);

        LauncherResult asRoot = LauncherProcess.Run(AllOptions, Bound, SeccompProbe.Path, "nodump");
        Assert.True(asRoot.ExitCode == 0, asRoot.ToString());
        AssertApplied(ProbedOptions.All(asRoot.StandardOutput)["client"]);
    }

    [Fact]
    public void ForkingServer_HandlersInheritTheListenersOptions_AndChildrensConnectsAreCovered_AcrossForkAndExec()
    {
        const int clients = 4;
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        int backendPort = ((IPEndPoint)backend.LocalEndpoint).Port;
        Task<List<Socket>> accepting = Task.Run(() =>
        {
            var held = new List<Socket>();
            for (int i = 0; i < clients; i++)
            {
                held.Add(backend.AcceptSocket());
            }

            return held;
        });

        using LauncherProcess server = LauncherProcess.Start(AllOptions, SeccompProbe.Path, "forkserver", clients.ToString(CultureInfo.InvariantCulture), backendPort.ToString(CultureInfo.InvariantCulture));
        string? portLine = server.ReadLine(Bound);
        Assert.NotNull(portLine);
        int port = int.Parse(portLine!.Split(' ')[1], CultureInfo.InvariantCulture);
        var sockets = new List<TcpClient>();
        try
        {
            for (int i = 0; i < clients; i++)
            {
                var client = new TcpClient();
                client.Connect(IPAddress.Loopback, port);
                sockets.Add(client);
            }

            LauncherResult result = server.WaitForExit(Bound);
            Assert.True(result.ExitCode == 0, result.ToString());
            var lines = ProbedOptions.All(result.StandardOutput);
            for (int i = 0; i < clients; i++)
            {
                AssertApplied(lines[$"handler{i}"]);
                AssertApplied(lines[$"backend{i}"]); // odd i: the child exec'd the probe again before connecting
            }

            Assert.True(accepting.Wait(Bound), "the backend did not see every child's connection");
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
            if (accepting.IsCompletedSuccessfully)
            {
                accepting.Result.ForEach(s => s.Dispose());
            }
        }
    }

    [Fact]
    public void Threads_ConnectingAtOnce_AreEachCovered()
    {
        // The notification names the calling thread; pidfd_open of a non-leader thread needs PIDFD_THREAD (6.9).
        LauncherResult result = LauncherProcess.Run(AllOptions, Bound, SeccompProbe.Path, "threads", "16");
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = ProbedOptions.All(result.StandardOutput);
        Assert.Equal(16, lines.Count);
        Assert.All(lines.Values, o => AssertApplied(o));
    }

    [Theory]
    [InlineData("loop4")]
    [InlineData("threads", "8")]
    [InlineData("unix")]
    public void SanitizedLauncher_ReportsNothing(params string[] scenario)
    {
        // The launcher built with AddressSanitizer and UndefinedBehaviorSanitizer (errors are fatal), debug output on.
        string sanitized = LauncherProcess.CompileFromSource(
            "pskeepalive-seccomp-asan", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all");
        using LauncherProcess launcher = LauncherProcess.StartProgram(sanitized, With(AllOptions, ("PSKEEPALIVE_DEBUG", "1")), [SeccompProbe.Path, .. scenario]);
        LauncherResult result = launcher.WaitForExit(Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("AddressSanitizer", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("runtime error", result.StandardError, StringComparison.Ordinal);
        Assert.Contains(" failed; exit 0", result.StandardError, StringComparison.Ordinal);
        Assert.All(ProbedOptions.All(result.StandardOutput).Values, o => AssertApplied(o));
    }

    [Fact]
    public void Threads_AreCovered_AlsoOnKernelsBeforePidfdThread_ThroughTheThreadGroupLeader()
    {
        // The launcher built as on a kernel older than 6.9: without PIDFD_THREAD it opens the thread group leader.
        string legacy = LauncherProcess.CompileFromSource("pskeepalive-seccomp-legacy", "-DPSK_TEST_WITHOUT_PIDFD_THREAD");
        using LauncherProcess launcher = LauncherProcess.StartProgram(legacy, AllOptions, SeccompProbe.Path, "threads", "8");
        LauncherResult result = launcher.WaitForExit(Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = ProbedOptions.All(result.StandardOutput);
        Assert.Equal(8, lines.Count);
        Assert.All(lines.Values, o => AssertApplied(o));
    }

    [Fact]
    public void Supervisor_ServesDescendantsThatOutliveTheChild_ThenExitsWithTheChildsStatus()
    {
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        int port = ((IPEndPoint)target.LocalEndpoint).Port;
        LauncherResult result = LauncherProcess.Run(AllOptions, Bound, SeccompProbe.Path, "orphan", port.ToString(CultureInfo.InvariantCulture), "700", "7");
        Assert.Equal(7, result.ExitCode);
        AssertApplied(ProbedOptions.All(result.StandardOutput)["orphan"]);
        // The direct child exited at once; the supervisor waited for the orphan (POLLHUP on the listener).
        Assert.True(result.Elapsed >= TimeSpan.FromMilliseconds(650), result.ToString());
    }

    [Fact]
    public void KilledSupervisor_LaterConnectFailsPromptlyWithENOSYS()
    {
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        int port = ((IPEndPoint)target.LocalEndpoint).Port;
        using LauncherProcess launcher = LauncherProcess.Start(AllOptions, SeccompProbe.Path, "wait", port.ToString(CultureInfo.InvariantCulture));
        int programPid = ReadReadyPid(launcher);
        try
        {
            launcher.Signal(SeccompTestLibc.SIGKILL);
            Assert.True(launcher.Process.WaitForExit(10_000));
            var clock = Stopwatch.StartNew();
            launcher.WriteLine("go");
            string? line = launcher.ReadLine(TimeSpan.FromSeconds(5));
            Assert.Equal("connect errno=38", line); // ENOSYS: the kernel answers for a listener that is gone
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));
        }
        finally
        {
            SeccompTestLibc.Kill(programPid, SeccompTestLibc.SIGKILL);
        }
    }

    [Fact]
    public void KilledSupervisor_PendingConnectReturnsENOSYS_InsteadOfHanging()
    {
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        int port = ((IPEndPoint)target.LocalEndpoint).Port;
        using LauncherProcess launcher = LauncherProcess.Start(AllOptions, SeccompProbe.Path, "wait", port.ToString(CultureInfo.InvariantCulture));
        int programPid = ReadReadyPid(launcher);
        try
        {
            // A stopped supervisor cannot answer: the program's connect() waits in the kernel...
            launcher.Signal(SeccompTestLibc.SIGSTOP);
            launcher.WriteLine("go");
            Assert.Null(launcher.ReadLine(TimeSpan.FromMilliseconds(500)));
            // ...until the listener goes away with the supervisor; then the pending call fails with ENOSYS.
            launcher.Signal(SeccompTestLibc.SIGKILL);
            var clock = Stopwatch.StartNew();
            string? line = launcher.ReadLine(TimeSpan.FromSeconds(5));
            Assert.Equal("connect errno=38", line);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));
        }
        finally
        {
            SeccompTestLibc.Kill(programPid, SeccompTestLibc.SIGKILL);
        }
    }

    [Fact]
    public void SupervisorSurvives_WhenTheReaderOfItsStderrIsGone()
    {
        // stderr is a pipe whose reader (sleep 1) is there when the program starts and gone when it connects; the
        // debug line of that connect() then fails with EPIPE. SIGPIPE must not kill the supervisor (the program's
        // connect() would fail with ENOSYS).
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        int port = ((IPEndPoint)target.LocalEndpoint).Port;
        // env --default-signal: processes started by .NET inherit SIGPIPE ignored; a shell or program started
        // from a terminal has it at its default (terminate).
        using LauncherProcess shell = LauncherProcess.StartProgram(
            "env",
            With(AllOptions, ("PSKEEPALIVE_DEBUG", "1")),
            "--default-signal=PIPE",
            "sh",
            "-c", "exec 3>&1; \"$0\" \"$@\" 2>&1 1>&3 3>&- | sleep 1",
            LauncherProcess.LauncherPath, SeccompProbe.Path, "wait", port.ToString(CultureInfo.InvariantCulture));
        ReadReadyPid(shell);
        System.Threading.Thread.Sleep(1500); // let `sleep 1` exit and close the pipe
        shell.WriteLine("go");
        ProbedOptions? client = ProbedOptions.TryParse(shell.ReadLine(Bound) ?? string.Empty);
        Assert.NotNull(client);
        AssertApplied(client!);
        Assert.Equal(0, shell.WaitForExit(Bound).ExitCode);
    }

    private static int ReadReadyPid(LauncherProcess launcher)
    {
        string? ready = launcher.ReadLine(Bound);
        Assert.NotNull(ready);
        Match m = Regex.Match(ready!, @"^pid (\d+) ready$");
        Assert.True(m.Success, ready);
        return int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public void SigtermToTheSupervisor_IsForwarded_AndTheSignalBecomesTheExitCode()
    {
        using LauncherProcess launcher = LauncherProcess.Start(AllOptions, SeccompProbe.Path, "wait", "9");
        ReadReadyPid(launcher);
        launcher.Signal(SeccompTestLibc.SIGTERM);
        LauncherResult result = launcher.WaitForExit(Bound);
        Assert.Equal(128 + SeccompTestLibc.SIGTERM, result.ExitCode);
    }

    [Fact]
    public void ForwardedSignalThatTheProgramIgnores_LeavesTheSupervisorServing()
    {
        // trap '' TERM: the program ignores SIGTERM (inherited across exec); the supervisor forwards it and must
        // go back to serving notifications, not wait for another signal.
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        int port = ((IPEndPoint)target.LocalEndpoint).Port;
        using LauncherProcess launcher = LauncherProcess.Start(
            AllOptions, "sh", "-c", "trap '' TERM; exec \"$0\" wait \"$1\"", SeccompProbe.Path, port.ToString(CultureInfo.InvariantCulture));
        ReadReadyPid(launcher);
        launcher.Signal(SeccompTestLibc.SIGTERM);
        System.Threading.Thread.Sleep(200);
        Assert.False(launcher.Process.HasExited);
        launcher.WriteLine("go");
        ProbedOptions? client = ProbedOptions.TryParse(launcher.ReadLine(TimeSpan.FromSeconds(5)) ?? string.Empty);
        Assert.NotNull(client);
        AssertApplied(client!);
        Assert.Equal(0, launcher.WaitForExit(Bound).ExitCode);
    }

    [Fact]
    public void ExitStatus_IsTheChilds_Or128PlusSignal()
    {
        Assert.Equal(7, LauncherProcess.Run(AllOptions, Bound, "sh", "-c", "exit 7").ExitCode);
        Assert.Equal(137, LauncherProcess.Run(AllOptions, Bound, "sh", "-c", "kill -9 $$").ExitCode);
    }

    [Fact]
    public void NestedLauncher_IsRefusedClearly_TheKernelAllowsOneListenerPerTree()
    {
        LauncherResult result = LauncherProcess.Run(AllOptions, Bound, LauncherProcess.LauncherPath, SeccompProbe.Path, "nnp");
        Assert.Equal(125, result.ExitCode);
        Assert.Contains("already runs under a seccomp user-notification supervisor", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.StandardOutput);
    }

    [X64Fact]
    public void FilterChecksTheArchitecture_AnI386SystemCallWithConnectsNumberIsNotNotified()
    {
        // int $0x80 with eax 42 is pipe() in the i386 table; 42 is connect() in the x86_64 one. The filter compares
        // seccomp_data.arch first, so this call passes untouched (documented: 32-bit calls are not covered).
        LauncherResult result = LauncherProcess.Run(With(AllOptions, ("PSKEEPALIVE_DEBUG", "1")), Bound, SeccompProbe.Path, "i386-pipe");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("i386-pipe ret=", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("done: 0 notifications", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void ProgramThatCannotRun_Exits127WithTheReason()
    {
        LauncherResult result = LauncherProcess.Run(AllOptions, Bound, "/nonexistent/program");
        Assert.Equal(127, result.ExitCode);
        Assert.Contains("cannot run /nonexistent/program: No such file or directory", result.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PSKEEPALIVE_IDLE", "0")]
    [InlineData("PSKEEPALIVE_IDLE", "32768")]
    [InlineData("PSKEEPALIVE_IDLE", "-1")]
    [InlineData("PSKEEPALIVE_IDLE", " 5")]
    [InlineData("PSKEEPALIVE_IDLE", "5s")]
    [InlineData("PSKEEPALIVE_IDLE", "99999999999999999999")]
    [InlineData("PSKEEPALIVE_INTERVAL", "0")]
    [InlineData("PSKEEPALIVE_INTERVAL", "32768")]
    [InlineData("PSKEEPALIVE_COUNT", "0")]
    [InlineData("PSKEEPALIVE_COUNT", "128")]
    [InlineData("PSKEEPALIVE_USER_TIMEOUT", "-1")]
    [InlineData("PSKEEPALIVE_USER_TIMEOUT", "2147483648")]
    [InlineData("PSKEEPALIVE_MODE", "sideways")]
    [InlineData("PSKEEPALIVE_OFF", "yes")]
    public void InvalidSetting_IsRefusedUpFront_WithExit2_AndTheProgramDoesNotRun(string variable, string value)
    {
        LauncherResult result = LauncherProcess.Run(new Dictionary<string, string> { [variable] = value }, Bound, SeccompProbe.Path, "nnp");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"invalid {variable}=\"{value}\"", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.StandardOutput);
    }

    [Theory]
    [InlineData("PSKEEPALIVE_IDLE", "32767")]
    [InlineData("PSKEEPALIVE_INTERVAL", "1")]
    [InlineData("PSKEEPALIVE_COUNT", "127")]
    [InlineData("PSKEEPALIVE_USER_TIMEOUT", "0")]
    [InlineData("PSKEEPALIVE_USER_TIMEOUT", "2147483647")]
    [InlineData("PSKEEPALIVE_IDLE", "")]
    public void BoundaryAndEmptyValues_AreAccepted(string variable, string value)
    {
        LauncherResult result = LauncherProcess.Run(new Dictionary<string, string> { [variable] = value }, Bound, SeccompProbe.Path, "connect4", "9");
        // Nobody listens on port 9: the probe fails to connect (exit 1), but it ran, under the filter.
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("connect: Connection refused", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void UsageErrors_Exit2_AndHelpExits0()
    {
        Assert.Equal(2, LauncherProcess.Run(new Dictionary<string, string>(), Bound).ExitCode);
        LauncherResult unknown = LauncherProcess.Run(new Dictionary<string, string>(), Bound, "--idle", "5");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("unknown option --idle", unknown.StandardError, StringComparison.Ordinal);
        LauncherResult help = LauncherProcess.Run(new Dictionary<string, string>(), Bound, "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("usage: pskeepalive-seccomp [--default-sigpipe] [--ld-preload LIST [--exec]] [--] PROGRAM", help.StandardOutput, StringComparison.Ordinal);
        LauncherResult execAlone = LauncherProcess.Run(new Dictionary<string, string>(), Bound, "--exec", "--", "true");
        Assert.Equal(2, execAlone.ExitCode);
        Assert.Contains("--exec needs --ld-preload", execAlone.StandardError, StringComparison.Ordinal);
        LauncherResult dashdash = LauncherProcess.Run(AllOptions, Bound, "--", SeccompProbe.Path, "loop4");
        AssertApplied(ProbedOptions.All(dashdash.StandardOutput)["client"]);
    }

    [Theory]
    [InlineData(false, "0")]
    [InlineData(false, "1")]
    [InlineData(true, "0")]
    [InlineData(true, "1")]
    public void DefaultSigpipe_RestoresTheDefaultAction_OtherwiseTheInheritedOneIsKept(bool option, string off)
    {
        // This test process (.NET) ignores SIGPIPE, so the launcher inherits it ignored. SigIgn bit 12 = SIGPIPE.
        string[] arguments = option ? ["--default-sigpipe", "--", "grep", "SigIgn", "/proc/self/status"] : ["grep", "SigIgn", "/proc/self/status"];
        LauncherResult result = LauncherProcess.Run(With(AllOptions, ("PSKEEPALIVE_OFF", off)), Bound, arguments);
        Assert.True(result.ExitCode == 0, result.ToString());
        ulong ignored = ulong.Parse(result.StandardOutput.Split(':')[1].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        Assert.Equal(option ? 0UL : 1UL << 12, ignored & (1UL << 12));
    }

    [Fact]
    public void Off_RunsTheProgramWithoutAnyFilter()
    {
        LauncherResult result = LauncherProcess.Run(With(AllOptions, ("PSKEEPALIVE_OFF", "1")), Bound, SeccompProbe.Path, "loop4");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.All(ProbedOptions.All(result.StandardOutput).Values, o => Assert.Equal(0, o.KeepAlive));
    }

    [Fact]
    public void Debug_ReportsEachSocketAndASummary()
    {
        LauncherResult result = LauncherProcess.Run(With(AllOptions, ("PSKEEPALIVE_DEBUG", "1")), Bound, SeccompProbe.Path, "loop4");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"listen\(\d+\): SO_KEEPALIVE=1 TCP_KEEPIDLE=17 TCP_KEEPINTVL=4 TCP_KEEPCNT=5 TCP_USER_TIMEOUT=6000", result.StandardError);
        Assert.Matches(@"connect\(\d+\): SO_KEEPALIVE=1 TCP_KEEPIDLE=17", result.StandardError);
        Assert.Contains("done: 2 notifications, 2 sockets set, 0 left alone, 0 failed; exit 0", result.StandardError, StringComparison.Ordinal);
    }

    [RootFact]
    public void AsRoot_NoNewPrivsIsNotSet()
    {
        LauncherResult result = LauncherProcess.Run(AllOptions, Bound, SeccompProbe.Path, "nnp");
        Assert.Equal("nnp 0", result.StandardOutput.Trim());
    }

    [RootFact]
    public void Unprivileged_SetsNoNewPrivs_AndStillAppliesTheOptions()
    {
        // setpriv drops to nobody (no CAP_SYS_ADMIN): the child must set no_new_privs to install the filter, and the
        // unprivileged supervisor may still pidfd_getfd from its own descendants.
        string[] asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", OtherUsersCopy.Of(LauncherProcess.LauncherPath), SeccompProbe.Path];
        using (LauncherProcess nnp = LauncherProcess.StartProgram("setpriv", AllOptions, [.. asNobody, "nnp"]))
        {
            Assert.Equal("nnp 1", nnp.WaitForExit(Bound).StandardOutput.Trim());
        }

        using LauncherProcess loop = LauncherProcess.StartProgram("setpriv", AllOptions, [.. asNobody, "loop4"]);
        LauncherResult result = loop.WaitForExit(Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = ProbedOptions.All(result.StandardOutput);
        AssertApplied(lines["client"]);
        AssertApplied(lines["accepted"]);
    }

    [BusyboxFact]
    public void BusyboxNc_AStaticThirdPartyProgram_GetsKeepaliveOnItsConnect()
    {
        // busybox (Debian busybox-static) is statically linked; `nc -e PROG` connects, then execs PROG with the
        // socket as stdin/stdout, so the probe reports the options of the socket busybox created and connected.
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        int port = ((IPEndPoint)server.LocalEndpoint).Port;
        using LauncherProcess launcher = LauncherProcess.Start(AllOptions, BusyboxFactAttribute.Busybox, "nc", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "-e", SeccompProbe.Path, "fd0");
        Task<Socket> accepted = server.AcceptSocketAsync();
        Assert.True(accepted.Wait(Bound), "busybox nc did not connect");
        using Socket socket = accepted.Result;
        socket.ReceiveTimeout = (int)Bound.TotalMilliseconds;
        using var reader = new StreamReader(new NetworkStream(socket, ownsSocket: false));
        string? line = reader.ReadLine();
        Assert.NotNull(line);
        ProbedOptions? options = ProbedOptions.TryParse(line!);
        Assert.NotNull(options);
        Assert.Equal("fd0", options!.Label);
        AssertApplied(options);
        Assert.Equal(0, launcher.WaitForExit(Bound).ExitCode);
    }

    [DeafPeerFact]
    public void EndToEnd_StaticServerInListeningMode_ShedsADeafClientInAboutIdlePlusIntervalTimesCount()
    {
        var settings = new Dictionary<string, string>
        {
            ["PSKEEPALIVE_MODE"] = "listening",
            ["PSKEEPALIVE_IDLE"] = "1",
            ["PSKEEPALIVE_INTERVAL"] = "1",
            ["PSKEEPALIVE_COUNT"] = "2",
        };
        using LauncherProcess server = LauncherProcess.Start(settings, SeccompProbe.Path, "deafserver");
        string? portLine = server.ReadLine(Bound);
        Assert.NotNull(portLine);
        int port = int.Parse(portLine!.Split(' ')[1], CultureInfo.InvariantCulture);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(IPAddress.Loopback, port);
        DeafFilter.Attach(client);
        var accepted = ProbedOptions.TryParse(server.ReadLine(Bound) ?? string.Empty);
        Assert.NotNull(accepted);
        Assert.Equal((1, 1, 1, 2), (accepted!.KeepAlive, accepted.Idle, accepted.Interval, accepted.Count));

        string? outcome = server.ReadLine(TimeSpan.FromSeconds(15));
        Assert.NotNull(outcome);
        Match m = Regex.Match(outcome!, @"^recv errno=(\d+) after ([\d.]+) s$");
        Assert.True(m.Success, outcome);
        Assert.Equal(110, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)); // ETIMEDOUT
        double seconds = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.InRange(seconds, 2.5, 5.0); // expected 1 + 1 x 2 = 3 s
        Assert.Equal(0, server.WaitForExit(Bound).ExitCode);
    }
}

/// <summary>Makes one end of a loopback connection deaf: a classic BPF program that drops every packet.</summary>
public static class DeafFilter
{
    private const int SOL_SOCKET = 1;
    private const int SO_ATTACH_FILTER = 26;

    public static unsafe void Attach(Socket socket)
    {
        // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } = BPF_RET|BPF_K (0x06), k = 0: drop.
        ulong instruction = 0x06;
        // struct sock_fprog { unsigned short len; struct sock_filter *filter; } (pointer at offset 8 on 64-bit).
        byte* program = stackalloc byte[16];
        new Span<byte>(program, 16).Clear();
        *(ushort*)program = 1;
        *(ulong**)(program + 8) = &instruction;
        socket.SetRawSocketOption(SOL_SOCKET, SO_ATTACH_FILTER, new ReadOnlySpan<byte>(program, 16));
    }
}

/// <summary>A fact that needs a static busybox with nc (Debian: apt-get install busybox-static); skipped with that reason otherwise.</summary>
public sealed class BusyboxFactAttribute : FactAttribute
{
    public const string Busybox = "/usr/bin/busybox";

    public BusyboxFactAttribute()
    {
        if (!IsStaticBusybox())
        {
            Skip = "Needs a statically linked /usr/bin/busybox with nc (Debian: apt-get install busybox-static).";
        }
    }

    private static bool IsStaticBusybox()
    {
        try
        {
            // A statically linked ELF has no PT_INTERP (program header type 3).
            byte[] elf = File.ReadAllBytes(Busybox);
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[4] != 2)
            {
                return false;
            }

            long phoff = BitConverter.ToInt64(elf, 32);
            int phentsize = BitConverter.ToUInt16(elf, 54);
            int phnum = BitConverter.ToUInt16(elf, 56);
            for (int i = 0; i < phnum; i++)
            {
                if (BitConverter.ToUInt32(elf, (int)(phoff + (i * phentsize))) == 3)
                {
                    return false;
                }
            }

            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>A fact for x86_64 only (i386 system calls through int $0x80); skipped with that reason elsewhere.</summary>
public sealed class X64FactAttribute : FactAttribute
{
    public X64FactAttribute()
    {
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            Skip = "x86_64 only: it makes an i386 system call through int $0x80.";
        }
    }
}
