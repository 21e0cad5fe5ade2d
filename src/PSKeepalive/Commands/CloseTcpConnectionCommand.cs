using System.Management.Automation;
using PSKeepalive.Completion;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Retrofit;

namespace PSKeepalive.Commands;

/// <summary>
/// Closes TCP connections from outside with SOCK_DESTROY (what `ss -K` does): the peer gets a reset, the owning
/// program sees ECONNABORTED. Piped TcpConnections bind by property name, cookie included, so exactly the listed
/// socket is closed. Needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY.
/// </summary>
[Cmdlet(VerbsCommon.Close, "TcpConnection", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(TcpConnectionCloseResult))]
public sealed class CloseTcpConnectionCommand : PipelineInputCommand
{
    private int _listenersLeft;

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string LocalAddress { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, 65535)]
    public int LocalPort { get; set; }

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string RemoteAddress { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, 65535)]
    public int RemotePort { get; set; }

    /// <summary>The socket cookie (TcpConnection.Cookie): only that very socket is closed. Without it, any socket with these addresses.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public ulong? Cookie { get; set; }

    /// <summary>The bound interface index (TcpConnection.InterfaceIndex).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, int.MaxValue)]
    public int InterfaceIndex { get; set; }

    /// <summary>The state when listed, for messages and the result.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? State { get; set; }

    /// <summary>The inode when listed, for the result.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public long Inode { get; set; }

    /// <summary>
    /// /run/netns/NAME or /proc/PID/ns/net: the namespace the connections live in. Piped TcpConnections bind their
    /// own (null or empty: the caller's namespace).
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }


    /// <summary>Also close listening sockets; without it a listener is skipped with the reason (as pskeepalive close does without --state listen).</summary>
    [Parameter]
    public SwitchParameter IncludeListener { get; set; }

    /// <summary>Write a TcpConnectionCloseResult per connection.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (RefusedFromAnotherComputer("Connection", $"{TcpConnection.Endpoint(LocalAddress, LocalPort)} -> {TcpConnection.Endpoint(RemoteAddress, RemotePort)}", "Get-TcpConnection ... | Close-TcpConnection"))
        {
            return;
        }

        var target = new TcpCloseTarget(
            LocalAddress, LocalPort, RemoteAddress, RemotePort, Cookie ?? TcpConnectionCloser.AnyCookie, InterfaceIndex, StateName(State) ?? "Unknown", Inode);
        if (TcpConnectionCloser.LeftAlone(target, IncludeListener) is { } leftAlone)
        {
            if (TcpConnectionCloser.IsListener(target))
            {
                _listenersLeft++;
            }

            WriteVerbose($"Skipped {target}: {leftAlone.Reason}");
            if (PassThru)
            {
                WriteObject(leftAlone);
            }

            return;
        }

        if (!ShouldProcess(target.ToString(), "Close (SOCK_DESTROY: reset the peer, abort the owner's socket)"))
        {
            return;
        }

        TcpConnectionCloseResult result;
        try
        {
            result = TcpConnectionCloser.Close(target, string.IsNullOrEmpty(NetworkNamespace) ? null : NetworkNamespace);
        }
        catch (KeepaliveException e) when (e.Kind is KeepaliveErrorKind.PermissionDenied or KeepaliveErrorKind.NotSupported)
        {
            // Every other connection would fail the same way.
            ThrowTerminatingError(ErrorRecords.From(e));
            return;
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
            return;
        }

        if (result.Outcome == TcpCloseOutcome.Failed)
        {
            WriteError(ErrorRecords.FromResult(result.Reason ?? "Closing the connection failed.", result.ErrorId, "ConnectionCloseFailed", target.ToString()));
        }
        else if (result.Outcome == TcpCloseOutcome.Skipped && result.ErrorId is not null && Cookie is null)
        {
            // Addresses typed by hand (no cookie from a listing) that name no socket: a typo is more likely than a
            // connection that ended meanwhile, so say so, as Stop-Process -Id does for a process that is not there.
            WriteError(ErrorRecords.FromResult(
                $"No TCP connection {TcpConnection.Endpoint(LocalAddress, LocalPort)} -> {TcpConnection.Endpoint(RemoteAddress, RemotePort)}" +
                $"{(string.IsNullOrEmpty(NetworkNamespace) ? string.Empty : " in " + NetworkNamespace)}: nothing was closed. Get-TcpConnection lists the connections there are.",
                result.ErrorId, "ConnectionNotFound", target.ToString()));
        }
        else if (result.Outcome == TcpCloseOutcome.Skipped)
        {
            WriteVerbose($"Skipped {target}: {result.Reason}");
        }

        if (PassThru)
        {
            WriteObject(result);
        }
    }

    protected override void EndProcessing()
    {
        if (_listenersLeft > 0)
        {
            WriteWarning(
                $"{_listenersLeft} listening socket(s) left alone: closing one stops its program accepting connections. Give -IncludeListener to close them.");
        }
    }
}
