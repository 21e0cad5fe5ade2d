using System;
using System.Buffers.Binary;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Attributes;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Netlink;

namespace PSKeepalive.Benchmarks;

/// <summary>
/// The decoder alone, on captured datagrams: a 32 KiB datagram of IPv6 listener messages (the size the
/// kernel fills per dump part) and the captured IPv4 dump with tcp_info.
/// </summary>
[MemoryDiagnoser]
public class DecoderBenchmarks
{
    private const uint Sequence = 7;
    private byte[] _full32KiB = Array.Empty<byte>();
    private byte[] _ipv4WithInfo = Array.Empty<byte>();
    private readonly TcpConnectionQuery _plain = new();
    private readonly TcpConnectionQuery _info = new() { IncludeInfo = true };

    /// <summary>Messages in the 32 KiB datagram.</summary>
    public int MessagesPerDatagram { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] listener = Load("dump-ipv6.hex")[0];
        int copies = (32 * 1024) / listener.Length;
        MessagesPerDatagram = copies;
        _full32KiB = Enumerable.Range(0, copies).SelectMany(i => WithPort(listener, (ushort)(40000 + i))).ToArray();
        _ipv4WithInfo = Load("dump-ipv4-info.hex")[0];
    }

    /// <summary>Walk + decode + TcpConnection objects, as Enumerate does per datagram.</summary>
    [Benchmark]
    public int Datagram32KiB_ToConnections() => DumpParser.ParseDatagram(_full32KiB, Sequence, _plain, out _, out _).Count;

    /// <summary>Walk + decode of the fixed part only: what the objects cost on top shows in the difference.</summary>
    [Benchmark]
    public int Datagram32KiB_DecodeOnly()
    {
        int count = 0;
        var reader = new NetlinkMessageReader(_full32KiB);
        while (reader.TryRead(out NetlinkMessage message))
        {
            InetDiagMessage decoded = InetDiag.Decode(message.Payload);
            count += decoded.SocketId.SourcePort > 0 ? 1 : 0;
        }

        return count;
    }

    [Benchmark]
    public int Ipv4WithTcpInfo_5Sockets() => DumpParser.ParseDatagram(_ipv4WithInfo, Sequence, _info, out _, out _).Count;

    private static byte[] WithPort(byte[] message, ushort port)
    {
        byte[] copy = (byte[])message.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(16 + 4), port);
        return copy;
    }

    internal static byte[][] Load(string name)
    {
        using Stream stream = typeof(DecoderBenchmarks).Assembly.GetManifestResourceStream(name)
            ?? throw new FileNotFoundException("embedded fixture missing", name);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Convert.FromHexString).ToArray();
    }
}
