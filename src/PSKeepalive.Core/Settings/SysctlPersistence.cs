using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Settings;

/// <summary>A file that sets one of our keys and is read after ours at boot, so its value wins.</summary>
/// <param name="Key">The sysctl, dotted.</param>
/// <param name="File">The file that overrides.</param>
/// <param name="LineNumber">The line in it.</param>
/// <param name="Value">The value it sets.</param>
public sealed record SysctlOverride(string Key, string File, int LineNumber, string Value);

/// <summary>What persisting did: the file written and what may still defeat it at boot.</summary>
public sealed record SysctlPersistResult(string Path, IReadOnlyList<SysctlOverride> Overrides, IReadOnlyList<string> Warnings);

/// <summary>
/// Writes keepalive values to a sysctl.d file atomically and checks what boot-time loaders will make of
/// it. The load order follows systemd-sysctl(8) and `sysctl --system`: *.conf files of /etc/sysctl.d,
/// /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d and /lib/sysctl.d, a name in an earlier
/// directory masking the same name in a later one, applied in lexical order of file name (a later file
/// wins), then /etc/sysctl.conf, which `sysctl --system` reads last.
/// </summary>
public sealed class SysctlPersistence
{
    public const string DefaultPath = "/etc/sysctl.d/90-pskeepalive.conf";

    private const string Subject = "SysctlFile";

    /// <summary>The kernel's limit of links followed in one path (MAXSYMLINKS).</summary>
    private const int MaxLinks = 40;

    public static readonly IReadOnlyList<string> DefaultSearchDirectories =
        ["/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"];

    private readonly IReadOnlyList<string> _searchDirectories;
    private readonly string? _sysctlConf;

    /// <param name="searchDirectories">The sysctl.d directories in precedence order (tests pass their own).</param>
    /// <param name="sysctlConf">The legacy file read last, or null for none.</param>
    public SysctlPersistence(IReadOnlyList<string>? searchDirectories = null, string? sysctlConf = "/etc/sysctl.conf")
    {
        _searchDirectories = searchDirectories ?? DefaultSearchDirectories;
        _sysctlConf = sysctlConf;
    }

    /// <summary>
    /// True when systemd-sysctl and 'sysctl --system' read <paramref name="path"/> at boot, or the file that a
    /// write to it changes (links are written through): directories are compared after resolving every link
    /// (a link to /etc/sysctl.d, or /lib -> /usr/lib, names the same directory).
    /// </summary>
    public bool IsReadAtBoot(string path)
    {
        string fullPath = System.IO.Path.GetFullPath(path);
        return IsBootFile(Canonical(fullPath)) || IsBootFile(Canonical(FollowLinks(fullPath)));
    }

    private bool IsBootFile(string canonicalPath)
    {
        string? directory = System.IO.Path.GetDirectoryName(canonicalPath);
        return (_sysctlConf is not null && canonicalPath == Canonical(System.IO.Path.GetFullPath(_sysctlConf))) ||
            (canonicalPath.EndsWith(".conf", StringComparison.Ordinal) && _searchDirectories.Any(d => SameDirectory(Canonical(System.IO.Path.GetFullPath(d)), directory)));
    }

    /// <summary>
    /// Checks, before anything changes, that <paramref name="path"/> can be written: links are followed, the
    /// file is not a directory, the nearest existing directory on its way is a directory the caller may write
    /// (it is created if missing), and an existing file can be read. Throws with "Nothing was changed".
    /// </summary>
    public void CheckTarget(string path)
    {
        string target = FollowLinks(System.IO.Path.GetFullPath(path));
        string shown = target == System.IO.Path.GetFullPath(path) ? path : $"{path} (a link to {target})";
        if (Directory.Exists(target))
        {
            throw new KeepaliveInvalidTargetException(Subject, $"Cannot persist to {shown}: it is a directory. Nothing was changed.", path, Errno.EISDIR);
        }

        string? directory = System.IO.Path.GetDirectoryName(target);
        while (directory is not null && !Directory.Exists(directory))
        {
            if (File.Exists(directory))
            {
                throw new KeepaliveInvalidTargetException(
                    Subject, $"Cannot persist to {shown}: {directory} is not a directory. Nothing was changed.", path, Errno.ENOTDIR);
            }

            directory = System.IO.Path.GetDirectoryName(directory);
        }

        if (directory is not null && Libc.Access(directory, Libc.W_OK | Libc.X_OK) != 0)
        {
            throw Refused(Libc.LastErrno, $"write to {directory}", shown, path);
        }

        if (File.Exists(target) && Libc.Access(target, Libc.R_OK) != 0)
        {
            throw Refused(Libc.LastErrno, $"read {target}", shown, path);
        }
    }

