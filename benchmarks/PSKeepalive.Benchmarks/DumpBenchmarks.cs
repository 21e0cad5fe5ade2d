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
    private readonly byte[] _request = new byte[InetDiag.RequestMessageLength];

    [Benchmark(Baseline = true)]
    public int Floor_CountMessagesOnly()
    {
        using NetlinkSocket socket = NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag);
        int count = 0;
        foreach (byte family in new[] { InetDiag.AfInet, InetDiag.AfInet6 })
        {
            uint sequence = socket.NextSequence();
            InetDiag.WriteDumpRequest(_request, family, InetDiag.AllStates, withInfo: false, sequence);
            socket.Send(_request);
            bool done = false;
            while (!done)
            {
                var reader = new NetlinkMessageReader(socket.Receive());
                while (reader.TryRead(out NetlinkMessage message))
                {
                    if (message.Header.Type == NetlinkConstants.MessageDone)
                    {
                        done = true;
                        break;
                    }

                    count++;
                }
            }
        }

        return count;
    }

    /// <summary>What Get-TcpConnection and `pskeepalive connections` do: every socket as a TcpConnection.</summary>
    [Benchmark]
    public int Enumerate_All() => TcpConnections.Enumerate(new TcpConnectionQuery()).Count();

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
