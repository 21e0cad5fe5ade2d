using System;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;

namespace PSKeepalive.Tests.Support;

/// <summary>Compiles small C programs for tests with the system compiler (cc), into a temporary directory.</summary>
public static class CCompiler
{
    public static string Compile(string source, string name, params string[] extraFlags)
    {
        string directory = Path.Combine(Path.GetTempPath(), "pskeepalive-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
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
