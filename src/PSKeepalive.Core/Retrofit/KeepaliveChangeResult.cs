using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Core.Retrofit;

/// <summary>What happened to one socket of a running program.</summary>
public enum KeepaliveChangeOutcome
{
    /// <summary>The options were set and read back as requested.</summary>
    Applied,

    /// <summary>Nothing was written: the process or socket is gone, the descriptor now holds another socket, or the socket already had the requested values.</summary>
    Skipped,

    /// <summary>The change was refused or failed (permission, kernel error); the socket keeps its previous values.</summary>
    Failed,
}

/// <summary>
/// The result of changing the keepalive options of one socket of a running program (one per connection).
/// </summary>
/// <param name="Pid">The process whose descriptor was used.</param>
/// <param name="ProcessName">Its command name (/proc/PID/comm), or null when unknown.</param>
/// <param name="Fd">The descriptor number in that process.</param>
/// <param name="Inode">The socket's inode (as sock_diag and /proc/PID/fd report it).</param>
/// <param name="State">The TCP state ("Established", "Listen", ...), or "Unknown".</param>
/// <param name="LocalAddress">Local IP address; null when the socket could not be reached.</param>
/// <param name="LocalPort">Local port, 0 when unknown.</param>
/// <param name="RemoteAddress">Peer IP address (the any-address for a listener); null when unknown.</param>
/// <param name="RemotePort">Peer port, 0 for a listener or when unknown.</param>
/// <param name="Outcome">Applied, Skipped or Failed.</param>
/// <param name="Reason">Why it was skipped or failed; null when applied.</param>
/// <param name="ErrorId">The stable error id of a failure or skip caused by an error ("ProcessPermissionDenied"); null otherwise.</param>
/// <param name="Before">The options before the change; null when the socket could not be read.</param>
/// <param name="After">The options read back after the change (equal to Before when nothing was written); null when unknown.</param>
public sealed record KeepaliveChangeResult(
    int Pid,
    string? ProcessName,
    int Fd,
    ulong Inode,
    string State,
    string? LocalAddress,
    int LocalPort,
    string? RemoteAddress,
    int RemotePort,
    KeepaliveChangeOutcome Outcome,
    string? Reason,
    string? ErrorId,
    SocketKeepaliveOptions? Before,
    SocketKeepaliveOptions? After);

/// <summary>
/// One socket of a running program to act on: a descriptor of a process that should be socket <see cref="Inode"/>.
/// Addresses and state, when known (from sock_diag), are used in results when the socket cannot be reached.
/// </summary>
public sealed record SocketTarget(
    int Pid,
    int Fd,
    ulong Inode,
    string? LocalAddress = null,
    int LocalPort = 0,
    string? RemoteAddress = null,
    int RemotePort = 0,
    string? State = null);
