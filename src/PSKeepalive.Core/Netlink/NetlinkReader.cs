using System;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using PSKeepalive.Core.Errors;

namespace PSKeepalive.Core.Netlink;

/// <summary>
/// A bounds-checked cursor over bytes from the kernel. Every read checks that the bytes exist first and
/// reports a short buffer as <see cref="KeepaliveDataException"/> (subject "Netlink") naming what was
/// being read, so that no malformed input ever surfaces as IndexOutOfRangeException.
/// Host byte order unless the method says big-endian (network order: ports and addresses).
/// </summary>
public ref struct NetlinkReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _what;
    private int _position;

    public NetlinkReader(ReadOnlySpan<byte> data, string what)
    {
        _data = data;
        _what = what;
        _position = 0;
    }

    public readonly int Position => _position;

    public readonly int Remaining => _data.Length - _position;

    public readonly ReadOnlySpan<byte> Rest => _data.Slice(_position);

    public byte ReadByte(string field) => Take(1, field)[0];

    public ushort ReadUInt16(string field) => MemoryMarshal.Read<ushort>(Take(2, field));

    public ushort ReadUInt16BigEndian(string field) => BinaryPrimitives.ReadUInt16BigEndian(Take(2, field));

    public uint ReadUInt32(string field) => MemoryMarshal.Read<uint>(Take(4, field));

    public int ReadInt32(string field) => MemoryMarshal.Read<int>(Take(4, field));

    public ReadOnlySpan<byte> ReadBytes(int count, string field) => Take(count, field);

    public void Skip(int count, string field) => Take(count, field);

    private ReadOnlySpan<byte> Take(int count, string field)
    {
        if (count < 0 || count > Remaining)
        {
            throw Short(_what, field, count, Remaining);
        }

        ReadOnlySpan<byte> slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }

    internal static KeepaliveDataException Short(string what, string field, int needed, int available) =>
        new(NetlinkSocket.Subject, $"Malformed netlink data: {what} is too short for {field} (needs {needed} bytes, {available} left).", what);
}
