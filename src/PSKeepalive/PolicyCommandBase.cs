using System.Collections.Generic;
using System.Management.Automation;
using PSKeepalive.Completion;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Errors;

namespace PSKeepalive;

/// <summary>
/// What Set-, Get- and Remove-TcpKeepalivePolicy share: the target, a cgroup path (-Cgroup, which a
/// TcpKeepalivePolicy binds by property name) or a process in it (-ProcessId, which Get-Process binds through its
/// Id), and the rule that each cgroup is acted on once per pipeline however many of its processes arrive
/// (Get-Process nginx gives the master and every worker, all in one service cgroup). A policy or process listed on
/// another computer is refused (<see cref="PipelineInputCommand"/>): its cgroup path or id names something else here.
/// </summary>
public abstract class PolicyCommandBase : PipelineInputCommand
{
    protected const string CgroupSet = "Cgroup";
    protected const string ProcessSet = "Process";

    private readonly HashSet<ulong> _done = new();

    /// <summary>The cgroup: a cgroup v2 directory, a path relative to the cgroup2 mount, or a cgroup path as /proc/PID/cgroup shows it.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = CgroupSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(CgroupCompleter))]
    public string Cgroup { get; set; } = string.Empty;

    /// <summary>A process in the cgroup (Get-Process binds Id).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ProcessSet)]
    [Alias("Id")]
    [ValidateRange(1, int.MaxValue)]
    [ArgumentCompleter(typeof(ProcessIdCompleter))]
    public int ProcessId { get; set; }

    /// <summary>
    /// The target cgroup, opened; null (after a non-terminating error, or when this pipeline already handled the same
    /// cgroup) when there is nothing to do for this record.
    /// </summary>
    protected CgroupDirectory? OpenTarget()
    {
        bool byProcess = ParameterSetName == ProcessSet;
        if (RefusedFromAnotherComputer(
                byProcess ? "Process" : "Cgroup",
                byProcess ? $"process {ProcessId}" : $"cgroup {Cgroup}",
                $"{(byProcess ? "Get-Process ..." : "Get-TcpKeepalivePolicy ...")} | {MyInvocation.MyCommand.Name} ..."))
        {
            return null;
        }

        CgroupDirectory cgroup;
        try
        {
            cgroup = ParameterSetName == ProcessSet
                ? CgroupDirectory.OfProcess(ProcessId)
                : CgroupDirectory.Open(Cgroup, SessionState.Path.CurrentFileSystemLocation.ProviderPath);
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
            return null;
        }

        if (!_done.Add(cgroup.Id))
        {
            WriteVerbose($"{cgroup.Path}: already handled in this pipeline (another of its processes).");
            cgroup.Dispose();
            return null;
        }

        return cgroup;
    }
}
