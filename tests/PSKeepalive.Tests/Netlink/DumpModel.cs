using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using FsCheck;
using FsCheck.Fluent;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Netlink;

namespace PSKeepalive.Tests.Netlink;

/// <summary>One socket of a modelled sock_diag dump: every field of inet_diag_msg the decoder reads.</summary>
public sealed record SocketModel(
    byte Family,
    byte State,
    byte Timer,
    byte Retrans,
    ushort LocalPort,
    ushort RemotePort,
    byte[] Local,
    byte[] Remote,
    uint Interface,
    ulong Cookie,
    uint Expires,
    uint ReceiveQueue,
    uint SendQueue,
    uint Uid,
    uint Inode,
    byte[]? TcpInfo,
    IReadOnlyList<(ushort Type, byte[] Value)> OtherAttributes)
{
    public override string ToString() =>
        $"family {Family} state {State} timer {Timer} {Convert.ToHexString(Local)}:{LocalPort} -> {Convert.ToHexString(Remote)}:{RemotePort} info {TcpInfo?.Length.ToString() ?? "none"} attrs {OtherAttributes.Count}";
}

public enum DumpEndingKind
{
    /// <summary>The datagram stops after the sockets (more datagrams follow).</summary>
    None,

    /// <summary>NLMSG_DONE with an int payload: 0, or -errno when the dump failed midway.</summary>
    Done,

    /// <summary>NLMSG_ERROR with -errno.</summary>
    Error,
}

public sealed record DumpEnding(DumpEndingKind Kind, int Errno, string? Text)
{
    public static readonly DumpEnding None = new(DumpEndingKind.None, 0, null);
}

/// <summary>A modelled dump datagram, its encoding as the kernel writes it, and the check of the decoder against it.</summary>
public sealed record DumpModel(List<SocketModel> Sockets, DumpEnding Ending, bool Interrupted)
{
    private static readonly TcpConnectionQuery All = new() { IncludeInfo = true };

    public override string ToString() => $"{Sockets.Count} sockets [{string.Join("; ", Sockets)}], ending {Ending}, interrupted {Interrupted}";

    private static Gen<uint> UInt32 => ArbMap.Default.GeneratorFor<uint>();

