using System.Management.Automation;
using PSKeepalive.Core;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Commands;

/// <summary>
/// Switches keepalive on (with optional timing) for live sockets of running programs: piped connections or
/// every TCP socket of a process. pidfd_getfd + inode check + all-or-nothing setsockopt, in Core.
/// </summary>
[Cmdlet(VerbsLifecycle.Enable, "TcpKeepalive", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ConnectionSet)]
[OutputType(typeof(KeepaliveChangeResult))]
[OutputType(typeof(TcpConnection))]
public sealed class EnableTcpKeepaliveCommand : RetrofitCommandBase
{
    /// <summary>TCP_KEEPIDLE seconds.</summary>
    [Parameter]
    [Alias("Time")]
    [ValidateRange(KeepaliveLimits.MinIdle, KeepaliveLimits.MaxIdle)]
    public int? Idle { get; set; }

    /// <summary>TCP_KEEPINTVL seconds.</summary>
    [Parameter]
    [ValidateRange(KeepaliveLimits.MinInterval, KeepaliveLimits.MaxInterval)]
    public int? Interval { get; set; }

    /// <summary>TCP_KEEPCNT probes.</summary>
    [Parameter]
    [Alias("Probes", "ProbeCount")]
    [ValidateRange(KeepaliveLimits.MinCount, KeepaliveLimits.MaxCount)]
    public int? Count { get; set; }

    /// <summary>TCP_USER_TIMEOUT milliseconds (0 = system default).</summary>
    [Parameter]
    [ValidateRange(KeepaliveLimits.MinUserTimeout, KeepaliveLimits.MaxUserTimeout)]
    public int? UserTimeout { get; set; }

    protected override SocketKeepaliveChange Change => new(true, Idle, Interval, Count, UserTimeout);
}
