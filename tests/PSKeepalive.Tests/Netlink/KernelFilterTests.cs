using System;
using System.Collections.Generic;
using System.Linq;
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
    public void SeveralPorts_AreAnOrOfRanges_WithAJumpOverTheRest()
    {
        byte[] program = InetDiagBytecode.PortFilter([443, 80, 81, 80], null);

        Assert.Equal(
            new byte[]
            {
                2, 8, 20, 0, 0, 0, 80, 0,  /* S_GE 80: yes next, no 20 (the next range) */
                3, 8, 12, 0, 0, 0, 81, 0,  /* S_LE 81: yes next (the JMP), no 8 + 12 = 20 */
                1, 4, 20, 0,               /* JMP: "no" always, 16 + 20 = 36: the end, accept */
                2, 8, 20, 0, 0, 0, 0xbb, 1, /* S_GE 443: no 20 + 20 = 40, past the end: reject */
                3, 8, 12, 0, 0, 0, 0xbb, 1, /* S_LE 443 */
            },
            program);
    }

    [Fact]
    public void PortPrograms_PassTheKernelsAudit_AndKeepExactlyTheirPorts()
    {
        // inet_diag_bc_audit and inet_diag_bc_run (net/ipv4/inet_diag.c) re-enacted for the ops used here, over many
        // port sets: every jump target must lie on the "yes" path, and the program must keep exactly the ports given.
        var random = new Random(1301);
        for (int round = 0; round < 200; round++)
        {
            var source = Enumerable.Range(0, random.Next(1, 12)).Select(_ => random.Next(0, 40)).ToHashSet();
            var destination = round % 3 == 0 ? null : Enumerable.Range(0, random.Next(1, 5)).Select(_ => random.Next(0, 40)).ToHashSet();
            byte[] program = InetDiagBytecode.PortFilter(source, destination);

            Assert.True(Audit(program), $"round {round}: the kernel would refuse the program");
            for (int port = 0; port < 42; port++)
            {
                int other = destination is null ? 7 : destination.First();
                Assert.Equal(source.Contains(port), Run(program, port, other));
                if (destination is not null)
                {
                    Assert.Equal(destination.Contains(port), Run(program, source.First(), port));
                }
            }
        }
    }

    [Fact]
    public void ManyScatteredPorts_SendNoProgram_TheCallerFiltersAlone()
    {
        var everyOther = Enumerable.Range(0, InetDiagBytecode.MaxRangesPerSide + 1).Select(i => 2 * i).ToList();
        var consecutive = Enumerable.Range(1000, 5000).ToList();

        Assert.Empty(InetDiagBytecode.PortFilter(everyOther, null));
        Assert.Equal(16, InetDiagBytecode.PortFilter(consecutive, null).Length); // one range
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

    [Fact]
    public void Kernel_SendsOnlySocketsWithOneOfSeveralPorts()
    {
        using var first = new LoopbackSockets(IPAddress.Loopback);
        using var second = new LoopbackSockets(IPAddress.Loopback);
        using var other = new LoopbackSockets(IPAddress.Loopback);
        first.Connect();
        second.Connect();
        other.Connect();

        List<InetDiagMessage> messages = Dump(InetDiagBytecode.PortFilter([first.ListenerPort, second.ListenerPort], null));

        Assert.All(messages, m => Assert.Contains((int)m.SocketId.SourcePort, new[] { first.ListenerPort, second.ListenerPort }));
        Assert.Contains(messages, m => m.SocketId.SourcePort == first.ListenerPort);
        Assert.Contains(messages, m => m.SocketId.SourcePort == second.ListenerPort);
        Assert.DoesNotContain(messages, m => m.SocketId.SourcePort == other.ListenerPort);
    }

    /// <summary>inet_diag_bc_audit for the codes used here: walks the "yes" path, checks every jump.</summary>
    private static bool Audit(byte[] bytecode)
    {
        int length = bytecode.Length, offset = 0;
        while (length > 0)
        {
            byte code = bytecode[offset];
            int yes = bytecode[offset + 1], no = BitConverter.ToUInt16(bytecode, offset + 2);
            int minimum = code == InetDiagBytecode.Jump ? 4 : 8;
            if (code is not (InetDiagBytecode.Jump or >= 2 and <= 5) || length < minimum)
            {
                return false;
            }

            if (no < minimum || no > length + 4 || (no & 3) != 0 || (no < length && !OnYesPath(bytecode, length - no)))
            {
                return false;
            }

            if (yes < minimum || yes > length + 4 || (yes & 3) != 0)
            {
                return false;
            }

            offset += yes;
            length -= yes;
        }

        return length == 0;
    }

    /// <summary>valid_cc: an op starts where <paramref name="remaining"/> bytes are left, on the "yes" path from the start.</summary>
    private static bool OnYesPath(byte[] bytecode, int remaining)
    {
        int length = bytecode.Length, offset = 0;
        while (length >= 0)
        {
            if (remaining > length)
            {
                return false;
            }

            if (remaining == length)
            {
                return true;
            }

            int yes = bytecode[offset + 1];
            if (yes < 4 || (yes & 3) != 0)
            {
                return false;
            }

            offset += yes;
            length -= yes;
        }

        return false;
    }

    /// <summary>inet_diag_bc_run: true when the socket with these ports is kept.</summary>
    private static bool Run(byte[] bytecode, int sourcePort, int destinationPort)
    {
        int length = bytecode.Length, offset = 0;
        while (length > 0)
        {
            byte code = bytecode[offset];
            int operand = code == InetDiagBytecode.Jump ? 0 : BitConverter.ToUInt16(bytecode, offset + 6);
            bool yes = code switch
            {
                InetDiagBytecode.Jump => false,
                InetDiag.BytecodeSourceGreaterOrEqual => sourcePort >= operand,
                InetDiag.BytecodeSourceLessOrEqual => sourcePort <= operand,
                InetDiag.BytecodeDestinationGreaterOrEqual => destinationPort >= operand,
                InetDiag.BytecodeDestinationLessOrEqual => destinationPort <= operand,
                _ => throw new InvalidOperationException($"code {code}"),
            };
            int jump = yes ? bytecode[offset + 1] : BitConverter.ToUInt16(bytecode, offset + 2);
            offset += jump;
            length -= jump;
        }

        return length == 0;
    }

    private static List<InetDiagMessage> Dump(byte[] program)
    {
        using var socket = NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag);
        uint sequence = socket.NextSequence();
        var request = new byte[InetDiag.DumpRequestLength(program.Length)];
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
