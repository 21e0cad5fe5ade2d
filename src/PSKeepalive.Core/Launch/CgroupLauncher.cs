using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Policy;

namespace PSKeepalive.Core.Launch;

/// <summary>Whether programs can be started in a cgroup with a keepalive policy here, and why not.</summary>
/// <param name="IsSupported">True when the launcher is root, cgroup v2 is there and writable, and the kernel runs cgroup BPF.</param>
/// <param name="Reason">Why not; null when supported.</param>
public sealed record CgroupSupportStatus(bool IsSupported, string? Reason);

/// <summary>
/// The cgroup launch method: the program runs in a new child cgroup of the launcher's own cgroup, with a keepalive
/// policy attached to it (<see cref="TcpKeepalivePolicies"/>), so that the kernel gives every TCP connection of the
/// program and its children the options: static or dynamic, Go or C, 32- or 64-bit, whatever system call. A child
/// of the launcher's own cgroup keeps the program under the same resource limits (a container's, a service's);
/// the new cgroup has no controllers, which cgroup v2's no-internal-processes rule allows below a cgroup with
/// processes. The program is started through pskeepalive-cgroup-exec, which moves itself into the cgroup and then
/// execs the program, so its first instruction already runs inside; no process of PSKeepalive's stays in between.
/// When the program ends, the cgroup is removed, which frees the policy; if processes it left behind still run, the
/// cgroup and its policy stay for them and are swept by a later start once empty.
/// </summary>
public static class CgroupLauncher
{
    /// <summary>The helper's file name; the build copies it next to PSKeepalive.Core.dll.</summary>
    public const string HelperFileName = "pskeepalive-cgroup-exec";

    /// <summary>Run cgroups are named pskeepalive-run-LAUNCHERPID-N.</summary>
    public const string RunCgroupPrefix = "pskeepalive-run-";

    private const string Subject = "Program";

    private static int s_sequence;

    /// <summary>Finds pskeepalive-cgroup-exec next to PSKeepalive.Core.dll, then in the application's base directory.</summary>
    public static string LocateHelper() =>
        ShippedFile.Locate(HelperFileName, "CgroupLauncher", "cgroup launch helper", string.Empty);

    /// <summary>
    /// Root (loading and attaching BPF programs and making cgroups need it), Linux 5.9, a cgroup2 mount where this
    /// process's cgroup is writable, and a kernel that can attach sock_ops programs to cgroups (probed with
    /// BPF_PROG_QUERY on this process's cgroup).
    /// </summary>
    public static CgroupSupportStatus CheckSupport()
    {
        try
        {
            if (Libc.GetEUid() != 0)
            {
                return new CgroupSupportStatus(false, "Cgroup mode needs root: the policy is a BPF program (CAP_BPF, CAP_NET_ADMIN) on a cgroup the launcher makes.");
            }

            string release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
            if (SeccompLauncher.ParseRelease(release) is Version version && version < TcpKeepalivePolicies.MinimumKernel)
            {
                return new CgroupSupportStatus(false, $"Cgroup mode needs Linux {TcpKeepalivePolicies.MinimumKernel} or later; this kernel is {release}.");
            }

            using CgroupDirectory own = CgroupDirectory.OfProcess(Environment.ProcessId);
            if (Libc.Access(own.Path, Libc.W_OK) != 0)
            {
                return new CgroupSupportStatus(false, $"Cgroup mode makes a cgroup under this process's cgroup {own.Path}, which is not writable here ({Errno.Name(Libc.LastErrno)}).");
            }

            _ = AttachedPrograms.QueryCgroup(own);
            return new CgroupSupportStatus(true, null);
        }
        catch (KeepaliveException e)
        {
            return new CgroupSupportStatus(false, "Cgroup mode is not available: " + e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new CgroupSupportStatus(false, "Cgroup mode is not available: " + e.Message);
        }
    }

    /// <summary>
    /// Whether <paramref name="request"/> runs in cgroup mode, and why: always for Cgroup (refused with the reason when
    /// not available, or when the kernel could not run the program: another machine's, not executable, unreadable,
    /// unless forced), for Auto when available and the program can run; null for Preload and Seccomp, and for Auto
    /// otherwise (the other methods decide, and refuse what nothing can run).
    /// </summary>
    public static string? Choose(KeepaliveLaunchRequest request, ProgramInspection inspection) => Choose(request, inspection, CheckSupport);

    internal static string? Choose(KeepaliveLaunchRequest request, ProgramInspection inspection, Func<CgroupSupportStatus> support)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(inspection);
        bool cannotRun = inspection.Blocker is PreloadBlocker.NotExecutableFormat or PreloadBlocker.Unreadable or PreloadBlocker.InterpreterLoop or PreloadBlocker.ForeignMachine;
        switch (request.Method)
        {
            case LaunchMethod.Cgroup:
                CgroupSupportStatus status = support();
                if (!status.IsSupported)
                {
                    throw new KeepaliveNotSupportedException(Subject, $"Not starting '{inspection.Path}' in cgroup mode: {status.Reason}", inspection.Path, Errno.ENOSYS);
                }

                return cannotRun && !request.Force
                    ? throw new KeepaliveInvalidTargetException(Subject, $"Not starting '{inspection.Path}': {inspection.Reason}", inspection.Path, 0)
                    : "Cgroup was asked for.";
            case LaunchMethod.Auto:
                return !cannotRun && support().IsSupported
                    ? "A keepalive policy on a cgroup of its own reaches every program (root, cgroup v2 and cgroup BPF are available here)."
                    : null;
            default:
                return null;
        }
    }

