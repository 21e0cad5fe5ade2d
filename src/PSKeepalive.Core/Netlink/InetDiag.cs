using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PSKeepalive.Core.Errors;

namespace PSKeepalive.Core.Netlink;

/// <summary>
/// Layout of linux/sock_diag.h and linux/inet_diag.h (sizes and offsets checked against the C headers by
/// a test that compiles a small C program), and of the struct tcp_info fields read (linux/tcp.h).
/// </summary>
public static class InetDiag
{
    /// <summary>SOCK_DIAG_BY_FAMILY: the request type of inet_diag_req_v2 dumps and of SOCK_DESTROY's sibling.</summary>
    public const ushort SockDiagByFamily = 20;

    /// <summary>
    /// TCPDIAG_GETSOCK: the request type of the original inet_diag interface (struct inet_diag_req). The kernel
    /// still answers it (inet_diag_rcv_msg_compat) and dumps it with the family AF_UNSPEC: one walk of the TCP
    /// tables yields both IPv4 and IPv6 sockets, where SOCK_DIAG_BY_FAMILY walks every table once per family.
    /// Replies carry this type.
    /// </summary>
    public const ushort TcpDiagGetSock = 18;

    /// <summary>SOCK_DESTROY: closes a socket by its id (needs CAP_NET_ADMIN; CONFIG_INET_DIAG_DESTROY).</summary>
    public const ushort SockDestroy = 21;

    /// <summary>AF_UNSPEC: no family; here, the one-walk dump of both families (see <see cref="TcpDiagGetSock"/>).</summary>
    public const byte AfUnspec = 0;

    public const byte AfInet = 2;
    public const byte AfInet6 = 10;
    public const byte IpProtoTcp = 6;

    /// <summary>INET_DIAG_INFO: the attribute carrying struct tcp_info.</summary>
    public const ushort AttributeInfo = 2;

    /// <summary>idiag_ext bit asking for INET_DIAG_INFO: 1 &lt;&lt; (INET_DIAG_INFO - 1).</summary>
    public const byte ExtensionInfo = 1 << (AttributeInfo - 1);

    /// <summary>sizeof(struct inet_diag_sockid).</summary>
    public const int SocketIdLength = 48;

    /// <summary>sizeof(struct inet_diag_req_v2).</summary>
    public const int RequestLength = 8 + SocketIdLength;

    /// <summary>sizeof(struct inet_diag_req): family, src_len, dst_len, ext, id, states, dbs.</summary>
    public const int OneWalkRequestLength = 4 + SocketIdLength + 8;

    /// <summary>Offset of idiag_states in struct inet_diag_req.</summary>
    public const int OneWalkRequestStates = 4 + SocketIdLength;

    /// <summary>sizeof(struct inet_diag_msg).</summary>
    public const int MessageLength = 4 + SocketIdLength + 20;

    /// <summary>A whole dump request: nlmsghdr + inet_diag_req_v2.</summary>
    public const int RequestMessageLength = NetlinkConstants.HeaderLength + RequestLength;

    // Offsets in struct inet_diag_sockid.
    public const int SocketIdSourcePort = 0;
    public const int SocketIdDestinationPort = 2;
    public const int SocketIdSource = 4;
    public const int SocketIdDestination = 20;
    public const int SocketIdInterface = 36;
    public const int SocketIdCookie = 40;

    // Offsets in struct inet_diag_msg.
    public const int MessageFamily = 0;
    public const int MessageState = 1;
    public const int MessageTimer = 2;
    public const int MessageRetrans = 3;
    public const int MessageSocketId = 4;
    public const int MessageExpires = 52;
    public const int MessageReceiveQueue = 56;
    public const int MessageSendQueue = 60;
    public const int MessageUid = 64;
    public const int MessageInode = 68;

    // Offsets in struct tcp_info of the fields read (all __u32 but tcpi_retransmits, a __u8).
    public const int TcpInfoRetransmits = 2;
    public const int TcpInfoUnacked = 24;
    public const int TcpInfoLastDataSent = 44;
    public const int TcpInfoLastDataReceived = 52;
    public const int TcpInfoRtt = 68;
    public const int TcpInfoRttVariance = 72;
    public const int TcpInfoTotalRetransmits = 100;

    /// <summary>The bytes of tcp_info needed for every field read (tcpi_total_retrans ends at 104).</summary>
    public const int TcpInfoMinimumLength = TcpInfoTotalRetransmits + 4;

    /// <summary>idiag_states bits of the eleven TCP states (1 &lt;&lt; TCP_ESTABLISHED ... 1 &lt;&lt; TCP_CLOSING).</summary>
    public const uint AllStates = 0xffe;

