using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Attributes;
using PSKeepalive.Cli.Commands;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Netlink;
using PSKeepalive.Core.Processes;

namespace PSKeepalive.Benchmarks;

/// <summary>
/// `pskeepalive connections --json [--include-process]` taken apart, one case per stage, on the host's real
/// sockets (run while ../shared/bench/conn-farm holds N pairs; listers/run-listers-compare.sh -b does): the
/// kernel's dump alone, decoding the captured dump, building objects, the owner scan, attaching owners, the
/// JSON text, and writing it to /dev/null. Each case handles every socket once, so mean / sockets is the cost
/// per socket of that stage; the setup prints the socket count.
/// </summary>
[MemoryDiagnoser]
public class DumpStageBenchmarks
{
    private readonly List<CapturedDump> _dumps = new();
    private readonly TcpConnectionQuery _query = new();
    private readonly TcpConnectionQuery _ownerQuery = new() { IncludeProcess = true };
    private List<TcpConnection> _connections = new();
    private List<TcpConnection> _ownedConnections = new();
    private SocketOwnerMap? _owners;
    private byte[] _json = Array.Empty<byte>();
    private int _biggest;

    /// <summary>Sockets in the captured dump.</summary>
    public int Sockets { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        foreach (byte family in new[] { InetDiag.AfInet, InetDiag.AfInet6 })
        {
            _dumps.Add(CapturedDump.Read(family));
        }

        _connections = Build(_query, null);
        Sockets = _connections.Count;
        _owners = SocketOwnerScan.Scan();
        _ownedConnections = Build(_ownerQuery, _owners);
        _biggest = _ownedConnections.Where(c => c.OwningProcess is not null).GroupBy(c => c.OwningProcess!.Value).OrderByDescending(g => g.Count()).Select(g => g.Key).FirstOrDefault(Environment.ProcessId);
        _json = CheckSameJson(_connections, _query);
        CheckSameJson(_ownedConnections, _ownerQuery);
        var infoQuery = new TcpConnectionQuery { IncludeInfo = true };
        CheckSameJson(TcpConnections.Enumerate(infoQuery).ToList(), infoQuery);
        CheckSameJson(OddConnections(), new TcpConnectionQuery { IncludeInfo = true, IncludeProcess = true }, socketOptions: true);
        Console.WriteLine($"// DumpStageBenchmarks: {Sockets} sockets in {_dumps.Sum(d => d.Datagrams.Count)} datagrams, {_json.Length} bytes of JSON, {_owners.SocketCount} sockets with owners, the biggest process {_biggest}");
    }

    /// <summary>Stage 1, the kernel: both families' dumps received, messages counted, nothing decoded.</summary>
    [Benchmark(Baseline = true)]
    public int S1_KernelDump() => KernelDump.CountMessages(InetDiag.AfInet) + KernelDump.CountMessages(InetDiag.AfInet6);

    /// <summary>Stage 2: the captured dump walked and every inet_diag_msg decoded (no kernel, no object).</summary>
    [Benchmark]
    public int S2_Decode()
    {
        int count = 0;
        foreach (CapturedDump dump in _dumps)
        {
            foreach (byte[] datagram in dump.Datagrams)
            {
                var reader = new NetlinkMessageReader(datagram);
                while (reader.TryRead(out NetlinkMessage message))
                {
                    if (message.Header.Type == InetDiag.SockDiagByFamily)
                    {
                        count += InetDiag.Decode(message.Payload).SocketId.SourcePort > 0 ? 1 : 0;
                    }
                }
            }
        }

        return count;
    }

    /// <summary>Stage 3: the captured dump as TcpConnection objects (decode, filter, addresses, object).</summary>
    [Benchmark]
    public int S3_Objects() => Build(_query, null).Count;

    /// <summary>Stage 4: the owner scan alone (every process's descriptors; the kernel's BPF iterator when it can).</summary>
    [Benchmark]
    public int S4_OwnerScan() => SocketOwnerScan.Scan().SocketCount;

    /// <summary>Stage 4, without the kernel's iterator: the /proc/*/fd walk (readlinkat per descriptor).</summary>
    [Benchmark]
    public int S4_OwnerScan_ProcWalk()
    {
        SocketOwnerIterator.Enabled = false;
        try
        {
            return SocketOwnerScan.Scan().SocketCount;
        }
        finally
        {
            SocketOwnerIterator.Enabled = true;
        }
    }

    /// <summary>Stage 4, one process: the walk of the process holding the most sockets (read in ranges by every processor).</summary>
    [Benchmark]
    public int S4_OwnerScan_BiggestProcess() => SocketOwnerScan.Scan(_biggest).SocketCount;

    /// <summary>Stage 4b: objects with their owners attached from a scan made beforehand.</summary>
    [Benchmark]
    public int S4b_ObjectsWithOwners() => Build(_ownerQuery, _owners).Count;

    /// <summary>Stage 5: the JSON text of every connection (as `--json` writes it), into a stream that drops it.</summary>
    [Benchmark]
    public long S5_Json()
    {
        var sink = new CountingStream();
        ConnectionsCommand.WriteJson(sink, _connections, _query);
        return sink.Length;
    }

