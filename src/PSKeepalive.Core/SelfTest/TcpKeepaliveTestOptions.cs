using System;

namespace PSKeepalive.Core.SelfTest;

/// <summary>What <see cref="TcpKeepaliveTest"/> should check. Every property has a sensible default (1/1/3, IPv4, 300 s).</summary>
public sealed record TcpKeepaliveTestOptions
{
    /// <summary>TCP_KEEPIDLE for the probing end, seconds (default 1). Not with <see cref="UseSystemSettings"/>.</summary>
    public int? Idle { get; init; }

    /// <summary>TCP_KEEPINTVL for the probing end, seconds (default 1). Not with <see cref="UseSystemSettings"/>.</summary>
    public int? Interval { get; init; }

    /// <summary>TCP_KEEPCNT for the probing end (default 3). Not with <see cref="UseSystemSettings"/>.</summary>
    public int? Count { get; init; }

    /// <summary>TCP_USER_TIMEOUT for the probing end, milliseconds; 0 (default) leaves it unset.</summary>
    public int UserTimeout { get; init; }

    /// <summary>Writes data after the peer went deaf, so that it stays unacknowledged and keepalive cannot fire.</summary>
    public bool WithDataInFlight { get; init; }

    /// <summary>Sets only SO_KEEPALIVE, so that the namespace's net.ipv4.tcp_keepalive_* sysctls govern.</summary>
    public bool UseSystemSettings { get; init; }

    /// <summary>Runs the whole test in this network namespace (/run/netns/NAME, /proc/PID/ns/net); loopback must be up there.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>The longest the test may wait (default 300 s); a test that needs longer is refused before it starts.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Uses ::1 instead of 127.0.0.1.</summary>
    public bool IPv6 { get; init; }
}
