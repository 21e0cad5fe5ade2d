using System.Globalization;
using System.Text;

namespace PSKeepalive.Core;

/// <summary>
/// Makes text from the system (process names and command lines, which any process sets for itself; file names;
/// reasons quoting them) safe to print on a terminal: nothing in it can move the cursor, change colours, set the
/// window title or start a new line. Used by every human-readable output (the CLI's tables and messages, the
/// module's views); JSON and objects keep the exact text.
/// </summary>
public static class TerminalText
{
    /// <summary>
    /// C-style escapes for what a terminal would interpret: \n \r \t, \xHH for the other C0 controls, DEL and the
    /// C1 controls (0x80-0x9F, which some terminals take as 8-bit CSI/OSC), \uHHHH for Unicode's invisible
    /// direction and format controls (bidi overrides that reorder what is shown); a backslash becomes \\ so that
    /// the result is unambiguous. Returns the same string when nothing needs escaping; null gives "".
    /// Takes and returns plain strings, so that views can call it on deserialized objects too.
    /// </summary>
    public static string Escape(string? text)
    {
        if (text is null)
        {
            return string.Empty;
        }

        int first = 0;
        while (first < text.Length && !NeedsEscape(text[first]))
        {
            first++;
        }

        if (first == text.Length)
        {
            return text;
        }

        var result = new StringBuilder(text.Length + 16);
        result.Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (!NeedsEscape(c))
            {
                result.Append(c);
                continue;
            }

            switch (c)
            {
                case '\\':
                    result.Append(@"\\");
                    break;
                case '\n':
                    result.Append(@"\n");
                    break;
                case '\r':
                    result.Append(@"\r");
                    break;
                case '\t':
                    result.Append(@"\t");
                    break;
                default:
                    result.Append(c <= '\u00ff'
                        ? @"\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture)
                        : @"\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
            }
        }

        return result.ToString();
    }

    private static bool NeedsEscape(char c) =>
        c < ' ' || c == '\\' || (c >= '\u007f' && c <= '\u009f') || IsInvisibleControl(c);

    /// <summary>Bidi marks, embeddings, overrides and isolates, and the zero-width format characters around them.</summary>
    private static bool IsInvisibleControl(char c) =>
        c == '\u061c' || (c >= '\u200b' && c <= '\u200f') || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069') || c == '\ufeff';
}
