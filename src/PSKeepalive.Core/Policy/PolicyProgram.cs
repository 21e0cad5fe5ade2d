using System.Collections.Generic;
using PSKeepalive.Core.Bpf;
using PSKeepalive.Core.Sockets;
using static PSKeepalive.Core.Bpf.Register;

namespace PSKeepalive.Core.Policy;

/// <summary>
/// The BPF_PROG_TYPE_SOCK_OPS program of a keepalive policy. It runs for every TCP socket of the cgroup (and its
/// descendants) at each sock_ops callback, acts only when a connection is established, and reads what to do from
/// its map (<see cref="PolicyMapValue"/>), so that the instructions are the same for every policy:
/// <list type="number">
/// <item>op 4 (BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB: a connect() completed) or 5 (PASSIVE_ESTABLISHED_CB: a connection
/// was accepted); any other op: return at once, touching nothing (some ops read <c>reply</c> back).</item>
/// <item>If <c>reply</c> already holds the mark, a policy of a more specific cgroup has decided for this connection:
/// return. With BPF_F_ALLOW_MULTI the kernel runs the socket's own cgroup's programs first, then its parent's, up
/// to the root, all with the same context, so the mark is how the nearest policy wins. The kernel ignores
/// <c>reply</c> for the two established callbacks and passes no arguments to them (args[0], which shares its
/// place, is 0), so another tool's program that runs later in the same callback loses nothing by seeing it.</item>
/// <item>Look up the map's entry; set the mark (this policy decides, whatever it decides).</item>
/// <item>The policy's mode does not cover this direction: return.</item>
/// <item>Unless forced: bpf_getsockopt(SOL_SOCKET, SO_KEEPALIVE); if the program switched it on itself, return and
/// leave its values alone.</item>
/// <item>bpf_setsockopt for each timer the policy sets (TCP_KEEPCNT, TCP_KEEPINTVL, TCP_KEEPIDLE, TCP_USER_TIMEOUT),
/// then SO_KEEPALIVE = 1 last, so that the keepalive timer is armed once, with the final values.</item>
/// </list>
/// It always returns 1 (the kernel treats 0 from a sock_ops program as an error).
/// </summary>
internal static class PolicyProgram
{
    /// <summary>The name the program is loaded with; Get recognises policies by it (and by their map).</summary>
    public const string Name = "pskeepalive";

    /// <summary>The name of its map.</summary>
    public const string MapName = "pskeepalive";

    /// <summary>bpf_setsockopt and bpf_getsockopt are GPL-only helpers.</summary>
    public const string License = "GPL";

    /// <summary>BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB.</summary>
    public const int ActiveEstablished = 4;

    /// <summary>BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB.</summary>
    public const int PassiveEstablished = 5;

    /// <summary>offsetof(struct bpf_sock_ops, op).</summary>
    public const short OperationOffset = 0;

    /// <summary>offsetof(struct bpf_sock_ops, reply) (a union with args[0]).</summary>
    public const short ReplyOffset = 4;

    private const short KeyOnStack = -4;
    private const short ValueOnStack = -8;

    private const string Done = "done";

