using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using PSKeepalive.Core;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Launch;

namespace PSKeepalive.Commands;

/// <summary>
/// Starts a program with TCP keepalive switched on for its sockets through the libpskeepalive.so preload shim:
/// <c>Start-KeepaliveProcess -Idle 60 nc -l 3333</c>. Statically linked and set-ID programs, which LD_PRELOAD
/// cannot reach, are refused unless -Force.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "KeepaliveProcess", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(Process))]
public sealed class StartKeepaliveProcessCommand : PSCmdlet
{
    private volatile bool stopping;

    /// <summary>The program: a name searched in PATH, or a path.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string FilePath { get; set; } = string.Empty;

    /// <summary>
    /// The program's arguments. After the program name (or after --) each word is one argument as PowerShell passed it;
    /// typed as -ArgumentList, as Start-Process takes it: joined with spaces and split again, double quotes grouping.
    /// </summary>
    [Parameter(Position = 1, ValueFromRemainingArguments = true)]
    [Alias("Args")]
    public string[]? ArgumentList { get; set; }

    [Parameter]
    [Alias("Time")]
    [ValidateRange(KeepaliveLimits.MinIdle, KeepaliveLimits.MaxIdle)]
    public int? Idle { get; set; }

    [Parameter]
    [ValidateRange(KeepaliveLimits.MinInterval, KeepaliveLimits.MaxInterval)]
    public int? Interval { get; set; }

    [Parameter]
    [Alias("Probes", "ProbeCount")]
    [ValidateRange(KeepaliveLimits.MinCount, KeepaliveLimits.MaxCount)]
    public int? Count { get; set; }

    /// <summary>TCP_USER_TIMEOUT in milliseconds (0 = system default).</summary>
    [Parameter]
    [ValidateRange(KeepaliveLimits.MinUserTimeout, KeepaliveLimits.MaxUserTimeout)]
    public int? UserTimeout { get; set; }

    [Parameter]
    public PreloadMode Mode { get; set; } = PreloadMode.All;

    /// <summary>How the options reach the program: Preload (LD_PRELOAD shim, default), Seccomp (pskeepalive-seccomp
    /// supervisor; static and Go programs too, Linux 5.6+), Cgroup (a cgroup of its own with a keepalive policy; root),
    /// Auto (Cgroup where available, else Preload when the shim reaches the program, else Seccomp).</summary>
    [Parameter]
    public LaunchMethod Method { get; set; } = LaunchMethod.Preload;

    /// <summary>Start the program even when the shim cannot reach it (static or set-ID).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Wait for the program to exit and set $LASTEXITCODE to its exit code.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? WorkingDirectory { get; set; }

