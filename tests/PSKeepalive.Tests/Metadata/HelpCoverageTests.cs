using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Metadata;

/// <summary>
/// The platyPS help in docs/en-US and the cmdlets must describe each other: every output property has a help
/// entry, the module page and the about topic name every cmdlet, and no page documents a cmdlet that no longer
/// exists. (Sections, examples and every parameter are checked as Get-Help shows them: PSKeepalive.Help.Tests.ps1.)
/// </summary>
public sealed class HelpCoverageTests
{
    public static TheoryData<string> Cmdlets() => CmdletMetadataTests.Cmdlets();

    private static string DocsDirectory => Repository.PathOf("docs", "en-US");

    private static string HelpOf(Type cmdlet)
    {
        string path = Path.Combine(DocsDirectory, CmdletMetadata.Name(cmdlet) + ".md");
        Assert.True(File.Exists(path), $"{CmdletMetadata.Name(cmdlet)} has no help page at docs/en-US/{CmdletMetadata.Name(cmdlet)}.md");
        return File.ReadAllText(path);
    }

    private static string Section(string help, string heading)
    {
        var match = Regex.Match(help, $@"^## {heading}\s*$(?<body>.*?)(?=^## |\z)", RegexOptions.Multiline | RegexOptions.Singleline);
        return match.Success ? match.Groups["body"].Value : string.Empty;
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void HelpPage_NamesEveryOutputTypeAndItsProperties(string typeName)
    {
        var type = CmdletMetadata.ModuleAssembly.GetType(typeName)!;
        string outputs = Section(HelpOf(type), "OUTPUTS");

        foreach (Type output in OutputTypes(type))
        {
            Assert.True(outputs.Contains(output.FullName!, StringComparison.Ordinal), $"{CmdletMetadata.Name(type)} OUTPUTS does not name {output.FullName}");
            if (output.Namespace?.StartsWith("PSKeepalive", StringComparison.Ordinal) != true)
            {
                continue;
            }

            foreach (var property in output.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                Assert.True(
                    Regex.IsMatch(outputs, $@"\b{property.Name}\b") || OutputsDocumentedElsewhere(outputs, output, property.Name),
                    $"{CmdletMetadata.Name(type)} OUTPUTS does not describe {output.Name}.{property.Name}");
            }
        }
    }

    [Fact]
    public void ModulePageAndAboutTopic_ExistAndNameEveryCmdlet()
    {
        string modulePage = File.ReadAllText(Path.Combine(DocsDirectory, "PSKeepalive.md"));
        string about = File.ReadAllText(Path.Combine(DocsDirectory, "about_PSKeepalive.help.md"));

        foreach (string name in CmdletMetadata.CmdletTypes.Select(CmdletMetadata.Name))
        {
            Assert.True(modulePage.Contains($"### [{name}]({name}.md)", StringComparison.Ordinal), $"PSKeepalive.md does not list {name}");
        }

        Assert.Contains("about_PSKeepalive", about);
        foreach (string topic in new[] { "tcp_keepalive_time", "SO_KEEPALIVE", "TCP_USER_TIMEOUT", "LD_PRELOAD", "namespace", "CAP_NET_ADMIN" })
        {
            Assert.True(about.Contains(topic, StringComparison.Ordinal), $"about_PSKeepalive does not explain {topic}");
        }
    }

    [Fact]
    public void Docs_HaveNoPageForACmdletThatDoesNotExist()
    {
        var names = CmdletMetadata.CmdletTypes.Select(CmdletMetadata.Name).ToHashSet();
        var pages = Directory.GetFiles(DocsDirectory, "*-*.md").Select(Path.GetFileNameWithoutExtension);

        Assert.Empty(pages.Where(p => !names.Contains(p!)).Select(p => $"docs/en-US/{p}.md documents no existing cmdlet"));
    }

    internal static IEnumerable<Type> OutputTypes(Type cmdlet) =>
        CmdletMetadata.Attributes(cmdlet, "OutputTypeAttribute")
            .SelectMany(a => a.ConstructorArguments)
            .SelectMany(arg => arg.Value is IEnumerable<CustomAttributeTypedArgument> many ? many.Select(m => m.Value) : [arg.Value])
            .OfType<Type>()
            .Distinct();

    /// <summary>A page may refer to another cmdlet's page for a shared type ("see Get-TcpKeepaliveSetting").</summary>
    private static bool OutputsDocumentedElsewhere(string outputs, Type output, string property)
    {
        foreach (Match reference in Regex.Matches(outputs, @"see (?<cmdlet>\w+-\w+)"))
        {
            string other = Path.Combine(DocsDirectory, reference.Groups["cmdlet"].Value + ".md");
            if (File.Exists(other) && Regex.IsMatch(Section(File.ReadAllText(other), "OUTPUTS"), $@"\b{property}\b"))
            {
                return true;
            }
        }

        return false;
    }
}
