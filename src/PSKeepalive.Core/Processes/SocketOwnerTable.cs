using System;
using System.Buffers;
using System.Collections.Generic;

namespace PSKeepalive.Core.Processes;

/// <summary>
/// Socket inode -> the (pid, fd) pairs holding it: one open-addressing table of 16-byte slots (inode, pid, fd),
/// sized once for what the scan found (4 slots per 3 owners) and probed linearly, so that a lookup in dump order
/// usually touches one cache line. A socket held by several descriptors (inherited across fork, passed, dup'ed)
/// keeps its first owner in its slot, marked by a negative pid, and the others in a small side dictionary; an
/// owner found twice (a thread with a file table of its own) is kept once. About 21 bytes per socket, where a
/// dictionary of chains took ~40 and three dependent reads.
/// </summary>
internal sealed class SocketOwnerTable
{
    private readonly Slot[] _slots;
    private readonly Dictionary<ulong, List<(int Pid, int Fd)>> _more = new();

    private SocketOwnerTable(int capacity)
    {
        _slots = new Slot[capacity];
    }

    /// <summary>Distinct socket inodes.</summary>
    public int Count { get; private set; }

    /// <summary>The table of everything in <paramref name="found"/>, but the owners whose pid is in <paramref name="leaveOut"/>.</summary>
    public static SocketOwnerTable Build(IReadOnlyList<OwnerRecords> found, IReadOnlySet<int>? leaveOut = null)
    {
        long total = 0;
        foreach (OwnerRecords owners in found)
        {
            total += owners.Count;
        }

        var table = new SocketOwnerTable((int)Math.Min(int.MaxValue / 2, (total * 4 / 3) + 1));
        foreach (OwnerRecords owners in found)
        {
            foreach (ReadOnlyMemory<SocketOwnerScan.RawOwner> chunk in owners.Chunks())
            {
                foreach (SocketOwnerScan.RawOwner owner in chunk.Span)
                {
                    if (leaveOut is null || !leaveOut.Contains(owner.Pid))
                    {
                        table.Add(owner.Inode, owner.Pid, owner.Fd);
                    }
                }
            }
        }

        return table;
    }

    /// <summary>The first owner of <paramref name="inode"/> and whether there are others; false when nobody holds it.</summary>
    public bool TryGetFirst(ulong inode, out int pid, out int fd, out bool more)
    {
        int index = Find(inode);
        if (index < 0)
        {
            (pid, fd, more) = (0, 0, false);
            return false;
        }

        Slot slot = _slots[index];
        (pid, fd, more) = (Math.Abs(slot.Pid), slot.Fd, slot.Pid < 0);
        return true;
    }

    /// <summary>Every owner of <paramref name="inode"/>, sorted by pid then descriptor; empty when nobody holds it.</summary>
    public (int Pid, int Fd)[] Owners(ulong inode)
    {
        if (!TryGetFirst(inode, out int pid, out int fd, out bool more))
        {
            return Array.Empty<(int, int)>();
        }

        if (!more)
        {
            return new[] { (pid, fd) };
        }

        List<(int Pid, int Fd)> others = _more[inode];
        var owners = new (int Pid, int Fd)[others.Count + 1];
        owners[0] = (pid, fd);
        others.CopyTo(owners, 1);
        Array.Sort(owners);
        return owners;
    }

    private void Add(ulong inode, int pid, int fd)
    {
        int index = Index(inode);
        while (true)
        {
            ref Slot slot = ref _slots[index];
            if (slot.Pid == 0)
            {
                slot = new Slot { Inode = inode, Pid = pid, Fd = fd };
                Count++;
                return;
            }

            if (slot.Inode == inode)
            {
                if (Math.Abs(slot.Pid) == pid && slot.Fd == fd)
                {
                    return;
                }

                if (slot.Pid > 0)
                {
                    slot.Pid = -slot.Pid;
                    _more[inode] = new List<(int, int)>(1);
                }

                List<(int Pid, int Fd)> others = _more[inode];
                if (!others.Contains((pid, fd)))
                {
                    others.Add((pid, fd));
                }

                return;
            }

            index = index + 1 == _slots.Length ? 0 : index + 1;
        }
    }

    private int Find(ulong inode)
    {
        int index = Index(inode);
        for (int probes = 0; probes < _slots.Length; probes++)
        {
            Slot slot = _slots[index];
            if (slot.Pid == 0)
            {
                return -1;
            }

            if (slot.Inode == inode)
            {
                return index;
            }

            index = index + 1 == _slots.Length ? 0 : index + 1;
        }

        return -1;
    }

    /// <summary>Fibonacci hashing, mapped onto the table's length by a multiply (no power-of-two size needed).</summary>
    private int Index(ulong inode)
    {
        ulong hash = (inode * 0x9E3779B97F4A7C15UL) >> 32;
        return (int)((hash * (ulong)_slots.Length) >> 32);
    }

    /// <summary>One owner: pid is positive (0 marks an empty slot), negative when the inode has more owners.</summary>
    private struct Slot
    {
        public ulong Inode;
        public int Pid;
        public int Fd;
    }
}

/// <summary>
/// Owners as a scan finds them, kept in pooled chunks of 4,096 (64 KiB, below the large-object heap): a scan of
/// 200,000 sockets grows without doubling copies and leaves no large garbage behind (a growing List left
/// ~8 MiB of dead arrays on the large-object heap, which only a full collection frees).
/// </summary>
internal sealed class OwnerRecords : IDisposable
{
    private const int ChunkLength = 4096;
    private readonly List<SocketOwnerScan.RawOwner[]> _chunks = new();
    private int _used = ChunkLength;

    /// <summary>Owners held.</summary>
    public int Count { get; private set; }

    public void Add(SocketOwnerScan.RawOwner owner)
    {
        if (_used == ChunkLength)
        {
            _chunks.Add(ArrayPool<SocketOwnerScan.RawOwner>.Shared.Rent(ChunkLength));
            _used = 0;
        }

        _chunks[^1][_used++] = owner;
        Count++;
    }

    /// <summary>The owners, chunk by chunk, in the order added.</summary>
    public IEnumerable<ReadOnlyMemory<SocketOwnerScan.RawOwner>> Chunks()
    {
        for (int i = 0; i < _chunks.Count; i++)
        {
            yield return _chunks[i].AsMemory(0, i == _chunks.Count - 1 ? _used : ChunkLength);
        }
    }

    /// <summary>Forgets every owner and gives the chunks back.</summary>
    public void Clear()
    {
        foreach (SocketOwnerScan.RawOwner[] chunk in _chunks)
        {
            ArrayPool<SocketOwnerScan.RawOwner>.Shared.Return(chunk);
        }

        _chunks.Clear();
        _used = ChunkLength;
        Count = 0;
    }

    public void Dispose() => Clear();
}
