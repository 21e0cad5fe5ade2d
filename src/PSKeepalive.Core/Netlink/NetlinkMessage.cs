using System;
using System.Runtime.InteropServices;
using System.Text;
using PSKeepalive.Core.Errors;

namespace PSKeepalive.Core.Netlink;

/// <summary>struct nlmsghdr, as read from the kernel.</summary>
public readonly record struct NetlinkHeader(uint Length, ushort Type, ushort Flags, uint Sequence, uint PortId)
{
    /// <summary>Writes a header at the start of <paramref name="destination"/> (at least 16 bytes).</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < NetlinkConstants.HeaderLength)
        {
            throw new ArgumentException("A netlink header needs 16 bytes.", nameof(destination));
        }

        MemoryMarshal.Write(destination, Length);
        MemoryMarshal.Write(destination.Slice(4), Type);
        MemoryMarshal.Write(destination.Slice(6), Flags);
        MemoryMarshal.Write(destination.Slice(8), Sequence);
        MemoryMarshal.Write(destination.Slice(12), PortId);
    }
}

/// <summary>One netlink message: its header and the payload that follows it (header excluded, padding excluded).</summary>
public readonly ref struct NetlinkMessage
{
    public NetlinkMessage(NetlinkHeader header, ReadOnlySpan<byte> payload)
    {
        Header = header;
        Payload = payload;
    }

    public NetlinkHeader Header { get; }

    public ReadOnlySpan<byte> Payload { get; }
}

/// <summary>
/// Walks the messages of one datagram as NLMSG_OK/NLMSG_NEXT do, but refuses, instead of stopping
/// silently, a header that does not fit, a length shorter than the header, a length that runs past the
/// datagram, and trailing bytes too short to be a message.
/// </summary>
public ref struct NetlinkMessageReader
{
    private ReadOnlySpan<byte> _rest;

    public NetlinkMessageReader(ReadOnlySpan<byte> datagram)
    {
        _rest = datagram;
    }

    /// <summary>Reads the next message; false at the end of the datagram.</summary>
    public bool TryRead(out NetlinkMessage message)
    {
        if (_rest.IsEmpty)
        {
            message = default;
            return false;
        }

        if (_rest.Length < NetlinkConstants.HeaderLength)
        {
            throw new KeepaliveDataException(
                NetlinkSocket.Subject,
                $"Malformed netlink data: {_rest.Length} trailing bytes are too short for a message header (16 bytes).");
        }

        // 16 bytes are there (checked above): read struct nlmsghdr's fields directly.
        uint length = MemoryMarshal.Read<uint>(_rest);
        ushort type = MemoryMarshal.Read<ushort>(_rest.Slice(4));
        ushort flags = MemoryMarshal.Read<ushort>(_rest.Slice(6));
        uint sequence = MemoryMarshal.Read<uint>(_rest.Slice(8));
        uint portId = MemoryMarshal.Read<uint>(_rest.Slice(12));
        if (length < NetlinkConstants.HeaderLength || length > (uint)_rest.Length)
        {
            throw new KeepaliveDataException(
                NetlinkSocket.Subject,
                $"Malformed netlink data: nlmsg_len {length} is outside 16..{_rest.Length} (the bytes left in the datagram).",
                length);
        }

        var header = new NetlinkHeader(length, type, flags, sequence, portId);
        message = new NetlinkMessage(header, _rest.Slice(NetlinkConstants.HeaderLength, (int)length - NetlinkConstants.HeaderLength));

        // The next message starts at NLMSG_ALIGN(len); the last one may end without its padding.
        int next = NetlinkConstants.Align((int)length);
        _rest = next >= _rest.Length ? ReadOnlySpan<byte>.Empty : _rest.Slice(next);
        return true;
    }
}

/// <summary>struct rtattr (nlattr): one type-length-value attribute.</summary>
public readonly ref struct NetlinkAttribute
{
    public NetlinkAttribute(ushort type, ReadOnlySpan<byte> value)
    {
        Type = type;
        Value = value;
    }

    /// <summary>rta_type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits.</summary>
    public ushort Type { get; }

    public ReadOnlySpan<byte> Value { get; }
}

