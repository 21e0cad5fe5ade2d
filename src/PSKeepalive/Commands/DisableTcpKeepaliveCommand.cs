using System.Management.Automation;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Commands;

/// <summary>Switches keepalive off (SO_KEEPALIVE = 0) for live sockets of running programs; the timing options stay.</summary>
[Cmdlet(VerbsLifecycle.Disable, "TcpKeepalive", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ConnectionSet)]
[OutputType(typeof(KeepaliveChangeResult))]
[OutputType(typeof(TcpConnection))]
public sealed class DisableTcpKeepaliveCommand : RetrofitCommandBase
{
    protected override SocketKeepaliveChange Change { get; } = new(Enabled: false);
}
