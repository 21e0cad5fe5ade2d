using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Processes;

/// <summary>
/// The owner scan's /proc walk: every listed process's /proc/PID/fd, read with getdents64 and one readlinkat per
/// descriptor into reused buffers. The work is kernel time, so it runs on up to as many threads as there are
/// processors (at most <see cref="SocketOwnerScan.MaxWorkers"/>), each taking whole processes from a shared
/// counter. One process may hold nearly every socket (a proxy, a database): a process with more than
/// <see cref="SplitAbove"/> descriptors (its fd directory's size, Linux 6.2+) is cut into ranges of descriptor
/// numbers (getdents64 resumes at a descriptor: the directory offset is fd + 2) that the other threads read
/// too, started on demand when the scan began on fewer threads. With one processor nothing is split.
/// </summary>
internal static unsafe class ProcFdWalk
{
    /// <summary>Descriptors above which a process is read by several threads.</summary>
    public const int SplitAbove = 2048;

    /// <summary>Descriptors per range at least.</summary>
    private const int MinimumRange = 1024;

    private const int DirectoryBufferSize = 32 * 1024;

    /// <summary>Ranges handed to other threads since start (tests check that big processes are split).</summary>
    internal static int RangesQueued;
    private static readonly long ProgressInterval = System.Diagnostics.Stopwatch.Frequency / 4;

    /// <summary>What the threads found, and how many processes they read, were refused or saw end.</summary>
    public sealed record Result(OwnerRecords[] Owners, int Scanned, int Denied, int Vanished, int Descriptors, IReadOnlyList<int> DeniedPids);

    /// <summary>Walks <paramref name="pids"/> under <paramref name="root"/> on up to <paramref name="maxWorkers"/> threads; the calling thread is one and reports progress.</summary>
    public static Result Run(List<int> pids, byte[] root, int maxWorkers, Action<SocketOwnerScanProgress>? progress, long started)
    {
        maxWorkers = Math.Max(1, maxWorkers);
        var shared = new Shared(pids, root, maxWorkers, started);
        int initial = Math.Clamp(maxWorkers, 1, Math.Max(1, pids.Count / 4)); // a few processes: no threads unless one is big
        for (int i = 1; i < initial; i++)
        {
            shared.StartHelper();
        }

        WorkerResult mine = Work(shared, progress);
        shared.JoinHelpers();
        var results = new List<WorkerResult>(shared.HelperResults) { mine };
        var owners = new OwnerRecords[results.Count];
        int scanned = 0, denied = 0, vanished = 0, descriptors = 0;
        var deniedPids = new List<int>();
        for (int i = 0; i < results.Count; i++)
        {
            owners[i] = results[i].Owners;
            scanned += results[i].Scanned;
            denied += results[i].Denied;
            vanished += results[i].Vanished;
            descriptors += results[i].Descriptors;
            deniedPids.AddRange(results[i].DeniedPids);
        }

        deniedPids.Sort();
        return new Result(owners, scanned, denied, vanished, descriptors, deniedPids.GetRange(0, Math.Min(deniedPids.Count, SocketOwnerScan.DeniedPidsKept)));
    }

    /// <summary>Of the processes probed: how many this caller may read, which refused (the lowest named) and how many ended; their owners are left out.</summary>
    public sealed record Access(int Readable, int Denied, IReadOnlyList<int> DeniedPids, int Vanished, IReadOnlySet<int> LeftOut);

    /// <summary>
    /// Opens the fd directory of every process in <paramref name="pids"/> and of every other process holding one
    /// of <paramref name="found"/>, as the walk would (no entry read): what this caller may read there, which is
    /// what the kernel iterator's owners are held to.
    /// </summary>
    public static Access Probe(List<int> pids, OwnerRecords found, byte[] root)
    {
        var all = new HashSet<int>(pids);
        foreach (ReadOnlyMemory<SocketOwnerScan.RawOwner> chunk in found.Chunks())
        {
            foreach (SocketOwnerScan.RawOwner owner in chunk.Span)
            {
                all.Add(owner.Pid);
            }
        }

        var denied = new List<int>();
        var leftOut = new HashSet<int>();
        int readable = 0, vanished = 0;
        byte* path = stackalloc byte[256];
        byte* dents = stackalloc byte[1024];
        byte* link = stackalloc byte[ProcFdSockets.LinkBufferSize];
        foreach (int pid in all)
        {
            WriteFdPath(path, 256, root, pid);
            switch (FirstLinkErrno(path, dents, 1024, link))
            {
                case 0:
                    readable++;
                    break;
                case Errno.EACCES or Errno.EPERM:
                    denied.Add(pid);
                    leftOut.Add(pid);
                    break;
                default:
                    vanished++;
                    leftOut.Add(pid);
                    break;
            }
        }

        denied.Sort();
        return new Access(readable, denied.Count, denied.GetRange(0, Math.Min(denied.Count, SocketOwnerScan.DeniedPidsKept)), vanished, leftOut);
    }

