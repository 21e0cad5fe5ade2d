using System;
using System.Collections.Generic;
using System.Linq;
using PSKeepalive.Core.Bpf;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Policy;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Bpf;

/// <summary>
/// The numbers and struct offsets the BPF and cgroup code writes by hand, against the C headers of this machine:
/// a small C program prints them (sizeof/offsetof/enum values) from &lt;linux/bpf.h&gt;, &lt;linux/magic.h&gt; and libc.
/// </summary>
public sealed class BpfLayoutTests
{
    private const string Program = """
        #define _GNU_SOURCE
        #include <linux/bpf.h>
        #include <linux/magic.h>
        #include <netinet/in.h>
        #include <netinet/tcp.h>
        #include <stddef.h>
        #include <stdio.h>
        #include <sys/socket.h>
        #include <sys/statfs.h>
        #define P(name, value) printf("%s=%lld\n", name, (long long)(value))
        #define OFF(type, field) P("offsetof(" #type "," #field ")", offsetof(type, field))
        int main(void) {
            P("BPF_LD", BPF_LD); P("BPF_LDX", BPF_LDX); P("BPF_ST", BPF_ST); P("BPF_STX", BPF_STX);
            P("BPF_ALU", BPF_ALU); P("BPF_JMP", BPF_JMP); P("BPF_JMP32", BPF_JMP32); P("BPF_ALU64", BPF_ALU64);
            P("BPF_W", BPF_W); P("BPF_H", BPF_H); P("BPF_B", BPF_B); P("BPF_DW", BPF_DW);
            P("BPF_IMM", BPF_IMM); P("BPF_MEM", BPF_MEM); P("BPF_K", BPF_K); P("BPF_X", BPF_X);
            P("BPF_ADD", BPF_ADD); P("BPF_SUB", BPF_SUB); P("BPF_MUL", BPF_MUL); P("BPF_DIV", BPF_DIV);
            P("BPF_OR", BPF_OR); P("BPF_AND", BPF_AND); P("BPF_LSH", BPF_LSH); P("BPF_RSH", BPF_RSH);
            P("BPF_NEG", BPF_NEG); P("BPF_MOD", BPF_MOD); P("BPF_XOR", BPF_XOR); P("BPF_MOV", BPF_MOV); P("BPF_ARSH", BPF_ARSH);
            P("BPF_JA", BPF_JA); P("BPF_JEQ", BPF_JEQ); P("BPF_JGT", BPF_JGT); P("BPF_JGE", BPF_JGE); P("BPF_JSET", BPF_JSET);
            P("BPF_JNE", BPF_JNE); P("BPF_JSGT", BPF_JSGT); P("BPF_JSGE", BPF_JSGE); P("BPF_CALL", BPF_CALL); P("BPF_EXIT", BPF_EXIT);
            P("BPF_JLT", BPF_JLT); P("BPF_JLE", BPF_JLE); P("BPF_JSLT", BPF_JSLT); P("BPF_JSLE", BPF_JSLE);
            P("BPF_PSEUDO_MAP_FD", BPF_PSEUDO_MAP_FD); P("sizeof(bpf_insn)", sizeof(struct bpf_insn));
            P("BPF_FUNC_map_lookup_elem", BPF_FUNC_map_lookup_elem); P("BPF_FUNC_setsockopt", BPF_FUNC_setsockopt); P("BPF_FUNC_getsockopt", BPF_FUNC_getsockopt);
            P("BPF_FUNC_seq_write", BPF_FUNC_seq_write); P("BPF_LINK_CREATE", BPF_LINK_CREATE); P("BPF_ITER_CREATE", BPF_ITER_CREATE);
            P("BPF_PROG_TYPE_TRACING", BPF_PROG_TYPE_TRACING); P("BPF_TRACE_ITER", BPF_TRACE_ITER);
            OFF(union bpf_attr, expected_attach_type); OFF(union bpf_attr, attach_btf_id);
            OFF(union bpf_attr, link_create.prog_fd); OFF(union bpf_attr, link_create.attach_type); OFF(union bpf_attr, iter_create.link_fd);
            P("BPF_MAP_CREATE", BPF_MAP_CREATE); P("BPF_MAP_LOOKUP_ELEM", BPF_MAP_LOOKUP_ELEM); P("BPF_MAP_UPDATE_ELEM", BPF_MAP_UPDATE_ELEM);
            P("BPF_PROG_LOAD", BPF_PROG_LOAD); P("BPF_PROG_ATTACH", BPF_PROG_ATTACH); P("BPF_PROG_DETACH", BPF_PROG_DETACH);
            P("BPF_PROG_GET_NEXT_ID", BPF_PROG_GET_NEXT_ID); P("BPF_PROG_GET_FD_BY_ID", BPF_PROG_GET_FD_BY_ID); P("BPF_MAP_GET_FD_BY_ID", BPF_MAP_GET_FD_BY_ID);
            P("BPF_OBJ_GET_INFO_BY_FD", BPF_OBJ_GET_INFO_BY_FD); P("BPF_PROG_QUERY", BPF_PROG_QUERY); P("BPF_MAP_FREEZE", BPF_MAP_FREEZE);
            P("BPF_PROG_TYPE_SOCK_OPS", BPF_PROG_TYPE_SOCK_OPS); P("BPF_MAP_TYPE_ARRAY", BPF_MAP_TYPE_ARRAY); P("BPF_CGROUP_SOCK_OPS", BPF_CGROUP_SOCK_OPS);
            P("BPF_F_ALLOW_OVERRIDE", BPF_F_ALLOW_OVERRIDE); P("BPF_F_ALLOW_MULTI", BPF_F_ALLOW_MULTI); P("BPF_F_REPLACE", BPF_F_REPLACE);
            P("BPF_OBJ_NAME_LEN", BPF_OBJ_NAME_LEN); P("BPF_TAG_SIZE", BPF_TAG_SIZE);
            P("BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB", BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB); P("BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB", BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB);
            OFF(struct bpf_sock_ops, op); OFF(struct bpf_sock_ops, reply);
            OFF(union bpf_attr, map_type); OFF(union bpf_attr, key_size); OFF(union bpf_attr, value_size); OFF(union bpf_attr, max_entries);
            OFF(union bpf_attr, map_flags); OFF(union bpf_attr, map_name);
            OFF(union bpf_attr, map_fd); OFF(union bpf_attr, key); OFF(union bpf_attr, value); OFF(union bpf_attr, flags);
            OFF(union bpf_attr, prog_type); OFF(union bpf_attr, insn_cnt); OFF(union bpf_attr, insns); OFF(union bpf_attr, license);
            OFF(union bpf_attr, log_level); OFF(union bpf_attr, log_size); OFF(union bpf_attr, log_buf); OFF(union bpf_attr, prog_name);
            OFF(union bpf_attr, target_fd); OFF(union bpf_attr, attach_bpf_fd); OFF(union bpf_attr, attach_type); OFF(union bpf_attr, attach_flags);
            OFF(union bpf_attr, replace_bpf_fd);
            OFF(union bpf_attr, prog_id); OFF(union bpf_attr, start_id); OFF(union bpf_attr, next_id);
            OFF(union bpf_attr, info.bpf_fd); OFF(union bpf_attr, info.info_len); OFF(union bpf_attr, info.info);
            OFF(union bpf_attr, query.target_fd); OFF(union bpf_attr, query.attach_type); OFF(union bpf_attr, query.query_flags);
            OFF(union bpf_attr, query.attach_flags); OFF(union bpf_attr, query.prog_ids); OFF(union bpf_attr, query.prog_cnt);
            P("fits(bpf_attr)", sizeof(union bpf_attr) <= 256);
            OFF(struct bpf_prog_info, type); OFF(struct bpf_prog_info, id); OFF(struct bpf_prog_info, tag); OFF(struct bpf_prog_info, load_time);
            OFF(struct bpf_prog_info, created_by_uid); OFF(struct bpf_prog_info, nr_map_ids); OFF(struct bpf_prog_info, map_ids); OFF(struct bpf_prog_info, name);
            P("fits(bpf_prog_info)", sizeof(struct bpf_prog_info) <= 256);
            OFF(struct bpf_map_info, type); OFF(struct bpf_map_info, id); OFF(struct bpf_map_info, key_size); OFF(struct bpf_map_info, value_size);
            OFF(struct bpf_map_info, max_entries); OFF(struct bpf_map_info, map_flags); OFF(struct bpf_map_info, name);
            P("fits(bpf_map_info)", sizeof(struct bpf_map_info) <= 256);
            P("CGROUP2_SUPER_MAGIC", CGROUP2_SUPER_MAGIC); OFF(struct statfs, f_type); P("fits(statfs)", sizeof(struct statfs) <= 120);
            P("SOL_SOCKET", SOL_SOCKET); P("SO_KEEPALIVE", SO_KEEPALIVE); P("IPPROTO_TCP", IPPROTO_TCP);
            P("TCP_KEEPIDLE", TCP_KEEPIDLE); P("TCP_KEEPINTVL", TCP_KEEPINTVL); P("TCP_KEEPCNT", TCP_KEEPCNT); P("TCP_USER_TIMEOUT", TCP_USER_TIMEOUT);
            return 0;
        }
        """;