/// <summary>Walks attributes as RTA_OK/RTA_NEXT do, refusing lengths shorter than the header or past the end.</summary>
public ref struct NetlinkAttributeReader
{
    private const ushort TypeMask = 0x3fff;
    private readonly string _what;
    private ReadOnlySpan<byte> _rest;

    public NetlinkAttributeReader(ReadOnlySpan<byte> attributes, string what)
    {
        _rest = attributes;
        _what = what;
    }

    public bool TryRead(out NetlinkAttribute attribute)
    {
        if (_rest.IsEmpty)
        {
            attribute = default;
            return false;
        }

        if (_rest.Length < NetlinkConstants.AttributeHeaderLength)
        {
            throw new KeepaliveDataException(
                NetlinkSocket.Subject,
                $"Malformed netlink data: {_rest.Length} trailing bytes after the attributes of {_what} are too short for an attribute header (4 bytes).");
        }

        ushort length = MemoryMarshal.Read<ushort>(_rest);
        ushort type = MemoryMarshal.Read<ushort>(_rest.Slice(2));
        if (length < NetlinkConstants.AttributeHeaderLength || length > _rest.Length)
        {
            throw new KeepaliveDataException(
                NetlinkSocket.Subject,
                $"Malformed netlink data: attribute {type & TypeMask} of {_what} has length {length}, outside 4..{_rest.Length} (the bytes left).",
                length);
        }

        attribute = new NetlinkAttribute((ushort)(type & TypeMask), _rest.Slice(NetlinkConstants.AttributeHeaderLength, length - NetlinkConstants.AttributeHeaderLength));
        int next = NetlinkConstants.AlignAttribute(length);
        _rest = next >= _rest.Length ? ReadOnlySpan<byte>.Empty : _rest.Slice(next);
        return true;
    }
}

/// <summary>
/// struct nlmsgerr: the kernel's answer to a failed request, or the acknowledgement (error 0) of one; also the
/// status that ends a dump (NLMSG_DONE's int: 0, or the errno of a dump that failed midway).
/// </summary>
public readonly record struct NetlinkError(int Errno, string? ExtendedMessage)
{
    /// <summary>Decodes the payload of an NLMSG_ERROR message (its header's flags say whether ack TLVs follow).</summary>
    public static NetlinkError Decode(ReadOnlySpan<byte> payload, ushort flags)
    {
        var reader = new NetlinkReader(payload, "NLMSG_ERROR payload");
        int error = reader.ReadInt32("error");
        if (error > 0 || error == int.MinValue)
        {
            throw new KeepaliveDataException(NetlinkSocket.Subject, $"Malformed netlink data: NLMSG_ERROR carries {error}, not 0 or a negative errno.", error);
        }

        // The echoed request: its header always; its payload too unless NLM_F_CAPPED.
        uint echoedLength = MemoryMarshal.Read<uint>(reader.ReadBytes(NetlinkConstants.HeaderLength, "the echoed request header"));
        if ((flags & NetlinkConstants.FlagCapped) == 0 && echoedLength > NetlinkConstants.HeaderLength)
        {
            int echoedPayload = (int)Math.Min(echoedLength - NetlinkConstants.HeaderLength, int.MaxValue - 8);
            reader.Skip(echoedPayload, "the echoed request payload");
            reader.Skip(Math.Min(NetlinkConstants.Align(echoedPayload) - echoedPayload, reader.Remaining), "padding");
        }

        string? message = (flags & NetlinkConstants.FlagAckTlvs) != 0 ? ExtendedText(reader.Rest, "NLMSG_ERROR") : null;
        return new NetlinkError(-error, message);
    }

    /// <summary>
    /// Decodes the payload of an NLMSG_DONE: the int that ends a dump, 0 when it completed and -errno when it
    /// failed midway (netlink_dump_done), then with NLM_F_ACK_TLVS the kernel's text. An empty payload (very old
    /// kernels) is a clean end; a positive value or a payload too short for its int is malformed.
    /// </summary>
    public static NetlinkError DecodeDone(ReadOnlySpan<byte> payload, ushort flags)
    {
        if (payload.IsEmpty)
        {
            return new NetlinkError(0, null);
        }

        var reader = new NetlinkReader(payload, "NLMSG_DONE payload");
        int error = reader.ReadInt32("the dump's end status");
        if (error > 0 || error == int.MinValue)
        {
            throw new KeepaliveDataException(NetlinkSocket.Subject, $"Malformed netlink data: NLMSG_DONE carries {error}, not 0 or a negative errno.", error);
        }

        return new NetlinkError(-error, (flags & NetlinkConstants.FlagAckTlvs) != 0 ? ExtendedText(reader.Rest, "NLMSG_DONE") : null);
    }

    private static string? ExtendedText(ReadOnlySpan<byte> attributesBytes, string what)
    {
        string? message = null;
        var attributes = new NetlinkAttributeReader(attributesBytes, what);
        while (attributes.TryRead(out NetlinkAttribute attribute))
        {
            if (attribute.Type == NetlinkConstants.ErrorAttributeMessage)
            {
                ReadOnlySpan<byte> text = attribute.Value;
                int end = text.IndexOf((byte)0);
                message = Encoding.UTF8.GetString(end >= 0 ? text.Slice(0, end) : text);
            }
        }

        return message;
    }
}
