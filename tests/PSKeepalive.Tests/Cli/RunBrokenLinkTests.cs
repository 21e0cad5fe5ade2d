using System;
using System.IO;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Cli;

/// <summary>`run` given a symbolic link that leads nowhere: said so, not blamed on a missing execute bit.</summary>
public sealed class RunBrokenLinkTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("trial-cli-links-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("dangling")]
    [InlineData("loop")]
    public void ALinkToNothing_IsNotFound_NamingTheLink(string kind)
    {
        string link = Path.Combine(_directory, "prog");
        if (kind == "dangling")
        {
            File.CreateSymbolicLink(link, Path.Combine(_directory, "missing"));
        }
        else
        {
            File.CreateSymbolicLink(link, Path.Combine(_directory, "other"));
            File.CreateSymbolicLink(Path.Combine(_directory, "other"), link);
        }

        CliResult result = CliRunner.Run(["run", "--", link], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("[ProgramNotFound]", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("symbolic link", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("chmod", result.StandardError, StringComparison.Ordinal);
    }
}
