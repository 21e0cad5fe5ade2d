using System;
using System.Management.Automation;
using PSKeepalive.Completion;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Processes;

namespace PSKeepalive.Commands;

/// <summary>
/// Lists TCP connections from the kernel's sock_diag with their keepalive timer (and, when asked, owners and
/// tcp_info), streaming: `Get-TcpConnection | Select-Object -First 5` stops the dump after five.
/// </summary>
[Cmdlet(VerbsCommon.Get, "TcpConnection")]
[OutputType(typeof(TcpConnection))]
public sealed class GetTcpConnectionCommand : ConnectionFilterCommandBase
{
    private const int ProgressActivityId = 4;

    // State, LocalAddress, LocalPort, RemoteAddress, RemotePort, NoKeepalive and NetworkNamespace: ConnectionFilterCommandBase.

    /// <summary>Only sockets held by this process; binds Get-Process output by its Id (Get-Process nginx | Get-TcpConnection).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "Pid")]
    [ValidateRange(1, int.MaxValue)]
    [ArgumentCompleter(typeof(ProcessIdCompleter))]
    public int OwningProcess { get; set; }

    /// <summary>Look up the processes holding each socket (one scan of /proc/*/fd).</summary>
    [Parameter]
    public SwitchParameter IncludeProcess { get; set; }

    /// <summary>Ask the kernel for tcp_info: Rtt, LastDataSent, LastDataReceived, Retransmits, UnackedSegments.</summary>
    [Parameter]
    public SwitchParameter IncludeInfo { get; set; }

    /// <summary>Read each socket's own keepalive options through an owner (pidfd_getfd; root): fills KeepaliveEnabled, Idle, Interval, Count, UserTimeout; NoKeepalive becomes exact.</summary>
    [Parameter]
    public SwitchParameter IncludeSocketOption { get; set; }

    protected override void ProcessRecord()
    {
        // -NoKeepalive: ESTABLISHED with no timer armed; with -IncludeSocketOption, SO_KEEPALIVE off as read from the
        // socket (listeners and sockets with data in flight included). As --no-keepalive.
        var query = FilterQuery(MyInvocation.BoundParameters.ContainsKey(nameof(OwningProcess)) ? OwningProcess : null) with
        {
            IncludeProcess = IncludeProcess.IsPresent || IncludeSocketOption.IsPresent,
            IncludeInfo = IncludeInfo.IsPresent,
            IncludeSocketOption = IncludeSocketOption.IsPresent,
        };

        try
        {
            query.Validate();
            SocketOwnerMap? owners = query.NeedsOwners ? ScanOwners(query.OwningProcess) : null;
            foreach (TcpConnection connection in TcpConnections.Enumerate(query, owners))
            {
                WriteObject(connection);
            }
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
        }
    }

    private SocketOwnerMap ScanOwners(int? pid)
    {
        var progress = new ProgressRecord(ProgressActivityId, "Finding socket owners", "Reading /proc/*/fd");
        bool shown = false;
        SocketOwnerMap map = SocketOwnerScan.Scan(pid, p =>
        {
            if (p.ProcessesDone < p.ProcessesTotal)
            {
                progress.StatusDescription = $"{p.ProcessesDone} of {p.ProcessesTotal} processes";
                progress.PercentComplete = p.ProcessesTotal == 0 ? 0 : (int)(100L * p.ProcessesDone / p.ProcessesTotal);
                WriteProgress(progress);
                shown = true;
            }
        });

        if (shown)
        {
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
        }

        WriteVerbose(
            $"Owner scan: {map.ProcessesScanned} processes, {map.DescriptorsScanned} descriptors, {map.SocketCount} sockets in {map.Elapsed.TotalMilliseconds:0} ms; " +
            $"{map.ProcessesVanished} ended during the scan, {map.ProcessesDenied} denied access.");
        if (map.ProcessesDenied > 0)
        {
            WriteWarning(
                $"{map.ProcessesDenied} process(es) could not be read (access denied; run as root to see every owner): their sockets show no OwningProcess.");
        }

        return map;
    }
}
