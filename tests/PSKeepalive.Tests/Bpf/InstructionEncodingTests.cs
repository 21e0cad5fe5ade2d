using System;
using System.Collections.Generic;
using System.Linq;
using PSKeepalive.Core.Bpf;
using PSKeepalive.Tests.Support;
using Xunit;
using static PSKeepalive.Core.Bpf.Register;

namespace PSKeepalive.Tests.Bpf;

/// <summary>
/// Each instruction builder against the kernel's encoding: a C program fills struct bpf_insn with the constants of
/// include/uapi/linux/bpf.h and bpf_common.h (the way the kernel's BPF_* instruction macros do) and prints its
/// bytes; <see cref="InstructionEncoder"/> must produce the same bytes for the same instruction.
/// </summary>
public sealed class InstructionEncodingTests
{
    private const string Program = """
        #include <linux/bpf.h>
        #include <stdio.h>
        static void print(const char *name, const struct bpf_insn *insn, size_t count)
        {
            const unsigned char *bytes = (const unsigned char *)insn;
            printf("%s=", name);
            for (size_t i = 0; i < count * sizeof(*insn); i++)
                printf("%02x", bytes[i]);
            printf("\n");
        }
        #define I(name, ...) do { struct bpf_insn x[] = { __VA_ARGS__ }; print(name, x, sizeof(x) / sizeof(x[0])); } while (0)
        int main(void)
        {
            I("mov64_reg", { .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_6, .src_reg = BPF_REG_1 });
            I("mov64_reg_fp", { .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_4, .src_reg = BPF_REG_10 });
            I("mov64_imm", { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_7, .imm = 2 });
            I("mov64_imm_negative", { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1 });
            I("mov64_imm_magic", { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 0x414b5350 });
            I("add64_imm", { .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2, .imm = -4 });
            I("and64_imm", { .code = BPF_ALU64 | BPF_AND | BPF_K, .dst_reg = BPF_REG_1, .imm = 64 });
            I("and64_reg", { .code = BPF_ALU64 | BPF_AND | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_7 });
            I("sub64_reg", { .code = BPF_ALU64 | BPF_SUB | BPF_X, .dst_reg = BPF_REG_3, .src_reg = BPF_REG_9 });
            I("ldx_w", { .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_6, .off = 4 });
            I("ldx_dw", { .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_3, .src_reg = BPF_REG_10, .off = -16 });
            I("ldx_b", { .code = BPF_LDX | BPF_MEM | BPF_B, .dst_reg = BPF_REG_3, .src_reg = BPF_REG_8, .off = 31 });
            I("ldx_h", { .code = BPF_LDX | BPF_MEM | BPF_H, .dst_reg = BPF_REG_5, .src_reg = BPF_REG_8, .off = 2 });
            I("stx_w", { .code = BPF_STX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_6, .src_reg = BPF_REG_1, .off = 4 });
            I("stx_dw", { .code = BPF_STX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .src_reg = BPF_REG_9, .off = -8 });
            I("st_w", { .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = BPF_REG_10, .off = -4, .imm = 0 });
            I("st_w_one", { .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = BPF_REG_10, .off = -8, .imm = 1 });
            I("jeq_imm", { .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = BPF_REG_2, .off = 3, .imm = 4 });
            I("jne_imm", { .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = BPF_REG_2, .off = 40, .imm = 5 });
            I("jeq_imm_zero", { .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = BPF_REG_0, .off = -3, .imm = 0 });
            I("jset_imm", { .code = BPF_JMP | BPF_JSET | BPF_K, .dst_reg = BPF_REG_9, .off = 1, .imm = 4 });
            I("jgt_reg", { .code = BPF_JMP | BPF_JGT | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_2, .off = 7 });
            I("jslt_imm", { .code = BPF_JMP | BPF_JSLT | BPF_K, .dst_reg = BPF_REG_1, .off = 2, .imm = -1 });
            I("ja", { .code = BPF_JMP | BPF_JA, .off = -2 });
            I("call_lookup", { .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem });
            I("call_setsockopt", { .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_setsockopt });
            I("call_getsockopt", { .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_getsockopt });
            I("exit", { .code = BPF_JMP | BPF_EXIT });
            I("ld_map_fd", { .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1, .src_reg = BPF_PSEUDO_MAP_FD, .imm = 7 }, { .imm = 0 });
            I("ld_imm64", { .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_3, .imm = (int)0x89abcdefu }, { .imm = 0x01234567 });
            return 0;
        }
        """;

