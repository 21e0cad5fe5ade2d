using System;
using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace PSKeepalive.Tests.Support;

/// <summary>
/// A throw-away network namespace held by one dedicated thread (unshare(CLONE_NEWNET) moves only that
/// thread), with loopback up. Its sysctls are private, so tests may write them; the host's are never
/// touched. <see cref="Path"/> names it for code under test and for the CLI's --netns, as long as the
/// object is alive.
/// </summary>
public sealed class PrivateNetworkNamespace : IDisposable
{
    private static readonly TimeSpan WorkTimeout = TimeSpan.FromSeconds(60);

    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _ready = new();
    private Exception? _startFailure;
    private int _tid;

    public PrivateNetworkNamespace()
    {
        _thread = new Thread(Serve) { IsBackground = true, Name = "test-private-netns" };
        _thread.Start();
        if (!_ready.Wait(TimeSpan.FromSeconds(10)))
        {
            throw new TimeoutException("The namespace thread did not start within 10 s.");
        }

        if (_startFailure is not null)
        {
            ExceptionDispatchInfo.Capture(_startFailure).Throw();
        }
    }

    /// <summary>/proc/PID/task/TID/ns/net of the holding thread.</summary>
    public string Path => $"/proc/{Environment.ProcessId}/task/{_tid}/ns/net";

    /// <summary>Runs <paramref name="action"/> on the thread inside the namespace (bounded wait).</summary>
    public T Run<T>(Func<T> action)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        using var done = new ManualResetEventSlim();
        _work.Add(() =>
        {
            try
            {
                result = action();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                done.Set();
            }
        });
        if (!done.Wait(WorkTimeout))
        {
            throw new TimeoutException($"Work in the private namespace did not finish within {WorkTimeout.TotalSeconds} s.");
        }

        failure?.Throw();
        return result;
    }

    public void Run(Action action) => Run(() =>
    {
        action();
        return 0;
    });

    /// <summary>Reads a sysctl of this namespace, e.g. "net/ipv4/tcp_keepalive_time".</summary>
    public string ReadSysctl(string relativePath) => Run(() => System.IO.File.ReadAllText("/proc/sys/" + relativePath).Trim());

    public void WriteSysctl(string relativePath, string value) => Run(() => System.IO.File.WriteAllText("/proc/sys/" + relativePath, value + "\n"));

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(10));
        _ready.Dispose();
    }

    private void Serve()
    {
        try
        {
            if (TestLibc.Unshare(TestLibc.CLONE_NEWNET) != 0)
            {
                throw new InvalidOperationException($"unshare(CLONE_NEWNET) failed: errno {Marshal.GetLastPInvokeError()} (needs root).");
            }

            _tid = TestLibc.GetTid();
            BringLoopbackUp();
        }
        catch (Exception e)
        {
            _startFailure = e;
            _ready.Set();
            return;
        }

        _ready.Set();
        foreach (Action work in _work.GetConsumingEnumerable())
        {
            work();
        }
    }

    /// <summary>A new namespace's lo is down; SIOCSIFFLAGS with IFF_UP brings it up so that 127.0.0.1 and ::1 work.</summary>
    private static unsafe void BringLoopbackUp()
    {
        const int AF_INET = 2, SOCK_DGRAM = 2;
        const nuint SIOCGIFFLAGS = 0x8913, SIOCSIFFLAGS = 0x8914;
        const short IFF_UP = 0x1;
        int fd = TestLibc.Socket(AF_INET, SOCK_DGRAM, 0);
        if (fd < 0)
        {
            throw new InvalidOperationException($"socket failed: errno {Marshal.GetLastPInvokeError()}");
        }

        try
        {
            byte* ifreq = stackalloc byte[40]; // struct ifreq: char ifr_name[16]; union { short ifr_flags; ... }
            new Span<byte>(ifreq, 40).Clear();
            ifreq[0] = (byte)'l';
            ifreq[1] = (byte)'o';
            if (TestLibc.Ioctl(fd, SIOCGIFFLAGS, ifreq) != 0)
            {
                throw new InvalidOperationException($"SIOCGIFFLAGS lo failed: errno {Marshal.GetLastPInvokeError()}");
            }

            *(short*)(ifreq + 16) |= IFF_UP;
            if (TestLibc.Ioctl(fd, SIOCSIFFLAGS, ifreq) != 0)
            {
                throw new InvalidOperationException($"SIOCSIFFLAGS lo failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
        finally
        {
            TestLibc.Close(fd);
        }
    }
}
