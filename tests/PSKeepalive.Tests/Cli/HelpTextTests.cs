using System;
using System.Linq;
using System.Text.RegularExpressions;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Cli;

/// <summary>The --help of every command: each option's description reads as a sentence, and every number option names its range.</summary>
public sealed class HelpTextTests
{
    [Theory]
    [InlineData("settings")]
    [InlineData("set")]
    [InlineData("run")]
    [InlineData("connections")]
    [InlineData("enable")]
    [InlineData("disable")]
    [InlineData("close")]
    [InlineData("test")]
    [InlineData("policy", "set")]
    [InlineData("policy", "get")]
    [InlineData("policy", "remove")]
    [InlineData("watch")]
    public void EveryOption_StartsAsASentence_AndNumbersNameTheirRange(params string[] command)
    {
        CliResult result = CliRunner.Run([.. command, "--help"], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.ToString());

        // "  --name <VALUE>   Description" (descriptions may wrap onto lines that start with spaces only).
        var options = Regex.Matches(result.StandardOutput, @"^  (-[^\s,]+(?:, -[^\s]+)*)(?: <([^>]+)>)?(?: \(REQUIRED\))?\s{2,}(\S.*)$", RegexOptions.Multiline)
            .Select(m => (Name: m.Groups[1].Value, Value: m.Groups[2].Value, Description: m.Groups[3].Value))
            .ToList();
        Assert.NotEmpty(options);
        foreach (var (name, value, description) in options)
        {
            Assert.False(char.IsLower(description[0]) && !description.StartsWith("net.", StringComparison.Ordinal), $"{string.Join(' ', command)} {name}: '{description}'");
            if (value is "S" or "MS" or "N")
            {
                Assert.True(Regex.IsMatch(description, @"\d\.\.\d"), $"{string.Join(' ', command)} {name} names no range: '{description}'");
            }
        }
    }
}