    private static readonly Lazy<Dictionary<string, string>> Kernel = new(() =>
        CCompiler.RunToCompletion(CCompiler.Compile(Program, "bpf_insn_encoding"), TimeSpan.FromSeconds(10))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('='))
            .ToDictionary(parts => parts[0], parts => parts[1]));

    /// <summary>A branch with a literal offset, as the kernel macros write it (the encoder works out offsets of labelled branches).</summary>
    private static Instruction At(Instruction branch, short offset) => branch with { Target = null, Offset = offset };

    public static TheoryData<string> Names() => new(Ours.Keys);

    private static readonly Dictionary<string, Instruction> Ours = new()
    {
        ["mov64_reg"] = Asm.Move(R6, R1),
        ["mov64_reg_fp"] = Asm.Move(R4, R10),
        ["mov64_imm"] = Asm.Move(R7, 2),
        ["mov64_imm_negative"] = Asm.Move(R0, -1),
        ["mov64_imm_magic"] = Asm.Move(R1, 0x414b5350),
        ["add64_imm"] = Asm.Alu64(AluOperation.Add, R2, -4),
        ["and64_imm"] = Asm.Alu64(AluOperation.And, R1, 64),
        ["and64_reg"] = Asm.Alu64(AluOperation.And, R1, R7),
        ["sub64_reg"] = Asm.Alu64(AluOperation.Subtract, R3, R9),
        ["ldx_w"] = Asm.Load(Size.Word, R2, R6, 4),
        ["ldx_dw"] = Asm.Load(Size.DoubleWord, R3, R10, -16),
        ["ldx_b"] = Asm.Load(Size.Byte, R3, R8, 31),
        ["ldx_h"] = Asm.Load(Size.HalfWord, R5, R8, 2),
        ["stx_w"] = Asm.Store(Size.Word, R6, 4, R1),
        ["stx_dw"] = Asm.Store(Size.DoubleWord, R10, -8, R9),
        ["st_w"] = Asm.Store(Size.Word, R10, -4, 0),
        ["st_w_one"] = Asm.Store(Size.Word, R10, -8, 1),
        ["jeq_imm"] = At(Asm.JumpIf(JumpOperation.Equal, R2, 4, "x"), 3),
        ["jne_imm"] = At(Asm.JumpIf(JumpOperation.NotEqual, R2, 5, "x"), 40),
        ["jeq_imm_zero"] = At(Asm.JumpIf(JumpOperation.Equal, R0, 0, "x"), -3),
        ["jset_imm"] = At(Asm.JumpIf(JumpOperation.BitsSet, R9, 4, "x"), 1),
        ["jgt_reg"] = At(Asm.JumpIf(JumpOperation.Greater, R1, R2, "x"), 7),
        ["jslt_imm"] = At(Asm.JumpIf(JumpOperation.SignedLess, R1, -1, "x"), 2),
        ["ja"] = At(Asm.Jump("x"), -2),
        ["call_lookup"] = Asm.Call(HelperFunction.MapLookupElement),
        ["call_setsockopt"] = Asm.Call(HelperFunction.SetSocketOption),
        ["call_getsockopt"] = Asm.Call(HelperFunction.GetSocketOption),
        ["exit"] = Asm.Exit(),
        ["ld_map_fd"] = Asm.LoadMapFd(R1, 7),
        ["ld_imm64"] = Asm.LoadImmediate(R3, 0x0123456789abcdef),
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void Instruction_EncodesAsTheKernelDoes(string name)
    {
        Assert.True(Kernel.Value.ContainsKey(name), $"the C program printed no {name}");
        string ours = Convert.ToHexString(InstructionEncoder.Encode([Ours[name]])).ToLowerInvariant();

        Assert.Equal(Kernel.Value[name], ours);
    }

    [Fact]
    public void EveryPrintedInstructionIsChecked()
    {
        Assert.Equal(Array.Empty<string>(), Kernel.Value.Keys.Where(k => !Ours.ContainsKey(k)).ToArray());
    }

    [Fact]
    public void KnownBytes_ForTheFirstInstructionsOfThePolicyProgram()
    {
        // r6 = r1; r2 = *(u32 *)(r6 + 0): written out by hand from struct bpf_insn.
        byte[] bytes = InstructionEncoder.Encode([Asm.Move(R6, R1), Asm.Load(Size.Word, R2, R6, 0)]);

        Assert.Equal("bf16000000000000" + "6162000000000000", Convert.ToHexString(bytes).ToLowerInvariant());
    }
}
