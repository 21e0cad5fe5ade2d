using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Launch;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Seccomp;

/// <summary>-Method Preload|Seccomp|Auto: kernel support, the choice, the prepared launch, and real starts.</summary>
public sealed class MethodChoiceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static readonly SeccompSupportStatus Supported = new(true, "6.1.0", "X64", null);

    private static readonly SeccompSupportStatus Old = SeccompLauncher.Evaluate("5.4.0-150-generic", Architecture.X64, Errno.ENOSYS);

    private static KeepaliveLaunchRequest Request(string program, LaunchMethod method, bool force = false) =>
        new(program, ["loop4"]) { Method = method, Force = force, Idle = 17, Interval = 4, Count = 5, UserTimeout = 6000 };

    private static string SetUserIdCopy(bool staticProgram = true)
    {
        string directory = CCompiler.NewDirectory();
        string copy = Path.Combine(directory, "setuid-probe");
        File.Copy(staticProgram ? SeccompProbe.Path : SeccompProbe.DynamicPath, copy);
        File.SetUnixFileMode(copy, File.GetUnixFileMode(copy) | UnixFileMode.SetUser);
        return copy;
    }

    /// <summary>seccomp.targets ships the launcher, executable, next to PSKeepalive.Core.dll in every consumer's output.</summary>
    [Fact]
    public void Launcher_IsShippedExecutableNextToCore_InTheModuleTheCliAndTheTests()
    {
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        string[] folders =
        [
            AppContext.BaseDirectory,
            Repository.PathOf("src", "PSKeepalive", "bin", configuration, "net8.0"),
            Path.GetDirectoryName(CliRunner.DllPath)!,
        ];
        byte[] shipped = File.ReadAllBytes(SeccompLauncher.LocateLauncher());
        foreach (string folder in folders)
        {
            string launcher = Path.Combine(folder, SeccompLauncher.LauncherFileName);
            Assert.True(File.Exists(launcher), $"{SeccompLauncher.LauncherFileName} missing from {folder}");
            Assert.True(File.Exists(Path.Combine(folder, "PSKeepalive.Core.dll")), $"PSKeepalive.Core.dll missing from {folder}");
            Assert.Equal(shipped, File.ReadAllBytes(launcher));
            Assert.True((File.GetUnixFileMode(launcher) & UnixFileMode.UserExecute) != 0, $"{launcher} is not executable");
        }
    }

    [Fact]
    public void ThisMachine_SupportsSeccompMode()
    {
        SeccompSupportStatus status = SeccompLauncher.CheckSupport();
        Assert.True(status.IsSupported, status.Reason);
        Assert.Null(status.Reason);
        Assert.Equal(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), status.KernelRelease);
    }

    [Theory]
    [InlineData("5.4.0-150-generic", "Linux 5.5", "this kernel is 5.4.0-150-generic")]
    [InlineData("4.19.0", "Linux 5.6", "this kernel is 4.19.0")]
    [InlineData("5.5.19", "Linux 5.6 or later for pidfd_getfd", "this kernel is 5.5.19")]
    [InlineData("6.1.0-27-amd64", "container", "(6.1.0-27-amd64)")]
    public void OldOrRestrictedKernel_IsRefused_NamingTheVersions(string release, string needed, string running)
    {
        SeccompSupportStatus status = SeccompLauncher.Evaluate(release, Architecture.X64, Errno.ENOSYS);
        Assert.False(status.IsSupported);
        Assert.Contains(needed, status.Reason, StringComparison.Ordinal);
        Assert.Contains(running, status.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void BackportedPidfdGetfd_OnAnOlderVersionNumber_IsAccepted_TheLauncherProbesTheRest()
    {
        Assert.True(SeccompLauncher.Evaluate("4.18.0-513.el8.x86_64", Architecture.X64, Errno.EBADF).IsSupported);
    }

    [Theory]
    [InlineData(Architecture.Arm)]
    [InlineData(Architecture.X86)]
    [InlineData(Architecture.S390x)]
    public void OtherArchitectures_AreRefused(Architecture architecture)
    {
        SeccompSupportStatus status = SeccompLauncher.Evaluate("6.1.0", architecture, Errno.EBADF);
        Assert.False(status.IsSupported);
        Assert.Contains("x86_64 and aarch64 only", status.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("6.18.44-fc-v595", 6, 18)]
    [InlineData("5.10.0-28-amd64", 5, 10)]
    [InlineData("5.6", 5, 6)]
    [InlineData("4.18.0-513.el8.x86_64", 4, 18)]
    public void KernelRelease_IsParsed(string release, int major, int minor) =>
        Assert.Equal(new Version(major, minor), SeccompLauncher.ParseRelease(release));

    [Theory]
    [InlineData("")]
    [InlineData("linux")]
    [InlineData("6")]
    public void UnparsableRelease_IsNull(string release) => Assert.Null(SeccompLauncher.ParseRelease(release));

    [Fact]
    public void Auto_DynamicProgram_UsesPreload_StaticProgram_UsesSeccomp()
    {
        var dynamicChoice = SeccompLauncher.ChooseMethod(Request(SeccompProbe.DynamicPath, LaunchMethod.Auto), ProgramInspector.Inspect(SeccompProbe.DynamicPath), () => Supported, () => false);
        var staticChoice = SeccompLauncher.ChooseMethod(Request(SeccompProbe.Path, LaunchMethod.Auto), ProgramInspector.Inspect(SeccompProbe.Path), () => Supported, () => false);
        Assert.Equal(LaunchMethod.Preload, dynamicChoice.Method);
        Assert.Equal(LaunchMethod.Seccomp, staticChoice.Method);
        Assert.Contains("statically linked", staticChoice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_StaticProgram_OnAKernelWithoutSupport_IsRefusedWithBothReasons_OrForcedThroughPreload()
    {
        ProgramInspection inspection = ProgramInspector.Inspect(SeccompProbe.Path);
        var e = Assert.Throws<KeepaliveNotSupportedException>(() => SeccompLauncher.ChooseMethod(Request(SeccompProbe.Path, LaunchMethod.Auto), inspection, () => Old, () => true));
        Assert.Equal("ProgramNotSupported", e.ErrorId);
        Assert.Contains("statically linked", e.Message, StringComparison.Ordinal);
        Assert.Contains("this kernel is 5.4.0-150-generic", e.Message, StringComparison.Ordinal);
        var forced = SeccompLauncher.ChooseMethod(Request(SeccompProbe.Path, LaunchMethod.Auto, force: true), inspection, () => Old, () => true);
        Assert.Equal(LaunchMethod.Preload, forced.Method);
    }

    [Fact]
    public void Seccomp_OnAKernelWithoutSupport_IsRefused_NamingTheVersion()
    {
        var e = Assert.Throws<KeepaliveNotSupportedException>(() =>
            SeccompLauncher.ChooseMethod(Request(SeccompProbe.DynamicPath, LaunchMethod.Seccomp), ProgramInspector.Inspect(SeccompProbe.DynamicPath), () => Old, () => true));
        Assert.Contains("SECCOMP_USER_NOTIF_FLAG_CONTINUE arrived in Linux 5.5 and pidfd_getfd in Linux 5.6", e.Message, StringComparison.Ordinal);
        Assert.Equal(Errno.ENOSYS, e.Errno);
    }

    [Fact]
    public void Seccomp_SetUserIdProgram_WithoutCapSysAdmin_IsRefused_ForcedItRunsWithoutPrivileges()
    {
        string setuid = SetUserIdCopy();
        ProgramInspection inspection = ProgramInspector.Inspect(setuid);
        var e = Assert.Throws<KeepaliveInvalidTargetException>(() => SeccompLauncher.ChooseMethod(Request(setuid, LaunchMethod.Seccomp), inspection, () => Supported, () => false));
        Assert.Contains("no_new_privs", e.Message, StringComparison.Ordinal);
        Assert.Equal(LaunchMethod.Seccomp, SeccompLauncher.ChooseMethod(Request(setuid, LaunchMethod.Seccomp, force: true), inspection, () => Supported, () => false).Method);
        Assert.Equal(LaunchMethod.Seccomp, SeccompLauncher.ChooseMethod(Request(setuid, LaunchMethod.Seccomp), inspection, () => Supported, () => true).Method);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Auto_SetUserIdProgram_UsesSeccompOnlyWhenPrivileged(bool staticProgram)
    {
        // Without CAP_SYS_ADMIN seccomp mode needs no_new_privs, which would strip the program of its privileges.
        string setuid = SetUserIdCopy(staticProgram);
        ProgramInspection inspection = ProgramInspector.Inspect(setuid);
        Assert.Equal(LaunchMethod.Seccomp, SeccompLauncher.ChooseMethod(Request(setuid, LaunchMethod.Auto), inspection, () => Supported, () => true).Method);
        Assert.Equal(LaunchMethod.Preload, SeccompLauncher.ChooseMethod(Request(setuid, LaunchMethod.Auto), inspection, () => Supported, () => false).Method);
    }

    [Fact]
    public void Preload_IsKeptAsAskedFor_EvenForAStaticProgram()
    {
        var choice = SeccompLauncher.ChooseMethod(Request(SeccompProbe.Path, LaunchMethod.Preload), ProgramInspector.Inspect(SeccompProbe.Path), () => Supported, () => true);
        Assert.Equal(LaunchMethod.Preload, choice.Method);
        // ...and the preload path still refuses it, as before.
        Assert.Throws<KeepaliveInvalidTargetException>(() => PreloadLauncher.Prepare(Request(SeccompProbe.Path, LaunchMethod.Preload)));
    }

    [Fact]
    public void UndefinedMethod_IsAValidationError()
    {
        var e = Assert.Throws<KeepaliveValidationException>(() =>
            SeccompLauncher.ChooseMethod(Request(SeccompProbe.Path, (LaunchMethod)42), ProgramInspector.Inspect(SeccompProbe.Path), () => Supported, () => true));
        Assert.Equal("Method", e.ParameterName);
    }

    [Fact]
    public void PreparedSeccompLaunch_RunsTheLauncherInFront_WithTheVariables_AndNoPreload()
    {
        var environment = new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin", ["PSKEEPALIVE_OFF"] = "1", ["LD_PRELOAD"] = "/other.so" };
        KeepaliveProcessLaunch launch = PreloadLauncher.Prepare(Request(SeccompProbe.Path, LaunchMethod.Seccomp) with { Environment = environment });
        Assert.Equal(LaunchMethod.Seccomp, launch.Method);
        Assert.Equal(SeccompLauncher.LocateLauncher(), launch.SeccompLauncher);
        Assert.Equal(string.Empty, launch.PreloadLibrary);
        Assert.Equal(
            new[] { "PSKEEPALIVE_MODE=all", "PSKEEPALIVE_IDLE=17", "PSKEEPALIVE_INTERVAL=4", "PSKEEPALIVE_COUNT=5", "PSKEEPALIVE_USER_TIMEOUT=6000" },
            launch.EnvironmentVariables);
        Assert.Equal(new[] { "PSKEEPALIVE_OFF" }, launch.RemovedVariables);

        ProcessStartInfo start = PreloadLauncher.CreateStartInfo(launch, environment);
        Assert.Equal(launch.SeccompLauncher, start.FileName);
        Assert.Equal(new[] { "--default-sigpipe", "--", SeccompProbe.Path, "loop4" }, start.ArgumentList);
        Assert.Equal("/other.so", start.Environment["LD_PRELOAD"]);
        Assert.False(start.Environment.ContainsKey("PSKEEPALIVE_OFF"));
    }

    [Fact]
    public void PreparedAutoLaunch_ForADynamicProgram_IsCgroupWhereAvailable_ElsePreload_WithItsReason()
    {
        KeepaliveProcessLaunch launch = PreloadLauncher.Prepare(Request(SeccompProbe.DynamicPath, LaunchMethod.Auto));
        if (CgroupLauncher.CheckSupport().IsSupported)
        {
            Assert.Equal(LaunchMethod.Cgroup, launch.Method);
            Assert.Contains("cgroup of its own", launch.MethodReason, StringComparison.Ordinal);
            return;
        }

        Assert.Equal(LaunchMethod.Preload, launch.Method);
        Assert.Null(launch.SeccompLauncher);
        Assert.Contains("dynamically linked", launch.MethodReason, StringComparison.Ordinal);
        Assert.StartsWith("LD_PRELOAD=", launch.EnvironmentVariables[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(LaunchMethod.Seccomp, false)]
    [InlineData(LaunchMethod.Seccomp, true)]
    [InlineData(LaunchMethod.Preload, true)]
    public void Started_ThroughCore_TheProgramGetsTheOptions(LaunchMethod method, bool dynamicProgram)
    {
        string program = dynamicProgram ? SeccompProbe.DynamicPath : SeccompProbe.Path;
        KeepaliveProcessLaunch launch = PreloadLauncher.Prepare(Request(program, method));
        ProcessStartInfo start = PreloadLauncher.CreateStartInfo(launch);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using Process process = PreloadLauncher.Start(start);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(Bound), "the program did not finish");
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, stderr.Result);
        var lines = ProbedOptions.All(stdout.Result);
        Assert.Equal(3, lines.Count);
        Assert.All(lines.Values, o => Assert.Equal((1, 17, 4, 5, 6000), (o.KeepAlive, o.Idle, o.Interval, o.Count, o.UserTimeout)));
    }

    [Theory]
    [InlineData("seccomp")]
    [InlineData("SECCOMP")]
    public void Cli_RunWithMethod_StaticProgramGetsTheOptions(string method)
    {
        CliResult result = CliRunner.Run(
            ["run", "--method", method, "--idle", "17", "--interval", "4", "--count", "5", "--user-timeout", "6000", "--", SeccompProbe.Path, "loop4"],
            Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = ProbedOptions.All(result.StandardOutput);
        Assert.Equal(3, lines.Count);
        Assert.All(lines.Values, o => Assert.Equal((1, 17, 4, 5, 6000), (o.KeepAlive, o.Idle, o.Interval, o.Count, o.UserTimeout)));
        Assert.Equal(string.Empty, result.StandardError);
    }

    [Fact]
    public void Cli_RunWithMethodAuto_DynamicProgram_GetsTheOptionsOnItsOutgoingConnection()
    {
        CliResult result = CliRunner.Run(["run", "--method", "auto", "--mode", "outgoing", "--idle", "23", "--", SeccompProbe.DynamicPath, "loop4"], Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = ProbedOptions.All(result.StandardOutput);
        Assert.Equal((1, 23), (lines["client"].KeepAlive, lines["client"].Idle));
        Assert.Equal(0, lines["listener"].KeepAlive);
    }

    [Fact]
    public void Cli_RunWithMethodSeccomp_PassesTheProgramsExitCode()
    {
        CliResult result = CliRunner.Run(["run", "--method", "seccomp", "--", "sh", "-c", "exit 9"], Bound);
        Assert.Equal(9, result.ExitCode);
    }

    [Fact]
    public void Cli_RunWithMethodSeccomp_SigtermReachesTheProgramThroughTheSupervisor()
    {
        using LauncherProcess cli = LauncherProcess.StartProgram(
            "dotnet", new Dictionary<string, string>(), CliRunner.DllPath, "run", "--method", "seccomp", "--", SeccompProbe.Path, "wait", "9");
        string? ready = cli.ReadLine(Bound);
        Assert.Matches(@"^pid \d+ ready$", ready ?? string.Empty);
        cli.Signal(SeccompTestLibc.SIGTERM); // pskeepalive -> pskeepalive-seccomp -> the program
        Assert.Equal(128 + SeccompTestLibc.SIGTERM, cli.WaitForExit(Bound).ExitCode);
    }

    [Fact]
    public void Cli_RunWithMethodSeccomp_StartsTheProgramWithSigpipeAtItsDefault()
    {
        // .NET ignores SIGPIPE and a process it starts inherits that; the launcher restores the default, so that
        // e.g. `yes | head` ends as it does from a shell. SigIgn bit 12 is SIGPIPE (13).
        CliResult result = CliRunner.Run(["run", "--method", "seccomp", "--", "grep", "SigIgn", "/proc/self/status"], Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        ulong ignored = ulong.Parse(result.StandardOutput.Split(':')[1].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        Assert.Equal(0UL, ignored & (1UL << 12));
    }

    [Fact]
    public void Cli_UnknownMethod_IsAParseError()
    {
        CliResult result = CliRunner.Run(["run", "--method", "ptrace", "--", SeccompProbe.Path, "nnp"], Bound);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("ptrace", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.StandardOutput);
    }

    [DeafPeerFact]
    public void Cli_EndToEnd_StaticServerUnderMethodSeccomp_ShedsADeafClientInAboutThreeSeconds()
    {
        using LauncherProcess server = LauncherProcess.StartProgram(
            "dotnet",
            new Dictionary<string, string>(),
            CliRunner.DllPath, "run", "--method", "seccomp", "--mode", "listening", "--idle", "1", "--interval", "1", "--count", "2", "--", SeccompProbe.Path, "deafserver");
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
        Match m = Regex.Match(outcome ?? string.Empty, @"^recv errno=(\d+) after ([\d.]+) s$");
        Assert.True(m.Success, outcome);
        Assert.Equal("110", m.Groups[1].Value); // ETIMEDOUT
        Assert.InRange(double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), 2.5, 5.0); // 1 + 1 x 2 = 3 s
        Assert.Equal(0, server.WaitForExit(Bound).ExitCode);
    }

    [Fact]
    public void Cmdlet_HasAMethodParameter_OfTypeLaunchMethod()
    {
        Type cmdlet = LoadModule().GetType("PSKeepalive.Commands.StartKeepaliveProcessCommand", throwOnError: true)!;
        PropertyInfo? method = cmdlet.GetProperty("Method");
        Assert.NotNull(method);
        Assert.Equal(typeof(LaunchMethod).FullName, method!.PropertyType.FullName);
        CustomAttributeData parameter = method.GetCustomAttributesData().Single(a => a.AttributeType.Name == "ParameterAttribute");
        Assert.DoesNotContain(parameter.NamedArguments, a => a.MemberName == "Mandatory" && (bool)a.TypedValue.Value!);
        Assert.Equal(new[] { "Preload", "Seccomp", "Auto", "Cgroup" }, Enum.GetNames<LaunchMethod>());
    }

    /// <summary>The module is loaded from its own output folder in its own context (its name clashes with the CLI's).</summary>
    private static Assembly LoadModule()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        string framework = output.Name;
        string configuration = output.Parent!.Name;
        for (DirectoryInfo? d = output; d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "src", "PSKeepalive", "bin", configuration, framework, "PSKeepalive.dll");
            if (File.Exists(candidate))
            {
                return new AssemblyLoadContext("PSKeepalive module metadata (seccomp)").LoadFromAssemblyPath(candidate);
            }
        }

        throw new FileNotFoundException($"PSKeepalive.dll ({configuration}/{framework}) not found above {output.FullName}");
    }
}
