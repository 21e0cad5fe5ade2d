using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Namespaces;
using PSKeepalive.Core.Netlink;
using PSKeepalive.Core.Processes;

namespace PSKeepalive.Core.Connections;

/// <summary>
/// Lists TCP sockets with sock_diag (NETLINK_SOCK_DIAG): both families in one walk of the kernel's tables
/// (TCPDIAG_GETSOCK, inet_diag_req), or, where a kernel refuses that, one SOCK_DIAG_BY_FAMILY dump for AF_INET
/// then one for AF_INET6; states and ports filtered by the kernel, tcp_info asked for only when wanted.
/// </summary>
public static class TcpConnections
{
    /// <summary>Passes over a dump when the kernel flags it as interrupted (NLM_F_DUMP_INTR).</summary>
    public const int MaxDumpAttempts = 3;

    /// <summary>Ask for both families in one walk of the kernel's tables (TCPDIAG_GETSOCK); false: one SOCK_DIAG_BY_FAMILY dump per family, as `ss` does (benchmarks and tests compare both).</summary>
    internal static bool OneWalk { get; set; } = true;

    /// <summary>Receive the dump on a second thread while this one parses (benchmarks compare both ways).</summary>
    internal static bool ReadAhead { get; set; } = true;

    /// <summary>Set when this kernel refused the one-walk request: later listings ask per family straight away.</summary>
    private static volatile bool s_oneWalkRefused;

    /// <summary>Tests: send the one-walk request a byte short, which every kernel refuses (EINVAL), to exercise the fallback.</summary>
    internal static bool SimulateOneWalkRefusal { get; set; }

    /// <summary>Tests: forget a refusal, so that the next listing asks for one walk again.</summary>
    internal static void ForgetOneWalkRefusal() => s_oneWalkRefused = false;

    /// <summary>
    /// Streams the TCP sockets matching <paramref name="query"/>, in the order of the kernel's tables. Both
    /// families come from one walk of those tables (TCPDIAG_GETSOCK, about 25 % less kernel time than a dump
    /// per family; a kernel that refuses it is asked per family, IPv4 first). On machines with more than one
    /// processor the dump is received on a second thread into a queue of at most 32 datagrams while this one
    /// parses, so the kernel's work and ours overlap. Stopping early (Select-Object -First 5) ends the dump, and
    /// memory does not grow with the number of sockets (the owner map, when asked for, is one entry per socket
    /// held by a process).
    /// </summary>
    /// <remarks>
    /// NLM_F_DUMP_INTR: the kernel may flag a dump whose tables changed under it (a socket may be missing
    /// or repeated). The pass is read to its end (its sockets were already yielded and stay yielded),
    /// then the dump is repeated, at most <see cref="MaxDumpAttempts"/> passes in all, so that
    /// sockets the interrupted walk missed are listed: a socket may then appear twice, with the same
    /// <see cref="TcpConnection.Cookie"/>. Current kernels do not flag inet_diag dumps this way.
    /// </remarks>
    /// <param name="query">Filters and options; validated before anything is read.</param>
    /// <param name="owners">An owner map already scanned (to show progress or report what could not be read); scanned here when needed and null.</param>
    public static IEnumerable<TcpConnection> Enumerate(TcpConnectionQuery query, SocketOwnerMap? owners = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        if (query.OwningProcesses is { Count: > 0 } pids && string.IsNullOrEmpty(query.NetworkNamespace))
        {
            // A process of another network namespace (a container) has its sockets only in that namespace's dump:
            // list each namespace the processes live in, in turn (one dump, one owner scan, when they share one).
            var byNamespace = pids.Distinct().GroupBy(Retrofit.RetrofitTargets.NamespaceOf).ToList();
            if (byNamespace.Count > 1)
            {
                owners ??= query.NeedsOwners ? SocketOwnerScan.Scan(pids) : null;
                SocketOwnerMap? scanned = owners;
                return byNamespace.SelectMany(g => Enumerate(query with { OwningProcesses = g.ToList(), NetworkNamespace = g.Key }, scanned));
            }

            if (byNamespace[0].Key is string processNamespace)
            {
                query = query with { NetworkNamespace = processNamespace };
            }
        }

        var filter = new ConnectionFilter(query);
        IEnumerable<TcpConnection> connections = Iterate(query, filter, owners);
        if (!query.IncludeSocketOption)
        {
            return connections;
        }

        // The timer guess must not filter first: a listener or a socket with data in flight has no keepalive
        // timer either way, so --no-keepalive is decided on the options read from the socket.
        IEnumerable<TcpConnection> filled = Retrofit.ConnectionSocketOptions.Fill(connections);
        return query.NoKeepaliveOnly ? NoKeepaliveOnly(filled) : filled;
    }

    private static IEnumerable<TcpConnection> NoKeepaliveOnly(IEnumerable<TcpConnection> connections)
    {
        foreach (TcpConnection connection in connections)
        {
            if (connection.NoKeepalive == true)
            {
                yield return connection;
            }
        }
    }

