using System;
using System.Collections.Generic;
using System.Linq;
using System.Xml.Linq;

namespace PSKeepalive.HelpCompiler;

/// <summary>
/// MAML as platyPS 0.14's New-ExternalHelp writes it (its MamlRenderer): the same elements, attributes and
/// order, so that Get-Help shows what it would show for platyPS output.
/// </summary>
internal static class MamlWriter
{
    private static readonly XNamespace Msh = "http://msh";
    private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";
    private static readonly XNamespace MsHelp = "http://msdn.microsoft.com/mshelp";

    public static XDocument Write(IEnumerable<CommandHelp> commands) =>
        new(
            new XDeclaration("1.0", "utf-8", null),
            new XElement(Msh + "helpItems", new XAttribute("schema", "maml"), commands.Select(CommandElement)));

    private static XElement CommandElement(CommandHelp command)
    {
        string verb = command.Name.Split('-')[0];
        string noun = command.Name[Math.Min(verb.Length + 1, command.Name.Length)..];
        return new XElement(
            Command + "command",
            new XAttribute(XNamespace.Xmlns + "maml", Maml),
            new XAttribute(XNamespace.Xmlns + "command", Command),
            new XAttribute(XNamespace.Xmlns + "dev", Dev),
            new XAttribute(XNamespace.Xmlns + "MSHelp", MsHelp),
            new XElement(
                Command + "details",
                new XElement(Command + "name", command.Name),
                new XElement(Command + "verb", verb),
                new XElement(Command + "noun", noun),
                new XElement(Maml + "description", Paragraphs(command.Synopsis))),
            new XElement(Maml + "description", Paragraphs(command.Description)),
            new XElement(Command + "syntax", SyntaxItems(command)),
            new XElement(Command + "parameters", command.Parameters.Select(p => Parameter(p[0], inSyntax: false))),
            new XElement(Command + "inputTypes", command.Inputs.Select(t => TypeElement("inputType", t))),
            new XElement(Command + "returnValues", command.Outputs.Select(t => TypeElement("returnValue", t))),
            new XElement(Maml + "alertSet", new XElement(Maml + "alert", Paragraphs(command.Notes))),
            new XElement(Command + "examples", command.Examples.Select(Example)),
            new XElement(Command + "relatedLinks", command.Links.Select(Link)));
    }

    /// <summary>
    /// One syntax item per parameter set, named by the yaml blocks' "Parameter Sets" and by the SYNTAX headings (a set
    /// can have no parameter of its own: Get-TcpKeepalivePolicy without a target), in the order of the headings when
    /// there are any; parameters in every set join each; within a set, ordered by position.
    /// </summary>
    private static IEnumerable<XElement> SyntaxItems(CommandHelp command)
    {
        var all = command.Parameters.SelectMany(p => p).ToList();
        var sets = all.SelectMany(p => p.ParameterSets).Where(s => s != ParameterHelp.AllSets)
            .Concat(all.Any(p => p.ParameterSets.Any(s => s != ParameterHelp.AllSets)) ? command.SyntaxSets.Select(SetOfHeading) : [])
            .Distinct(StringComparer.Ordinal)
            .OrderBy(s => IndexOfSyntaxHeading(command, s)).ToList();
        if (sets.Count == 0)
        {
            yield return SyntaxItem(command, command.Parameters.Select(p => p[0]));
            yield break;
        }

        foreach (string set in sets)
        {
            var members = command.Parameters
                .Select(blocks => blocks.FirstOrDefault(p => p.ParameterSets.Contains(set, StringComparer.Ordinal)) ?? blocks.FirstOrDefault(p => p.InAllSets))
                .OfType<ParameterHelp>();
            yield return SyntaxItem(command, members);
        }
    }

    /// <summary>"Cgroup (Default)" names the set Cgroup.</summary>
    private static string SetOfHeading(string heading) =>
        heading.EndsWith(" (Default)", StringComparison.Ordinal) ? heading[..^" (Default)".Length] : heading;

