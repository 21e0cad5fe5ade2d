using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Policy;

namespace PSKeepalive.Core.Launch;

/// <summary>Whether programs can be started in a cgroup with a keepalive policy here, and why not.</summary>
/// <param name="IsSupported">True when the launcher is root, cgroup v2 is there and writable, and the kernel runs cgroup BPF.</param>
/// <param name="Reason">Why not; null when supported.</param>
/// <param name="NeedsPrivilege">True when what is missing is a privilege (root, write access to the cgroup), not a feature of the machine.</param>
public sealed record CgroupSupportStatus(bool IsSupported, string? Reason, bool NeedsPrivilege = false);

/// <summary>
/// The cgroup launch method: the program runs in a new child cgroup of the launcher's own cgroup, with a keepalive
/// policy attached to it (<see cref="TcpKeepalivePolicies"/>), so that the kernel gives every TCP connection of the
/// program and its children the options: static or dynamic, Go or C, 32- or 64-bit, whatever system call. A child
/// of the launcher's own cgroup keeps the program under the same resource limits (a container's, a service's);
/// the new cgroup has no controllers, which cgroup v2's no-internal-processes rule allows below a cgroup with
/// processes. The program is started by pskeepalive-seccomp --run-cgroup (the C launcher of every method), whose
/// child moves itself into the cgroup before it execs the program, so its first instruction already runs inside.
/// When the program ends, the cgroup is removed, which frees the policy; if processes it left behind still run, the
/// cgroup and its policy stay for them and are swept by a later start once empty.
/// </summary>
public static class CgroupLauncher
{
    /// <summary>Run cgroups are named pskeepalive-run-LAUNCHERPID-N.</summary>
    public const string RunCgroupPrefix = "pskeepalive-run-";

    private const string Subject = "Program";

    private static int s_sequence;

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
                return new CgroupSupportStatus(false, "Cgroup mode needs root: the policy is a BPF program (CAP_BPF, CAP_NET_ADMIN) on a cgroup the launcher makes.", NeedsPrivilege: true);
            }

            string release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
            if (SeccompLauncher.ParseRelease(release) is Version version && version < TcpKeepalivePolicies.MinimumKernel)
            {
                return new CgroupSupportStatus(false, $"Cgroup mode needs Linux {TcpKeepalivePolicies.MinimumKernel} or later; this kernel is {release}.");
            }

            using CgroupDirectory own = CgroupDirectory.OfThisProcess();
            if (Libc.Access(own.Path, Libc.W_OK) != 0)
            {
                int errno = Libc.LastErrno;
                return new CgroupSupportStatus(false, $"Cgroup mode makes a cgroup under this process's cgroup {own.Path}, which is not writable here ({Errno.Name(errno)}).", NeedsPrivilege: errno is Errno.EACCES or Errno.EPERM);
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
                    string refused = $"Not starting '{inspection.Path}' in cgroup mode: {status.Reason}";
                    throw status.NeedsPrivilege
                        ? new KeepalivePermissionException(Subject, refused, inspection.Path, Errno.EPERM)
                        : new KeepaliveNotSupportedException(Subject, refused, inspection.Path, Errno.ENOSYS);
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

    /// <summary>The launch for cgroup mode: the program itself, its environment unchanged; the C launcher and the policy's values.</summary>
    public static KeepaliveProcessLaunch Prepare(KeepaliveLaunchRequest request, ProgramInspection inspection, string workingDirectory, string reason)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(inspection);
        SettingsOf(request.Mode, request.Idle, request.Interval, request.Count, request.UserTimeout).Validate();
        return SeccompLauncher.ThroughLauncher(request, inspection, workingDirectory, LaunchMethod.Cgroup, reason, set: [], removed: []);
    }

    /// <summary>
    /// Starts the program in a run cgroup with the policy and returns at once, for callers that wait for it
    /// themselves (Start-KeepaliveProcess): the C launcher's --run-cgroup --exec moves itself into the cgroup and
    /// becomes the program (same process ID, so <see cref="CgroupRun.Process"/> is the program itself, with no
    /// process of ours in between). The caller removes the cgroup when the program has ended (<see cref="CgroupRun"/>).
    /// Nothing is left behind when a step fails.
    /// </summary>
    /// <param name="launch">A launch prepared for cgroup mode.</param>
    /// <param name="environment">The program's environment; null = this process's.</param>
    public static CgroupRun Start(KeepaliveProcessLaunch launch, IReadOnlyDictionary<string, string>? environment = null)
    {
        (string directory, TcpKeepalivePolicy policy) = MakeRunCgroup(launch);
        try
        {
            string launcher = launch.SeccompLauncher!;
            string[] arguments = [launcher, .. PreloadLauncher.LauncherArguments(launch, exec: true, runCgroup: directory)];
            SpawnedProcess process = SpawnedProcess.Start(launcher, arguments, environment ?? PreloadLauncher.CurrentEnvironment(), launch.WorkingDirectory);
            return new CgroupRun(directory, policy, process);
        }
        catch
        {
            _ = Libc.RmDir(directory); // frees the policy with it
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="launch"/> in the foreground (`pskeepalive run`): makes the run cgroup with the policy, then
    /// this process replaces itself with pskeepalive-seccomp --run-cgroup, which starts the program in the cgroup,
    /// passes signals on by the rule of every method, exits with the program's exit code and removes the cgroup.
    /// Returns only by throwing (the cgroup is removed then).
    /// </summary>
    public static int RunInForeground(KeepaliveProcessLaunch launch, IReadOnlyDictionary<string, string>? environment = null)
    {
        (string directory, _) = MakeRunCgroup(launch);
        try
        {
            return PreloadLauncher.ReplaceWithLauncher(launch, directory, environment);
        }
        catch
        {
            _ = Libc.RmDir(directory);
            throw;
        }
    }

    /// <summary>Makes an empty run cgroup below this process's own and attaches the launch's policy to it.</summary>
    private static (string Directory, TcpKeepalivePolicy Policy) MakeRunCgroup(KeepaliveProcessLaunch launch)
    {
        ArgumentNullException.ThrowIfNull(launch);
        if (launch.Method != LaunchMethod.Cgroup || launch.SeccompLauncher is null)
        {
            throw new ArgumentException("The launch was not prepared for cgroup mode.", nameof(launch));
        }

        string directory;
        using (CgroupDirectory own = CgroupDirectory.OfThisProcess())
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
            using CgroupDirectory cgroup = CgroupDirectory.Open(directory);
            return (directory, TcpKeepalivePolicies.Set(cgroup, SettingsOf(launch.Mode, launch.Idle, launch.Interval, launch.Count, launch.UserTimeout))!);
        }
        catch
        {
            _ = Libc.RmDir(directory);
            throw;
        }
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

    /// <summary>
    /// Removes empty run cgroups whose launcher is gone: left for processes that outlived the program, or by a
    /// launcher that was killed before it could clean up.
    /// </summary>
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
}
