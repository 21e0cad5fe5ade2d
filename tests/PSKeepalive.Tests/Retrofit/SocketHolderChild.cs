using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace PSKeepalive.Tests.Retrofit;

/// <summary>
/// A python3 child that holds loopback TCP connections to a listener the test created (no keepalive), a
/// listener of its own and a UDP socket, and reports its own getsockopt values on request. Each connection
/// is watched by a thread that reports when it ends (with the errno), so a test can see keepalive kill it.
/// The test's ends of the connections (the peers) are accepted here and belong to the test.
/// </summary>
public sealed class SocketHolderChild : IDisposable
{
    private const string Script = """
import json, os, socket, sys, threading, time
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lock = threading.Lock()
def say(obj):
    with lock:
        sys.stdout.write(json.dumps(obj) + "\n"); sys.stdout.flush()
family = socket.AF_INET6 if ":" in host else socket.AF_INET
conns = []
for _ in range(count):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.connect((host, port))
    conns.append(s)
listener = socket.socket(family, socket.SOCK_STREAM)
listener.bind((host, 0)); listener.listen(4)
udp = socket.socket(family, socket.SOCK_DGRAM); udp.bind((host, 0))
def describe(s):
    return {"fd": s.fileno(), "inode": os.fstat(s.fileno()).st_ino, "localPort": s.getsockname()[1]}
def options(s):
    g = s.getsockopt
    return dict(describe(s), enabled=g(socket.SOL_SOCKET, socket.SO_KEEPALIVE), idle=g(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                interval=g(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL), count=g(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                userTimeout=g(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))
def watch(s, fd):
    while True:
        try:
            data = s.recv(64)
        except OSError as e:
            say({"type": "closed", "fd": fd, "errno": e.errno, "t": time.monotonic()}); return
        if not data:
            say({"type": "closed", "fd": fd, "errno": 0, "t": time.monotonic()}); return
        say({"type": "data", "fd": fd, "t": time.monotonic()})
say({"type": "ready", "pid": os.getpid(), "connections": [describe(s) for s in conns], "listener": describe(listener), "udp": {"fd": udp.fileno(), "inode": os.fstat(udp.fileno()).st_ino}})
for s in conns:
    threading.Thread(target=watch, args=(s, s.fileno()), daemon=True).start()
for line in sys.stdin:
    words = line.split()
    if not words: continue
    if words[0] == "get":
        live = [s for s in conns + [listener] if s.fileno() >= 0]
        say({"type": "options", "sockets": [options(s) for s in live]})
    elif words[0] == "close":
        fd = int(words[1])
        for s in conns:
            if s.fileno() == fd:
                s.close()
        say({"type": "closedByRequest", "fd": fd})
    elif words[0] == "replace":
        # close fd N and put a new socket on the same number (a reused descriptor)
        fd = int(words[1]); fresh = socket.socket(family, socket.SOCK_STREAM)
        os.dup2(fresh.fileno(), fd); fresh.close()
        say({"type": "replaced", "fd": fd, "inode": os.fstat(fd).st_ino})
""";

    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly BlockingCollection<JsonElement> _replies = new();
    private readonly ConcurrentQueue<JsonElement> _events = new();
    private readonly List<Socket> _peers = new();
    private readonly Socket _listener;

    /// <param name="connections">Connections to hold (to the test's listener).</param>
    /// <param name="host">127.0.0.1 or ::1.</param>
    /// <param name="asNobody">Run the child as user nobody (setpriv, the system python3) instead of as the test's user.</param>
    public SocketHolderChild(int connections = 2, string host = "127.0.0.1", bool asNobody = false)
    {
        var address = IPAddress.Parse(host);
        _listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(address, 0));
        _listener.Listen(connections);
        int port = ((IPEndPoint)_listener.LocalEndPoint!).Port;

