using System.Collections.Generic;
using System.Management.Automation;
using PSKeepalive.Completion;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Processes;

namespace PSKeepalive;

/// <summary>
/// The connection filters Get-TcpConnection and Watch-TcpConnection share (state, addresses, ports, -NoKeepalive,
/// namespace), declared once so that both choose connections with the same words and the same
/// <see cref="TcpConnectionQuery"/>: lists, as Get-NetTCPConnection takes them, and addresses with wildcards or
/// CIDR blocks. -OwningProcess stays with each cmdlet: Get-TcpConnection takes it from the
/// pipeline, a watch (which runs until stopped) does not.
/// </summary>
public abstract class ConnectionFilterCommandBase : PSCmdlet
{
    /// <summary>Only these states; filtered by the kernel.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public TcpState[]? State { get; set; }

    /// <summary>
    /// Only these local addresses: addresses, CIDR blocks (10.0.0.0/8) or wildcard patterns (127.*), any of which may
    /// match; an IPv4 value also matches its IPv4-mapped form.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[]? LocalAddress { get; set; }

    /// <summary>Only these local ports; filtered by the kernel.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ValidateRange(TcpConnectionQuery.MinPort, TcpConnectionQuery.MaxPort)]
    public int[]? LocalPort { get; set; }

    /// <summary>Only these remote addresses, as -LocalAddress.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[]? RemoteAddress { get; set; }

    /// <summary>Only these remote ports; filtered by the kernel.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ValidateRange(TcpConnectionQuery.MinPort, TcpConnectionQuery.MaxPort)]
    public int[]? RemotePort { get; set; }

    /// <summary>Only connections without keepalive (see each cmdlet's help for how that is decided).</summary>
    [Parameter]
    public SwitchParameter NoKeepalive { get; set; }

    /// <summary>/run/netns/NAME or /proc/PID/ns/net; the caller's namespace when omitted.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <summary>
    /// The query these filters make, for the processes <paramref name="owningProcesses"/> when given. A process that
    /// does not exist is a non-terminating ProcessNotFound error (as Get-Process -Id reports it), not a silent empty
    /// result; null when processes were given and none exists (nothing to list).
    /// </summary>
    protected TcpConnectionQuery? FilterQuery(IReadOnlyCollection<int>? owningProcesses)
    {
        if (owningProcesses is { Count: > 0 })
        {
            owningProcesses = RunningProcesses.Existing(owningProcesses, "OwningProcess", missing => WriteError(ErrorRecords.From(missing)));
            if (owningProcesses.Count == 0)
            {
                return null;
            }
        }

        return new()
        {
            States = State,
            LocalAddresses = LocalAddress,
            LocalPorts = LocalPort,
            RemoteAddresses = RemoteAddress,
            RemotePorts = RemotePort,
            OwningProcesses = owningProcesses,
            NoKeepaliveOnly = NoKeepalive.IsPresent,
            NetworkNamespace = NetworkNamespace,
        };
    }
}
