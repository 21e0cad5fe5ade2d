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

    /// <summary>
    /// True for a kernel thread (PF_KTHREAD in the flags of /proc/PID/stat): it holds no socket a user could change, so
    /// it is no process to offer. False when the process vanished or cannot be read.
    /// </summary>
    public static bool IsKernelThread(int pid, string proc = "/proc")
    {
        const ulong PfKthread = 0x00200000;
        string stat;
        try
        {
            stat = File.ReadAllText($"{proc}/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        // "PID (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may hold spaces and ')', so count from the last ')'.
        int close = stat.LastIndexOf(')');
        string[] fields = close < 0 ? [] : stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 6 && ulong.TryParse(fields[6], NumberStyles.None, CultureInfo.InvariantCulture, out ulong flags) && (flags & PfKthread) != 0;
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
