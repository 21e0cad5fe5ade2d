using System;

namespace PSKeepalive.Core.Settings;

/// <summary>
/// The three keepalive sysctls of one network namespace. They only matter for sockets that set
/// SO_KEEPALIVE; see about_PSKeepalive.
/// </summary>
/// <param name="Time">net.ipv4.tcp_keepalive_time: idle seconds before the first probe.</param>
/// <param name="Interval">net.ipv4.tcp_keepalive_intvl: seconds between unanswered probes.</param>
/// <param name="Probes">net.ipv4.tcp_keepalive_probes: unanswered probes before the connection is dropped.</param>
/// <param name="NetworkNamespace">The namespace read, as the kernel names it ("net:[4026531840]").</param>
public sealed record TcpKeepaliveSetting(int Time, int Interval, int Probes, string NetworkNamespace)
{
    /// <summary>Seconds an idle connection to a dead peer survives: Time + Interval x Probes.</summary>
    public long DeadPeerDetectionSeconds => Time + ((long)Interval * Probes);

    public TimeSpan DeadPeerDetectionTime => TimeSpan.FromSeconds(DeadPeerDetectionSeconds);
}

/// <summary>The values to change; null leaves a sysctl as it is.</summary>
public sealed record TcpKeepaliveSettingChange(int? Time = null, int? Interval = null, int? Probes = null)
{
    public bool IsEmpty => Time is null && Interval is null && Probes is null;
}

/// <summary>
/// A setting piped to Set-TcpKeepaliveSetting, as its properties read: Get-TcpKeepaliveSetting's output, the same
/// deserialized from another computer, or a row of Import-Csv.
/// </summary>
/// <param name="NetworkNamespace">The namespace it was read in ("net:[4026532281]"); null or empty when it names none.</param>
/// <param name="ComputerName">PSComputerName, which PowerShell remoting adds: the computer it was read on; null for this one.</param>
public sealed record PipedTcpKeepaliveSetting(int Time, int Interval, int Probes, string? NetworkNamespace, string? ComputerName);
