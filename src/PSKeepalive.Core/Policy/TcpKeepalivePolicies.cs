using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.Win32.SafeHandles;
using PSKeepalive.Core.Bpf;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Policy;

/// <summary>
/// Keepalive policies on cgroups: a BPF sock_ops program attached to a cgroup v2 directory (with
/// BPF_F_ALLOW_MULTI, beside other tools' programs) that gives every TCP connection of the cgroup and its
/// descendants SO_KEEPALIVE and the policy's timers (<see cref="PolicyProgram"/>). The values live in a BPF map
/// that the program reads, so Get reads them back from the kernel. Set and Remove hold an exclusive flock on the
/// cgroup directory, so that two PSKeepalive processes never interleave on one cgroup.
/// </summary>
public static class TcpKeepalivePolicies
{
    /// <summary>Asked before the change: (target, action) -> go ahead?</summary>
    public delegate bool ShouldProcess(string target, string action);

    private const string Subject = KeepalivePolicySettings.Subject;

    /// <summary>
    /// Attaches a policy to <paramref name="cgroup"/>, or replaces the one PSKeepalive attached there before. The
    /// values are validated first; a new program and map are loaded, and then attached in one step: for a new policy
    /// with BPF_F_ALLOW_MULTI, for a replacement with BPF_F_REPLACE (the kernel swaps the old program for the new one
    /// in the cgroup's effective program arrays at once, so no connection is ever established without either). A
    /// fresh map per policy means a connection never sees half-old, half-new values, which updating a map in place
    /// (a plain memcpy in the kernel) would allow. Returns the policy read back from the kernel, or null when
    /// <paramref name="shouldProcess"/> declined.
    /// </summary>
    public static TcpKeepalivePolicy? Set(CgroupDirectory cgroup, KeepalivePolicySettings settings, ShouldProcess? shouldProcess = null)
    {
        ArgumentNullException.ThrowIfNull(cgroup);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        RequireKernel();

        using var exclusive = CgroupLock.Take(cgroup);
        using AttachedPrograms attached = AttachedPrograms.Read(cgroup);
        AttachedPolicy? previous = attached.Ours.Count > 0 ? attached.Ours[0] : null;
        if (previous is null)
        {
            RequireRoomBesideOthers(cgroup, attached.Query);
        }

        string action = previous is null
            ? $"Attach a keepalive policy ({settings.Describe()})"
            : $"Replace keepalive policy program {previous.Info.Id} ({previous.Settings.Describe()}) with ({settings.Describe()})";
        if (shouldProcess is not null && !shouldProcess(Describe(cgroup), action))
        {
            return null;
        }

        using SafeFileHandle map = BpfSystemCall.CreateArrayMap(PolicyProgram.MapName, 4, PolicyMapValue.Size, 1);
        BpfSystemCall.UpdateElement(map, new byte[4], PolicyMapValue.Encode(settings));
        BpfSystemCall.Freeze(map);
        byte[] code = InstructionEncoder.Encode(PolicyProgram.Build((int)map.DangerousGetHandle()));
        using SafeFileHandle program = BpfSystemCall.LoadProgram(BpfProgramType.SocketOperations, PolicyProgram.Name, code, PolicyProgram.License);
        uint programId = BpfSystemCall.ProgramInfo(program).Id;

        BpfSystemCall.Attach(
            cgroup.Handle,
            program,
            BpfAttachType.CgroupSocketOperations,
            previous is null ? BpfAttachFlags.AllowMulti : BpfAttachFlags.AllowMulti | BpfAttachFlags.Replace,
            previous?.Program,
            cgroup.Path);

        TcpKeepalivePolicy? result = null;
        try
        {
            // Two policies of ours on one cgroup (left by a tool that did not lock): keep the new one only.
            foreach (AttachedPolicy duplicate in attached.Ours.Skip(1))
            {
                DetachQuietly(cgroup, duplicate.Program);
            }

            using AttachedPrograms now = AttachedPrograms.Read(cgroup);
            result = now.Ours.FirstOrDefault(p => p.Info.Id == programId)?.ToPolicy(cgroup);
            if (result is null || result.Settings() != settings)
            {
                throw new KeepaliveKernelException(
                    Subject,
                    $"The keepalive policy attached to {cgroup.Path} does not read back as it was written ({(result is null ? "it is not attached" : result.Settings().Describe())}).",
                    cgroup.Path,
                    0);
            }

            return result;
        }
        catch (KeepaliveException) when (result is null || result.Settings() != settings)
        {
            // Put back what was there: the previous policy (swapped back in), or nothing.
            if (previous is not null)
            {
                BpfSystemCall.Attach(cgroup.Handle, previous.Program, BpfAttachType.CgroupSocketOperations, BpfAttachFlags.AllowMulti | BpfAttachFlags.Replace, program, cgroup.Path);
            }
            else
            {
                DetachQuietly(cgroup, program);
            }

            throw;
        }
    }

