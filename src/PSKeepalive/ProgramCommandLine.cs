using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text;

namespace PSKeepalive;

/// <summary>
/// How Start-KeepaliveProcess's command line was typed, read from the invocation's own text: PowerShell binds
/// `Start-KeepaliveProcess -Idle 60 nc -v host 80`'s -v as the cmdlet's -Verbose (and -d as -Debug, -c 5 as -Count)
/// before the cmdlet runs, and the program would silently get another command line. The cmdlet can tell from the
/// text which of its own parameters were typed, abbreviated, after the program name (a full name such as
/// -ErrorAction Stop at the end of the line is the user's, for the cmdlet), and whether -ArgumentList was typed by
/// name (Start-Process's convention). Nothing is known when the text is not available (splatting): then nothing is
/// refused and the arguments are taken as they are.
/// </summary>
internal sealed class ProgramCommandLine
{
    private ProgramCommandLine(IReadOnlyList<(string Typed, string Parameter)> swallowed, bool argumentListByName, string? dashDashForm)
    {
        Swallowed = swallowed;
        ArgumentListByName = argumentListByName;
        DashDashForm = dashDashForm;
    }

    /// <summary>The cmdlet's own parameters typed abbreviated after the program name, as typed ("-v") and as bound ("Verbose").</summary>
    public IReadOnlyList<(string Typed, string Parameter)> Swallowed { get; }

    /// <summary>-ArgumentList (or -Args) was typed by name: Start-Process's convention.</summary>
    public bool ArgumentListByName { get; }

    /// <summary>The same command with -- before the program name, so that everything after it reaches the program.</summary>
    public string? DashDashForm { get; }

    /// <summary>Reads the invocation's text; null when it cannot be read or holds a splatted argument.</summary>
    public static ProgramCommandLine? Read(InvocationInfo invocation, string filePathParameter, string argumentListParameter)
    {
        // Statement is the command's own text, continuation lines included (PowerShell 7); Line is only the first line.
        string? text = typeof(InvocationInfo).GetProperty("Statement")?.GetValue(invocation) as string ?? invocation.Line;
        if (string.IsNullOrEmpty(text) || invocation.MyCommand is null)
        {
            return null;
        }

        ScriptBlockAst script = Parser.ParseInput(text, out _, out _);
        CommandAst? command = script.FindAll(a => a is CommandAst, searchNestedScriptBlocks: true).Cast<CommandAst>()
            .FirstOrDefault(c => string.Equals(c.GetCommandName(), invocation.InvocationName, StringComparison.OrdinalIgnoreCase)
                || string.Equals(c.GetCommandName(), invocation.MyCommand.Name, StringComparison.OrdinalIgnoreCase));
        if (command is null || command.CommandElements.Any(e => e is VariableExpressionAst { Splatted: true }))
        {
            return null;
        }

        var parameters = invocation.MyCommand.Parameters;
        var swallowed = new List<(string, string)>();
        bool argumentListByName = false;
        CommandElementAst? program = null;
        var elements = command.CommandElements;
        for (int i = 1; i < elements.Count; i++)
        {
            if (elements[i] is not CommandParameterAst typed)
            {
                program ??= elements[i]; // the first positional value is the program (-FilePath at position 0)
                continue;
            }

            if (typed.ParameterName == "-")
            {
                break; // "--": what follows is the program's, whatever it looks like
            }

            ParameterMetadata? bound = Resolve(parameters.Values, typed.ParameterName);
            if (bound is null)
            {
                continue; // not one of ours: PowerShell passes it on as a remaining argument
            }

            // After the program name, an abbreviation (-v, -d, -c) is a program's flag that PowerShell completed to one of
            // ours; a full name or alias (-Wait, -ErrorAction Stop at the end of the line) is meant for the cmdlet.
            if (program is not null && !IsNameOrAlias(bound, typed.ParameterName))
            {
                swallowed.Add(("-" + typed.ParameterName, bound.Name));
            }

            argumentListByName |= bound.Name == argumentListParameter;
            if (typed.Argument is null && bound.ParameterType != typeof(SwitchParameter) && i + 1 < elements.Count)
            {
                i++; // the parameter's value
                if (bound.Name == filePathParameter)
                {
                    program ??= elements[i];
                }
            }
            else if (bound.Name == filePathParameter && typed.Argument is not null)
            {
                program ??= typed.Argument;
            }
        }

        if (argumentListByName)
        {
            // Start-Process's form: parameters after -FilePath are the cmdlet's, the program's arguments are quoted.
            swallowed.Clear();
        }

        string? dashDashForm = null;
        if (program is not null)
        {
            int at = program.Extent.StartOffset - command.Extent.StartOffset;
            dashDashForm = command.Extent.Text[..at] + "-- " + command.Extent.Text[at..];
        }

        return new ProgramCommandLine(swallowed, argumentListByName, dashDashForm);
    }

