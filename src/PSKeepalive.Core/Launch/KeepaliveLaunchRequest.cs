using System;
using System.Collections.Generic;

namespace PSKeepalive.Core.Launch;

/// <summary>
/// A program to start under the preload shim, with the keepalive options to give its TCP sockets.
/// Null options are left to the system (the sysctls); SO_KEEPALIVE is always switched on.
/// </summary>
/// <param name="FilePath">Program name (searched in PATH) or path (relative to <see cref="BaseDirectory"/>).</param>
/// <param name="ArgumentList">The program's arguments, passed as they are (no shell).</param>
public sealed record KeepaliveLaunchRequest(string FilePath, IReadOnlyList<string> ArgumentList)
{
    /// <summary>TCP_KEEPIDLE, seconds (1..32767).</summary>
    public int? Idle { get; init; }

    /// <summary>TCP_KEEPINTVL, seconds (1..32767).</summary>
    public int? Interval { get; init; }

    /// <summary>TCP_KEEPCNT, probes (1..127).</summary>
    public int? Count { get; init; }

    /// <summary>TCP_USER_TIMEOUT, milliseconds (0..2147483647, 0 = system default).</summary>
    public int? UserTimeout { get; init; }

    public PreloadMode Mode { get; init; } = PreloadMode.All;

    /// <summary>Start the program even when inspection says the shim cannot reach it.</summary>
    public bool Force { get; init; }

    /// <summary>The program's working directory; null = <see cref="BaseDirectory"/>.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Directory that relative paths are resolved against (the caller's location); null = the process's current directory.</summary>
    public string? BaseDirectory { get; init; }

    /// <summary>The shim to preload; null = libpskeepalive.so next to PSKeepalive.Core.dll.</summary>
    public string? PreloadLibrary { get; init; }

    /// <summary>The environment to start from (PATH for the search, LD_PRELOAD to extend); null = this process's
    /// environment. Pass the same dictionary to <see cref="PreloadLauncher.Start(KeepaliveProcessLaunch, IReadOnlyDictionary{string, string}?)"/>.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>How the options reach the program: the preload shim (default), the seccomp launcher, or Auto.</summary>
    public LaunchMethod Method { get; init; } = LaunchMethod.Preload;

    /// <summary>The seccomp launcher to use; null = pskeepalive-seccomp next to PSKeepalive.Core.dll.</summary>
    public string? SeccompLauncher { get; init; }

    internal IReadOnlyList<string> Arguments => ArgumentList ?? Array.Empty<string>();
}
