using System;
using System.Collections.Generic;
using System.Linq;

namespace PSKeepalive.Core.Launch;

/// <summary>A command line shown as a POSIX shell would need it typed, so that what a message shows can be pasted back.</summary>
public static class ShellWords
{
    /// <summary>"/usr/bin/printf 'a b' 'it'\''s' ''": words with spaces, quotes or other shell characters in single quotes.</summary>
    public static string Join(string program, IEnumerable<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentNullException.ThrowIfNull(arguments);
        return string.Join(' ', arguments.Prepend(program).Select(Quote));
    }

    private static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+@%^".Contains(c))
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
