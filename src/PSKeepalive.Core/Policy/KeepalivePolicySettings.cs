using System;
using System.Collections.Generic;
using PSKeepalive.Core.Errors;

namespace PSKeepalive.Core.Policy;

/// <summary>Which TCP connections of a cgroup a keepalive policy covers.</summary>
public enum KeepalivePolicyMode
{
    /// <summary>Connections the cgroup's processes open (connect()) and those they accept.</summary>
    All,

    /// <summary>Connections the cgroup's processes open (BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB).</summary>
    Outgoing,

    /// <summary>Connections the cgroup's processes accept on their listening sockets (BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB).</summary>
    Listening,
}

/// <summary>
/// What a keepalive policy sets on each TCP connection of its cgroup: SO_KEEPALIVE always, and the timers that are
/// given (null: the socket keeps the network namespace's sysctl). Ranges are those of <see cref="KeepaliveLimits"/>.
/// </summary>
public sealed record KeepalivePolicySettings
{
    public const string Subject = "KeepalivePolicy";

    /// <summary>TCP_KEEPIDLE, seconds (1..32767).</summary>
    public int? Idle { get; init; }

    /// <summary>TCP_KEEPINTVL, seconds (1..32767).</summary>
    public int? Interval { get; init; }

    /// <summary>TCP_KEEPCNT, probes (1..127).</summary>
    public int? Count { get; init; }

    /// <summary>TCP_USER_TIMEOUT, milliseconds (0..2147483647; 0 = the system default).</summary>
    public int? UserTimeout { get; init; }

    public KeepalivePolicyMode Mode { get; init; } = KeepalivePolicyMode.All;

    /// <summary>Also on connections where the program switched SO_KEEPALIVE on itself (their values are replaced).</summary>
    public bool Force { get; init; }

    /// <summary>Checks every value against its range; throws <see cref="KeepaliveValidationException"/> (KeepalivePolicyInvalidArgument).</summary>
    public void Validate()
    {
        if (Idle is int idle)
        {
            KeepaliveLimits.CheckIdle(idle, nameof(Idle), Subject);
        }

        if (Interval is int interval)
        {
            KeepaliveLimits.CheckInterval(interval, nameof(Interval), Subject);
        }

        if (Count is int count)
        {
            KeepaliveLimits.CheckCount(count, nameof(Count), Subject);
        }

        if (UserTimeout is int userTimeout)
        {
            KeepaliveLimits.CheckUserTimeout(userTimeout, nameof(UserTimeout), Subject);
        }

        if (!Enum.IsDefined(Mode))
        {
            throw new KeepaliveValidationException(Subject, nameof(Mode), $"Mode must be All, Outgoing or Listening; {Mode} is none of them.", Mode);
        }
    }

    /// <summary>"SO_KEEPALIVE on, idle 60 s, count 5, the other timers from the sysctls, mode All" for messages.</summary>
    public string Describe()
    {
        var parts = new List<string> { "SO_KEEPALIVE on" };
        Add(parts, "idle", Idle, " s");
        Add(parts, "interval", Interval, " s");
        Add(parts, "count", Count, string.Empty);
        Add(parts, "user timeout", UserTimeout, " ms");
        if (Idle is null || Interval is null || Count is null)
        {
            parts.Add(parts.Count == 1 ? "timers from the sysctls" : "the other timers from the sysctls");
        }

        parts.Add("mode " + Mode);
        if (Force)
        {
            parts.Add("forced");
        }

        return string.Join(", ", parts);
    }

    private static void Add(List<string> parts, string name, int? value, string unit)
    {
        if (value is int v)
        {
            parts.Add(FormattableString.Invariant($"{name} {v}{unit}"));
        }
    }
}
