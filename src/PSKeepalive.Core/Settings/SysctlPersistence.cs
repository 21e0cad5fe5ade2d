using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
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

    /// <summary>Merges <paramref name="values"/> into <paramref name="path"/> atomically, then looks for overrides.</summary>
    /// <summary>True when systemd-sysctl and 'sysctl --system' read <paramref name="path"/> at boot.</summary>
    public bool IsReadAtBoot(string path)
    {
        string fullPath = System.IO.Path.GetFullPath(path);
        string? directory = System.IO.Path.GetDirectoryName(fullPath);
        return fullPath == _sysctlConf ||
            (fullPath.EndsWith(".conf", StringComparison.Ordinal) && _searchDirectories.Any(d => SameDirectory(d, directory)));
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

    public SysctlPersistResult Persist(string path, IReadOnlyList<KeyValuePair<string, int>> values)
    {
        string fullPath = System.IO.Path.GetFullPath(path);
        string existing = ReadExisting(fullPath);
        WriteAtomically(fullPath, SysctlConfigFile.Merge(existing, values));

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

        return new SysctlPersistResult(fullPath, overrides, warnings);
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

    private static string ReadExisting(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : string.Empty;
        }
        catch (UnauthorizedAccessException e)
        {
            throw new KeepalivePermissionException(Subject, $"Cannot read {path}: {e.Message} Persisting needs root.", path, Errno.EACCES);
        }
        catch (IOException e)
        {
            throw new KeepaliveKernelException(Subject, $"Cannot read {path}: {e.Message}", path, 0, e);
        }
    }

    /// <summary>Temporary file in the same directory, fsync, rename over the target, fsync the directory.</summary>
    internal static void WriteAtomically(string path, string content)
    {
        string directory = System.IO.Path.GetDirectoryName(path) ?? "/";
        string temporary = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(directory);
            var mode = File.Exists(path)
                ? File.GetUnixFileMode(path)
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = mode,
            }))
            {
                byte[] bytes = Encoding.UTF8.GetBytes(content);
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            SyncDirectory(directory);
        }
        catch (UnauthorizedAccessException e)
        {
            TryDelete(temporary);
            throw new KeepalivePermissionException(Subject, $"Cannot write {path}: {e.Message} Persisting to {directory} needs root.", path, Errno.EACCES);
        }
        catch (IOException e)
        {
            TryDelete(temporary);
            throw new KeepaliveKernelException(Subject, $"Cannot write {path}: {e.Message}", path, 0, e);
        }
    }

    private static void SyncDirectory(string directory)
    {
        int fd = Libc.Open(directory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (fd >= 0)
        {
            Libc.FSync(fd);
            Libc.Close(fd);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the original error is the one worth reporting.
        }
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