    /// <summary>The launch for cgroup mode: the program itself, its environment unchanged; the helper and the policy's values.</summary>
    public static KeepaliveProcessLaunch Prepare(KeepaliveLaunchRequest request, ProgramInspection inspection, string workingDirectory, string reason)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(inspection);
        SettingsOf(request.Mode, request.Idle, request.Interval, request.Count, request.UserTimeout).Validate();
        string helper = LocateHelper();
        return new KeepaliveProcessLaunch(
            inspection.Path,
            request.Arguments.ToArray(),
            workingDirectory,
            inspection,
            PreloadLibrary: string.Empty,
            request.Mode,
            request.Idle,
            request.Interval,
            request.Count,
            request.UserTimeout,
            Forced: false,
            EnvironmentVariables: [],
            RemovedVariables: [])
        {
            Method = LaunchMethod.Cgroup,
            MethodReason = reason,
            CgroupHelper = helper,
        };
    }

    /// <summary>
    /// Makes the run cgroup, attaches the policy and starts the program in it. Nothing is left behind when a step fails.
    /// </summary>
    /// <param name="launch">A launch prepared for cgroup mode.</param>
    /// <param name="environment">The program's environment; null = this process's.</param>
    public static CgroupRun Start(KeepaliveProcessLaunch launch, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(launch);
        if (launch.Method != LaunchMethod.Cgroup || launch.CgroupHelper is null)
        {
            throw new ArgumentException("The launch was not prepared for cgroup mode.", nameof(launch));
        }

        string directory;
        using (CgroupDirectory own = CgroupDirectory.OfProcess(Environment.ProcessId))
        {
            SweepStale(own.Path);
            directory = Path.Combine(own.Path, string.Create(CultureInfo.InvariantCulture, $"{RunCgroupPrefix}{Environment.ProcessId}-{System.Threading.Interlocked.Increment(ref s_sequence)}"));
        }

        if (Libc.MkDir(directory, 0x1ed /* 0755 */) != 0)
        {
            throw Errno.Last(CgroupDirectory.Subject, $"make the cgroup {directory}", directory, "root (write access to the cgroup tree)");
        }

        try
        {
            TcpKeepalivePolicy policy;
            using (CgroupDirectory cgroup = CgroupDirectory.Open(directory))
            {
                policy = TcpKeepalivePolicies.Set(cgroup, SettingsOf(launch.Mode, launch.Idle, launch.Interval, launch.Count, launch.UserTimeout))!;
            }

            string[] arguments = [launch.CgroupHelper, directory, launch.FilePath, .. launch.ArgumentList];
            SpawnedProcess process = SpawnedProcess.Start(launch.CgroupHelper, arguments, environment ?? PreloadLauncher.CurrentEnvironment(), launch.WorkingDirectory);
            return new CgroupRun(directory, policy, process);
        }
        catch
        {
            _ = Libc.RmDir(directory); // frees the policy with it
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="launch"/> in the foreground and returns its exit code (128 + N when signal N ended it).
    /// Signals follow the rule of pskeepalive-seccomp (the other methods' foreground launcher): SIGHUP, SIGINT,
    /// SIGQUIT, SIGTERM, SIGUSR1 and SIGUSR2 sent to this process are passed on to the program through its pidfd,
    /// except those the terminal sent to the whole foreground process group, which the program (started in this
    /// process group) got already. .NET does not say who sent a signal (si_code), so a SIGHUP, SIGINT or SIGQUIT
    /// counts as the terminal's while this process group is the foreground group of its terminal; kill() of one of
    /// those three to a foreground `pskeepalive run` is therefore not passed on (the C launcher tells them apart).
    /// <paramref name="warning"/> hears about a cgroup left for processes that outlive the program.
    /// </summary>
    public static int RunInForeground(KeepaliveProcessLaunch launch, Action<string>? warning = null)
    {
        var relay = new PidfdSignalRelay();
        var registrations = new List<PosixSignalRegistration>();
        foreach ((int number, bool terminalSends) in ForwardedSignals)
        {
            registrations.Add(PosixSignalRegistration.Create((PosixSignal)number, context =>
            {
                context.Cancel = true;
                if (!terminalSends || !InForegroundOfTerminal())
                {
                    relay.Forward(number);
                }
            }));
        }

        try
        {
            using CgroupRun run = Start(launch);
            relay.Started(run.Process);
            int exitCode = run.Process.WaitForExitCode();
            run.Dispose();
            if (run.LeftBehind is string note)
            {
                warning?.Invoke(note);
            }

            return exitCode;
        }
        finally
        {
            foreach (var registration in registrations)
            {
                registration.Dispose();
            }
        }
    }

    /// <summary>The signals passed on (Linux numbers, the same on x86_64 and aarch64), and whether a terminal sends them.</summary>
    internal static readonly (int Number, bool TerminalSends)[] ForwardedSignals =
    [
        (1, true),    // SIGHUP: the terminal hung up
        (2, true),    // SIGINT: Ctrl-C
        (3, true),    // SIGQUIT: Ctrl-\
        (10, false),  // SIGUSR1
        (12, false),  // SIGUSR2
        (15, false),  // SIGTERM
    ];

    /// <summary>This process group is the foreground group of the terminal on stdin, stdout or stderr.</summary>
    private static bool InForegroundOfTerminal()
    {
        for (int fd = 0; fd <= 2; fd++)
        {
            int foreground = Libc.TcGetPgrp(fd);
            if (foreground > 0)
            {
                return foreground == Libc.GetPgrp();
            }
        }

        return false;
    }

    /// <summary>What the policy of <paramref name="launch"/> sets, for messages and confirmation prompts.</summary>
    public static string Describe(KeepaliveProcessLaunch launch) =>
        SettingsOf(launch.Mode, launch.Idle, launch.Interval, launch.Count, launch.UserTimeout).Describe();

    internal static KeepalivePolicySettings SettingsOf(PreloadMode mode, int? idle, int? interval, int? count, int? userTimeout) => new()
    {
        Idle = idle,
        Interval = interval,
        Count = count,
        UserTimeout = userTimeout,
        Mode = mode switch
        {
            PreloadMode.Outgoing => KeepalivePolicyMode.Outgoing,
            PreloadMode.Listening => KeepalivePolicyMode.Listening,
            _ => KeepalivePolicyMode.All,
        },
    };

    /// <summary>Removes empty run cgroups whose launcher is gone (it was killed before it could clean up).</summary>
    internal static void SweepStale(string parent)
    {
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateDirectories(parent, RunCgroupPrefix + "*").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        foreach (string candidate in candidates)
        {
            string[] parts = Path.GetFileName(candidate)[RunCgroupPrefix.Length..].Split('-');
            if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int launcher) &&
                launcher != Environment.ProcessId && !Directory.Exists("/proc/" + parts[0]))
            {
                _ = Libc.RmDir(candidate); // EBUSY while processes remain: the next sweep tries again
            }
        }
    }

    /// <summary>Passes signals on through the program's pidfd; keeps the last one that came before the program existed.</summary>
    private sealed class PidfdSignalRelay
    {
        private readonly object _gate = new();
        private SpawnedProcess? _process;
        private int _pending;

        public void Forward(int signal)
        {
            SpawnedProcess? target;
            lock (_gate)
            {
                if (_process is null)
                {
                    _pending = signal;
                    return;
                }

                target = _process;
            }

            _ = target.Signal(signal); // false when it has ended already: nothing to do
        }

        public void Started(SpawnedProcess process)
        {
            int signal;
            lock (_gate)
            {
                _process = process;
                signal = _pending;
            }

            if (signal != 0)
            {
                _ = process.Signal(signal);
            }
        }
    }
}
