using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Launch;

/// <summary>
/// The seccomp launch method (src/preload/pskeepalive_seccomp.c): the program runs under pskeepalive-seccomp,
/// whose supervisor sets the keepalive options at every connect()/listen() of the process tree through a seccomp
/// user-notification filter. Reaches what LD_PRELOAD cannot: statically linked programs and raw system calls
/// (Go). <see cref="PreloadLauncher.Prepare"/> calls <see cref="ChooseMethod"/> and, for Seccomp, <see cref="Prepare"/>.
/// </summary>
public static class SeccompLauncher
{
    /// <summary>The launcher's file name; the build copies it next to PSKeepalive.Core.dll.</summary>
    public const string LauncherFileName = "pskeepalive-seccomp";

    private const string Subject = "Program";

    /// <summary>SECCOMP_USER_NOTIF_FLAG_CONTINUE: the supervisor lets the original call run.</summary>
    private static readonly Version ContinueFlagKernel = new(5, 5);

    /// <summary>pidfd_getfd: the supervisor duplicates the program's socket.</summary>
    private static readonly Version PidfdGetfdKernel = new(5, 6);

    private const long SysPidfdGetfd = 438; // the same number on x86_64 and aarch64 (common table since 5.1)

    private const int CapSysAdmin = 21;

    /// <summary>
    /// Finds pskeepalive-seccomp next to PSKeepalive.Core.dll, then in the application's base directory. Throws
    /// <see cref="KeepaliveNotFoundException"/> naming where it looked.
    /// </summary>
    public static string LocateLauncher() =>
        ShippedFile.Locate(LauncherFileName, "SeccompLauncher", "launcher", " on Linux");

    /// <summary>
    /// Whether this machine can run seccomp mode: x86_64 or aarch64, and a kernel with pidfd_getfd (probed: ENOSYS
    /// means absent) and SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5, before pidfd_getfd; the launcher probes it
    /// for real when it starts). The reason names the version needed and the running one.
    /// </summary>
    public static SeccompSupportStatus CheckSupport()
    {
        string release = KernelRelease();
        Architecture architecture = RuntimeInformation.ProcessArchitecture;
        int probeErrno = 0;
        if (architecture is Architecture.X64 or Architecture.Arm64)
        {
            // pidfd -1 is never valid: EBADF when the call exists, ENOSYS when it does not.
            if (Libc.Syscall(SysPidfdGetfd, -1, -1, 0) < 0)
            {
                probeErrno = Libc.LastErrno;
            }
        }

        return Evaluate(release, architecture, probeErrno);
    }

    /// <summary>The decision of <see cref="CheckSupport"/> from its inputs (tested with made-up kernels).</summary>
    internal static SeccompSupportStatus Evaluate(string release, Architecture architecture, int pidfdGetfdErrno)
    {
        string arch = architecture.ToString();
        if (architecture is not (Architecture.X64 or Architecture.Arm64))
        {
            return new SeccompSupportStatus(false, release, arch,
                $"Seccomp mode supports x86_64 and aarch64 only (its filter matches their system call numbers); this process runs on {arch}.");
        }

        if (pidfdGetfdErrno != Errno.ENOSYS)
        {
            return new SeccompSupportStatus(true, release, arch, null);
        }

        Version? version = ParseRelease(release);
        string reason = version is null || version < ContinueFlagKernel
            ? $"Seccomp mode needs Linux 5.6 or later: SECCOMP_USER_NOTIF_FLAG_CONTINUE arrived in Linux 5.5 and pidfd_getfd in Linux 5.6; this kernel is {release}."
            : version < PidfdGetfdKernel
                ? $"Seccomp mode needs Linux 5.6 or later for pidfd_getfd (SECCOMP_USER_NOTIF_FLAG_CONTINUE, Linux 5.5, is there); this kernel is {release}."
                : $"Seccomp mode needs pidfd_getfd (Linux 5.6), which this kernel ({release}) should have but refused with ENOSYS: a container's seccomp policy probably blocks it.";
        return new SeccompSupportStatus(false, release, arch, reason);
    }

    /// <summary>"6.1.0-27-amd64" -> 6.1; null when it does not start with major.minor.</summary>
    internal static Version? ParseRelease(string release)
    {
        string[] parts = release.Split('.', 3);
        if (parts.Length < 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int major))
        {
            return null;
        }

