using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using System.Threading.Tasks;

namespace PSKeepalive.Tests.Seccomp;

/// <summary>Keepalive options as a probe printed them: "label so_keepalive=N idle=N intvl=N cnt=N user_timeout=N".</summary>
public sealed record ProbedOptions(string Label, int KeepAlive, int Idle, int Interval, int Count, int UserTimeout)
{
    private static readonly Regex Line = new(
        @"^(?<label>\S+) so_keepalive=(?<ka>-?\d+) idle=(?<idle>-?\d+) intvl=(?<intvl>-?\d+) cnt=(?<cnt>-?\d+) user_timeout=(?<ut>-?\d+)$",
        RegexOptions.CultureInvariant);

    public static ProbedOptions? TryParse(string line)
    {
        Match m = Line.Match(line.Trim());
        return m.Success
            ? new ProbedOptions(
                m.Groups["label"].Value,
                int.Parse(m.Groups["ka"].Value),
                int.Parse(m.Groups["idle"].Value),
                int.Parse(m.Groups["intvl"].Value),
                int.Parse(m.Groups["cnt"].Value),
                int.Parse(m.Groups["ut"].Value))
            : null;
    }

    /// <summary>Every options line of an output, by label (labels are unique per scenario).</summary>
    public static Dictionary<string, ProbedOptions> All(string output) =>
        output.Split('\n').Select(TryParse).OfType<ProbedOptions>().ToDictionary(o => o.Label, StringComparer.Ordinal);
}

public sealed record LauncherResult(int ExitCode, string StandardOutput, string StandardError, TimeSpan Elapsed)
{
    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:F2} s\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}";
}

/// <summary>
/// Runs pskeepalive-seccomp (built by src/preload/seccomp.targets and copied next to the tests) as a process,
/// with only the PSKEEPALIVE_* variables a test gives, and bounded waits everywhere.
/// </summary>
public sealed class LauncherProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = new();
    private readonly Task<string> _stderr;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private LauncherProcess(Process process)
    {
        _process = process;
        _stderr = process.StandardError.ReadToEndAsync();
        Task.Run(() =>
        {
            try
            {
                string? line;
                while ((line = process.StandardOutput.ReadLine()) is not null)
                {
                    _lines.Add(line);
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
            {
            }
            finally
            {
                _lines.CompleteAdding();
            }
        });
    }

    public static string LauncherPath
    {
        get
        {
            string path = System.IO.Path.Combine(AppContext.BaseDirectory, "pskeepalive-seccomp");
            return File.Exists(path)
                ? path
                : throw new FileNotFoundException($"pskeepalive-seccomp was not built next to the tests ({path}); see src/preload/seccomp.targets.");
        }
    }

    public Process Process => _process;

    /// <summary>
    /// Builds the launcher from its sources (linked into the test output as Preload/shim-src) with extra flags:
    /// sanitizers, or the PSK_TEST_* switches that stand in for older kernels.
    /// </summary>
    public static string CompileFromSource(string name, params string[] flags)
    {
        string directory = System.IO.Path.Combine(AppContext.BaseDirectory, "Preload", "shim-src");
        string main = System.IO.Path.Combine(directory, "pskeepalive_seccomp.c");
        string[] others = ["launcher_settings.c", "seccomp_supervisor.c", "seccomp_filter.c"];
        others = others.Select(file => System.IO.Path.Combine(directory, file)).ToArray();
        if (!File.Exists(main) || !others.All(File.Exists))
        {
            throw new FileNotFoundException($"The launcher's sources are missing from {directory} (the tests link src/preload/*.c and *.h there).");
        }

        return Support.CCompiler.Compile(File.ReadAllText(main), name, ["-I", directory, .. others, .. flags]);
    }

    public int Pid => _process.Id;

    public static LauncherProcess Start(IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        StartProgram(LauncherPath, environment, arguments);

    /// <summary>Starts <paramref name="program"/> (the launcher, or a wrapper such as setpriv) with a clean PSKEEPALIVE_* environment.</summary>
    public static LauncherProcess StartProgram(string program, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string key in start.Environment.Keys.Where(k => k.StartsWith("PSKEEPALIVE_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return new LauncherProcess(Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start"));
    }

    /// <summary>Runs to completion with a bounded wait; standard input is closed at once.</summary>
    public static LauncherResult Run(IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] arguments)
    {
        using LauncherProcess launcher = Start(environment, arguments);
        launcher._process.StandardInput.Close();
        return launcher.WaitForExit(timeout);
    }

    /// <summary>The next line of standard output, or null when none came within <paramref name="timeout"/> (or at EOF).</summary>
    public string? ReadLine(TimeSpan timeout) => _lines.TryTake(out string? line, timeout) ? line : null;

    public void WriteLine(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Waits for the launcher to exit and for its output to end (descendants holding it included).</summary>
    public LauncherResult WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            throw new TimeoutException($"pskeepalive-seccomp did not exit within {timeout.TotalSeconds} s.");
        }

        TimeSpan elapsed = _clock.Elapsed;
        var output = new List<string>();
        var deadline = Stopwatch.StartNew();
        while (!_lines.IsCompleted && deadline.Elapsed < timeout)
        {
            if (_lines.TryTake(out string? line, TimeSpan.FromMilliseconds(100)))
            {
                output.Add(line);
            }
        }

        while (_lines.TryTake(out string? rest))
        {
            output.Add(rest);
        }

        if (!_stderr.Wait(timeout))
        {
            throw new TimeoutException("The launcher's standard error did not end.");
        }

        return new LauncherResult(_process.ExitCode, string.Join('\n', output), _stderr.Result, elapsed);
    }

    public void Signal(int signal)
    {
        if (SeccompTestLibc.Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}

/// <summary>libc calls only the seccomp tests need.</summary>
internal static partial class SeccompTestLibc
{
    internal const int SIGKILL = 9;
    internal const int SIGTERM = 15;
    internal const int SIGCONT = 18;
    internal const int SIGSTOP = 19;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);
}