    private static IEnumerable<TcpConnection> Iterate(TcpConnectionQuery query, ConnectionFilter filter, SocketOwnerMap? owners)
    {
        if (owners is null && query.NeedsOwners)
        {
            owners = SocketOwnerScan.Scan(query.OwningProcesses);
        }

        var factory = new TcpConnectionFactory(query.IncludeInfo, owners, query.NeedsOwners) { NetworkNamespace = query.NetworkNamespace };
        bool readAhead = ReadAhead && Environment.ProcessorCount > 1;
        using NetlinkSocket socket = NetworkNamespace.Run(query.NetworkNamespace, () => NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag));
        if (OneWalk && !s_oneWalkRefused)
        {
            var outcome = new DumpOutcome();
            foreach (TcpConnection connection in Dump(socket, InetDiag.AfUnspec, query, filter, factory, readAhead, outcome))
            {
                yield return connection;
            }

            if (!outcome.Refused)
            {
                yield break;
            }

            s_oneWalkRefused = true;
        }

        foreach (byte family in PerFamily)
        {
            foreach (TcpConnection connection in Dump(socket, family, query, filter, factory, readAhead, new DumpOutcome()))
            {
                yield return connection;
            }
        }
    }

    private static readonly byte[] PerFamily = { InetDiag.AfInet, InetDiag.AfInet6 };

    /// <summary>Set by <see cref="Dump"/> when the kernel answered a one-walk request with an error before any socket.</summary>
    private sealed class DumpOutcome
    {
        public bool Refused;
    }

    /// <summary>
    /// One dump on <paramref name="socket"/>: of <paramref name="family"/>, or of both families in one walk for
    /// <see cref="InetDiag.AfUnspec"/>; streamed, repeated while the kernel flags it interrupted.
    /// </summary>
    private static IEnumerable<TcpConnection> Dump(NetlinkSocket socket, byte family, TcpConnectionQuery query, ConnectionFilter filter, TcpConnectionFactory factory, bool readAhead, DumpOutcome outcome)
    {
        bool oneWalk = family == InetDiag.AfUnspec;
        var request = new byte[InetDiag.DumpRequestLength(filter.KernelProgram.Length)];
        var dump = new DumpState();
        for (int attempt = 1; attempt <= MaxDumpAttempts; attempt++)
        {
            uint sequence = socket.NextSequence();
            int length = oneWalk
                ? InetDiag.WriteOneWalkDumpRequest(request, query.StateMask, query.IncludeInfo, sequence, filter.KernelProgram)
                : InetDiag.WriteDumpRequest(request, family, query.StateMask, query.IncludeInfo, sequence, filter.KernelProgram);
            if (oneWalk && SimulateOneWalkRefusal)
            {
                length = NetlinkConstants.HeaderLength + InetDiag.OneWalkRequestLength - 1;
                MemoryMarshal.Write(request, (uint)length);
            }

            dump.Reset(sequence, socket.PortId, oneWalk ? InetDiag.TcpDiagGetSock : InetDiag.SockDiagByFamily);
            using var datagrams = new DumpReader(socket, request.AsSpan(0, length), readAhead);
            bool first = attempt == 1;
            while (!dump.Done)
            {
                datagrams.Next(out byte[] buffer, out int received);
                if (first && oneWalk && DumpParser.IsRefusal(buffer.AsSpan(0, received), sequence))
                {
                    outcome.Refused = true; // nothing was yielded: the caller asks per family instead
                    yield break;
                }

                first = false;
                dump.Offset = 0;
                while (dump.Offset < received)
                {
                    TcpConnection? connection = DumpParser.Next(buffer.AsSpan(0, received), ref dump, filter, factory);
                    if (connection is not null)
                    {
                        yield return connection;
                    }
                }
            }

            if (!dump.Interrupted)
            {
                break;
            }
        }
    }
}

/// <summary>Where a dump is: the request's sequence, the read offset in the current datagram, and what was seen.</summary>
internal struct DumpState
{
    public uint Sequence;
    public uint PortId;
    public int Offset;
    public bool Done;
    public bool Interrupted;

    /// <summary>The type of the messages carrying sockets: the request's (SOCK_DIAG_BY_FAMILY, or TCPDIAG_GETSOCK for one walk).</summary>
    public ushort SocketMessageType;

    public void Reset(uint sequence, uint portId, ushort socketMessageType = InetDiag.SockDiagByFamily)
    {
        Sequence = sequence;
        PortId = portId;
        SocketMessageType = socketMessageType;
        Offset = 0;
        Done = false;
        Interrupted = false;
    }
}

