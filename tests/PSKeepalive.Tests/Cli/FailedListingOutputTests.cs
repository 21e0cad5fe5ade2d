using System;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Cli;

/// <summary>A listing that fails before its first row prints its error alone: no table header on stdout for a script to parse.</summary>
public sealed class FailedListingOutputTests
{
    [Theory]
    [InlineData]
    [InlineData("--include-process")]
    public void Connections_InANamespaceThatDoesNotExist_PrintNothingOnStdout(params string[] extra)
    {
        string missing = $"trial-cli-missing-{Environment.ProcessId}";

        CliResult result = CliRunner.Run(["connections", "--netns", missing, .. extra], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("[NetworkNamespaceNotFound]", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.StandardOutput);
    }
}
