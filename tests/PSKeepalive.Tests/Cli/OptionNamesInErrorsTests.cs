using System;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Cli;

/// <summary>A bad value is named by the option the user typed, not by the cmdlet parameter Core knows it as.</summary>
public sealed class OptionNamesInErrorsTests
{
    [Theory]
    [InlineData("--interval must be between 10 and 3600000", "SampleInterval", "watch", "--interval", "5", "--duration", "1")]
    [InlineData("--time must be between 1 and 32767", "Time must", "set", "--time", "0", "--what-if")]
    [InlineData("--idle must be between 1 and 32767", "Idle must", "run", "--idle", "0", "--", "true")]
    [InlineData("--pid must be", "ProcessId", "enable", "--pid", "0", "--idle", "5")]
    public void AValueOutOfRange_IsNamedByItsOption(string expected, string parameterName, params string[] arguments)
    {
        CliResult result = CliRunner.Run(arguments);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(expected, result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(parameterName, result.StandardError, StringComparison.Ordinal);
    }
}