    /// <summary>Stage 5, before: the same JSON through Utf8JsonWriter, one call per key (the writer until ConnectionJsonWriter).</summary>
    [Benchmark]
    public long S5_Json_Utf8JsonWriter()
    {
        var sink = new CountingStream();
        Utf8JsonWriterReference.Write(sink, _connections, _query);
        return sink.Length;
    }

    /// <summary>Stage 5b: the same with owners (`--json --include-process`).</summary>
    [Benchmark]
    public long S5b_JsonWithOwners()
    {
        var sink = new CountingStream();
        ConnectionsCommand.WriteJson(sink, _ownedConnections, _ownerQuery);
        return sink.Length;
    }

    /// <summary>Stage 6: the JSON bytes written to /dev/null in 64 KiB writes (what stdout costs when nothing reads it).</summary>
    [Benchmark]
    public int S6_WriteDevNull()
    {
        using var devNull = new FileStream("/dev/null", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        int writes = 0;
        for (int offset = 0; offset < _json.Length; offset += 64 * 1024)
        {
            devNull.Write(_json, offset, Math.Min(64 * 1024, _json.Length - offset));
            writes++;
        }

        return writes;
    }

    /// <summary>All stages in process: Enumerate into the JSON writer (what the CLI does after start-up).</summary>
    [Benchmark]
    public long All_EnumerateToJson()
    {
        var sink = new CountingStream();
        ConnectionsCommand.WriteJson(sink, TcpConnections.Enumerate(_query), _query);
        return sink.Length;
    }

    /// <summary>Both JSON writers on the same connections must write the same bytes; returns them.</summary>
    private static byte[] CheckSameJson(List<TcpConnection> connections, TcpConnectionQuery query, bool socketOptions = false)
    {
        var current = new MemoryStream();
        ConnectionsCommand.WriteJson(current, connections, query, socketOptions);
        var reference = new MemoryStream();
        Utf8JsonWriterReference.Write(reference, connections, query, socketOptions);
        if (!current.ToArray().AsSpan().SequenceEqual(reference.ToArray()))
        {
            int at = current.ToArray().AsSpan().CommonPrefixLength(reference.ToArray());
            string around(MemoryStream m) => System.Text.Encoding.UTF8.GetString(m.ToArray(), Math.Max(0, at - 80), (int)Math.Min(160, m.Length - Math.Max(0, at - 80)));
            throw new InvalidOperationException($"ConnectionJsonWriter and Utf8JsonWriter differ at byte {at}:\n{around(current)}\n{around(reference)}");
        }

        return current.ToArray();
    }

    /// <summary>Values the host's sockets do not show: odd text to escape, tcp_info fractions, socket options, several owners.</summary>
    private static List<TcpConnection> OddConnections()
    {
        var odd = new TcpConnectionProcess(4242, "we\"ird\\na\tme\u0001<>&'+é€😀", "python3 -c \"print('\\n')\" \u007f\u2028", 7);
        var baseline = new TcpConnection
        {
            AddressFamily = "IPv6", LocalAddress = "::ffff:10.0.0.1", LocalPort = 65535, RemoteAddress = "fe80::1", RemotePort = 0,
            State = TcpState.CloseWait, Inode = long.MaxValue, Uid = uint.MaxValue, Cookie = ulong.MaxValue, InterfaceIndex = -1,
            ReceiveQueue = uint.MaxValue, SendQueue = 0, Timer = TcpTimer.ZeroWindowProbe, TimerExpires = TimeSpan.FromMilliseconds(123456),
            ProbesSent = 3, NetworkNamespace = "/run/netns/\"blue\"", OwningProcess = 4242,
            Processes = new[] { odd, new TcpConnectionProcess(4243, null, null, 0) },
        };
        var result = new List<TcpConnection> { baseline, baseline with { Processes = Array.Empty<TcpConnectionProcess>(), OwningProcess = null, NetworkNamespace = null } };
        var random = new Random(16);
        for (int i = 0; i < 2000; i++)
        {
            result.Add(baseline with
            {
                Rtt = TimeSpan.FromTicks(random.Next(0, 100_000_000)),
                LastDataSent = i % 3 == 0 ? null : TimeSpan.FromMilliseconds(random.NextInt64(0, uint.MaxValue)),
                LastDataReceived = TimeSpan.FromTicks(random.NextInt64(0, long.MaxValue / 2)),
                Retransmits = i % 5 == 0 ? null : random.Next(),
                UnackedSegments = random.Next(0, 10),
                KeepaliveEnabled = i % 4 == 0 ? null : i % 2 == 0,
                Idle = i % 4 == 0 ? null : random.Next(1, 32768),
                Interval = random.Next(1, 32768),
                ProbeCount = i % 7 == 0 ? null : random.Next(1, 128),
                UserTimeout = random.Next(),
                State = (TcpState)(1 + (i % 11)),
                Timer = (TcpTimer)(i % 5),
            });
        }

        return result;
    }

    private List<TcpConnection> Build(TcpConnectionQuery query, SocketOwnerMap? owners)
    {
        var result = new List<TcpConnection>(Sockets);
        foreach (CapturedDump dump in _dumps)
        {
            dump.Parse(query, owners, result);
        }

        return result;
    }

    /// <summary>A write-only stream that counts and drops what it is given.</summary>
    private sealed class CountingStream : Stream
    {
        private long _length;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _length;

        public override long Position { get => _length; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => _length += count;

        public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;
    }
}
