using System;
using System.Collections.Generic;
using System.Linq;
using PSKeepalive.Core.Processes;
using Xunit;

namespace PSKeepalive.Tests.Processes;

/// <summary>The owner table against a plain dictionary: the same owners for every inode, whatever the collisions.</summary>
public sealed class SocketOwnerTableTests
{
    [Theory]
    [InlineData(1, 0)]
    [InlineData(1000, 1)]
    [InlineData(50_000, 2)]
    public void Owners_AreThoseAdded_SortedAndOnce(int sockets, int seed)
    {
        var random = new Random(seed);
        var found = new List<OwnerRecords> { new(), new() };
        var expected = new Dictionary<ulong, SortedSet<(int, int)>>();
        ulong inode = (ulong)random.Next(0, 1000);
        for (int i = 0; i < sockets; i++)
        {
            inode += (ulong)random.Next(1, 40); // sockfs numbers rise with gaps
            int owners = random.Next(0, 20) == 0 ? random.Next(2, 5) : 1; // some shared across fork or dup'ed
            for (int o = 0; o < owners; o++)
            {
                var owner = new SocketOwnerScan.RawOwner(inode, random.Next(1, 4_000_000), random.Next(-1, 100_000));
                found[random.Next(2)].Add(owner);
                if (random.Next(0, 10) == 0)
                {
                    found[random.Next(2)].Add(owner); // seen twice (two file tables): kept once
                }

                if (!expected.TryGetValue(inode, out SortedSet<(int, int)>? set))
                {
                    expected[inode] = set = new SortedSet<(int, int)>();
                }

                set.Add((owner.Pid, owner.Fd));
            }
        }

        SocketOwnerTable table = SocketOwnerTable.Build(found);

        Assert.Equal(expected.Count, table.Count);
        foreach ((ulong key, SortedSet<(int, int)> owners) in expected)
        {
            Assert.Equal(owners.ToArray(), table.Owners(key));
            Assert.True(table.TryGetFirst(key, out _, out _, out bool more));
            Assert.Equal(owners.Count > 1, more);
        }

        Assert.False(table.TryGetFirst(inode + 1, out _, out _, out _));
        Assert.Empty(table.Owners(ulong.MaxValue));
    }

    [Fact]
    public void InodeZero_AndAnEmptyScan_Work()
    {
        using var one = new OwnerRecords();
        one.Add(new SocketOwnerScan.RawOwner(0, 7, 3));
        var zero = SocketOwnerTable.Build(new[] { one });
        Assert.Equal(new[] { (7, 3) }, zero.Owners(0));

        using var none = new OwnerRecords();
        var empty = SocketOwnerTable.Build(new[] { none });
        Assert.Equal(0, empty.Count);
        Assert.Empty(empty.Owners(42));
    }
}