    /// <summary>The policies PSKeepalive attached to <paramref name="cgroup"/> itself (none, or one).</summary>
    public static IReadOnlyList<TcpKeepalivePolicy> Get(CgroupDirectory cgroup)
    {
        ArgumentNullException.ThrowIfNull(cgroup);
        using AttachedPrograms attached = AttachedPrograms.Read(cgroup);
        return attached.Ours.Select(p => p.ToPolicy(cgroup)).ToList();
    }

    /// <summary>Every policy on this host: the cgroup2 tree is walked, top down, one BPF_PROG_QUERY per cgroup.</summary>
    public static IEnumerable<TcpKeepalivePolicy> GetAll()
    {
        CgroupMount mount = CgroupMount.Find();
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        IEnumerable<string> directories = new[] { mount.MountPoint }.Concat(Directory.EnumerateDirectories(mount.MountPoint, "*", options));
        foreach (string directory in directories)
        {
            CgroupDirectory cgroup;
            try
            {
                cgroup = CgroupDirectory.Open(directory);
            }
            catch (KeepaliveException e) when (e is KeepaliveNotFoundException or KeepaliveInvalidTargetException)
            {
                continue; // removed during the walk
            }

            using (cgroup)
            {
                foreach (TcpKeepalivePolicy policy in Get(cgroup))
                {
                    yield return policy;
                }
            }
        }
    }

    /// <summary>
    /// Detaches PSKeepalive's policy from <paramref name="cgroup"/> (other programs stay); returns what was removed,
    /// empty when <paramref name="shouldProcess"/> declined. Throws KeepalivePolicyNotFound when there is none.
    /// </summary>
    public static IReadOnlyList<TcpKeepalivePolicy> Remove(CgroupDirectory cgroup, ShouldProcess? shouldProcess = null)
    {
        ArgumentNullException.ThrowIfNull(cgroup);
        using var exclusive = CgroupLock.Take(cgroup);
        using AttachedPrograms attached = AttachedPrograms.Read(cgroup);
        if (attached.Ours.Count == 0)
        {
            string others = attached.OthersCount == 0 ? string.Empty : $" ({attached.OthersCount} other sock_ops program(s) attached there are not PSKeepalive's and stay)";
            throw new KeepaliveNotFoundException(Subject, $"The cgroup {cgroup.Path} has no keepalive policy{others}.", cgroup.Path, Errno.ENOENT);
        }

        var removed = new List<TcpKeepalivePolicy>();
        foreach (AttachedPolicy policy in attached.Ours)
        {
            if (shouldProcess is not null && !shouldProcess(Describe(cgroup), $"Remove keepalive policy program {policy.Info.Id} ({policy.Settings.Describe()})"))
            {
                continue;
            }

            TcpKeepalivePolicy before = policy.ToPolicy(cgroup);
            BpfSystemCall.Detach(cgroup.Handle, policy.Program, BpfAttachType.CgroupSocketOperations, cgroup.Path);
            removed.Add(before);
        }

        return removed;
    }

    /// <summary>bpf_setsockopt learned SO_KEEPALIVE and the TCP keepalive options in Linux 5.9.</summary>
    internal static readonly Version MinimumKernel = new(5, 9);

    /// <summary>
    /// Older kernels load and attach the program but refuse its bpf_setsockopt calls at run time (EINVAL): the policy
    /// would silently do nothing, so it is refused up front with the version named.
    /// </summary>
    private static void RequireKernel()
    {
        string release;
        try
        {
            release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return; // cannot tell: the kernel decides
        }

        if (Launch.SeccompLauncher.ParseRelease(release) is Version version && version < MinimumKernel)
        {
            throw new KeepaliveNotSupportedException(
                Subject,
                $"Keepalive policies need Linux {MinimumKernel} or later, where bpf_setsockopt learned SO_KEEPALIVE and the TCP keepalive options; this kernel is {release}.",
                release,
                Errno.ENOSYS);
        }
    }

