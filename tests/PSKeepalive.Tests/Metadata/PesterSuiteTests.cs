using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Metadata;

/// <summary>
/// The Pester suites cannot run here (no pwsh), so their known traps are checked as text: set-up in both
/// BeforeDiscovery and BeforeAll (-Skip and -ForEach are evaluated during Discovery), no assignment to an
/// automatic variable, error ids in the 'Id,PSKeepalive.Commands.XCommand' form, an assertion in every It,
/// no unbounded accept, and one suite per cmdlet.
/// </summary>
public sealed class PesterSuiteTests
{
    private static readonly string[] AutomaticVariables =
        ["pid", "host", "input", "args", "error", "matches", "event", "eventargs", "eventsubscriber", "home", "profile", "psitem", "_", "this", "sender", "true", "false", "null", "isLinux", "isWindows", "isMacOS", "isCoreCLR", "pscmdlet", "psboundparameters", "myinvocation", "executioncontext", "pshome", "psscriptroot", "pscommandpath", "shellid", "stacktrace", "switch", "foreach", "lastexitcode"];

    public static TheoryData<string> Suites()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(Repository.PathOf("tests"), "*.Tests.ps1").OrderBy(f => f, StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    private static string Read(string suite) => File.ReadAllText(Repository.PathOf("tests", suite));

    /// <summary>The script without comments, so that a commented-out line neither passes nor fails a check.</summary>
    private static string Code(string suite) => Regex.Replace(Read(suite), @"(?m)^\s*#.*$", string.Empty);

    [Fact]
    public void EveryCmdlet_HasASuite()
    {
        var missing = CmdletMetadata.CmdletTypes.Select(CmdletMetadata.Name)
            .Where(n => !File.Exists(Repository.PathOf("tests", n + ".Tests.ps1")));

        Assert.Empty(missing.Select(n => $"tests/{n}.Tests.ps1 is missing"));
        Assert.True(File.Exists(Repository.PathOf("tests", "PSKeepalive.Module.Tests.ps1")));
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Suite_LoadsCommonInDiscoveryAndRun(string suite)
    {
        string code = Code(suite);

        Assert.Matches(@"BeforeDiscovery\s*\{\s*\.\s*\$PSScriptRoot/common\.ps1", code);
        Assert.Matches(@"(?m)^BeforeAll\s*\{\s*\.\s*\$PSScriptRoot/common\.ps1", code);
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Suite_AssignsNoAutomaticVariable(string suite)
    {
        string code = Code(suite);
        var assigned = AutomaticVariables
            .Where(v => v != "null") // $null = ... discards output, which is the idiom
            .Where(v => Regex.IsMatch(code, $@"(?i)\$(?:script:|global:|local:)?{Regex.Escape(v)}\s*=(?!=)") ||
                        Regex.IsMatch(code, $@"(?i)foreach\s*\(\s*\${Regex.Escape(v)}\s+in\b"));

        Assert.Empty(assigned.Select(v => $"{suite} assigns the automatic variable ${v}"));
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Suite_NamesErrorIdsWithTheirCommandClass(string suite)
    {
        string code = Code(suite);
        var ids = Regex.Matches(code, @"-ErrorId\s+'(?<id>[^']*)'").Select(m => m.Groups["id"].Value)
            .Concat(Regex.Matches(code, @"FullyQualifiedErrorId\s*\|\s*Should\s+-Be(?:Like)?\s+'(?<id>[^']*)'").Select(m => m.Groups["id"].Value));

        Assert.Empty(ids.Where(id => !Regex.IsMatch(id, @"^[A-Z]\w+,PSKeepalive\.Commands\.[A-Z]\w+Command$"))
            .Select(id => $"{suite}: '{id}' is not of the form 'Id,PSKeepalive.Commands.VerbNounCommand'"));
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Suite_AssertsInEveryIt(string suite)
    {
        string code = Code(suite);
        var its = Regex.Matches(code, @"(?m)^\s*It\s+'(?<name>(?:[^']|'')*)'");
        var empty = new List<string>();
        foreach (Match it in its)
        {
            int start = it.Index + it.Length;
            Match next = Regex.Match(code[start..], @"(?m)^\s*(?:It|Context|Describe)\s+'");
            string body = next.Success ? code.Substring(start, next.Index) : code[start..];
            if (!body.Contains("Should", StringComparison.Ordinal))
            {
                empty.Add(it.Groups["name"].Value);
            }
        }

        Assert.NotEmpty(its);
        Assert.Empty(empty.Select(n => $"{suite}: It '{n}' asserts nothing"));
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Suite_WaitsOnlyWithABound(string suite)
    {
        string code = Code(suite);

        // AcceptTcpClient()/AcceptSocket() with nothing pending block forever; Start-PythonLoopbackClient bounds the accept.
        // (An accept right after a synchronous Connect on loopback returns at once: the connection is already queued.)
        var unbounded = Regex.Matches(code, @"\.(?:AcceptTcpClient|AcceptSocket|Accept)\(\)").Count
                        - Regex.Matches(code, @"\.Connect\(").Count - Regex.Matches(code, @"TcpClient\]::new\('127\.0\.0\.1'").Count;
        Assert.True(unbounded <= 0, $"{suite} accepts more connections than it makes itself: an accept could wait forever");
        Assert.DoesNotMatch(@"\.WaitForExit\(\)", code.Replace("process.WaitForExit()", string.Empty, StringComparison.Ordinal));
        Assert.DoesNotMatch(@"Start-Sleep\s+(?:-Seconds\s+)?\d{3,}", code);
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Suite_UsesOnlyLoopbackAddresses(string suite)
    {
        string code = Code(suite);
        var addresses = Regex.Matches(code, @"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b").Select(m => m.Value)
            .Where(a => !a.StartsWith("127.", StringComparison.Ordinal) && a != "0.0.0.0");

        Assert.Empty(addresses.Select(a => $"{suite} uses {a}; tests use loopback only"));
        Assert.DoesNotMatch(@"IPAddress\]::Any\b", code);
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Suite_WritesSysctlsOnlyInsideANamespace(string suite)
    {
        string code = Code(suite);

        // Writes to /proc/sys happen only through `ip netns exec NAME`; Set-TcpKeepaliveSetting without -WhatIf needs -NetworkNamespace,
        // except where the suite expects the write to be refused (an unprivileged caller).
        foreach (Match write in Regex.Matches(code, @"(?m)^.*>\s*/proc/sys/.*$"))
        {
            Assert.Contains("ip netns exec", write.Value, StringComparison.Ordinal);
        }

        foreach (Match set in Regex.Matches(code, @"(?m)^(?!\s*(?:Describe|Context|It)\s)(?!.*'[^'\n]*Set-TcpKeepaliveSetting).*\bSet-TcpKeepaliveSetting\b(?!\.)(?![^\n]*-WhatIf)(?![^\n]*-NetworkNamespace).*$"))
        {
            Assert.True(
                Regex.IsMatch(set.Value, @"Should\s+-Throw|ErrorAction Stop"),
                $"{suite}: '{set.Value.Trim()}' could change the host's sysctls");
        }
    }
}
