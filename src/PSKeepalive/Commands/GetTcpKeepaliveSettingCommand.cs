using System.Management.Automation;
using PSKeepalive.Completion;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Settings;

namespace PSKeepalive.Commands;

/// <summary>Reads net.ipv4.tcp_keepalive_{time,intvl,probes} of this or another network namespace.</summary>
[Cmdlet(VerbsCommon.Get, "TcpKeepaliveSetting")]
[OutputType(typeof(TcpKeepaliveSetting))]
public sealed class GetTcpKeepaliveSettingCommand : PSCmdlet
{
    /// <summary>/run/netns/NAME or /proc/PID/ns/net; the caller's own namespace when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <summary>
    /// Set by PowerShell remoting on objects from another computer (PSComputerName): such objects are refused, as their
    /// namespace names mean nothing here. Not meant to be typed.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    [AllowNull]
    [AllowEmptyString]
    public string? PSComputerName { get; set; }

    protected override void ProcessRecord()
    {
        if (PipelineInput.FromAnotherComputer(PSComputerName, "NetworkNamespace", $"network namespace {NetworkNamespace}", "Get-TcpKeepaliveSetting") is { } refused)
        {
            WriteError(ErrorRecords.From(refused));
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