    protected override void EndProcessing()
    {
        ProgramCommandLine? typed = ProgramCommandLine.Read(MyInvocation, nameof(FilePath), nameof(ArgumentList));
        if (typed is { Swallowed.Count: > 0 })
        {
            ThrowTerminatingError(ErrorRecords.From(Swallowed(typed)));
            return;
        }

        IReadOnlyList<string> arguments = typed is { ArgumentListByName: true }
            ? ProgramCommandLine.SplitLikeStartProcess(ArgumentList ?? [])
            : ArgumentList ?? [];
        string location = SessionState.Path.CurrentFileSystemLocation.ProviderPath;
        var request = new KeepaliveLaunchRequest(FilePath, arguments)
        {
            Idle = Idle,
            Interval = Interval,
            Count = Count,
            UserTimeout = UserTimeout,
            Mode = Mode,
            Force = Force,
            Method = Method,
            BaseDirectory = location,
            WorkingDirectory = WorkingDirectory is null ? null : GetUnresolvedProviderPathFromPSPath(WorkingDirectory),
        };

        KeepaliveProcessLaunch launch;
        try
        {
            launch = PreloadLauncher.Prepare(request);
        }
        catch (KeepaliveException e)
        {
            ThrowTerminatingError(ErrorRecords.From(e));
            return;
        }

        WriteVerbose($"{launch.Inspection.Path}: executable {launch.Inspection.Executable}, loader {launch.Inspection.DynamicLoader ?? "(none: static)"}");
        if (launch.EnvironmentVariables.Length > 0)
        {
            WriteVerbose("Environment: " + string.Join(" ", launch.EnvironmentVariables));
        }

        WriteVerbose($"Method: {launch.Method}. {launch.MethodReason}");
        if (launch.Forced)
        {
            WriteWarning($"{launch.Inspection.Reason} Starting it anyway (-Force): its sockets will not get the keepalive options.");
        }

        string action = launch.Method == LaunchMethod.Cgroup
            ? $"Start in a cgroup of its own with a keepalive policy ({CgroupLauncher.Describe(launch)})"
            : $"Start with keepalive ({string.Join(" ", launch.EnvironmentVariables)})";
        if (!ShouldProcess(TerminalText.Escape(launch.CommandLine), action))
        {
            return;
        }

        if (launch.Method == LaunchMethod.Cgroup)
        {
            StartInCgroup(launch);
            return;
        }

        Process process;
        try
        {
            process = PreloadLauncher.Start(launch);
        }
        catch (KeepaliveException e)
        {
            ThrowTerminatingError(ErrorRecords.From(e));
            return;
        }

        if (Wait)
        {
            // Ctrl+C stops waiting, as with Start-Process -Wait; the program keeps running.
            while (!process.WaitForExit(200))
            {
                if (stopping)
                {
                    return;
                }
            }

            process.WaitForExit();
            SessionState.PSVariable.Set("global:LASTEXITCODE", process.ExitCode);
        }

        if (PassThru)
        {
            WriteObject(process);
        }
    }

    protected override void StopProcessing() => stopping = true;

    /// <summary>The refusal: which program flags PowerShell took for this cmdlet's parameters, and the -- form that passes them on.</summary>
    private static KeepaliveValidationException Swallowed(ProgramCommandLine typed)
    {
        string flags = string.Join(", ", typed.Swallowed.Select(s => $"{s.Typed} (as -{s.Parameter})"));
        return new KeepaliveValidationException(
            "Program",
            "ArgumentList",
            $"After the program name, PowerShell took {flags} for Start-KeepaliveProcess's own parameters, so the program would "
            + "not get them; nothing was started. Options after the program name belong to the program: put -- before the program "
            + $"so that PowerShell passes them on:{Environment.NewLine}    {typed.DashDashForm}{Environment.NewLine}"
            + "or give them as -FilePath PROGRAM -ArgumentList '...' (as Start-Process takes them). A parameter meant for "
            + "Start-KeepaliveProcess goes before the program name.",
            typed.DashDashForm);
    }

    /// <summary>
    /// Cgroup mode: the program runs in a cgroup of its own with a keepalive policy. Without -Wait (or when waiting is
    /// stopped with Ctrl+C) a background thread waits for it and removes the cgroup when it ends. Unlike `pskeepalive
    /// run`, which becomes the C launcher, the session stays and waits itself: it cannot exec, and -PassThru returns
    /// the program itself, with no process of ours in between.
    /// </summary>
    private void StartInCgroup(KeepaliveProcessLaunch launch)
    {
        CgroupRun run;
        try
        {
            run = CgroupLauncher.Start(launch);
        }
        catch (KeepaliveException e)
        {
            ThrowTerminatingError(ErrorRecords.From(e));
            return;
        }

        WriteVerbose($"Cgroup {run.Cgroup}, keepalive policy program {run.Policy.ProgramId}.");
        Process? process = null;
        try
        {
            process = Process.GetProcessById(run.Process.Id);
        }
        catch (ArgumentException)
        {
            // Ended already; -PassThru has nothing to show.
        }

        if (Wait)
        {
            while (!run.Process.WaitForExit(200))
            {
                if (stopping)
                {
                    run.CleanUpWhenDone();
                    return;
                }
            }

            int exitCode = run.Process.WaitForExitCode();
            run.Dispose();
            if (run.LeftBehind is string note)
            {
                WriteWarning(note);
            }

            SessionState.PSVariable.Set("global:LASTEXITCODE", exitCode);
        }
        else
        {
            run.CleanUpWhenDone();
        }

        if (PassThru && process is not null)
        {
            WriteObject(process);
        }
    }
}
