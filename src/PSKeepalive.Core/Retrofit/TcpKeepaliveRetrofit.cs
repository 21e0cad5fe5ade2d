using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Microsoft.Win32.SafeHandles;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Processes;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Core.Retrofit;

/// <summary>
/// Changes the keepalive options of sockets that running programs hold, without restarting them: each
/// socket is duplicated with pidfd_getfd, checked with fstat to be the socket asked for (same inode), changed
/// all or nothing with <see cref="SocketKeepalive.Set(System.Runtime.InteropServices.SafeHandle, SocketKeepaliveChange)"/>
/// (read back), and the copy is closed. One result per socket; a vanished process or socket is skipped and
/// reported, a permission error is reported as a failure and the next socket is tried. Only a kernel
/// without pidfd support stops the whole run (<see cref="KeepaliveNotSupportedException"/>).
/// </summary>
public static class TcpKeepaliveRetrofit
{
    /// <summary>Asked before each write: (target description, action description) -> go ahead?</summary>
    public delegate bool ShouldProcess(string target, string action);

    /// <summary>Asked with a socket's options before anything is written: a reason to leave it alone, or null to go on.</summary>
    public delegate string? SkipWhen(SocketKeepaliveOptions before);

    /// <summary>Changes every TCP socket (connections and listeners) of process <paramref name="pid"/>.</summary>
    /// <exception cref="KeepaliveValidationException">The change is empty or out of range, or <paramref name="pid"/> is a thread's ID (nothing is touched).</exception>
    /// <exception cref="KeepaliveNotFoundException">The process does not exist.</exception>
    /// <exception cref="KeepalivePermissionException">The caller may not read the process's descriptors.</exception>
    public static IEnumerable<KeepaliveChangeResult> ApplyToProcess(int pid, SocketKeepaliveChange change, ShouldProcess? shouldProcess = null)
    {
        SocketKeepalive.Validate(change);
        Processes.RunningProcesses.CheckIsProcess(pid, "ProcessId");
        IReadOnlyList<SocketDescriptor> descriptors = ProcessSockets.List(pid);
        return ApplyToProcessCore(pid, descriptors, change, shouldProcess);
    }

    /// <summary>
    /// Changes the sockets named by <paramref name="targets"/>. Targets with the same inode are one socket held by
    /// several descriptors (fork, dup): the first descriptor that can be reached is used, one result per inode.
    /// </summary>
    /// <param name="targets">The sockets.</param>
    /// <param name="change">What to set.</param>
    /// <param name="shouldProcess">Asked before each write.</param>
    /// <param name="skipWhen">Asked with each socket's options as read just before the write (a keepalive policy leaves
    /// sockets whose program switched keepalive on itself alone); a skipped socket's result says why.</param>
    public static IEnumerable<KeepaliveChangeResult> Apply(IEnumerable<SocketTarget> targets, SocketKeepaliveChange change, ShouldProcess? shouldProcess = null, SkipWhen? skipWhen = null)
    {
        SocketKeepalive.Validate(change);
        return ApplyCore(targets, change, shouldProcess, skipWhen);
    }

