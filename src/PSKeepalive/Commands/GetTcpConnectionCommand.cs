using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
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

    /// <summary>An owner property read on the command line (not a parameter -ProcessId or a variable $ProcessId).</summary>
    private static readonly Regex OwnerPropertyRead = new(@"(?<![-$\w])(OwningProcess|ProcessId|ProcessName|Processes)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    /// <summary>Sessions (runspaces) already told why the owner properties are empty.</summary>
    private static readonly HashSet<Guid> WarnedSessions = new();

    private readonly List<int> _pipedProcesses = new();
    private bool _owningProcessTyped;

    // State, LocalAddress, LocalPort, RemoteAddress, RemotePort, NoKeepalive and NetworkNamespace: ConnectionFilterCommandBase.

    /// <summary>
    /// Only sockets held by these processes; binds Get-Process output by its Id (Get-Process nginx | Get-TcpConnection:
    /// the piped processes are listed together, in one pass, at the end).
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "Pid")]
    [ValidateNotNullOrEmpty]
    [ValidateRange(1, int.MaxValue)]
    [ArgumentCompleter(typeof(ProcessIdCompleter))]
    public int[]? OwningProcess { get; set; }


    /// <summary>
    /// Set by PowerShell remoting on objects from another computer (PSComputerName): a process of another computer is
    /// refused, as its id means nothing here (see <see cref="PipelineInputCommand"/>; this cmdlet derives from the
    /// filters it shares with Watch-TcpConnection). Not meant to be typed.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    [AllowNull]
    [AllowEmptyString]
    public string? PSComputerName { get; set; }

    /// <summary>Look up the processes holding each socket (one scan of /proc/*/fd).</summary>
    [Parameter]
    public SwitchParameter IncludeProcess { get; set; }

    /// <summary>Ask the kernel for tcp_info: Rtt, LastDataSent, LastDataReceived, Retransmits, UnackedSegments.</summary>
    [Parameter]
    public SwitchParameter IncludeInfo { get; set; }

    /// <summary>Read each socket's own keepalive options through an owner (pidfd_getfd; root): fills KeepaliveEnabled, Idle, Interval, Count, UserTimeout; NoKeepalive becomes exact.</summary>
    [Parameter]
    public SwitchParameter IncludeSocketOption { get; set; }



    protected override void BeginProcessing() => _owningProcessTyped = MyInvocation.BoundParameters.ContainsKey(nameof(OwningProcess));

    protected override void ProcessRecord()
    {
        if (PipelineInputCommand.Refused(this, PSComputerName, "Process", $"process {string.Join(", ", OwningProcess ?? [])}", "Get-Process ... | Get-TcpConnection"))
        {
            return;
        }

        if (!_owningProcessTyped && OwningProcess is { Length: > 0 } piped)
        {
            // A piped process: gather them all and list once at the end (one dump and one owner scan, not one per process).
            _pipedProcesses.AddRange(piped);
            return;
        }

        List(OwningProcess);
    }

    protected override void EndProcessing()
    {
        if (_pipedProcesses.Count > 0)
        {
            List(_pipedProcesses);
        }
    }

    private void List(IReadOnlyCollection<int>? owningProcesses)
    {
        // -NoKeepalive: ESTABLISHED with no timer armed; with -IncludeSocketOption, SO_KEEPALIVE off as read from the
        // socket (listeners and sockets with data in flight included). As --no-keepalive.
        if (FilterQuery(owningProcesses) is not TcpConnectionQuery filters)
        {
            return;
        }

        var query = filters with
        {
            IncludeProcess = IncludeProcess.IsPresent || IncludeSocketOption.IsPresent,
            IncludeInfo = IncludeInfo.IsPresent,
            IncludeSocketOption = IncludeSocketOption.IsPresent,
        };

        try
        {
            query.Validate();
            SocketOwnerMap? owners = query.NeedsOwners ? ScanOwners(query.OwningProcesses) : null;
            if (owners is null)
            {
                WarnIfOwnersAreRead();
            }

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

    /// <summary>
    /// OwningProcess (and ProcessId, ProcessName, Processes) stay empty unless owners are looked up, which costs a walk of
    /// every /proc/PID/fd: on a busy host hundreds of times the cost of a port lookup, so it is not done by default.
    /// When the command line running this reads one of them anyway, say so, once per session.
    /// </summary>
    private void WarnIfOwnersAreRead()
    {
        // The line the command is on: its pipeline and any member access ((Get-TcpConnection ...).OwningProcess).
        string? line = MyInvocation.Line;
        if (line is null || !OwnerPropertyRead.IsMatch(line))
        {
            return;
        }

        Guid session = Runspace.DefaultRunspace?.InstanceId ?? Guid.Empty;
        lock (WarnedSessions)
        {
            if (!WarnedSessions.Add(session))
            {
                return;
            }
        }

        WriteWarning(
            "OwningProcess, ProcessId, ProcessName and Processes are empty: Get-TcpConnection looks up the processes holding "
            + "each socket only with -IncludeProcess (or -OwningProcess, -IncludeSocketOption), because that takes a walk of "
            + "every /proc/PID/fd. Add -IncludeProcess to fill them.");
    }

    private SocketOwnerMap ScanOwners(IReadOnlyCollection<int>? pids)
    {
        var progress = new ProgressRecord(ProgressActivityId, "Finding socket owners", "Reading /proc/*/fd");
        bool shown = false;
        SocketOwnerMap map = SocketOwnerScan.Scan(pids, p =>
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
        if (map.DeniedMessage is string denied)
        {
            WriteWarning(denied);
        }

        return map;
    }
}
