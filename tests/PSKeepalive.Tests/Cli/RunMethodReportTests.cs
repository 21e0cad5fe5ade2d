using System;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Cli;

/// <summary>
/// `run --method auto` picks a method by itself; `--verbose` says which and why on stderr (as -Verbose does for
/// Start-KeepaliveProcess), and without it run adds nothing to the program's own output.
/// </summary>
public sealed class RunMethodReportTests
{
    [Theory]
    [InlineData("--")]
    [InlineData(null)] // without '--': --verbose is still run's, not the program's
    public void Verbose_NamesTheChosenMethodAndWhy(string? separator)
    {
        string[] program = separator is null ? ["sh", "-c", "exit 5"] : [separator, "sh", "-c", "exit 5"];

        CliResult result = CliRunner.Run(["run", "--method", "auto", "--verbose", .. program], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 5, result.ToString());
        string expected = Privilege.IsRoot ? "pskeepalive: method: cgroup: " : "pskeepalive: method: preload: ";
        Assert.StartsWith(expected, result.StandardError, StringComparison.Ordinal);
        Assert.True(result.StandardError.TrimEnd().Length > expected.Length + 10, result.ToString()); // the reason follows
    }

    [Fact]
    public void Verbose_NamesTheMethodAskedFor()
    {
        CliResult result = CliRunner.Run(["run", "--method", "seccomp", "--verbose", "--", "sh", "-c", "exit 0"], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("pskeepalive: method: seccomp: ", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutVerbose_RunAddsNothingToStderr()
    {
        CliResult result = CliRunner.Run(["run", "--method", "auto", "--", "sh", "-c", "echo out; exit 0"], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("out", result.StandardOutput.Trim());
        Assert.Equal(string.Empty, result.StandardError);
    }
}
