using System;
using System.Buffers.Binary;
using System.IO;
using System.Text;

namespace PSKeepalive.Core.Launch;

/// <summary>
/// Recognises programs written in Go by the sections the Go linker always writes: <c>.go.buildinfo</c>
/// (Go 1.13 and later, kept by strip) or <c>.note.go.buildid</c>. Go makes its own system calls for networking,
/// also in dynamically linked (cgo) builds, so LD_PRELOAD does not reach their sockets although the ELF has a
/// dynamic loader: -Method Auto sends such programs to seccomp mode.
/// </summary>
public static class GoProgramDetector
{
    private const int MaxSections = 4096;
    private const int MaxNamesLength = 1 << 20;

    /// <summary>
    /// True when <paramref name="elfPath"/> is a 64- or 32-bit little- or big-endian ELF with a Go build section.
    /// False for anything else, including files that cannot be read (the caller has inspected the file already).
    /// </summary>
    public static bool IsGoProgram(string elfPath)
    {
        try
        {
            using var file = new FileStream(elfPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.RandomAccess);
            return HasGoSection(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    internal static bool HasGoSection(Stream file)
    {
        Span<byte> header = stackalloc byte[64];
        if (Read(file, 0, header) < 52 || header[0] != 0x7f || header[1] != (byte)'E' || header[2] != (byte)'L' || header[3] != (byte)'F')
        {
            return false;
        }

        bool is64 = header[4] == 2;
        bool little = header[5] == 1;
        ulong sectionOffset = is64 ? U64(header[0x28..], little) : U32(header[0x20..], little);
        int entrySize = U16(is64 ? header[0x3A..] : header[0x2E..], little);
        int count = U16(is64 ? header[0x3C..] : header[0x30..], little);
        int namesIndex = U16(is64 ? header[0x3E..] : header[0x32..], little);
        if (sectionOffset == 0 || count == 0 || count > MaxSections || namesIndex >= count || entrySize < (is64 ? 64 : 40))
        {
            return false;
        }

        byte[] table = new byte[entrySize * count];
        if (Read(file, (long)sectionOffset, table) != table.Length)
        {
            return false;
        }

        ReadOnlySpan<byte> namesEntry = table.AsSpan(namesIndex * entrySize, entrySize);
        ulong namesOffset = is64 ? U64(namesEntry[0x18..], little) : U32(namesEntry[0x10..], little);
        ulong namesSize = is64 ? U64(namesEntry[0x20..], little) : U32(namesEntry[0x14..], little);
        if (namesSize == 0 || namesSize > MaxNamesLength)
        {
            return false;
        }

        byte[] names = new byte[namesSize];
        if (Read(file, (long)namesOffset, names) != names.Length)
        {
            return false;
        }

        for (int i = 0; i < count; i++)
        {
            uint nameIndex = U32(table.AsSpan(i * entrySize), little);
            if (nameIndex >= names.Length)
            {
                continue;
            }

            int end = Array.IndexOf(names, (byte)0, (int)nameIndex);
            string name = Encoding.ASCII.GetString(names, (int)nameIndex, (end < 0 ? names.Length : end) - (int)nameIndex);
            if (name is ".go.buildinfo" or ".note.go.buildid")
            {
                return true;
            }
        }

        return false;
    }

    private static int Read(Stream file, long offset, Span<byte> buffer)
    {
        if (offset < 0 || offset >= file.Length)
        {
            return 0;
        }

        file.Position = offset;
        int total = 0;
        while (total < buffer.Length)
        {
            int n = file.Read(buffer[total..]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    private static ushort U16(ReadOnlySpan<byte> b, bool little) => little ? BinaryPrimitives.ReadUInt16LittleEndian(b) : BinaryPrimitives.ReadUInt16BigEndian(b);

    private static uint U32(ReadOnlySpan<byte> b, bool little) => little ? BinaryPrimitives.ReadUInt32LittleEndian(b) : BinaryPrimitives.ReadUInt32BigEndian(b);

    private static ulong U64(ReadOnlySpan<byte> b, bool little) => little ? BinaryPrimitives.ReadUInt64LittleEndian(b) : BinaryPrimitives.ReadUInt64BigEndian(b);
}
