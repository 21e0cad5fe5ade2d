using System;

namespace PSKeepalive.Core.Policy;

/// <summary>
/// A keepalive policy attached to a cgroup, as read back from the kernel: the values come from the policy's BPF
/// map, the program id, tag and load time from the kernel's program information.
/// </summary>
/// <param name="Cgroup">The cgroup directory ("/sys/fs/cgroup/system.slice/nginx.service"); -Cgroup and --cgroup take it back.</param>
/// <param name="CgroupPath">The cgroup as /proc/PID/cgroup names it ("/system.slice/nginx.service").</param>
/// <param name="CgroupId">The cgroup id (the directory's inode), as bpftool shows it.</param>
/// <param name="Idle">TCP_KEEPIDLE seconds, or null when the policy leaves it to the sysctl.</param>
/// <param name="Interval">TCP_KEEPINTVL seconds, or null.</param>
/// <param name="ProbeCount">TCP_KEEPCNT, or null (not "Count", which would hide the Count PowerShell gives every object).</param>
/// <param name="UserTimeout">TCP_USER_TIMEOUT milliseconds, or null.</param>
/// <param name="Mode">Which connections: All, Outgoing or Listening (accepted).</param>
/// <param name="Force">True when connections whose program switched SO_KEEPALIVE on itself get the policy's values too.</param>
/// <param name="ProgramId">The BPF program's id (bpftool prog show id N).</param>
/// <param name="MapId">The id of the BPF map holding the values.</param>
/// <param name="Tag">The program's tag (a hash of its instructions): the same for every policy of one PSKeepalive version.</param>
/// <param name="LoadedAt">When the policy was set (the program was loaded).</param>
public sealed record TcpKeepalivePolicy(
    string Cgroup,
    string CgroupPath,
    ulong CgroupId,
    int? Idle,
    int? Interval,
    int? ProbeCount,
    int? UserTimeout,
    KeepalivePolicyMode Mode,
    bool Force,
    uint ProgramId,
    uint MapId,
    string Tag,
    DateTime? LoadedAt)
{
    /// <summary>The settings this policy applies.</summary>
    public KeepalivePolicySettings Settings() => new()
    {
        Idle = Idle,
        Interval = Interval,
        Count = ProbeCount,
        UserTimeout = UserTimeout,
        Mode = Mode,
        Force = Force,
    };
}
