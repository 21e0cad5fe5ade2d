using System;
using System.Management.Automation;
using System.Threading;
using PSKeepalive.Completion;
using PSKeepalive.Core;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.SelfTest;

namespace PSKeepalive.Commands;

/// <summary>
/// Proves end to end that keepalive (or TCP_USER_TIMEOUT, or retransmission) ends a connection to a silent
/// peer when the settings say it should: a loopback connection whose peer is made deaf by a drop-all socket
/// filter, timed until recv() fails.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "TcpKeepalive", DefaultParameterSetName = ExplicitSet)]
[OutputType(typeof(TcpKeepaliveTestResult))]
public sealed class TestTcpKeepaliveCommand : PSCmdlet, IDisposable
{
    private const string ExplicitSet = "Explicit";
    private const string SystemSet = "SystemSettings";

    private readonly CancellationTokenSource _stop = new();

    /// <summary>TCP_KEEPIDLE for the probing end, seconds.</summary>
    [Parameter(ParameterSetName = ExplicitSet)]
    [Alias("Time")]
    [ValidateRange(KeepaliveLimits.MinIdle, KeepaliveLimits.MaxIdle)]
    public int Idle { get; set; } = TcpKeepaliveTest.DefaultIdle;

    /// <summary>TCP_KEEPINTVL for the probing end, seconds.</summary>
    [Parameter(ParameterSetName = ExplicitSet)]
    [ValidateRange(KeepaliveLimits.MinInterval, KeepaliveLimits.MaxInterval)]
    public int Interval { get; set; } = TcpKeepaliveTest.DefaultInterval;

    /// <summary>TCP_KEEPCNT for the probing end.</summary>
    [Parameter(ParameterSetName = ExplicitSet)]
    [Alias("Probes", "ProbeCount")]
    [ValidateRange(KeepaliveLimits.MinCount, KeepaliveLimits.MaxCount)]
    public int Count { get; set; } = TcpKeepaliveTest.DefaultCount;

    /// <summary>Sets only SO_KEEPALIVE so that the namespace's sysctls govern.</summary>
    [Parameter(Mandatory = true, ParameterSetName = SystemSet)]
    public SwitchParameter UseSystemSettings { get; set; }

    /// <summary>TCP_USER_TIMEOUT for the probing end, milliseconds; 0 leaves it unset.</summary>
    [Parameter]
    [ValidateRange(KeepaliveLimits.MinUserTimeout, KeepaliveLimits.MaxUserTimeout)]
    public int UserTimeout { get; set; }

    /// <summary>Queues unacknowledged data after the peer went deaf, so that keepalive cannot fire.</summary>
    [Parameter]
    public SwitchParameter WithDataInFlight { get; set; }

    /// <summary>/run/netns/NAME or /proc/PID/ns/net to run the whole test in.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <summary>The longest the test may wait, seconds.</summary>
    [Parameter]
    [ValidateRange(1, TcpKeepaliveTest.MaxTimeoutSeconds)]
    public int Timeout { get; set; } = (int)TcpKeepaliveTest.DefaultTimeout.TotalSeconds;

    /// <summary>Tests over ::1 instead of 127.0.0.1.</summary>
    [Parameter]
    public SwitchParameter IPv6 { get; set; }

    protected override void ProcessRecord()
    {
        bool system = ParameterSetName == SystemSet;
        var options = new TcpKeepaliveTestOptions
        {
            Idle = system ? null : Idle,
            Interval = system ? null : Interval,
            Count = system ? null : Count,
            UseSystemSettings = system,
            UserTimeout = UserTimeout,
            WithDataInFlight = WithDataInFlight,
            NetworkNamespace = NetworkNamespace,
            Timeout = TimeSpan.FromSeconds(Timeout),
            IPv6 = IPv6,
        };

        TcpKeepaliveTestResult result;
        try
        {
            result = WaitWithProgress(TcpKeepaliveTest.RunAsync(options, _stop.Token));
        }
        catch (KeepaliveException e)
        {
            WriteError(ErrorRecords.From(e));
            return;
        }
        catch (OperationCanceledException)
        {
            return;
        }

        if (!result.Passed)
        {
            WriteWarning(result.Message);
        }

        WriteObject(result);
    }

    protected override void StopProcessing() => _stop.Cancel();

    /// <summary>Waits on the pipeline thread, reporting progress once a second (system settings can mean hours).</summary>
    private TcpKeepaliveTestResult WaitWithProgress(System.Threading.Tasks.Task<TcpKeepaliveTestResult> test)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var progress = new ProgressRecord(1, "Test-TcpKeepalive", "Waiting for the kernel to end the connection to the silent peer");
        bool shown = false;
        // Waiting on the handle never throws; GetResult below rethrows the test's own exception unwrapped.
        while (!((IAsyncResult)test).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(1)))
        {
            progress.StatusDescription = $"Waiting for the kernel to end the connection to the silent peer: {clock.Elapsed.TotalSeconds:0} s of at most {Timeout} s";
            WriteProgress(progress);
            shown = true;
        }

        if (shown)
        {
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
        }

        return test.GetAwaiter().GetResult();
    }

    public void Dispose() => _stop.Dispose();
}
