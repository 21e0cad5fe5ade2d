using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;

namespace PSKeepalive.Tests.Support;

/// <summary>The result of one `pskeepalive` run.</summary>
public sealed record CliResult(int ExitCode, string StandardOutput, string StandardError)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}";
}

/// <summary>Runs the built CLI as a separate process, as a user would, with a bounded wait.</summary>
public static class CliRunner
{
    private static readonly Lazy<string> CliDll = new(Locate);

    public static string DllPath => CliDll.Value;

    public static CliResult Run(params string[] arguments) => Run(arguments, TimeSpan.FromSeconds(60));

    public static CliResult Run(IReadOnlyList<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null) =>
        RunProgram("dotnet", [DllPath, .. arguments], timeout, environment);

    /// <summary>
    /// Runs any program (a shell or python3 that sets something up, then execs the CLI) with stdin closed and
    /// output captured; the whole process tree is killed after <paramref name="timeout"/>.
    /// </summary>
    public static CliResult RunProgram(string program, IReadOnlyList<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not exit within {timeout.TotalSeconds} s.");
        }

        process.WaitForExit();
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// The CLI is built with the tests (a project reference without its assembly) in its own output folder,
    /// under the same configuration as the tests.
    /// </summary>
    private static string Locate()
    {
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        string dll = Repository.PathOf("src", "PSKeepalive.Cli", "bin", configuration, "net8.0", "pskeepalive.dll");
        if (File.Exists(dll) && File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")))
        {
            return dll;
        }

        throw new FileNotFoundException($"pskeepalive.dll (with its runtimeconfig) was not found at {dll}; build the solution first.");
    }
}
