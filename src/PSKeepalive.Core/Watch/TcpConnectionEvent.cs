using System;
using PSKeepalive.Core.Connections;

namespace PSKeepalive.Core.Watch;

/// <summary>What happened to a watched connection between two samples.</summary>
public enum TcpConnectionEventKind
{
    /// <summary>A connection matching the filter appeared (or, with IncludeExisting, was there when the watch began).</summary>
    New,

    /// <summary>A keepalive probe went out unanswered: <see cref="TcpConnectionEvent.Probes"/> is its number (1 for the first).</summary>
    Probe,

    /// <summary>The peer answered: the probe counter went back to 0.</summary>
    Answered,

    /// <summary>Keepalive was switched on (a keepalive timer appeared on a connection that had none).</summary>
    KeepaliveOn,

    /// <summary>Keepalive was switched off (the keepalive timer of an idle connection went away).</summary>
    KeepaliveOff,

    /// <summary>
    /// Keepalive ended the connection: it vanished once its keepalive timer was due with probes unanswered (the
    /// kernel's reset after the last probe, or a reset that answered a probe).
    /// </summary>
    KeepaliveTimeout,

    /// <summary>The connection closed otherwise: it began closing (FIN_WAIT, LAST_ACK, TIME_WAIT...) or vanished without keepalive's doing.</summary>
    Closed,
}

/// <summary>
/// One event of Watch-TcpConnection / `pskeepalive watch`: what happened (<see cref="Kind"/>), when the sample saw it,
/// to which connection, with its keepalive probe counter and timer at that moment. Flat, with only primitives,
/// strings, enums, TimeSpan and DateTime, so that it survives PowerShell remoting; the connection's own
/// property names (LocalAddress, LocalPort, RemoteAddress, RemotePort, Cookie, Inode, NetworkNamespace) let it be
/// piped to Enable-TcpKeepalive or Close-TcpConnection.
/// </summary>
public sealed record TcpConnectionEvent
{
    /// <summary>
    /// When the sample that saw the event began (local time); the event itself happened since the previous sample.
    /// A DateTime, not a DateTimeOffset: PowerShell remoting brings a DateTime back as a DateTime (to the same instant)
    /// but a DateTimeOffset only as a bag of its properties.
    /// </summary>
    public required DateTime Time { get; init; }

    public required TcpConnectionEventKind Kind { get; init; }

    /// <summary>
    /// Keepalive probes sent and unanswered at this event: for <see cref="TcpConnectionEventKind.Probe"/> the number of
    /// the probe (n of <see cref="ProbeCount"/>), 0 after <see cref="TcpConnectionEventKind.Answered"/>, the last
    /// count seen for <see cref="TcpConnectionEventKind.KeepaliveTimeout"/>.
    /// </summary>
    public required int Probes { get; init; }

    /// <summary>TCP_KEEPCNT of the socket when it was read (IncludeSocketOption); null when not known.</summary>
    public int? ProbeCount { get; init; }

    /// <summary>The connection's state in the sample (the last one seen for a connection that vanished).</summary>
    public required TcpState State { get; init; }

    /// <summary>The timer sock_diag showed in the sample (the last one seen for a connection that vanished).</summary>
    public required TcpTimer Timer { get; init; }

    /// <summary>Time left on <see cref="Timer"/> when sampled; null when no timer was armed.</summary>
    public TimeSpan? TimerExpires { get; init; }

    /// <summary>"IPv4" or "IPv6".</summary>
    public required string AddressFamily { get; init; }

    public required string LocalAddress { get; init; }

    public required int LocalPort { get; init; }

    public required string RemoteAddress { get; init; }

    public required int RemotePort { get; init; }

    /// <summary>The kernel's socket cookie: the key the watch follows a connection by.</summary>
    public required ulong Cookie { get; init; }

    /// <summary>The socket's inode (0 for TIME_WAIT).</summary>
    public long Inode { get; init; }

    /// <summary>The bound interface index (0 when not bound to a device).</summary>
    public int InterfaceIndex { get; init; }

    /// <summary>The network namespace watched, as given (null: the caller's).</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>What happened, in words: "probe 2 of 3 unanswered", "timed out by keepalive after 3 unanswered probes".</summary>
    public required string Detail { get; init; }

    /// <summary>The JSON and CLI spelling of <see cref="Kind"/>: new, probe, answered, keepaliveOn, keepaliveOff, keepaliveTimeout, closed.</summary>
    public static string KindName(TcpConnectionEventKind kind) => kind switch
    {
        TcpConnectionEventKind.New => "new",
        TcpConnectionEventKind.Probe => "probe",
        TcpConnectionEventKind.Answered => "answered",
        TcpConnectionEventKind.KeepaliveOn => "keepaliveOn",
        TcpConnectionEventKind.KeepaliveOff => "keepaliveOff",
        TcpConnectionEventKind.KeepaliveTimeout => "keepaliveTimeout",
        TcpConnectionEventKind.Closed => "closed",
        _ => ((int)kind).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
