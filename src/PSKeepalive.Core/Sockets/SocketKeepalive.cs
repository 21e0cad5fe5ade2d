using System;
using System.Collections.Generic;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using static PSKeepalive.Core.Sockets.SocketOptionNames;

namespace PSKeepalive.Core.Sockets;

/// <summary>
/// Reads and changes the keepalive options of one TCP socket (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
/// TCP_KEEPCNT, TCP_USER_TIMEOUT) with getsockopt/setsockopt. Every change is validated against
/// <see cref="KeepaliveLimits"/> and the socket is checked to be TCP before the first system call; a
/// change is all or nothing on that socket, and the values are read back afterwards.
/// </summary>
public static class SocketKeepalive
{
    private const string Subject = "Socket";

    /// <summary>Reads the options of the socket open as <paramref name="fd"/> in this process.</summary>
    public static SocketKeepaliveOptions Get(int fd) => GetCore(fd, DescribeFd(fd), fd);

    /// <summary>Reads the options of the socket behind <paramref name="handle"/>.</summary>
    public static SocketKeepaliveOptions Get(SafeHandle handle) =>
        WithHandle(handle, handle, fd => GetCore(fd, DescribeFd(fd), handle));

    /// <summary>Reads the options of <paramref name="socket"/>.</summary>
    public static SocketKeepaliveOptions Get(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        return WithEndpoints(WithHandle(socket.SafeHandle, socket, fd => GetCore(fd, Describe(socket, fd), socket)), socket);
    }

    /// <summary>Applies <paramref name="change"/> to the socket open as <paramref name="fd"/>, all or nothing; returns the values read back.</summary>
    public static SocketKeepaliveOptions Set(int fd, SocketKeepaliveChange change)
    {
        Validate(change);
        return SetCore(fd, change, DescribeFd(fd), fd);
    }

    /// <summary>Applies <paramref name="change"/> to the socket behind <paramref name="handle"/>; see <see cref="Set(int, SocketKeepaliveChange)"/>.</summary>
    public static SocketKeepaliveOptions Set(SafeHandle handle, SocketKeepaliveChange change)
    {
        Validate(change);
        return WithHandle(handle, handle, fd => SetCore(fd, change, DescribeFd(fd), handle));
    }

