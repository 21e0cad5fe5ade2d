using System.Management.Automation;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Policy;

namespace PSKeepalive.Commands;

/// <summary>
/// Lists keepalive policies with their exact values, read back from the kernel: of one cgroup (-Cgroup, or the cgroup
/// of -ProcessId), or of every cgroup on the host.
/// </summary>
[Cmdlet(VerbsCommon.Get, "TcpKeepalivePolicy", DefaultParameterSetName = AllSet)]
[OutputType(typeof(TcpKeepalivePolicy))]
public sealed class GetTcpKeepalivePolicyCommand : PolicyCommandBase
{
    private const string AllSet = "All";

    protected override void ProcessRecord()
    {
        try
        {
            if (ParameterSetName == AllSet)
            {
                if (RefusedFromAnotherComputer("Cgroup", "the piped object", "Get-TcpKeepalivePolicy"))
                {
                    return;
                }

                foreach (TcpKeepalivePolicy policy in TcpKeepalivePolicies.GetAll())
                {
                    WriteObject(policy);
                }

                return;
            }

            using CgroupDirectory? cgroup = OpenTarget();
            if (cgroup is not null)
            {
                WriteObject(TcpKeepalivePolicies.Get(cgroup), enumerateCollection: true);
            }
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
        }
    }
}
