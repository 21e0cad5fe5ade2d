using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Netlink;

namespace PSKeepalive.Core.Retrofit;

/// <summary>What happened to one connection asked to close.</summary>
public enum TcpCloseOutcome
{
    /// <summary>The kernel destroyed the socket (the peer got a reset, the owner sees ECONNABORTED).</summary>
    Closed,

    /// <summary>The socket was already gone (ENOENT): nothing to do.</summary>
    Skipped,

    /// <summary>The kernel refused (the error says why).</summary>
    Failed,
}

/// <summary>The result of closing one TCP socket with SOCK_DESTROY.</summary>
/// <param name="LocalAddress">Local IP address.</param>
/// <param name="LocalPort">Local port.</param>
/// <param name="RemoteAddress">Peer IP address (the any-address for a listener).</param>
/// <param name="RemotePort">Peer port (0 for a listener).</param>
/// <param name="State">The TCP state when it was listed ("Established", "Listen", ...), or "Unknown".</param>
/// <param name="Inode">The socket's inode when known, else 0.</param>
/// <param name="Cookie">The socket cookie used to name it exactly; ulong.MaxValue when none was given (any socket with that address tuple).</param>
/// <param name="Outcome">Closed, Skipped or Failed.</param>
/// <param name="Reason">Why it was skipped or failed; null when closed.</param>
/// <param name="ErrorId">The stable id of the error behind a skip or failure; null when closed.</param>
public sealed record TcpConnectionCloseResult(
    string LocalAddress,
    int LocalPort,
    string RemoteAddress,
    int RemotePort,
    string State,
    long Inode,
    ulong Cookie,
    TcpCloseOutcome Outcome,
    string? Reason,
    string? ErrorId);

/// <summary>
/// One socket to close, named by its address tuple and (best) its cookie. Without a cookie, the socket with exactly
/// that tuple is looked up first (never a listener that merely shares the local address and port).
/// </summary>
public sealed record TcpCloseTarget(
    string LocalAddress,
    int LocalPort,
    string RemoteAddress,
    int RemotePort,
    ulong Cookie = TcpConnectionCloser.AnyCookie,
    int InterfaceIndex = 0,
    string State = "Unknown",
    long Inode = 0)
{
    /// <summary>The target of a listed connection: its exact id, cookie included.</summary>
    public static TcpCloseTarget From(TcpConnection connection) => new(
        connection.LocalAddress,
        connection.LocalPort,
        connection.RemoteAddress,
        connection.RemotePort,
        connection.Cookie,
        connection.InterfaceIndex,
        connection.State.ToString(),
        connection.Inode);

    public override string ToString() =>
        $"{TcpConnection.Endpoint(LocalAddress, LocalPort)} -> {TcpConnection.Endpoint(RemoteAddress, RemotePort)} ({State}"
        + (Cookie == TcpConnectionCloser.AnyCookie ? ")" : string.Create(CultureInfo.InvariantCulture, $", cookie {Cookie})"));
}

/// <summary>
/// Closes TCP sockets from outside with sock_diag's SOCK_DESTROY (what `ss -K` does): the kernel aborts the
/// socket as if it had timed out, sends a reset to the peer and reports ECONNABORTED to the owner. The socket
/// is named exactly by its inet_diag_sockid, cookie included, so a new socket that reuses the same addresses
/// is never hit. Needs CAP_NET_ADMIN and a kernel built with CONFIG_INET_DIAG_DESTROY.
/// </summary>
public static class TcpConnectionCloser
{
    /// <summary>INET_DIAG_NOCOOKIE: matches whatever cookie the socket has.</summary>
    public const ulong AnyCookie = ulong.MaxValue;

    public const string Privilege = "CAP_NET_ADMIN over the socket's network namespace (root)";

    private const string Subject = "Connection";

    /// <summary>Asked before each close: (target description, action) -> go ahead?</summary>
    public delegate bool ShouldProcess(string target, string action);

