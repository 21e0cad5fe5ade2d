using System;
using System.CommandLine;
using System.Globalization;
using System.Linq;

namespace PSKeepalive.Cli;

/// <summary>Options that many commands share, created fresh for each command.</summary>
internal static class CommonOptions
{
    public static Option<bool> Json() => new("--json") { Description = "Print JSON (camelCase keys) instead of a table." };

    public static Option<string?> NetworkNamespace() => new("--netns")
    {
        Description = "Network namespace to act in: /run/netns/NAME (or just NAME, as ip netns names it), /proc/PID/ns/net, or the kernel name net:[INODE] (default: this one).",
        HelpName = "PATH",
    };

    /// <summary>
    /// A whole-number option that says plainly what it takes when given a non-number. The range itself is
    /// checked by Core, so that every front end reports it with the same words.
    /// </summary>
    public static Option<int?> Integer(string name, string helpName, string description) => new(name)
    {
        Description = description,
        HelpName = helpName,
        CustomParser = result =>
        {
            string text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Join(" ", result.Tokens.Select(t => t.Value));
            if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
            {
                return value;
            }

            // A whole number too large for an int is out of range, not "not a number": say so, with the range.
            result.AddError(System.Numerics.BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)
                ? $"{name} takes a whole number ({description}); '{text}' is outside that range."
                : $"{name} takes a whole number ({description}); '{text}' is not one.");
            return null;
        },
    };

    public static Option<bool> WhatIf() => new("--what-if") { Description = "Show what would change, change nothing." };

    /// <summary>An option taking one of <paramref name="values"/> in any case (Seccomp, SECCOMP), as the cmdlet's enum parameters do.</summary>
    public static Option<string> Choice(string name, string description, string defaultValue, params string[] values)
    {
        var option = new Option<string>(name)
        {
            Description = description,
            HelpName = string.Join("|", values),
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                string text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Join(" ", result.Tokens.Select(t => t.Value));
                string? match = values.FirstOrDefault(v => string.Equals(v, text.Trim(), StringComparison.OrdinalIgnoreCase));
                if (match is null)
                {
                    result.AddError($"{name} takes one of {string.Join(", ", values)}; '{text}' is none of them.");
                    return defaultValue;
                }

                return match;
            },
        };
        option.CompletionSources.Add(values);
        return option;
    }
}
