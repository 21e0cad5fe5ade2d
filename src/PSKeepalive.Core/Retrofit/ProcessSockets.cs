using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Retrofit;

/// <summary>One socket descriptor of a process, as /proc/PID/fd shows it ("socket:[INODE]").</summary>
public readonly record struct SocketDescriptor(int Fd, ulong Inode);

/// <summary>The socket descriptors of one process, from /proc/PID/fd (needs the same ptrace access as pidfd_getfd).</summary>
public static class ProcessSockets
{
    private const string Subject = "Process";

    /// <summary>Every descriptor of <paramref name="pid"/> that is a socket, in descriptor order.</summary>
    /// <exception cref="KeepaliveNotFoundException">The process does not exist.</exception>
    /// <exception cref="KeepalivePermissionException">The caller may not read the process's descriptors.</exception>
    public static IReadOnlyList<SocketDescriptor> List(int pid, string procRoot = "/proc")
    {
        if (pid <= 0)
        {
            throw new KeepaliveValidationException(Subject, "ProcessId", $"ProcessId must be a positive process id; {pid} is not one.", pid);
        }

        string directory = Path.Combine(procRoot, pid.ToString(CultureInfo.InvariantCulture), "fd");
        var sockets = new List<SocketDescriptor>();
        try
        {
            foreach (string entry in Directory.EnumerateFileSystemEntries(directory))
            {
                if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out int fd))
                {
                    continue;
                }

                string? target;
                try
                {
                    target = new FileInfo(entry).LinkTarget;
                }
                catch (IOException)
                {
                    continue; // closed between readdir and readlink
                }

                if (target is not null && TryParseSocketLink(target, out ulong inode))
                {
                    sockets.Add(new SocketDescriptor(fd, inode));
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
            throw Errno.ToException(Errno.ESRCH, Subject, $"list the descriptors of process {pid}", pid);
        }
        catch (UnauthorizedAccessException)
        {
            throw Errno.ToException(Errno.EACCES, Subject, $"list the descriptors of process {pid}", pid, Pidfd.PtracePrivilege);
        }

        sockets.Sort((a, b) => a.Fd.CompareTo(b.Fd));
        return sockets;
    }

    /// <summary>The command name of a process (/proc/PID/comm), or null when it is gone or unreadable.</summary>
    public static string? Name(int pid, string procRoot = "/proc")
    {
        try
        {
            return File.ReadAllText(Path.Combine(procRoot, pid.ToString(CultureInfo.InvariantCulture), "comm")).TrimEnd('\n');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Parses "socket:[12345]".</summary>
    public static bool TryParseSocketLink(string link, out ulong inode)
    {
        inode = 0;
        return link.StartsWith("socket:[", StringComparison.Ordinal)
            && link.EndsWith(']')
            && ulong.TryParse(link.AsSpan(8, link.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out inode);
    }
}
