using System;
using System.Collections.Generic;
using System.Text;
using System.Text.RegularExpressions;

namespace PSKeepalive.HelpCompiler;

/// <summary>The kinds of block a platyPS page is made of.</summary>
internal enum BlockKind
{
    Heading,
    Paragraph,
    List,
    Code,
}

/// <summary>
/// One block of a markdown page. Headings carry their level; paragraphs their text with soft line breaks
/// joined; lists one item per line ("- item"); code blocks their text as written and the language of the fence.
/// </summary>
internal sealed record Block(BlockKind Kind, string Text, int Line, int Level = 0, string Language = "");

/// <summary>The markdown subset platyPS writes and reads (schema 2.0.0): front matter, ATX headings, fenced code, paragraphs and lists.</summary>
internal sealed partial class MarkdownPage
{
    private MarkdownPage(string path, IReadOnlyDictionary<string, string> frontMatter, IReadOnlyList<Block> blocks)
    {
        Path = path;
        FrontMatter = frontMatter;
        Blocks = blocks;
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, string> FrontMatter { get; }

    public IReadOnlyList<Block> Blocks { get; }

    public static MarkdownPage Parse(string path, string text)
    {
        string[] lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var frontMatter = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = 0;
        if (lines.Length > 0 && lines[0] == "---")
        {
            for (i = 1; i < lines.Length && lines[i] != "---"; i++)
            {
                int colon = lines[i].IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    frontMatter[lines[i][..colon].Trim()] = lines[i][(colon + 1)..].Trim();
                }
            }

            if (i == lines.Length)
            {
                throw new HelpFormatException(path, 1, "the front matter (---) is not closed");
            }

            i++;
        }

        var blocks = new List<Block>();
        while (i < lines.Length)
        {
            string line = lines[i];
            if (string.IsNullOrWhiteSpace(line))
            {
                i++;
                continue;
            }

            if (FencePattern().Match(line) is { Success: true } fence)
            {
                int start = i;
                var code = new List<string>();
                for (i++; i < lines.Length && lines[i].TrimEnd() != fence.Groups["fence"].Value; i++)
                {
                    code.Add(lines[i]);
                }

                if (i == lines.Length)
                {
                    throw new HelpFormatException(path, start + 1, "the code block is not closed");
                }

                i++;
                blocks.Add(new Block(BlockKind.Code, string.Join('\n', code), start + 1, Language: fence.Groups["language"].Value.Trim()));
                continue;
            }

            if (HeadingPattern().Match(line) is { Success: true } heading)
            {
                blocks.Add(new Block(BlockKind.Heading, heading.Groups["text"].Value.Trim(), i + 1, heading.Groups["hashes"].Length));
                i++;
                continue;
            }

            if (ListItemPattern().IsMatch(line))
            {
                int start = i;
                var items = new List<string>();
                while (i < lines.Length && !string.IsNullOrWhiteSpace(lines[i]) && !IsBlockStart(lines[i]))
                {
                    if (ListItemPattern().Match(lines[i]) is { Success: true } item)
                    {
                        items.Add(item.Groups["marker"].Value + " " + item.Groups["text"].Value.Trim());
                    }
                    else
                    {
                        // A continuation line of the item above.
                        items[^1] += " " + lines[i].Trim();
                    }

                    i++;
                }

                blocks.Add(new Block(BlockKind.List, string.Join('\n', items), start + 1));
                continue;
            }

            int first = i;
            var paragraph = new StringBuilder();
            while (i < lines.Length && !string.IsNullOrWhiteSpace(lines[i]) && !IsBlockStart(lines[i]) && !ListItemPattern().IsMatch(lines[i]))
            {
                if (paragraph.Length > 0)
                {
                    // Two trailing spaces are a hard line break; otherwise lines of a paragraph are joined.
                    paragraph.Append(lines[i - 1].EndsWith("  ", StringComparison.Ordinal) ? '\n' : ' ');
                }

                paragraph.Append(lines[i].Trim());
                i++;
            }

            blocks.Add(new Block(BlockKind.Paragraph, paragraph.ToString(), first + 1));
        }

        return new MarkdownPage(path, frontMatter, blocks);
    }

    /// <summary>
    /// Inline markdown as Get-Help shows text: links become their text (and the address, when absolute), bold
    /// markers go; `code` keeps its backquotes, which read as quotes in a console.
    /// </summary>
    public static string Plain(string text)
    {
        text = LinkPattern().Replace(text, m =>
            Uri.TryCreate(m.Groups["uri"].Value, UriKind.Absolute, out _) ? $"{m.Groups["text"].Value} ({m.Groups["uri"].Value})" : m.Groups["text"].Value);
        return BoldPattern().Replace(text, m => m.Groups["text"].Value);
    }

    private static bool IsBlockStart(string line) => FencePattern().IsMatch(line) || HeadingPattern().IsMatch(line);

    [GeneratedRegex(@"^(?<fence>```+)(?<language>[^`]*)$")]
    private static partial Regex FencePattern();

    [GeneratedRegex(@"^(?<hashes>#{1,6})\s+(?<text>.*?)\s*#*\s*$")]
    private static partial Regex HeadingPattern();

    [GeneratedRegex(@"^\s{0,3}(?<marker>[-*+]|\d{1,3}[.)])\s+(?<text>.*)$")]
    private static partial Regex ListItemPattern();

    [GeneratedRegex(@"\[(?<text>[^\]]+)\]\((?<uri>[^)\s]*)\)")]
    private static partial Regex LinkPattern();

    [GeneratedRegex(@"(\*\*|__)(?<text>[^*_]+?)\1")]
    private static partial Regex BoldPattern();
}

/// <summary>A page that does not follow the platyPS format, with where.</summary>
internal sealed class HelpFormatException(string path, int line, string message) : Exception(message)
{
    public string Path { get; } = path;

    public int Line { get; } = line;

    /// <summary>MSBuild's canonical error format, so that the build names the file and line.</summary>
    public override string ToString() => $"{Path}({Line}): error PSKHELP1: {Message}";
}