    private static readonly Lazy<Dictionary<string, long>> Measured = new(() => CCompiler.PrintedValues(Program, "bpf_layout"));

    public static TheoryData<string, long> Expected() => new()
    {
        { "BPF_LD", (long)InstructionClass.Load }, { "BPF_LDX", (long)InstructionClass.LoadFromMemory }, { "BPF_ST", (long)InstructionClass.StoreConstant },
        { "BPF_STX", (long)InstructionClass.StoreFromRegister }, { "BPF_ALU", (long)InstructionClass.Alu32 }, { "BPF_JMP", (long)InstructionClass.Jump },
        { "BPF_JMP32", (long)InstructionClass.Jump32 }, { "BPF_ALU64", (long)InstructionClass.Alu64 },
        { "BPF_W", (long)Size.Word }, { "BPF_H", (long)Size.HalfWord }, { "BPF_B", (long)Size.Byte }, { "BPF_DW", (long)Size.DoubleWord },
        { "BPF_IMM", (long)AddressMode.Immediate }, { "BPF_MEM", (long)AddressMode.Memory }, { "BPF_K", (long)Source.Constant }, { "BPF_X", (long)Source.Register },
        { "BPF_ADD", (long)AluOperation.Add }, { "BPF_SUB", (long)AluOperation.Subtract }, { "BPF_MUL", (long)AluOperation.Multiply },
        { "BPF_DIV", (long)AluOperation.Divide }, { "BPF_OR", (long)AluOperation.Or }, { "BPF_AND", (long)AluOperation.And },
        { "BPF_LSH", (long)AluOperation.LeftShift }, { "BPF_RSH", (long)AluOperation.RightShift }, { "BPF_NEG", (long)AluOperation.Negate },
        { "BPF_MOD", (long)AluOperation.Modulo }, { "BPF_XOR", (long)AluOperation.Xor }, { "BPF_MOV", (long)AluOperation.Move },
        { "BPF_ARSH", (long)AluOperation.ArithmeticRightShift },
        { "BPF_JA", (long)JumpOperation.Always }, { "BPF_JEQ", (long)JumpOperation.Equal }, { "BPF_JGT", (long)JumpOperation.Greater },
        { "BPF_JGE", (long)JumpOperation.GreaterOrEqual }, { "BPF_JSET", (long)JumpOperation.BitsSet }, { "BPF_JNE", (long)JumpOperation.NotEqual },
        { "BPF_JSGT", (long)JumpOperation.SignedGreater }, { "BPF_JSGE", (long)JumpOperation.SignedGreaterOrEqual }, { "BPF_CALL", (long)JumpOperation.Call },
        { "BPF_EXIT", (long)JumpOperation.Exit }, { "BPF_JLT", (long)JumpOperation.Less }, { "BPF_JLE", (long)JumpOperation.LessOrEqual },
        { "BPF_JSLT", (long)JumpOperation.SignedLess }, { "BPF_JSLE", (long)JumpOperation.SignedLessOrEqual },
        { "BPF_PSEUDO_MAP_FD", Asm.PseudoMapFd }, { "sizeof(bpf_insn)", InstructionEncoder.SlotSize },
        { "BPF_FUNC_map_lookup_elem", (long)HelperFunction.MapLookupElement }, { "BPF_FUNC_setsockopt", (long)HelperFunction.SetSocketOption },
        { "BPF_FUNC_getsockopt", (long)HelperFunction.GetSocketOption },
        { "BPF_FUNC_seq_write", (long)HelperFunction.SequenceWrite }, { "BPF_LINK_CREATE", (long)BpfCommand.LinkCreate },
        { "BPF_ITER_CREATE", (long)BpfCommand.IteratorCreate }, { "BPF_PROG_TYPE_TRACING", (long)BpfProgramType.Tracing },
        { "BPF_TRACE_ITER", (long)BpfAttachType.TraceIterator },
        { "offsetof(union bpf_attr,expected_attach_type)", BpfAttr.ExpectedAttachType }, { "offsetof(union bpf_attr,attach_btf_id)", BpfAttr.AttachBtfId },
        { "offsetof(union bpf_attr,link_create.prog_fd)", BpfAttr.LinkProgramFd }, { "offsetof(union bpf_attr,link_create.attach_type)", BpfAttr.LinkAttachType },
        { "offsetof(union bpf_attr,iter_create.link_fd)", BpfAttr.IteratorLinkFd },
        { "BPF_MAP_CREATE", (long)BpfCommand.MapCreate }, { "BPF_MAP_LOOKUP_ELEM", (long)BpfCommand.MapLookupElement },
        { "BPF_MAP_UPDATE_ELEM", (long)BpfCommand.MapUpdateElement }, { "BPF_PROG_LOAD", (long)BpfCommand.ProgramLoad },
        { "BPF_PROG_ATTACH", (long)BpfCommand.ProgramAttach }, { "BPF_PROG_DETACH", (long)BpfCommand.ProgramDetach },
        { "BPF_PROG_GET_NEXT_ID", (long)BpfCommand.ProgramGetNextId }, { "BPF_PROG_GET_FD_BY_ID", (long)BpfCommand.ProgramGetFdById },
        { "BPF_MAP_GET_FD_BY_ID", (long)BpfCommand.MapGetFdById }, { "BPF_OBJ_GET_INFO_BY_FD", (long)BpfCommand.ObjectGetInfoByFd },
        { "BPF_PROG_QUERY", (long)BpfCommand.ProgramQuery }, { "BPF_MAP_FREEZE", (long)BpfCommand.MapFreeze },
        { "BPF_PROG_TYPE_SOCK_OPS", (long)BpfProgramType.SocketOperations }, { "BPF_MAP_TYPE_ARRAY", (long)BpfMapType.Array },
        { "BPF_CGROUP_SOCK_OPS", (long)BpfAttachType.CgroupSocketOperations },
        { "BPF_F_ALLOW_OVERRIDE", (long)BpfAttachFlags.AllowOverride }, { "BPF_F_ALLOW_MULTI", (long)BpfAttachFlags.AllowMulti }, { "BPF_F_REPLACE", (long)BpfAttachFlags.Replace },
        { "BPF_OBJ_NAME_LEN", BpfAttr.ObjectNameLength }, { "BPF_TAG_SIZE", BpfAttr.TagSize },
        { "BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB", PolicyProgram.ActiveEstablished }, { "BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB", PolicyProgram.PassiveEstablished },
        { "offsetof(struct bpf_sock_ops,op)", PolicyProgram.OperationOffset }, { "offsetof(struct bpf_sock_ops,reply)", PolicyProgram.ReplyOffset },
        { "offsetof(union bpf_attr,map_type)", BpfAttr.MapType }, { "offsetof(union bpf_attr,key_size)", BpfAttr.KeySize },
        { "offsetof(union bpf_attr,value_size)", BpfAttr.ValueSize }, { "offsetof(union bpf_attr,max_entries)", BpfAttr.MaxEntries },
        { "offsetof(union bpf_attr,map_flags)", BpfAttr.MapFlags }, { "offsetof(union bpf_attr,map_name)", BpfAttr.MapName },
        { "offsetof(union bpf_attr,map_fd)", BpfAttr.ElementMapFd }, { "offsetof(union bpf_attr,key)", BpfAttr.ElementKey },
        { "offsetof(union bpf_attr,value)", BpfAttr.ElementValue }, { "offsetof(union bpf_attr,flags)", BpfAttr.ElementFlags },
        { "offsetof(union bpf_attr,prog_type)", BpfAttr.ProgramType }, { "offsetof(union bpf_attr,insn_cnt)", BpfAttr.InstructionCount },
        { "offsetof(union bpf_attr,insns)", BpfAttr.Instructions }, { "offsetof(union bpf_attr,license)", BpfAttr.License },
        { "offsetof(union bpf_attr,log_level)", BpfAttr.LogLevel }, { "offsetof(union bpf_attr,log_size)", BpfAttr.LogSize },
        { "offsetof(union bpf_attr,log_buf)", BpfAttr.LogBuffer }, { "offsetof(union bpf_attr,prog_name)", BpfAttr.ProgramName },
        { "offsetof(union bpf_attr,target_fd)", BpfAttr.TargetFd }, { "offsetof(union bpf_attr,attach_bpf_fd)", BpfAttr.AttachBpfFd },
        { "offsetof(union bpf_attr,attach_type)", BpfAttr.AttachType }, { "offsetof(union bpf_attr,attach_flags)", BpfAttr.AttachFlags },
        { "offsetof(union bpf_attr,replace_bpf_fd)", BpfAttr.ReplaceBpfFd },
        { "offsetof(union bpf_attr,prog_id)", BpfAttr.Id }, { "offsetof(union bpf_attr,start_id)", BpfAttr.Id }, { "offsetof(union bpf_attr,next_id)", BpfAttr.NextId },
        { "offsetof(union bpf_attr,info.bpf_fd)", BpfAttr.InfoBpfFd }, { "offsetof(union bpf_attr,info.info_len)", BpfAttr.InfoLength },
        { "offsetof(union bpf_attr,info.info)", BpfAttr.Info },
        { "offsetof(union bpf_attr,query.target_fd)", BpfAttr.QueryTargetFd }, { "offsetof(union bpf_attr,query.attach_type)", BpfAttr.QueryAttachType },
        { "offsetof(union bpf_attr,query.query_flags)", BpfAttr.QueryFlags }, { "offsetof(union bpf_attr,query.attach_flags)", BpfAttr.QueryAttachFlags },
        { "offsetof(union bpf_attr,query.prog_ids)", BpfAttr.QueryProgramIds }, { "offsetof(union bpf_attr,query.prog_cnt)", BpfAttr.QueryProgramCount },
        { "fits(bpf_attr)", 1 },
        { "offsetof(struct bpf_prog_info,type)", BpfAttr.ProgramInfoType }, { "offsetof(struct bpf_prog_info,id)", BpfAttr.ProgramInfoId },
        { "offsetof(struct bpf_prog_info,tag)", BpfAttr.ProgramInfoTag }, { "offsetof(struct bpf_prog_info,load_time)", BpfAttr.ProgramInfoLoadTime },
        { "offsetof(struct bpf_prog_info,created_by_uid)", BpfAttr.ProgramInfoCreatedByUid }, { "offsetof(struct bpf_prog_info,nr_map_ids)", BpfAttr.ProgramInfoMapIdCount },
        { "offsetof(struct bpf_prog_info,map_ids)", BpfAttr.ProgramInfoMapIds }, { "offsetof(struct bpf_prog_info,name)", BpfAttr.ProgramInfoName },
        { "fits(bpf_prog_info)", 1 },
        { "offsetof(struct bpf_map_info,type)", BpfAttr.MapInfoType }, { "offsetof(struct bpf_map_info,id)", BpfAttr.MapInfoId },
        { "offsetof(struct bpf_map_info,key_size)", BpfAttr.MapInfoKeySize }, { "offsetof(struct bpf_map_info,value_size)", BpfAttr.MapInfoValueSize },
        { "offsetof(struct bpf_map_info,max_entries)", BpfAttr.MapInfoMaxEntries }, { "offsetof(struct bpf_map_info,map_flags)", BpfAttr.MapInfoFlags },
        { "offsetof(struct bpf_map_info,name)", BpfAttr.MapInfoName }, { "fits(bpf_map_info)", 1 },
        { "CGROUP2_SUPER_MAGIC", CgroupDirectory.Cgroup2Magic }, { "offsetof(struct statfs,f_type)", 0 }, { "fits(statfs)", 1 },
        { "SOL_SOCKET", 1 }, { "SO_KEEPALIVE", 9 }, { "IPPROTO_TCP", 6 }, { "TCP_KEEPIDLE", 4 }, { "TCP_KEEPINTVL", 5 }, { "TCP_KEEPCNT", 6 }, { "TCP_USER_TIMEOUT", 18 },
    };

    [Theory]
    [MemberData(nameof(Expected))]
    public void Constant_MatchesTheCHeaders(string name, long expected)
    {
        Assert.True(Measured.Value.ContainsKey(name), $"the C program did not print {name}");
        Assert.Equal(Measured.Value[name], expected);
    }

    [Fact]
    public void EveryPrintedValueIsChecked()
    {
        var checkedNames = Expected().Select(row => (string)row[0]).ToHashSet();
        Assert.Equal(Array.Empty<string>(), Measured.Value.Keys.Where(name => !checkedNames.Contains(name)).ToArray());
    }
}
