using System;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace PSKeepalive.Tests.Retrofit;

/// <summary>
/// Makes one end of a loopback connection (a socket the TEST owns) deaf: a classic BPF filter of one
/// instruction (BPF_RET|BPF_K, k = 0) attached with SO_ATTACH_FILTER drops every incoming segment before
/// TCP would acknowledge it, so the other end's keepalive probes go unanswered. No privilege needed.
/// </summary>
internal static unsafe class DeafPeer
{
    private const int SOL_SOCKET = 1;
    private const int SO_ATTACH_FILTER = 26;
    private const ushort BPF_RET_K = 0x06;

    public static void MakeDeaf(Socket socket)
    {
        ulong instruction = BPF_RET_K; // struct sock_filter { u16 code = 6; u8 jt = 0; u8 jf = 0; u32 k = 0; }
        byte* program = stackalloc byte[16]; // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
        new Span<byte>(program, 16).Clear();
        *(ushort*)program = 1;
        *(ulong**)(program + 8) = &instruction;
        if (SetSockOpt((int)socket.SafeHandle.DangerousGetHandle(), SOL_SOCKET, SO_ATTACH_FILTER, program, 16) != 0)
        {
            throw new InvalidOperationException($"SO_ATTACH_FILTER failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [DllImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static extern int SetSockOpt(int fd, int level, int name, void* value, uint length);
}
