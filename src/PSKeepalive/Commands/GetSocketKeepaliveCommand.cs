using System.Management.Automation;
using System.Net.Sockets;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Commands;

/// <summary>Reads SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT of TCP sockets the session holds.</summary>
[Cmdlet(VerbsCommon.Get, "SocketKeepalive")]
[OutputType(typeof(SocketKeepaliveOptions))]
public sealed class GetSocketKeepaliveCommand : PSCmdlet
{
    /// <summary>A TCP socket; a TcpClient (Client) or TcpListener (Server) binds by property name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Client", "Server")]
    [ValidateNotNull]
    public Socket Socket { get; set; } = null!;

    protected override void ProcessRecord()
    {
        try
        {
            WriteObject(SocketKeepalive.Get(Socket));
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
        }
    }
}
