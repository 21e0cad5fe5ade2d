using System;
using System.Globalization;
using System.IO;
using System.Text;

namespace PSKeepalive.Core.Processes;

/// <summary>
/// A process's command name (/proc/PID/comm), read in one place. The kernel keeps 15 bytes of it and cuts there
/// whatever the encoding, so a name of several-byte UTF-8 characters can end in half a character: that half is
/// dropped rather than shown as U+FFFD.
/// </summary>
public static class ProcessName
{
    /// <summary>The name of <paramref name="pid"/>, or null when it is gone, unreadable or empty.</summary>
    public static string? Read(int pid, string proc = "/proc")
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes($"{proc}/{pid.ToString(CultureInfo.InvariantCulture)}/comm");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        string name = Decode(bytes);
        return name.Length == 0 ? null : name;
    }

    /// <summary>The text of comm's bytes: without the kernel's trailing newline and without a cut-off last character.</summary>
    public static string Decode(ReadOnlySpan<byte> comm)
    {
        if (comm.Length > 0 && comm[^1] == (byte)'\n')
        {
            comm = comm[..^1];
        }

        return Encoding.UTF8.GetString(comm[..WholeCharacters(comm)]);
    }

    /// <summary>How many leading bytes end on a character boundary: all of them unless the last UTF-8 sequence is incomplete.</summary>
    internal static int WholeCharacters(ReadOnlySpan<byte> text)
    {
        int lead = text.Length - 1;
        while (lead >= 0 && text.Length - lead <= 3 && (text[lead] & 0xC0) == 0x80)
        {
            lead--; // a continuation byte: the sequence starts further back
        }

        if (lead < 0)
        {
            return text.Length;
        }

        int needed = text[lead] switch
        {
            >= 0xF8 => 1, // never a lead byte in UTF-8: not a cut, just not UTF-8
            >= 0xF0 => 4,
            >= 0xE0 => 3,
            >= 0xC0 => 2,
            _ => 1,
        };
        return text.Length - lead < needed ? lead : text.Length;
    }
}
