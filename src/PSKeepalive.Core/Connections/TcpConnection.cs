using System;
using System.Collections.Generic;

namespace PSKeepalive.Core.Connections;

/// <summary>One process holding a socket: several when the descriptor was inherited or passed.</summary>
/// <param name="Pid">Process id.</param>
/// <param name="Name">The process name (/proc/PID/comm), or null when it could not be read.</param>
/// <param name="CommandLine">The command line (/proc/PID/cmdline, arguments joined by spaces), or null when unreadable or empty (kernel threads).</param>
/// <param name="Fd">The descriptor number in that process.</param>
public sealed record TcpConnectionProcess(int Pid, string? Name, string? CommandLine, int Fd)
{
    /// <summary>
    /// "name/pid fd N", escaped for a terminal: Format-List and Format-Table show a connection's Processes this
    /// way, and a process may give itself any name.
    /// </summary>
    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{(Name is null ? string.Empty : TerminalText.Escape(Name) + "/")}{Pid} fd {Fd}");
}

/// <summary>
/// One TCP socket as sock_diag reports it. Names follow Windows' Get-NetTCPConnection where they overlap.
/// Only primitives, strings, enums and TimeSpan, so that it survives PowerShell remoting.
/// </summary>
public sealed record TcpConnection
{
    /// <summary>"IPv4" or "IPv6" (the socket's family; an IPv6 socket may carry IPv4-mapped addresses).</summary>
    public required string AddressFamily { get; init; }

    public required string LocalAddress { get; init; }

    public required int LocalPort { get; init; }

    public required string RemoteAddress { get; init; }

    public required int RemotePort { get; init; }

    public required TcpState State { get; init; }

    /// <summary>The socket's inode (the N of socket:[N] in /proc/PID/fd); 0 for TIME_WAIT and request sockets.</summary>
    public required long Inode { get; init; }

    /// <summary>The owning user id.</summary>
    public required long Uid { get; init; }

    /// <summary>The kernel's socket cookie: identifies the socket exactly (SOCK_DESTROY needs it).</summary>
    public required ulong Cookie { get; init; }

    /// <summary>The bound interface index (0 when not bound to a device).</summary>
    public int InterfaceIndex { get; init; }

    /// <summary>Bytes received and not yet read (LISTEN: the accept backlog length).</summary>
    public long ReceiveQueue { get; init; }

    /// <summary>Bytes sent and not yet acknowledged (LISTEN: the backlog limit).</summary>
    public long SendQueue { get; init; }

    /// <summary>The one timer the kernel reports for this socket.</summary>
    public required TcpTimer Timer { get; init; }

    /// <summary>Time until <see cref="Timer"/> fires; null when no timer is armed.</summary>
    public TimeSpan? TimerExpires { get; init; }

    /// <summary>Keepalive (or zero-window) probes sent and unanswered so far (idiag_retrans); 0 for other timers.</summary>
    public int ProbesSent { get; init; }

    /// <summary>True when the keepalive timer is the armed timer.</summary>
    public bool KeepaliveTimerActive => Timer == TcpTimer.Keepalive;

    /// <summary>
    /// Whether this connection is without keepalive. When <see cref="KeepaliveEnabled"/> is known (read from the
    /// socket itself) this is exact. Otherwise it is derived from the timer, which sock_diag reports alone
    /// (it has no SO_KEEPALIVE flag): true only when certain (an ESTABLISHED socket with no timer armed: with
    /// SO_KEEPALIVE an idle socket always has its keepalive timer armed); false when the keepalive timer runs
    /// on an ESTABLISHED or CLOSE_WAIT socket; null when unknown (another timer hides it, or the state has
    /// no keepalive, e.g. LISTEN or TIME_WAIT).
    /// </summary>
    public bool? NoKeepalive
    {
        get
        {
            if (KeepaliveEnabled is bool enabled)
            {
                return !enabled;
            }

            if (Timer == TcpTimer.Keepalive && State is TcpState.Established or TcpState.CloseWait)
            {
                return false;
            }

            if (Timer == TcpTimer.None && State == TcpState.Established)
            {
                return true;
            }

            return null;
        }
    }

    /// <summary>Smoothed round-trip time (tcp_info; null unless requested with -IncludeInfo).</summary>
    public TimeSpan? Rtt { get; init; }

    /// <summary>Time since data was last sent (tcp_info).</summary>
    public TimeSpan? LastDataSent { get; init; }

    /// <summary>Time since data was last received (tcp_info).</summary>
    public TimeSpan? LastDataReceived { get; init; }

    /// <summary>Segments retransmitted over the connection's life (tcpi_total_retrans).</summary>
    public long? Retransmits { get; init; }

    /// <summary>Segments sent and not yet acknowledged (tcpi_unacked; for LISTEN the accept backlog).</summary>
    public long? UnackedSegments { get; init; }

    /// <summary>The lowest PID holding the socket (as Windows gives one number); null unless owners were looked up or none was found.</summary>
    public int? OwningProcess { get; init; }

    /// <summary>Every process holding the socket, by PID then descriptor; empty unless owners were looked up.</summary>
    public IReadOnlyList<TcpConnectionProcess> Processes { get; init; } = Array.Empty<TcpConnectionProcess>();

    /// <summary>
    /// The owner of <see cref="OwningProcess"/>, flat: a column for Export-Csv and JSON, and what survives PowerShell
    /// remoting, which sends <see cref="Processes"/> as text. The same number as OwningProcess.
    /// </summary>
    public int? ProcessId => OwningProcess;

    /// <summary>The name (/proc/PID/comm) of the lowest-PID owner; null unless owners were looked up and it could be read.</summary>
    public string? ProcessName => Processes.Count > 0 ? Processes[0].Name : null;

    /// <summary>SO_KEEPALIVE read from the socket itself (filled by -IncludeSocketOption); null when not read.</summary>
    public bool? KeepaliveEnabled { get; init; }

    /// <summary>TCP_KEEPIDLE seconds read from the socket; null when not read.</summary>
    public int? Idle { get; init; }

    /// <summary>TCP_KEEPINTVL seconds read from the socket; null when not read.</summary>
    public int? Interval { get; init; }

    /// <summary>TCP_KEEPCNT read from the socket; null when not read. (Not "Count": that would hide PowerShell's .Count.)</summary>
    public int? ProbeCount { get; init; }

    /// <summary>TCP_USER_TIMEOUT milliseconds read from the socket; null when not read.</summary>
    public int? UserTimeout { get; init; }

    /// <summary>
    /// The network namespace the connection was listed in, as given (/run/netns/NAME or /proc/PID/ns/net); null for
    /// the caller's. Close-TcpConnection and Enable/Disable-TcpKeepalive bind it by property name, so piped
    /// connections are acted on and read again in their own namespace.
    /// </summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>
    /// "Established 127.0.0.1:22 -> 10.0.0.5:50112": what Group-Object's Group column and "$connection" show (a
    /// record's own text would list all thirty properties).
    /// </summary>
    public override string ToString() => $"{State} {Endpoint(LocalAddress, LocalPort)} -> {Endpoint(RemoteAddress, RemotePort)}";

    /// <summary>"127.0.0.1:22" or "[::1]:22".</summary>
    public static string Endpoint(string address, int port) =>
        address.Contains(':', StringComparison.Ordinal) ? $"[{address}]:{port}" : $"{address}:{port}";
}