    /// <summary>"cgroup /system.slice/nginx.service (/sys/fs/cgroup/system.slice/nginx.service)".</summary>
    public static string Describe(CgroupDirectory cgroup) => $"cgroup {cgroup.CgroupPath} ({cgroup.Path})";

    /// <summary>
    /// A new policy must sit beside other programs without displacing them: refused when the cgroup's programs were
    /// attached without BPF_F_ALLOW_MULTI (the kernel allows no second one), or when the nearest ancestor with
    /// programs attached them without it (BPF_F_ALLOW_OVERRIDE: ours would silently replace theirs for this subtree;
    /// neither flag: the kernel refuses).
    /// </summary>
    private static void RequireRoomBesideOthers(CgroupDirectory cgroup, BpfQueryResult own)
    {
        if (own.ProgramIds.Length > 0 && own.AttachFlags != BpfAttachFlags.AllowMulti)
        {
            throw new KeepaliveInvalidTargetException(
                Subject,
                $"The cgroup {cgroup.Path} holds {own.ProgramIds.Length} sock_ops program(s) (id {string.Join(", ", own.ProgramIds)}) attached by another tool " +
                $"with {Flags(own.AttachFlags)}, which leaves no room for a second one; PSKeepalive never replaces another tool's program.",
                cgroup.Path,
                0);
        }

        CgroupDirectory? ancestor = cgroup.OpenParent();
        while (ancestor is not null)
        {
            BpfQueryResult query;
            try
            {
                query = AttachedPrograms.QueryCgroup(ancestor);
                if (query.ProgramIds.Length == 0)
                {
                    CgroupDirectory? next = ancestor.OpenParent();
                    ancestor.Dispose();
                    ancestor = next;
                    continue;
                }
            }
            catch
            {
                ancestor?.Dispose();
                throw;
            }

            string path = ancestor.Path;
            ancestor.Dispose();
            if (query.AttachFlags.HasFlag(BpfAttachFlags.AllowMulti))
            {
                return;
            }

            throw new KeepaliveInvalidTargetException(
                Subject,
                $"The ancestor cgroup {path} holds sock_ops program(s) (id {string.Join(", ", query.ProgramIds)}) attached by another tool with {Flags(query.AttachFlags)}: " +
                (query.AttachFlags.HasFlag(BpfAttachFlags.AllowOverride)
                    ? $"a policy on {cgroup.Path} would replace them for that subtree, which PSKeepalive never does."
                    : "the kernel allows no program below them."),
                cgroup.Path,
                0);
        }
    }

    private static string Flags(BpfAttachFlags flags) => flags switch
    {
        BpfAttachFlags.None => "no flags (a single program)",
        BpfAttachFlags.AllowOverride => "BPF_F_ALLOW_OVERRIDE",
        _ => flags.ToString(),
    };

    private static void DetachQuietly(CgroupDirectory cgroup, SafeFileHandle program)
    {
        try
        {
            BpfSystemCall.Detach(cgroup.Handle, program, BpfAttachType.CgroupSocketOperations, cgroup.Path);
        }
        catch (KeepaliveException)
        {
            // Already gone: nothing left to undo.
        }
    }
}

/// <summary>An exclusive flock on a cgroup directory, released on Dispose.</summary>
internal sealed class CgroupLock : IDisposable
{
    private readonly CgroupDirectory _cgroup;

    private CgroupLock(CgroupDirectory cgroup) => _cgroup = cgroup;

    public static CgroupLock Take(CgroupDirectory cgroup)
    {
        int fd = (int)cgroup.Handle.DangerousGetHandle();
        while (Libc.Flock(fd, Libc.LOCK_EX) != 0)
        {
            if (Libc.LastErrno != Errno.EINTR)
            {
                throw Errno.Last(CgroupDirectory.Subject, $"lock the cgroup directory {cgroup.Path}", cgroup.Path);
            }
        }

        return new CgroupLock(cgroup);
    }

    public void Dispose() => _ = Libc.Flock((int)_cgroup.Handle.DangerousGetHandle(), Libc.LOCK_UN);
}
