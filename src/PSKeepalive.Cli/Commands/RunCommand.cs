using System;
using System.CommandLine;
using System.Linq;
using PSKeepalive.Core;
using PSKeepalive.Core.Launch;

namespace PSKeepalive.Cli.Commands;

/// <summary>
/// `pskeepalive run [--idle S] [--interval S] [--count N] [--user-timeout MS] [--mode outgoing|listening|all] [--force] [--method preload|seccomp|cgroup|auto] [--verbose] -- PROGRAM ARGS...`:
/// runs PROGRAM in the foreground (this process becomes the pskeepalive-seccomp launcher, with its filter, with the
/// shim in LD_PRELOAD, or, in cgroup mode, after making the run cgroup with its policy, which the launcher removes
/// at the end) and exits with its exit code (2 for bad arguments, 1 when the program is refused or cannot start).
/// </summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var timing = new KeepaliveTimingOptions(idleDefault: "the system's", intervalDefault: "the system's", countDefault: "the system's", userTimeoutDefault: "not set");
        var idle = timing.Idle;
        var interval = timing.Interval;
        var count = timing.Count;
        var userTimeout = timing.UserTimeout;
        var mode = CommonOptions.Choice(
            "--mode",
            "Which sockets: all TCP sockets (at socket()), outgoing (at connect()), listening (at listen(); accepted connections inherit).",
            "all",
            "outgoing", "listening", "all");
        var force = new Option<bool>("--force") { Description = "Start the program even if it is statically linked, set-user-ID or 32-bit (the options will not reach it)." };
        var method = CommonOptions.Choice(
            "--method",
            "How the options reach the program: preload (LD_PRELOAD shim), seccomp (supervisor at connect()/listen(); static and Go programs too, Linux 5.6+), cgroup (a new cgroup with a keepalive policy: every program; root, cgroup v2, Linux 5.9+), auto (cgroup where available, else preload if it works, else seccomp).",
            "preload",
            "preload", "seccomp", "cgroup", "auto");
        var verbose = new Option<bool>("--verbose")
        {
            Description = "Say on stderr which method was used and why before the program starts (what --method auto chose).",
        };
        var program = new Argument<string[]>("PROGRAM")
        {
            Description = "The program and its arguments; put them after '--' so that their options are not read as pskeepalive's.",
            Arity = ArgumentArity.OneOrMore,
        };

        var command = new Command(
            "run",
            "Run a program with TCP keepalive switched on for its sockets (LD_PRELOAD shim, or seccomp or a cgroup policy with --method); exit with its exit code. " +
            "HUP, INT, QUIT, TERM, USR1 and USR2 sent to run are passed on to the program, except those the terminal already sent to its process group.")
        {
            idle, interval, count, userTimeout, mode, force, method, verbose, program,
        };
        CliApp.SetAction(command, parse =>
        {
            string[] words = parse.GetValue(program) ?? [];
            var request = new KeepaliveLaunchRequest(words[0], words[1..])
            {
                Idle = parse.GetValue(idle),
                Interval = parse.GetValue(interval),
                Count = parse.GetValue(count),
                UserTimeout = parse.GetValue(userTimeout),
                Mode = Enum.Parse<PreloadMode>(parse.GetValue(mode) ?? "all", ignoreCase: true),
                Force = parse.GetValue(force),
                Method = Enum.Parse<LaunchMethod>(parse.GetValue(method) ?? "preload", ignoreCase: true),
            };
            KeepaliveProcessLaunch launch = PreloadLauncher.Prepare(request);
            if (parse.GetValue(verbose))
            {
                string method = launch.Method.ToString().ToLowerInvariant();
                Console.Error.WriteLine($"pskeepalive: method: {method}: {TerminalText.Escape(launch.MethodReason ?? string.Empty)}");
            }

            if (launch.Forced)
            {
                Console.Error.WriteLine($"pskeepalive: warning: {TerminalText.Escape(launch.Inspection.Reason)} Starting it anyway (--force): its sockets will not get the keepalive options.");
            }

            return PreloadLauncher.RunInForeground(launch);
        });
        return command;
    }

    private static readonly string[] ValueOptions = ["--idle", "--interval", "--count", "--user-timeout", "--mode", "--method"];

    private static readonly string[] FlagOptions = ["--force", "--verbose", "-h", "-?", "--help"];

    /// <summary>
    /// `run` takes its options before the program only, as env, nohup and sudo do: without a '--', one is put
    /// before the first word that is not one of run's options or their values, so that `run nc -l 3333` or
    /// `run curl --help` pass the program's options through instead of having run's own parser take
    /// --help, --idle or --count from the program's command line.
    /// </summary>
    internal static string[] SeparateProgram(string[] args)
    {
        if (args.Length < 2 || args[0] != "run" || Array.IndexOf(args, "--") >= 0)
        {
            return args;
        }

        for (int i = 1; i < args.Length; i++)
        {
            string token = args[i];
            if (!token.StartsWith('-') || token == "-")
            {
                return [.. args[..i], "--", .. args[i..]];
            }

            if (Array.IndexOf(ValueOptions, token) >= 0)
            {
                i++; // its value
            }
            else if (Array.IndexOf(FlagOptions, token) < 0 && Array.IndexOf(ValueOptions, token.Split('=')[0]) < 0)
            {
                return args; // not one of run's options: the parser reports it
            }
        }

        return args;
    }
}
