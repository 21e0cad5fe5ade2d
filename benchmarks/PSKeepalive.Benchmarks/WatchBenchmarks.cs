using System;
using System.Linq;
using BenchmarkDotNet.Attributes;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Watch;

namespace PSKeepalive.Benchmarks;

/// <summary>
/// The cost of one sample of Watch-TcpConnection / `pskeepalive watch` against one enumeration of every socket (what
/// Get-TcpConnection and `pskeepalive connections` do), in-process, against the sockets of the namespace it runs in
/// (run it while ../shared/bench/conn-farm holds N pairs). A sample is that enumeration plus the comparison of each
/// socket with its previous sample (one dictionary lookup by cookie, a few field compares); the watch follows every
/// connection here, so this is the steady state of the widest watch.
/// </summary>
[MemoryDiagnoser]
public class WatchBenchmarks
{
    private TcpConnectionTracker _all = null!;
    private TcpConnectionTracker _ghosts = null!;
    private TcpConnectionQuery _sampling = null!;

    [GlobalSetup]
    public void FollowEveryConnection()
    {
        _sampling = TcpConnectionWatch.SamplingQuery(new TcpConnectionQuery());
        _all = new TcpConnectionTracker(new TcpConnectionQuery());
        _all.Update(TcpConnections.Enumerate(_sampling), DateTime.Now, reportNew: false);
        _ghosts = new TcpConnectionTracker(new TcpConnectionQuery { NoKeepaliveOnly = true });
        _ghosts.Update(TcpConnections.Enumerate(_sampling), DateTime.Now, reportNew: false);
    }

    /// <summary>What one `connections` run enumerates: every socket as a TcpConnection.</summary>
    [Benchmark(Baseline = true)]
    public int Enumerate_All() => TcpConnections.Enumerate(new TcpConnectionQuery()).Count();

    /// <summary>One sample of `watch` with no filter: every socket enumerated and compared with the previous sample.</summary>
    [Benchmark]
    public int WatchSample_All() => _all.Update(TcpConnections.Enumerate(_sampling), DateTime.Now).Count + _all.Count;

    /// <summary>One sample of `watch --no-keepalive` (the ghosts: the farm's sockets without keepalive, 87.5 %, followed; the rest skipped).</summary>
    [Benchmark]
    public int WatchSample_NoKeepalive() => _ghosts.Update(TcpConnections.Enumerate(_sampling), DateTime.Now).Count + _ghosts.Count;
}