    /// <summary>INET_DIAG_REQ_BYTECODE: the request attribute carrying a filter program.</summary>
    public const ushort RequestAttributeBytecode = 1;

    // inet_diag_bc_op codes (linux/inet_diag.h) used by the port filter.
    public const byte BytecodeSourceGreaterOrEqual = 2;
    public const byte BytecodeSourceLessOrEqual = 3;
    public const byte BytecodeDestinationGreaterOrEqual = 4;
    public const byte BytecodeDestinationLessOrEqual = 5;

    /// <summary>sizeof(struct inet_diag_bc_op).</summary>
    public const int BytecodeOpLength = 4;

    /// <summary>A dump request of either kind (the one-walk request is 4 bytes longer) with a filter on one source and one destination port (a longer program needs <see cref="DumpRequestLength"/>).</summary>
    public const int MaxDumpRequestLength = NetlinkConstants.HeaderLength + OneWalkRequestLength + NetlinkConstants.AttributeHeaderLength + (8 * BytecodeOpLength);

    /// <summary>
    /// A filter program for the kernel (INET_DIAG_REQ_BYTECODE) keeping sockets whose source (local) and/or
    /// destination (remote) port equal the given ones, so that non-matching sockets are never sent: each equality is
    /// "port &gt;= P" then "port &lt;= P" (ops supported by every kernel with inet_diag). Empty when no port is given.
    /// Several ports per side: <see cref="InetDiagBytecode.PortFilter"/>.
    /// </summary>
    public static byte[] PortFilter(int? sourcePort, int? destinationPort) =>
        InetDiagBytecode.PortFilter(sourcePort is int s ? [s] : null, destinationPort is int d ? [d] : null);

    /// <summary>The bytes a dump request of either kind needs with a filter program of <paramref name="bytecodeLength"/> bytes (room for the longer, one-walk request).</summary>
    public static int DumpRequestLength(int bytecodeLength) =>
        NetlinkConstants.HeaderLength + OneWalkRequestLength + (bytecodeLength == 0 ? 0 : NetlinkConstants.AlignAttribute(NetlinkConstants.AttributeHeaderLength + bytecodeLength));

    /// <summary>
    /// Writes a TCPDIAG_GETSOCK dump request (see <see cref="TcpDiagGetSock"/>): every TCP socket of both families
    /// in the states of <paramref name="states"/>, in one walk of the kernel's tables, with tcp_info when
    /// <paramref name="withInfo"/> and the kernel filter <paramref name="bytecode"/> (see <see cref="PortFilter"/>)
    /// when not empty. Returns the bytes written.
    /// </summary>
    public static int WriteOneWalkDumpRequest(Span<byte> destination, uint states, bool withInfo, uint sequence, ReadOnlySpan<byte> bytecode)
    {
        const int length = NetlinkConstants.HeaderLength + OneWalkRequestLength;
        if (destination.Length < length)
        {
            throw new ArgumentException($"An inet_diag_req dump request needs {length} bytes.", nameof(destination));
        }

        Span<byte> message = destination.Slice(0, length);
        message.Clear();
        new NetlinkHeader(length, TcpDiagGetSock, NetlinkConstants.FlagRequest | NetlinkConstants.FlagDump, sequence, 0).Write(message);
        Span<byte> request = message.Slice(NetlinkConstants.HeaderLength);
        request[0] = AfInet; // idiag_family: ignored by the dump (the kernel walks both families), AF_INET as ss once sent
        request[3] = withInfo ? ExtensionInfo : (byte)0;
        MemoryMarshal.Write(request.Slice(OneWalkRequestStates), states);
        return AppendBytecode(destination, length, bytecode);
    }

    /// <summary>As <see cref="WriteDumpRequest(Span{byte}, byte, uint, bool, uint)"/>, with a kernel filter program appended (see <see cref="PortFilter"/>).</summary>
    public static int WriteDumpRequest(Span<byte> destination, byte family, uint states, bool withInfo, uint sequence, ReadOnlySpan<byte> bytecode) =>
        AppendBytecode(destination, WriteDumpRequest(destination, family, states, withInfo, sequence), bytecode);

    /// <summary>Appends INET_DIAG_REQ_BYTECODE after the <paramref name="written"/> bytes of a request and fixes nlmsg_len.</summary>
    private static int AppendBytecode(Span<byte> destination, int written, ReadOnlySpan<byte> bytecode)
    {
        if (bytecode.IsEmpty)
        {
            return written;
        }

        int attributeLength = NetlinkConstants.AttributeHeaderLength + bytecode.Length;
        int total = written + NetlinkConstants.AlignAttribute(attributeLength);
        if (destination.Length < total)
        {
            throw new ArgumentException($"The request with its filter needs {total} bytes.", nameof(destination));
        }

        Span<byte> attribute = destination.Slice(written, total - written);
        attribute.Clear();
        MemoryMarshal.Write(attribute, (ushort)attributeLength);
        MemoryMarshal.Write(attribute.Slice(2), RequestAttributeBytecode);
        bytecode.CopyTo(attribute.Slice(NetlinkConstants.AttributeHeaderLength));
        MemoryMarshal.Write(destination, (uint)total); // nlmsg_len now covers the attribute
        return total;
    }

