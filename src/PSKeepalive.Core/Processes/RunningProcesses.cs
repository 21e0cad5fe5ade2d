using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using PSKeepalive.Core.Errors;

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

    /// <summary>
    /// The processes of <paramref name="pids"/> that exist (their /proc/PID is there), in order; for each one that does
    /// not, <paramref name="missing"/> gets a ProcessNotFound error naming it. A filter on a process that has ended (or
    /// never was) would otherwise quietly find no connection, as if the process held none.
    /// </summary>
    public static List<int> Existing(IEnumerable<int> pids, string parameterName, Action<KeepaliveNotFoundException> missing, string proc = "/proc")
    {
        ArgumentNullException.ThrowIfNull(pids);
        ArgumentNullException.ThrowIfNull(missing);
        var found = new List<int>();
        foreach (int pid in pids)
        {
            if (pid > 0 && !Directory.Exists($"{proc}/{pid.ToString(CultureInfo.InvariantCulture)}"))
            {
                missing(NotFound(pid, parameterName));
            }
            else
            {
                found.Add(pid); // ids of 0 or less are left to the query's validation, which names the valid range
            }
        }

        return found;
    }

    /// <summary>"There is no process 4242 (OwningProcess): it has ended, or never was.": error id ProcessNotFound.</summary>
    public static KeepaliveNotFoundException NotFound(int pid, string parameterName) => new(
        "Process",
        $"There is no process {pid.ToString(CultureInfo.InvariantCulture)} ({parameterName}): it has ended, or never was.",
        pid,
        3); // ESRCH

    /// <summary>
    /// Refuses the ID of a thread that is not its process's leader: /proc/TID exists (hidden from listings) and
    /// shares the process's descriptors, but pidfd_open and the owner scan work by process, so such an ID would
    /// quietly find nothing. Names the process to give instead. A PID that does not exist is left to the caller.
    /// </summary>
    /// <exception cref="KeepaliveValidationException">The ID is a thread's (error id ProcessInvalidArgument).</exception>
    public static void CheckIsProcess(int pid, string parameterName, string proc = "/proc")
    {
        if (ThreadGroupOf(pid, proc) is int tgid && tgid != pid)
        {
            throw new KeepaliveValidationException(
                "Process",
                parameterName,
                $"{pid} is a thread of process {tgid}, not a process: give {tgid} (threads share their process's sockets).",
                pid);
        }
    }

    /// <summary>Tgid from /proc/PID/status; null when the process is gone or cannot be read.</summary>
    private static int? ThreadGroupOf(int pid, string proc)
    {
        try
        {
            foreach (string line in File.ReadLines($"{proc}/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith("Tgid:", StringComparison.Ordinal))
                {
                    return int.TryParse(line.AsSpan(5).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int tgid) ? tgid : null;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }
}
