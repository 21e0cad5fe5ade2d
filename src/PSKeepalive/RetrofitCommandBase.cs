using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using PSKeepalive.Completion;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Processes;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive;

/// <summary>
/// What Enable-TcpKeepalive and Disable-TcpKeepalive share: binding connections (by property name) or a
/// process id, finding owners when the connections came without them (one /proc scan for the whole pipeline),
/// ShouldProcess around each write, and the output (results, or the re-read connections with -PassThru).
/// All the work is in Core (<see cref="TcpKeepaliveRetrofit"/>).
/// </summary>
public abstract class RetrofitCommandBase : PipelineInputCommand
{
    protected const string ConnectionSet = "Connection";
    protected const string ProcessSet = "Process";

    private readonly List<(SocketTarget Target, string? State, string? NetworkNamespace)> _unowned = new();

    /// <summary>Processes given (-ProcessId or piped) that had no TCP socket, and how many processes were given.</summary>
    private readonly List<string> _withoutTcpSockets = new();
    private int _processesSeen;

    /// <summary>-PassThru in the Connection set: the sockets changed, read again in one dump per namespace at the end.</summary>
    private readonly List<(long Inode, int Pid, string? NetworkNamespace)> _changed = new();

    /// <summary>The socket's inode (TcpConnection.Inode).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ConnectionSet)]
    public long Inode { get; set; }

