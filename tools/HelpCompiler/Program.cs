using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace PSKeepalive.HelpCompiler;

/// <summary>
/// PSKeepalive.HelpCompiler DOCS OUTPUT ASSEMBLY: reads the platyPS pages in DOCS and writes OUTPUT/ASSEMBLY-Help.xml
/// (every page whose front matter names that help file) and OUTPUT/about_NAME.help.txt (every about_NAME.help.md).
/// Errors are printed as "file(line): error ...", which MSBuild shows as build errors.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length != 3)
        {
            Console.Error.WriteLine("usage: PSKeepalive.HelpCompiler DOCS-FOLDER OUTPUT-FOLDER ASSEMBLY-FILE-NAME (e.g. docs/en-US out/en-US PSKeepalive.dll)");
            return 2;
        }

        try
        {
            foreach (string written in Compile(args[0], args[1], args[2]))
            {
                Console.WriteLine($"PSKeepalive.HelpCompiler: {written}");
            }

            return 0;
        }
        catch (HelpFormatException e)
        {
            Console.Error.WriteLine(e.ToString());
            return 1;
        }
    }

    /// <summary>Writes the help files (always, so that MSBuild sees them newer than the pages); returns their paths.</summary>
    public static IReadOnlyList<string> Compile(string docs, string output, string assemblyFileName)
    {
        string helpFile = assemblyFileName + "-Help.xml";
        var commands = new List<CommandHelp>();
        var written = new List<string>();
        Directory.CreateDirectory(output);
        foreach (string path in Directory.GetFiles(docs, "*.md").OrderBy(p => p, StringComparer.Ordinal))
        {
            var page = MarkdownPage.Parse(path, File.ReadAllText(path));
            string name = Path.GetFileName(path);
            if (name.StartsWith("about_", StringComparison.Ordinal) && name.EndsWith(".help.md", StringComparison.Ordinal))
            {
                string target = Path.Combine(output, name[..^".md".Length] + ".txt");
                File.WriteAllText(target, AboutTopicWriter.Write(page), new UTF8Encoding(false));
                written.Add(target);
            }
            else if (page.FrontMatter.TryGetValue("external help file", out string? file))
            {
                if (file != helpFile)
                {
                    throw new HelpFormatException(path, 2, $"'external help file: {file}' should be {helpFile}");
                }

                commands.Add(CommandHelp.Read(page));
            }
        }

        if (commands.Count > 0)
        {
            string target = Path.Combine(output, helpFile);
            var settings = new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false), NewLineChars = "\n" };
            using var buffer = new MemoryStream();
            using (var writer = XmlWriter.Create(buffer, settings))
            {
                MamlWriter.Write(commands).Save(writer);
            }

            File.WriteAllBytes(target, buffer.ToArray());
            written.Add(target);
        }

        return written;
    }
}
