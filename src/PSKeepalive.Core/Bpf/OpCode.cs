using System;
using System.Globalization;

namespace PSKeepalive.Core.Bpf;

/// <summary>The three low bits of an opcode (BPF_CLASS in include/uapi/linux/bpf_common.h and bpf.h).</summary>
public enum InstructionClass : byte
{
    /// <summary>BPF_LD: only the 64-bit immediate load (two slots) in eBPF.</summary>
    Load = 0x00,

    /// <summary>BPF_LDX: dst = *(size *)(src + off).</summary>
    LoadFromMemory = 0x01,

    /// <summary>BPF_ST: *(size *)(dst + off) = imm.</summary>
    StoreConstant = 0x02,

    /// <summary>BPF_STX: *(size *)(dst + off) = src.</summary>
    StoreFromRegister = 0x03,

    /// <summary>BPF_ALU: 32-bit arithmetic.</summary>
    Alu32 = 0x04,

    /// <summary>BPF_JMP: 64-bit compares, calls and exit.</summary>
    Jump = 0x05,

    /// <summary>BPF_JMP32: 32-bit compares.</summary>
    Jump32 = 0x06,

    /// <summary>BPF_ALU64: 64-bit arithmetic.</summary>
    Alu64 = 0x07,
}

/// <summary>Width of a memory access (BPF_SIZE).</summary>
public enum Size : byte
{
    /// <summary>BPF_W, 32 bits.</summary>
    Word = 0x00,

    /// <summary>BPF_H, 16 bits.</summary>
    HalfWord = 0x08,

    /// <summary>BPF_B, 8 bits.</summary>
    Byte = 0x10,

    /// <summary>BPF_DW, 64 bits.</summary>
    DoubleWord = 0x18,
}

/// <summary>Addressing mode of loads and stores (BPF_MODE).</summary>
public enum AddressMode : byte
{
    /// <summary>BPF_IMM: the 64-bit immediate load.</summary>
    Immediate = 0x00,

    /// <summary>BPF_MEM: register + offset.</summary>
    Memory = 0x60,
}

/// <summary>Where the second operand comes from (BPF_SRC).</summary>
public enum Source : byte
{
    /// <summary>BPF_K: the 32-bit immediate.</summary>
    Constant = 0x00,

    /// <summary>BPF_X: the source register.</summary>
    Register = 0x08,
}

/// <summary>Arithmetic operations (BPF_OP of the ALU classes).</summary>
public enum AluOperation : byte
{
    Add = 0x00,
    Subtract = 0x10,
    Multiply = 0x20,
    Divide = 0x30,
    Or = 0x40,
    And = 0x50,
    LeftShift = 0x60,
    RightShift = 0x70,
    Negate = 0x80,
    Modulo = 0x90,
    Xor = 0xa0,
    Move = 0xb0,
    ArithmeticRightShift = 0xc0,
}

/// <summary>Jump operations (BPF_OP of the jump classes).</summary>
public enum JumpOperation : byte
{
    /// <summary>BPF_JA: always.</summary>
    Always = 0x00,
    Equal = 0x10,
    Greater = 0x20,
    GreaterOrEqual = 0x30,

    /// <summary>BPF_JSET: dst &amp; src != 0.</summary>
    BitsSet = 0x40,
    NotEqual = 0x50,
    SignedGreater = 0x60,
    SignedGreaterOrEqual = 0x70,

    /// <summary>BPF_CALL: call the helper numbered by the immediate.</summary>
    Call = 0x80,

    /// <summary>BPF_EXIT: return r0.</summary>
    Exit = 0x90,
    Less = 0xa0,
    LessOrEqual = 0xb0,
    SignedLess = 0xc0,
    SignedLessOrEqual = 0xd0,
}

/// <summary>
/// An instruction's opcode byte, built from its parts (class | size | mode, or class | operation | source) so that
/// no caller writes a magic number. The parts are those of include/uapi/linux/bpf_common.h and bpf.h.
/// </summary>
public readonly record struct OpCode(byte Value)
{
    /// <summary>BPF_LD | BPF_IMM | BPF_DW: the two-slot 64-bit immediate load.</summary>
    public static OpCode LoadImmediate64 { get; } = new((byte)((byte)InstructionClass.Load | (byte)Size.DoubleWord | (byte)AddressMode.Immediate));

    public static OpCode Alu(InstructionClass instructionClass, AluOperation operation, Source source)
    {
        if (instructionClass is not (InstructionClass.Alu32 or InstructionClass.Alu64))
        {
            throw new ArgumentException($"{instructionClass} is not an arithmetic class.", nameof(instructionClass));
        }

        return new OpCode((byte)((byte)instructionClass | (byte)operation | (byte)source));
    }

    public static OpCode Jump(InstructionClass instructionClass, JumpOperation operation, Source source)
    {
        if (instructionClass is not (InstructionClass.Jump or InstructionClass.Jump32))
        {
            throw new ArgumentException($"{instructionClass} is not a jump class.", nameof(instructionClass));
        }

        return new OpCode((byte)((byte)instructionClass | (byte)operation | (byte)source));
    }

    public static OpCode Memory(InstructionClass instructionClass, Size size)
    {
        if (instructionClass is not (InstructionClass.LoadFromMemory or InstructionClass.StoreConstant or InstructionClass.StoreFromRegister))
        {
            throw new ArgumentException($"{instructionClass} is not a memory class.", nameof(instructionClass));
        }

        return new OpCode((byte)((byte)instructionClass | (byte)size | (byte)AddressMode.Memory));
    }

    public InstructionClass Class => (InstructionClass)(Value & 0x07);

    public bool IsLoadImmediate64 => this == LoadImmediate64;

    /// <summary>Jumps that take an offset (not call or exit).</summary>
    public bool IsBranch =>
        Class is InstructionClass.Jump or InstructionClass.Jump32 &&
        (JumpOperation)(Value & 0xf0) is not (JumpOperation.Call or JumpOperation.Exit);

    public override string ToString() => "0x" + Value.ToString("x2", CultureInfo.InvariantCulture);
}

/// <summary>The eleven registers: r0 return value, r1-r5 arguments, r6-r9 kept across calls, r10 the frame pointer (read-only).</summary>
public enum Register : byte
{
    R0 = 0,
    R1 = 1,
    R2 = 2,
    R3 = 3,
    R4 = 4,
    R5 = 5,
    R6 = 6,
    R7 = 7,
    R8 = 8,
    R9 = 9,
    R10 = 10,
}

/// <summary>The helper functions Core calls (numbers from enum bpf_func_id in include/uapi/linux/bpf.h).</summary>
public enum HelperFunction
{
    /// <summary>bpf_map_lookup_elem(map, key): pointer to the value or NULL.</summary>
    MapLookupElement = 1,

    /// <summary>bpf_setsockopt(ctx, level, optname, optval, optlen).</summary>
    SetSocketOption = 49,

    /// <summary>bpf_getsockopt(ctx, level, optname, optval, optlen).</summary>
    GetSocketOption = 57,

    /// <summary>bpf_seq_write(seq, data, len): an iterator program's output (read from the iterator's descriptor).</summary>
    SequenceWrite = 127,
}