        string minorDigits = new(parts[1].TakeWhile(char.IsAsciiDigit).ToArray());
        return int.TryParse(minorDigits, NumberStyles.None, CultureInfo.InvariantCulture, out int minor) ? new Version(major, minor) : null;
    }

    private static string KernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Environment.OSVersion.Version.ToString();
        }
    }

    /// <summary>
    /// CAP_SYS_ADMIN in the effective set (from /proc/self/status). With it the launcher installs the filter
    /// without no_new_privs, so set-user-ID programs keep their privileges.
    /// </summary>
    public static bool HasCapSysAdmin()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("CapEff:", StringComparison.Ordinal) &&
                    ulong.TryParse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong effective))
                {
                    return (effective & (1UL << CapSysAdmin)) != 0;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return false;
    }

    /// <summary>
    /// The method a request ends up with, and why. Preload: the preload path decides as before (refusal of
    /// programs the shim cannot reach, or a forced start). Seccomp: checked here (kernel, architecture, set-ID
    /// programs that no_new_privs would strip of their privileges). Auto: Preload when the shim reaches the
    /// program; Seccomp for static programs, Go programs (their own system calls bypass the C library), and
    /// set-ID programs when privileged; else the preload path.
    /// </summary>
    public static (LaunchMethod Method, string Reason) ChooseMethod(KeepaliveLaunchRequest request, ProgramInspection inspection) =>
        ChooseMethod(request, inspection, CheckSupport, HasCapSysAdmin);

    internal static (LaunchMethod Method, string Reason) ChooseMethod(
        KeepaliveLaunchRequest request, ProgramInspection inspection, Func<SeccompSupportStatus> support, Func<bool> privileged)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(inspection);
        switch (request.Method)
        {
            case LaunchMethod.Preload:
                return (LaunchMethod.Preload, "Preload was asked for.");

            case LaunchMethod.Seccomp:
                RequireSupport(support(), inspection, null);
                if (inspection.Blocker is (PreloadBlocker.NotExecutableFormat or PreloadBlocker.Unreadable or PreloadBlocker.InterpreterLoop or PreloadBlocker.ForeignMachine) && !request.Force)
                {
                    throw new KeepaliveInvalidTargetException(Subject, $"Not starting '{inspection.Path}': {inspection.Reason}", inspection.Path, 0);
                }

                if (inspection.IsSetId && !privileged())
                {
                    if (request.Force)
                    {
                        return (LaunchMethod.Seccomp, "Seccomp was asked for; the set-ID program runs without its privileges (no_new_privs), as forced.");
                    }

                    throw new KeepaliveInvalidTargetException(
                        Subject,
                        $"Not starting '{inspection.Path}' in seccomp mode: it is set-user-ID or set-group-ID, and without CAP_SYS_ADMIN the launcher must set " +
                        "no_new_privs, under which it would run without its privileges. Run as root, or use -Force (--force) to start it without them.",
                        inspection.Path,
                        0);
                }

                return (LaunchMethod.Seccomp, "Seccomp was asked for.");

            case LaunchMethod.Auto:
                if (inspection.CanPreload)
                {
                    if (!GoProgramDetector.IsGoProgram(inspection.Executable))
                    {
                        return (LaunchMethod.Preload, "LD_PRELOAD reaches the program (dynamically linked).");
                    }

                    string go = $"'{inspection.Executable}' is a Go program: Go makes its own system calls, which LD_PRELOAD does not see.";
                    SeccompSupportStatus goStatus = support();
                    return goStatus.IsSupported
                        ? (LaunchMethod.Seccomp, go + " Seccomp mode reaches them.")
                        : (LaunchMethod.Preload, $"{go} Seccomp mode is not available ({goStatus.Reason}); the preload shim may not reach its sockets.");
                }

                if (inspection.IsSetId && !privileged())
                {
                    // Seccomp mode would need no_new_privs, which strips a set-ID program of its privileges: Auto
                    // does not change what the program can do; the preload path refuses it (or forces it) as before.
                    return (LaunchMethod.Preload, inspection.Reason ?? "LD_PRELOAD cannot reach the program.");
                }

                if (inspection.Blocker is PreloadBlocker.StaticallyLinked or PreloadBlocker.ForeignAbi)
                {
                    SeccompSupportStatus status = support();
                    if (status.IsSupported)
                    {
                        return (LaunchMethod.Seccomp, $"{inspection.Reason} Seccomp mode reaches it.");
                    }

                    if (!request.Force)
                    {
                        RequireSupport(status, inspection, inspection.Reason);
                    }

                    return (LaunchMethod.Preload, $"{inspection.Reason} Seccomp mode is not available either: {status.Reason}");
                }

                if (inspection.Blocker == PreloadBlocker.SetId && support().IsSupported)
                {
                    return (LaunchMethod.Seccomp, $"{inspection.Reason} Seccomp mode reaches it and, started with CAP_SYS_ADMIN, keeps its privileges.");
                }

                return (LaunchMethod.Preload, inspection.Reason ?? "LD_PRELOAD cannot reach the program.");

            default:
                throw new KeepaliveValidationException(Subject, "Method", $"Method must be Preload, Seccomp or Auto; {request.Method} is none of them.", request.Method);
        }
    }

    private static void RequireSupport(SeccompSupportStatus status, ProgramInspection inspection, string? preloadReason)
    {
        if (!status.IsSupported)
        {
            string prefix = preloadReason is null ? string.Empty : preloadReason + " ";
            throw new KeepaliveNotSupportedException(Subject, $"Not starting '{inspection.Path}': {prefix}{status.Reason}", inspection.Path, Errno.ENOSYS);
        }
    }

    /// <summary>
    /// The launch for seccomp mode: the launcher runs <c>pskeepalive-seccomp -- PROGRAM ARGS</c> with the
    /// PSKEEPALIVE_* variables of the request (inherited ones it does not set are removed); LD_PRELOAD is left as it is.
    /// </summary>
    public static KeepaliveProcessLaunch Prepare(
        KeepaliveLaunchRequest request, ProgramInspection inspection, string workingDirectory, IReadOnlyDictionary<string, string> environment, string reason)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(inspection);
        ArgumentNullException.ThrowIfNull(environment);
        var set = new List<string> { "PSKEEPALIVE_MODE=" + request.Mode.ToString().ToLowerInvariant() };
        AddNumber(set, "PSKEEPALIVE_IDLE", request.Idle);
        AddNumber(set, "PSKEEPALIVE_INTERVAL", request.Interval);
        AddNumber(set, "PSKEEPALIVE_COUNT", request.Count);
        AddNumber(set, "PSKEEPALIVE_USER_TIMEOUT", request.UserTimeout);
        string[] removed = PreloadLauncher.ShimVariables
            .Where(name => environment.ContainsKey(name) && !set.Any(s => s.StartsWith(name + "=", StringComparison.Ordinal)))
            .ToArray();

        return ThroughLauncher(request, inspection, workingDirectory, LaunchMethod.Seccomp, reason, set.ToArray(), removed);
    }

    /// <summary>
    /// A launch through the C launcher (seccomp mode, and cgroup mode, which uses it to move the program into its
    /// cgroup): the request's program and values, the launcher it names or the one shipped next to the module.
    /// </summary>
    internal static KeepaliveProcessLaunch ThroughLauncher(
        KeepaliveLaunchRequest request, ProgramInspection inspection, string workingDirectory, LaunchMethod method, string reason, string[] set, string[] removed)
    {
        string launcher = request.SeccompLauncher is null ? LocateLauncher() : Path.GetFullPath(request.SeccompLauncher, request.BaseDirectory ?? Environment.CurrentDirectory);
        if (!File.Exists(launcher))
        {
            throw new KeepaliveNotFoundException("SeccompLauncher", $"The seccomp launcher '{launcher}' does not exist.", launcher, Errno.ENOENT);
        }

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
            set,
            removed)
        {
            Method = method,
            MethodReason = reason,
            SeccompLauncher = launcher,
        };
    }

    private static void AddNumber(List<string> set, string name, int? value)
    {
        if (value is int v)
        {
            set.Add(name + "=" + v.ToString(CultureInfo.InvariantCulture));
        }
    }
}
