using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Metadata;

/// <summary>
/// The text of the platyPS pages that Get-Help does not check: the SYNTAX block readers of the markdown see, the
/// module page, the common parameters' text and the page structure. What Get-Help shows (compiled from these
/// pages) is checked against the cmdlets in real pwsh: tests/PSKeepalive.Help.Tests.ps1.
/// </summary>
public sealed class HelpPageTextTests
{
    public static TheoryData<string> Cmdlets() => CmdletMetadataTests.Cmdlets();

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Syntax_NamesEveryParameterOfTheCmdlet(string typeName)
    {
        var cmdlet = CmdletMetadata.ModuleAssembly.GetType(typeName)!;
        string page = File.ReadAllText(Repository.PathOf("docs", "en-US", CmdletMetadata.Name(cmdlet) + ".md"));
        string syntax = Regex.Match(page, @"^## SYNTAX\s*$(?<body>.*?)(?=^## )", RegexOptions.Multiline | RegexOptions.Singleline).Groups["body"].Value;

        var missing = CmdletMetadata.Parameters(cmdlet).Select(p => p.Name).Where(n => !Regex.IsMatch(syntax, $@"-{n}\b")).ToList();
        var unknown = Regex.Matches(syntax, @"(?<=[\s\[])-(?<name>[A-Z]\w*)").Select(m => m.Groups["name"].Value)
            .Where(n => n is not ("WhatIf" or "Confirm") && CmdletMetadata.Parameters(cmdlet).All(p => p.Name != n)).Distinct().ToList();

        Assert.Empty(missing.Select(n => $"SYNTAX does not show -{n}"));
        Assert.Empty(unknown.Select(n => $"SYNTAX shows -{n}, which does not exist"));
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void ModulePage_GivesEachCmdletTheSynopsisOfItsPage(string typeName)
    {
        string name = CmdletMetadata.Name(CmdletMetadata.ModuleAssembly.GetType(typeName)!);
        string page = File.ReadAllText(Repository.PathOf("docs", "en-US", name + ".md"));
        string modulePage = File.ReadAllText(Repository.PathOf("docs", "en-US", "PSKeepalive.md"));
        string synopsis = Regex.Match(page, @"^## SYNOPSIS\s*$(?<text>.*?)(?=^## )", RegexOptions.Multiline | RegexOptions.Singleline).Groups["text"].Value;
        var entry = Regex.Match(modulePage, $@"^### \[{name}\]\({name}\.md\)\s*$(?<text>.*?)(?=^#|\z)", RegexOptions.Multiline | RegexOptions.Singleline);

        Assert.True(entry.Success, $"PSKeepalive.md does not list {name}");
        Assert.Equal(Regex.Replace(synopsis, @"\s+", " ").Trim(), Regex.Replace(entry.Groups["text"].Value, @"\s+", " ").Trim());
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void CommonParameters_HaveThePlatyPsText(string typeName)
    {
        // As platyPS writes it for PowerShell 7.4, where -ProgressAction is a common parameter.
        const string expected = "This cmdlet supports the common parameters: -Debug, -ErrorAction, -ErrorVariable, -InformationAction, " +
            "-InformationVariable, -OutVariable, -OutBuffer, -PipelineVariable, -ProgressAction, -Verbose, -WarningAction, and -WarningVariable. " +
            "For more information, see [about_CommonParameters](http://go.microsoft.com/fwlink/?LinkID=113216).";
        string name = CmdletMetadata.Name(CmdletMetadata.ModuleAssembly.GetType(typeName)!);
        string page = File.ReadAllText(Repository.PathOf("docs", "en-US", name + ".md"));
        string text = Regex.Match(page, @"^### CommonParameters\s*$(?<text>.*?)(?=^## )", RegexOptions.Multiline | RegexOptions.Singleline).Groups["text"].Value;

        Assert.Equal(expected, text.Trim());
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void EveryExample_RunsTheCmdletInACodeBlock(string typeName)
    {
        string name = CmdletMetadata.Name(CmdletMetadata.ModuleAssembly.GetType(typeName)!);
        string page = File.ReadAllText(Repository.PathOf("docs", "en-US", name + ".md"));
        string examples = Regex.Match(page, @"^## EXAMPLES\s*$(?<body>.*?)(?=^## )", RegexOptions.Multiline | RegexOptions.Singleline).Groups["body"].Value;

        var problems = new List<string>();
        foreach (Match example in Regex.Matches(examples, @"^### (?<title>Example[^\n]*)$(?<body>.*?)(?=^### |\z)", RegexOptions.Multiline | RegexOptions.Singleline))
        {
            var code = Regex.Matches(example.Groups["body"].Value, @"^```(?:powershell)?\s*$(?<code>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline);
            if (!code.Any(c => c.Groups["code"].Value.Contains(name, StringComparison.Ordinal)))
            {
                problems.Add($"{name} '{example.Groups["title"].Value.Trim()}' has no code block that runs {name}");
            }
        }

        Assert.Empty(problems);
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Page_HasThePlatyPsStructure(string typeName)
    {
        // New-ExternalHelp parses the sections in this order, only example headings under EXAMPLES, and links
        // ([text](uri)) under RELATED LINKS.
        string name = CmdletMetadata.Name(CmdletMetadata.ModuleAssembly.GetType(typeName)!);
        string page = File.ReadAllText(Repository.PathOf("docs", "en-US", name + ".md"));
        var sections = Regex.Matches(page, @"^## (?<name>.+?)\s*$", RegexOptions.Multiline).Select(m => m.Groups["name"].Value).ToList();

        Assert.Equal(["SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS"], sections);
        Assert.Matches(@"^---\nexternal help file: PSKeepalive\.dll-Help\.xml\nModule Name: PSKeepalive\nonline version:.*\nschema: 2\.0\.0\n---\n", page);

        string Body(string section) => Regex.Replace(
            Regex.Match(page, $@"^## {section}\s*$(?<body>.*?)(?=^## |\z)", RegexOptions.Multiline | RegexOptions.Singleline).Groups["body"].Value,
            "```.*?```", string.Empty, RegexOptions.Singleline);
        foreach (string prose in new[] { "SYNOPSIS", "DESCRIPTION", "NOTES" })
        {
            Assert.DoesNotMatch(@"(?m)^#{3,} ", Body(prose));
        }

        Assert.All(Regex.Matches(Body("EXAMPLES"), @"(?m)^### (?<title>.*)$"), m => Assert.StartsWith("Example", m.Groups["title"].Value));
        var links = Body("RELATED LINKS").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.All(links, l => Assert.Matches(@"^\[[^\]]+\]\([^)]*\)$", l));
    }
}
