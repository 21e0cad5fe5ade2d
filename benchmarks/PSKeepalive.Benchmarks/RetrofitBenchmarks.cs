using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Microsoft.Win32.SafeHandles;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Benchmarks;

/// <summary>
/// The per-socket cost of reaching a socket through pidfd_getfd (what Enable-TcpKeepalive and
/// -IncludeSocketOption do for every socket of another program), on 500 loopback pairs this process creates
/// and owns (its own pid stands in for the target). Baseline: getsockopt on the socket directly, no copy.
/// dotnet run -c Release -- --filter '*Retrofit*'
/// </summary>
[MemoryDiagnoser]
public class RetrofitBenchmarks
{
    private const int Pairs = 500;
    private readonly List<Socket> _sockets = new();
    private readonly List<(int Fd, ulong Inode)> _clients = new();
    private SafeFileHandle? _pidfd;
    private int _pid;
    private bool _enabled;

    [GlobalSetup]
    public void Setup()
    {
        _pid = Environment.ProcessId;
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(Pairs);
        for (int i = 0; i < Pairs; i++)
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            _sockets.Add(client);
            _sockets.Add(listener.Accept());
            int fd = (int)client.SafeHandle.DangerousGetHandle();
            PSKeepalive.Core.Processes.SocketOwnerScan.TryParseSocketInode(System.Text.Encoding.ASCII.GetBytes(new FileInfo($"/proc/self/fd/{fd}").LinkTarget!), out ulong inode);
            _clients.Add((fd, inode));
        }

        _pidfd = Pidfd.Open(_pid);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pidfd?.Dispose();
        foreach (Socket socket in _sockets)
        {
            socket.Dispose();
        }
    }

    /// <summary>getsockopt x 8 on the socket itself: the floor.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Pairs)]
    public int Get_Direct()
    {
        int on = 0;
        foreach (var (fd, _) in _clients)
        {
            on += SocketKeepalive.Get(fd).Enabled ? 1 : 0;
        }

        return on;
    }

    /// <summary>pidfd_getfd + fstat inode check + the same reads + close: what -IncludeSocketOption pays per socket.</summary>
    [Benchmark(OperationsPerInvoke = Pairs)]
    public int Get_ThroughCopy()
    {
        int on = 0;
        foreach (var (fd, inode) in _clients)
        {
            using RemoteSocket copy = RemoteSocket.Open(_pidfd!, _pid, fd, inode);
            on += SocketKeepalive.Get(copy.Handle).Enabled ? 1 : 0;
        }

        return on;
    }

    /// <summary>Listing /proc/self/fd (readlink of every descriptor), per socket found.</summary>
    [Benchmark(OperationsPerInvoke = 2 * Pairs)]
    public int ListDescriptors() => ProcessSockets.List(_pid).Count;

    /// <summary>
    /// Enable-TcpKeepalive -ProcessId on every socket of this process (1,000 connected sockets): listing
    /// /proc/self/fd, copy, check, addresses, state, read, write, read back, close; SO_KEEPALIVE toggles each call.
    /// </summary>
    [Benchmark(OperationsPerInvoke = 2 * Pairs)]
    public int ApplyToProcess_Toggle()
    {
        _enabled = !_enabled;
        return TcpKeepaliveRetrofit.ApplyToProcess(_pid, new SocketKeepaliveChange(Enabled: _enabled)).Count();
    }
}
