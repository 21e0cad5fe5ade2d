using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Linq;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Netlink;
using Xunit;

namespace PSKeepalive.Tests.Netlink;

public sealed class DecoderTests
{
    private static readonly TcpConnectionQuery All = new() { IncludeInfo = true };

    [Fact]
    public void Ipv4Fixture_DecodesEverySocketWithStatePortsAndTimer()
    {
        byte[][] datagrams = Fixtures.Ipv4WithInfo;
        Assert.Equal(2, datagrams.Length);

        var connections = DumpParser.ParseDatagram(datagrams[0], Fixtures.Sequence, All, out bool done, out bool interrupted);
        Assert.False(done);
        Assert.False(interrupted);
        Assert.Equal(5, connections.Count);
        Assert.All(connections, c => Assert.Equal("IPv4", c.AddressFamily));
        Assert.All(connections, c => Assert.Equal("127.0.0.1", c.LocalAddress));

        var listener = Assert.Single(connections, c => c.State == TcpState.Listen);
        Assert.Equal(40001, listener.LocalPort);
        Assert.Equal("0.0.0.0", listener.RemoteAddress);
        Assert.Equal(0, listener.RemotePort);
        Assert.Null(listener.NoKeepalive);

        var clients = connections.Where(c => c.RemotePort == 40001).ToList();
        Assert.Equal(2, clients.Count);
        var keepalive = Assert.Single(clients, c => c.Timer == TcpTimer.Keepalive);
        Assert.False(keepalive.NoKeepalive);
        Assert.InRange(keepalive.TimerExpires!.Value, TimeSpan.FromSeconds(590), TimeSpan.FromSeconds(600));
        var plain = Assert.Single(clients, c => c.Timer == TcpTimer.None);
        Assert.True(plain.NoKeepalive);
        Assert.Null(plain.TimerExpires);

        Assert.Equal(2, connections.Count(c => c.LocalPort == 40001 && c.State == TcpState.Established));
        Assert.All(connections, c => Assert.NotNull(c.Rtt));
        Assert.All(connections, c => Assert.NotEqual(0, c.Inode));
        Assert.Equal(5, connections.Select(c => c.Cookie).Distinct().Count());

        var end = DumpParser.ParseDatagram(datagrams[1], Fixtures.Sequence, All, out done, out _);
        Assert.Empty(end);
        Assert.True(done);
    }

    [Fact]
    public void Ipv6Fixture_DecodesTheListener()
    {
        byte[][] datagrams = Fixtures.Ipv6;
        var connections = DumpParser.ParseDatagram(datagrams[0], Fixtures.Sequence, new TcpConnectionQuery(), out _, out _);

        var listener = Assert.Single(connections);
        Assert.Equal("IPv6", listener.AddressFamily);
        Assert.Equal("::1", listener.LocalAddress);
        Assert.Equal(40002, listener.LocalPort);
        Assert.Equal("::", listener.RemoteAddress);
        Assert.Equal(TcpState.Listen, listener.State);
        Assert.Null(listener.Rtt);
    }