    /// <summary>Applies <paramref name="change"/> to <paramref name="socket"/>; see <see cref="Set(int, SocketKeepaliveChange)"/>.</summary>
    public static SocketKeepaliveOptions Set(Socket socket, SocketKeepaliveChange change)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Validate(change);
        return WithEndpoints(WithHandle(socket.SafeHandle, socket, fd => SetCore(fd, change, Describe(socket, fd), socket)), socket);
    }

    /// <summary>The options with the socket's endpoints, so that a row says which socket it is.</summary>
    private static SocketKeepaliveOptions WithEndpoints(SocketKeepaliveOptions options, Socket socket)
    {
        try
        {
            if (socket.LocalEndPoint is not System.Net.IPEndPoint local)
            {
                return options;
            }

            var remote = socket.RemoteEndPoint as System.Net.IPEndPoint;
            string any = local.AddressFamily == AddressFamily.InterNetworkV6 ? "::" : "0.0.0.0";
            return options with
            {
                LocalAddress = local.Address.ToString(),
                LocalPort = local.Port,
                RemoteAddress = remote?.Address.ToString() ?? any,
                RemotePort = remote?.Port ?? 0,
            };
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return options;
        }
    }

    /// <summary>
    /// Applies <paramref name="change"/> to a TCP socket whose options the caller has just read with
    /// <see cref="Get(SafeHandle)"/> (which also checked that it is TCP): <paramref name="current"/> serves as the
    /// values to restore on failure, so the socket is not checked and read a second time.
    /// </summary>
    internal static SocketKeepaliveOptions Set(SafeHandle handle, SocketKeepaliveOptions current, SocketKeepaliveChange change)
    {
        Validate(change);
        return WithHandle(handle, handle, fd => SetCore(fd, change, DescribeFd(fd), handle, current));
    }

    /// <summary>Refuses an empty change and values outside the kernel's limits, without any system call.</summary>
    public static void Validate(SocketKeepaliveChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (change.IsEmpty)
        {
            throw new KeepaliveValidationException(
                Subject,
                "Change",
                "Give at least one of Enabled, Idle, Interval, Count or UserTimeout to change.",
                null);
        }

        if (change.Idle is int idle)
        {
            KeepaliveLimits.CheckIdle(idle, "Idle", Subject);
        }

        if (change.Interval is int interval)
        {
            KeepaliveLimits.CheckInterval(interval, "Interval", Subject);
        }

        if (change.Count is int count)
        {
            KeepaliveLimits.CheckCount(count, "Count", Subject);
        }

        if (change.UserTimeout is int userTimeout)
        {
            KeepaliveLimits.CheckUserTimeout(userTimeout, "UserTimeout", Subject);
        }
    }

    /// <summary>
    /// Throws <see cref="KeepaliveInvalidTargetException"/> unless <paramref name="fd"/> is a TCP socket
    /// (SO_DOMAIN AF_INET or AF_INET6, SO_TYPE SOCK_STREAM, SO_PROTOCOL IPPROTO_TCP).
    /// </summary>
    public static void EnsureTcp(int fd) => EnsureTcp(fd, DescribeFd(fd), fd);

    internal static void EnsureTcp(int fd, string description, object target)
    {
        int domain = GetInt(fd, SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN", description, target);
        int type = GetInt(fd, SOL_SOCKET, SO_TYPE, "SO_TYPE", description, target);
        int protocol = GetInt(fd, SOL_SOCKET, SO_PROTOCOL, "SO_PROTOCOL", description, target);
        if ((domain == AF_INET || domain == AF_INET6) && type == SOCK_STREAM && protocol == IPPROTO_TCP)
        {
            return;
        }

        throw new KeepaliveInvalidTargetException(
            Subject,
            $"{description} is {WithArticle(FamilyName(domain))} {TypeName(type)} socket ({ProtocolName(protocol)}); keepalive options "
                + "apply only to TCP sockets (AF_INET or AF_INET6, SOCK_STREAM, IPPROTO_TCP). Nothing was read or changed.",
            target,
            0);
    }

    private static SocketKeepaliveOptions GetCore(int fd, string description, object target)
    {
        EnsureTcp(fd, description, target);
        return ReadAll(fd, description, target);
    }

    private static SocketKeepaliveOptions ReadAll(int fd, string description, object target) => new(
        GetInt(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", description, target) != 0,
        GetInt(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", description, target),
        GetInt(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", description, target),
        GetInt(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", description, target),
        GetInt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", description, target));

    private static SocketKeepaliveOptions SetCore(int fd, SocketKeepaliveChange change, string description, object target, SocketKeepaliveOptions? known = null)
    {
        SocketKeepaliveOptions previous;
        if (known is null)
        {
            EnsureTcp(fd, description, target);
            previous = ReadAll(fd, description, target);
        }
        else
        {
            previous = known;
        }

        var writes = new List<Write>(5);
        if (change.Enabled is bool enabled)
        {
            writes.Add(new(SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", enabled ? 1 : 0, previous.Enabled ? 1 : 0));
        }

        if (change.Idle is int idle)
        {
            writes.Add(new(IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", idle, previous.Idle));
        }

        if (change.Interval is int interval)
        {
            writes.Add(new(IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", interval, previous.Interval));
        }

        if (change.Count is int count)
        {
            writes.Add(new(IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", count, previous.ProbeCount));
        }

        if (change.UserTimeout is int userTimeout)
        {
            writes.Add(new(IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", userTimeout, previous.UserTimeout));
        }

        var written = new List<Write>(writes.Count);
        foreach (Write write in writes)
        {
            if (!TrySetInt(fd, write.Level, write.Name, write.Value, out int errno))
            {
                var failure = Errno.ToException(errno, Subject, $"set {write.Label} = {write.Value} on {description}", target);
                throw RollBack(fd, failure, written);
            }

            written.Add(write);
        }

        return ReadAll(fd, description, target);
    }

    private static SocketOptionWriteException RollBack(int fd, KeepaliveException failure, List<Write> written)
    {
        var restored = new List<string>();
        var notRestored = new List<string>();
        for (int i = written.Count - 1; i >= 0; i--)
        {
            Write write = written[i];
            if (TrySetInt(fd, write.Level, write.Name, write.Previous, out _))
            {
                restored.Add($"{write.Label} = {write.Previous}");
            }
            else
            {
                notRestored.Add($"{write.Label} (should be {write.Previous})");
            }
        }

        return new SocketOptionWriteException(failure, restored, notRestored);
    }

    internal static unsafe int GetInt(int fd, int level, int name, string label, string description, object target)
    {
        int value = 0;
        uint length = sizeof(int);
        if (Libc.GetSockOpt(fd, level, name, &value, &length) != 0)
        {
            throw Errno.Last(Subject, $"read {label} of {description}", target);
        }

        return value;
    }

    private static unsafe bool TrySetInt(int fd, int level, int name, int value, out int errno)
    {
        if (Libc.SetSockOpt(fd, level, name, &value, sizeof(int)) != 0)
        {
            errno = Libc.LastErrno;
            return false;
        }

        errno = 0;
        return true;
    }

    /// <summary>Runs <paramref name="action"/> on the descriptor of <paramref name="handle"/>, keeping the handle alive meanwhile.</summary>
    internal static T WithHandle<T>(SafeHandle handle, object target, Func<int, T> action)
    {
        ArgumentNullException.ThrowIfNull(handle);
        bool added = false;
        try
        {
            try
            {
                handle.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
                throw Closed(target);
            }

            if (handle.IsInvalid)
            {
                throw Closed(target);
            }

            return action((int)handle.DangerousGetHandle());
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static KeepaliveNotFoundException Closed(object target) =>
        new(Subject, "The socket is closed (disposed); keepalive options can only be read or set on an open socket.", target, 0);

    internal static string DescribeFd(int fd) => $"socket fd {fd}";

    /// <summary>Names a socket for messages and confirmations: "socket fd 12 (127.0.0.1:40000 -> 127.0.0.1:5432)".</summary>
    public static string Describe(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        try
        {
            return Describe(socket, (int)socket.Handle);
        }
        catch (ObjectDisposedException)
        {
            return "closed socket";
        }
    }

    internal static string Describe(Socket socket, int fd)
    {
        try
        {
            return socket.RemoteEndPoint is { } remote
                ? $"socket fd {fd} ({socket.LocalEndPoint} -> {remote})"
                : socket.LocalEndPoint is { } local ? $"socket fd {fd} ({local})" : DescribeFd(fd);
        }
        catch (SocketException)
        {
            return DescribeFd(fd);
        }
        catch (ObjectDisposedException)
        {
            return DescribeFd(fd);
        }
    }

    private readonly record struct Write(int Level, int Name, string Label, int Value, int Previous);
}