/// <summary>The message loop of one dump datagram, kept out of the iterator so that it can use spans.</summary>
internal static class DumpParser
{
    /// <summary>Decodes a whole datagram of a dump answering <paramref name="sequence"/> (tests, benchmarks, fixtures).</summary>
    internal static List<TcpConnection> ParseDatagram(ReadOnlySpan<byte> datagram, uint sequence, TcpConnectionQuery query, out bool done, out bool interrupted, ushort socketMessageType = InetDiag.SockDiagByFamily)
    {
        var state = new DumpState();
        state.Reset(sequence, 0, socketMessageType);
        var filter = new ConnectionFilter(query);
        var factory = new TcpConnectionFactory(query.IncludeInfo, null, false);
        var result = new List<TcpConnection>();
        while (state.Offset < datagram.Length)
        {
            TcpConnection? connection = Next(datagram, ref state, filter, factory);
            if (connection is not null)
            {
                result.Add(connection);
            }
        }

        done = state.Done;
        interrupted = state.Interrupted;
        return result;
    }

    /// <summary>
    /// True when the datagram starts with the kernel's NLMSG_ERROR answer to request <paramref name="sequence"/>:
    /// a request it refused outright (a one-walk request on a kernel without it), before any socket.
    /// </summary>
    internal static bool IsRefusal(ReadOnlySpan<byte> datagram, uint sequence)
    {
        var reader = new NetlinkMessageReader(datagram);
        return reader.TryRead(out NetlinkMessage message) &&
            message.Header.Type == NetlinkConstants.MessageError &&
            message.Header.Sequence == sequence &&
            NetlinkError.Decode(message.Payload, message.Header.Flags).Errno != 0;
    }

    /// <summary>
    /// Handles the message at <see cref="DumpState.Offset"/> of <paramref name="datagram"/> and advances past it.
    /// Returns the connection it carried when it matched the filter; sets Done at NLMSG_DONE; throws the
    /// kernel's error for NLMSG_ERROR and <see cref="KeepaliveDataException"/> for anything malformed.
    /// </summary>
    public static TcpConnection? Next(ReadOnlySpan<byte> datagram, ref DumpState state, ConnectionFilter filter, TcpConnectionFactory factory)
    {
        var reader = new NetlinkMessageReader(datagram.Slice(state.Offset));
        if (!reader.TryRead(out NetlinkMessage message))
        {
            state.Offset = datagram.Length;
            return null;
        }

        int next = state.Offset + NetlinkConstants.Align((int)message.Header.Length);
        state.Offset = Math.Min(next, datagram.Length);
        if (state.Done)
        {
            throw new KeepaliveDataException(NetlinkSocket.Subject, "Malformed netlink data: a message follows NLMSG_DONE in the same datagram.");
        }

        if (message.Header.Sequence != state.Sequence)
        {
            throw new KeepaliveDataException(
                NetlinkSocket.Subject,
                $"Malformed netlink data: a reply carries sequence {message.Header.Sequence}, the request {state.Sequence}.",
                message.Header.Sequence);
        }

        if ((message.Header.Flags & NetlinkConstants.FlagDumpInterrupted) != 0)
        {
            state.Interrupted = true;
        }

        switch (message.Header.Type)
        {
            case NetlinkConstants.MessageDone:
                // A dump that failed midway also ends with NLMSG_DONE, carrying -errno: never a clean end then.
                NetlinkError status = NetlinkError.DecodeDone(message.Payload, message.Header.Flags);
                if (status.Errno != 0)
                {
                    throw NetlinkSocket.ErrorFor(status, "dump TCP sockets with sock_diag: the kernel ended the dump with an error, so the list is incomplete", "sock_diag");
                }

                state.Done = true; // anything after it in the datagram is refused by the check above
                return null;
            case NetlinkConstants.MessageError:
                NetlinkError error = NetlinkError.Decode(message.Payload, message.Header.Flags);
                if (error.Errno == 0)
                {
                    throw new KeepaliveDataException(NetlinkSocket.Subject, "Malformed netlink data: an acknowledgement (error 0) in the middle of a dump.");
                }

                throw NetlinkSocket.ErrorFor(error, "dump TCP sockets with sock_diag", "sock_diag");
            case NetlinkConstants.MessageNoop:
                return null;
            case NetlinkConstants.MessageOverrun:
                throw new KeepaliveDataException(NetlinkSocket.Subject, "The kernel reported NLMSG_OVERRUN: part of the dump was lost.");
            case ushort type when type == state.SocketMessageType:
                InetDiagMessage diag = InetDiag.Decode(message.Payload, readAttributes: factory.IncludeInfo);
                TcpConnectionFactory.StateOf(diag.State); // unknown values are malformed data, not something to filter away
                TcpConnectionFactory.TimerOf(diag.Timer);
                return filter.Matches(diag) ? factory.Create(diag, filter) : null;
            default:
                throw new KeepaliveDataException(
                    NetlinkSocket.Subject,
                    $"Malformed netlink data: unexpected message type {message.Header.Type} in a sock_diag dump.",
                    message.Header.Type);
        }
    }
}
