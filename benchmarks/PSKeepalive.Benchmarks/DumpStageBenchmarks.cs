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
        var rendered = new MemoryStream();
        ConnectionsCommand.WriteJson(rendered, _connections, _query);
        _json = rendered.ToArray();
        Console.WriteLine($"// DumpStageBenchmarks: {Sockets} sockets in {_dumps.Sum(d => d.Datagrams.Count)} datagrams, {_json.Length} bytes of JSON, {_owners.SocketCount} sockets with owners");
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

    /// <summary>Stage 4: the owner scan alone (every process's descriptors).</summary>
    [Benchmark]
    public int S4_OwnerScan() => SocketOwnerScan.Scan().SocketCount;

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
