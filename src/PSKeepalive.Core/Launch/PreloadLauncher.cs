using System;
using System.Collections;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
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
            throw Errno.ToException(Errno.EACCES, "Process", $"start '{inspection.Path}'", inspection.Path, "execute permission on the program (no execute bit is set: chmod +x)");
        }

        if (CgroupLauncher.Choose(request, inspection.Path) is string cgroupReason)
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
            string seccomp = inspection.Blocker == PreloadBlocker.StaticallyLinked
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
    /// caller changes the Redirect* properties, environment = the current one with the launch's changes.
    /// </summary>
    public static ProcessStartInfo CreateStartInfo(KeepaliveProcessLaunch launch, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(launch);
        if (launch.Method == LaunchMethod.Cgroup)
        {
            throw new ArgumentException("A cgroup launch starts with CgroupLauncher.Start, which makes its cgroup first.", nameof(launch));
        }

        var start = new ProcessStartInfo(launch.Method == LaunchMethod.Seccomp ? launch.SeccompLauncher! : launch.FilePath)
        {
            UseShellExecute = false,
            WorkingDirectory = launch.WorkingDirectory,
        };
        if (launch.Method == LaunchMethod.Seccomp)
        {
            // .NET ignores SIGPIPE and its children inherit that; the program must get the default, as from a shell.
            start.ArgumentList.Add("--default-sigpipe");
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(launch.FilePath);
        }

        foreach (string argument in launch.ArgumentList)
        {
            start.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            start.Environment.Clear();
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }
        }

        foreach (string name in launch.RemovedVariables)
        {
            start.Environment.Remove(name);
        }

        foreach (string assignment in launch.EnvironmentVariables)
        {
            int equals = assignment.IndexOf('=', StringComparison.Ordinal);
            start.Environment[assignment[..equals]] = assignment[(equals + 1)..];
        }

        if (launch.Method != LaunchMethod.Seccomp && !launch.Forced)
        {
            // As --default-sigpipe above: the shim's constructor restores SIGPIPE's default and removes the variable.
            start.Environment[DefaultSigpipeVariable] = "1";
        }

        return start;
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
            return Process.Start(start) ?? throw new KeepaliveKernelException("Process", $"Cannot start '{start.FileName}'.", start.FileName, 0);
        }
        catch (Win32Exception e)
        {
            throw Errno.ToException(e.NativeErrorCode, "Process", $"start '{start.FileName}'", start.FileName, "execute permission on the program");
        }
    }

    /// <summary>
    /// Runs <paramref name="launch"/> in the foreground (stdio inherited) and returns its exit code. While it
    /// runs, SIGINT and SIGQUIT are left to the program (the terminal sends them to it too) and SIGTERM and
    /// SIGHUP are passed on to it, so that the caller behaves like the program it wraps.
    /// </summary>
    public static int RunInForeground(KeepaliveProcessLaunch launch)
    {
        ArgumentNullException.ThrowIfNull(launch);

        // Registered before the start, so that a SIGTERM arriving while the program starts is neither lost nor
        // allowed to end this process by its default action: it is passed on as soon as the pid is known.
        var relay = new SignalRelay();
        var registrations = new List<PosixSignalRegistration>
        {
            PosixSignalRegistration.Create(PosixSignal.SIGINT, context => context.Cancel = true),
            PosixSignalRegistration.Create(PosixSignal.SIGQUIT, context => context.Cancel = true),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => relay.Forward(context, Libc.SIGTERM)),
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, context => relay.Forward(context, Libc.SIGHUP)),
        };
        try
        {
            using Process process = Start(launch);
            relay.Started(process.Id);
            process.WaitForExit();
            return process.ExitCode;
        }
        finally
        {
            foreach (var registration in registrations)
            {
                registration.Dispose();
            }
        }
    }

    /// <summary>Passes signals on to the child; keeps the last one that came before the child existed.</summary>
    private sealed class SignalRelay
    {
        private readonly object gate = new();
        private int pid;
        private int pending;

        public void Forward(PosixSignalContext context, int signal)
        {
            context.Cancel = true;
            int target;
            lock (gate)
            {
                if (pid == 0)
                {
                    pending = signal;
                    return;
                }

                target = pid;
            }

            _ = Libc.Kill(target, signal); // the child may have exited already: nothing to do then
        }

        public void Started(int processId)
        {
            int signal;
            lock (gate)
            {
                pid = processId;
                signal = pending;
            }

            if (signal != 0)
            {
                _ = Libc.Kill(processId, signal);
            }
        }
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
