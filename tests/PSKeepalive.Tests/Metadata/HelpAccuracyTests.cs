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
/// The yaml block of every parameter in docs/en-US says what the cmdlet declares: type, parameter sets,
/// aliases, whether it is required, its position, how it takes pipeline input, and the valid range in the
/// text. (<see cref="HelpCoverageTests"/> checks that the entries exist; this checks that they are right.)
/// </summary>
public sealed class HelpAccuracyTests
{
    public static TheoryData<string> Cmdlets() => CmdletMetadataTests.Cmdlets();

    private sealed record ParameterHelp(string Name, string Text, IReadOnlyDictionary<string, string> Yaml);

    private static IReadOnlyList<ParameterHelp> ParameterHelpOf(Type cmdlet)
    {
        string page = File.ReadAllText(Repository.PathOf("docs", "en-US", CmdletMetadata.Name(cmdlet) + ".md"));
        string parameters = Regex.Match(page, @"^## PARAMETERS\s*$(?<body>.*?)(?=^## |\z)", RegexOptions.Multiline | RegexOptions.Singleline).Groups["body"].Value;
        var result = new List<ParameterHelp>();
        foreach (Match block in Regex.Matches(parameters, @"^### -(?<name>\w+)\s*$(?<body>.*?)(?=^### |\z)", RegexOptions.Multiline | RegexOptions.Singleline))
        {
            string body = block.Groups["body"].Value;
            var yaml = Regex.Match(body, @"```yaml\s*$(?<yaml>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline).Groups["yaml"].Value;
            var fields = Regex.Matches(yaml, @"^(?<key>[A-Za-z ]+):[ \t]*(?<value>.*?)\s*$", RegexOptions.Multiline)
                .ToDictionary(m => m.Groups["key"].Value.Trim(), m => m.Groups["value"].Value.Trim(), StringComparer.Ordinal);
            result.Add(new ParameterHelp(block.Groups["name"].Value, body[..Math.Max(0, body.IndexOf("```yaml", StringComparison.Ordinal))], fields));
        }

        return result;
    }

    /// <summary>The type name platyPS writes: Nullable unwrapped, arrays with [].</summary>
    private static string TypeName(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsArray ? TypeName(type.GetElementType()!) + "[]" : type.Name;
    }

    private static string Field(ParameterHelp help, string key, string cmdlet)
    {
        Assert.True(help.Yaml.TryGetValue(key, out string? value), $"{cmdlet} -{help.Name}: the yaml block has no '{key}:' line");
        return value!;
    }

    private static HashSet<string> List(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void ParameterYaml_MatchesTheDeclaration(string typeName)
    {
        var cmdlet = CmdletMetadata.ModuleAssembly.GetType(typeName)!;
        string name = CmdletMetadata.Name(cmdlet);
        var problems = new List<string>();
        var declared = CmdletMetadata.Parameters(cmdlet).ToDictionary(p => p.Name, StringComparer.Ordinal);

        foreach (ParameterHelp help in ParameterHelpOf(cmdlet))
        {
            if (help.Name is "WhatIf" or "Confirm")
            {
                Assert.Equal("SwitchParameter", Field(help, "Type", name));
                Assert.Equal(help.Name == "WhatIf" ? "wi" : "cf", Field(help, "Aliases", name));
                continue;
            }

            if (!declared.TryGetValue(help.Name, out PropertyInfo? property))
            {
                continue; // HelpCoverageTests reports parameters that do not exist
            }

            var attributes = CmdletMetadata.Attributes(property, "ParameterAttribute").ToList();
            string? SetOf(CustomAttributeData a) => CmdletMetadata.Named(a, "ParameterSetName") as string is { } s && s != "__AllParameterSets" ? s : null;

            string type = Field(help, "Type", name);
            if (type != TypeName(property.PropertyType))
            {
                problems.Add($"-{help.Name}: Type is {type}, the code says {TypeName(property.PropertyType)}");
            }

            var sets = attributes.Select(SetOf).ToList();
            string expectedSets = sets.Any(s => s is null) ? "(All)" : string.Join(", ", sets.OrderBy(s => s, StringComparer.Ordinal));
            string docSets = Field(help, "Parameter Sets", name);
            if (docSets != expectedSets && !(docSets != "(All)" && List(docSets).IsSubsetOf(sets.OfType<string>())))
            {
                problems.Add($"-{help.Name}: Parameter Sets is '{docSets}', the code says '{expectedSets}'");
            }

            var aliases = CmdletMetadata.Attributes(property, "AliasAttribute")
                .SelectMany(a => a.ConstructorArguments)
                .SelectMany(arg => arg.Value is IEnumerable<CustomAttributeTypedArgument> many ? many.Select(m => (string)m.Value!) : [(string)arg.Value!])
                .ToHashSet(StringComparer.Ordinal);
            if (!List(Field(help, "Aliases", name)).SetEquals(aliases))
            {
                problems.Add($"-{help.Name}: Aliases is '{help.Yaml["Aliases"]}', the code says '{string.Join(", ", aliases)}'");
            }

            // The attributes of the sets the block is about.
            var relevant = docSets == "(All)" ? attributes : attributes.Where(a => SetOf(a) is null || List(docSets).Contains(SetOf(a)!)).ToList();
            bool mandatory = relevant.Any(a => CmdletMetadata.Named(a, "Mandatory") is true);
            string required = Field(help, "Required", name);
            if (!string.Equals(required, mandatory ? "True" : "False", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"-{help.Name}: Required is {required}, the code says {mandatory}");
            }

            int? position = relevant.Select(a => CmdletMetadata.Named(a, "Position") as int?).FirstOrDefault(p => p is not null and >= 0);
            string expectedPosition = position?.ToString(CultureInfo.InvariantCulture) ?? "Named";
            string docPosition = Field(help, "Position", name);
            if (!string.Equals(docPosition, expectedPosition, StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"-{help.Name}: Position is {docPosition}, the code says {expectedPosition}");
            }

            bool byValue = relevant.Any(a => CmdletMetadata.Named(a, "ValueFromPipeline") is true);
            bool byName = relevant.Any(a => CmdletMetadata.Named(a, "ValueFromPipelineByPropertyName") is true);
            bool remaining = relevant.Any(a => CmdletMetadata.Named(a, "ValueFromRemainingArguments") is true);
            string expectedPipeline = (byValue, byName) switch
            {
                (true, true) => "True (ByPropertyName, ByValue)", // platyPS order, as in Get-ChildItem -Path
                (true, false) => "True (ByValue)",
                (false, true) => "True (ByPropertyName)",
                _ => "False",
            };
            string docPipeline = Field(help, "Accept pipeline input", name);
            if (docPipeline != expectedPipeline)
            {
                problems.Add($"-{help.Name}: Accept pipeline input is '{docPipeline}', the code says '{expectedPipeline}'{(remaining ? " (remaining arguments are not pipeline input)" : string.Empty)}");
            }

            if (TypeName(property.PropertyType) == "SwitchParameter" && !Field(help, "Default value", name).StartsWith("False", StringComparison.Ordinal))
            {
                problems.Add($"-{help.Name}: a switch's default value is False");
            }

            if (CmdletMetadata.Attribute(property, "ValidateRangeAttribute") is { } range)
            {
                string min = Convert.ToInt64(CmdletMetadata.Unwrap(range.ConstructorArguments[0].Value), CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
                string max = Convert.ToInt64(CmdletMetadata.Unwrap(range.ConstructorArguments[1].Value), CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
                if (!Regex.IsMatch(help.Text, $@"\b{min}\b") || !Regex.IsMatch(help.Text, $@"\b{max}\b"))
                {
                    problems.Add($"-{help.Name}: the text should state the valid range {min} to {max}");
                }
            }
        }

        Assert.Empty(problems.Select(p => $"{name} {p}"));
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void ShouldProcessCmdlets_DocumentWhatIfAndConfirmWithTheirAliases(string typeName)
    {
        var cmdlet = CmdletMetadata.ModuleAssembly.GetType(typeName)!;
        bool shouldProcess = CmdletMetadata.Named(CmdletMetadata.Attribute(cmdlet, "CmdletAttribute")!, "SupportsShouldProcess") is true;
        var names = ParameterHelpOf(cmdlet).Select(h => h.Name).ToHashSet(StringComparer.Ordinal);

        Assert.Equal(shouldProcess, names.Contains("WhatIf"));
        Assert.Equal(shouldProcess, names.Contains("Confirm"));
    }

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
