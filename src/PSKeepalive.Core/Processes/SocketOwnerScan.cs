using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Processes;

/// <summary>Where the owner scan is: processes done out of the processes listed in /proc.</summary>
public readonly record struct SocketOwnerScanProgress(int ProcessesDone, int ProcessesTotal, TimeSpan Elapsed);

/// <summary>A process and its name and command line, read once per process.</summary>
/// <param name="Pid">Process id.</param>
/// <param name="Name">/proc/PID/comm, or null when it could not be read (the process ended).</param>
/// <param name="CommandLine">/proc/PID/cmdline with NULs as spaces; null when unreadable or empty.</param>
public sealed record ProcessInfo(int Pid, string? Name, string? CommandLine)
{
    /// <summary>Reads the name and command line of <paramref name="pid"/>; missing parts become null.</summary>
    public static ProcessInfo Read(int pid)
    {
        string? commandLine = ReadSmallFile($"/proc/{pid}/cmdline")?.TrimEnd('\0').Replace('\0', ' ');
        return new ProcessInfo(pid, ProcessName.Read(pid), string.IsNullOrEmpty(commandLine) ? null : commandLine);
    }

    private static string? ReadSmallFile(string path)
    {
        try
        {
            return File.ReadAllText(path, Encoding.UTF8);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}

/// <summary>
/// Socket inode -> the processes holding it, from one scan (<see cref="SocketOwnerScan"/>). Processes that end during a walk
/// or deny access are skipped and counted (<see cref="ProcessesDenied"/>, <see cref="ProcessesVanished"/>),
/// so callers can say how complete the map is. Names and command lines are read lazily, once per process.
/// </summary>
public sealed class SocketOwnerMap
{
    private readonly SocketOwnerTable _table;
    private readonly Dictionary<int, ProcessInfo> _processes = new();
    private readonly bool _scannedAsRoot;
    private ProcessInfo? _lastProcess;

    internal SocketOwnerMap(SocketOwnerTable table, int scanned, int denied, int vanished, int descriptors, TimeSpan elapsed, IReadOnlyList<int>? deniedPids = null, bool byKernelIterator = false)
    {
        ByKernelIterator = byKernelIterator;
        DeniedPids = deniedPids ?? Array.Empty<int>();
        _scannedAsRoot = Interop.Libc.GetEUid() == 0; // who scanned decides what would have helped
        _table = table;
        ProcessesScanned = scanned;
        ProcessesDenied = denied;
        ProcessesVanished = vanished;
        DescriptorsScanned = descriptors;
        Elapsed = elapsed;
    }

    /// <summary>Processes whose descriptors were read.</summary>
    public int ProcessesScanned { get; }

    /// <summary>Processes whose /proc/PID/fd could not be read (EACCES/EPERM: another user's process without root).</summary>
    public int ProcessesDenied { get; }

    /// <summary>Processes that ended between listing /proc and reading their descriptors.</summary>
    public int ProcessesVanished { get; }

    /// <summary>The lowest PIDs of the processes that denied access (at most <see cref="SocketOwnerScan.DeniedPidsKept"/>).</summary>
    public IReadOnlyList<int> DeniedPids { get; }

    /// <summary>
    /// What to tell the user when processes denied access, or null when none did: who they are, that their sockets show no
    /// owner, and what would help; as root, that something beyond root refuses (the ptrace check on /proc/PID/fd).
    /// </summary>
    public string? DeniedMessage
    {
        get
        {
            if (ProcessesDenied == 0)
            {
                return null;
            }

            string which = string.Join(", ", DeniedPids) + (ProcessesDenied > DeniedPids.Count ? ", ..." : string.Empty);
            string why = _scannedAsRoot
                ? "access denied even to root: reading /proc/PID/fd passes the kernel's ptrace check, which refuses a process of an outer "
                  + "user namespace (the container's host) or one a security module (AppArmor, SELinux, Yama) protects"
                : "access denied: run as root, or with CAP_SYS_PTRACE, to see every owner";
            return $"{ProcessesDenied} process(es) could not be read ({which}): {why}. Their sockets show no owning process.";
        }
    }

    /// <summary>Processes that could not be read, for any reason.</summary>
    public int ProcessesNotRead => ProcessesDenied + ProcessesVanished;

    /// <summary>Descriptors looked at.</summary>
    public int DescriptorsScanned { get; }

    /// <summary>Distinct socket inodes found.</summary>
    public int SocketCount => _table.Count;

    /// <summary>How long the walk took.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>True when the kernel's BPF iterator found the owners, false when /proc/*/fd was walked.</summary>
    internal bool ByKernelIterator { get; }

    /// <summary>True when at least one process holds <paramref name="inode"/>.</summary>
    public bool Contains(ulong inode) => _table.TryGetFirst(inode, out _, out _, out _);

    /// <summary>The lowest PID holding <paramref name="inode"/>, or null.</summary>
    public int? LowestPid(ulong inode)
    {
        (int Pid, int Fd)[] owners = _table.Owners(inode);
        return owners.Length == 0 ? null : owners[0].Pid;
    }

    /// <summary>True when <paramref name="pid"/> holds <paramref name="inode"/>.</summary>
    public bool IsHeldBy(ulong inode, int pid)
    {
        if (!_table.TryGetFirst(inode, out int first, out _, out bool more))
        {
            return false;
        }

        return first == pid || (more && Array.Exists(_table.Owners(inode), o => o.Pid == pid));
    }

    /// <summary>The (pid, fd) pairs holding <paramref name="inode"/>, sorted by PID then descriptor.</summary>
    public IReadOnlyList<(int Pid, int Fd)> Owners(ulong inode) => _table.Owners(inode);

    /// <summary>The owners of <paramref name="inode"/> with names and command lines, as TcpConnection carries them.</summary>
    public TcpConnectionProcess[] Processes(ulong inode)
    {
        if (!_table.TryGetFirst(inode, out int pid, out int fd, out bool more))
        {
            return Array.Empty<TcpConnectionProcess>();
        }

        if (!more)
        {
            // Nearly every socket has one owner: no list to gather and sort.
            ProcessInfo process = Process(pid);
            return new[] { new TcpConnectionProcess(process.Pid, process.Name, process.CommandLine, fd) };
        }

        (int Pid, int Fd)[] owners = _table.Owners(inode);
        var result = new TcpConnectionProcess[owners.Length];
        for (int i = 0; i < owners.Length; i++)
        {
            ProcessInfo info = Process(owners[i].Pid);
            result[i] = new TcpConnectionProcess(info.Pid, info.Name, info.CommandLine, owners[i].Fd);
        }

        return result;
    }

    /// <summary>Name and command line of <paramref name="pid"/>, read on first use.</summary>
    public ProcessInfo Process(int pid)
    {
        ProcessInfo? last = _lastProcess;
        if (last is not null && last.Pid == pid)
        {
            return last;
        }

        if (!_processes.TryGetValue(pid, out ProcessInfo? info))
        {
            info = ProcessInfo.Read(pid);
            _processes[pid] = info;
        }

        _lastProcess = info;
        return info;
    }
}

/// <summary>
/// One scan mapping socket inodes to the processes holding them: every process's descriptors at once in the
/// kernel (<see cref="SocketOwnerIterator"/>) where it can, otherwise a walk of /proc/*/fd that reads
/// directories with getdents64 and links with readlinkat into reused buffers, so a descriptor costs one system
/// call and no allocation. The map is one dictionary entry per socket, built after the scan. This is what keeps
/// it linear where `ss -p` and `netstat -p` go quadratic.
/// </summary>
public static unsafe class SocketOwnerScan
{
    private const string Subject = "Process";
    private const int DirectoryBufferSize = 32 * 1024;

    /// <summary>Scans every process, or only <paramref name="pid"/> when given.</summary>
    /// <param name="pid">One process to scan (a process filter needs nothing else).</param>
    /// <param name="progress">Called about every 250 ms during the walk, on the calling thread.</param>
    /// <param name="procRoot">The proc mount (tests may point elsewhere).</param>
    /// <remarks>
    /// Every process (no <paramref name="pid"/>, the real /proc): the kernel does the walk when it can, with a BPF
    /// iterator (<see cref="SocketOwnerIterator"/>: root, kernel BTF, the initial PID namespace), ~6x faster.
    /// Otherwise, or for one process, the walk is kernel time (one readlinkat per descriptor), so it is spread
    /// over up to <see cref="MaxWorkers"/> threads (never more than the processors), see <see cref="ProcFdWalk"/>;
    /// the calling thread is one of them and reports progress.
    /// </remarks>
    public static SocketOwnerMap Scan(int? pid = null, Action<SocketOwnerScanProgress>? progress = null, string procRoot = "/proc") =>
        Scan(pid is int one ? [one] : null, progress, procRoot);

    /// <summary>Scans every process, or only <paramref name="pids"/> when given (null or empty: every process).</summary>
    /// <param name="pids">The processes to scan (a process filter needs nothing else).</param>
    /// <param name="progress">Called about every 250 ms during the walk, on the calling thread.</param>
    /// <param name="procRoot">The proc mount (tests may point elsewhere).</param>
    public static SocketOwnerMap Scan(IReadOnlyCollection<int>? pids, Action<SocketOwnerScanProgress>? progress = null, string procRoot = "/proc")
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        byte[] rootBytes = Encoding.UTF8.GetBytes(procRoot);
        if (rootBytes.Length > 200)
        {
            throw new ArgumentException("The proc root path is too long.", nameof(procRoot));
        }

        bool everyProcess = pids is not { Count: > 0 };
        List<int> toScan = everyProcess ? ListProcesses(procRoot) : pids!.Distinct().ToList();
        if (everyProcess && procRoot == "/proc")
        {
            // Every process at once, in the kernel (one BPF iterator). The iterator sees every process, also those
            // whose /proc/PID/fd this caller may not read (the ptrace check, a security module) and those that ended
            // since: their owners are left out and counted as the walk would count them, so it never shows more.
            using var found = new OwnerRecords();
            if (SocketOwnerIterator.TryScan(found, out int seen))
            {
                ProcFdWalk.Access access = ProcFdWalk.Probe(toScan, found, rootBytes);
                // Counted over what the iterator met too: a process that started after /proc was listed.
                int counted = access.Readable + access.Denied + access.Vanished;
                progress?.Invoke(new SocketOwnerScanProgress(counted, counted, System.Diagnostics.Stopwatch.GetElapsedTime(started)));
                return Build(new[] { found }, access.Readable, access.Denied, access.Vanished, seen, started, access.DeniedPids, byKernelIterator: true, access.LeftOut);
            }
        }

        ProcFdWalk.Result walk = ProcFdWalk.Run(toScan, rootBytes, Math.Min(Environment.ProcessorCount, MaxWorkers), progress, started);
        SocketOwnerMap map = Build(walk.Owners, walk.Scanned, walk.Denied, walk.Vanished, walk.Descriptors, started, walk.DeniedPids);
        foreach (OwnerRecords owners in walk.Owners)
        {
            owners.Dispose();
        }

        progress?.Invoke(new SocketOwnerScanProgress(toScan.Count, toScan.Count, map.Elapsed));
        return map;
    }

    /// <summary>The map of everything the scan found (an owner found twice is kept once).</summary>
    private static SocketOwnerMap Build(IReadOnlyList<OwnerRecords> found, int scanned, int denied, int vanished, int descriptors, long started, IReadOnlyList<int>? deniedPids, bool byKernelIterator = false, IReadOnlySet<int>? leaveOut = null) =>
        new(SocketOwnerTable.Build(found, leaveOut), scanned, denied, vanished, descriptors, System.Diagnostics.Stopwatch.GetElapsedTime(started), deniedPids, byKernelIterator);

    /// <summary>The denied processes a map names, at most.</summary>
    public const int DeniedPidsKept = 8;

    /// <summary>Threads for the walk at most (readlinkat on /proc scales until the processors are busy).</summary>
    public const int MaxWorkers = 4;

    /// <summary>One socket descriptor of one process, as a scan finds it.</summary>
    internal readonly record struct RawOwner(ulong Inode, int Pid, int Fd);

    /// <summary>"socket:[12345]" -> 12345.</summary>
    internal static bool TryParseSocketInode(ReadOnlySpan<byte> link, out ulong inode)
    {
        inode = 0;
        ReadOnlySpan<byte> prefix = "socket:["u8;
        if (link.Length < prefix.Length + 2 || !link.StartsWith(prefix) || link[^1] != (byte)']')
        {
            return false;
        }

        ReadOnlySpan<byte> digits = link.Slice(prefix.Length, link.Length - prefix.Length - 1);
        ulong value = 0;
        foreach (byte b in digits)
        {
            if (b < (byte)'0' || b > (byte)'9' || value > (ulong.MaxValue - 9) / 10)
            {
                return false;
            }

            value = (value * 10) + (ulong)(b - '0');
        }

        inode = value;
        return true;
    }

    private static List<int> ListProcesses(string procRoot)
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(DirectoryBufferSize, pinned: true);
        var pids = new List<int>(512);
        int fd = Libc.Open(procRoot, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            throw Errno.Last(Subject, $"list the processes in {procRoot}", procRoot);
        }

        try
        {
            fixed (byte* dents = buffer)
            {
                var entries = new DirectoryEntries(fd, dents, buffer.Length);
                while (entries.MoveNext())
                {
                    byte* name = entries.Name;
                    if (name[0] >= (byte)'1' && name[0] <= (byte)'9')
                    {
                        int pid = DirectoryEntries.ParseDecimal(name);
                        if (pid > 0)
                        {
                            pids.Add(pid);
                        }
                    }
                }

                if (entries.Errno != 0)
                {
                    throw Errno.ToException(entries.Errno, Subject, $"list the processes in {procRoot}", procRoot);
                }
            }
        }
        finally
        {
            Libc.Close(fd);
        }

        return pids;
    }
}
