using System;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace PSKeepalive.Core.Processes;

/// <summary>
/// The kernel's own type information (BTF, /sys/kernel/btf/vmlinux): type ids of functions and the offsets
/// and sizes of struct members, so that a BPF program reads this kernel's structs at this kernel's offsets
/// (the verifier checks every such read against the same BTF). Read once into native memory, walked, freed;
/// lengths are checked before use and anything malformed or unexpected makes the lookups fail, never guess.
/// Layout: linux/btf.h (struct btf_header, struct btf_type and the kind-specific data after it).
/// </summary>
internal sealed unsafe class KernelBtf : IDisposable
{
    public const string VmlinuxPath = "/sys/kernel/btf/vmlinux";

    public const int KindInt = 1;
    public const int KindPointer = 2;
    public const int KindStruct = 4;
    public const int KindEnum = 6;
    public const int KindTypedef = 8;
    public const int KindVolatile = 9;
    public const int KindConst = 10;
    public const int KindRestrict = 11;
    public const int KindFunction = 12;
    public const int KindTypeTag = 18;

    private const ushort Magic = 0xeb9f;
    private const int HeaderLength = 24;
    private const int TypeLength = 12;
    private const int MaxFileLength = 256 << 20;

    private byte* _data;
    private readonly int _stringsStart;
    private readonly int _stringsLength;
    private int* _offsets; // type id -> offset of its struct btf_type in _data (id 0 is void), native like _data
    private readonly int _types;

    private KernelBtf(byte* data, int stringsStart, int stringsLength, int* offsets, int types)
    {
        _data = data;
        _stringsStart = stringsStart;
        _stringsLength = stringsLength;
        _offsets = offsets;
        _types = types;
    }