    [Fact]
    public void Filters_ApplyToDecodedMessages()
    {
        byte[] datagram = Fixtures.Ipv4WithInfo[0];

        Assert.Single(DumpParser.ParseDatagram(datagram, Fixtures.Sequence, new TcpConnectionQuery { States = new[] { TcpState.Listen } }, out _, out _));
        Assert.Equal(2, DumpParser.ParseDatagram(datagram, Fixtures.Sequence, new TcpConnectionQuery { RemotePorts = [40001] }, out _, out _).Count);
        Assert.Single(DumpParser.ParseDatagram(datagram, Fixtures.Sequence, new TcpConnectionQuery { RemotePorts = [40001], NoKeepaliveOnly = true }, out _, out _));
        Assert.Equal(5, DumpParser.ParseDatagram(datagram, Fixtures.Sequence, new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"] }, out _, out _).Count);
        Assert.Equal(5, DumpParser.ParseDatagram(datagram, Fixtures.Sequence, new TcpConnectionQuery { LocalAddresses = ["::ffff:127.0.0.1"] }, out _, out _).Count);
        Assert.Empty(DumpParser.ParseDatagram(datagram, Fixtures.Sequence, new TcpConnectionQuery { LocalAddresses = ["127.0.0.2"] }, out _, out _));
        Assert.Single(DumpParser.ParseDatagram(datagram, Fixtures.Sequence, new TcpConnectionQuery { RemoteAddresses = ["0.0.0.0"] }, out _, out _));
    }

    [Fact]
    public void TruncatedAnywhereInsideAMessage_IsInvalidData()
    {
        byte[] datagram = Fixtures.Ipv4WithInfo[0];
        var boundaries = MessageBoundaries(datagram);
        int checkedCuts = 0;
        for (int cut = 1; cut < datagram.Length; cut++)
        {
            if (boundaries.Contains(cut))
            {
                continue; // a datagram may end between messages
            }

            byte[] truncated = datagram[..cut];
            Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(truncated, Fixtures.Sequence, All, out _, out _));
            checkedCuts++;
        }

        Assert.True(checkedCuts > 1000);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(15u)]
    [InlineData(2041u)]
    [InlineData(uint.MaxValue)]
    public void LyingMessageLength_IsInvalidData(uint length)
    {
        byte[] datagram = (byte[])Fixtures.Ipv4WithInfo[0].Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(datagram, length);

        var error = Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(datagram, Fixtures.Sequence, All, out _, out _));
        Assert.Equal("NetlinkInvalidData", error.ErrorId);
    }

