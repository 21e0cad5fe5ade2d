using System.Collections.Generic;
using System.Management.Automation;
using System.Net.Sockets;
using PSKeepalive.Core;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Commands;

/// <summary>
/// Turns keepalive on (or off with -Disable) for TCP sockets the session holds and sets its timers, all or
/// nothing per socket. Set on a listening socket, the options are inherited by every accepted connection.
/// </summary>
[Cmdlet(VerbsCommon.Set, "SocketKeepalive", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(SocketKeepaliveOptions))]
public sealed class SetSocketKeepaliveCommand : PSCmdlet
{
    /// <summary>A TCP socket; a TcpClient (Client) or TcpListener (Server) binds by property name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Client", "Server")]
    [ValidateNotNull]
    public Socket Socket { get; set; } = null!;

    /// <summary>TCP_KEEPIDLE, seconds.</summary>
    [Parameter]
    [Alias("Time")]
    [ValidateRange(KeepaliveLimits.MinIdle, KeepaliveLimits.MaxIdle)]
    public int? Idle { get; set; }

    /// <summary>TCP_KEEPINTVL, seconds.</summary>
    [Parameter]
    [ValidateRange(KeepaliveLimits.MinInterval, KeepaliveLimits.MaxInterval)]
    public int? Interval { get; set; }

    /// <summary>TCP_KEEPCNT, probes.</summary>
    [Parameter]
    [Alias("Probes", "ProbeCount")]
    [ValidateRange(KeepaliveLimits.MinCount, KeepaliveLimits.MaxCount)]
    public int? Count { get; set; }

    /// <summary>TCP_USER_TIMEOUT, milliseconds (0 = system default).</summary>
    [Parameter]
    [ValidateRange(KeepaliveLimits.MinUserTimeout, KeepaliveLimits.MaxUserTimeout)]
    public int? UserTimeout { get; set; }

    /// <summary>Turns SO_KEEPALIVE off instead of on.</summary>
    [Parameter]
    public SwitchParameter Disable { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var change = new SocketKeepaliveChange(!Disable.IsPresent, Idle, Interval, Count, UserTimeout);
        try
        {
            SocketKeepalive.Validate(change);
        }
        catch (KeepaliveException e)
        {
            ThrowTerminatingError(ErrorRecords.From(e));
            return;
        }

        if (!ShouldProcess(SocketKeepalive.Describe(Socket), "Set " + Describe(change)))
        {
            return;
        }

        try
        {
            var result = SocketKeepalive.Set(Socket, change);
            if (PassThru)
            {
                WriteObject(result);
            }
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e, Socket));
        }
    }

    private static string Describe(SocketKeepaliveChange change)
    {
        var parts = new List<string> { change.Enabled == false ? "SO_KEEPALIVE = 0" : "SO_KEEPALIVE = 1" };
        if (change.Idle is int idle)
        {
            parts.Add($"TCP_KEEPIDLE = {idle}");
        }

        if (change.Interval is int interval)
        {
            parts.Add($"TCP_KEEPINTVL = {interval}");
        }

        if (change.Count is int count)
        {
            parts.Add($"TCP_KEEPCNT = {count}");
        }

        if (change.UserTimeout is int userTimeout)
        {
            parts.Add($"TCP_USER_TIMEOUT = {userTimeout}");
        }

        return string.Join(", ", parts);
    }
}
