namespace PSKeepalive.Core.Launch;

/// <summary>Why LD_PRELOAD cannot reach a program.</summary>
public enum PreloadBlocker
{
    /// <summary>Nothing known stops the shim.</summary>
    None,

    /// <summary>A statically linked ELF (no PT_INTERP): the dynamic loader never runs, LD_PRELOAD is not read.</summary>
    StaticallyLinked,

    /// <summary>Set-user-ID or set-group-ID, or file capabilities: the loader runs in secure mode and ignores LD_PRELOAD.</summary>
    SetId,

    /// <summary>Neither an ELF executable nor a #! script.</summary>
    NotExecutableFormat,

    /// <summary>The file (or its interpreter) could not be read to check it.</summary>
    Unreadable,

    /// <summary>#! interpreters nested deeper than the kernel follows.</summary>
    InterpreterLoop,

    /// <summary>
    /// A dynamically linked program of this machine's other ABI (i386 or x32 on x86_64, arm32 on aarch64): the
    /// dynamic loader skips the 64-bit shim ("wrong ELF class"). The seccomp method reaches it.
    /// </summary>
    ForeignAbi,

    /// <summary>An ELF for another machine (aarch64 on x86_64, ...): it runs only under an emulator, which no method is known to reach.</summary>
    ForeignMachine,
}

/// <summary>
/// What <see cref="ProgramInspector"/> found out about a program before launching it under the preload shim.
/// </summary>
/// <param name="Program">The name or path as given.</param>
/// <param name="Path">The file it resolves to (PATH search for bare names).</param>
/// <param name="Executable">The ELF file the kernel ends up running: <paramref name="Path"/> itself, or the
/// interpreter of a #! script (followed through <c>/usr/bin/env NAME</c>).</param>
/// <param name="Interpreter">For a script, the interpreter chain as resolved ("/usr/bin/env -> /usr/bin/python3.11"); null otherwise.</param>
/// <param name="DynamicLoader">PT_INTERP of <paramref name="Executable"/> ("/lib64/ld-linux-x86-64.so.2"); null when static.</param>
/// <param name="IsScript">The program is a #! script.</param>
/// <param name="IsStatic">The executable is a statically linked ELF (no PT_INTERP).</param>
/// <param name="IsSetId">The executable has the set-user-ID or set-group-ID bit, or file capabilities
/// (<see cref="HasFileCapabilities"/>): either makes the loader ignore LD_PRELOAD when privileges are raised.</param>
/// <param name="Blocker">The first reason found why the shim cannot work, or None.</param>
/// <param name="Reason">That reason in words, for messages; null when <see cref="CanPreload"/>.</param>
public sealed record ProgramInspection(
    string Program,
    string Path,
    string Executable,
    string? Interpreter,
    string? DynamicLoader,
    bool IsScript,
    bool IsStatic,
    bool IsSetId,
    PreloadBlocker Blocker,
    string? Reason)
{
    /// <summary>The executable carries file capabilities (security.capability; treated like set-ID).</summary>
    public bool HasFileCapabilities { get; init; }

    /// <summary>The ABI the executable is built for ("x86_64", "i386", "x32", "aarch64", "arm32", or "ELF machine N"); null when not an ELF.</summary>
    public string? Architecture { get; init; }

    /// <summary>True when LD_PRELOAD will be honoured by the program.</summary>
    public bool CanPreload => Blocker == PreloadBlocker.None;
}
