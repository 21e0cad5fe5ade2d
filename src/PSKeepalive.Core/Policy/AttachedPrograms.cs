using System;
using System.Collections.Generic;
using Microsoft.Win32.SafeHandles;
using PSKeepalive.Core.Bpf;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Policy;

/// <summary>One of PSKeepalive's policy programs found attached to a cgroup, held open.</summary>
internal sealed class AttachedPolicy : IDisposable
{
    public AttachedPolicy(SafeFileHandle program, BpfProgramInfo info, uint mapId, KeepalivePolicySettings settings)
    {
        Program = program;
        Info = info;
        MapId = mapId;
        Settings = settings;
    }

    public SafeFileHandle Program { get; }

    public BpfProgramInfo Info { get; }

    public uint MapId { get; }

    public KeepalivePolicySettings Settings { get; }

    public TcpKeepalivePolicy ToPolicy(CgroupDirectory cgroup) => new(
        cgroup.Path,
        cgroup.CgroupPath,
        cgroup.Id,
        Settings.Idle,
        Settings.Interval,
        Settings.Count,
        Settings.UserTimeout,
        Settings.Mode,
        Settings.Force,
        Info.Id,
        MapId,
        Info.Tag,
        BootClock.ToLocalTime(Info.LoadTimeSinceBoot));

    public void Dispose() => Program.Dispose();
}

/// <summary>
/// The sock_ops programs attached to one cgroup, and which of them are PSKeepalive policies: a program is ours
/// when its type is sock_ops, its name is <see cref="PolicyProgram.Name"/>, it uses exactly one map, and that map
/// is a one-entry array named <see cref="PolicyProgram.MapName"/> whose value carries our magic and version.
/// Everything else is another tool's and is never touched.
/// </summary>
internal sealed class AttachedPrograms : IDisposable
{
    private AttachedPrograms(BpfQueryResult query, List<AttachedPolicy> ours)
    {
        Query = query;
        Ours = ours;
    }

    public BpfQueryResult Query { get; }

    public IReadOnlyList<AttachedPolicy> Ours { get; }

    /// <summary>Programs attached to the cgroup that are not PSKeepalive policies.</summary>
    public int OthersCount => Query.ProgramIds.Length - Ours.Count;

    public static AttachedPrograms Read(CgroupDirectory cgroup)
    {
        BpfQueryResult query = QueryCgroup(cgroup);
        var ours = new List<AttachedPolicy>();
        try
        {
            foreach (uint id in query.ProgramIds)
            {
                if (TryOpenOurs(id) is AttachedPolicy policy)
                {
                    ours.Add(policy);
                }
            }
        }
        catch
        {
            ours.ForEach(p => p.Dispose());
            throw;
        }

        return new AttachedPrograms(query, ours);
    }

    /// <summary>
    /// BPF_PROG_QUERY with the errors a user can act on: EINVAL means the kernel cannot attach programs to cgroups
    /// (CONFIG_CGROUP_BPF), ENOSYS that it has no bpf(2) at all.
    /// </summary>
    public static BpfQueryResult QueryCgroup(CgroupDirectory cgroup)
    {
        try
        {
            return BpfSystemCall.Query(cgroup.Handle, BpfAttachType.CgroupSocketOperations, cgroup.Path);
        }
        catch (KeepaliveException e) when (e.Errno == Errno.EINVAL)
        {
            throw new KeepaliveNotSupportedException(
                BpfSystemCall.Subject,
                $"This kernel cannot run BPF programs for cgroups: BPF_PROG_QUERY on {cgroup.Path} was refused with EINVAL (a kernel built without CONFIG_CGROUP_BPF, or older than Linux 4.15).",
                cgroup.Path,
                e.Errno);
        }
        catch (KeepaliveException e) when (e.Errno == Errno.ENOSYS)
        {
            throw new KeepaliveNotSupportedException(
                BpfSystemCall.Subject,
                "This kernel has no bpf(2) system call (built without CONFIG_BPF_SYSCALL), or a seccomp policy of this container blocks it.",
                cgroup.Path,
                e.Errno);
        }
    }

    private static AttachedPolicy? TryOpenOurs(uint id)
    {
        SafeFileHandle? program = BpfSystemCall.ProgramById(id);
        if (program is null)
        {
            return null; // detached and freed since the query
        }

        try
        {
            BpfProgramInfo info = BpfSystemCall.ProgramInfo(program);
            if (info.Type != BpfProgramType.SocketOperations || info.Name != PolicyProgram.Name || info.MapCount != 1)
            {
                program.Dispose();
                return null;
            }

            using SafeFileHandle? map = BpfSystemCall.MapById(info.MapIds[0]);
            if (map is null)
            {
                program.Dispose();
                return null;
            }

            BpfMapInfo mapInfo = BpfSystemCall.MapInfo(map);
            if (mapInfo.Type != BpfMapType.Array || mapInfo.Name != PolicyProgram.MapName || mapInfo.KeySize != 4 ||
                mapInfo.ValueSize != PolicyMapValue.Size || mapInfo.MaxEntries != 1)
            {
                program.Dispose();
                return null;
            }

            byte[] value = new byte[PolicyMapValue.Size];
            if (!BpfSystemCall.LookupElement(map, new byte[4], value) || PolicyMapValue.Decode(value) is not KeepalivePolicySettings settings)
            {
                program.Dispose();
                return null;
            }

            return new AttachedPolicy(program, info, mapInfo.Id, settings);
        }
        catch
        {
            program.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (AttachedPolicy policy in Ours)
        {
            policy.Dispose();
        }
    }
}

/// <summary>
/// Converts the kernel's CLOCK_BOOTTIME nanoseconds (bpf_prog_info.load_time) to wall-clock time, from the moment of
/// boot worked out once per process (so the same program always gets the same time).
/// </summary>
internal static unsafe class BootClock
{
    private static readonly Lazy<DateTime?> BootedAt = new(() =>
    {
        long* boot = stackalloc long[2];
        long* real = stackalloc long[2];
        if (Libc.ClockGetTime(Libc.CLOCK_BOOTTIME, boot) != 0 || Libc.ClockGetTime(Libc.CLOCK_REALTIME, real) != 0)
        {
            return null;
        }

        long realTicks = (real[0] * TimeSpan.TicksPerSecond) + (real[1] / 100);
        long sinceBootTicks = (boot[0] * TimeSpan.TicksPerSecond) + (boot[1] / 100);
        return DateTime.UnixEpoch.AddTicks(realTicks - sinceBootTicks);
    });

    public static DateTime? ToLocalTime(ulong bootNanoseconds) =>
        BootedAt.Value is DateTime booted ? booted.AddTicks((long)(bootNanoseconds / 100)).ToLocalTime() : null;
}
