using System.IO;

namespace PSKeepalive.Tests.Support;

/// <summary>The host's keepalive sysctls, read from a thread in the host namespace; tests assert they never change.</summary>
public sealed record HostSysctls(string Time, string Interval, string Probes)
{
    public static HostSysctls Read() => new(
        File.ReadAllText("/proc/sys/net/ipv4/tcp_keepalive_time").Trim(),
        File.ReadAllText("/proc/sys/net/ipv4/tcp_keepalive_intvl").Trim(),
        File.ReadAllText("/proc/sys/net/ipv4/tcp_keepalive_probes").Trim());
}
