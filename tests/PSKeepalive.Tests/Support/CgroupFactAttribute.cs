using System;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Errors;
using Xunit;

namespace PSKeepalive.Tests.Support;

/// <summary>
/// Whether this run can make throw-away cgroups and attach BPF programs to them: root (CAP_BPF, CAP_NET_ADMIN and
/// write access to the cgroup2 tree) on a host with a cgroup2 mount.
/// </summary>
public static class CgroupSupport
{
    private static readonly Lazy<string?> Refusal = new(() =>
    {
        if (!Privilege.IsRoot)
        {
            return "Needs root: keepalive policies load BPF programs (CAP_BPF, CAP_NET_ADMIN) and the test makes throw-away cgroups. CI runs as root.";
        }

        try
        {
            CgroupMount.Find();
            return null;
        }
        catch (KeepaliveException e)
        {
            return "Needs a cgroup2 mount: " + e.Message;
        }
    });

    /// <summary>Null when cgroup tests can run, else the reason to skip.</summary>
    public static string? SkipReason => Refusal.Value;
}

/// <summary>A fact that makes throw-away cgroups and attaches BPF programs; see <see cref="CgroupSupport"/>.</summary>
public sealed class CgroupFactAttribute : FactAttribute
{
    public CgroupFactAttribute()
    {
        if (CgroupSupport.SkipReason is string reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A theory that makes throw-away cgroups; see <see cref="CgroupSupport"/>.</summary>
public sealed class CgroupTheoryAttribute : TheoryAttribute
{
    public CgroupTheoryAttribute()
    {
        if (CgroupSupport.SkipReason is string reason)
        {
            Skip = reason;
        }
    }
}