    /// <summary>The processes holding the socket (TcpConnection.Processes: objects with Pid and Fd).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = ConnectionSet)]
    [AllowNull]
    [AllowEmptyCollection]
    public PSObject[]? Processes { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = ConnectionSet)]
    public string? LocalAddress { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = ConnectionSet)]
    [ValidateRange(0, 65535)]
    public int LocalPort { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = ConnectionSet)]
    public string? RemoteAddress { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = ConnectionSet)]
    [ValidateRange(0, 65535)]
    public int RemotePort { get; set; }

    /// <summary>The state when listed (TcpConnection.State), for the result of a connection no process holds.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = ConnectionSet)]
    [AllowNull]
    [AllowEmptyString]
    public string? State { get; set; }

    /// <summary>
    /// The namespace the connection was listed in (TcpConnection.NetworkNamespace; null or empty: the caller's): where
    /// -PassThru reads it again. The change itself reaches the socket through its owner, in any namespace.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = ConnectionSet)]
    [AllowNull]
    [AllowEmptyString]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <summary>Every TCP socket of this process (Get-Process binds Id).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ProcessSet)]
    [Alias("Id")]
    [ValidateRange(1, int.MaxValue)]
    [ArgumentCompleter(typeof(ProcessIdCompleter))]
    public int ProcessId { get; set; }


    /// <summary>Write the updated TcpConnection instead of the result.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>The change this cmdlet makes.</summary>
    protected abstract SocketKeepaliveChange Change { get; }

    protected override void BeginProcessing()
    {
        try
        {
            SocketKeepalive.Validate(Change);
        }
        catch (KeepaliveException e)
        {
            ThrowTerminatingError(ErrorRecords.From(e));
        }
    }

    protected override void ProcessRecord()
    {
        bool byProcess = ParameterSetName == ProcessSet;
        if (RefusedFromAnotherComputer(
                byProcess ? "Process" : "Socket",
                byProcess ? $"process {ProcessId}" : $"socket:[{Inode}]",
                $"{(byProcess ? "Get-Process ..." : "Get-TcpConnection ...")} | {MyInvocation.MyCommand.Name} ..."))
        {
            return;
        }

        if (byProcess)
        {
            ApplyToProcess();
            return;
        }

        var owners = new List<(int Pid, int Fd)>();
        foreach (PSObject owner in Processes ?? [])
        {
            if (owner?.Properties["Pid"]?.Value is { } pid && owner.Properties["Fd"]?.Value is { } fd)
            {
                owners.Add((LanguagePrimitives.ConvertTo<int>(pid), LanguagePrimitives.ConvertTo<int>(fd)));
            }
        }

        string? networkNamespace = string.IsNullOrEmpty(NetworkNamespace) ? null : NetworkNamespace;
        if (owners.Count == 0)
        {
            // Listed without -IncludeProcess: find owners once for the whole pipeline, at the end.
            _unowned.Add((new SocketTarget(0, -1, (ulong)Inode, LocalAddress, LocalPort, RemoteAddress, RemotePort), StateName(State), networkNamespace));
            return;
        }

        Apply(RetrofitTargets.Of(Inode, owners, LocalAddress, LocalPort, RemoteAddress, RemotePort), networkNamespace);
    }

    protected override void EndProcessing()
    {
        if (_withoutTcpSockets.Count > 0 && _withoutTcpSockets.Count == _processesSeen)
        {
            WriteWarning($"{string.Join(", ", _withoutTcpSockets)}: no TCP socket, so nothing was changed.");
        }

        ResolveUnowned();
        if (PassThru && _changed.Count > 0)
        {
            try
            {
                foreach (var group in _changed.GroupBy(c => c.NetworkNamespace))
                {
                    foreach (TcpConnection connection in RetrofitTargets.Reread(group.Select(c => (c.Inode, c.Pid)).ToList(), group.Key))
                    {
                        WriteObject(connection);
                    }
                }
            }
            catch (KeepaliveException e)
            {
                WriteError(ErrorRecords.From(e));
            }
        }
    }

    private void ResolveUnowned()
    {
        if (_unowned.Count == 0)
        {
            return;
        }

        SocketOwnerMap map;
        try
        {
            map = RetrofitTargets.ScanOwners();
        }
        catch (KeepaliveException e)
        {
            ThrowTerminatingError(ErrorRecords.From(e));
            return;
        }

        foreach ((SocketTarget pending, string? state, string? networkNamespace) in _unowned)
        {
            var targets = RetrofitTargets.Of((long)pending.Inode, map.Owners(pending.Inode), pending.LocalAddress, pending.LocalPort, pending.RemoteAddress, pending.RemotePort);
            if (targets.Count == 0)
            {
                Emit(RetrofitTargets.Unowned((long)pending.Inode, pending.LocalAddress, pending.LocalPort, pending.RemoteAddress, pending.RemotePort, string.IsNullOrEmpty(state) ? null : state));
                continue;
            }

            Apply(targets, networkNamespace);
        }
    }

    private void Apply(IReadOnlyList<SocketTarget> targets, string? networkNamespace)
    {
        try
        {
            foreach (KeepaliveChangeResult result in TcpKeepaliveRetrofit.Apply(targets, Change, ShouldProcess))
            {
                Emit(result);
                if (PassThru && result.After is not null)
                {
                    _changed.Add(((long)result.Inode, result.Pid, networkNamespace));
                }
            }
        }
        catch (KeepaliveException e)
        {
            // Only a kernel without pidfd support gets here: nothing else can work either.
            ThrowTerminatingError(ErrorRecords.From(e));
        }
    }

    private void ApplyToProcess()
    {
        var changed = new HashSet<ulong>();
        int results = 0, asked = 0;
        try
        {
            // Asked counts the sockets -WhatIf or -Confirm were asked about: with no result and no question, there was no TCP socket.
            foreach (KeepaliveChangeResult result in TcpKeepaliveRetrofit.ApplyToProcess(ProcessId, Change, (target, action) => { asked++; return ShouldProcess(target, action); }))
            {
                results++;
                Emit(result);
                if (result.After is not null)
                {
                    changed.Add(result.Inode);
                }
            }
        }
        catch (KeepaliveException e) when (e.Kind != KeepaliveErrorKind.NotSupported)
        {
            WriteError(ErrorRecords.From(e));
            return;
        }
        catch (KeepaliveException e)
        {
            ThrowTerminatingError(ErrorRecords.From(e));
            return;
        }

        _processesSeen++;
        if (results == 0 && asked == 0)
        {
            string process = ProcessName.Read(ProcessId) is string name ? $"process {ProcessId} ({name})" : $"process {ProcessId}";
            WriteVerbose($"{process} has no TCP socket; nothing to change.");
            _withoutTcpSockets.Add(process);
        }

        if (PassThru && changed.Count > 0)
        {
            var query = new TcpConnectionQuery { OwningProcesses = [ProcessId], IncludeSocketOption = true, NetworkNamespace = RetrofitTargets.NamespaceOf(ProcessId) };
            try
            {
                foreach (TcpConnection connection in TcpConnections.Enumerate(query).Where(c => changed.Contains((ulong)c.Inode)))
                {
                    WriteObject(connection);
                }
            }
            catch (KeepaliveException e)
            {
                WriteError(ErrorRecords.From(e));
            }
        }
    }

    /// <summary>Writes the result (unless -PassThru), and a non-terminating error for a failure.</summary>
    private void Emit(KeepaliveChangeResult result)
    {
        if (!PassThru)
        {
            WriteObject(result);
        }

        ErrorRecords.ReportOutcome(this, result);
    }
}

/// <summary>The exception behind the error record of a socket whose change failed (the result's Reason).</summary>
public sealed class KeepaliveChangeFailedException : System.Exception
{
    public KeepaliveChangeFailedException(string message)
        : base(message)
    {
    }
}
