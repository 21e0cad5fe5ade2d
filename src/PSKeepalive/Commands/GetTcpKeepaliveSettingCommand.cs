using System.Management.Automation;
using PSKeepalive.Completion;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Settings;

namespace PSKeepalive.Commands;

/// <summary>Reads net.ipv4.tcp_keepalive_{time,intvl,probes} of this or another network namespace.</summary>
[Cmdlet(VerbsCommon.Get, "TcpKeepaliveSetting")]
[OutputType(typeof(TcpKeepaliveSetting))]
public sealed class GetTcpKeepaliveSettingCommand : PipelineInputCommand
{
    /// <summary>/run/netns/NAME or /proc/PID/ns/net; the caller's own namespace when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }


    protected override void ProcessRecord()
    {
        if (RefusedFromAnotherComputer("NetworkNamespace", $"network namespace {NetworkNamespace}", "Get-TcpKeepaliveSetting"))
        {
            return;
        }

        try
        {
            WriteObject(new TcpKeepaliveSettings().Get(NetworkNamespace));
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
        }
    }
}
