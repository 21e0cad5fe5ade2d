using System;
using System.Linq;
using BenchmarkDotNet.Attributes;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Netlink;
using PSKeepalive.Core.Processes;

namespace PSKeepalive.Benchmarks;

/// <summary>
/// The in-process dump against the host's real sockets (run it while conn-farm holds N pairs). The baseline
/// is the floor: the same two sock_diag dumps with every message counted and nothing decoded, the C# twin of
/// ../shared/bench/nl-dump-floor.c; the ratio column is "enumeration cost / kernel cost".
/// </summary>
[MemoryDiagnoser]
public class DumpBenchmarks
{
    [Benchmark(Baseline = true)]
    public int Floor_CountMessagesOnly() => KernelDump.CountMessages(InetDiag.AfInet) + KernelDump.CountMessages(InetDiag.AfInet6);

    /// <summary>What Get-TcpConnection and `pskeepalive connections` do: every socket as a TcpConnection.</summary>
    [Benchmark]
    public int Enumerate_All() => TcpConnections.Enumerate(new TcpConnectionQuery()).Count();

    /// <summary>The same with both families read on this thread, one after the other.</summary>
    [Benchmark]
    public int Enumerate_All_OneThread()
    {
        TcpConnections.ReadAhead = false;
        try
        {
            return TcpConnections.Enumerate(new TcpConnectionQuery()).Count();
        }
        finally
        {
            TcpConnections.ReadAhead = true;
        }
    }

    /// <summary>Kernel-side state filter: only ESTABLISHED.</summary>
    [Benchmark]
    public int Enumerate_Established() => TcpConnections.Enumerate(new TcpConnectionQuery { States = new[] { TcpState.Established } }).Count();

    /// <summary>With tcp_info (the kernel's dump itself is ~2.5x more expensive).</summary>
    [Benchmark]
    public int Enumerate_WithTcpInfo() => TcpConnections.Enumerate(new TcpConnectionQuery { IncludeInfo = true }).Count();

    /// <summary>The /proc/*/fd owner walk alone.</summary>
    [Benchmark]
    public int OwnerScan() => SocketOwnerScan.Scan().SocketCount;
}
