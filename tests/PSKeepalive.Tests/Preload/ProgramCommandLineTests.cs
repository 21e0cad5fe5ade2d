using PSKeepalive;
using Xunit;

namespace PSKeepalive.Tests.Preload;

/// <summary>
/// Start-KeepaliveProcess's reading of -ArgumentList as Start-Process does it, and the command line it shows for
/// -WhatIf and -Confirm (the swallowed-flag refusal runs in pwsh: tests/Start-KeepaliveProcess.Tests.ps1).
/// </summary>
public sealed class ProgramCommandLineTests
{
    [Theory]
    [InlineData(new[] { "-p 5000 127.0.0.1" }, new[] { "-p", "5000", "127.0.0.1" })]
    [InlineData(new[] { "-p", "5000" }, new[] { "-p", "5000" })]
    [InlineData(new[] { "\"two words\" x" }, new[] { "two words", "x" })]
    [InlineData(new[] { "a  \t b" }, new[] { "a", "b" })]
    [InlineData(new[] { "say \\\"hi\\\"" }, new[] { "say", "\"hi\"" })]
    [InlineData(new[] { "C:\\dir\\ x" }, new[] { "C:\\dir\\", "x" })]
    [InlineData(new[] { "\"a \"\"quoted\"\" b\"" }, new[] { "a \"quoted\" b" })]
    [InlineData(new[] { "one two", "three" }, new[] { "one", "two", "three" })] // Start-Process joins the strings first
    [InlineData(new string[0], new string[0])]
    public void ArgumentList_IsSplitAsStartProcessSplitsIt(string[] given, string[] expected)
    {
        Assert.Equal(expected, ProgramCommandLine.SplitLikeStartProcess(given));
    }

    [Theory]
    [InlineData("/usr/bin/nc", new[] { "-l", "3333" }, "/usr/bin/nc -l 3333")]
    [InlineData("/usr/bin/printf", new[] { "a b", "it's", "" }, "/usr/bin/printf 'a b' 'it'\\''s' ''")]
    [InlineData("/opt/my app/run", new[] { "--port=80" }, "'/opt/my app/run' --port=80")]
    public void Display_QuotesWhatAShellWouldSplit(string program, string[] arguments, string expected)
    {
        Assert.Equal(expected, PSKeepalive.Core.Launch.ShellWords.Join(program, arguments));
    }
}
