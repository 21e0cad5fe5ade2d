using System;
using System.Globalization;

namespace PSKeepalive.Core.Bpf;

/// <summary>
/// One eBPF instruction as a value (in the style of cilium/ebpf's asm.Instruction): opcode, registers, offset and
/// constant, plus an optional <see cref="Label"/> naming it and, for a branch, the <see cref="Target"/> label it
/// jumps to. Branch offsets are worked out by <see cref="InstructionEncoder"/>, the one place that turns
/// instructions into the kernel's bytes. Build them with <see cref="Asm"/>.
/// </summary>
/// <param name="OpCode">The opcode byte.</param>
/// <param name="Destination">dst_reg.</param>
/// <param name="Source">src_reg (for the 64-bit immediate load: the pseudo source, e.g. BPF_PSEUDO_MAP_FD).</param>
/// <param name="Offset">off: memory offset or branch offset in slots.</param>
/// <param name="Constant">imm: 32 bits, or 64 bits for the two-slot immediate load.</param>
public sealed record Instruction(OpCode OpCode, Register Destination, Register Source, short Offset, long Constant)
{
    /// <summary>The name other instructions jump to; null when none does.</summary>
    public string? Label { get; init; }

    /// <summary>The label a branch jumps to; null for a branch with a literal <see cref="Offset"/> and for non-branches.</summary>
    public string? Target { get; init; }

    /// <summary>8-byte slots the instruction takes: 2 for the 64-bit immediate load, else 1.</summary>
    public int Slots => OpCode.IsLoadImmediate64 ? 2 : 1;

    /// <summary>The same instruction, named so that branches can jump to it.</summary>
    public Instruction WithLabel(string label) => this with { Label = label };

    public override string ToString()
    {
        string text = string.Create(CultureInfo.InvariantCulture, $"{OpCode} dst={Destination} src={Source} off={Offset} imm={Constant}");
        return (Label is null ? string.Empty : Label + ": ") + text + (Target is null ? string.Empty : " -> " + Target);
    }
}

/// <summary>
/// Builders for the instructions Core needs, named after what they do ("r6 = r1" is <c>Asm.Move(R6, R1)</c>).
/// Each sets the opcode from its parts; <see cref="InstructionEncoder"/> encodes them.
/// </summary>
public static class Asm
{
    /// <summary>BPF_PSEUDO_MAP_FD: the immediate of a 64-bit load is a map file descriptor, replaced by the map at load time.</summary>
    public const byte PseudoMapFd = 1;

    /// <summary>dst = src (64 bits).</summary>
    public static Instruction Move(Register destination, Register source) =>
        new(OpCode.Alu(InstructionClass.Alu64, AluOperation.Move, Source.Register), destination, source, 0, 0);

    /// <summary>dst = imm (sign-extended to 64 bits).</summary>
    public static Instruction Move(Register destination, int constant) =>
        new(OpCode.Alu(InstructionClass.Alu64, AluOperation.Move, Source.Constant), destination, Register.R0, 0, constant);

    /// <summary>dst op= imm (64 bits).</summary>
    public static Instruction Alu64(AluOperation operation, Register destination, int constant) =>
        new(OpCode.Alu(InstructionClass.Alu64, operation, Source.Constant), destination, Register.R0, 0, constant);

    /// <summary>dst op= src (64 bits).</summary>
    public static Instruction Alu64(AluOperation operation, Register destination, Register source) =>
        new(OpCode.Alu(InstructionClass.Alu64, operation, Source.Register), destination, source, 0, 0);

    /// <summary>dst = *(size *)(src + offset).</summary>
    public static Instruction Load(Size size, Register destination, Register source, short offset) =>
        new(OpCode.Memory(InstructionClass.LoadFromMemory, size), destination, source, offset, 0);

    /// <summary>*(size *)(dst + offset) = src.</summary>
    public static Instruction Store(Size size, Register destination, short offset, Register source) =>
        new(OpCode.Memory(InstructionClass.StoreFromRegister, size), destination, source, offset, 0);

    /// <summary>*(size *)(dst + offset) = imm.</summary>
    public static Instruction Store(Size size, Register destination, short offset, int constant) =>
        new(OpCode.Memory(InstructionClass.StoreConstant, size), destination, Register.R0, offset, constant);

    /// <summary>if (dst op imm) goto target (64-bit compare).</summary>
    public static Instruction JumpIf(JumpOperation operation, Register destination, int constant, string target) =>
        new Instruction(OpCode.Jump(InstructionClass.Jump, RequireCompare(operation), Source.Constant), destination, Register.R0, 0, constant) { Target = target };

    /// <summary>if (dst op src) goto target (64-bit compare).</summary>
    public static Instruction JumpIf(JumpOperation operation, Register destination, Register source, string target) =>
        new Instruction(OpCode.Jump(InstructionClass.Jump, RequireCompare(operation), Source.Register), destination, source, 0, 0) { Target = target };

    /// <summary>goto target.</summary>
    public static Instruction Jump(string target) =>
        new Instruction(OpCode.Jump(InstructionClass.Jump, JumpOperation.Always, Source.Constant), Register.R0, Register.R0, 0, 0) { Target = target };

    /// <summary>r0 = helper(r1, r2, r3, r4, r5).</summary>
    public static Instruction Call(HelperFunction helper) =>
        new(OpCode.Jump(InstructionClass.Jump, JumpOperation.Call, Source.Constant), Register.R0, Register.R0, 0, (int)helper);

    /// <summary>return r0.</summary>
    public static Instruction Exit() =>
        new(OpCode.Jump(InstructionClass.Jump, JumpOperation.Exit, Source.Constant), Register.R0, Register.R0, 0, 0);

    /// <summary>dst = imm64 (two slots).</summary>
    public static Instruction LoadImmediate(Register destination, long constant) =>
        new(OpCode.LoadImmediate64, destination, Register.R0, 0, constant);

    /// <summary>dst = the map behind file descriptor <paramref name="mapFd"/> (BPF_LD_MAP_FD: two slots, src = BPF_PSEUDO_MAP_FD).</summary>
    public static Instruction LoadMapFd(Register destination, int mapFd) =>
        new(OpCode.LoadImmediate64, destination, (Register)PseudoMapFd, 0, (uint)mapFd);

    private static JumpOperation RequireCompare(JumpOperation operation) =>
        operation is JumpOperation.Always or JumpOperation.Call or JumpOperation.Exit
            ? throw new ArgumentException($"{operation} is not a compare; use Asm.Jump, Asm.Call or Asm.Exit.", nameof(operation))
            : operation;
}
