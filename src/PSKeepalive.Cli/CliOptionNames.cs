using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;
using PSKeepalive.Core.Errors;

namespace PSKeepalive.Cli;

/// <summary>
/// Core names a bad value by the cmdlet parameter it came from ("SampleInterval must be between 10 and 3600000"); a
/// CLI user typed an option and has never seen those names. Validation messages name the option instead.
/// </summary>
internal static class CliOptionNames
{
    private static readonly Dictionary<string, string> ByParameter = new(StringComparer.Ordinal)
    {
        ["SampleInterval"] = "--interval",
        ["Duration"] = "--duration",
        ["ProcessId"] = "--pid",
        ["OwningProcess"] = "--process",
        ["LocalPort"] = "--local-port",
        ["RemotePort"] = "--remote-port",
        ["LocalAddress"] = "--local-address",
        ["RemoteAddress"] = "--remote-address",
        ["State"] = "--state",
        ["States"] = "--state",
        ["Idle"] = "--idle",
        ["Time"] = "--time",
        ["Interval"] = "--interval",
        ["Count"] = "--count",
        ["Probes"] = "--probes",
        ["UserTimeout"] = "--user-timeout",
        ["Timeout"] = "--timeout",
        ["NetworkNamespace"] = "--netns",
        ["Cgroup"] = "--cgroup",
        ["Mode"] = "--mode",
        ["Method"] = "--method",
        ["PersistPath"] = "--persist-path",
        ["FilePath"] = "PROGRAM",
        ["UseSystemSettings"] = "--use-system-settings",
        ["WithDataInFlight"] = "--with-data-in-flight",
    };

    private static readonly Regex Names = new(
        @"(?<![\w-])(" + string.Join("|", ByParameter.Keys) + @")\b", RegexOptions.CultureInvariant);

    /// <summary>
    /// The message of <paramref name="e"/>; in a validation error, every parameter it names ("UseSystemSettings takes
    /// Idle, Interval and Count ...") given as the CLI option instead.
    /// </summary>
    public static string Message(KeepaliveException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e is KeepaliveValidationException ? Names.Replace(e.Message, m => ByParameter[m.Value]) : e.Message;
    }
}