    private static Gen<byte[]> Bytes(int min, int max) =>
        from length in Gen.Choose(min, max)
        from bytes in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), length)
        select bytes;

    public static Gen<SocketModel> SocketGenerator =>
        from family in Gen.Elements(InetDiag.AfInet, InetDiag.AfInet6)
        from state in Gen.Choose(1, 12)
        from timer in Gen.Choose(0, 4)
        from retrans in Gen.Choose(0, 255)
        from ports in Gen.Zip(Gen.Choose(0, 65535), Gen.Choose(0, 65535))
        from local in Bytes(16, 16)
        from remote in Bytes(16, 16)
        from numbers in Gen.ArrayOf(UInt32, 8)
        from info in Gen.OrNull(Bytes(3, 240))
        from others in Gen.ListOf(Gen.Zip(Gen.Choose(3, 30).Select(t => (ushort)t), Bytes(0, 40)))
        select new SocketModel(
            family, (byte)state, (byte)timer, (byte)retrans, (ushort)ports.Item1, (ushort)ports.Item2,
            family == InetDiag.AfInet ? [.. local[..4], .. new byte[12]] : local,
            family == InetDiag.AfInet ? [.. remote[..4], .. new byte[12]] : remote,
            numbers[0], ((ulong)numbers[1] << 32) | numbers[2], numbers[3], numbers[4], numbers[5], numbers[6], numbers[7],
            info, others.Select(o => (o.Item1, o.Item2)).ToList());

    public static Gen<DumpEnding> EndingGenerator => Gen.OneOf(
        Gen.Constant(DumpEnding.None),
        Gen.Constant(new DumpEnding(DumpEndingKind.Done, 0, null)),
        from errno in Gen.Choose(1, 133)
        from text in Gen.Elements<string?>(null, "dump interrupted", "bad filter")
        select new DumpEnding(DumpEndingKind.Done, errno, text),
        from errno in Gen.Choose(1, 133)
        select new DumpEnding(DumpEndingKind.Error, errno, null));

    public static Gen<DumpModel> Generator =>
        from sockets in Gen.ListOf(SocketGenerator)
        from ending in EndingGenerator
        from interrupted in Gen.Elements(false, true)
        select new DumpModel(sockets.Take(12).ToList(), ending, interrupted);

    /// <summary>The datagram: one SOCK_DIAG_BY_FAMILY message per socket, then the ending.</summary>
    public byte[] Encode()
    {
        var datagram = new List<byte>();
        ushort flags = (ushort)(NetlinkConstants.FlagMulti | (Interrupted ? NetlinkConstants.FlagDumpInterrupted : 0));
        foreach (SocketModel socket in Sockets)
        {
            var payload = new List<byte>(EncodeMessage(socket));
            if (socket.TcpInfo is not null)
            {
                payload.AddRange(DecoderTests.Attribute(InetDiag.AttributeInfo, socket.TcpInfo));
            }

            foreach (var (type, value) in socket.OtherAttributes)
            {
                payload.AddRange(DecoderTests.Attribute(type, value));
            }

            Append(datagram, InetDiag.SockDiagByFamily, flags, payload);
        }

        switch (Ending.Kind)
        {
            case DumpEndingKind.Done:
                var done = new List<byte>(BitConverter.GetBytes(-Ending.Errno));
                if (Ending.Text is not null)
                {
                    done.AddRange(DecoderTests.Attribute(NetlinkConstants.ErrorAttributeMessage, [.. System.Text.Encoding.UTF8.GetBytes(Ending.Text), 0]));
                }

                Append(datagram, NetlinkConstants.MessageDone, (ushort)(flags | (Ending.Text is null ? 0 : NetlinkConstants.FlagAckTlvs)), done);
                break;
            case DumpEndingKind.Error:
                var error = new List<byte>(BitConverter.GetBytes(-Ending.Errno));
                var echoed = new byte[16];
                new NetlinkHeader(InetDiag.RequestMessageLength, InetDiag.SockDiagByFamily, NetlinkConstants.FlagRequest, Fixtures.Sequence, 0).Write(echoed);
                error.AddRange(echoed);
                Append(datagram, NetlinkConstants.MessageError, NetlinkConstants.FlagCapped, error);
                break;
        }

        return datagram.ToArray();
    }

    /// <summary>Decodes the encoding and compares with the model; throws (failing the property) on any difference.</summary>
    public bool DecodesAsModelled()
    {
        byte[] bytes = Encode();
        if (Ending.Errno != 0)
        {
            try
            {
                DumpParser.ParseDatagram(bytes, Fixtures.Sequence, All, out _, out _);
            }
            catch (KeepaliveException e) when (e is not KeepaliveDataException)
            {
                return e.Errno == Ending.Errno && e.Subject == NetlinkSocket.Subject && (Ending.Text is null || e.Message.Contains(Ending.Text, StringComparison.Ordinal));
            }

            return false; // an errno ending must never decode as a clean one
        }

        var connections = DumpParser.ParseDatagram(bytes, Fixtures.Sequence, All, out bool done, out bool interrupted);
        bool flagged = Interrupted && (Sockets.Count > 0 || Ending.Kind != DumpEndingKind.None); // a flag needs a message to ride on
        if (done != (Ending.Kind == DumpEndingKind.Done) || interrupted != flagged || connections.Count != Sockets.Count)
        {
            return false;
        }

        return Sockets.Zip(connections).All(pair => Matches(pair.First, pair.Second));
    }

    private static bool Matches(SocketModel m, TcpConnection c)
    {
        TcpTimer timer = (TcpTimer)m.Timer;
        return c.AddressFamily == (m.Family == InetDiag.AfInet ? "IPv4" : "IPv6")
            && c.LocalAddress == Address(m.Family, m.Local)
            && c.RemoteAddress == Address(m.Family, m.Remote)
            && c.LocalPort == m.LocalPort
            && c.RemotePort == m.RemotePort
            && c.State == (m.State == 12 ? TcpState.SynReceived : (TcpState)m.State)
            && c.Timer == timer
            && c.TimerExpires == (timer == TcpTimer.None ? null : TimeSpan.FromMilliseconds(m.Expires))
            && c.ProbesSent == (timer is TcpTimer.Keepalive or TcpTimer.ZeroWindowProbe ? m.Retrans : 0)
            && c.InterfaceIndex == (int)m.Interface
            && c.Cookie == m.Cookie
            && c.ReceiveQueue == m.ReceiveQueue
            && c.SendQueue == m.SendQueue
            && c.Uid == m.Uid
            && c.Inode == m.Inode
            && c.Rtt == (InfoField(m, 68) is uint rtt ? TimeSpan.FromTicks(rtt * 10L) : null)
            && c.UnackedSegments == InfoField(m, 24)
            && c.LastDataSent == (InfoField(m, 44) is uint sent ? TimeSpan.FromMilliseconds(sent) : null)
            && c.LastDataReceived == (InfoField(m, 52) is uint received ? TimeSpan.FromMilliseconds(received) : null)
            && c.Retransmits == InfoField(m, 100);
    }

    /// <summary>
    /// A __u32 of the modelled tcp_info at its offset in linux/tcp.h (tcpi_unacked 24, tcpi_last_data_sent 44,
    /// tcpi_last_data_recv 52, tcpi_rtt 68, tcpi_total_retrans 100), read here rather than by the decoder's code;
    /// null when the kernel's struct is shorter (an older kernel) or absent.
    /// </summary>
    private static uint? InfoField(SocketModel m, int offset) =>
        m.TcpInfo is { } info && info.Length >= offset + 4 ? BinaryPrimitives.ReadUInt32LittleEndian(info.AsSpan(offset)) : null;

    private static string Address(byte family, byte[] bytes) =>
        new IPAddress(family == InetDiag.AfInet ? bytes[..4] : bytes).ToString();

    private static byte[] EncodeMessage(SocketModel m)
    {
        var message = new byte[InetDiag.MessageLength];
        message[InetDiag.MessageFamily] = m.Family;
        message[InetDiag.MessageState] = m.State;
        message[InetDiag.MessageTimer] = m.Timer;
        message[InetDiag.MessageRetrans] = m.Retrans;
        var id = new InetDiagSocketId { SourcePort = m.LocalPort, DestinationPort = m.RemotePort, Interface = m.Interface, Cookie = m.Cookie };
        m.Local.CopyTo(id.Source);
        m.Remote.CopyTo(id.Destination);
        id.Write(message.AsSpan(InetDiag.MessageSocketId, InetDiag.SocketIdLength));
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(InetDiag.MessageExpires), m.Expires);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(InetDiag.MessageReceiveQueue), m.ReceiveQueue);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(InetDiag.MessageSendQueue), m.SendQueue);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(InetDiag.MessageUid), m.Uid);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(InetDiag.MessageInode), m.Inode);
        return message;
    }

    private static void Append(List<byte> datagram, ushort type, ushort flags, List<byte> payload)
    {
        var header = new byte[NetlinkConstants.HeaderLength];
        new NetlinkHeader((uint)(NetlinkConstants.HeaderLength + payload.Count), type, flags, Fixtures.Sequence, 0).Write(header);
        datagram.AddRange(header);
        datagram.AddRange(payload);
        while (datagram.Count % 4 != 0)
        {
            datagram.Add(0);
        }
    }
}

/// <summary>Compares decoded connections by every value (records with lists compare lists by reference).</summary>
public sealed class ConnectionComparer : IEqualityComparer<TcpConnection>
{
    public static readonly ConnectionComparer Instance = new();

    public bool Equals(TcpConnection? x, TcpConnection? y) =>
        x is not null && y is not null && x with { Processes = [] } == y with { Processes = [] };

    public int GetHashCode(TcpConnection obj) => obj.Cookie.GetHashCode();
}
