using System;
using System.Diagnostics;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Preload;

/// <summary>`pskeepalive run`, driven as a process.</summary>
public sealed class RunCommandTests
{
    [Fact]
    public void Run_AppliesTheOptions_AndExitsWithTheProgramsCode()
    {
        CliResult result = CliRunner.Run(
            "run", "--idle", "17", "--interval", "18", "--count", "19", "--user-timeout", "2000", "--mode", "outgoing", "--",
            PreloadPrograms.SockProbe, "tcp4", "listener");

        Assert.True(result.ExitCode == 0, result.ToString());
        var run = new ProgramRun(result.ExitCode, result.StandardOutput, result.StandardError);
        Assert.Equal((1, 17, 18, 19, 2000), (run["tcp4"]["so_keepalive"], run["tcp4"]["idle"], run["tcp4"]["intvl"], run["tcp4"]["cnt"], run["tcp4"]["user_timeout"]));
        Assert.Equal(0, run["listener"]["so_keepalive"]);
        Assert.Equal(0, run["accepted"]["so_keepalive"]);
    }

    [Fact]
    public void Run_ProgramArgumentsThatLookLikeOptions_ArePassedThrough()
    {
        CliResult result = CliRunner.Run("run", "--idle", "5", "--", "sh", "-c", "echo \"$@\"; exit 7", "sh", "--idle", "-x", "@file");

        Assert.Equal(7, result.ExitCode);
        Assert.Equal("--idle -x @file", result.StandardOutput.Trim());
    }

    [Fact]
    public void Run_PythonServerAndClient_Listening()
    {
        CliResult result = CliRunner.Run("run", "--idle", "23", "--mode", "listening", "--", PreloadPrograms.Python, PreloadPrograms.Fixture("pyprobe.py"));

        Assert.True(result.ExitCode == 0, result.ToString());
        var run = new ProgramRun(result.ExitCode, result.StandardOutput, result.StandardError);
        Assert.Equal((1, 23), (run["py-accepted"]["so_keepalive"], run["py-accepted"]["idle"]));
        Assert.Equal(0, run["py-client"]["so_keepalive"]);
    }

    [Theory]
    [InlineData("--idle", "0")]
    [InlineData("--interval", "32768")]
    [InlineData("--count", "128")]
    [InlineData("--user-timeout", "-1")]
    public void Run_OutOfRange_ExitsTwoWithoutStarting(string option, string value)
    {
        CliResult result = CliRunner.Run("run", option, value, "--", "sh", "-c", "echo started");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(option + " must be between", result.StandardError, StringComparison.Ordinal); // the option typed, not the cmdlet parameter
        Assert.DoesNotContain("started", result.StandardOutput, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--mode", "sideways")]
    [InlineData("--idle", "ten")]
    public void Run_BadArguments_ExitTwo(string option, string value)
    {
        CliResult result = CliRunner.Run("run", option, value, "--", "true");

        Assert.Equal(2, result.ExitCode);
    }

    [Fact]
    public void Run_StaticProgram_IsRefusedWithTheReason_UnlessForced()
    {
        CliResult refused = CliRunner.Run("run", "--idle", "5", "--", PreloadPrograms.StaticSockProbe, "tcp4");
        CliResult forced = CliRunner.Run("run", "--idle", "5", "--force", "--", PreloadPrograms.StaticSockProbe, "tcp4");

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("statically linked", refused.StandardError, StringComparison.Ordinal);
        Assert.Contains("[ProgramInvalidTarget]", refused.StandardError, StringComparison.Ordinal);
        Assert.Equal(string.Empty, refused.StandardOutput);
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.Contains("tcp4 so_keepalive=0", forced.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("warning", forced.StandardError, StringComparison.Ordinal);
    }

    /// <summary>A service manager stops `pskeepalive run` with SIGTERM: the program must get it and its status must come back.</summary>
    [Fact]
    public void Run_PassesSigtermOnToTheProgram()
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (string argument in new[] { CliRunner.DllPath, "run", "--", "sh", "-c", "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.1; done" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        try
        {
            var ready = process.StandardOutput.ReadLineAsync();
            Assert.True(ready.Wait(TimeSpan.FromSeconds(60)), "the program did not start");
            Assert.Equal("ready", ready.Result);

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                Assert.True(kill.WaitForExit(TimeSpan.FromSeconds(10)));
            }

            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(20)), "pskeepalive run did not end after SIGTERM");
            Assert.Equal(42, process.ExitCode);
            Assert.Equal("got-term", process.StandardOutput.ReadToEnd().Trim());
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public void Run_MissingProgram_ExitsOne()
    {
        CliResult result = CliRunner.Run("run", "--", "pskeepalive-no-such-program");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("[ProgramNotFound]", result.StandardError, StringComparison.Ordinal);
    }
}
