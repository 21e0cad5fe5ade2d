namespace PSKeepalive.Core.Sockets;

/// <summary>Levels and option numbers from &lt;sys/socket.h&gt;, &lt;netinet/in.h&gt; and &lt;netinet/tcp.h&gt; (Linux, every architecture .NET runs on).</summary>
internal static class SocketOptionNames
{
    public const int AF_UNIX = 1;
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;

    public const int SOCK_STREAM = 1;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_RAW = 3;
    public const int SOCK_SEQPACKET = 5;

    public const int SOL_SOCKET = 1;
    public const int SO_TYPE = 3;
    public const int SO_KEEPALIVE = 9;
    public const int SO_ATTACH_FILTER = 26;
    public const int SO_PROTOCOL = 38;
    public const int SO_DOMAIN = 39;

    public const int IPPROTO_TCP = 6;
    public const int IPPROTO_UDP = 17;
    public const int TCP_KEEPIDLE = 4;
    public const int TCP_KEEPINTVL = 5;
    public const int TCP_KEEPCNT = 6;
    public const int TCP_INFO = 11;
    public const int TCP_USER_TIMEOUT = 18;

    /// <summary>"an IPv4 (AF_INET)", "a Unix-domain (AF_UNIX)", "an address family 7": the article as the words are spoken.</summary>
    public static string WithArticle(string words) =>
        (words.Length > 0 && "AEIOaeio".Contains(words[0]) ? "an " : "a ") + words;

    public static string FamilyName(int family) => family switch
    {
        AF_UNIX => "Unix-domain (AF_UNIX)",
        AF_INET => "IPv4 (AF_INET)",
        AF_INET6 => "IPv6 (AF_INET6)",
        _ => $"address family {family}",
    };

    public static string TypeName(int type) => type switch
    {
        SOCK_STREAM => "SOCK_STREAM",
        SOCK_DGRAM => "SOCK_DGRAM",
        SOCK_RAW => "SOCK_RAW",
        SOCK_SEQPACKET => "SOCK_SEQPACKET",
        _ => $"type {type}",
    };

    public static string ProtocolName(int protocol) => protocol switch
    {
        IPPROTO_TCP => "TCP",
        IPPROTO_UDP => "UDP",
        0 => "protocol 0",
        _ => $"protocol {protocol}",
    };
}
