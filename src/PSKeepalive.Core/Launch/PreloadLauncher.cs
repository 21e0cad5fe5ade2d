using System;
using System.Collections;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.Linq;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Launch;

/// <summary>
/// Starts programs under libpskeepalive.so (src/preload): validates the options, inspects the program (static
/// and set-ID programs cannot be preloaded and are refused unless forced), builds the environment
/// (LD_PRELOAD with the shim first and earlier entries kept, PSKEEPALIVE_* variables) and starts it.
/// </summary>
public static class PreloadLauncher
{
    /// <summary>The shim's file name; the build copies it next to PSKeepalive.Core.dll.</summary>
    public const string LibraryFileName = "libpskeepalive.so";

    /// <summary>The variables the shim reads; inherited values are replaced by the request's.</summary>
    public static readonly string[] ShimVariables =
    [
        "PSKEEPALIVE_IDLE", "PSKEEPALIVE_INTERVAL", "PSKEEPALIVE_COUNT", "PSKEEPALIVE_USER_TIMEOUT",
        "PSKEEPALIVE_MODE", "PSKEEPALIVE_OFF",
    ];

    /// <summary>Set for the program only: the shim's constructor resets SIGPIPE to its default action and removes it.</summary>
    public const string DefaultSigpipeVariable = "PSKEEPALIVE_DEFAULT_SIGPIPE";

    private const string Subject = "Program";

    /// <summary>
    /// Finds libpskeepalive.so next to PSKeepalive.Core.dll (the module folder, the CLI folder), then in the
    /// application's base directory. Throws <see cref="KeepaliveNotFoundException"/> naming where it looked.
    /// </summary>
    public static string LocateLibrary() =>
        ShippedFile.Locate(LibraryFileName, "PreloadLibrary", "keepalive preload library", string.Empty);

    /// <summary>
    /// Checks everything that can be checked before starting: option ranges, mode, working directory, the
    /// program (refused when static, set-ID or not executable unless <see cref="KeepaliveLaunchRequest.Force"/>)
    /// and the shim. Nothing is started.
    /// </summary>
    public static KeepaliveProcessLaunch Prepare(KeepaliveLaunchRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Idle is int idle)
        {
            KeepaliveLimits.CheckIdle(idle, "Idle", Subject);
        }

        if (request.Interval is int interval)
        {
            KeepaliveLimits.CheckInterval(interval, "Interval", Subject);
        }

        if (request.Count is int count)
        {
            KeepaliveLimits.CheckCount(count, "Count", Subject);
        }

        if (request.UserTimeout is int userTimeout)
        {
            KeepaliveLimits.CheckUserTimeout(userTimeout, "UserTimeout", Subject);
        }

        if (!Enum.IsDefined(request.Mode))
        {
            throw new KeepaliveValidationException(Subject, "Mode", $"Mode must be All, Outgoing or Listening; {request.Mode} is none of them.", request.Mode);
        }

        if (string.IsNullOrEmpty(request.FilePath))
        {
            throw new KeepaliveValidationException(Subject, "FilePath", "FilePath must name the program to start.", request.FilePath);
        }

        string baseDirectory = Path.GetFullPath(request.BaseDirectory ?? Environment.CurrentDirectory);
        string workingDirectory = request.WorkingDirectory is null ? baseDirectory : Path.GetFullPath(request.WorkingDirectory, baseDirectory);
        if (!Directory.Exists(workingDirectory))
        {
            throw new KeepaliveNotFoundException(Subject, $"The working directory '{workingDirectory}' does not exist.", workingDirectory, Errno.ENOENT);
        }

        IReadOnlyDictionary<string, string> environment = request.Environment ?? CurrentEnvironment();
        environment.TryGetValue("PATH", out string? searchPath);
        ProgramInspection inspection = ProgramInspector.Inspect(request.FilePath, baseDirectory, searchPath);
        if (!ProgramInspector.IsExecutable(inspection.Path))
        {
            // Refused here for every method, so that seccomp mode reports it as the preload path does (not as the
            // launcher's exit 127 after the start).
            throw Errno.ToException(Errno.EACCES, Subject, $"start '{inspection.Path}'", inspection.Path, "execute permission on the program (no execute bit is set: chmod +x)");
        }

        if (CgroupLauncher.Choose(request, inspection) is string cgroupReason)
        {
            return CgroupLauncher.Prepare(request, inspection, workingDirectory, cgroupReason);
        }

        (LaunchMethod method, string methodReason) = SeccompLauncher.ChooseMethod(request, inspection);
        if (method == LaunchMethod.Seccomp)
        {
            return SeccompLauncher.Prepare(request, inspection, workingDirectory, environment, methodReason);
        }

        if (!inspection.CanPreload && !request.Force)
        {
            // A static program is what the seccomp method is for: say so before offering to start it without keepalive.
            string seccomp = inspection.Blocker is PreloadBlocker.StaticallyLinked or PreloadBlocker.ForeignAbi
                ? "Use -Method Seccomp or Auto (--method seccomp|auto) to reach its sockets (Linux 5.6 or later), or -Force (--force) to start it anyway without the keepalive options."
                : "Use -Force (--force) to start it anyway without the keepalive options.";
            throw new KeepaliveInvalidTargetException(
                Subject,
                $"Not starting '{inspection.Path}': {inspection.Reason} {seccomp}",
                inspection.Path,
                0);
        }

