using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace PSKeepalive.HelpCompiler;

/// <summary>
/// An about_ topic as the plain text Get-Help prints (about_NAME.help.txt), laid out as platyPS's TextRenderer
/// does: "TOPIC" and the name first, section headings in capitals at the margin, text indented four spaces and
/// wrapped at 80 columns; code indented four more and never wrapped.
/// </summary>
internal static class AboutTopicWriter
{
    private const int Width = 80;
    private const string Indent = "    ";

    public static string Write(MarkdownPage page)
    {
        var text = new StringBuilder();
        var blocks = page.Blocks;
        if (blocks.Count == 0 || blocks[0] is not { Kind: BlockKind.Heading, Level: 1 } title || !title.Text.StartsWith("about_", StringComparison.Ordinal))
        {
            throw new HelpFormatException(page.Path, 1, "an about topic starts with '# about_Name'");
        }

        text.Append("TOPIC\n").Append(Indent).Append(title.Text).Append("\n\n");
        foreach (Block block in blocks.Skip(1))
        {
            switch (block.Kind)
            {
                case BlockKind.Heading when block.Level <= 2:
                    text.Append(block.Text.ToUpperInvariant()).Append('\n');
                    break;
                case BlockKind.Heading:
                    text.Append(Indent).Append(block.Text.ToUpperInvariant()).Append('\n');
                    break;
                case BlockKind.Paragraph:
                    foreach (string line in block.Text.Split('\n'))
                    {
                        Wrap(text, MarkdownPage.Plain(line), Indent, Indent);
                    }

                    text.Append('\n');
                    break;
                case BlockKind.List:
                    foreach (string item in block.Text.Split('\n'))
                    {
                        int space = item.IndexOf(' ', StringComparison.Ordinal);
                        Wrap(text, MarkdownPage.Plain(item), Indent, Indent + new string(' ', space + 1));
                    }

                    text.Append('\n');
                    break;
                case BlockKind.Code:
                    foreach (string line in block.Text.Split('\n'))
                    {
                        text.Append((Indent + Indent + line).TrimEnd()).Append('\n');
                    }

                    text.Append('\n');
                    break;
            }
        }

        return text.ToString().TrimEnd('\n') + "\n";
    }

    /// <summary>Word-wraps one paragraph at <see cref="Width"/>; a word longer than the line stays whole.</summary>
    private static void Wrap(StringBuilder text, string paragraph, string firstIndent, string nextIndent)
    {
        var line = new StringBuilder(firstIndent);
        bool empty = true;
        foreach (string word in paragraph.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!empty && line.Length + 1 + word.Length > Width)
            {
                text.Append(line).Append('\n');
                line.Clear().Append(nextIndent);
                empty = true;
            }

            if (!empty)
            {
                line.Append(' ');
            }

            line.Append(word);
            empty = false;
        }

        text.Append(line).Append('\n');
    }
}
