using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using PSKeepalive.Core.Cgroups;

namespace PSKeepalive.Tests.Support;

/// <summary>
/// A cgroup v2 directory made for one test, named pskeepalive-test-PID-N (unique per run), under the cgroup2 mount
/// or under another throw-away cgroup. Dispose ends the processes the test put in it (by the PIDs cgroup.procs lists:
/// only this test's), removes its children and itself; removing a cgroup frees the BPF programs attached to it.
/// Leftovers of runs that died are swept on first use. Needs root.
/// </summary>
public sealed class ThrowawayCgroup : IDisposable
{
    private const string Prefix = "pskeepalive-test-";
    private static int s_sequence;
    private static readonly Lazy<string> MountPoint = new(() =>
    {
        string mount = CgroupMount.Find().MountPoint;
        Sweep(mount);
        return mount;
    });

    private readonly List<ThrowawayCgroup> _children = new();

    public ThrowawayCgroup(ThrowawayCgroup? parent = null)
    {
        string directory = parent?.Path ?? MountPoint.Value;
        Name = Prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + Interlocked.Increment(ref s_sequence).ToString(CultureInfo.InvariantCulture);
        Path = System.IO.Path.Combine(directory, Name);
        Directory.CreateDirectory(Path);
        parent?._children.Add(this);
    }

    public static string Mount => MountPoint.Value;

    public string Name { get; }

    /// <summary>The directory.</summary>
    public string Path { get; }

    /// <summary>The cgroup path as /proc/PID/cgroup shows it.</summary>
    public string CgroupPath => "/" + System.IO.Path.GetRelativePath(Mount, Path);

    /// <summary>A throw-away cgroup below this one, removed with it.</summary>
    public ThrowawayCgroup Child() => new(this);

    /// <summary>Moves process <paramref name="pid"/> (one the test started) in.</summary>
    public void Add(int pid) => File.WriteAllText(System.IO.Path.Combine(Path, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// A start info that runs <paramref name="program"/> inside this cgroup: sh moves itself in, then execs the
    /// program, so that the program's first instruction already runs in the cgroup.
    /// </summary>
    public ProcessStartInfo StartInfo(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("echo $$ > \"$0/cgroup.procs\" && exec \"$@\"");
        start.ArgumentList.Add(Path);
        start.ArgumentList.Add(program);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    public IReadOnlyList<int> Processes() => ReadProcs(Path);

    public void Dispose()
    {
        foreach (ThrowawayCgroup child in _children)
        {
            child.Dispose();
        }

        Remove(Path);
    }

    private static void Remove(string path)
    {
        if (!Directory.Exists(path))
        {
            return;
        }

        foreach (string child in Directory.GetDirectories(path))
        {
            Remove(child);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            foreach (int pid in ReadProcs(path))
            {
                try
                {
                    Process.GetProcessById(pid).Kill();
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // Exited meanwhile.
                }
            }

            try
            {
                Directory.Delete(path);
                return;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20); // EBUSY until the killed processes are gone
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
        }
    }

    private static IReadOnlyList<int> ReadProcs(string path)
    {
        try
        {
            return File.ReadAllLines(System.IO.Path.Combine(path, "cgroup.procs"))
                .Select(l => int.Parse(l, CultureInfo.InvariantCulture)).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Removes pskeepalive-test-PID-* cgroups whose run (PID) is gone, anywhere in the tree.</summary>
    private static void Sweep(string mount)
    {
        IEnumerable<string> stale;
        try
        {
            stale = Directory.EnumerateDirectories(mount, Prefix + "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                .Where(d => int.TryParse(System.IO.Path.GetFileName(d)[Prefix.Length..].Split('-')[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                            && pid != Environment.ProcessId && !Directory.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture)))
                .OrderByDescending(d => d.Length)
                .ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        foreach (string directory in stale)
        {
            try
            {
                Remove(directory);
            }
            catch (IOException)
            {
                // Another sweep got there first, or it is still busy: the next run tries again.
            }
        }
    }
}