        string library = request.PreloadLibrary is null ? LocateLibrary() : Path.GetFullPath(request.PreloadLibrary, baseDirectory);
        if (!File.Exists(library))
        {
            throw new KeepaliveNotFoundException("PreloadLibrary", $"The preload library '{library}' does not exist.", library, Errno.ENOENT);
        }

        if (library.IndexOfAny([' ', ':', '\t', '\n']) >= 0)
        {
            // ld.so splits LD_PRELOAD at spaces and colons: such a path cannot be preloaded at all.
            throw new KeepaliveNotSupportedException(
                "PreloadLibrary",
                $"The preload library path '{library}' contains a space or ':', which LD_PRELOAD cannot express. Install PSKeepalive in a path without them.",
                library,
                0);
        }

        var set = new List<string> { "LD_PRELOAD=" + PrependPreload(library, environment.GetValueOrDefault("LD_PRELOAD")) };
        set.Add("PSKEEPALIVE_MODE=" + request.Mode.ToString().ToLowerInvariant());
        AddNumber(set, "PSKEEPALIVE_IDLE", request.Idle);
        AddNumber(set, "PSKEEPALIVE_INTERVAL", request.Interval);
        AddNumber(set, "PSKEEPALIVE_COUNT", request.Count);
        AddNumber(set, "PSKEEPALIVE_USER_TIMEOUT", request.UserTimeout);
        var removed = ShimVariables
            .Where(name => environment.ContainsKey(name) && !set.Any(s => s.StartsWith(name + "=", StringComparison.Ordinal)))
            .ToArray();

