using System;
using System.Globalization;

namespace PSKeepalive.Core.Sockets;

/// <summary>
/// The keepalive options of one TCP socket, as the kernel reports them. Before TCP_KEEPIDLE/INTVL/CNT are
/// set on a socket, the kernel reports its network namespace's sysctl values.
/// </summary>
/// <param name="Enabled">SO_KEEPALIVE: without it nothing is probed, whatever the other values say.</param>
/// <param name="Idle">TCP_KEEPIDLE: idle seconds before the first probe.</param>
/// <param name="Interval">TCP_KEEPINTVL: seconds between unanswered probes.</param>
/// <param name="ProbeCount">TCP_KEEPCNT: unanswered probes before the connection is dropped (not "Count", which would hide
/// the Count PowerShell gives every object).</param>
/// <param name="UserTimeout">TCP_USER_TIMEOUT in milliseconds; 0 means the system default (retransmission limits decide).</param>
public sealed record SocketKeepaliveOptions(bool Enabled, int Idle, int Interval, int ProbeCount, int UserTimeout)
{
    /// <summary>Seconds an idle connection to a silent peer survives when keepalive is on: Idle + Interval x ProbeCount.</summary>
    public long DeadPeerDetectionSeconds => Idle + ((long)Interval * ProbeCount);

    /// <summary>
    /// The socket's local address, so that a row says which socket it is (read from a .NET Socket by Get-/Set-SocketKeepalive);
    /// null when not known (the Before/After of a change, whose result names the socket itself) or not bound.
    /// </summary>
    public string? LocalAddress { get; init; }

    /// <summary>The socket's local port; null when not known.</summary>
    public int? LocalPort { get; init; }

    /// <summary>The peer's address: the any-address ("0.0.0.0", "::") for a socket that is not connected, as Get-TcpConnection shows it; null when not known.</summary>
    public string? RemoteAddress { get; init; }

    /// <summary>The peer's port: 0 for a socket that is not connected; null when not known.</summary>
    public int? RemotePort { get; init; }

    /// <summary>Equal when the options are: the endpoints only say which socket a row is (and are not always known).</summary>
    public bool Equals(SocketKeepaliveOptions? other) =>
        other is not null && Enabled == other.Enabled && Idle == other.Idle && Interval == other.Interval && ProbeCount == other.ProbeCount
        && UserTimeout == other.UserTimeout;

    public override int GetHashCode() => HashCode.Combine(Enabled, Idle, Interval, ProbeCount, UserTimeout);

    /// <summary>
    /// The options as the result's list view shows them: what Export-Csv, Select-Object and "$x" print for the
    /// Before and After of a change (a record's own text would list every property, empty endpoints included).
    /// </summary>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{(Enabled ? "on" : "off")} idle {Idle} s, interval {Interval} s, count {ProbeCount}, user timeout {UserTimeout} ms");
}

/// <summary>The options to change on a socket; null leaves an option as it is.</summary>
/// <param name="Enabled">SO_KEEPALIVE on (true) or off (false).</param>
/// <param name="Idle">TCP_KEEPIDLE, 1..32767 seconds.</param>
/// <param name="Interval">TCP_KEEPINTVL, 1..32767 seconds.</param>
/// <param name="Count">TCP_KEEPCNT, 1..127 probes.</param>
/// <param name="UserTimeout">TCP_USER_TIMEOUT, milliseconds, 0 or more (0 = system default).</param>
public sealed record SocketKeepaliveChange(bool? Enabled = null, int? Idle = null, int? Interval = null, int? Count = null, int? UserTimeout = null)
{
    public bool IsEmpty => Enabled is null && Idle is null && Interval is null && Count is null && UserTimeout is null;
}
