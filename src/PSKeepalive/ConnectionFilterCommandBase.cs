using System.Management.Automation;
using PSKeepalive.Completion;
using PSKeepalive.Core.Connections;

namespace PSKeepalive;

/// <summary>
/// The connection filters Get-TcpConnection and Watch-TcpConnection share (state, addresses, ports, -NoKeepalive,
/// namespace), declared once so that both choose connections with the same words and the same
/// <see cref="TcpConnectionQuery"/>. -OwningProcess stays with each cmdlet: Get-TcpConnection takes it from the
/// pipeline, a watch (which runs until stopped) does not.
/// </summary>
public abstract class ConnectionFilterCommandBase : PSCmdlet
{
    /// <summary>Only these states; filtered by the kernel.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public TcpState[]? State { get; set; }

    /// <summary>Only this local IPv4/IPv6 address (an IPv4 address also matches its IPv4-mapped form).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? LocalAddress { get; set; }

    [Parameter]
    [ValidateRange(TcpConnectionQuery.MinPort, TcpConnectionQuery.MaxPort)]
    public int? LocalPort { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? RemoteAddress { get; set; }

    [Parameter]
    [ValidateRange(TcpConnectionQuery.MinPort, TcpConnectionQuery.MaxPort)]
    public int? RemotePort { get; set; }

    /// <summary>Only connections without keepalive (see each cmdlet's help for how that is decided).</summary>
    [Parameter]
    public SwitchParameter NoKeepalive { get; set; }

    /// <summary>/run/netns/NAME or /proc/PID/ns/net; the caller's namespace when omitted.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <summary>The query these filters make, for the process <paramref name="owningProcess"/> when given.</summary>
    protected TcpConnectionQuery FilterQuery(int? owningProcess) => new()
    {
        States = State,
        LocalAddress = LocalAddress,
        LocalPort = LocalPort,
        RemoteAddress = RemoteAddress,
        RemotePort = RemotePort,
        OwningProcess = owningProcess,
        NoKeepaliveOnly = NoKeepalive.IsPresent,
        NetworkNamespace = NetworkNamespace,
    };
}
