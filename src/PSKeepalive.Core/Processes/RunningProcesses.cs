using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;

namespace PSKeepalive.Core.Processes;

/// <summary>The processes in /proc, by PID and name (comm); vanished or unreadable ones are skipped.</summary>
public static class RunningProcesses
{
    /// <summary>Every numeric entry of /proc.</summary>
    public static IEnumerable<int> Pids(string proc = "/proc")
    {
        foreach (string entry in Directory.EnumerateDirectories(proc))
        {
            if (int.TryParse(Path.GetFileName(entry.AsSpan()), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                yield return pid;
            }
        }
    }

    /// <summary>The process's name (/proc/PID/comm), or null when it vanished or cannot be read.</summary>
    public static string? NameOf(int pid, string proc = "/proc")
    {
        try
        {
            return File.ReadAllText($"{proc}/{pid}/comm").TrimEnd('\n');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