    /// <summary>
    /// Closes each target in turn, in the caller's network namespace or <paramref name="networkNamespace"/>.
    /// A socket already gone is Skipped. A missing privilege or kernel feature stops the run with the typed
    /// error (every other socket would fail the same way); any other kernel error is a Failed result.
    /// </summary>
    /// <exception cref="KeepalivePermissionException">The caller lacks CAP_NET_ADMIN (EPERM).</exception>
    /// <exception cref="KeepaliveNotSupportedException">The kernel lacks CONFIG_INET_DIAG_DESTROY (EOPNOTSUPP).</exception>
    public static IEnumerable<TcpConnectionCloseResult> Close(IEnumerable<TcpCloseTarget> targets, string? networkNamespace = null, ShouldProcess? shouldProcess = null)
    {
        ArgumentNullException.ThrowIfNull(targets);
        NetlinkSocket? socket = null;
        try
        {
            foreach (TcpCloseTarget target in targets)
            {
                if (shouldProcess is not null && !shouldProcess(target.ToString(), "Close (SOCK_DESTROY: reset the peer, abort the owner's socket)"))
                {
                    continue;
                }

                socket ??= NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag, networkNamespace);
                yield return CloseOne(socket, target, networkNamespace);
            }
        }
        finally
        {
            socket?.Dispose();
        }
    }

    /// <summary>
    /// The Skipped result for a target that is better left alone, or null to close it: a TIME_WAIT socket (no program
    /// holds it and it ends by itself; SOCK_DESTROY would only report success), and a listening socket unless
    /// <paramref name="includeListeners"/> (a port filter means the connections of a server; destroying its listener
    /// would stop it accepting for good). A target without a known state whose remote end is the any-address and
    /// port 0 is taken for a listener. The CLI's close and Close-TcpConnection share this rule.
    /// </summary>
    public static TcpConnectionCloseResult? LeftAlone(TcpCloseTarget target, bool includeListeners)
    {
        ArgumentNullException.ThrowIfNull(target);
        string? reason = null;
        if (StateOf(target.State) == TcpState.TimeWait)
        {
            reason = "A TIME_WAIT socket: no program holds it and it ends by itself; left alone.";
        }
        else if (!includeListeners && IsListener(target))
        {
            reason = "A listening socket: closing it would stop its program accepting connections; left alone "
                + "(give -IncludeListener, or --state listen to pskeepalive close, to close it).";
        }

        return reason is null
            ? null
            : new TcpConnectionCloseResult(
                target.LocalAddress, target.LocalPort, target.RemoteAddress, target.RemotePort, target.State, target.Inode, target.Cookie, TcpCloseOutcome.Skipped, reason, null);
    }

    /// <summary>True for a listening socket: listed as Listen, or of unknown state with the any-address and port 0 as its remote end.</summary>
    public static bool IsListener(TcpCloseTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        TcpState? state = StateOf(target.State);
        return state == TcpState.Listen || (state is null && IsAnyEndpoint(target.RemoteAddress, target.RemotePort));
    }

    /// <summary>The state a target was listed in; null when not given or not a state name.</summary>
    private static TcpState? StateOf(string state)
    {
        try
        {
            return string.IsNullOrWhiteSpace(state) || state == "Unknown" ? null : TcpStateNames.Parse(state);
        }
        catch (KeepaliveValidationException)
        {
            return null;
        }
    }

    private static bool IsAnyEndpoint(string address, int port) =>
        port == 0 && IPAddress.TryParse(address.Trim('[', ']'), out IPAddress? parsed) && (parsed.Equals(IPAddress.Any) || parsed.Equals(IPAddress.IPv6Any));

    /// <summary>Closes one socket; see <see cref="Close(IEnumerable{TcpCloseTarget}, string?, ShouldProcess?)"/>.</summary>
    public static TcpConnectionCloseResult Close(TcpCloseTarget target, string? networkNamespace = null)
    {
        using NetlinkSocket socket = NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag, networkNamespace);
        return CloseOne(socket, target, networkNamespace);
    }

    private static TcpConnectionCloseResult CloseOne(NetlinkSocket socket, TcpCloseTarget target, string? networkNamespace)
    {
        if (target.Cookie == AnyCookie)
        {
            // Without a cookie the kernel's lookup falls back to a listener on the local address and port when no
            // connection has the whole tuple (inet_lookup), and SOCK_DESTROY would close that listener: name the
            // socket by its cookie from a listing instead.
            SocketIdOf(target); // a malformed address or port is refused before anything is listed
            TcpConnection? found = FindExactly(target, networkNamespace);
            if (found is null)
            {
                return Result(target, TcpCloseOutcome.Skipped, ErrorFor(Errno.ENOENT, target));
            }

            target = TcpCloseTarget.From(found);
            if (LeftAlone(target, includeListeners: true) is { } timeWait)
            {
                return timeWait;
            }
        }

        (byte family, InetDiagSocketId id) = SocketIdOf(target);
        Span<byte> request = stackalloc byte[InetDiag.RequestMessageLength];
        uint sequence = socket.NextSequence();
        InetDiag.WriteRequest(
            request,
            InetDiag.SockDestroy,
            NetlinkConstants.FlagRequest | NetlinkConstants.FlagAck,
            sequence,
            family,
            InetDiag.AllStates,
            0,
            id);
        try
        {
            socket.SendAndWaitForAck(request, sequence, $"close {target}", target.ToString());
        }
        catch (KeepaliveException e) when (e.Errno != 0)
        {
            KeepaliveException error = ErrorFor(e.Errno, target);
            if (error is KeepalivePermissionException or KeepaliveNotSupportedException)
            {
                throw error;
            }

            return Result(target, e.Errno == Errno.ENOENT ? TcpCloseOutcome.Skipped : TcpCloseOutcome.Failed, error);
        }

        return new TcpConnectionCloseResult(
            target.LocalAddress, target.LocalPort, target.RemoteAddress, target.RemotePort, target.State, target.Inode, target.Cookie, TcpCloseOutcome.Closed, null, null);
    }

    /// <summary>
    /// The socket with exactly this tuple (an IPv4 address also names its IPv4-mapped form on a dual-stack socket),
    /// preferring a live one to one in TIME_WAIT; null when there is none.
    /// </summary>
    private static TcpConnection? FindExactly(TcpCloseTarget target, string? networkNamespace)
    {
        IPAddress local = Plain(Parse(target.LocalAddress, "LocalAddress"));
        IPAddress remote = Plain(Parse(target.RemoteAddress, "RemoteAddress"));
        var query = new TcpConnectionQuery { LocalPorts = [target.LocalPort], RemotePorts = [target.RemotePort], NetworkNamespace = networkNamespace };
        TcpConnection? found = null;
        foreach (TcpConnection connection in TcpConnections.Enumerate(query))
        {
            // The ports are the query's; the addresses are compared here, exactly.
            bool same = (target.InterfaceIndex == 0 || connection.InterfaceIndex == target.InterfaceIndex)
                && IPAddress.TryParse(connection.LocalAddress, out IPAddress? l) && Plain(l).Equals(local)
                && IPAddress.TryParse(connection.RemoteAddress, out IPAddress? r) && Plain(r).Equals(remote);
            if (same && (found is null || found.State == TcpState.TimeWait))
            {
                found = connection;
            }
        }

        return found;
    }

    private static IPAddress Plain(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>The typed error for SOCK_DESTROY's errno, naming the kernel option or privilege it needs.</summary>
    internal static KeepaliveException ErrorFor(int errno, TcpCloseTarget target) => errno switch
    {
        Errno.EOPNOTSUPP => Errno.ToException(
            errno, Subject, $"close {target} with SOCK_DESTROY: the kernel was built without CONFIG_INET_DIAG_DESTROY", target.ToString()),
        Errno.ENOENT => Errno.ToException(errno, Subject, $"close {target}: no such socket (it is already closed)", target.ToString()),
        _ => Errno.ToException(errno, Subject, $"close {target} with SOCK_DESTROY", target.ToString(), Privilege),
    };

    /// <summary>The family and exact inet_diag_sockid of <paramref name="target"/>: an IPv6 socket is recognised by its address text.</summary>
    internal static (byte Family, InetDiagSocketId Id) SocketIdOf(TcpCloseTarget target)
    {
        IPAddress local = Parse(target.LocalAddress, "LocalAddress");
        IPAddress remote = Parse(target.RemoteAddress, "RemoteAddress");
        KeepaliveLimits.CheckRange(target.LocalPort, 0, 65535, "(a TCP port)", "LocalPort", Subject);
        KeepaliveLimits.CheckRange(target.RemotePort, 0, 65535, "(a TCP port)", "RemotePort", Subject);
        bool ipv6 = local.AddressFamily == AddressFamily.InterNetworkV6 || remote.AddressFamily == AddressFamily.InterNetworkV6;
        var id = new InetDiagSocketId
        {
            SourcePort = (ushort)target.LocalPort,
            DestinationPort = (ushort)target.RemotePort,
            Interface = (uint)target.InterfaceIndex,
            Cookie = target.Cookie,
        };
        Span<byte> source = id.Source;
        Span<byte> destination = id.Destination;
        Bytes(local, ipv6).CopyTo(source);
        Bytes(remote, ipv6).CopyTo(destination);
        return (ipv6 ? InetDiag.AfInet6 : InetDiag.AfInet, id);
    }

    private static byte[] Bytes(IPAddress address, bool ipv6) => ipv6
        ? (address.AddressFamily == AddressFamily.InterNetwork ? address.MapToIPv6() : address).GetAddressBytes()
        : address.GetAddressBytes();

    private static IPAddress Parse(string text, string parameterName)
    {
        string trimmed = text.Trim();
        if (trimmed.StartsWith('[') && trimmed.EndsWith(']'))
        {
            trimmed = trimmed[1..^1];
        }

        return IPAddress.TryParse(trimmed, out IPAddress? address)
            && address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
            ? address
            : throw new KeepaliveValidationException(Subject, parameterName, $"{parameterName} '{text}' is not an IPv4 or IPv6 address.", text);
    }

    private static TcpConnectionCloseResult Result(TcpCloseTarget target, TcpCloseOutcome outcome, KeepaliveException error) => new(
        target.LocalAddress, target.LocalPort, target.RemoteAddress, target.RemotePort, target.State, target.Inode, target.Cookie, outcome, error.Message, error.ErrorId);
}
