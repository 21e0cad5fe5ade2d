using System;
using PSKeepalive.Core.Errors;

namespace PSKeepalive.Core.Connections;

/// <summary>
/// TCP states with the names of Windows' Get-NetTCPConnection and the values of the Linux kernel
/// (include/net/tcp_states.h), so that a value from sock_diag casts directly.
/// </summary>
public enum TcpState
{
    Established = 1,
    SynSent = 2,
    SynReceived = 3,
    FinWait1 = 4,
    FinWait2 = 5,
    TimeWait = 6,

    /// <summary>TCP_CLOSE: a socket that is neither listening nor connected (ss: UNCONN).</summary>
    Closed = 7,
    CloseWait = 8,
    LastAck = 9,
    Listen = 10,
    Closing = 11,
}

/// <summary>
/// The one timer sock_diag reports per socket (idiag_timer, see inet_sk_diag_fill in net/ipv4/inet_diag.c).
/// The kernel reports nothing else: a pending delayed ACK is never shown, so there is no DelayedAck value.
/// </summary>
public enum TcpTimer
{
    /// <summary>0: no timer armed.</summary>
    None = 0,

    /// <summary>1: retransmission (also the RACK reordering and tail-loss-probe timers): data is in flight unacknowledged.</summary>
    Retransmit = 1,

    /// <summary>2: sk_timer: the keepalive timer on ESTABLISHED/CLOSE_WAIT sockets (on FIN_WAIT2 it is the FIN_WAIT2 timeout).</summary>
    Keepalive = 2,

    /// <summary>3: the TIME_WAIT timer.</summary>
    TimeWait = 3,

    /// <summary>4: zero window probe (persist) timer: the peer advertises a zero window.</summary>
    ZeroWindowProbe = 4,
}

/// <summary>Names of TCP states as `ss` spells them in filters and as the CLI accepts and prints them.</summary>
public static class TcpStateNames
{
    private static readonly string[] Names =
    {
        string.Empty, "established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait",
        "close", "close-wait", "last-ack", "listen", "closing",
    };

    /// <summary>Every accepted name, in state order.</summary>
    public static ReadOnlySpan<string> All => Names.AsSpan(1);

    /// <summary>"established", "time-wait"...</summary>
    public static string ToName(TcpState state) =>
        (int)state >= 1 && (int)state < Names.Length ? Names[(int)state] : ((int)state).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Parses an ss state name (also "closed", "listening", "syn-received" and the enum names), case-insensitively.</summary>
    public static TcpState Parse(string name)
    {
        string text = name.Trim().ToLowerInvariant();
        for (int i = 1; i < Names.Length; i++)
        {
            if (Names[i] == text)
            {
                return (TcpState)i;
            }
        }

        switch (text)
        {
            case "closed":
            case "unconn":
                return TcpState.Closed;
            case "listening":
                return TcpState.Listen;
            case "syn-received":
                return TcpState.SynReceived;
            case "estab":
                return TcpState.Established;
        }

        if (Enum.TryParse(text.Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true, out TcpState parsed) && Enum.IsDefined(parsed))
        {
            return parsed;
        }

        throw new KeepaliveValidationException(
            "Connection",
            "State",
            $"'{name}' is not a TCP state; use one of: {string.Join(", ", Names, 1, Names.Length - 1)}.",
            name);
    }
}
