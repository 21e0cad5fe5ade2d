using System.Collections.Generic;
using System.Linq;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Core.Policy;

/// <summary>
/// -IncludeExisting: a policy acts on connections established from now on; the connections the cgroup's processes
/// (and its descendants') already hold get the same treatment through the live retrofit (pidfd_getfd, see
/// <see cref="TcpKeepaliveRetrofit"/>). Listening sockets are left alone (the policy covers what they accept; setting
/// options on a listener would make its accepted connections look as if the program had chosen them). A connection
/// counts as accepted when its local port is one a socket listens on in its network namespace, else as outgoing;
/// the policy's mode picks which. Connections still being set up (SYN_SENT, SYN_RECV) are left to the policy, which
/// runs when they are established. Unless forced, a connection whose program switched keepalive on itself is skipped;
/// one that carries the values of the policy being replaced is not (that policy switched it on).
/// </summary>
public static class ExistingConnections
{
    /// <summary>Applies <paramref name="settings"/> to the established connections of the cgroup's processes; one result per socket.</summary>
    /// <param name="cgroup">The cgroup.</param>
    /// <param name="settings">The policy's values.</param>
    /// <param name="shouldProcess">Asked before each write.</param>
    /// <param name="replaced">The policy that <paramref name="settings"/> replaced on the cgroup, if any: a connection
    /// carrying every value it set got keepalive from it (or from its own -IncludeExisting), not from its program, so it
    /// is changed too.</param>
    public static IEnumerable<KeepaliveChangeResult> Apply(
        CgroupDirectory cgroup, KeepalivePolicySettings settings, TcpKeepaliveRetrofit.ShouldProcess? shouldProcess = null, KeepalivePolicySettings? replaced = null)
    {
        settings.Validate();
        var change = new SocketKeepaliveChange(true, settings.Idle, settings.Interval, settings.Count, settings.UserTimeout);
        TcpKeepaliveRetrofit.SkipWhen? keepOwn = settings.Force
            ? null
            : before => before.Enabled && !CameFrom(replaced, before)
                ? "The program switched keepalive on itself; the policy leaves its values alone (use -Force or --force to replace them)."
                : null;
        return TcpKeepaliveRetrofit.Apply(Targets(cgroup, settings.Mode), change, shouldProcess, keepOwn);
    }

    /// <summary>
    /// Whether <paramref name="options"/> are what <paramref name="policy"/> sets. A policy that sets no value (SO_KEEPALIVE
    /// alone) leaves the system's values, which a program's own SO_KEEPALIVE has too: then the program is given the benefit.
    /// </summary>
    private static bool CameFrom(KeepalivePolicySettings? policy, SocketKeepaliveOptions options) =>
        policy is not null
        && (policy.Idle is not null || policy.Interval is not null || policy.Count is not null || policy.UserTimeout is not null)
        && (policy.Idle is not int idle || options.Idle == idle)
        && (policy.Interval is not int interval || options.Interval == interval)
        && (policy.Count is not int count || options.ProbeCount == count)
        && (policy.UserTimeout is not int userTimeout || options.UserTimeout == userTimeout);

    /// <summary>The connections to change: (process, descriptor, inode) of the cgroup's processes, by namespace.</summary>
    private static IEnumerable<SocketTarget> Targets(CgroupDirectory cgroup, KeepalivePolicyMode mode)
    {
        var byNamespace = new Dictionary<string, List<int>>();
        foreach (int pid in cgroup.Processes(recursive: true).Distinct())
        {
            string key = RetrofitTargets.NamespaceOf(pid) ?? string.Empty;
            if (!byNamespace.TryGetValue(key, out List<int>? pids))
            {
                byNamespace[key] = pids = new List<int>();
            }

            pids.Add(pid);
        }

        foreach (var (networkNamespace, pids) in byNamespace)
        {
            var owners = new Dictionary<ulong, (int Pid, int Fd)>();
            foreach (int pid in pids)
            {
                IReadOnlyList<SocketDescriptor> descriptors;
                try
                {
                    descriptors = ProcessSockets.List(pid);
                }
                catch (KeepaliveException e) when (e is KeepaliveNotFoundException or KeepalivePermissionException)
                {
                    continue; // ended meanwhile, or not ours to read: the retrofit could not reach it either
                }

                foreach (SocketDescriptor descriptor in descriptors)
                {
                    owners.TryAdd(descriptor.Inode, (pid, descriptor.Fd));
                }
            }

            if (owners.Count == 0)
            {
                continue;
            }

            var query = new TcpConnectionQuery { NetworkNamespace = networkNamespace.Length == 0 ? null : networkNamespace };
            List<TcpConnection> connections = TcpConnections.Enumerate(query).ToList();
            var listeningPorts = connections.Where(c => c.State == TcpState.Listen).Select(c => c.LocalPort).ToHashSet();
            foreach (TcpConnection connection in connections)
            {
                if (connection.Inode <= 0 || connection.State is TcpState.Listen or TcpState.TimeWait or TcpState.Closed or TcpState.SynSent or TcpState.SynReceived ||
                    !owners.TryGetValue((ulong)connection.Inode, out var owner))
                {
                    continue;
                }

                bool accepted = listeningPorts.Contains(connection.LocalPort);
                if (mode == KeepalivePolicyMode.All || (mode == KeepalivePolicyMode.Listening) == accepted)
                {
                    yield return new SocketTarget(
                        owner.Pid, owner.Fd, (ulong)connection.Inode, connection.LocalAddress, connection.LocalPort,
                        connection.RemoteAddress, connection.RemotePort, connection.State.ToString());
                }
            }
        }
    }
}
