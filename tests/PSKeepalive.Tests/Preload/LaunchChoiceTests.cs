using System;
using System.Diagnostics;
using System.IO;
using PSKeepalive.Core.Launch;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Preload;

/// <summary>`run --mode/--method` in any case; programs with file capabilities are treated like set-ID ones.</summary>
public sealed class LaunchChoiceTests
{
    [Theory]
    [InlineData("--mode", "LISTENING")]
    [InlineData("--mode", "Outgoing")]
    [InlineData("--method", "Preload")]
    [InlineData("--method", "AUTO")]
    public void Run_ChoicesAreAcceptedInAnyCase(string option, string value)
    {
        CliResult result = CliRunner.Run("run", option, value, "--", "sh", "-c", "exit 5");

        Assert.True(result.ExitCode == 5, result.ToString());
    }

    [Fact]
    public void Run_UnknownChoice_ExitsTwo_NamingTheValues()
    {
        CliResult result = CliRunner.Run("run", "--method", "ptrace", "--", "true");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--method takes one of preload, seccomp, cgroup, auto; 'ptrace' is none of them.", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_StaticProgram_RefusalPointsToTheSeccompMethod()
    {
        CliResult refused = CliRunner.Run("run", "--idle", "5", "--", PSKeepalive.Tests.Preload.PreloadPrograms.StaticSockProbe, "tcp4");

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("--method seccomp|auto", refused.StandardError, StringComparison.Ordinal);
        Assert.Contains("--force", refused.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("preload")]
    [InlineData("seccomp")]
    public void Run_ProgramWithoutExecuteBit_IsRefusedTheSameWayByEveryMethod(string method)
    {
        string program = Path.Combine(CCompiler.NewDirectory(), "noexec");
        File.Copy("/bin/true", program);
        File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        CliResult result = CliRunner.Run("run", "--method", method, "--", program);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("[ProgramPermissionDenied]", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("chmod +x", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Directory_IsNamedAsADirectory()
    {
        CliResult result = CliRunner.Run("run", "--", Path.GetTempPath());

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("is a directory, not a program", result.StandardError, StringComparison.Ordinal);
    }

    [RootFact]
    public void Inspect_FileCapabilities_AreTreatedLikeSetId_AndRunRefusesWithTheReason()
    {
        string directory = Path.Combine(Path.GetTempPath(), "pskeepalive-trial-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            string program = Path.Combine(directory, "captrue");
            File.Copy("/bin/true", program);
            File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
            Assert.False(ProgramInspector.Inspect(program).HasFileCapabilities);
            RunToEnd("setcap", "cap_net_raw+ep", program);

            ProgramInspection inspection = ProgramInspector.Inspect(program);
            Assert.True(inspection.HasFileCapabilities);
            Assert.True(inspection.IsSetId);
            Assert.Equal(PreloadBlocker.SetId, inspection.Blocker);
            Assert.False(inspection.CanPreload);
            Assert.Contains("file capabilities", inspection.Reason, StringComparison.Ordinal);

            CliResult refused = CliRunner.Run("run", "--idle", "5", "--", program);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("file capabilities", refused.StandardError, StringComparison.Ordinal);
            Assert.Contains("[ProgramInvalidTarget]", refused.StandardError, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static void RunToEnd(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), file + " did not finish within 30 s.");
        Assert.True(process.ExitCode == 0, $"{file} failed: {error}");
    }
}

/// <summary>`run` without '--': the program's own options are never read as run's.</summary>
public sealed class RunSeparatorTests
{
    [Fact]
    public void Run_WithoutSeparator_PassesTheProgramsOptionsThrough()
    {
        CliResult result = CliRunner.Run("run", "--idle", "5", "--mode=outgoing", "sh", "-c", "echo \"$@\"", "sh", "--idle", "--count", "3", "--help");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("--idle --count 3 --help", result.StandardOutput.Trim());
    }

    [Fact]
    public void Run_WithoutSeparator_RunsOwnBadValueIsStillRefused()
    {
        CliResult result = CliRunner.Run("run", "--idle", "0", "sh", "-c", "echo started");

        Assert.Equal(2, result.ExitCode);
        Assert.DoesNotContain("started", result.StandardOutput, StringComparison.Ordinal);
    }
}