    private static int IndexOfSyntaxHeading(CommandHelp command, string set)
    {
        int index = command.SyntaxSets.ToList().FindIndex(h => h == set || h == set + " (Default)");
        return index < 0 ? int.MaxValue : index;
    }

    private static XElement SyntaxItem(CommandHelp command, IEnumerable<ParameterHelp> parameters) =>
        new(
            Command + "syntaxItem",
            new XElement(Maml + "name", command.Name),
            parameters.OrderBy(p => int.TryParse(p.Position, out int position) ? position : int.MaxValue).Select(p => Parameter(p, inSyntax: true)));

    private static XElement Parameter(ParameterHelp parameter, bool inSyntax)
    {
        string type = parameter.IsSwitch ? "SwitchParameter" : parameter.Type;
        return new XElement(
            Command + "parameter",
            new XAttribute("required", parameter.Required),
            new XAttribute("variableLength", true),
            new XAttribute("globbing", parameter.Globbing),
            new XAttribute("pipelineInput", parameter.PipelineInput),
            new XAttribute("position", parameter.Position.ToLowerInvariant()),
            new XAttribute("aliases", parameter.Aliases.Count > 0 ? string.Join(", ", parameter.Aliases) : "none"),
            new XElement(Maml + "name", parameter.Name),
            new XElement(Maml + "description", Paragraphs(parameter.Description)),
            inSyntax && parameter.AcceptedValues.Count > 0
                ? new XElement(
                    Command + "parameterValueGroup",
                    parameter.AcceptedValues.Select(v => new XElement(Command + "parameterValue", new XAttribute("required", "false"), new XAttribute(Command + "variableLength", "false"), v)))
                : null,
            // platyPS leaves the value out of a switch in the syntax, so that it reads "[-Force]".
            !inSyntax || !parameter.IsSwitch
                ? new XElement(Command + "parameterValue", new XAttribute("required", !parameter.IsSwitch), new XAttribute("variableLength", false), type)
                : null,
            new XElement(Dev + "type", new XElement(Maml + "name", type), new XElement(Maml + "uri")),
            new XElement(Dev + "defaultValue", parameter.IsSwitch && (parameter.DefaultValue is null || parameter.DefaultValue == "None") ? "False" : parameter.DefaultValue ?? "None"));
    }

    private static XElement TypeElement(string element, TypeHelp type) =>
        new(
            Command + element,
            new XElement(Dev + "type", new XElement(Maml + "name", type.TypeName)),
            new XElement(Maml + "description", Paragraphs(type.Description)));

    private static XElement Example(ExampleHelp example) =>
        new(
            Command + "example",
            new XElement(Maml + "title", PadExampleTitle(example.Title)),
            new XElement(Dev + "code", example.Code),
            new XElement(Dev + "remarks", Paragraphs(example.Remarks)));

    /// <summary>platyPS keeps only links with an absolute address (the help engine rejects others) and gives them an empty uri otherwise.</summary>
    private static XElement Link(LinkHelp link) =>
        new(
            Maml + "navigationLink",
            new XElement(Maml + "linkText", link.Text),
            new XElement(Maml + "uri", Uri.TryCreate(link.Uri, UriKind.Absolute, out _) ? link.Uri : string.Empty));

    private static IEnumerable<XElement> Paragraphs(IEnumerable<string> paragraphs) =>
        paragraphs.Select(p => new XElement(Maml + "para", p));

    /// <summary>"--------- Example 1: Title ---------", padded to 64 characters as platyPS does.</summary>
    internal static string PadExampleTitle(string title)
    {
        if (string.IsNullOrWhiteSpace(title) || title.Length >= 62)
        {
            return title;
        }

        int pad = (64 - title.Length - 2) / 2;
        string dashes = new('-', pad);
        return $"{dashes} {title} {dashes}";
    }
}
