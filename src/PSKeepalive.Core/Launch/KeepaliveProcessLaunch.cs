namespace PSKeepalive.Core.Launch;

/// <summary>
/// A checked, ready-to-start launch: what will run, with which environment. Made by
/// <see cref="PreloadLauncher.Prepare"/>, started by <see cref="PreloadLauncher.Start"/>.
/// </summary>
/// <param name="FilePath">The resolved program file (a script is started as itself; the kernel runs its interpreter).</param>
/// <param name="ArgumentList">The program's arguments.</param>
/// <param name="WorkingDirectory">The program's working directory.</param>
/// <param name="Inspection">What inspection found; <see cref="ProgramInspection.CanPreload"/> false only when forced.</param>
/// <param name="PreloadLibrary">The shim's path, first entry of LD_PRELOAD.</param>
/// <param name="Mode">Where the shim sets the options.</param>
/// <param name="Idle">TCP_KEEPIDLE seconds, or null for the system's value.</param>
/// <param name="Interval">TCP_KEEPINTVL seconds, or null.</param>
/// <param name="Count">TCP_KEEPCNT, or null.</param>
/// <param name="UserTimeout">TCP_USER_TIMEOUT milliseconds, or null.</param>
/// <param name="Forced">The program is started although inspection says the shim will have no effect.</param>
/// <param name="EnvironmentVariables">Variables set for the program ("LD_PRELOAD=...", "PSKEEPALIVE_IDLE=60").</param>
/// <param name="RemovedVariables">Inherited PSKEEPALIVE_* variables removed so that only the requested options apply.</param>
public sealed record KeepaliveProcessLaunch(
    string FilePath,
    string[] ArgumentList,
    string WorkingDirectory,
    ProgramInspection Inspection,
    string PreloadLibrary,
    PreloadMode Mode,
    int? Idle,
    int? Interval,
    int? Count,
    int? UserTimeout,
    bool Forced,
    string[] EnvironmentVariables,
    string[] RemovedVariables)
{
    /// <summary>The method chosen: Preload (the shim in LD_PRELOAD), Seccomp (the program runs under <see cref="SeccompLauncher"/>) or Cgroup (in a cgroup of its own with a keepalive policy).</summary>
    public LaunchMethod Method { get; init; } = LaunchMethod.Preload;

    /// <summary>Why that method (with Auto: what inspection found).</summary>
    public string? MethodReason { get; init; }

    /// <summary>
    /// The C launcher (pskeepalive-seccomp) started in front of the program: Seccomp (supervising it) and Cgroup
    /// (moving it into its cgroup); <see cref="PreloadLibrary"/> is then empty.
    /// </summary>
    public string? SeccompLauncher { get; init; }

    /// <summary>The command line, for messages and ShouldProcess ("/usr/bin/nc -l 3333"), quoted as a shell needs it.</summary>
    public string CommandLine => ShellWords.Join(FilePath, ArgumentList);
}
