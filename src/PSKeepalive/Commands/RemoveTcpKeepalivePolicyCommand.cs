using System.Management.Automation;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Policy;

namespace PSKeepalive.Commands;

/// <summary>
/// Detaches the keepalive policy from a cgroup; other tools' programs on the cgroup stay. Connections established
/// while the policy was on keep their options; new ones get none.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "TcpKeepalivePolicy", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = CgroupSet)]
[OutputType(typeof(TcpKeepalivePolicy))]
public sealed class RemoveTcpKeepalivePolicyCommand : PolicyCommandBase
{
    /// <summary>Write the policies removed, as they were.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        using CgroupDirectory? cgroup = OpenTarget();
        if (cgroup is null)
        {
            return;
        }

        try
        {
            var removed = TcpKeepalivePolicies.Remove(cgroup, ShouldProcess);
            if (PassThru)
            {
                WriteObject(removed, enumerateCollection: true);
            }
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
        }
    }
}