    /// <summary>
    /// What the walk would meet first in an fd directory: the errno of opening it, listing it, or reading its first
    /// link (the ptrace check refuses the links even where the directory lists, as PID 1 of some hosts does to
    /// root); 0 when readable, also with no descriptor at all.
    /// </summary>
    private static int FirstLinkErrno(byte* path, byte* dents, int dentsSize, byte* link)
    {
        int directory = Libc.OpenAt(Libc.AT_FDCWD, path, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (directory < 0)
        {
            return Libc.LastErrno;
        }

        try
        {
            var entries = new DirectoryEntries(directory, dents, dentsSize);
            while (entries.MoveNext())
            {
                if (entries.Name[0] != (byte)'.')
                {
                    return Libc.ReadLinkAt(directory, entries.Name, link, ProcFdSockets.LinkBufferSize) >= 0 ? 0 : Libc.LastErrno is int errno && errno == Errno.ENOENT ? 0 : Libc.LastErrno;
                }
            }

            return entries.Errno;
        }
        finally
        {
            Libc.Close(directory);
        }
    }

    /// <summary>A range of one process's descriptors for another thread: [First, End).</summary>
    private readonly record struct Range(int Pid, int First, int End);

    private sealed class Shared
    {
        public readonly List<int> Pids;
        public readonly byte[] Root;
        public readonly int MaxWorkers;
        public readonly long Started;
        public readonly ConcurrentQueue<Range> Ranges = new();
        public readonly ConcurrentBag<WorkerResult> HelperResults = new();
        public int NextIndex;

        /// <summary>Processes claimed and not yet past the decision to split: while any is, idle threads wait for ranges.</summary>
        public int Opening;

        private readonly List<Thread> _helpers = new();
        private int _workers = 1;

        public Shared(List<int> pids, byte[] root, int maxWorkers, long started)
        {
            Pids = pids;
            Root = root;
            MaxWorkers = maxWorkers;
            Started = started;
        }

        public int Workers => Volatile.Read(ref _workers);

        /// <summary>Starts one more thread, if fewer than the maximum run.</summary>
        public void StartHelper()
        {
            lock (_helpers)
            {
                if (_workers >= MaxWorkers)
                {
                    return;
                }

                _workers++;
                var thread = new Thread(() => HelperResults.Add(Work(this, null))) { IsBackground = true, Name = "pskeepalive-fd-scan" };
                _helpers.Add(thread);
                thread.Start();
            }
        }

        public void JoinHelpers()
        {
            while (true)
            {
                Thread[] started;
                lock (_helpers)
                {
                    started = _helpers.ToArray();
                }

                foreach (Thread thread in started)
                {
                    thread.Join();
                }

                lock (_helpers)
                {
                    if (_helpers.Count == started.Length)
                    {
                        return;
                    }
                }
            }
        }
    }

    private sealed class WorkerResult
    {
        public readonly OwnerRecords Owners = new();
        public readonly List<int> DeniedPids = new();
        public int Scanned;
        public int Denied;
        public int Vanished;
        public int Descriptors;
    }

    /// <summary>Takes ranges of big processes first, then processes, until none is left; one reused buffer per thread.</summary>
    private static WorkerResult Work(Shared shared, Action<SocketOwnerScanProgress>? progress)
    {
        var result = new WorkerResult();
        byte[] directoryBuffer = GC.AllocateUninitializedArray<byte>(DirectoryBufferSize, pinned: true);
        byte* path = stackalloc byte[256];
        byte* link = stackalloc byte[ProcFdSockets.LinkBufferSize];
        long lastProgress = shared.Started;
        int count = shared.Pids.Count;
        var wait = new SpinWait();
        fixed (byte* dents = directoryBuffer)
        {
            while (true)
            {
                if (shared.Ranges.TryDequeue(out Range range))
                {
                    ScanRange(shared, range, path, link, dents, result);
                    continue;
                }

                if (Volatile.Read(ref shared.NextIndex) >= count)
                {
                    if (Volatile.Read(ref shared.Opening) == 0 && shared.Ranges.IsEmpty)
                    {
                        break;
                    }

                    wait.SpinOnce(); // another thread is opening a process that it may split
                    continue;
                }

                Interlocked.Increment(ref shared.Opening);
                int i = Interlocked.Increment(ref shared.NextIndex) - 1;
                if (i >= count)
                {
                    Interlocked.Decrement(ref shared.Opening);
                    continue;
                }

                if (progress is not null)
                {
                    long now = System.Diagnostics.Stopwatch.GetTimestamp();
                    if (now - lastProgress >= ProgressInterval)
                    {
                        lastProgress = now;
                        progress(new SocketOwnerScanProgress(Math.Min(i, count), count, System.Diagnostics.Stopwatch.GetElapsedTime(shared.Started, now)));
                    }
                }

                ScanProcess(shared, shared.Pids[i], path, link, dents, result);
            }
        }

        return result;
    }

    /// <summary>Reads one process; a big one is split first (its other ranges queued for the other threads). Decrements Opening once decided.</summary>
    private static void ScanProcess(Shared shared, int pid, byte* path, byte* link, byte* dents, WorkerResult result)
    {
        WriteFdPath(path, 256, shared.Root, pid);
        var sockets = new ProcFdSockets(path, dents, DirectoryBufferSize, link);
        bool decided = false;
        try
        {
            if (shared.MaxWorkers > 1 && sockets.CountDescriptors() is long descriptors && descriptors > SplitAbove)
            {
                int parts = (int)Math.Min(shared.MaxWorkers, descriptors / MinimumRange);
                for (int part = parts - 1; part >= 1; part--)
                {
                    int first = (int)(descriptors * part / parts);
                    int end = part == parts - 1 ? int.MaxValue : (int)(descriptors * (part + 1) / parts);
                    shared.Ranges.Enqueue(new Range(pid, first, end));
                    Interlocked.Increment(ref RangesQueued);
                }

                sockets.EndFd = (int)(descriptors / parts);
                for (int helper = shared.Workers; helper < parts; helper++)
                {
                    shared.StartHelper();
                }
            }

            Interlocked.Decrement(ref shared.Opening);
            decided = true;
            while (sockets.MoveNext())
            {
                result.Owners.Add(new SocketOwnerScan.RawOwner(sockets.Current.Inode, pid, sockets.Current.Fd));
            }
        }
        finally
        {
            if (!decided)
            {
                Interlocked.Decrement(ref shared.Opening);
            }

            sockets.Dispose();
            result.Descriptors += sockets.Descriptors;
        }

        if (sockets.Errno != 0)
        {
            Count(pid, sockets.Errno, result);
            return;
        }

        result.Scanned++;
    }

    /// <summary>Another thread's share of a big process (counted as read by the thread that split it).</summary>
    private static void ScanRange(Shared shared, Range range, byte* path, byte* link, byte* dents, WorkerResult result)
    {
        WriteFdPath(path, 256, shared.Root, range.Pid);
        var sockets = new ProcFdSockets(path, dents, DirectoryBufferSize, link, range.First) { EndFd = range.End };
        try
        {
            while (sockets.MoveNext())
            {
                result.Owners.Add(new SocketOwnerScan.RawOwner(sockets.Current.Inode, range.Pid, sockets.Current.Fd));
            }
        }
        finally
        {
            sockets.Dispose();
            result.Descriptors += sockets.Descriptors;
        }
    }

    private static void Count(int pid, int errno, WorkerResult result)
    {
        if (errno is Errno.EACCES or Errno.EPERM)
        {
            result.Denied++;
            if (result.DeniedPids.Count < SocketOwnerScan.DeniedPidsKept)
            {
                result.DeniedPids.Add(pid);
            }
        }
        else
        {
            result.Vanished++;
        }
    }

    /// <summary>Writes "{root}/{pid}/fd\0" into <paramref name="destination"/>.</summary>
    private static void WriteFdPath(byte* destination, int capacity, byte[] root, int pid)
    {
        var span = new Span<byte>(destination, capacity);
        root.CopyTo(span);
        int length = root.Length;
        span[length++] = (byte)'/';
        pid.TryFormat(span.Slice(length), out int written, default, System.Globalization.CultureInfo.InvariantCulture);
        length += written;
        "/fd\0"u8.CopyTo(span.Slice(length));
    }
}
