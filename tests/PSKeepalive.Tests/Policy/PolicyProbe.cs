using System;
using System.Diagnostics;
using System.IO;
using PSKeepalive.Tests.Preload;
using PSKeepalive.Tests.Support;

namespace PSKeepalive.Tests.Policy;

/// <summary>policyprobe.c compiled once (dynamic and static) and run inside or outside a throw-away cgroup.</summary>
public static class PolicyProbe
{
    private static readonly Lazy<string> DynamicBinary = new(() => CCompiler.Compile(File.ReadAllText(Fixture), "policyprobe"));
    private static readonly Lazy<string> StaticBinary = new(() => CCompiler.Compile(File.ReadAllText(Fixture), "policyprobe-static", "-static"));

    private static string Fixture => Path.Combine(AppContext.BaseDirectory, "Policy", "fixtures", "policyprobe.c");

    public static string Dynamic => DynamicBinary.Value;

    public static string Static => StaticBinary.Value;

    /// <summary>Runs the probe (dynamic unless <paramref name="statically"/>) in <paramref name="cgroup"/>, or where the tests run when null.</summary>
    public static ProgramRun Run(ThrowawayCgroup? cgroup, bool statically, params string[] arguments)
    {
        string program = statically ? Static : Dynamic;
        ProcessStartInfo start = cgroup?.StartInfo(program, arguments) ?? new ProcessStartInfo(program);
        if (cgroup is null)
        {
            foreach (string argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }
        }

        ProgramRun run = PreloadPrograms.Run(start, TimeSpan.FromSeconds(60));
        if (run.ExitCode != 0)
        {
            throw new InvalidOperationException("policyprobe failed: " + run);
        }

        return run;
    }
}
