using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;

namespace PSKeepalive.Core.Netlink;

/// <summary>
/// One instruction of an inet_diag filter program (struct inet_diag_bc_op: u8 code, u8 yes, u16 no). Jumps are
/// byte offsets from the instruction's start: "yes" when the condition holds, "no" otherwise; landing exactly on
/// the program's end accepts the socket, 4 bytes past it rejects. A port comparison carries its port in a
/// second, data-only op (its "no" field), so it is 8 bytes long.
/// </summary>
/// <param name="Code">INET_DIAG_BC_* (linux/inet_diag.h).</param>
/// <param name="Yes">Where to go when the condition holds.</param>
/// <param name="No">Where to go when it does not.</param>
/// <param name="Port">The port a comparison tests; null for an op without data (JMP).</param>
public readonly record struct InetDiagBytecodeOp(byte Code, int Yes, int No, ushort? Port = null)
{
    /// <summary>Bytes this instruction takes: 8 with its data op, 4 without.</summary>
    public int Length => Port is null ? InetDiag.BytecodeOpLength : 2 * InetDiag.BytecodeOpLength;
}

/// <summary>
/// Filter programs for INET_DIAG_REQ_BYTECODE, built from typed instructions and combined the way ss(8) compiles its
/// filters (ssfilter_bytecompile): AND appends the second program and moves the first one's rejections past it; OR
/// puts a JMP between the two, so that a match of the first skips the second and a miss falls into it. Every
/// instruction's "yes" goes to the next one, so every jump target lies on the path inet_diag_bc_audit walks.
/// The kernel only pre-filters: the caller's own checks stay the authority.
/// </summary>
public static class InetDiagBytecode
{
    /// <summary>INET_DIAG_BC_JMP: always takes "no".</summary>
    public const byte Jump = 1;

    /// <summary>Above this many port ranges on one side the kernel gets no program for that side (the request stays small).</summary>
    public const int MaxRangesPerSide = 64;

    /// <summary>
    /// A program keeping sockets whose source (local) port is one of <paramref name="sourcePorts"/> and destination
    /// (remote) port one of <paramref name="destinationPorts"/>; consecutive ports become one range. Empty when no port
    /// is given (or too many scattered ones to be worth sending).
    /// </summary>
    public static byte[] PortFilter(IReadOnlyCollection<int>? sourcePorts, IReadOnlyCollection<int>? destinationPorts)
    {
        List<InetDiagBytecodeOp>? source = PortIn(sourcePorts, InetDiag.BytecodeSourceGreaterOrEqual, InetDiag.BytecodeSourceLessOrEqual);
        List<InetDiagBytecodeOp>? destination = PortIn(destinationPorts, InetDiag.BytecodeDestinationGreaterOrEqual, InetDiag.BytecodeDestinationLessOrEqual);
        List<InetDiagBytecodeOp>? program = source is null ? destination : destination is null ? source : And(source, destination);
        return program is null ? [] : Encode(program);
    }

    /// <summary>The program "lowest &lt;= port &lt;= highest" for the comparison codes given.</summary>
    public static List<InetDiagBytecodeOp> Range(byte greaterOrEqual, byte lessOrEqual, ushort lowest, ushort highest) =>
        And(Compare(greaterOrEqual, lowest), Compare(lessOrEqual, highest));

    /// <summary>One comparison: on success to the end (accept), on failure past it (reject).</summary>
    public static List<InetDiagBytecodeOp> Compare(byte code, ushort port) =>
        [new InetDiagBytecodeOp(code, 2 * InetDiag.BytecodeOpLength, (2 * InetDiag.BytecodeOpLength) + 4, port)];

    /// <summary><paramref name="first"/> and then <paramref name="second"/>: a rejection by the first now jumps past both.</summary>
    public static List<InetDiagBytecodeOp> And(List<InetDiagBytecodeOp> first, List<InetDiagBytecodeOp> second)
    {
        int firstLength = LengthOf(first), secondLength = LengthOf(second);
        var result = new List<InetDiagBytecodeOp>(first.Count + second.Count);
        int offset = 0;
        foreach (InetDiagBytecodeOp op in first)
        {
            bool rejects = op.No == firstLength - offset + 4;
            result.Add(rejects ? op with { No = op.No + secondLength } : op);
            offset += op.Length;
        }

        result.AddRange(second);
        return result;
    }

    /// <summary><paramref name="first"/> or else <paramref name="second"/>: a match of the first jumps over the second.</summary>
    public static List<InetDiagBytecodeOp> Or(List<InetDiagBytecodeOp> first, List<InetDiagBytecodeOp> second)
    {
        var result = new List<InetDiagBytecodeOp>(first.Count + 1 + second.Count);
        result.AddRange(first); // its rejections (4 past its end) land on the second, right after the JMP
        result.Add(new InetDiagBytecodeOp(Jump, 4, LengthOf(second) + 4));
        result.AddRange(second);
        return result;
    }

    /// <summary>The bytes the kernel reads: each op as code, yes, no (host order), a comparison followed by its port.</summary>
    public static byte[] Encode(IReadOnlyList<InetDiagBytecodeOp> program)
    {
        var bytes = new byte[LengthOf(program)];
        int offset = 0;
        foreach (InetDiagBytecodeOp op in program)
        {
            Span<byte> at = bytes.AsSpan(offset);
            at[0] = op.Code;
            at[1] = checked((byte)op.Yes);
            MemoryMarshal.Write(at.Slice(2), checked((ushort)op.No));
            if (op.Port is ushort port)
            {
                MemoryMarshal.Write(at.Slice(InetDiag.BytecodeOpLength + 2), port); // the data op: the port in its "no" field
            }

            offset += op.Length;
        }

        return bytes;
    }

    private static int LengthOf(IEnumerable<InetDiagBytecodeOp> program) => program.Sum(op => op.Length);

    /// <summary>"port in ports" as an OR of ranges of consecutive ports; null when there is nothing (or too much) to send.</summary>
    private static List<InetDiagBytecodeOp>? PortIn(IReadOnlyCollection<int>? ports, byte greaterOrEqual, byte lessOrEqual)
    {
        if (ports is null || ports.Count == 0)
        {
            return null;
        }

        var ranges = new List<(ushort Lowest, ushort Highest)>();
        foreach (int port in ports.Distinct().Order())
        {
            ushort value = checked((ushort)port);
            if (ranges.Count > 0 && ranges[^1].Highest + 1 == value)
            {
                ranges[^1] = (ranges[^1].Lowest, value);
            }
            else
            {
                ranges.Add((value, value));
            }
        }

        if (ranges.Count > MaxRangesPerSide)
        {
            return null;
        }

        List<InetDiagBytecodeOp> program = Range(greaterOrEqual, lessOrEqual, ranges[^1].Lowest, ranges[^1].Highest);
        for (int i = ranges.Count - 2; i >= 0; i--)
        {
            program = Or(Range(greaterOrEqual, lessOrEqual, ranges[i].Lowest, ranges[i].Highest), program);
        }

        return program;
    }
}