        return new KeepaliveProcessLaunch(
            inspection.Path,
            request.Arguments.ToArray(),
            workingDirectory,
            inspection,
            library,
            request.Mode,
            request.Idle,
            request.Interval,
            request.Count,
            request.UserTimeout,
            Forced: !inspection.CanPreload,
            set.ToArray(),
            removed)
        {
            MethodReason = methodReason,
        };
    }

    /// <summary>
    /// The start info for <paramref name="launch"/>: no shell, arguments as they are, stdio inherited unless the
    /// caller changes the Redirect* properties, environment = the current one with the launch's changes. The
    /// started process is the program itself (preload), the supervising launcher (seccomp), or, for a forced start
    /// of a program the shim cannot load into, the launcher's --exec trampoline, which becomes the program (same
    /// process ID) after putting SIGPIPE back to its default.
    /// </summary>
    public static ProcessStartInfo CreateStartInfo(KeepaliveProcessLaunch launch, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(launch);
        if (launch.Method == LaunchMethod.Cgroup)
        {
            throw new ArgumentException("A cgroup launch starts with CgroupLauncher.Start, which makes its cgroup first.", nameof(launch));
        }

        bool trampoline = NeedsExecTrampoline(launch);
        string launcher = launch.Method == LaunchMethod.Seccomp ? launch.SeccompLauncher! : trampoline ? SeccompLauncher.LocateLauncher() : launch.FilePath;
        var start = new ProcessStartInfo(launcher)
        {
            UseShellExecute = false,
            WorkingDirectory = launch.WorkingDirectory,
        };
        if (launch.Method == LaunchMethod.Seccomp || trampoline)
        {
            foreach (string argument in LauncherArguments(launch, exec: trampoline))
            {
                start.ArgumentList.Add(argument);
            }
        }
        else
        {
            foreach (string argument in launch.ArgumentList)
            {
                start.ArgumentList.Add(argument);
            }
        }

        if (environment is not null)
        {
            start.Environment.Clear();
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }
        }

        foreach (var (key, value) in ProgramEnvironment(launch, start.Environment.Keys, launcherTakesPreload: trampoline))
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        if (launch.Method != LaunchMethod.Seccomp && !trampoline)
        {
            // .NET ignores SIGPIPE and its children inherit that: the shim's constructor restores the default and
            // removes the variable (the launcher's --default-sigpipe does the same for the other starts).
            start.Environment[DefaultSigpipeVariable] = "1";
        }

        return start;
    }

    /// <summary>
    /// A preload start that the shim cannot reach (forced: static, set-ID or 32-bit) goes through the launcher's
    /// --exec, the only way to give it SIGPIPE at its default; a file the kernel may refuse (not ELF, unreadable)
    /// is started directly, so that exec's error comes back as a typed error.
    /// </summary>
    private static bool NeedsExecTrampoline(KeepaliveProcessLaunch launch) =>
        launch.Method == LaunchMethod.Preload && launch.Forced &&
        launch.Inspection.Blocker is PreloadBlocker.StaticallyLinked or PreloadBlocker.SetId or PreloadBlocker.ForeignAbi or PreloadBlocker.ForeignMachine;

    /// <summary>
    /// The launcher's arguments for <paramref name="launch"/>: [--exec] [--ld-preload LIST] --default-sigpipe --
    /// PROGRAM ARGS. LD_PRELOAD goes on its command line so that only the program gets it, not the launcher.
    /// </summary>
    private static List<string> LauncherArguments(KeepaliveProcessLaunch launch, bool exec)
    {
        var arguments = new List<string>();
        if (exec)
        {
            arguments.Add("--exec");
        }

        if (launch.Method == LaunchMethod.Preload)
        {
            arguments.Add("--ld-preload");
            arguments.Add(PreloadValue(launch));
        }

        arguments.Add("--default-sigpipe");
        arguments.Add("--");
        arguments.Add(launch.FilePath);
        arguments.AddRange(launch.ArgumentList);
        return arguments;
    }

    private static string PreloadValue(KeepaliveProcessLaunch launch) =>
        launch.EnvironmentVariables.First(v => v.StartsWith("LD_PRELOAD=", StringComparison.Ordinal))["LD_PRELOAD=".Length..];

    /// <summary>
    /// The launch's changes to an environment: removed variables (value null) and set ones; LD_PRELOAD is left
    /// out when the launcher takes it on its command line.
    /// </summary>
    private static IEnumerable<KeyValuePair<string, string?>> ProgramEnvironment(KeepaliveProcessLaunch launch, IEnumerable<string> existing, bool launcherTakesPreload)
    {
        var present = new HashSet<string>(existing, StringComparer.Ordinal);
        foreach (string name in launch.RemovedVariables.Where(present.Contains))
        {
            yield return new(name, null);
        }

        foreach (string assignment in launch.EnvironmentVariables)
        {
            int equals = assignment.IndexOf('=', StringComparison.Ordinal);
            string name = assignment[..equals];
            if (!(launcherTakesPreload && name == "LD_PRELOAD"))
            {
                yield return new(name, assignment[(equals + 1)..]);
            }
        }
    }

    /// <summary>Starts <paramref name="launch"/> with stdio inherited. Failures of exec become typed errors.</summary>
    public static Process Start(KeepaliveProcessLaunch launch, IReadOnlyDictionary<string, string>? environment = null) =>
        Start(CreateStartInfo(launch, environment));

    /// <summary>Starts a prepared start info; exec failures (ENOEXEC, EACCES...) become typed errors.</summary>
    public static Process Start(ProcessStartInfo start)
    {
        ArgumentNullException.ThrowIfNull(start);
        try
        {
            return Process.Start(start) ?? throw new KeepaliveKernelException(Subject, $"Cannot start '{start.FileName}'.", start.FileName, 0);
        }
        catch (Win32Exception e)
        {
            throw Errno.ToException(e.NativeErrorCode, Subject, $"start '{start.FileName}'", start.FileName, "execute permission on the program");
        }
    }

    /// <summary>
    /// Runs <paramref name="launch"/> in the foreground: this process replaces itself (execve, same process ID)
    /// with pskeepalive-seccomp, which starts the program (under its seccomp filter, or with the shim in
    /// LD_PRELOAD), passes on the signals sent to it, and exits with the program's exit code (128+N for signal N).
    /// One C implementation thus serves both methods: it resets an inherited ignored SIGCHLD, watches the program
    /// through a pidfd and can tell a terminal's signals from kill()'s, which .NET signal handling cannot.
    /// Returns only by throwing: the launcher is missing or cannot be executed.
    /// </summary>
    public static int RunInForeground(KeepaliveProcessLaunch launch, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(launch);
        string launcher = launch.SeccompLauncher ?? SeccompLauncher.LocateLauncher();
        var argv = new List<string> { launcher };
        argv.AddRange(LauncherArguments(launch, exec: false));
        var variables = new Dictionary<string, string>(environment ?? CurrentEnvironment(), StringComparer.Ordinal);
        foreach (var (key, value) in ProgramEnvironment(launch, variables.Keys.ToArray(), launcherTakesPreload: true))
        {
            if (value is null)
            {
                variables.Remove(key);
            }
            else
            {
                variables[key] = value;
            }
        }

        Console.Out.Flush();
        Console.Error.Flush();
        ProcessImage.Replace(launcher, argv, variables.Select(v => v.Key + "=" + v.Value), launch.WorkingDirectory);
        return 0; // not reached
    }

    /// <summary>Puts <paramref name="library"/> first in LD_PRELOAD and keeps the other entries (once).</summary>
    public static string PrependPreload(string library, string? existing)
    {
        var entries = new List<string> { library };
        if (!string.IsNullOrEmpty(existing))
        {
            entries.AddRange(existing.Split([':', ' '], StringSplitOptions.RemoveEmptyEntries).Where(e => e != library));
        }

        return string.Join(":", entries);
    }

    private static void AddNumber(List<string> set, string name, int? value)
    {
        if (value is int v)
        {
            set.Add(name + "=" + v.ToString(CultureInfo.InvariantCulture));
        }
    }

    internal static Dictionary<string, string> CurrentEnvironment()
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            environment[(string)entry.Key] = (string?)entry.Value ?? string.Empty;
        }

        return environment;
    }
}
