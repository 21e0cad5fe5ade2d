using System;
using System.Globalization;
using PSKeepalive.Core.Launch;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Preload;

/// <summary>
/// `pskeepalive run` with the preload method: the program starts with SIGPIPE at its default action although the
/// CLI (.NET) ignores it, like under a shell; its other inherited dispositions are kept.
/// </summary>
public sealed class RunSignalTests
{
    private const ulong SigpipeBit = 1UL << 12;

    [Fact]
    public void Run_Preload_ProgramStartsWithSigpipeAtItsDefault()
    {
        CliResult result = CliRunner.Run("run", "--idle", "5", "--", "grep", "SigIgn", "/proc/self/status");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(0UL, IgnoredMask(result.StandardOutput) & SigpipeBit);
    }

    [Fact]
    public void Run_Forced_AStaticProgramToo_StartsWithSigpipeAtItsDefault()
    {
        // The shim never loads into a static program, so it cannot be what restores SIGPIPE.
        CliResult result = CliRunner.Run("run", "--force", "--", StaticStatusReader.Value, "SigIgn");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(0UL, IgnoredMask(result.StandardOutput) & SigpipeBit);
    }

    [Fact]
    public void Start_Forced_AStaticProgram_StartsWithSigpipeAtItsDefault()
    {
        // Start-KeepaliveProcess's path: a forced static program goes through the launcher's --exec, which becomes it.
        var request = new KeepaliveLaunchRequest(StaticStatusReader.Value, ["SigIgn"]) { Force = true };
        ProgramRun run = PreloadPrograms.Run(PreloadLauncher.CreateStartInfo(PreloadLauncher.Prepare(request)), TimeSpan.FromSeconds(30));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(0UL, IgnoredMask(run.StandardOutput) & SigpipeBit);
    }

    [Fact]
    public void Run_Seccomp_ProgramStartsWithSigpipeAtItsDefault()
    {
        CliResult result = CliRunner.Run("run", "--method", "seccomp", "--", StaticStatusReader.Value, "SigIgn");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(0UL, IgnoredMask(result.StandardOutput) & SigpipeBit);
    }

    /// <summary>A static program that prints the line of /proc/self/status starting with its argument.</summary>
    private static readonly Lazy<string> StaticStatusReader = new(() => CCompiler.Compile(
        """
        #include <stdio.h>
        #include <string.h>
        int main(int argc, char **argv)
        {
            char line[256];
            FILE *f = fopen("/proc/self/status", "r");
            while (argc > 1 && f != NULL && fgets(line, sizeof(line), f) != NULL)
                if (strncmp(line, argv[1], strlen(argv[1])) == 0)
                    fputs(line, stdout);
            return 0;
        }
        """,
        "status-reader-static",
        "-static"));

    [Fact]
    public void Run_Preload_PipelineWhoseReaderQuits_EndsQuietly()
    {
        // With SIGPIPE ignored, `yes` gets EPIPE and says "Broken pipe"; with the default action it just dies.
        CliResult result = CliRunner.Run(["run", "--", "sh", "-c", "yes | head -1"], TimeSpan.FromSeconds(30));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("y", result.StandardOutput.Trim());
        Assert.DoesNotContain("Broken pipe", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Preload_TheVariableIsConsumed_SoChildrenKeepWhatTheProgramChose()
    {
        // The program ignores SIGPIPE itself; its child must inherit that (the shim must not reset it again).
        CliResult result = CliRunner.Run(
            "run", "--", "sh", "-c", "echo \"var=${PSKEEPALIVE_DEFAULT_SIGPIPE-unset}\"; trap '' PIPE; grep SigIgn /proc/self/status");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("var=unset", result.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(SigpipeBit, IgnoredMask(result.StandardOutput) & SigpipeBit);
    }

    [Fact]
    public void Run_Preload_OtherIgnoredSignalsAreInherited()
    {
        // nohup-style: a caller that ignores SIGHUP expects the program to ignore it too (POSIX exec semantics).
        CliResult result = CliRunner.RunProgram("sh", ["-c", "trap '' HUP; exec dotnet \"$0\" run -- grep SigIgn /proc/self/status", CliRunner.DllPath], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.ToString());
        ulong mask = IgnoredMask(result.StandardOutput);
        Assert.Equal(1UL << 0, mask & (1UL << 0)); // SIGHUP (1) kept ignored
        Assert.Equal(0UL, mask & SigpipeBit);
    }

    private static ulong IgnoredMask(string output)
    {
        foreach (string line in output.Split('\n'))
        {
            if (line.StartsWith("SigIgn:", StringComparison.Ordinal))
            {
                return ulong.Parse(line["SigIgn:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("no SigIgn line in: " + output);
    }
}