    /// <summary>
    /// Reads the options of socket <paramref name="inode"/> through descriptor <paramref name="fd"/> of
    /// <paramref name="pid"/>; null when the process or descriptor is gone, holds another socket, or may not be read.
    /// </summary>
    public static SocketKeepaliveOptions? TryRead(int pid, int fd, ulong inode)
    {
        try
        {
            using RemoteSocket socket = RemoteSocket.Open(pid, fd, inode);
            return SocketKeepalive.Get(socket.Handle);
        }
        catch (KeepaliveException e) when (e is not KeepaliveNotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Words for a change, for what-if and confirmation messages: "SO_KEEPALIVE=1, TCP_KEEPIDLE=60".</summary>
    public static string Describe(SocketKeepaliveChange change)
    {
        var parts = new List<string>(5);
        if (change.Enabled is bool enabled)
        {
            parts.Add($"SO_KEEPALIVE={(enabled ? 1 : 0)}");
        }

        if (change.Idle is int idle)
        {
            parts.Add(FormattableString.Invariant($"TCP_KEEPIDLE={idle}"));
        }

        if (change.Interval is int interval)
        {
            parts.Add(FormattableString.Invariant($"TCP_KEEPINTVL={interval}"));
        }

        if (change.Count is int count)
        {
            parts.Add(FormattableString.Invariant($"TCP_KEEPCNT={count}"));
        }

        if (change.UserTimeout is int userTimeout)
        {
            parts.Add(FormattableString.Invariant($"TCP_USER_TIMEOUT={userTimeout}"));
        }

        return "Set " + string.Join(", ", parts);
    }

    /// <summary>True when <paramref name="options"/> already has every value <paramref name="change"/> asks for.</summary>
    public static bool AlreadySatisfies(SocketKeepaliveOptions options, SocketKeepaliveChange change) =>
        (change.Enabled is not bool e || options.Enabled == e)
        && (change.Idle is not int i || options.Idle == i)
        && (change.Interval is not int v || options.Interval == v)
        && (change.Count is not int c || options.ProbeCount == c)
        && (change.UserTimeout is not int u || options.UserTimeout == u);

    private static IEnumerable<KeepaliveChangeResult> ApplyToProcessCore(
        int pid, IReadOnlyList<SocketDescriptor> descriptors, SocketKeepaliveChange change, ShouldProcess? shouldProcess)
    {
        if (descriptors.Count == 0)
        {
            yield break;
        }

        string? name = ProcessName.Read(pid);
        SafeFileHandle? pidfd = null;
        KeepaliveNotFoundException? vanished = null;
        try
        {
            pidfd = Pidfd.Open(pid);
        }
        catch (KeepaliveNotFoundException e)
        {
            vanished = e;
        }

        if (pidfd is null)
        {
            // The process exited after its descriptors were listed: every socket is skipped.
            foreach (SocketDescriptor d in descriptors)
            {
                yield return Unreached(new SocketTarget(pid, d.Fd, d.Inode), name, KeepaliveChangeOutcome.Skipped, vanished!);
            }

            yield break;
        }

        using (pidfd)
        {
            var seen = new HashSet<ulong>();
            foreach (SocketDescriptor d in descriptors)
            {
                if (!seen.Add(d.Inode))
                {
                    continue; // the same socket under a second descriptor (dup)
                }

                var target = new SocketTarget(pid, d.Fd, d.Inode);
                KeepaliveChangeResult? result = ApplyOne(pidfd, target, name, change, shouldProcess, onlyTcp: true);
                if (result is not null)
                {
                    yield return result;
                }
            }
        }
    }

    private static IEnumerable<KeepaliveChangeResult> ApplyCore(IEnumerable<SocketTarget> targets, SocketKeepaliveChange change, ShouldProcess? shouldProcess, SkipWhen? skipWhen)
    {
        foreach (IGrouping<ulong, SocketTarget> owners in targets.GroupBy(t => t.Inode))
        {
            KeepaliveChangeResult? last = null;
            foreach (SocketTarget target in owners)
            {
                string? name = ProcessName.Read(target.Pid);
                SafeFileHandle pidfd;
                try
                {
                    pidfd = Pidfd.Open(target.Pid);
                }
                catch (KeepaliveNotFoundException e)
                {
                    last = Unreached(target, name, KeepaliveChangeOutcome.Skipped, e);
                    continue;
                }
                catch (KeepalivePermissionException e)
                {
                    last = Unreached(target, name, KeepaliveChangeOutcome.Failed, e);
                    continue;
                }

                using (pidfd)
                {
                    last = ApplyOne(pidfd, target, name, change, shouldProcess, onlyTcp: false, skipWhen);
                }

                // Another owner is worth trying only when this descriptor could not be reached.
                if (last is null || last.Before is not null)
                {
                    break;
                }
            }

            if (last is not null)
            {
                yield return last;
            }
        }
    }

    /// <summary>Null when declined by <paramref name="shouldProcess"/>, or (with <paramref name="onlyTcp"/>) when the socket is not TCP.</summary>
    private static KeepaliveChangeResult? ApplyOne(
        SafeFileHandle pidfd, SocketTarget target, string? name, SocketKeepaliveChange change, ShouldProcess? shouldProcess, bool onlyTcp, SkipWhen? skipWhen = null)
    {
        RemoteSocket socket;
        try
        {
            socket = RemoteSocket.Open(pidfd, target.Pid, target.Fd, target.Inode);
        }
        catch (KeepaliveException e) when (e is KeepaliveNotFoundException or KeepaliveInvalidTargetException)
        {
            return Unreached(target, name, KeepaliveChangeOutcome.Skipped, e);
        }
        catch (KeepalivePermissionException e)
        {
            return Unreached(target, name, KeepaliveChangeOutcome.Failed, e);
        }

        using (socket)
        {
            // Get checks SO_DOMAIN/SO_TYPE/SO_PROTOCOL first: a non-TCP socket is refused before anything is read.
            SocketKeepaliveOptions before;
            try
            {
                before = SocketKeepalive.Get(socket.Handle);
            }
            catch (KeepaliveInvalidTargetException e)
            {
                return onlyTcp ? null : Unreached(target, name, KeepaliveChangeOutcome.Failed, Reword(e, socket));
            }
            catch (KeepaliveException e) when (e is not KeepaliveNotSupportedException)
            {
                return Unreached(target, name, KeepaliveChangeOutcome.Failed, Reword(e, socket));
            }

            string state = socket.TcpStateName();
            string? localAddress = target.LocalAddress, remoteAddress = target.RemoteAddress;
            int localPort = target.LocalPort, remotePort = target.RemotePort;
            try
            {
                (localAddress, localPort) = socket.LocalEndPoint();
                (remoteAddress, remotePort) = socket.RemoteEndPoint();
            }
            catch (KeepaliveException)
            {
                // Addresses only name the socket in the result; the ones listed (if any) stand.
            }

            if (skipWhen?.Invoke(before) is string skipReason)
            {
                return new KeepaliveChangeResult(
                    target.Pid, name, target.Fd, target.Inode, state, localAddress, localPort, remoteAddress, remotePort,
                    KeepaliveChangeOutcome.Skipped, skipReason, null, before, before);
            }

            if (AlreadySatisfies(before, change))
            {
                return new KeepaliveChangeResult(
                    target.Pid, name, target.Fd, target.Inode, state, localAddress, localPort, remoteAddress, remotePort,
                    KeepaliveChangeOutcome.Skipped, "The socket already has the requested values; nothing was written.", null, before, before);
            }

            if (shouldProcess is not null
                && !shouldProcess(DescribeTarget(target.Pid, name, target.Fd, target.Inode, state, localAddress, localPort, remoteAddress, remotePort), Describe(change)))
            {
                return null;
            }

            try
            {
                SocketKeepaliveOptions after = SocketKeepalive.Set(socket.Handle, before, change);
                if (!AlreadySatisfies(after, change))
                {
                    return new KeepaliveChangeResult(
                        target.Pid, name, target.Fd, target.Inode, state, localAddress, localPort, remoteAddress, remotePort,
                        KeepaliveChangeOutcome.Failed, "The values read back differ from those written.", "SocketVerificationFailed", before, after);
                }

                return new KeepaliveChangeResult(
                    target.Pid, name, target.Fd, target.Inode, state, localAddress, localPort, remoteAddress, remotePort,
                    KeepaliveChangeOutcome.Applied, null, null, before, after);
            }
            catch (KeepaliveException e) when (e is not KeepaliveValidationException and not KeepaliveNotSupportedException)
            {
                // Set restored what it had written; read again so that After shows what the socket has now.
                SocketKeepaliveOptions? now = null;
                try
                {
                    now = SocketKeepalive.Get(socket.Handle);
                }
                catch (KeepaliveException)
                {
                }

                return Result(target, name, state, localAddress, localPort, remoteAddress, remotePort, KeepaliveChangeOutcome.Failed, Reword(e, socket), before, now);
            }
        }
    }

    /// <summary>"process 77 (python3) fd 5 socket:[123] Established 127.0.0.1:40000 -> 127.0.0.1:5000".</summary>
    public static string DescribeTarget(int pid, string? name, int fd, ulong inode, string? state, string? localAddress, int localPort, string? remoteAddress, int remotePort)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"process {pid}");
        if (name is not null)
        {
            text.Append(" (").Append(TerminalText.Escape(name)).Append(')'); // shown by -WhatIf and -Confirm
        }

        text.Append(CultureInfo.InvariantCulture, $" fd {fd} socket:[{inode}]");
        if (state is not null)
        {
            text.Append(' ').Append(state);
        }

        if (localAddress is not null)
        {
            text.Append(' ').Append(EndPoint(localAddress, localPort));
            if (remoteAddress is not null && remotePort != 0)
            {
                text.Append(" -> ").Append(EndPoint(remoteAddress, remotePort));
            }
        }

        return text.ToString();
    }