    private static bool IsNameOrAlias(ParameterMetadata parameter, string typed) =>
        string.Equals(parameter.Name, typed, StringComparison.OrdinalIgnoreCase)
        || parameter.Aliases.Any(a => string.Equals(a, typed, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The parameter PowerShell binds for "-<paramref name="typed"/>": an exact name or alias, else the only name or
    /// alias it begins, else the only such parameter that is not a common one. Null when none (or several) match.
    /// </summary>
    internal static ParameterMetadata? Resolve(IEnumerable<ParameterMetadata> parameters, string typed)
    {
        var all = parameters.ToList();
        bool Is(string name) => string.Equals(name, typed, StringComparison.OrdinalIgnoreCase);
        bool Begins(string name) => name.StartsWith(typed, StringComparison.OrdinalIgnoreCase);

        var exact = all.Where(p => Is(p.Name) || p.Aliases.Any(Is)).ToList();
        if (exact.Count == 1)
        {
            return exact[0];
        }

        var prefixed = all.Where(p => Begins(p.Name) || p.Aliases.Any(Begins)).ToList();
        if (prefixed.Count == 1)
        {
            return prefixed[0];
        }

        var declared = prefixed.Where(p => !Cmdlet.CommonParameters.Contains(p.Name) && !Cmdlet.OptionalCommonParameters.Contains(p.Name)).ToList();
        return declared.Count == 1 ? declared[0] : null;
    }

    /// <summary>
    /// Start-Process's reading of -ArgumentList: the strings joined with spaces, then split again at spaces and tabs,
    /// double quotes keeping spaces inside one argument and backslashes escaping a quote (the rules .NET applies to
    /// ProcessStartInfo.Arguments).
    /// </summary>
    internal static List<string> SplitLikeStartProcess(IEnumerable<string> arguments)
    {
        string line = string.Join(' ', arguments);
        var result = new List<string>();
        int i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && line[i] is ' ' or '\t')
            {
                i++;
            }

            if (i == line.Length)
            {
                break;
            }

            var current = new StringBuilder();
            bool quoted = false;
            while (i < line.Length)
            {
                int backslashes = 0;
                while (i < line.Length && line[i] == '\\')
                {
                    i++;
                    backslashes++;
                }

                if (backslashes > 0)
                {
                    if (i >= line.Length || line[i] != '"')
                    {
                        current.Append('\\', backslashes);
                    }
                    else
                    {
                        current.Append('\\', backslashes / 2);
                        if (backslashes % 2 != 0)
                        {
                            current.Append('"');
                            i++;
                        }
                    }

                    continue;
                }

                char c = line[i];
                if (c == '"')
                {
                    if (quoted && i + 1 < line.Length && line[i + 1] == '"')
                    {
                        current.Append('"');
                        i++;
                    }
                    else
                    {
                        quoted = !quoted;
                    }

                    i++;
                    continue;
                }

                if (c is ' ' or '\t' && !quoted)
                {
                    break;
                }

                current.Append(c);
                i++;
            }

            result.Add(current.ToString());
        }

        return result;
    }
}