    [Fact]
    public void MessageTooShortForInetDiagMsg_IsInvalidData()
    {
        byte[] message = Fixtures.Ipv6[0][..(16 + 71)];
        BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)message.Length);

        var error = Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(message, Fixtures.Sequence, All, out _, out _));
        Assert.Contains("inet_diag_msg", error.Message);
    }

    [Theory]
    [InlineData((ushort)0)]
    [InlineData((ushort)3)]
    [InlineData((ushort)45)]
    [InlineData((ushort)0xffff)]
    public void LyingAttributeLength_IsInvalidData(ushort length)
    {
        byte[] datagram = (byte[])Fixtures.Ipv6[0].Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(datagram.AsSpan(16 + 72), length); // the first attribute after inet_diag_msg

        var error = Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(datagram, Fixtures.Sequence, All, out _, out _));
        Assert.Contains("attribute", error.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(15)]
    public void TrailingBytesShorterThanAHeader_AreInvalidData(int trailing)
    {
        byte[] datagram = Fixtures.Ipv6[0].Concat(new byte[trailing]).ToArray();

        Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(datagram, Fixtures.Sequence, All, out _, out _));
    }

    [Fact]
    public void UnalignedLength_ShiftsTheNextHeaderAndIsCaught()
    {
        // Two copies of the listener; the first claims one byte more than it has, so the second header is read
        // from the wrong place and its length is garbage.
        byte[] one = Fixtures.Ipv6[0];
        byte[] two = one.Concat(one).ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(two, (uint)one.Length + 1);

        Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(two, Fixtures.Sequence, All, out _, out _));
    }

    [Fact]
    public void UnknownFamilyStateOrTimer_IsInvalidData()
    {
        foreach ((int offset, byte value) in new[] { (16 + 0, (byte)7), (16 + 1, (byte)14), (16 + 2, (byte)5) })
        {
            byte[] datagram = (byte[])Fixtures.Ipv6[0].Clone();
            datagram[offset] = value;
            Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(datagram, Fixtures.Sequence, All, out _, out _));
        }
    }

    [Fact]
    public void BytesAfterDone_AreInvalidData()
    {
        byte[] datagram = Fixtures.Ipv4WithInfo[1].Concat(Fixtures.Ipv6[0]).ToArray();

        var error = Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(datagram, Fixtures.Sequence, All, out _, out _));
        Assert.Contains("NLMSG_DONE", error.Message);
    }

    [Fact]
    public void DoneCarryingAnError_RaisesTheErrno_InsteadOfEndingTheDumpCleanly()
    {
        // A dump that failed midway ends with NLMSG_DONE whose int payload is -errno (here -ENOMEM).
        byte[] datagram = Done(-12);

        var error = Assert.Throws<KeepaliveKernelException>(() => DumpParser.ParseDatagram(datagram, Fixtures.Sequence, All, out _, out _));
        Assert.Equal("NetlinkKernelFailure", error.ErrorId);
        Assert.Equal(12, error.Errno);
        Assert.Contains("incomplete", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DoneCarryingAnErrorAndTheKernelsText_NamesBoth()
    {
        byte[] text = "dump went wrong\0"u8.ToArray();
        byte[] datagram = Done(-13, NetlinkConstants.FlagMulti | NetlinkConstants.FlagAckTlvs, [.. Attribute(NetlinkConstants.ErrorAttributeMessage, text)]);

        var error = Assert.Throws<KeepalivePermissionException>(() => DumpParser.ParseDatagram(datagram, Fixtures.Sequence, All, out _, out _));
        Assert.Equal(13, error.Errno);
        Assert.Contains("dump went wrong", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DoneWithZeroOrNoPayload_EndsTheDump()
    {
        foreach (byte[] datagram in new[] { Done(0), Done(null) })
        {
            Assert.Empty(DumpParser.ParseDatagram(datagram, Fixtures.Sequence, All, out bool done, out _));
            Assert.True(done);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void DoneWithAPayloadTooShortForItsInt_IsInvalidData(int length)
    {
        byte[] datagram = Done(0)[..(16 + length)];
        BinaryPrimitives.WriteUInt32LittleEndian(datagram, (uint)datagram.Length);

        Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(datagram, Fixtures.Sequence, All, out _, out _));
    }

    [Fact]
    public void DoneWithAPositiveValue_IsInvalidData()
    {
        Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(Done(5), Fixtures.Sequence, All, out _, out _));
    }

    /// <summary>NLMSG_DONE of the fixtures' sequence with the given int payload (none when null) and trailing bytes.</summary>
    internal static byte[] Done(int? errno, ushort flags = NetlinkConstants.FlagMulti, byte[]? trailing = null)
    {
        int payload = (errno is null ? 0 : 4) + (trailing?.Length ?? 0);
        var datagram = new byte[16 + payload];
        new NetlinkHeader((uint)datagram.Length, NetlinkConstants.MessageDone, flags, Fixtures.Sequence, 0).Write(datagram);
        if (errno is int value)
        {
            BinaryPrimitives.WriteInt32LittleEndian(datagram.AsSpan(16), value);
        }

        trailing?.CopyTo(datagram, 16 + (errno is null ? 0 : 4));
        return datagram;
    }

    /// <summary>One attribute, padded to 4 bytes.</summary>
    internal static byte[] Attribute(ushort type, byte[] value)
    {
        var attribute = new byte[NetlinkConstants.AlignAttribute(4 + value.Length)];
        BinaryPrimitives.WriteUInt16LittleEndian(attribute, (ushort)(4 + value.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(attribute.AsSpan(2), type);
        value.CopyTo(attribute, 4);
        return attribute;
    }

    [Fact]
    public void WrongSequence_IsInvalidData()
    {
        Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(Fixtures.Ipv6[0], Fixtures.Sequence + 1, All, out _, out _));
    }

    [Fact]
    public void DumpInterruptedFlag_IsReported()
    {
        byte[] datagram = (byte[])Fixtures.Ipv6[0].Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(datagram.AsSpan(6), NetlinkConstants.FlagMulti | NetlinkConstants.FlagDumpInterrupted);

        var connections = DumpParser.ParseDatagram(datagram, Fixtures.Sequence, All, out _, out bool interrupted);
        Assert.Single(connections);
        Assert.True(interrupted);
    }

    [Fact]
    public void KernelError_BecomesTheErrnoException()
    {
        // NLMSG_ERROR, error -EACCES, echoing a 72-byte request header (NLM_F_CAPPED: payload not echoed).
        var datagram = new byte[16 + 4 + 16];
        new NetlinkHeader((uint)datagram.Length, NetlinkConstants.MessageError, NetlinkConstants.FlagCapped, Fixtures.Sequence, 0).Write(datagram);
        BinaryPrimitives.WriteInt32LittleEndian(datagram.AsSpan(16), -13);
        BinaryPrimitives.WriteUInt32LittleEndian(datagram.AsSpan(20), 72);

        var error = Assert.Throws<KeepalivePermissionException>(() => DumpParser.ParseDatagram(datagram, Fixtures.Sequence, All, out _, out _));
        Assert.Equal("NetlinkPermissionDenied", error.ErrorId);
        Assert.Equal(13, error.Errno);
    }

    [Fact]
    public void ExtendedAckMessage_IsInTheError()
    {
        byte[] text = "bad request\0"u8.ToArray();
        var datagram = new byte[16 + 4 + 16 + 4 + text.Length];
        new NetlinkHeader((uint)datagram.Length, NetlinkConstants.MessageError, NetlinkConstants.FlagCapped | NetlinkConstants.FlagAckTlvs, 1, 0).Write(datagram);
        BinaryPrimitives.WriteInt32LittleEndian(datagram.AsSpan(16), -22);
        BinaryPrimitives.WriteUInt32LittleEndian(datagram.AsSpan(20), 72);
        BinaryPrimitives.WriteUInt16LittleEndian(datagram.AsSpan(36), (ushort)(4 + text.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(datagram.AsSpan(38), NetlinkConstants.ErrorAttributeMessage);
        text.CopyTo(datagram.AsSpan(40));

        var reader = new NetlinkMessageReader(datagram);
        Assert.True(reader.TryRead(out NetlinkMessage message));
        NetlinkError error = NetlinkError.Decode(message.Payload, message.Header.Flags);
        Assert.Equal(22, error.Errno);
        Assert.Equal("bad request", error.ExtendedMessage);
    }

    [Fact]
    public void OneWalkFixture_HoldsBothFamilies_InMessagesOfTheRequestsType()
    {
        byte[][] datagrams = Fixtures.OneWalk;
        var connections = DumpParser.ParseDatagram(datagrams[0], Fixtures.Sequence, new TcpConnectionQuery(), out bool done, out _, InetDiag.TcpDiagGetSock);

        Assert.False(done);
        Assert.Equal(6, connections.Count);
        Assert.Equal(5, connections.Count(c => c.AddressFamily == "IPv4" && c.LocalAddress == "127.0.0.1"));
        var listener6 = Assert.Single(connections, c => c.AddressFamily == "IPv6");
        Assert.Equal(("::1", 40002, TcpState.Listen), (listener6.LocalAddress, listener6.LocalPort, listener6.State));
        Assert.Equal(2, connections.Count(c => c.State == TcpState.Listen));
        Assert.Single(connections, c => c.Timer == TcpTimer.Keepalive && c.RemotePort == 40001);
        Assert.Equal(6, connections.Select(c => c.Cookie).Distinct().Count());

        Assert.Empty(DumpParser.ParseDatagram(datagrams[1], Fixtures.Sequence, All, out done, out _, InetDiag.TcpDiagGetSock));
        Assert.True(done);
    }

    [Fact]
    public void MessagesOfTheOtherRequestType_AreInvalidData()
    {
        // A one-walk dump answers in TCPDIAG_GETSOCK messages, a per-family dump in SOCK_DIAG_BY_FAMILY ones, never mixed.
        Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(Fixtures.OneWalk[0], Fixtures.Sequence, All, out _, out _));
        Assert.Throws<KeepaliveDataException>(() => DumpParser.ParseDatagram(Fixtures.Ipv6[0], Fixtures.Sequence, All, out _, out _, InetDiag.TcpDiagGetSock));
    }

    [Fact]
    public void Refusal_IsAnErrorAnsweringTheRequest_BeforeAnySocket()
    {
        var refused = new byte[16 + 4 + 16];
        new NetlinkHeader((uint)refused.Length, NetlinkConstants.MessageError, NetlinkConstants.FlagCapped, Fixtures.Sequence, 0).Write(refused);
        BinaryPrimitives.WriteInt32LittleEndian(refused.AsSpan(16), -22);
        var acknowledged = (byte[])refused.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(acknowledged.AsSpan(16), 0);

        Assert.True(DumpParser.IsRefusal(refused, Fixtures.Sequence));
        Assert.False(DumpParser.IsRefusal(refused, Fixtures.Sequence + 1));
        Assert.False(DumpParser.IsRefusal(acknowledged, Fixtures.Sequence));
        Assert.False(DumpParser.IsRefusal(Fixtures.OneWalk[0], Fixtures.Sequence));
        Assert.False(DumpParser.IsRefusal(Fixtures.OneWalk[1], Fixtures.Sequence));
    }

    [Fact]
    public void OneWalkRequest_IsAnInetDiagReq_WithTheFilterAttribute()
    {
        var request = new byte[InetDiag.MaxDumpRequestLength];
        byte[] program = InetDiag.PortFilter(22, 443);

        int length = InetDiag.WriteOneWalkDumpRequest(request, 1u << (int)TcpState.Established, withInfo: true, sequence: 5, program);

        Assert.Equal(InetDiag.MaxDumpRequestLength, length);
        var reader = new NetlinkMessageReader(request.AsSpan(0, length));
        Assert.True(reader.TryRead(out NetlinkMessage message));
        Assert.Equal(new NetlinkHeader((uint)length, InetDiag.TcpDiagGetSock, NetlinkConstants.FlagRequest | NetlinkConstants.FlagDump, 5, 0), message.Header);
        Assert.Equal(new byte[] { InetDiag.AfInet, 0, 0, InetDiag.ExtensionInfo }, message.Payload[..4].ToArray());
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(message.Payload[InetDiag.OneWalkRequestStates..]));
        var attributes = new NetlinkAttributeReader(message.Payload[InetDiag.OneWalkRequestLength..], "request");
        Assert.True(attributes.TryRead(out NetlinkAttribute bytecode));
        Assert.Equal(InetDiag.RequestAttributeBytecode, bytecode.Type);
        Assert.Equal(program, bytecode.Value.ToArray());
        Assert.False(attributes.TryRead(out _));
    }

    [Fact]
    public void DumpRequest_RoundTripsThroughTheReader()
    {
        var request = new byte[InetDiag.RequestMessageLength];
        int length = InetDiag.WriteDumpRequest(request, InetDiag.AfInet6, 1u << (int)TcpState.Established, withInfo: true, sequence: 99);

        Assert.Equal(72, length);
        var reader = new NetlinkMessageReader(request);
        Assert.True(reader.TryRead(out NetlinkMessage message));
        Assert.Equal(new NetlinkHeader(72, InetDiag.SockDiagByFamily, NetlinkConstants.FlagRequest | NetlinkConstants.FlagDump, 99, 0), message.Header);
        Assert.Equal(new byte[] { InetDiag.AfInet6, InetDiag.IpProtoTcp, InetDiag.ExtensionInfo, 0, 2, 0, 0, 0 }, message.Payload[..8].ToArray());
        Assert.False(reader.TryRead(out _));
    }

    [Fact]
    public void SocketId_RoundTrips()
    {
        var id = new InetDiagSocketId { SourcePort = 40001, DestinationPort = 443, Interface = 3, Cookie = 0x1122334455667788 };
        new byte[] { 127, 0, 0, 1 }.CopyTo(id.Source);
        new byte[] { 10, 1, 2, 3 }.CopyTo(id.Destination);
        var bytes = new byte[InetDiag.SocketIdLength];

        id.Write(bytes);
        InetDiagSocketId back = InetDiagSocketId.Read(bytes);

        Assert.Equal(new byte[] { 0x9c, 0x41 }, bytes[..2]);
        Assert.Equal(id.SourcePort, back.SourcePort);
        Assert.Equal(id.DestinationPort, back.DestinationPort);
        Assert.Equal(id.Interface, back.Interface);
        Assert.Equal(id.Cookie, back.Cookie);
        Assert.True(((ReadOnlySpan<byte>)back.Source).SequenceEqual(id.Source));
        Assert.True(((ReadOnlySpan<byte>)back.Destination).SequenceEqual(id.Destination));
    }

    private static HashSet<int> MessageBoundaries(byte[] datagram)
    {
        var boundaries = new HashSet<int>();
        for (int offset = 0; offset < datagram.Length;)
        {
            offset += NetlinkConstants.Align((int)BinaryPrimitives.ReadUInt32LittleEndian(datagram.AsSpan(offset)));
            boundaries.Add(offset);
        }

        return boundaries;
    }
}
