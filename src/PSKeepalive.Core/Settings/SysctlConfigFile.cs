using System;
using System.Collections.Generic;
using System.Text;

namespace PSKeepalive.Core.Settings;

/// <summary>
/// The sysctl.d file format (sysctl.d(5)): "key = value" lines, '#' or ';' comments, keys written with
/// '.' or '/', a leading '-' that tells the loader to ignore failures. Used both to merge our values into
/// a file without touching the lines we do not own, and to find other files that set the same keys.
/// </summary>
public static class SysctlConfigFile
{
    public const string Header = "# Written by PSKeepalive (Set-TcpKeepaliveSetting -Persist / pskeepalive set --persist).\n" +
                                 "# Lines for other settings are kept as they are.\n";

    /// <summary>One assignment found in a file.</summary>
    public readonly record struct Assignment(string Key, string Value, int LineNumber);

    /// <summary>Every assignment in <paramref name="text"/>, keys normalised to dotted form.</summary>
    public static IEnumerable<Assignment> Parse(string text)
    {
        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (TryParseLine(lines[i], out string key, out string value))
            {
                yield return new Assignment(key, value, i + 1);
            }
        }
    }

    /// <summary>
    /// Sets each key of <paramref name="values"/> in <paramref name="existing"/>: the first line of a key is
    /// replaced, later lines of the same key are dropped (they would win over ours), missing keys are
    /// appended. Every other line, comments included, stays byte for byte.
    /// </summary>
    public static string Merge(string existing, IReadOnlyList<KeyValuePair<string, int>> values)
    {
        var pending = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (key, value) in values)
        {
            pending[key] = value;
        }

        var done = new HashSet<string>(StringComparer.Ordinal);
        var output = new StringBuilder(existing.Length + 128);
        if (existing.Length == 0)
        {
            output.Append(Header);
        }
        else
        {
            string body = existing.EndsWith('\n') ? existing[..^1] : existing;
            foreach (string line in body.Split('\n'))
            {
                if (TryParseLine(line, out string key, out _) && pending.TryGetValue(key, out int value))
                {
                    if (done.Add(key))
                    {
                        output.Append(key).Append(" = ").Append(value).Append('\n');
                    }

                    continue;
                }

                output.Append(line).Append('\n');
            }
        }

        foreach (var (key, value) in values)
        {
            if (done.Add(key))
            {
                output.Append(key).Append(" = ").Append(value).Append('\n');
            }
        }

        return output.ToString();
    }

    /// <summary>What systemd-sysctl strips (its WHITESPACE): not Unicode's white space, since files are read as bytes.</summary>
    private static readonly char[] Whitespace = [' ', '\t', '\n', '\r'];

    internal static bool TryParseLine(string line, out string key, out string value)
    {
        key = value = string.Empty;
        string trimmed = line.Trim(Whitespace);
        if (trimmed.Length == 0 || trimmed[0] == '#' || trimmed[0] == ';')
        {
            return false;
        }

        int equals = trimmed.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            return false;
        }

        string rawKey = trimmed[..equals].Trim(Whitespace);
        if (rawKey.StartsWith('-'))
        {
            rawKey = rawKey[1..].TrimStart(Whitespace);
        }

        if (rawKey.Length == 0)
        {
            return false;
        }

        // sysctl.d allows "net/ipv4/x" as well as "net.ipv4.x"; compare in the dotted form.
        key = rawKey.Replace('/', '.');
        value = trimmed[(equals + 1)..].Trim(Whitespace);
        return true;
    }
}