        var start = new ProcessStartInfo(asNobody ? "setpriv" : "python3")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] prefix = asNobody ? new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3" } : Array.Empty<string>();
        foreach (string argument in prefix.Concat(new[] { "-u", "-c", Script, host, port.ToString(), connections.ToString() }))
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _replies.CompleteAdding();
                return;
            }

            var element = JsonDocument.Parse(e.Data).RootElement.Clone();
            string type = element.GetProperty("type").GetString()!;
            if (type is "closed" or "data")
            {
                _events.Enqueue(element);
            }
            else
            {
                _replies.Add(element);
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        JsonElement ready = NextReply("ready");
        Pid = ready.GetProperty("pid").GetInt32();
        Connections = ready.GetProperty("connections").EnumerateArray()
            .Select(c => new HeldSocket(c.GetProperty("fd").GetInt32(), c.GetProperty("inode").GetUInt64(), c.GetProperty("localPort").GetInt32()))
            .ToList();
        var l = ready.GetProperty("listener");
        Listener = new HeldSocket(l.GetProperty("fd").GetInt32(), l.GetProperty("inode").GetUInt64(), l.GetProperty("localPort").GetInt32());
        Udp = new HeldSocket(ready.GetProperty("udp").GetProperty("fd").GetInt32(), ready.GetProperty("udp").GetProperty("inode").GetUInt64(), 0);
        ListenerPort = port;

        _listener.ReceiveTimeout = 10_000;
        for (int i = 0; i < connections; i++)
        {
            if (!_listener.Poll(10_000_000, SelectMode.SelectRead))
            {
                throw new TimeoutException("The child's connections were not accepted within 10 s.");
            }

            _peers.Add(_listener.Accept());
        }
    }

    public int Pid { get; }

    /// <summary>The test's listener port (remote port of every held connection).</summary>
    public int ListenerPort { get; }

    public IReadOnlyList<HeldSocket> Connections { get; }

    public HeldSocket Listener { get; }

    public HeldSocket Udp { get; }

    /// <summary>The test's end of the connection held as <paramref name="held"/>.</summary>
    public Socket PeerOf(HeldSocket held) => _peers.Single(p => ((IPEndPoint)p.RemoteEndPoint!).Port == held.LocalPort);

    /// <summary>The child's own getsockopt values, by descriptor.</summary>
    public IReadOnlyDictionary<int, ChildOptions> Options()
    {
        Send("get");
        return NextReply("options").GetProperty("sockets").EnumerateArray().ToDictionary(
            s => s.GetProperty("fd").GetInt32(),
            s => new ChildOptions(
                s.GetProperty("enabled").GetInt32() != 0,
                s.GetProperty("idle").GetInt32(),
                s.GetProperty("interval").GetInt32(),
                s.GetProperty("count").GetInt32(),
                s.GetProperty("userTimeout").GetInt32()));
    }

    public void Close(int fd)
    {
        Send($"close {fd}");
        NextReply("closedByRequest");
    }

    /// <summary>Closes descriptor <paramref name="fd"/> and puts a fresh socket on the same number; returns its inode.</summary>
    public ulong Replace(int fd)
    {
        Send($"replace {fd}");
        return NextReply("replaced").GetProperty("inode").GetUInt64();
    }

    /// <summary>Waits for the child to see connection <paramref name="fd"/> end; (errno, child's monotonic time) or null on timeout.</summary>
    public (int Errno, double Time)? WaitClosed(int fd, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            foreach (JsonElement e in _events)
            {
                if (e.GetProperty("type").GetString() == "closed" && e.GetProperty("fd").GetInt32() == fd)
                {
                    return (e.GetProperty("errno").GetInt32(), e.GetProperty("t").GetDouble());
                }
            }

            System.Threading.Thread.Sleep(20);
        }

        return null;
    }

    /// <summary>Waits until the child reports data on <paramref name="fd"/>; its monotonic time.</summary>
    public double WaitData(int fd, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            foreach (JsonElement e in _events)
            {
                if (e.GetProperty("type").GetString() == "data" && e.GetProperty("fd").GetInt32() == fd)
                {
                    return e.GetProperty("t").GetDouble();
                }
            }

            System.Threading.Thread.Sleep(10);
        }

        throw new TimeoutException($"The child saw no data on fd {fd} within {timeout.TotalSeconds} s.");
    }

    public bool HasClosed(int fd) => _events.Any(e => e.GetProperty("type").GetString() == "closed" && e.GetProperty("fd").GetInt32() == fd);

    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        foreach (Socket peer in _peers)
        {
            peer.Dispose();
        }

        _listener.Dispose();
    }

    private void Send(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    private JsonElement NextReply(string type)
    {
        if (!_replies.TryTake(out JsonElement reply, ReplyTimeout))
        {
            throw new TimeoutException($"The child sent no '{type}' within {ReplyTimeout.TotalSeconds} s.");
        }

        string actual = reply.GetProperty("type").GetString()!;
        return actual == type ? reply : throw new InvalidOperationException($"Expected '{type}' from the child, got '{actual}'.");
    }
}

public sealed record HeldSocket(int Fd, ulong Inode, int LocalPort);

public sealed record ChildOptions(bool Enabled, int Idle, int Interval, int Count, int UserTimeout);
