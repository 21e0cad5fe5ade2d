using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Launch;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Preload;

/// <summary>ProgramInspector and PreloadLauncher: what is refused, the environment built, real launches.</summary>
public sealed class LauncherTests
{
    private static string WriteExecutable(string directory, string name, string content)
    {
        string path = Path.Combine(directory, name);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        return path;
    }

    /// <summary>preload.targets ships the shim next to PSKeepalive.Core.dll in every consumer's output.</summary>
    [Fact]
    public void Shim_IsShippedNextToCore_InTheModuleTheCliAndTheTests()
    {
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        string[] folders =
        [
            AppContext.BaseDirectory,
            Repository.PathOf("src", "PSKeepalive", "bin", configuration, "net8.0"),
            Path.GetDirectoryName(CliRunner.DllPath)!,
        ];
        byte[] shipped = File.ReadAllBytes(PreloadPrograms.Shim);

        foreach (string folder in folders)
        {
            string shim = Path.Combine(folder, PreloadLauncher.LibraryFileName);
            Assert.True(File.Exists(shim), $"{PreloadLauncher.LibraryFileName} missing from {folder}");
            Assert.True(File.Exists(Path.Combine(folder, "PSKeepalive.Core.dll")), $"PSKeepalive.Core.dll missing from {folder}");
            Assert.Equal(shipped, File.ReadAllBytes(shim));
        }
    }

