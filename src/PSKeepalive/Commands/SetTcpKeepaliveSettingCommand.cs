using System.Linq;
using System.Management.Automation;
using PSKeepalive.Completion;
using PSKeepalive.Core;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Settings;

namespace PSKeepalive.Commands;

/// <summary>
/// Changes the keepalive sysctls all or nothing, optionally persisting them to a sysctl.d file. A piped setting
/// (Get-TcpKeepaliveSetting -NetworkNamespace X | Set-TcpKeepaliveSetting -Time 600) is changed where it was read;
/// Core decides which values travel (<see cref="TcpKeepaliveSettings.ChangeFor"/>).
/// </summary>
[Cmdlet(VerbsCommon.Set, "TcpKeepaliveSetting", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(TcpKeepaliveSetting))]
public sealed class SetTcpKeepaliveSettingCommand : PSCmdlet
{
    /// <summary>
    /// A setting to change where it was read (Get-TcpKeepaliveSetting's output, also from Import-Csv or another computer);
    /// read by its Time, Interval, Probes, NetworkNamespace and PSComputerName properties only. None of the other
    /// parameters binds from the pipeline, so a piped connection's Idle or Interval never becomes a sysctl.
    /// </summary>
    [Parameter(ValueFromPipeline = true)]
    public PSObject? InputObject { get; set; }

    [Parameter]
    [Alias("Idle")]
    [ValidateRange(KeepaliveLimits.MinIdle, KeepaliveLimits.MaxIdle)]
    public int? Time { get; set; }

    [Parameter]
    [ValidateRange(KeepaliveLimits.MinInterval, KeepaliveLimits.MaxInterval)]
    public int? Interval { get; set; }

    [Parameter]
    [Alias("Count", "ProbeCount")]
    [ValidateRange(KeepaliveLimits.MinCount, KeepaliveLimits.MaxCount)]
    public int? Probes { get; set; }

    /// <summary>Also write the values to a sysctl.d file so that they survive a reboot.</summary>
    [Parameter]
    public SwitchParameter Persist { get; set; }

    /// <summary>The sysctl.d file to persist to; giving it implies -Persist.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string PersistPath { get; set; } = SysctlPersistence.DefaultPath;

    /// <summary>-Persist, or a -PersistPath given: naming the file says where to persist, never to be ignored.</summary>
    private bool Persisting => Persist.IsPresent || MyInvocation.BoundParameters.ContainsKey(nameof(PersistPath));

    /// <summary>Where to write; with a piped setting, where to copy it (the setting's own namespace otherwise).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        TcpKeepaliveSettingChange change;
        string? networkNamespace;
        try
        {
            PipedTcpKeepaliveSetting? piped = InputObject is null ? null : ReadPiped(InputObject);
            (change, networkNamespace) = TcpKeepaliveSettings.ChangeFor(piped, new TcpKeepaliveSettingChange(Time, Interval, Probes), NetworkNamespace);
            TcpKeepaliveSettings.Validate(change);
            if (Persisting)
            {
                // Both before the live write: a persist that cannot succeed changes nothing.
                new SysctlPersistence().CheckNamespace(networkNamespace, PersistPath);
                new SysctlPersistence().CheckTarget(PersistPath);
            }
        }
        catch (KeepaliveException e) when (InputObject is not null)
        {
            // This piped object only: the next one may be fine.
            WriteError(ErrorRecords.From(e, InputObject));
            return;
        }
        catch (KeepaliveException e)
        {
            ThrowTerminatingError(ErrorRecords.From(e));
            return;
        }

        var assignments = TcpKeepaliveSettings.Assignments(change);
        string description = string.Join(", ", assignments.Select(a => $"{a.Key} = {a.Value}"));
        string target = networkNamespace is null ? "this network namespace" : $"network namespace {networkNamespace}";
        if (!ShouldProcess(target, $"Set {description}"))
        {
            return;
        }

        var settings = new TcpKeepaliveSettings();
        TcpKeepaliveSetting result;
        TcpKeepaliveSetting? previous = null;
        try
        {
            previous = Persisting ? settings.Get(networkNamespace) : null;
            result = settings.Set(change, networkNamespace);
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
            return;
        }

        if (Persisting && ShouldProcess(PersistPath, $"Persist {description}"))
        {
            try
            {
                var persisted = settings.PersistOrRestore(change, previous!, networkNamespace, () => new SysctlPersistence().Persist(PersistPath, assignments));
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

    /// <summary>The values and origin of a piped setting, by property name (a deserialized or CSV row holds them as text).</summary>
    private static PipedTcpKeepaliveSetting ReadPiped(PSObject input)
    {
        int? time = IntProperty(input, "Time"), interval = IntProperty(input, "Interval"), probes = IntProperty(input, "Probes");
        if (time is null || interval is null || probes is null)
        {
            string missing = string.Join(", ", new[] { ("Time", time), ("Interval", interval), ("Probes", probes) }.Where(p => p.Item2 is null).Select(p => p.Item1));
            throw new KeepaliveValidationException(
                "Sysctl",
                "InputObject",
                $"The piped object is not a keepalive setting: it has no {missing} (Get-TcpKeepaliveSetting writes Time, Interval, Probes and "
                + "NetworkNamespace). Nothing was changed; to set values, give -Time, -Interval or -Probes instead of piping.",
                input);
        }

        return new PipedTcpKeepaliveSetting(
            time.Value,
            interval.Value,
            probes.Value,
            input.Properties["NetworkNamespace"]?.Value?.ToString(),
            input.Properties["PSComputerName"]?.Value?.ToString()); // added by PowerShell remoting
    }

    private static int? IntProperty(PSObject input, string name)
    {
        object? value = input.Properties[name]?.Value;
        if (value is null || (value is string text && string.IsNullOrWhiteSpace(text)))
        {
            return null;
        }

        try
        {
            return LanguagePrimitives.ConvertTo<int>(value);
        }
        catch (PSInvalidCastException)
        {
            throw new KeepaliveValidationException("Sysctl", name, $"The piped setting's {name} '{value}' is not a whole number of {(name == "Probes" ? "probes" : "seconds")}.", value);
        }
    }
}