    /// <summary>Reads and indexes the BTF at <paramref name="path"/>; null when it is missing, unreadable or malformed.</summary>
    public static KernelBtf? Open(string path = VmlinuxPath)
    {
        byte* data = null;
        try
        {
            using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            long size = RandomAccess.GetLength(file);
            if (size < HeaderLength || size > MaxFileLength)
            {
                return null;
            }

            data = (byte*)NativeMemory.Alloc((nuint)size);
            var span = new Span<byte>(data, (int)size);
            int read = 0;
            while (read < span.Length)
            {
                int n = RandomAccess.Read(file, span.Slice(read), read);
                if (n <= 0)
                {
                    break;
                }

                read += n;
            }

            KernelBtf? btf = Index(data, read);
            if (btf is not null)
            {
                data = null; // owned by btf now
            }

            return btf;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        finally
        {
            if (data is not null)
            {
                NativeMemory.Free(data);
            }
        }
    }

    /// <summary>The id of the first type of <paramref name="kind"/> named <paramref name="name"/>, or -1.</summary>
    public int Find(int kind, ReadOnlySpan<byte> name)
    {
        for (int id = 1; id < _types; id++)
        {
            uint info = Read(_offsets[id] + 4);
            if (KindOf(info) == kind && NameIs(Read(_offsets[id]), name))
            {
                return id;
            }
        }

        return -1;
    }

    /// <summary>
    /// The byte offset of member <paramref name="member"/> of struct <paramref name="structName"/>, and the size of
    /// its type (ints and enums as declared, pointers 8), seen through typedefs and qualifiers. False when the
    /// struct or member is missing, the member is a bitfield or not byte-aligned, or its type is something else.
    /// </summary>
    public bool TryMember(ReadOnlySpan<byte> structName, ReadOnlySpan<byte> member, out int offset, out int size)
    {
        offset = 0;
        size = 0;
        int id = Find(KindStruct, structName);
        if (id < 0)
        {
            return false;
        }

        int at = _offsets[id];
        uint info = Read(at + 4);
        bool kindFlag = (info & 0x80000000) != 0;
        int members = (int)(info & 0xffff);
        for (int i = 0; i < members; i++)
        {
            int m = at + TypeLength + (i * 12);
            if (!NameIs(Read(m), member))
            {
                continue;
            }

            uint bits = Read(m + 8);
            if (kindFlag && (bits >> 24) != 0)
            {
                return false; // a bitfield
            }

            uint bitOffset = kindFlag ? bits & 0xffffff : bits;
            if (bitOffset % 8 != 0)
            {
                return false;
            }

            offset = (int)(bitOffset / 8);
            return TrySizeOf(Read(m + 4), out size);
        }

        return false;
    }

    public void Dispose()
    {
        if (_data is not null)
        {
            NativeMemory.Free(_data);
            NativeMemory.Free(_offsets);
            _data = null;
            _offsets = null;
        }
    }

    private static KernelBtf? Index(byte* data, int length)
    {
        if (length < HeaderLength || *(ushort*)data != Magic)
        {
            return null;
        }

        uint headerLength = *(uint*)(data + 4);
        uint typeOffset = *(uint*)(data + 8), typeLength = *(uint*)(data + 12);
        uint stringOffset = *(uint*)(data + 16), stringLength = *(uint*)(data + 20);
        if (headerLength < HeaderLength || headerLength > (uint)length ||
            (ulong)headerLength + typeOffset + typeLength > (ulong)length ||
            (ulong)headerLength + stringOffset + stringLength > (ulong)length)
        {
            return null;
        }

        int typesStart = (int)(headerLength + typeOffset);
        int typesEnd = typesStart + (int)typeLength;
        int types = Walk(data, typesStart, typesEnd, null); // count first: the index lives in native memory, sized once
        if (types < 0)
        {
            return null;
        }

        int* offsets = (int*)NativeMemory.Alloc((nuint)(types + 1), sizeof(int));
        offsets[0] = 0;
        Walk(data, typesStart, typesEnd, offsets + 1);
        return new KernelBtf(data, (int)(headerLength + stringOffset), (int)stringLength, offsets, types + 1);
    }

    /// <summary>Walks the type section, writing each type's offset when <paramref name="offsets"/> is given; the number of types, or -1 when malformed.</summary>
    private static int Walk(byte* data, int typesStart, int typesEnd, int* offsets)
    {
        int count = 0;
        for (int at = typesStart; at < typesEnd; count++)
        {
            if (typesEnd - at < TypeLength)
            {
                return -1;
            }

            if (offsets is not null)
            {
                offsets[count] = at;
            }

            uint info = *(uint*)(data + at + 4);
            int vlen = (int)(info & 0xffff);
            int extra = KindOf(info) switch
            {
                KindInt => 4,
                3 => 12,                // array
                KindStruct or 5 => vlen * 12, // struct, union: btf_member
                KindEnum => vlen * 8,
                13 => vlen * 8,         // func proto: btf_param
                14 => 4,                // var
                15 => vlen * 12,        // datasec
                17 => 4,                // decl tag
                19 => vlen * 12,        // enum64
                KindPointer or 7 or KindTypedef or KindVolatile or KindConst or KindRestrict or KindFunction or 16 or KindTypeTag => 0,
                _ => -1,
            };
            if (extra < 0)
            {
                return -1; // a kind this reader does not know: its length is unknown
            }

            at += TypeLength + extra;
            if (at > typesEnd)
            {
                return -1;
            }
        }

        return count;
    }

    private bool TrySizeOf(uint typeId, out int size)
    {
        size = 0;
        for (int hops = 0; hops < 32; hops++)
        {
            if (typeId == 0 || typeId >= (uint)_types)
            {
                return false;
            }

            int at = _offsets[typeId];
            uint info = Read(at + 4);
            switch (KindOf(info))
            {
                case KindInt:
                case KindEnum:
                    size = (int)Read(at + 8);
                    return size is 1 or 2 or 4 or 8;
                case KindPointer:
                    size = 8;
                    return true;
                case KindTypedef:
                case KindVolatile:
                case KindConst:
                case KindRestrict:
                case KindTypeTag:
                    typeId = Read(at + 8);
                    break;
                default:
                    return false;
            }
        }

        return false;
    }

    private bool NameIs(uint nameOffset, ReadOnlySpan<byte> name)
    {
        if (nameOffset >= (uint)_stringsLength || _stringsLength - nameOffset <= name.Length)
        {
            return false;
        }

        var stored = new ReadOnlySpan<byte>(_data + _stringsStart + nameOffset, name.Length + 1);
        return stored[name.Length] == 0 && stored.Slice(0, name.Length).SequenceEqual(name);
    }

    private uint Read(int offset) => *(uint*)(_data + offset);

    private static int KindOf(uint info) => (int)((info >> 24) & 0x1f);
}
