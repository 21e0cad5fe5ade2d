using System;
using System.Buffers.Binary;
using PSKeepalive.Core.Bpf;
using Xunit;
using static PSKeepalive.Core.Bpf.Register;

namespace PSKeepalive.Tests.Bpf;

/// <summary>How the encoder lays out programs: branch offsets from labels, two-slot loads, and what it refuses.</summary>
public sealed class AssemblerTests
{
    private static short OffsetOfSlot(byte[] code, int slot) => BinaryPrimitives.ReadInt16LittleEndian(code.AsSpan((slot * 8) + 2));

    [Fact]
    public void ForwardBranch_CountsTheSlotsBetween_IncludingBothSlotsOfAnImmediateLoad()
    {
        byte[] code = InstructionEncoder.Encode(
        [
            Asm.JumpIf(JumpOperation.Equal, R1, 0, "end"), // slot 0
            Asm.LoadMapFd(R1, 3),                          // slots 1-2
            Asm.Move(R0, 0),                               // slot 3
            Asm.Exit().WithLabel("end"),                   // slot 4
        ]);

        Assert.Equal(40, code.Length);
        Assert.Equal(3, OffsetOfSlot(code, 0)); // 4 - (0 + 1)
    }

    [Fact]
    public void BackwardBranch_IsNegative_AndABranchToTheNextInstructionIsZero()
    {
        byte[] code = InstructionEncoder.Encode(
        [
            Asm.Move(R0, 1).WithLabel("top"),
            Asm.JumpIf(JumpOperation.NotEqual, R0, 0, "next"),
            Asm.Jump("top").WithLabel("next"),
            Asm.Exit(),
        ]);

        Assert.Equal(0, OffsetOfSlot(code, 1));
        Assert.Equal(-3, OffsetOfSlot(code, 2));
    }

    [Fact]
    public void ImmediateLoad_PutsTheUpperHalfInTheSecondSlot()
    {
        byte[] code = InstructionEncoder.Encode([Asm.LoadImmediate(R2, unchecked((long)0xfedcba9876543210))]);

        Assert.Equal(0x18, code[0]);
        Assert.Equal(0x02, code[1]);
        Assert.Equal(0x76543210u, BinaryPrimitives.ReadUInt32LittleEndian(code.AsSpan(4)));
        Assert.Equal(new byte[4], code[8..12]);
        Assert.Equal(0xfedcba98u, BinaryPrimitives.ReadUInt32LittleEndian(code.AsSpan(12)));
    }

    [Fact]
    public void UnknownOrDuplicateLabels_AndTargetsOnNonBranches_AreRefused()
    {
        Assert.Throws<ArgumentException>(() => InstructionEncoder.Encode([Asm.Jump("nowhere"), Asm.Exit()]));
        Assert.Throws<ArgumentException>(() => InstructionEncoder.Encode([Asm.Exit().WithLabel("a"), Asm.Exit().WithLabel("a")]));
        Assert.Throws<ArgumentException>(() => InstructionEncoder.Encode([Asm.Exit() with { Target = "a" }, Asm.Exit().WithLabel("a")]));
        Assert.Throws<ArgumentException>(() => InstructionEncoder.Encode([Asm.Move(R0, 0) with { Constant = 1L << 40 }]));
    }

    [Fact]
    public void Builders_RefuseTheWrongKindOfOperation()
    {
        Assert.Throws<ArgumentException>(() => Asm.JumpIf(JumpOperation.Exit, R0, 0, "x"));
        Assert.Throws<ArgumentException>(() => OpCode.Alu(InstructionClass.Jump, AluOperation.Add, Source.Constant));
        Assert.Throws<ArgumentException>(() => OpCode.Memory(InstructionClass.Alu64, Size.Word));
    }

    [Fact]
    public void OpCode_KnowsBranchesFromCallsAndExits()
    {
        Assert.True(Asm.Jump("x").OpCode.IsBranch);
        Assert.True(Asm.JumpIf(JumpOperation.BitsSet, R1, 1, "x").OpCode.IsBranch);
        Assert.False(Asm.Call(HelperFunction.SetSocketOption).OpCode.IsBranch);
        Assert.False(Asm.Exit().OpCode.IsBranch);
        Assert.Equal(InstructionClass.Alu64, Asm.Move(R1, R2).OpCode.Class);
        Assert.Equal(2, Asm.LoadMapFd(R1, 5).Slots);
    }
}
