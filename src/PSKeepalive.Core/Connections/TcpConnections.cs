using System;
using System.Collections.Generic;
using System.Linq;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Namespaces;
using PSKeepalive.Core.Netlink;
using PSKeepalive.Core.Processes;

namespace PSKeepalive.Core.Connections;

/// <summary>
/// Lists TCP sockets with sock_diag (NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, inet_diag_req_v2): one dump for
/// AF_INET then one for AF_INET6, states filtered by the kernel, tcp_info asked for only when wanted.
/// </summary>
public static class TcpConnections
{
    /// <summary>Passes over one family when the kernel flags a dump as interrupted (NLM_F_DUMP_INTR).</summary>
    public const int MaxDumpAttempts = 3;

    /// <summary>Read the IPv6 dump on a second thread while IPv4 is consumed (benchmarks compare both ways).</summary>
    internal static bool ReadAhead { get; set; } = true;

    /// <summary>
    /// Streams the TCP sockets matching <paramref name="query"/>, IPv4 first. Each datagram of the dump is parsed
    /// in a reused buffer and its sockets are yielded before the next one is read; on machines with more than
    /// one processor the IPv6 dump is read meanwhile by a second thread into a queue of at most 32 datagrams.
    /// Stopping early (Select-Object -First 5) ends both dumps, and memory does not grow with the number of
    /// sockets (the owner map, when asked for, is one entry per socket held by a process).
    /// </summary>
    /// <remarks>
    /// NLM_F_DUMP_INTR: the kernel may flag a dump whose tables changed under it (a socket may be missing
    /// or repeated). The pass is read to its end (its sockets were already yielded and stay yielded),
    /// then that family's dump is repeated, at most <see cref="MaxDumpAttempts"/> passes in all, so that
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
        bool parallel = ReadAhead && Environment.ProcessorCount > 1;
        (NetlinkSocket first, NetlinkSocket? second) = NetworkNamespace.Run(query.NetworkNamespace, () =>
        {
            NetlinkSocket a = NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag);
            try
            {
                return (a, parallel ? NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag) : null);
            }
            catch
            {
                a.Dispose();
                throw;
            }
        });

        DumpPrefetcher? prefetched = null;
        var dump = new DumpState();
        try
        {
            // With two processors the IPv6 dump runs in the kernel on another thread while IPv4 is consumed here.
            uint secondSequence = 0;
            if (second is not null)
            {
                secondSequence = second.NextSequence();
                var secondRequest = new byte[InetDiag.DumpRequestLength(filter.KernelProgram.Length)];
                int secondLength = InetDiag.WriteDumpRequest(secondRequest, InetDiag.AfInet6, query.StateMask, query.IncludeInfo, secondSequence, filter.KernelProgram);
                prefetched = new DumpPrefetcher(second, secondRequest.AsSpan(0, secondLength).ToArray());
            }

            bool interrupted = false;
            foreach (TcpConnection connection in DumpFamily(first, InetDiag.AfInet, query, filter, factory))
            {
                yield return connection;
            }

            if (prefetched is null)
            {
                foreach (TcpConnection connection in DumpFamily(first, InetDiag.AfInet6, query, filter, factory))
                {
                    yield return connection;
                }

                yield break;
            }

            dump.Reset(secondSequence, second!.PortId);
            foreach (DumpPrefetcher.Chunk chunk in prefetched.Chunks())
            {
                chunk.Failure?.Throw();
                dump.Offset = 0;
                while (dump.Offset < chunk.Length)
                {
                    TcpConnection? connection = DumpParser.Next(chunk.Buffer.AsSpan(0, chunk.Length), ref dump, filter, factory);
                    if (connection is not null)
                    {
                        yield return connection;
                    }
                }

                DumpPrefetcher.Return(chunk.Buffer!);
                if (dump.Done)
                {
                    break;
                }
            }

            if (!dump.Done)
            {
                throw new KeepaliveDataException(NetlinkSocket.Subject, "The sock_diag dump ended without NLMSG_DONE.");
            }

            interrupted = dump.Interrupted;
            prefetched.Dispose();
            prefetched = null;
            if (interrupted)
            {
                // See the remarks of Enumerate: repeat the family (the remaining passes run on this thread).
                foreach (TcpConnection connection in DumpFamily(second, InetDiag.AfInet6, query, filter, factory, firstAttempt: 2))
                {
                    yield return connection;
                }
            }
        }
        finally
        {
            prefetched?.Dispose();
            second?.Dispose();
            first.Dispose();
        }
    }

    /// <summary>One family's dump on <paramref name="socket"/>, streamed, repeated while the kernel flags it interrupted.</summary>
    private static IEnumerable<TcpConnection> DumpFamily(NetlinkSocket socket, byte family, TcpConnectionQuery query, ConnectionFilter filter, TcpConnectionFactory factory, int firstAttempt = 1)
    {
        var request = new byte[InetDiag.DumpRequestLength(filter.KernelProgram.Length)];
        var dump = new DumpState();
        for (int attempt = firstAttempt; attempt <= MaxDumpAttempts; attempt++)
        {
            uint sequence = socket.NextSequence();
            int length = InetDiag.WriteDumpRequest(request, family, query.StateMask, query.IncludeInfo, sequence, filter.KernelProgram);
            socket.Send(request.AsSpan(0, length));
            dump.Reset(sequence, socket.PortId);
            while (!dump.Done)
            {
                int received = socket.ReceiveInto();
                dump.Offset = 0;
                while (dump.Offset < received)
                {
                    TcpConnection? connection = DumpParser.Next(socket.Buffer.Slice(0, received), ref dump, filter, factory);
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

    public void Reset(uint sequence, uint portId)
    {
        Sequence = sequence;
        PortId = portId;
        Offset = 0;
        Done = false;
        Interrupted = false;
    }
}

/// <summary>The message loop of one dump datagram, kept out of the iterator so that it can use spans.</summary>
internal static class DumpParser
{
    /// <summary>Decodes a whole datagram of a dump answering <paramref name="sequence"/> (tests, benchmarks, fixtures).</summary>
    internal static List<TcpConnection> ParseDatagram(ReadOnlySpan<byte> datagram, uint sequence, TcpConnectionQuery query, out bool done, out bool interrupted)
    {
        var state = new DumpState();
        state.Reset(sequence, 0);
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
            case InetDiag.SockDiagByFamily:
                InetDiagMessage diag = InetDiag.Decode(message.Payload);
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
