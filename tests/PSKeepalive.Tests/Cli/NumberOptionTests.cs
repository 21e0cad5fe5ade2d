using System;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Cli;

/// <summary>Whole-number options given a number too large for them: the error names the range, not "not a whole number".</summary>
public sealed class NumberOptionTests
{
    [Theory]
    [InlineData("--idle", "99999999999", "1..32767", "run", "--", "true")]
    [InlineData("--count", "-99999999999", "1..127", "run", "--", "true")]
    [InlineData("--time", "4294967296", "1..32767", "set", "--what-if")]
    [InlineData("--interval", "99999999999", "10..3600000", "watch", "--duration", "1")]
    public void AHugeNumber_IsRefusedNamingTheRange(string option, string value, string range, string command, params string[] rest)
    {
        string[] arguments = command == "run" ? ["run", option, value, .. rest] : [command, .. rest, option, value];

        CliResult result = CliRunner.Run(arguments, TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"'{value}' is outside", result.StandardError, StringComparison.Ordinal);
        Assert.Contains(range, result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("is not one", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_IsStillRefusedAsNotANumber()
    {
        CliResult result = CliRunner.Run(["run", "--idle", "12s", "--", "true"], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("'12s' is not one", result.StandardError, StringComparison.Ordinal);
    }
}
