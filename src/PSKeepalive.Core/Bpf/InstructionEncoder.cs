using System;
using System.Buffers.Binary;
using System.Collections.Generic;

namespace PSKeepalive.Core.Bpf;

/// <summary>
/// The one place that turns <see cref="Instruction"/> values into the kernel's encoding, struct bpf_insn of
/// include/uapi/linux/bpf.h: 8 bytes per slot, little-endian as on every architecture Core runs on:
/// <c>code</c> (u8), <c>dst_reg:4</c> in the low nibble and <c>src_reg:4</c> in the high nibble of the second
/// byte, <c>off</c> (s16), <c>imm</c> (s32). The 64-bit immediate load takes a second slot whose only non-zero
/// field is <c>imm</c>, holding the upper 32 bits. Branches to labels get their offset here: target slot minus
/// the slot after the branch.
/// </summary>
public static class InstructionEncoder
{
    /// <summary>Bytes per instruction slot (sizeof(struct bpf_insn)).</summary>
    public const int SlotSize = 8;

    /// <summary>Encodes <paramref name="program"/>; labels must be unique and every branch target must exist.</summary>
    public static byte[] Encode(IReadOnlyList<Instruction> program)
    {
        ArgumentNullException.ThrowIfNull(program);
        var slotOfLabel = new Dictionary<string, int>(StringComparer.Ordinal);
        int slots = 0;
        foreach (Instruction instruction in program)
        {
            if (instruction.Label is string label && !slotOfLabel.TryAdd(label, slots))
            {
                throw new ArgumentException($"The label '{label}' names two instructions.", nameof(program));
            }

            slots += instruction.Slots;
        }

        byte[] bytes = new byte[slots * SlotSize];
        int slot = 0;
        foreach (Instruction instruction in program)
        {
            short offset = instruction.Offset;
            if (instruction.Target is string target)
            {
                if (!instruction.OpCode.IsBranch)
                {
                    throw new ArgumentException($"'{instruction}' has a target but is no branch.", nameof(program));
                }

                if (!slotOfLabel.TryGetValue(target, out int targetSlot))
                {
                    throw new ArgumentException($"'{instruction}' jumps to the label '{target}', which no instruction has.", nameof(program));
                }

                int distance = targetSlot - (slot + 1);
                if (distance is < short.MinValue or > short.MaxValue)
                {
                    throw new ArgumentException($"'{instruction}' jumps {distance} slots, more than a 16-bit offset holds.", nameof(program));
                }

                offset = (short)distance;
            }

            Write(bytes.AsSpan(slot * SlotSize, instruction.Slots * SlotSize), instruction, offset);
            slot += instruction.Slots;
        }

        return bytes;
    }

    /// <summary>The instruction's own slot(s), with <paramref name="offset"/> as its off field.</summary>
    private static void Write(Span<byte> destination, Instruction instruction, short offset)
    {
        if ((byte)instruction.Destination > 0x0f || (byte)instruction.Source > 0x0f)
        {
            throw new ArgumentException($"'{instruction}' names a register outside the 4-bit field.", nameof(instruction));
        }

        destination[0] = instruction.OpCode.Value;
        destination[1] = (byte)((byte)instruction.Destination | ((byte)instruction.Source << 4));
        BinaryPrimitives.WriteInt16LittleEndian(destination[2..], offset);
        if (instruction.OpCode.IsLoadImmediate64)
        {
            ulong constant = (ulong)instruction.Constant;
            BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)constant);
            destination[8..12].Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], (uint)(constant >> 32));
            return;
        }

        if (instruction.Constant is < int.MinValue or > int.MaxValue)
        {
            throw new ArgumentException($"'{instruction}' has a constant wider than the 32-bit imm field.", nameof(instruction));
        }

        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], (int)instruction.Constant);
    }
}
