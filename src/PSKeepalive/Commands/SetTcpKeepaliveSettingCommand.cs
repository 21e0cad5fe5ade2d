using System.Linq;
using System.Management.Automation;
using PSKeepalive.Completion;
using PSKeepalive.Core;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Settings;

namespace PSKeepalive.Commands;

/// <summary>
/// Changes the keepalive sysctls all or nothing, optionally persisting them to a sysctl.d file.
/// </summary>
[Cmdlet(VerbsCommon.Set, "TcpKeepaliveSetting", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(TcpKeepaliveSetting))]
public sealed class SetTcpKeepaliveSettingCommand : PSCmdlet
{
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Idle")]
    [ValidateRange(KeepaliveLimits.MinIdle, KeepaliveLimits.MaxIdle)]
    public int? Time { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(KeepaliveLimits.MinInterval, KeepaliveLimits.MaxInterval)]
    public int? Interval { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Count", "ProbeCount")]
    [ValidateRange(KeepaliveLimits.MinCount, KeepaliveLimits.MaxCount)]
    public int? Probes { get; set; }

    /// <summary>Also write the values to a sysctl.d file so that they survive a reboot.</summary>
    [Parameter]
    public SwitchParameter Persist { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string PersistPath { get; set; } = SysctlPersistence.DefaultPath;

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var change = new TcpKeepaliveSettingChange(Time, Interval, Probes);
        try
        {
            TcpKeepaliveSettings.Validate(change);
            if (Persist)
            {
                new SysctlPersistence().CheckNamespace(NetworkNamespace, PersistPath);
            }
        }
        catch (KeepaliveException e)
        {
            ThrowTerminatingError(ErrorRecords.From(e));
            return;
        }

        var assignments = TcpKeepaliveSettings.Assignments(change);
        string description = string.Join(", ", assignments.Select(a => $"{a.Key} = {a.Value}"));
        string target = NetworkNamespace is null ? "this network namespace" : $"network namespace {NetworkNamespace}";
        if (!ShouldProcess(target, $"Set {description}"))
        {
            return;
        }

        TcpKeepaliveSetting result;
        try
        {
            result = new TcpKeepaliveSettings().Set(change, NetworkNamespace);
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
            return;
        }

        if (Persist && ShouldProcess(PersistPath, $"Persist {description}"))
        {
            try
            {
                var persisted = new SysctlPersistence().Persist(PersistPath, assignments);
                foreach (string warning in persisted.Warnings)
                {
                    WriteWarning(warning);
                }
            }
            catch (KeepaliveException e)
            {
                WriteError(ErrorRecords.From(e));
            }
        }

        if (PassThru)
        {
            WriteObject(result);
        }
    }
}
