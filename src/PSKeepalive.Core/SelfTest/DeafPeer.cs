using System.Runtime.InteropServices;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Core.SelfTest;

/// <summary>
/// Makes one end of a connection deaf without privilege: a classic BPF socket filter whose only
/// instruction is "return 0" (BPF_RET|BPF_K, k = 0) drops every incoming segment before TCP sees it, so
/// nothing is acknowledged and the other end's probes and retransmissions go unanswered.
/// </summary>
internal static class DeafPeer
{
    private const ushort BpfRetK = 0x06; // BPF_RET | BPF_K

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFilter
    {
        public ushort Code;
        public byte JumpTrue;
        public byte JumpFalse;
        public uint K;
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct SockFprog
    {
        public ushort Length;
        public SockFilter* Filter; // aligned to 8 on 64-bit: 6 bytes of padding after Length, as in the C struct
    }

    internal static unsafe void AttachDropAll(SafeHandle socket, object target) => SocketKeepalive.WithHandle(socket, target, fd =>
    {
        var drop = new SockFilter { Code = BpfRetK, JumpTrue = 0, JumpFalse = 0, K = 0 };
        var program = new SockFprog { Length = 1, Filter = &drop };
        if (Libc.SetSockOpt(fd, SocketOptionNames.SOL_SOCKET, SocketOptionNames.SO_ATTACH_FILTER, &program, (uint)sizeof(SockFprog)) != 0)
        {
            // Some kernels refuse socket filters to unprivileged processes (seen on 6.18 with
            // kernel.unprivileged_bpf_disabled = 2: EPERM as nobody, allowed with CAP_NET_ADMIN).
            throw Errno.Last(
                "Socket",
                $"attach a drop-all socket filter (SO_ATTACH_FILTER) to socket fd {fd}",
                target,
                "root or CAP_NET_ADMIN: this kernel does not let unprivileged processes attach socket filters (see kernel.unprivileged_bpf_disabled)");
        }

        return 0;
    });
}
