using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using PSKeepalive.Core.Launch;
using PSKeepalive.Tests.Support;

namespace PSKeepalive.Tests.Preload;

/// <summary>The result of one program run under (or without) the shim.</summary>
public sealed record ProgramRun(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>
    /// Lines of the form "name key=value ..." (sockprobe.c, pyprobe.py) by name, values as integers.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> Sockets
    {
        get
        {
            var result = new Dictionary<string, IReadOnlyDictionary<string, int>>();
            foreach (string line in StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var values = new Dictionary<string, int>();
                foreach (string word in words.Skip(1))
                {
                    string[] pair = word.Split('=', 2);
                    if (pair.Length == 2 && int.TryParse(pair[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
                    {
                        values[pair[0]] = value;
                    }
                }

                result[words[0]] = values;
            }

            return result;
        }
    }

    public IReadOnlyDictionary<string, int> this[string socket] =>
        Sockets.TryGetValue(socket, out var values) ? values : throw new KeyNotFoundException($"no line for '{socket}' in:\n{this}");

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}";
}

/// <summary>
/// The programs the preload tests run: sockprobe.c compiled once (dynamic and static), the python3 fixtures,
/// the shim from the build output and, on demand, the shim built with AddressSanitizer/UBSan.
/// </summary>
public static class PreloadPrograms
{
    private static readonly Lazy<string> SockProbeBinary = new(() => CCompiler.Compile(File.ReadAllText(Fixture("sockprobe.c")), "sockprobe"));
    private static readonly Lazy<string> StaticSockProbeBinary = new(() => CCompiler.Compile(File.ReadAllText(Fixture("sockprobe.c")), "sockprobe-static", "-static"));

    /// <summary>The shim as built by preload.targets and copied next to the tests.</summary>
    public static string Shim => PreloadLauncher.LocateLibrary();

    public static string SockProbe => SockProbeBinary.Value;

    public static string StaticSockProbe => StaticSockProbeBinary.Value;

    /// <summary>The system python3 (an ELF), not a version manager's shell shim.</summary>
    public static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Preload", "fixtures", name);

    public static string ShimSource(string name) => Path.Combine(AppContext.BaseDirectory, "Preload", "shim-src", name);

    /// <summary>
    /// This process's environment without anything that would change the shim's behaviour (LD_PRELOAD,
    /// PSKEEPALIVE_*, libkeepalive's KEEP*), plus <paramref name="variables"/>.
    /// </summary>
    public static Dictionary<string, string> CleanEnvironment(IEnumerable<KeyValuePair<string, string>>? variables = null)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            string key = (string)entry.Key;
            if (key == "LD_PRELOAD" || key.StartsWith("PSKEEPALIVE_", StringComparison.Ordinal) || key.StartsWith("KEEP", StringComparison.Ordinal)
                || key.StartsWith("ASAN_", StringComparison.Ordinal) || key.StartsWith("UBSAN_", StringComparison.Ordinal))
            {
                continue;
            }

            environment[key] = (string?)entry.Value ?? string.Empty;
        }

        foreach (var (key, value) in variables ?? [])
        {
            environment[key] = value;
        }

        return environment;
    }

    /// <summary>Runs <paramref name="program"/> with LD_PRELOAD=<paramref name="preload"/> (none when null) and the given variables.</summary>
    public static ProgramRun RunUnder(string? preload, string program, IReadOnlyDictionary<string, string>? variables, params string[] arguments)
    {
        var environment = CleanEnvironment(variables);
        if (preload is not null)
        {
            environment["LD_PRELOAD"] = preload;
        }

        return Run(program, arguments, environment, TimeSpan.FromSeconds(30));
    }

    /// <summary>Runs a program to completion with exactly <paramref name="environment"/>; killed after <paramref name="timeout"/>.</summary>
    public static ProgramRun Run(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Clear();
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return Run(start, timeout);
    }

    /// <summary>Runs a prepared start info (output redirected here) to completion, bounded.</summary>
    public static ProgramRun Run(ProcessStartInfo start, TimeSpan timeout)
    {
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start");
        try
        {
            process.StandardInput.Close();
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                throw new TimeoutException($"{start.FileName} did not exit within {timeout.TotalSeconds} s.");
            }

            process.WaitForExit();
            return new ProgramRun(process.ExitCode, stdout.Result, stderr.Result);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>Runs a tool (nm, readelf, cc) and returns its stdout; fails on a non-zero exit.</summary>
    public static string Tool(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        ProgramRun run = Run(start, TimeSpan.FromSeconds(120));
        if (run.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} failed: {run}");
        }

        return run.StandardOutput;
    }

    /// <summary>A fresh temporary directory for one test.</summary>
    public static string TemporaryDirectory()
    {
        string directory = CCompiler.NewDirectory();
        return directory;
    }
}