    private static string EndPoint(string address, int port) =>
        address.Contains(':') ? $"[{address}]:{port.ToString(CultureInfo.InvariantCulture)}" : $"{address}:{port.ToString(CultureInfo.InvariantCulture)}";

    private static KeepaliveChangeResult Unreached(SocketTarget target, string? name, KeepaliveChangeOutcome outcome, KeepaliveException e) =>
        Unreached(target, name, outcome, (e.Message, e.ErrorId));

    private static KeepaliveChangeResult Unreached(SocketTarget target, string? name, KeepaliveChangeOutcome outcome, (string Message, string ErrorId) error) =>
        Result(target, name, target.State ?? "Unknown", target.LocalAddress, target.LocalPort, target.RemoteAddress, target.RemotePort, outcome, error, null, null);

    private static KeepaliveChangeResult Result(
        SocketTarget target, string? name, string state, string? localAddress, int localPort, string? remoteAddress, int remotePort,
        KeepaliveChangeOutcome outcome, (string Message, string ErrorId) error, SocketKeepaliveOptions? before, SocketKeepaliveOptions? after) =>
        new(target.Pid, name, target.Fd, target.Inode, state, localAddress, localPort, remoteAddress, remotePort, outcome, error.Message, error.ErrorId, before, after);

    /// <summary>Socket errors name the local copy ("socket fd 37"); say which descriptor of which process it is.</summary>
    private static (string Message, string ErrorId) Reword(KeepaliveException e, RemoteSocket socket) =>
        (e.Message.Replace(
            SocketKeepalive.DescribeFd(socket.LocalFd),
            FormattableString.Invariant($"descriptor {socket.Fd} of process {socket.Pid} (socket:[{socket.Inode}])"),
            StringComparison.Ordinal), e.ErrorId);
}
