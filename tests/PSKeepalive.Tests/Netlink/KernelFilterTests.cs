using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using PSKeepalive.Core.Netlink;
using PSKeepalive.Tests.Connections;
using Xunit;

namespace PSKeepalive.Tests.Netlink;

/// <summary>The port filter program sent with the dump (INET_DIAG_REQ_BYTECODE): its bytes, and the kernel applying it.</summary>
public sealed class KernelFilterTests
{
    [Fact]
    public void SourcePortProgram_IsGreaterOrEqualThenLessOrEqual_WithRejectPastTheEnd()
    {
        byte[] program = InetDiag.PortFilter(40001, null);

        Assert.Equal(
            new byte[]
            {
                2, 8, 20, 0, /* S_GE: yes 8, no 16 - 0 + 4 */ 0, 0, 0x41, 0x9c, /* port 40001 in "no" */
                3, 8, 12, 0, /* S_LE: yes 8, no 16 - 8 + 4 */ 0, 0, 0x41, 0x9c,
            },
            program);
        Assert.Empty(InetDiag.PortFilter(null, null));
        Assert.Equal(32, InetDiag.PortFilter(1, 2).Length);
    }

    [Fact]
    public void RequestWithProgram_CarriesItAsAnAttribute()
    {
        var request = new byte[InetDiag.MaxDumpRequestLength];
        byte[] program = InetDiag.PortFilter(80, 443);

        int length = InetDiag.WriteDumpRequest(request, InetDiag.AfInet, InetDiag.AllStates, false, 5, program);

        Assert.Equal(InetDiag.RequestMessageLength + 4 + program.Length, length);
        Assert.Equal((uint)length, BitConverter.ToUInt32(request, 0));
        var attributes = new NetlinkAttributeReader(request.AsSpan(InetDiag.RequestMessageLength, length - InetDiag.RequestMessageLength), "request");
        Assert.True(attributes.TryRead(out NetlinkAttribute attribute));
        Assert.Equal(InetDiag.RequestAttributeBytecode, attribute.Type);
        Assert.Equal(program, attribute.Value.ToArray());
        Assert.False(attributes.TryRead(out _));
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Kernel_SendsOnlySocketsWithTheFilteredPorts(bool bySource, bool byDestination)
    {
        using var wanted = new LoopbackSockets(IPAddress.Loopback);
        using var other = new LoopbackSockets(IPAddress.Loopback);
        var (client, _) = wanted.Connect();
        other.Connect();
        int? source = bySource ? LoopbackSockets.PortOf(client) : null;
        int? destination = byDestination ? wanted.ListenerPort : null;

        List<InetDiagMessage> messages = Dump(InetDiag.PortFilter(source, destination));

        Assert.NotEmpty(messages);
        Assert.All(messages, m =>
        {
            if (source is int s)
            {
                Assert.Equal(s, m.SocketId.SourcePort);
            }

            if (destination is int d)
            {
                Assert.Equal(d, m.SocketId.DestinationPort);
            }
        });
        Assert.Contains(messages, m => m.SocketId.SourcePort == LoopbackSockets.PortOf(client) && m.SocketId.DestinationPort == wanted.ListenerPort);
        Assert.DoesNotContain(messages, m => m.SocketId.DestinationPort == other.ListenerPort || m.SocketId.SourcePort == other.ListenerPort);
    }

    private static List<InetDiagMessage> Dump(byte[] program)
    {
        using var socket = NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag);
        uint sequence = socket.NextSequence();
        var request = new byte[InetDiag.MaxDumpRequestLength];
        int length = InetDiag.WriteDumpRequest(request, InetDiag.AfInet, InetDiag.AllStates, false, sequence, program);
        socket.Send(request.AsSpan(0, length));
        var messages = new List<InetDiagMessage>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var reader = new NetlinkMessageReader(socket.Receive());
            while (reader.TryRead(out NetlinkMessage message))
            {
                Assert.NotEqual(NetlinkConstants.MessageError, message.Header.Type);
                if (message.Header.Type == NetlinkConstants.MessageDone)
                {
                    return messages;
                }

                messages.Add(InetDiag.Decode(message.Payload));
            }
        }

        throw new TimeoutException("the dump did not end within 30 s");
    }
}
