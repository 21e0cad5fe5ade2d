using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace PSKeepalive.Tests.Connections;

/// <summary>
/// Loopback sockets a test creates and owns: a listener and connected pairs (client, accepted side), with or
/// without SO_KEEPALIVE, and a way to make one end deaf. Everything closes with the object.
/// </summary>
public sealed class LoopbackSockets : IDisposable
{
    private readonly List<Socket> _sockets = new();

    public LoopbackSockets(IPAddress address)
    {
        Address = address;
        Listener = Track(new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        Listener.Bind(new IPEndPoint(address, 0));
        Listener.Listen(64);
    }

    public IPAddress Address { get; }

    public Socket Listener { get; }

    public int ListenerPort => ((IPEndPoint)Listener.LocalEndPoint!).Port;

    /// <summary>Connects a client to the listener and accepts it; keepalive (with this idle time) on the client when asked.</summary>
    public (Socket Client, Socket Server) Connect(int? keepaliveIdleSeconds = null)
    {
        var client = Track(new Socket(Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        if (keepaliveIdleSeconds is int idle)
        {
            client.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            client.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, idle);
        }

        client.Connect(new IPEndPoint(Address, ListenerPort));
        if (!Listener.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead))
        {
            throw new TimeoutException("accept did not become ready within 10 s.");
        }

        Socket server = Track(Listener.Accept());
        return (client, server);
    }

    /// <summary>Exactly one connected socket of this set, by its full loopback 4-tuple (other sockets on the host never match).</summary>
    public PSKeepalive.Core.Connections.TcpConnectionQuery QueryFor(Socket connected) => new()
    {
        LocalAddresses = [Address.ToString()],
        LocalPorts = [PortOf(connected)],
        RemoteAddresses = [Address.ToString()],
        RemotePorts = [((IPEndPoint)connected.RemoteEndPoint!).Port],
    };

    public static int PortOf(Socket socket) => ((IPEndPoint)socket.LocalEndPoint!).Port;

    /// <summary>Attaches a classic BPF program that drops every packet: the socket stops receiving and ACKing.</summary>
    public static unsafe void MakeDeaf(Socket socket)
    {
        const int SOL_SOCKET = 1, SO_ATTACH_FILTER = 26;
        ulong* filter = stackalloc ulong[1];
        *filter = 0x06; // struct sock_filter { u16 code = BPF_RET|BPF_K; u8 jt = 0; u8 jf = 0; u32 k = 0 }: drop
        byte* program = stackalloc byte[16]; // struct sock_fprog { u16 len; sock_filter *filter; }
        new Span<byte>(program, 16).Clear();
        *(ushort*)program = 1;
        *(ulong**)(program + 8) = filter;
        socket.SetRawSocketOption(SOL_SOCKET, SO_ATTACH_FILTER, new ReadOnlySpan<byte>(program, 16));
    }

    public void Dispose()
    {
        foreach (Socket socket in _sockets)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0); // RST: no TIME_WAIT left behind
            }
            catch (SocketException)
            {
            }

            socket.Dispose();
        }
    }

    private Socket Track(Socket socket)
    {
        _sockets.Add(socket);
        return socket;
    }
}
