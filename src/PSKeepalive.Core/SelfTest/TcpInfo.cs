using System.Runtime.InteropServices;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Core.SelfTest;

/// <summary>
/// A few fields of struct tcp_info (&lt;linux/tcp.h&gt;), read with getsockopt(TCP_INFO). The tcpi_last_* fields are
/// milliseconds since the event (jiffies resolution), which is how the self-test learns when the kernel's own
/// clocks started.
/// </summary>
internal readonly record struct TcpInfo(byte State, byte Retransmits, byte Probes, uint LastDataSent, uint LastDataRecv, uint LastAckRecv, uint TotalRetrans)
{
    // Offsets in struct tcp_info; a test compiles a C program against <linux/tcp.h> to check them.
    internal const int StateOffset = 0;
    internal const int RetransmitsOffset = 2;
    internal const int ProbesOffset = 3;
    internal const int LastDataSentOffset = 44;
    internal const int LastDataRecvOffset = 52;
    internal const int LastAckRecvOffset = 56;
    internal const int TotalRetransOffset = 100;
    internal const int Length = 104;

    /// <summary>TCP_CLOSE in tcpi_state.</summary>
    internal const byte StateClose = 7;

    internal static unsafe TcpInfo Read(SafeHandle socket, object target) => SocketKeepalive.WithHandle(socket, target, fd =>
    {
        byte* buffer = stackalloc byte[Length];
        new System.Span<byte>(buffer, Length).Clear();
        uint length = Length;
        if (Libc.GetSockOpt(fd, SocketOptionNames.IPPROTO_TCP, SocketOptionNames.TCP_INFO, buffer, &length) != 0)
        {
            throw Errno.Last("Socket", $"read TCP_INFO of socket fd {fd}", target);
        }

        uint totalRetrans = length >= TotalRetransOffset + 4 ? *(uint*)(buffer + TotalRetransOffset) : 0;
        return new TcpInfo(
            buffer[StateOffset],
            buffer[RetransmitsOffset],
            buffer[ProbesOffset],
            *(uint*)(buffer + LastDataSentOffset),
            *(uint*)(buffer + LastDataRecvOffset),
            *(uint*)(buffer + LastAckRecvOffset),
            totalRetrans);
    });
}
