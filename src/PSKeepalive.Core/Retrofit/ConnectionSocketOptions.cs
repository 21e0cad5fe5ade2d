using System.Collections.Generic;
using Microsoft.Win32.SafeHandles;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Core.Retrofit;

/// <summary>
/// Reads the exact keepalive options of listed connections from the sockets themselves (pidfd_getfd on an owner's
/// descriptor, checked by inode, getsockopt, copy closed), so that <see cref="TcpConnection.NoKeepalive"/> is
/// exact for them, LISTEN sockets included. Connections with no known owner, or whose owners may not be
/// reached (another user's process without root, a process that just exited), pass through unchanged.
/// </summary>
public static class ConnectionSocketOptions
{
    /// <summary>
    /// Streams <paramref name="connections"/> (listed with their owners: <see cref="TcpConnectionQuery.IncludeProcess"/>)
    /// with KeepaliveEnabled, Idle, Interval, Count and UserTimeout filled where the socket could be read.
    /// One pidfd per process is kept open during the walk.
    /// </summary>
    /// <exception cref="KeepaliveNotSupportedException">The kernel has no pidfd_getfd (older than Linux 5.6).</exception>
    public static IEnumerable<TcpConnection> Fill(IEnumerable<TcpConnection> connections)
    {
        var pidfds = new Dictionary<int, SafeFileHandle?>();
        try
        {
            foreach (TcpConnection connection in connections)
            {
                SocketKeepaliveOptions? options = Read(connection, pidfds);
                yield return options is null
                    ? connection
                    : connection with
                    {
                        KeepaliveEnabled = options.Enabled,
                        Idle = options.Idle,
                        Interval = options.Interval,
                        ProbeCount = options.ProbeCount,
                        UserTimeout = options.UserTimeout,
                    };
            }
        }
        finally
        {
            foreach (SafeFileHandle? pidfd in pidfds.Values)
            {
                pidfd?.Dispose();
            }
        }
    }

    /// <summary>The options of one listed connection through the first owner that can be reached; null when none can.</summary>
    public static SocketKeepaliveOptions? Read(TcpConnection connection)
    {
        var pidfds = new Dictionary<int, SafeFileHandle?>();
        try
        {
            return Read(connection, pidfds);
        }
        finally
        {
            foreach (SafeFileHandle? pidfd in pidfds.Values)
            {
                pidfd?.Dispose();
            }
        }
    }

    private static SocketKeepaliveOptions? Read(TcpConnection connection, Dictionary<int, SafeFileHandle?> pidfds)
    {
        if (connection.Inode <= 0)
        {
            return null;
        }

        foreach (TcpConnectionProcess owner in connection.Processes)
        {
            if (!pidfds.TryGetValue(owner.Pid, out SafeFileHandle? pidfd))
            {
                try
                {
                    pidfd = Pidfd.Open(owner.Pid);
                }
                catch (KeepaliveException e) when (e is KeepaliveNotFoundException or KeepalivePermissionException)
                {
                    pidfd = null;
                }

                pidfds[owner.Pid] = pidfd;
            }

            if (pidfd is null)
            {
                continue;
            }

            try
            {
                using RemoteSocket socket = RemoteSocket.Open(pidfd, owner.Pid, owner.Fd, (ulong)connection.Inode);
                return SocketKeepalive.Get(socket.Handle);
            }
            catch (KeepaliveException e) when (e is KeepaliveNotFoundException or KeepalivePermissionException or KeepaliveInvalidTargetException)
            {
                // Gone, reused or not ours to read: try the next owner.
            }
        }

        return null;
    }
}
