using System;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Netlink;

/// <summary>
/// Asks sock_diag about one TCP socket by its exact id (SOCK_DIAG_BY_FAMILY without NLM_F_DUMP: the kernel's
/// inet_diag_cmd_exact): the same inet_diag_msg a dump gives (state, timer, time left on it, probes), for one
/// socket and in one round trip of some tens of microseconds. Needs no privilege for any socket of the namespace.
/// </summary>
internal static class InetDiagLookup
{
    /// <summary>
    /// The socket <paramref name="id"/> names (a cookie of ~0 matches any), or null when the kernel has no such
    /// socket any more (closed, or reset and unhashed; or the addresses now belong to a socket with another cookie).
    /// Other kernel errors are thrown typed.
    /// </summary>
    public static InetDiagMessage? Query(NetlinkSocket socket, byte family, in InetDiagSocketId id)
    {
        Span<byte> request = stackalloc byte[InetDiag.RequestMessageLength];
        uint sequence = socket.NextSequence();
        InetDiag.WriteRequest(request, InetDiag.SockDiagByFamily, NetlinkConstants.FlagRequest, sequence, family, InetDiag.AllStates, 0, id);
        socket.Send(request);
        while (true)
        {
            var messages = new NetlinkMessageReader(socket.Receive());
            while (messages.TryRead(out NetlinkMessage message))
            {
                if (message.Header.Sequence != sequence)
                {
                    continue; // a late answer to an earlier request on this socket
                }

                switch (message.Header.Type)
                {
                    case InetDiag.SockDiagByFamily:
                        return InetDiag.Decode(message.Payload);
                    case NetlinkConstants.MessageError:
                        NetlinkError error = NetlinkError.Decode(message.Payload, message.Header.Flags);
                        // ENOENT: no such socket; ESTALE: a socket with these addresses but another cookie (a new
                        // connection reusing them); 0: an acknowledgement with no socket before it (never asked for).
                        if (error.Errno is 0 or Errno.ENOENT or Errno.ESTALE)
                        {
                            return null;
                        }

                        throw NetlinkSocket.ErrorFor(error, "look up one TCP socket with sock_diag", "sock_diag");
                }
            }
        }
    }
}
