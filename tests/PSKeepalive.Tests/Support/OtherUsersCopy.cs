using System;
using System.Collections.Concurrent;
using System.IO;

namespace PSKeepalive.Tests.Support;

/// <summary>
/// Copies of build outputs that another user (nobody, through setpriv) can read and run. The clone may sit in a
/// folder only its owner can enter (root's home is mode 0700), where nobody gets "Permission denied" on the
/// build output itself; the copy lives in this run's helper folder under /tmp (<see cref="CCompiler.RunRoot"/>,
/// mode 0755) and is made once per run.
/// </summary>
public static class OtherUsersCopy
{
    private static readonly ConcurrentDictionary<string, Lazy<string>> Directories = new(StringComparer.Ordinal);

    private const UnixFileMode ReadableByAll =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>A copy of <paramref name="file"/> alone (a program that needs nothing beside it).</summary>
    public static string Of(string file) => Path.Combine(Copy(Path.GetFullPath(file), single: true), Path.GetFileName(file));

    /// <summary><paramref name="file"/> inside a copy of its whole folder (a .NET program and its assemblies).</summary>
    public static string WithItsFolder(string file) => Path.Combine(Copy(Path.GetFullPath(Path.GetDirectoryName(file)!), single: false), Path.GetFileName(file));

    private static string Copy(string source, bool single) =>
        Directories.GetOrAdd(source + (single ? "" : "/"), _ => new Lazy<string>(() => single ? CopyFile(source) : CopyDirectory(source))).Value;

    private static string CopyFile(string source)
    {
        string target = NewFolder();
        CopyReadable(source, Path.Combine(target, Path.GetFileName(source)));
        return target;
    }

    private static string NewFolder()
    {
        File.SetUnixFileMode(CCompiler.RunRoot, ReadableByAll);
        string target = CCompiler.NewDirectory();
        File.SetUnixFileMode(target, ReadableByAll);
        return target;
    }

    private static string CopyDirectory(string source)
    {
        string target = NewFolder();
        foreach (string directory in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            string copy = Path.Combine(target, Path.GetRelativePath(source, directory));
            Directory.CreateDirectory(copy);
            File.SetUnixFileMode(copy, ReadableByAll);
        }

        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            CopyReadable(file, Path.Combine(target, Path.GetRelativePath(source, file)));
        }

        return target;
    }

    /// <summary>Readable by all, and executable by all where the original is executable by its owner.</summary>
    private static void CopyReadable(string file, string copy)
    {
        File.Copy(file, copy);
        UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        if ((File.GetUnixFileMode(file) & UnixFileMode.UserExecute) != 0)
        {
            mode |= UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        }

        File.SetUnixFileMode(copy, mode);
    }
}
