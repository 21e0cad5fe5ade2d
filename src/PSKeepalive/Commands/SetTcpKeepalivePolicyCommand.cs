using System.Linq;
using System.Management.Automation;
using PSKeepalive.Core;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Policy;
using PSKeepalive.Core.Retrofit;

namespace PSKeepalive.Commands;

/// <summary>
/// Gives every TCP connection of a cgroup (a service, a container) keepalive, set by the kernel: a BPF sock_ops
/// program attached to the cgroup v2 directory, or swapped atomically for the one there. All the work is in Core
/// (<see cref="TcpKeepalivePolicies"/>, <see cref="ExistingConnections"/>).
/// </summary>
[Cmdlet(VerbsCommon.Set, "TcpKeepalivePolicy", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = CgroupSet)]
[OutputType(typeof(TcpKeepalivePolicy))]
[OutputType(typeof(KeepaliveChangeResult))]
public sealed class SetTcpKeepalivePolicyCommand : PolicyCommandBase
{
    /// <summary>TCP_KEEPIDLE seconds.</summary>
    [Parameter]
    [Alias("Time")]
    [ValidateRange(KeepaliveLimits.MinIdle, KeepaliveLimits.MaxIdle)]
    public int? Idle { get; set; }

    /// <summary>TCP_KEEPINTVL seconds.</summary>
    [Parameter]
    [ValidateRange(KeepaliveLimits.MinInterval, KeepaliveLimits.MaxInterval)]
    public int? Interval { get; set; }

    /// <summary>TCP_KEEPCNT probes.</summary>
    [Parameter]
    [Alias("Probes", "ProbeCount")]
    [ValidateRange(KeepaliveLimits.MinCount, KeepaliveLimits.MaxCount)]
    public int? Count { get; set; }

    /// <summary>TCP_USER_TIMEOUT milliseconds (0 = system default).</summary>
    [Parameter]
    [ValidateRange(KeepaliveLimits.MinUserTimeout, KeepaliveLimits.MaxUserTimeout)]
    public int? UserTimeout { get; set; }

    /// <summary>Which connections: All, Outgoing (connect()) or Listening (accepted).</summary>
    [Parameter]
    public KeepalivePolicyMode Mode { get; set; } = KeepalivePolicyMode.All;

    /// <summary>Also replace the values of connections whose program switched SO_KEEPALIVE on itself.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Also change the connections the cgroup's processes hold now (the live retrofit).</summary>
    [Parameter]
    public SwitchParameter IncludeExisting { get; set; }

    /// <summary>Write the policy as read back from the kernel.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    private KeepalivePolicySettings Settings => new()
    {
        Idle = Idle,
        Interval = Interval,
        Count = Count,
        UserTimeout = UserTimeout,
        Mode = Mode,
        Force = Force,
    };

    protected override void BeginProcessing()
    {
        try
        {
            Settings.Validate();
        }
        catch (KeepaliveException e)
        {
            ThrowTerminatingError(ErrorRecords.From(e));
        }
    }

    protected override void ProcessRecord()
    {
        using CgroupDirectory? cgroup = OpenTarget();
        if (cgroup is null)
        {
            return;
        }

        KeepalivePolicySettings settings = Settings;
        KeepalivePolicySettings? replaced = null;
        try
        {
            // The policy being replaced: the connections it switched keepalive on are not the program's own choice.
            replaced = IncludeExisting ? TcpKeepalivePolicies.Get(cgroup).FirstOrDefault()?.Settings() : null;
            TcpKeepalivePolicy? policy = TcpKeepalivePolicies.Set(cgroup, settings, ShouldProcess);
            if (policy is not null && PassThru)
            {
                WriteObject(policy);
            }
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
            return;
        }

        if (IncludeExisting)
        {
            ApplyToExisting(cgroup, settings, replaced);
        }
    }

    private void ApplyToExisting(CgroupDirectory cgroup, KeepalivePolicySettings settings, KeepalivePolicySettings? replaced)
    {
        try
        {
            foreach (KeepaliveChangeResult result in ExistingConnections.Apply(cgroup, settings, ShouldProcess, replaced))
            {
                WriteObject(result);
                ErrorRecords.ReportOutcome(this, result);
            }
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
        }
    }
}