    private static KeepaliveException Refused(int errno, string operation, string shown, string path)
    {
        KeepaliveException e = Errno.ToException(errno, Subject, operation, path, "root");
        string message = $"Cannot persist to {shown}: {e.Message} Nothing was changed.";
        return e switch
        {
            KeepalivePermissionException => new KeepalivePermissionException(Subject, message, path, errno),
            KeepaliveReadOnlyException => new KeepaliveReadOnlyException(Subject, message, path, errno),
            _ => new KeepaliveKernelException(Subject, message, path, errno),
        };
    }

    /// <summary>
    /// Refuses to persist values set in another network namespace to a file read at boot: systemd-sysctl and
    /// 'sysctl --system' apply those files to the namespace they run in (the host's), so persisting a container's
    /// values there would change the host's at the next boot. The caller's own namespace, named by path, and files
    /// not read at boot (a container's own start-up file) are accepted.
    /// </summary>
    /// <exception cref="KeepaliveValidationException">The namespace is not the caller's and the file is read at boot.</exception>
    public void CheckNamespace(string? networkNamespace, string path)
    {
        if (string.IsNullOrEmpty(networkNamespace) || !IsReadAtBoot(path))
        {
            return;
        }

        string target = Namespaces.NetworkNamespace.Run(networkNamespace, Namespaces.NetworkNamespace.Current);
        if (target == Namespaces.NetworkNamespace.Current())
        {
            return;
        }

        throw new KeepaliveValidationException(
            "Sysctl",
            "Persist",
            $"Persisting to {path} cannot be combined with the network namespace {networkNamespace} ({target}): the files systemd-sysctl reads " +
            "are applied at boot to the namespace it runs in (this host's), so the values would change the host's instead. Set them where that " +
            "namespace is made (e.g. 'ip netns exec NAME sysctl -w ...' in its start-up), or give a PersistPath that the namespace's own start-up reads.",
            networkNamespace);
    }

    /// <summary>
    /// Merges <paramref name="values"/> into <paramref name="path"/> (through a link, into the file it names, which
    /// stays linked) atomically and under an exclusive lock, so that concurrent writers of other keys lose
    /// nothing; every byte of the lines it does not own is kept, and so are the file's mode and owner. Then looks
    /// for files that would override the values at boot. The result's path is the file written.
    /// </summary>
    public SysctlPersistResult Persist(string path, IReadOnlyList<KeyValuePair<string, int>> values)
    {
        string fullPath = System.IO.Path.GetFullPath(path);
        string target = FollowLinks(fullPath);
        if (Directory.Exists(target))
        {
            throw new KeepaliveInvalidTargetException(Subject, $"Cannot persist to {path}: {target} is a directory.", path, Errno.EISDIR);
        }

        // Latin-1 maps each byte to one char and back: lines that are not ours, whatever their encoding, stay
        // byte for byte; our keys and values are ASCII.
        LockedFileReplacement.UpdateUnderLock(
            target,
            existing => Encoding.Latin1.GetBytes(SysctlConfigFile.Merge(Encoding.Latin1.GetString(existing), values)),
            Subject);

        var keys = values.Select(v => v.Key).ToList();
        var warnings = new List<string>();
        if (!IsReadAtBoot(fullPath))
        {
            warnings.Add($"{fullPath} is not read at boot: systemd-sysctl and 'sysctl --system' read *.conf files in {string.Join(", ", _searchDirectories)} and {_sysctlConf}.");
        }

        var overrides = FindOverrides(fullPath, keys);
        foreach (var o in overrides)
        {
            warnings.Add($"{o.File} line {o.LineNumber} sets {o.Key} = {o.Value} and is read after {fullPath}, so its value wins at boot.");
        }

        return new SysctlPersistResult(target, overrides, warnings);
    }

