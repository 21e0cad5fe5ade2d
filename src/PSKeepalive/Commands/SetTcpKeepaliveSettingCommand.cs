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
    [ValidateRange(KeepaliveLimits.MinIdle, KeepaliveLimits.MaxIdle)]
    public int? Time { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(KeepaliveLimits.MinInterval, KeepaliveLimits.MaxInterval)]
    public int? Interval { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
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
                // Both before the live write: a persist that cannot succeed changes nothing.
                new SysctlPersistence().CheckNamespace(NetworkNamespace, PersistPath);
                new SysctlPersistence().CheckTarget(PersistPath);
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

        var settings = new TcpKeepaliveSettings();
        TcpKeepaliveSetting result;
        TcpKeepaliveSetting? previous = null;
        try
        {
            previous = Persist ? settings.Get(NetworkNamespace) : null;
            result = settings.Set(change, NetworkNamespace);
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
                var persisted = settings.PersistOrRestore(change, previous!, NetworkNamespace, () => new SysctlPersistence().Persist(PersistPath, assignments));
                foreach (string warning in persisted.Warnings)
                {
                    WriteWarning(warning);
                }
            }
            catch (KeepaliveException e)
            {
                // The live values were put back (the error says so): the result above no longer holds.
                WriteError(ErrorRecords.From(e));
                return;
            }
        }

        if (PassThru)
        {
            WriteObject(result);
        }
    }
}
