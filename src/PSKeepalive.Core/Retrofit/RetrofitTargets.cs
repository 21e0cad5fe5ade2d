using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Namespaces;
using PSKeepalive.Core.Processes;

namespace PSKeepalive.Core.Retrofit;

/// <summary>From listed connections to the (process, descriptor, inode) targets the retrofit acts on, and back.</summary>
public static class RetrofitTargets
{
    /// <summary>The owners of <paramref name="connection"/> as targets (empty when it was listed without owners).</summary>
    public static IReadOnlyList<SocketTarget> Of(TcpConnection connection) => Of(
        connection.Inode,
        connection.Processes.Select(p => (p.Pid, p.Fd)),
        connection.LocalAddress,
        connection.LocalPort,
        connection.RemoteAddress,
        connection.RemotePort,
        connection.State.ToString());

    /// <summary>Targets for socket <paramref name="inode"/> held as <paramref name="owners"/> (pid, fd).</summary>
    public static IReadOnlyList<SocketTarget> Of(
        long inode, IEnumerable<(int Pid, int Fd)> owners, string? localAddress = null, int localPort = 0, string? remoteAddress = null, int remotePort = 0, string? state = null) =>
        inode <= 0
            ? []
            : owners.Select(o => new SocketTarget(o.Pid, o.Fd, (ulong)inode, localAddress, localPort, remoteAddress, remotePort, state)).ToList();

    /// <summary>
    /// Where the sockets of process <paramref name="pid"/> are listed: null when it shares the caller's network
    /// namespace, otherwise /proc/PID/ns/net (a container's process: its connections are not in the caller's dump).
    /// Null too when the link cannot be read (the process is gone or not ours to inspect).
    /// </summary>
    public static string? NamespaceOf(int pid)
    {
        string path = string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/ns/net");
        string? target;
        try
        {
            target = new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return target is null || target == NetworkNamespace.Current() ? null : path;
    }

    /// <summary>One walk of /proc/*/fd, to find the owners of connections listed without them.</summary>
    public static SocketOwnerMap ScanOwners() => SocketOwnerScan.Scan();

    /// <summary>The result for a connection no process could be found for: nothing to act on.</summary>
    public static KeepaliveChangeResult Unowned(long inode, string? localAddress, int localPort, string? remoteAddress, int remotePort, string? state) => new(
        0,
        null,
        -1,
        (ulong)inode,
        state ?? "Unknown",
        localAddress,
        localPort,
        remoteAddress,
        remotePort,
        KeepaliveChangeOutcome.Skipped,
        inode <= 0
            ? WithoutInode(state)
            : $"No process holds socket:[{inode}] any more, or none could be read (another user's process needs root).",
        "ProcessNotFound",
        null,
        null);

    /// <summary>Why a connection has no inode (no file, so no process holds it), from its state when known.</summary>
    private static string WithoutInode(string? state) => state switch
    {
        nameof(TcpState.TimeWait) => "A TIME_WAIT socket has no socket inode: no process holds it.",
        nameof(TcpState.SynReceived) => "A half-open connection (a request socket) has no socket inode: no process holds it.",
        null or "" or "Unknown" => "The connection has no socket inode (TIME_WAIT, a request socket, or a connection waiting in its listener's accept queue): no process holds it.",
        _ => "The connection waits in its listener's accept queue (no socket inode yet): no process holds it until its program accepts it.",
    };

    /// <summary>
    /// Lists the connection with inode <paramref name="inode"/> again (filtered by its ports), with owners and
    /// exact socket options: what -PassThru returns after a change. Only <paramref name="owningProcess"/> is
    /// scanned for owners. Null when it is gone.
    /// </summary>
    public static TcpConnection? Reread(long inode, int owningProcess, int? localPort, int? remotePort, string? networkNamespace = null)
    {
        var query = new TcpConnectionQuery
        {
            LocalPorts = localPort is int local ? [local] : null,
            RemotePorts = remotePort is int remote ? [remote] : null,
            OwningProcesses = [owningProcess],
            IncludeProcess = true,
            NetworkNamespace = networkNamespace,
        };
        TcpConnection? found = TcpConnections.Enumerate(query).FirstOrDefault(c => c.Inode == inode);
        return found is null ? null : ConnectionSocketOptions.Fill(new[] { found }).Single();
    }

    /// <summary>
    /// Lists the connections with the given inodes again, in one dump, with owners and exact socket options: what
    /// -PassThru returns after a pipeline of changes. Owners come from a scan of the processes involved
    /// only. Connections gone meanwhile are missing from the result.
    /// </summary>
    public static IEnumerable<TcpConnection> Reread(IReadOnlyCollection<(long Inode, int Pid)> changed, string? networkNamespace = null)
    {
        if (changed.Count == 0)
        {
            return [];
        }

        var pids = changed.Select(c => c.Pid).Distinct().ToList();
        var inodes = changed.Select(c => c.Inode).ToHashSet();
        SocketOwnerMap owners = SocketOwnerScan.Scan(pids);
        var query = new TcpConnectionQuery { IncludeProcess = true, NetworkNamespace = networkNamespace };
        return ConnectionSocketOptions.Fill(TcpConnections.Enumerate(query, owners).Where(c => inodes.Contains(c.Inode)));
    }
}
