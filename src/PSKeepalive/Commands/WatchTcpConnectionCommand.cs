using System;
using System.Globalization;
using System.Management.Automation;
using System.Threading;
using PSKeepalive.Completion;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Watch;

namespace PSKeepalive.Commands;

/// <summary>
/// Watches keepalive at work: samples sock_diag at an interval for the connections Get-TcpConnection's filters choose,
/// and writes an event to the pipeline as each sample finds it (new connection, probe sent, probe answered, keepalive
/// switched on or off, ended by keepalive, closed). Runs until -Duration, Ctrl+C or a downstream Select-Object -First.
/// </summary>
[Cmdlet(VerbsCommon.Watch, "TcpConnection")]
[OutputType(typeof(TcpConnectionEvent))]
public sealed class WatchTcpConnectionCommand : ConnectionFilterCommandBase, IDisposable
{
    private readonly CancellationTokenSource _stop = new();

    // State, LocalAddress, LocalPort, RemoteAddress, RemotePort, NoKeepalive and NetworkNamespace: ConnectionFilterCommandBase,
    // as Get-TcpConnection has them. State and NoKeepalive choose a connection when it first appears; it is then followed to its end.

    /// <summary>Only sockets held by these processes (not from the pipeline: a watch runs until stopped).</summary>
    [Parameter]
    [Alias("Id", "Pid")]
    [ValidateNotNullOrEmpty]
    [ValidateRange(1, int.MaxValue)]
    [ArgumentCompleter(typeof(ProcessIdCompleter))]
    public int[]? OwningProcess { get; set; }

    /// <summary>Milliseconds between two samples (each is one sock_diag dump).</summary>
    [Parameter]
    [ValidateRange(TcpConnectionWatchOptions.MinSampleIntervalMilliseconds, TcpConnectionWatchOptions.MaxSampleIntervalMilliseconds)]
    public int SampleInterval { get; set; } = TcpConnectionWatchOptions.DefaultSampleIntervalMilliseconds;

    /// <summary>Seconds to watch; without it the watch runs until stopped (Ctrl+C, Select-Object -First).</summary>
    [Parameter]
    [ValidateRange(1, TcpConnectionWatchOptions.MaxDurationSeconds)]
    public int Duration { get; set; }

    /// <summary>Also write a New event for each matching connection present when the watch begins.</summary>
    [Parameter]
    public SwitchParameter IncludeExisting { get; set; }

    /// <summary>Read TCP_KEEPCNT (and the other values) from new sockets through their owners (pidfd_getfd; root), so that probes read "n of CNT".</summary>
    [Parameter]
    public SwitchParameter IncludeSocketOption { get; set; }

    protected override void ProcessRecord()
    {
        if (FilterQuery(OwningProcess) is not TcpConnectionQuery query)
        {
            return;
        }

        var options = new TcpConnectionWatchOptions
        {
            Query = query,
            SampleInterval = TimeSpan.FromMilliseconds(SampleInterval),
            Duration = MyInvocation.BoundParameters.ContainsKey(nameof(Duration)) ? TimeSpan.FromSeconds(Duration) : null,
            IncludeExisting = IncludeExisting.IsPresent,
            IncludeSocketOption = IncludeSocketOption.IsPresent,
        };

        try
        {
            options.Validate();
            WriteVerbose("Watching " + TcpConnectionWatch.Describe(options) + ".");
            foreach (TcpConnectionEvent e in TcpConnectionWatch.Run(options, _stop.Token, Sampled))
            {
                WriteObject(e);
            }
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
        }
    }

    protected override void StopProcessing() => _stop.Cancel();

    public void Dispose() => _stop.Dispose();

    /// <summary>Runs on the pipeline thread between samples: the baseline to -Verbose, every sample to -Debug.</summary>
    private void Sampled(TcpConnectionWatchSample sample)
    {
        if (sample.Number == 1)
        {
            WriteVerbose(string.Create(
                CultureInfo.InvariantCulture,
                $"First sample: {sample.Followed} matching connection(s) followed of {sample.Listed} listed, in {sample.Took.TotalMilliseconds:0.#} ms."));
        }

        WriteDebug(string.Create(
            CultureInfo.InvariantCulture,
            $"Sample {sample.Number} at {sample.Started:HH:mm:ss.fff}: {sample.Listed} listed, {sample.Followed} followed, {sample.Events} event(s), {sample.Took.TotalMilliseconds:0.#} ms."));
    }
}
