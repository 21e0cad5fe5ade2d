using System;
using System.Collections.Generic;
using System.Linq;

namespace PSKeepalive.HelpCompiler;

/// <summary>One parameter as one yaml block of its page describes it (a parameter may have one per parameter set).</summary>
internal sealed record ParameterHelp(
    string Name,
    IReadOnlyList<string> Description,
    string Type,
    IReadOnlyList<string> ParameterSets,
    IReadOnlyList<string> Aliases,
    IReadOnlyList<string> AcceptedValues,
    bool Required,
    string Position,
    string? DefaultValue,
    string PipelineInput,
    bool Globbing)
{
    public const string AllSets = "(All)";

    public bool IsSwitch => Type is "SwitchParameter" or "System.Management.Automation.SwitchParameter" or "switch";

    public bool InAllSets => ParameterSets.Count == 0 || ParameterSets.Contains(AllSets, StringComparer.Ordinal);
}

internal sealed record ExampleHelp(string Title, string Code, IReadOnlyList<string> Remarks);

internal sealed record TypeHelp(string TypeName, IReadOnlyList<string> Description);

internal sealed record LinkHelp(string Text, string Uri);

/// <summary>A cmdlet's help page in platyPS schema 2.0.0, read into what MAML needs.</summary>
internal sealed record CommandHelp(
    string Name,
    IReadOnlyList<string> Synopsis,
    IReadOnlyList<string> Description,
    IReadOnlyList<string> SyntaxSets,
    IReadOnlyList<IReadOnlyList<ParameterHelp>> Parameters,
    IReadOnlyList<TypeHelp> Inputs,
    IReadOnlyList<TypeHelp> Outputs,
    IReadOnlyList<string> Notes,
    IReadOnlyList<ExampleHelp> Examples,
    IReadOnlyList<LinkHelp> Links)
{
    private static readonly string[] Sections = ["SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS"];

    /// <summary>Reads a cmdlet page; a page that New-ExternalHelp would reject is refused with its line.</summary>
    public static CommandHelp Read(MarkdownPage page)
    {
        var blocks = page.Blocks;
        if (blocks.Count == 0 || blocks[0] is not { Kind: BlockKind.Heading, Level: 1 })
        {
            throw new HelpFormatException(page.Path, 1, "a cmdlet page starts with '# Verb-Noun'");
        }

        string name = blocks[0].Text;
        var sections = new Dictionary<string, List<Block>>(StringComparer.Ordinal);
        List<Block>? current = null;
        foreach (Block block in blocks.Skip(1))
        {
            if (block is { Kind: BlockKind.Heading, Level: 2 })
            {
                if (!Sections.Contains(block.Text, StringComparer.Ordinal))
                {
                    throw new HelpFormatException(page.Path, block.Line, $"'## {block.Text}' is not a section of a cmdlet page ({string.Join(", ", Sections)})");
                }

                current = sections[block.Text] = [];
                continue;
            }

            if (current is null)
            {
                throw new HelpFormatException(page.Path, block.Line, "text before ## SYNOPSIS");
            }

            current.Add(block);
        }

        foreach (string required in new[] { "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "PARAMETERS" })
        {
            if (!sections.ContainsKey(required))
            {
                throw new HelpFormatException(page.Path, 1, $"{name} has no ## {required}");
            }
        }

        List<Block> Section(string section) => sections.TryGetValue(section, out var found) ? found : [];
        return new CommandHelp(
            name,
            Paragraphs(page, Section("SYNOPSIS")),
            Paragraphs(page, Section("DESCRIPTION")),
            Section("SYNTAX").Where(b => b is { Kind: BlockKind.Heading, Level: 3 }).Select(b => b.Text).ToList(),
            ReadParameters(page, Section("PARAMETERS")),
            ReadTypes(page, Section("INPUTS")),
            ReadTypes(page, Section("OUTPUTS")),
            Paragraphs(page, Section("NOTES")),
            ReadExamples(page, name, Section("EXAMPLES")),
            ReadLinks(page, Section("RELATED LINKS")));
    }

    /// <summary>Text blocks as MAML paragraphs: a paragraph, a whole list or a code block each make one.</summary>
    private static List<string> Paragraphs(MarkdownPage page, IEnumerable<Block> blocks)
    {
        var paragraphs = new List<string>();
        foreach (Block block in blocks)
        {
            switch (block.Kind)
            {
                case BlockKind.Paragraph:
                case BlockKind.List:
                    paragraphs.Add(MarkdownPage.Plain(block.Text));
                    break;
                case BlockKind.Code:
                    paragraphs.Add(block.Text);
                    break;
                default:
                    throw new HelpFormatException(page.Path, block.Line, $"unexpected heading '{block.Text}' in running text");
            }
        }

        return paragraphs;
    }

    /// <summary>The '### ' entries of a section, each with the blocks under it; anything else there is refused.</summary>
    private static IEnumerable<(Block Heading, List<Block> Body)> Entries(MarkdownPage page, List<Block> blocks, string refusal)
    {
        for (int i = 0; i < blocks.Count; i++)
        {
            if (blocks[i] is not { Kind: BlockKind.Heading, Level: 3 } heading)
            {
                throw new HelpFormatException(page.Path, blocks[i].Line, refusal);
            }

            int end = blocks.FindIndex(i + 1, b => b is { Kind: BlockKind.Heading, Level: <= 3 });
            end = end < 0 ? blocks.Count : end;
            yield return (heading, blocks.GetRange(i + 1, end - i - 1));
            i = end - 1;
        }
    }

    private static List<IReadOnlyList<ParameterHelp>> ReadParameters(MarkdownPage page, List<Block> blocks)
    {
        var parameters = new List<IReadOnlyList<ParameterHelp>>();
        foreach (var (heading, body) in Entries(page, blocks, "PARAMETERS holds '### -Name' entries only"))
        {
            if (heading.Text == "CommonParameters")
            {
                continue;
            }

            if (!heading.Text.StartsWith('-'))
            {
                throw new HelpFormatException(page.Path, heading.Line, $"a parameter heading is '### -Name', not '### {heading.Text}'");
            }

            string name = heading.Text[1..];
            var description = Paragraphs(page, body.Where(b => !(b.Kind == BlockKind.Code && b.Language == "yaml")));
            var yamlBlocks = body.Where(b => b.Kind == BlockKind.Code && b.Language == "yaml").ToList();
            if (yamlBlocks.Count == 0)
            {
                throw new HelpFormatException(page.Path, heading.Line, $"-{name} has no ```yaml block");
            }

            parameters.Add(yamlBlocks.Select(yaml => ReadYaml(page, name, description, yaml)).ToList());
        }

        return parameters;
    }

    private static ParameterHelp ReadYaml(MarkdownPage page, string name, IReadOnlyList<string> description, Block yaml)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in yaml.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                fields[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
        }

        if (!fields.TryGetValue("Type", out string? type) || type.Length == 0)
        {
            throw new HelpFormatException(page.Path, yaml.Line, $"-{name}: the yaml block has no Type");
        }

        string Field(string key, string fallback) => fields.TryGetValue(key, out string? value) && value.Length > 0 ? value : fallback;
        static List<string> List(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        static bool Bool(string value) => string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);
        return new ParameterHelp(
            name,
            description,
            type,
            List(Field("Parameter Sets", ParameterHelp.AllSets)),
            List(Field("Aliases", string.Empty)),
            List(Field("Accepted values", string.Empty)),
            Bool(Field("Required", "False")),
            Field("Position", "Named"),
            fields.TryGetValue("Default value", out string? defaultValue) && defaultValue.Length > 0 ? defaultValue : null,
            Field("Accept pipeline input", "False"),
            Bool(Field("Accept wildcard characters", "False")));
    }

    private static List<TypeHelp> ReadTypes(MarkdownPage page, List<Block> blocks) =>
        Entries(page, blocks, "INPUTS and OUTPUTS hold '### TypeName' entries only")
            .Select(entry => new TypeHelp(entry.Heading.Text, Paragraphs(page, entry.Body)))
            .ToList();

    private static List<ExampleHelp> ReadExamples(MarkdownPage page, string name, List<Block> blocks)
    {
        var examples = new List<ExampleHelp>();
        foreach (var (heading, body) in Entries(page, blocks, "EXAMPLES holds '### Example N: title' entries only"))
        {
            var code = body.Where(b => b.Kind == BlockKind.Code).Select(b => b.Text).ToList();
            if (code.Count == 0)
            {
                throw new HelpFormatException(page.Path, heading.Line, $"{name} '{heading.Text}' has no code block");
            }

            // Text before the code introduces it; Get-Help has room only for remarks, so it leads them.
            examples.Add(new ExampleHelp(heading.Text, string.Join("\n\n", code), Paragraphs(page, body.Where(b => b.Kind != BlockKind.Code))));
        }

        return examples;
    }

    private static List<LinkHelp> ReadLinks(MarkdownPage page, List<Block> blocks)
    {
        var links = new List<LinkHelp>();
        foreach (Block block in blocks)
        {
            var matches = System.Text.RegularExpressions.Regex.Matches(block.Text, @"\[(?<text>[^\]]+)\]\((?<uri>[^)]*)\)");
            string rest = System.Text.RegularExpressions.Regex.Replace(block.Text, @"\[[^\]]+\]\([^)]*\)", string.Empty);
            if (block.Kind != BlockKind.Paragraph || matches.Count == 0 || rest.Trim().Length > 0)
            {
                throw new HelpFormatException(page.Path, block.Line, $"RELATED LINKS holds [text](uri) lines only, not '{block.Text}'");
            }

            links.AddRange(matches.Select(m => new LinkHelp(m.Groups["text"].Value, m.Groups["uri"].Value)));
        }

        return links;
    }
}