    /// <summary>
    /// Writes a SOCK_DIAG_BY_FAMILY dump request for TCP sockets of <paramref name="family"/> in the states of
    /// <paramref name="states"/> (bit 1 &lt;&lt; state), asking for tcp_info when <paramref name="withInfo"/>.
    /// Returns the bytes written (<see cref="RequestMessageLength"/>).
    /// </summary>
    public static int WriteDumpRequest(Span<byte> destination, byte family, uint states, bool withInfo, uint sequence) =>
        WriteRequest(destination, SockDiagByFamily, NetlinkConstants.FlagRequest | NetlinkConstants.FlagDump, sequence, family, states, withInfo ? ExtensionInfo : (byte)0, default);

    /// <summary>
    /// Writes any inet_diag_req_v2 request for TCP: a dump (flags with NLM_F_DUMP), a single-socket query or a
    /// SOCK_DESTROY (with <paramref name="socketId"/> naming the socket exactly, cookie included).
    /// </summary>
    public static int WriteRequest(Span<byte> destination, ushort type, ushort flags, uint sequence, byte family, uint states, byte extensions, in InetDiagSocketId socketId)
    {
        if (destination.Length < RequestMessageLength)
        {
            throw new ArgumentException($"An inet_diag request needs {RequestMessageLength} bytes.", nameof(destination));
        }

        Span<byte> message = destination.Slice(0, RequestMessageLength);
        message.Clear();
        new NetlinkHeader(RequestMessageLength, type, flags, sequence, 0).Write(message);
        Span<byte> request = message.Slice(NetlinkConstants.HeaderLength);
        request[0] = family;
        request[1] = IpProtoTcp;
        request[2] = extensions;
        MemoryMarshal.Write(request.Slice(4), states);
        socketId.Write(request.Slice(8, SocketIdLength));
        return RequestMessageLength;
    }

    /// <summary>
    /// Decodes one SOCK_DIAG_BY_FAMILY reply payload (struct inet_diag_msg, then attributes). Lengths are
    /// checked before use; a short message, a lying attribute length or an address family other than
    /// AF_INET/AF_INET6 raises <see cref="KeepaliveDataException"/>.
    /// </summary>
    public static InetDiagMessage Decode(ReadOnlySpan<byte> payload) => Decode(payload, readAttributes: true);

    /// <summary>
    /// As <see cref="Decode(ReadOnlySpan{byte})"/>; with <paramref name="readAttributes"/> false the attributes
    /// after the fixed part are not walked (a dump without tcp_info: the kernel's other attributes, shutdown,
    /// cgroup, socket options, are not read, so neither decoded nor checked).
    /// </summary>
    public static InetDiagMessage Decode(ReadOnlySpan<byte> payload, bool readAttributes)
    {
        if (payload.Length < MessageLength)
        {
            throw NetlinkReader.Short("inet_diag_msg", "the fixed part", MessageLength, payload.Length);
        }

        byte family = payload[MessageFamily];
        if (family != AfInet && family != AfInet6)
        {
            throw new KeepaliveDataException(NetlinkSocket.Subject, $"Malformed netlink data: inet_diag_msg has address family {family}, not AF_INET (2) or AF_INET6 (10).", family);
        }

        var message = new InetDiagMessage
        {
            Family = family,
            State = payload[MessageState],
            Timer = payload[MessageTimer],
            Retrans = payload[MessageRetrans],
            SocketId = InetDiagSocketId.Read(payload.Slice(MessageSocketId, SocketIdLength)),
            Expires = MemoryMarshal.Read<uint>(payload.Slice(MessageExpires)),
            ReceiveQueue = MemoryMarshal.Read<uint>(payload.Slice(MessageReceiveQueue)),
            SendQueue = MemoryMarshal.Read<uint>(payload.Slice(MessageSendQueue)),
            Uid = MemoryMarshal.Read<uint>(payload.Slice(MessageUid)),
            Inode = MemoryMarshal.Read<uint>(payload.Slice(MessageInode)),
        };

        if (!readAttributes)
        {
            return message;
        }

        // Attributes start at NLMSG_ALIGN(sizeof(inet_diag_msg)); 72 is already aligned.
        var attributes = new NetlinkAttributeReader(payload.Slice(MessageLength), "inet_diag_msg");
        while (attributes.TryRead(out NetlinkAttribute attribute))
        {
            if (attribute.Type == AttributeInfo)
            {
                message.Info = TcpInfoFields.Read(attribute.Value);
            }
        }

        return message;
    }
}