    /// <summary>Files read after <paramref name="path"/> at boot that set one of <paramref name="keys"/>.</summary>
    public IReadOnlyList<SysctlOverride> FindOverrides(string path, IReadOnlyCollection<string> keys)
    {
        string fullPath = System.IO.Path.GetFullPath(path);
        string ourName = System.IO.Path.GetFileName(fullPath);
        var effective = EffectiveFiles();
        var later = new List<string>();

        // A file of the same name in a directory of higher precedence masks ours entirely.
        if (effective.TryGetValue(ourName, out string? winner) && winner != fullPath && !SameFile(winner, fullPath))
        {
            later.Add(winner);
        }

        later.AddRange(effective.Where(e => string.CompareOrdinal(e.Key, ourName) > 0).Select(e => e.Value));
        if (_sysctlConf is not null && fullPath != _sysctlConf && File.Exists(_sysctlConf))
        {
            later.Add(_sysctlConf);
        }

        var result = new List<SysctlOverride>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string file in later)
        {
            // Debian links /etc/sysctl.d/99-sysctl.conf to ../sysctl.conf: report the real file once.
            string real = ResolveLinks(file);
            if (SameFile(real, fullPath) || !seen.Add(real))
            {
                continue;
            }

            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var a in SysctlConfigFile.Parse(text))
            {
                if (keys.Contains(a.Key))
                {
                    result.Add(new SysctlOverride(a.Key, file, a.LineNumber, a.Value));
                }
            }
        }

        return result;
    }

    /// <summary>File name -> the file that takes effect for it, sorted by name.</summary>
    private SortedDictionary<string, string> EffectiveFiles()
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string directory in _searchDirectories)
        {
            if (!Directory.Exists(directory))
            {
                continue;
            }

            foreach (string file in Directory.EnumerateFiles(directory, "*.conf"))
            {
                files.TryAdd(System.IO.Path.GetFileName(file), file);
            }
        }

        return files;
    }

    /// <summary>
    /// The file a write to <paramref name="path"/> changes: links followed one by one (each relative target
    /// against the real directory of its link, as the kernel does), whether or not the last one exists.
    /// </summary>
    internal static string FollowLinks(string path)
    {
        string current = Canonical(path);
        for (int hops = 0; hops < MaxLinks; hops++)
        {
            string? target;
            try
            {
                target = new FileInfo(current).LinkTarget;
            }
            catch (IOException)
            {
                return current;
            }

            if (target is null)
            {
                return current;
            }

            current = Canonical(System.IO.Path.GetFullPath(target, System.IO.Path.GetDirectoryName(current) ?? "/"));
        }

        throw new KeepaliveInvalidTargetException(Subject, $"Cannot persist to {path}: too many levels of symbolic links.", path, Errno.ELOOP);
    }

    /// <summary>The path with its directory's links resolved (realpath of the deepest existing directory); the name is kept.</summary>
    internal static unsafe string Canonical(string fullPath)
    {
        string? directory = System.IO.Path.GetDirectoryName(fullPath);
        if (directory is null)
        {
            return fullPath;
        }

        string rest = System.IO.Path.GetFileName(fullPath);
        while (directory is not null)
        {
            byte* resolved = Libc.RealPath(directory, null);
            if (resolved is not null)
            {
                string real = Marshal.PtrToStringUTF8((nint)resolved)!;
                Libc.Free(resolved);
                return System.IO.Path.Join(real, rest);
            }

            rest = System.IO.Path.Join(System.IO.Path.GetFileName(directory), rest);
            directory = System.IO.Path.GetDirectoryName(directory);
        }

        return fullPath;
    }

    private static string ResolveLinks(string path)
    {
        try
        {
            var target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true);
            return target?.FullName ?? path;
        }
        catch (IOException)
        {
            return path;
        }
    }

    private static bool SameFile(string a, string b) => ResolveLinks(a) == ResolveLinks(b);

    private static bool SameDirectory(string a, string? b) =>
        b is not null && System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(a)) == System.IO.Path.TrimEndingDirectorySeparator(b);
}
