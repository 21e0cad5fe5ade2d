using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Cgroups;

/// <summary>
/// Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup on current distributions, /sys/fs/cgroup/unified on
/// hybrid hosts), read from /proc/self/mountinfo (fstype "cgroup2"), and which cgroup a process belongs to
/// (/proc/PID/cgroup, the "0::" line).
/// </summary>
/// <param name="MountPoint">The mount point, as an absolute path without a trailing slash.</param>
/// <param name="Root">The cgroup the mount shows at its top ("/" unless a subtree was bind-mounted).</param>
public sealed record CgroupMount(string MountPoint, string Root)
{
    public const string Subject = "Cgroup";

    /// <summary>The first cgroup2 mount of this mount namespace; throws CgroupNotSupported on a v1-only host.</summary>
    public static CgroupMount Find(string mountInfo = "/proc/self/mountinfo")
    {
        string text;
        try
        {
            text = File.ReadAllText(mountInfo);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeepaliveNotFoundException(Subject, $"Cannot read {mountInfo} to find the cgroup2 mount: {e.Message}", mountInfo, Errno.ENOENT);
        }

        return Parse(text) ?? throw new KeepaliveNotSupportedException(Subject, NotMountedReason(text, ReadOwnCgroup()), mountInfo, Errno.ENOSYS);
    }

    private static string[] ReadOwnCgroup()
    {
        try
        {
            return File.ReadAllLines("/proc/self/cgroup");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>
    /// Why no cgroup2 mount was found, from the mount table and this process's /proc/self/cgroup: the kernel lists a
    /// '0::' line once cgroup v2 is mounted anywhere, so with that line the hierarchy exists and only this mount
    /// namespace lacks it (ip netns exec mounts a fresh /sys without the cgroup file systems).
    /// </summary>
    internal static string NotMountedReason(string mountInfo, IEnumerable<string> ownCgroup)
    {
        const string Attach = "Keepalive policies attach to cgroup v2 directories";
        if (ParseProcessCgroup(ownCgroup) is not null)
        {
            return "No cgroup v2 (cgroup2) file system is mounted in this process's mount namespace, although the host uses "
                + "cgroup v2 ('ip netns exec' mounts a fresh /sys without the cgroup file systems; some containers mount none). "
                + $"{Attach}: run the command outside that mount namespace (for another network namespace, give -NetworkNamespace "
                + "or --netns instead), or mount it here (mount -t cgroup2 none /sys/fs/cgroup).";
        }

        return Entries(mountInfo).Any(entry => entry.FileSystem == "cgroup")
            ? "No cgroup v2 (cgroup2) file system is mounted: this host uses cgroup v1 only. " + Attach
                + "; mount it (mount -t cgroup2 none /sys/fs/cgroup/unified) or boot with systemd.unified_cgroup_hierarchy=1."
            : "No cgroup file system is mounted in this process's mount namespace, and this process is in no cgroup v2 "
                + $"hierarchy. {Attach}; mount it (mount -t cgroup2 none /sys/fs/cgroup) or run the command on the host.";
    }

    /// <summary>The first cgroup2 entry of a mountinfo text, or null (tested with fixtures).</summary>
    internal static CgroupMount? Parse(string mountInfo)
    {
        foreach ((string fileSystem, string[] fields) in Entries(mountInfo))
        {
            if (fileSystem == "cgroup2")
            {
                string mountPoint = Unescape(fields[4]);
                return new CgroupMount(mountPoint.Length > 1 ? mountPoint.TrimEnd('/') : mountPoint, Unescape(fields[3]));
            }
        }

        return null;
    }

    /// <summary>The well-formed lines of a mountinfo text, with their file system type.</summary>
    private static IEnumerable<(string FileSystem, string[] Fields)> Entries(string mountInfo)
    {
        foreach (string line in mountInfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
            string[] fields = line.Split(' ');
            int separator = Array.IndexOf(fields, "-");
            if (separator >= 6 && separator + 1 < fields.Length)
            {
                yield return (fields[separator + 1], fields);
            }
        }
    }

    /// <summary>
    /// The cgroup path of process <paramref name="pid"/> ("/system.slice/nginx.service"), relative to the cgroup
    /// namespace of the caller, from the "0::" line of /proc/PID/cgroup.
    /// </summary>
    public static string OfProcess(int pid) => OfProcessFile(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/cgroup"), pid);

    /// <summary>
    /// The cgroup path of the calling process, from /proc/self/cgroup: right also in a PID namespace whose /proc is
    /// the host's (unshare --pid without --mount-proc), where /proc/{Environment.ProcessId} is another process.
    /// </summary>
    public static string OfThisProcess() => OfProcessFile("/proc/self/cgroup", Environment.ProcessId);

    private static string OfProcessFile(string path, int pid)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new KeepaliveNotFoundException("Process", $"Process {pid} does not exist.", pid, Errno.ESRCH);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeepaliveNotFoundException("Process", $"Cannot read {path}: {e.Message}", pid, Errno.ENOENT);
        }

        return ParseProcessCgroup(lines) ?? throw new KeepaliveNotSupportedException(
            Subject,
            $"Process {pid} belongs to no cgroup v2 hierarchy ({path} has no '0::' line): this host uses cgroup v1 only.",
            pid,
            Errno.ENOSYS);
    }

    /// <summary>The path of the "0::" line, or null when there is none.</summary>
    internal static string? ParseProcessCgroup(IEnumerable<string> lines)
    {
        foreach (string line in lines)
        {
            if (line.StartsWith("0::", StringComparison.Ordinal))
            {
                return line[3..];
            }
        }

        return null;
    }

    /// <summary>The directory of cgroup <paramref name="cgroupPath"/> under this mount; null when the mount does not show it.</summary>
    public string? DirectoryOf(string cgroupPath)
    {
        string relative;
        if (Root == "/")
        {
            relative = cgroupPath;
        }
        else if (cgroupPath == Root || cgroupPath.StartsWith(Root + "/", StringComparison.Ordinal))
        {
            relative = cgroupPath[Root.Length..];
        }
        else
        {
            return null;
        }

        relative = relative.Trim('/');
        return relative.Length == 0 ? MountPoint : MountPoint.TrimEnd('/') + "/" + relative;
    }

    /// <summary>The cgroup path of a directory under this mount ("/a/b"), the form /proc/PID/cgroup uses.</summary>
    public string CgroupPathOf(string directory)
    {
        string relative = Path.GetRelativePath(MountPoint, directory);
        string under = relative == "." ? string.Empty : relative;
        string rooted = Root == "/" ? "/" + under : Root.TrimEnd('/') + "/" + under;
        return rooted.Length > 1 ? rooted.TrimEnd('/') : rooted;
    }

    /// <summary>True when <paramref name="path"/> is the mount point or below it.</summary>
    public bool Contains(string path) =>
        path == MountPoint || path.StartsWith(MountPoint.TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo (octal).</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var bytes = new List<byte>();
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                bytes.Add((byte)(((field[i + 1] - '0') << 6) | ((field[i + 2] - '0') << 3) | (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
