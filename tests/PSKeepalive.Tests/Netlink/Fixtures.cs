using System;
using System.IO;
using System.Linq;

namespace PSKeepalive.Tests.Netlink;

/// <summary>Datagrams captured from real dumps by Fixtures/capture.c (one hex line per datagram, request sequence 7).</summary>
public static class Fixtures
{
    public const uint Sequence = 7;

    /// <summary>AF_INET with INET_DIAG_INFO: 127.0.0.1:40001 listener, a client with keepalive (idle 600 s), one without, the two accepted sockets.</summary>
    public static byte[][] Ipv4WithInfo => Load("dump-ipv4-info.hex");

    /// <summary>AF_INET6 without tcp_info: the [::1]:40002 listener.</summary>
    public static byte[][] Ipv6 => Load("dump-ipv6.hex");

    /// <summary>
    /// Both families in one walk (TCPDIAG_GETSOCK, no tcp_info; `capture one-walk`): the same sockets as the two
    /// captures above, in the kernel's table order, in messages of type TCPDIAG_GETSOCK.
    /// </summary>
    public static byte[][] OneWalk => Load("dump-one-walk.hex");

    private static byte[][] Load(string name) =>
        File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Netlink", "Fixtures", name))
            .Where(line => line.Length > 0)
            .Select(Convert.FromHexString)
            .ToArray();
}