    /// <summary>The instructions, with <paramref name="mapFd"/> as the map (BPF_PSEUDO_MAP_FD).</summary>
    public static IReadOnlyList<Instruction> Build(int mapFd)
    {
        var program = new Builder();
        program.Add(
            Asm.Move(R6, R1),                                                   // r6 = ctx
            Asm.Load(Size.Word, R2, R6, OperationOffset),                       // r2 = ctx->op
            Asm.Move(R7, (int)PolicyMapValue.PolicyFlags.Outgoing),             // r7 = the mode flag of this direction
            Asm.JumpIf(JumpOperation.Equal, R2, ActiveEstablished, "established"),
            Asm.Move(R7, (int)PolicyMapValue.PolicyFlags.Accepted),
            Asm.JumpIf(JumpOperation.NotEqual, R2, PassiveEstablished, Done));
        program.Label("established");
        program.Add(
            Asm.Load(Size.Word, R2, R6, ReplyOffset),                           // r2 = ctx->reply
            Asm.JumpIf(JumpOperation.Equal, R2, unchecked((int)PolicyMapValue.Magic), Done),
            Asm.Store(Size.Word, R10, KeyOnStack, 0),                           // key 0
            Asm.Move(R2, R10),
            Asm.Alu64(AluOperation.Add, R2, KeyOnStack),
            Asm.LoadMapFd(R1, mapFd),
            Asm.Call(HelperFunction.MapLookupElement),
            Asm.JumpIf(JumpOperation.Equal, R0, 0, Done),
            Asm.Move(R8, R0),                                                   // r8 = the policy's values
            Asm.Move(R1, unchecked((int)PolicyMapValue.Magic)),
            Asm.Store(Size.Word, R6, ReplyOffset, R1),                          // ctx->reply = mark: this policy decides
            Asm.Load(Size.Word, R9, R8, PolicyMapValue.FlagsOffset),            // r9 = flags
            Asm.Move(R1, R9),
            Asm.Alu64(AluOperation.And, R1, R7),
            Asm.JumpIf(JumpOperation.Equal, R1, 0, Done),                       // the mode does not cover this direction
            Asm.Move(R1, R9),
            Asm.Alu64(AluOperation.And, R1, (int)PolicyMapValue.PolicyFlags.Force),
            Asm.JumpIf(JumpOperation.NotEqual, R1, 0, "apply"),                 // forced: skip the check below
            Asm.Store(Size.Word, R10, ValueOnStack, 0));
        program.Add(SocketOptionCall(HelperFunction.GetSocketOption, SocketOptionNames.SOL_SOCKET, SocketOptionNames.SO_KEEPALIVE));
        program.Add(
            Asm.Load(Size.Word, R1, R10, ValueOnStack),
            Asm.JumpIf(JumpOperation.NotEqual, R1, 0, Done));                   // the program switched keepalive on itself
        program.Label("apply");
        AddTimer(program, PolicyMapValue.PolicyFlags.Count, PolicyMapValue.CountOffset, SocketOptionNames.TCP_KEEPCNT, "count");
        AddTimer(program, PolicyMapValue.PolicyFlags.Interval, PolicyMapValue.IntervalOffset, SocketOptionNames.TCP_KEEPINTVL, "interval");
        AddTimer(program, PolicyMapValue.PolicyFlags.Idle, PolicyMapValue.IdleOffset, SocketOptionNames.TCP_KEEPIDLE, "idle");
        AddTimer(program, PolicyMapValue.PolicyFlags.UserTimeout, PolicyMapValue.UserTimeoutOffset, SocketOptionNames.TCP_USER_TIMEOUT, "usertimeout");
        program.Add(Asm.Store(Size.Word, R10, ValueOnStack, 1));
        program.Add(SocketOptionCall(HelperFunction.SetSocketOption, SocketOptionNames.SOL_SOCKET, SocketOptionNames.SO_KEEPALIVE));
        program.Label(Done);
        program.Add(Asm.Move(R0, 1), Asm.Exit());
        return program.Instructions;
    }

    /// <summary>If the flag is set: *(u32 *)(fp - 8) = value; bpf_setsockopt(ctx, SOL_TCP, option, fp - 8, 4).</summary>
    private static void AddTimer(Builder program, PolicyMapValue.PolicyFlags flag, int valueOffset, int option, string name)
    {
        string next = "after-" + name;
        program.Add(
            Asm.Move(R1, R9),
            Asm.Alu64(AluOperation.And, R1, (int)flag),
            Asm.JumpIf(JumpOperation.Equal, R1, 0, next),
            Asm.Load(Size.Word, R1, R8, (short)valueOffset),
            Asm.Store(Size.Word, R10, ValueOnStack, R1));
        program.Add(SocketOptionCall(HelperFunction.SetSocketOption, SocketOptionNames.IPPROTO_TCP, option));
        program.Label(next);
    }

    /// <summary>r0 = helper(ctx, level, option, fp - 8, 4).</summary>
    private static Instruction[] SocketOptionCall(HelperFunction helper, int level, int option) =>
    [
        Asm.Move(R1, R6),
        Asm.Move(R2, level),
        Asm.Move(R3, option),
        Asm.Move(R4, R10),
        Asm.Alu64(AluOperation.Add, R4, ValueOnStack),
        Asm.Move(R5, 4),
        Asm.Call(helper),
    ];

    /// <summary>Collects instructions; a label names the next instruction added.</summary>
    private sealed class Builder
    {
        private readonly List<Instruction> _instructions = new();
        private string? _pendingLabel;

        public IReadOnlyList<Instruction> Instructions => _pendingLabel is null
            ? _instructions
            : throw new System.InvalidOperationException($"The label '{_pendingLabel}' names no instruction.");

        public void Label(string label)
        {
            if (_pendingLabel is not null)
            {
                throw new System.InvalidOperationException($"Two labels ('{_pendingLabel}', '{label}') for one instruction.");
            }

            _pendingLabel = label;
        }

        public void Add(params Instruction[] instructions)
        {
            foreach (Instruction instruction in instructions)
            {
                _instructions.Add(_pendingLabel is null ? instruction : instruction.WithLabel(_pendingLabel));
                _pendingLabel = null;
            }
        }
    }
}
