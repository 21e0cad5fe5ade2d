using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using PSKeepalive.Core.Processes;

namespace PSKeepalive.Core.Namespaces;

/// <summary>A network namespace that can be named by a path: /run/netns/NAME, or /proc/PID/ns/net of one process in it.</summary>
/// <param name="Path">The path to give to -NetworkNamespace / --netns.</param>
/// <param name="Id">The kernel's name for it, "net:[4026532281]".</param>
/// <param name="Description">What it is: the netns name, or the process that holds it.</param>
public sealed record NetworkNamespaceEntry(string Path, string Id, string Description);

/// <summary>
/// Lists the network namespaces a user can name: those bound under /run/netns (ip netns) first, then one
/// process for each other namespace in use (containers). Processes that cannot be read are skipped.
/// </summary>
public static class NetworkNamespaceCatalog
{
    public static IReadOnlyList<NetworkNamespaceEntry> List(string runNetns = "/run/netns", string proc = "/proc")
    {
        var entries = new List<NetworkNamespaceEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal) { NetworkNamespace.Current() };
        if (Directory.Exists(runNetns))
        {
            foreach (string path in Directory.EnumerateFiles(runNetns).Order(StringComparer.Ordinal))
            {
                string id = NamespaceIdOfBinding(path);
                seen.Add(id);
                entries.Add(new NetworkNamespaceEntry(path, id, $"ip netns {System.IO.Path.GetFileName(path)}"));
            }
        }

        foreach (var (pid, id) in ProcessNamespaces(proc).OrderBy(p => p.Pid))
        {
            if (seen.Add(id))
            {
                string name = ProcessName.Read(pid, proc) ?? "?";
                entries.Add(new NetworkNamespaceEntry($"{proc}/{pid}/ns/net", id, $"process {pid} ({name})"));
            }
        }

        return entries;
    }

    private static IEnumerable<(int Pid, string Id)> ProcessNamespaces(string proc)
    {
        foreach (int pid in RunningProcesses.Pids(proc))
        {
            string? id;
            try
            {
                id = new FileInfo($"{proc}/{pid}/ns/net").LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            if (id is not null)
            {
                yield return (pid, id);
            }
        }
    }

    /// <summary>A /run/netns file is a bind mount of an nsfs inode; its id is net:[inode].</summary>
    private static string NamespaceIdOfBinding(string path)
    {
        try
        {
            var status = new FileInfo(path);
            return status.Exists ? $"net:[{Inode(path)}]" : "unknown";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static ulong Inode(string path) => Interop.FileStatus.InodeOf(path);
}
