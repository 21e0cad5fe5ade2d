using System;
using System.Net;
using System.Net.Sockets;

namespace PSKeepalive.Tests.Sockets;

/// <summary>A connected loopback TCP pair made by this test (client, accepted server side); the listener is closed.</summary>
internal sealed class LoopbackPair : IDisposable
{
    private LoopbackPair(Socket client, Socket server)
    {
        Client = client;
        Server = server;
    }

    public Socket Client { get; }

    public Socket Server { get; }

    public static LoopbackPair Open(IPAddress address, Action<Socket>? configureListener = null)
    {
        using var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(address, 0));
        listener.Listen(1);
        configureListener?.Invoke(listener);
        var client = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            client.Connect(listener.LocalEndPoint!);
            if (!listener.Poll(TimeSpan.FromSeconds(5), SelectMode.SelectRead))
            {
                throw new TimeoutException("accept did not become ready within 5 s");
            }

            return new LoopbackPair(client, listener.Accept());
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }
}