    [Fact]
    public void Inspect_DynamicProgram_CanBePreloaded()
    {
        ProgramInspection inspection = ProgramInspector.Inspect(PreloadPrograms.SockProbe);

        Assert.True(inspection.CanPreload, inspection.Reason);
        Assert.False(inspection.IsStatic);
        Assert.False(inspection.IsScript);
        Assert.Equal(PreloadPrograms.SockProbe, inspection.Executable);
        Assert.StartsWith("/", inspection.DynamicLoader);
        Assert.Contains("ld-linux", inspection.DynamicLoader, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_BareName_IsSearchedInPath()
    {
        string directory = Path.GetDirectoryName(PreloadPrograms.SockProbe)!;

        ProgramInspection inspection = ProgramInspector.Inspect("sockprobe", "/", "/nonexistent:" + directory);

        Assert.Equal(PreloadPrograms.SockProbe, inspection.Path);
    }

    [Fact]
    public void Inspect_StaticProgram_IsStatic()
    {
        ProgramInspection inspection = ProgramInspector.Inspect(PreloadPrograms.StaticSockProbe);

        Assert.True(inspection.IsStatic);
        Assert.False(inspection.CanPreload);
        Assert.Equal(PreloadBlocker.StaticallyLinked, inspection.Blocker);
        Assert.Null(inspection.DynamicLoader);
        Assert.Contains("statically linked", inspection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_SetUserIdProgram_IsSetId()
    {
        string directory = PreloadPrograms.TemporaryDirectory();
        string copy = Path.Combine(directory, "setuid-probe");
        File.Copy(PreloadPrograms.SockProbe, copy);
        File.SetUnixFileMode(copy, File.GetUnixFileMode(copy) | UnixFileMode.SetUser);

        ProgramInspection inspection = ProgramInspector.Inspect(copy);

        Assert.True(inspection.IsSetId);
        Assert.Equal(PreloadBlocker.SetId, inspection.Blocker);
        Assert.Contains("set-user-ID", inspection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_Script_ResolvesToItsInterpreter()
    {
        string directory = PreloadPrograms.TemporaryDirectory();
        string script = WriteExecutable(directory, "script.sh", "#!/bin/sh -e\necho hi\n");

        ProgramInspection inspection = ProgramInspector.Inspect(script);

        Assert.True(inspection.IsScript);
        Assert.True(inspection.CanPreload, inspection.Reason);
        Assert.Equal("/bin/sh", inspection.Executable);
        Assert.Equal("/bin/sh", inspection.Interpreter);
        Assert.NotNull(inspection.DynamicLoader);
    }

    [Fact]
    public void Inspect_EnvScript_FollowsEnvToTheNamedProgram()
    {
        string directory = PreloadPrograms.TemporaryDirectory();
        string script = WriteExecutable(directory, "tool.py", "#!/usr/bin/env python3\nprint('hi')\n");

        ProgramInspection inspection = ProgramInspector.Inspect(script, null, "/usr/bin:/bin");

        Assert.Equal("/usr/bin/python3", inspection.Executable);
        Assert.Equal("/usr/bin/env -> /usr/bin/python3", inspection.Interpreter);
        Assert.True(inspection.CanPreload, inspection.Reason);
    }

    [Fact]
    public void Inspect_ScriptWithStaticInterpreter_IsRefusedForTheInterpreter()
    {
        string directory = PreloadPrograms.TemporaryDirectory();
        string script = WriteExecutable(directory, "wrapped", $"#!{PreloadPrograms.StaticSockProbe}\n");

        ProgramInspection inspection = ProgramInspector.Inspect(script);

        Assert.True(inspection.IsScript);
        Assert.True(inspection.IsStatic);
        Assert.Equal(PreloadPrograms.StaticSockProbe, inspection.Executable);
        Assert.Contains("interpreter", inspection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_TextFileWithoutShebang_IsNotAnExecutableFormat()
    {
        string directory = PreloadPrograms.TemporaryDirectory();
        string file = WriteExecutable(directory, "notes", "just text\n");

        ProgramInspection inspection = ProgramInspector.Inspect(file);

        Assert.Equal(PreloadBlocker.NotExecutableFormat, inspection.Blocker);
    }

    [Fact]
    public void Inspect_MissingProgram_IsNotFound()
    {
        var e = Assert.Throws<KeepaliveNotFoundException>(() => ProgramInspector.Inspect("pskeepalive-no-such-program", null, "/usr/bin:/bin"));

        Assert.Equal("ProgramNotFound", e.ErrorId);
        Assert.Contains("pskeepalive-no-such-program", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, null, null, null, "Idle")]
    [InlineData(32768, null, null, null, "Idle")]
    [InlineData(null, 0, null, null, "Interval")]
    [InlineData(null, 32768, null, null, "Interval")]
    [InlineData(null, null, 0, null, "Count")]
    [InlineData(null, null, 128, null, "Count")]
    [InlineData(null, null, null, -1, "UserTimeout")]
    public void Prepare_OutOfRangeOption_IsAValidationError(int? idle, int? interval, int? count, int? userTimeout, string parameter)
    {
        var request = new KeepaliveLaunchRequest(PreloadPrograms.SockProbe, [])
        {
            Idle = idle,
            Interval = interval,
            Count = count,
            UserTimeout = userTimeout,
        };

        var e = Assert.Throws<KeepaliveValidationException>(() => PreloadLauncher.Prepare(request));

        Assert.Equal(parameter, e.ParameterName);
        Assert.Equal("ProgramInvalidArgument", e.ErrorId);
    }

    [Fact]
    public void Prepare_StaticProgram_IsRefusedUnlessForced()
    {
        var request = new KeepaliveLaunchRequest(PreloadPrograms.StaticSockProbe, ["tcp4"]) { Idle = 60 };

        var e = Assert.Throws<KeepaliveInvalidTargetException>(() => PreloadLauncher.Prepare(request));
        Assert.Equal("ProgramInvalidTarget", e.ErrorId);
        Assert.Contains("statically linked", e.Message, StringComparison.Ordinal);

        KeepaliveProcessLaunch forced = PreloadLauncher.Prepare(request with { Force = true });
        Assert.True(forced.Forced);
        ProgramRun run = PreloadPrograms.Run(PreloadLauncher.CreateStartInfo(forced), TimeSpan.FromSeconds(30));
        Assert.Equal(0, run["tcp4"]["so_keepalive"]); // started, and indeed out of the shim's reach
    }

    [Fact]
    public void Prepare_BuildsTheEnvironment_ShimFirstKeepingOtherPreloads()
    {
        var environment = PreloadPrograms.CleanEnvironment(new Dictionary<string, string>
        {
            ["LD_PRELOAD"] = "/opt/a/liba.so /opt/b/libb.so",
            ["PSKEEPALIVE_IDLE"] = "99",
            ["PSKEEPALIVE_OFF"] = "1",
            ["PSKEEPALIVE_DEBUG"] = "1",
        });
        var request = new KeepaliveLaunchRequest(PreloadPrograms.SockProbe, ["tcp4"])
        {
            Interval = 5,
            Count = 3,
            UserTimeout = 20000,
            Mode = PreloadMode.Listening,
            Environment = environment,
        };

        KeepaliveProcessLaunch launch = PreloadLauncher.Prepare(request);

        string shim = PreloadPrograms.Shim;
        Assert.Equal(
            new[]
            {
                $"LD_PRELOAD={shim}:/opt/a/liba.so:/opt/b/libb.so",
                "PSKEEPALIVE_MODE=listening",
                "PSKEEPALIVE_INTERVAL=5",
                "PSKEEPALIVE_COUNT=3",
                "PSKEEPALIVE_USER_TIMEOUT=20000",
            },
            launch.EnvironmentVariables);
        Assert.Equal(new[] { "PSKEEPALIVE_IDLE", "PSKEEPALIVE_OFF" }, launch.RemovedVariables.OrderBy(v => v, StringComparer.Ordinal));
        var start = PreloadLauncher.CreateStartInfo(launch, environment);
        Assert.False(start.Environment.ContainsKey("PSKEEPALIVE_IDLE"));
        Assert.Equal("1", start.Environment["PSKEEPALIVE_DEBUG"]); // debugging is the user's choice
        Assert.False(start.UseShellExecute);
    }

    [Fact]
    public void PrependPreload_DoesNotRepeatTheShim()
    {
        Assert.Equal("/s.so:/a.so", PreloadLauncher.PrependPreload("/s.so", "/a.so:/s.so"));
        Assert.Equal("/s.so", PreloadLauncher.PrependPreload("/s.so", null));
        Assert.Equal("/s.so", PreloadLauncher.PrependPreload("/s.so", " : "));
    }

    [Fact]
    public void Start_RunsTheProgramUnderTheShim_WithItsArgumentsAndWorkingDirectory()
    {
        string directory = PreloadPrograms.TemporaryDirectory();
        var request = new KeepaliveLaunchRequest(PreloadPrograms.SockProbe, ["tcp4", "listener"])
        {
            Idle = 41,
            Interval = 42,
            Count = 43,
            Mode = PreloadMode.Listening,
        };
        var pwd = new KeepaliveLaunchRequest("pwd", []) { WorkingDirectory = directory };

        ProgramRun run = PreloadPrograms.Run(PreloadLauncher.CreateStartInfo(PreloadLauncher.Prepare(request)), TimeSpan.FromSeconds(30));
        ProgramRun where = PreloadPrograms.Run(PreloadLauncher.CreateStartInfo(PreloadLauncher.Prepare(pwd)), TimeSpan.FromSeconds(30));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal((1, 41, 42, 43), (run["accepted"]["so_keepalive"], run["accepted"]["idle"], run["accepted"]["intvl"], run["accepted"]["cnt"]));
        Assert.Equal(0, run["tcp4"]["so_keepalive"]);
        Assert.Equal(directory, where.StandardOutput.Trim());
    }

    [Fact]
    public void Start_KeepsAnExistingPreload_Working()
    {
        string marker = CCompiler.Compile(
            "#include <unistd.h>\n__attribute__((constructor)) static void marker(void) { (void)!write(2, \"marker-loaded\\n\", 14); }\n",
            "marker",
            "-shared",
            "-fPIC");
        var environment = PreloadPrograms.CleanEnvironment(new Dictionary<string, string> { ["LD_PRELOAD"] = marker });
        var request = new KeepaliveLaunchRequest(PreloadPrograms.SockProbe, ["tcp4"]) { Idle = 51, Environment = environment };

        ProgramRun run = PreloadPrograms.Run(PreloadLauncher.CreateStartInfo(PreloadLauncher.Prepare(request), environment), TimeSpan.FromSeconds(30));

        Assert.Contains("marker-loaded", run.StandardError, StringComparison.Ordinal);
        Assert.Equal(51, run["tcp4"]["idle"]);
    }

    [Fact]
    public void Start_ProgramThatCannotBeExecuted_IsATypedError()
    {
        string directory = PreloadPrograms.TemporaryDirectory();
        string file = WriteExecutable(directory, "notes", "just text\n");
        var launch = PreloadLauncher.Prepare(new KeepaliveLaunchRequest(file, []) { Force = true });

        var e = Assert.ThrowsAny<KeepaliveException>(() => PreloadLauncher.Start(launch).Dispose());

        Assert.Equal("Program", e.Subject); // about_PSKeepalive: Program errors are about the program given
    }

    [Fact]
    public void Prepare_MissingWorkingDirectory_IsNotFound()
    {
        var request = new KeepaliveLaunchRequest(PreloadPrograms.SockProbe, []) { WorkingDirectory = "/nonexistent/pskeepalive" };

        var e = Assert.Throws<KeepaliveNotFoundException>(() => PreloadLauncher.Prepare(request));

        Assert.Contains("/nonexistent/pskeepalive", e.Message, StringComparison.Ordinal);
    }
}