/// <summary>The fixed part of struct inet_diag_msg (raw values) plus the tcp_info fields when the kernel sent them.</summary>
public struct InetDiagMessage
{
    public byte Family;
    public byte State;
    public byte Timer;
    public byte Retrans;
    public InetDiagSocketId SocketId;
    public uint Expires;
    public uint ReceiveQueue;
    public uint SendQueue;
    public uint Uid;
    public uint Inode;
    public TcpInfoFields? Info;
}

/// <summary>
/// The struct tcp_info fields PSKeepalive reads. Times are as the kernel gives them: RTT in microseconds,
/// last-data times in milliseconds. A tcp_info shorter than a field (an older kernel) leaves it null.
/// </summary>
public readonly record struct TcpInfoFields(byte Retransmits, uint? Unacked, uint? LastDataSentMs, uint? LastDataReceivedMs, uint? RttMicroseconds, uint? RttVarianceMicroseconds, uint? TotalRetransmits)
{
    public static TcpInfoFields Read(ReadOnlySpan<byte> value)
    {
        if (value.Length < InetDiag.TcpInfoRetransmits + 1)
        {
            throw NetlinkReader.Short("INET_DIAG_INFO (struct tcp_info)", "tcpi_retransmits", InetDiag.TcpInfoRetransmits + 1, value.Length);
        }

        return new TcpInfoFields(
            value[InetDiag.TcpInfoRetransmits],
            U32(value, InetDiag.TcpInfoUnacked),
            U32(value, InetDiag.TcpInfoLastDataSent),
            U32(value, InetDiag.TcpInfoLastDataReceived),
            U32(value, InetDiag.TcpInfoRtt),
            U32(value, InetDiag.TcpInfoRttVariance),
            U32(value, InetDiag.TcpInfoTotalRetransmits));
    }

    private static uint? U32(ReadOnlySpan<byte> value, int offset) =>
        value.Length >= offset + 4 ? MemoryMarshal.Read<uint>(value.Slice(offset)) : null;
}

/// <summary>16 address bytes in network order (an IPv4 address uses the first 4).</summary>
[InlineArray(16)]
public struct AddressBytes
{
    private byte _element0;
}

/// <summary>struct inet_diag_sockid: ports (host order here), addresses (network order), interface and cookie.</summary>
public struct InetDiagSocketId
{
    public ushort SourcePort;
    public ushort DestinationPort;
    public AddressBytes Source;
    public AddressBytes Destination;
    public uint Interface;

    /// <summary>The kernel's socket cookie (idiag_cookie[0] | idiag_cookie[1] &lt;&lt; 32); ~0 in a request means "any".</summary>
    public ulong Cookie;

    public static InetDiagSocketId Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < InetDiag.SocketIdLength)
        {
            throw NetlinkReader.Short("inet_diag_sockid", "the socket id", InetDiag.SocketIdLength, bytes.Length);
        }

        var id = new InetDiagSocketId
        {
            SourcePort = BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(InetDiag.SocketIdSourcePort)),
            DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(InetDiag.SocketIdDestinationPort)),
            Interface = MemoryMarshal.Read<uint>(bytes.Slice(InetDiag.SocketIdInterface)),
            Cookie = MemoryMarshal.Read<uint>(bytes.Slice(InetDiag.SocketIdCookie)) | ((ulong)MemoryMarshal.Read<uint>(bytes.Slice(InetDiag.SocketIdCookie + 4)) << 32),
        };
        bytes.Slice(InetDiag.SocketIdSource, 16).CopyTo(id.Source);
        bytes.Slice(InetDiag.SocketIdDestination, 16).CopyTo(id.Destination);
        return id;
    }

    public readonly void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt16BigEndian(bytes.Slice(InetDiag.SocketIdSourcePort), SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.Slice(InetDiag.SocketIdDestinationPort), DestinationPort);
        ((ReadOnlySpan<byte>)Source).CopyTo(bytes.Slice(InetDiag.SocketIdSource, 16));
        ((ReadOnlySpan<byte>)Destination).CopyTo(bytes.Slice(InetDiag.SocketIdDestination, 16));
        MemoryMarshal.Write(bytes.Slice(InetDiag.SocketIdInterface), Interface);
        MemoryMarshal.Write(bytes.Slice(InetDiag.SocketIdCookie), (uint)Cookie);
        MemoryMarshal.Write(bytes.Slice(InetDiag.SocketIdCookie + 4), (uint)(Cookie >> 32));
    }
}
