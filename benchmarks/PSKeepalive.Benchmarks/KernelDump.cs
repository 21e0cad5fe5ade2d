using System;
using System.Collections.Generic;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Netlink;
using PSKeepalive.Core.Processes;

namespace PSKeepalive.Benchmarks;

/// <summary>The kernel's part of a listing: one family's sock_diag dump, received and counted (the C# twin of ../shared/bench/nl-dump-floor.c).</summary>
internal static class KernelDump
{
    public static int CountMessages(byte family)
    {
        using NetlinkSocket socket = NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag);
        var request = new byte[InetDiag.RequestMessageLength];
        uint sequence = socket.NextSequence();
        InetDiag.WriteDumpRequest(request, family, InetDiag.AllStates, withInfo: false, sequence);
        socket.Send(request);
        int count = 0;
        while (true)
        {
            var reader = new NetlinkMessageReader(socket.Receive());
            while (reader.TryRead(out NetlinkMessage message))
            {
                if (message.Header.Type == NetlinkConstants.MessageDone)
                {
                    return count;
                }

                count++;
            }
        }
    }
}

/// <summary>One family's dump as the kernel sent it, kept in memory, so that later stages run without the kernel.</summary>
internal sealed class CapturedDump
{
    private CapturedDump(uint sequence)
    {
        Sequence = sequence;
    }

    public uint Sequence { get; }

    public List<byte[]> Datagrams { get; } = new();

    public static CapturedDump Read(byte family)
    {
        using NetlinkSocket socket = NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag);
        var request = new byte[InetDiag.RequestMessageLength];
        var dump = new CapturedDump(socket.NextSequence());
        InetDiag.WriteDumpRequest(request, family, InetDiag.AllStates, withInfo: false, dump.Sequence);
        socket.Send(request);
        while (true)
        {
            ReadOnlySpan<byte> datagram = socket.Receive();
            dump.Datagrams.Add(datagram.ToArray());
            var reader = new NetlinkMessageReader(datagram);
            while (reader.TryRead(out NetlinkMessage message))
            {
                if (message.Header.Type == NetlinkConstants.MessageDone)
                {
                    return dump;
                }
            }
        }
    }

    /// <summary>The datagrams through the listing's own parser, filter and factory, appended to <paramref name="result"/>.</summary>
    public void Parse(TcpConnectionQuery query, SocketOwnerMap? owners, List<TcpConnection> result)
    {
        var filter = new ConnectionFilter(query);
        var factory = new TcpConnectionFactory(query.IncludeInfo, owners, query.NeedsOwners);
        var state = new DumpState();
        state.Reset(Sequence, 0);
        foreach (byte[] datagram in Datagrams)
        {
            state.Offset = 0;
            while (state.Offset < datagram.Length)
            {
                TcpConnection? connection = DumpParser.Next(datagram, ref state, filter, factory);
                if (connection is not null)
                {
                    result.Add(connection);
                }
            }
        }
    }
}
