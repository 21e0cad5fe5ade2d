using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Errors;

namespace PSKeepalive.Completion;

/// <summary>
/// Completes cgroup v2 directories: an absolute path under the cgroup2 mount, or (as -Cgroup also takes it) a cgroup
/// path as /proc/PID/cgroup shows it, completed in the same form. Only directories: every directory there is a cgroup.
/// </summary>
public sealed class CgroupCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        CgroupMount mount;
        try
        {
            mount = CgroupMount.Find();
        }
        catch (KeepaliveException)
        {
            yield break;
        }

        string typed = wordToComplete.Trim('\'', '"');
        if (typed.Length > 0 && !mount.Contains(typed) && mount.MountPoint.StartsWith(typed, StringComparison.Ordinal))
        {
            yield return Result(mount.MountPoint); // "/sys/f": on the way to the mount itself
            yield break;
        }

        // Under the mount: directories as typed; anything else is a cgroup path ("/system.slice/ngi").
        bool cgroupForm = !mount.Contains(typed.TrimEnd('/'));
        string asDirectory = cgroupForm ? mount.MountPoint + "/" + typed.TrimStart('/') : typed;
        string parent = asDirectory.EndsWith('/') ? asDirectory.TrimEnd('/') : Path.GetDirectoryName(asDirectory)!;
        string leaf = asDirectory.EndsWith('/') ? string.Empty : Path.GetFileName(asDirectory);
        List<string> children;
        try
        {
            children = Directory.EnumerateDirectories(parent, leaf + "*").Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            yield break;
        }

        foreach (string child in children)
        {
            yield return Result(cgroupForm ? mount.CgroupPathOf(child) : child);
        }
    }

    private static CompletionResult Result(string path)
    {
        string text = path.IndexOfAny([' ', '\'', '$', '`', '(', ')', '{', '}', ';', '&', ',', '@']) >= 0 ? "'" + path.Replace("'", "''", StringComparison.Ordinal) + "'" : path;
        return new CompletionResult(text, path, CompletionResultType.ProviderContainer, path);
    }
}
