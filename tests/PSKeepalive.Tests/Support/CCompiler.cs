using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading.Tasks;

namespace PSKeepalive.Tests.Support;

/// <summary>
/// Compiles small C programs for tests with the system compiler (cc), into a temporary directory. Every
/// directory of a test run lives under /tmp/pskeepalive-tests-UID/run-PID and is removed when the run ends; runs
/// that died without cleaning up (their process is gone) are swept when the next run starts. The folder is
/// per user (mode 0755, writable by its owner only): /tmp is shared, and a folder another user made first would
/// refuse this one's files. Others may still run what is in it: some tests run a compiled helper as nobody.
/// </summary>
public static class CCompiler
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "pskeepalive-tests-" + TestLibc.GetEUid().ToString(CultureInfo.InvariantCulture));

    /// <summary>Directories left by older test code (a bare GUID per compile) are removed once this old.</summary>
    private static readonly TimeSpan LegacyAge = TimeSpan.FromHours(2);

    private static readonly Lazy<string> RunDirectory = new(CreateRunDirectory);

    /// <summary>This run's directory (created on first use, deleted at process exit).</summary>
    public static string RunRoot => RunDirectory.Value;

    /// <summary>A fresh directory for one test or one compile, removed with the run's directory.</summary>
    public static string NewDirectory()
    {
        string directory = Path.Combine(RunDirectory.Value, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return directory;
    }

    public static string Compile(string source, string name, params string[] extraFlags)
    {
        string directory = NewDirectory();
        string sourcePath = Path.Combine(directory, name + ".c");
        string output = Path.Combine(directory, name);
        File.WriteAllText(sourcePath, source);

        var start = new ProcessStartInfo("cc") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string flag in new[] { "-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-o", output, sourcePath })
        {
            start.ArgumentList.Add(flag);
        }

        foreach (string flag in extraFlags)
        {
            start.ArgumentList.Add(flag);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cc did not start");
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill();
            throw new TimeoutException("cc did not finish within 60 s.");
        }

        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"cc failed ({process.ExitCode}):\n{stderr.Result}{stdout.Result}");
        }

        return output;
    }

    private static string CreateRunDirectory()
    {
        Directory.CreateDirectory(
            Root,
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        if (new DirectoryInfo(Root).LinkTarget is not null)
        {
            throw new InvalidOperationException($"{Root} is a symbolic link; remove it (someone else may have planted it).");
        }

        Sweep();
        string directory = Path.Combine(Root, "run-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        DeleteQuietly(directory); // a dead run with a reused pid
        Directory.CreateDirectory(directory);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteQuietly(directory);
        return directory;
    }

    /// <summary>Removes what runs that ended without cleaning up left behind; never another live run's files.</summary>
    public static void Sweep()
    {
        foreach (string entry in Directory.EnumerateDirectories(Root))
        {
            string name = Path.GetFileName(entry);
            if (name.StartsWith("run-", StringComparison.Ordinal))
            {
                if (int.TryParse(name.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) &&
                    pid != Environment.ProcessId && !Directory.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture)))
                {
                    DeleteQuietly(entry);
                }
            }
            else if (Guid.TryParseExact(name, "N", out _) && DateTime.UtcNow - Directory.GetLastWriteTimeUtc(entry) > LegacyAge)
            {
                DeleteQuietly(entry);
            }
        }
    }

    private static void DeleteQuietly(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone already, or another run is sweeping it at the same time.
        }
    }

    /// <summary>
    /// Compiles and runs a program that prints "NAME=VALUE" lines (sizeof, offsetof and constants from C headers), and
    /// returns the values by name: what the struct-layout tests compare Core's constants with.
    /// </summary>
    public static Dictionary<string, long> PrintedValues(string source, string name) =>
        RunToCompletion(Compile(source, name), TimeSpan.FromSeconds(10))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('='))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture));

    /// <summary>Runs a compiled program and returns its stdout; fails on a non-zero exit or after <paramref name="timeout"/>.</summary>
    public static string RunToCompletion(string program, TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill();
            throw new TimeoutException($"{program} did not finish within {timeout.TotalSeconds} s.");
        }

        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} exited {process.ExitCode}: {stderr.Result}");
        }

        return stdout.Result;
    }
}
