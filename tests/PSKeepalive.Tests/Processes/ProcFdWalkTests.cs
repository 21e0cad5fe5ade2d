using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using PSKeepalive.Core.Processes;
using Xunit;

namespace PSKeepalive.Tests.Processes;

/// <summary>The /proc walk reads a big process on several threads (ranges of descriptor numbers) and still finds every socket once.</summary>
public sealed class ProcFdWalkTests
{
    [Fact]
    public void BigProcess_ReadInRanges_EverySocketOnce_SparseDescriptorsIncluded()
    {
        // 6,000 unix sockets (more than ProcFdWalk.SplitAbove), 100 of them also at descriptors 11000+, far past the
        // ranges computed from the count: the last range is open-ended.
        const string Script = """
            import os, resource, socket, sys
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 12000), hard))
            sockets = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(6000)]
            for i, s in enumerate(sockets[:100]):
                os.dup2(s.fileno(), 11000 + i)
            print("ready", flush=True)
            sys.stdin.read()
            """;
        var start = new ProcessStartInfo("python3") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script);
        using Process child = Process.Start(start)!;
        try
        {
            Task<string?> ready = child.StandardOutput.ReadLineAsync();
            Assert.True(ready.Wait(TimeSpan.FromSeconds(30)), "the child did not open its sockets within 30 s");
            Assert.Equal("ready", ready.Result);
            Dictionary<ulong, List<(int Pid, int Fd)>> expected = SocketsOf(child.Id);
            int descriptors = Directory.GetFileSystemEntries($"/proc/{child.Id}/fd").Length;

            int rangesBefore = ProcFdWalk.RangesQueued;

            SocketOwnerMap map = SocketOwnerScan.Scan(child.Id);

            Assert.True(Environment.ProcessorCount == 1 || ProcFdWalk.RangesQueued > rangesBefore, "with two processors the big process is read in ranges");
            Assert.Equal(6000, expected.Count);
            Assert.Equal(expected.Count, map.SocketCount);
            Assert.Equal(descriptors, map.DescriptorsScanned);
            Assert.Equal(1, map.ProcessesScanned);
            foreach ((ulong inode, List<(int Pid, int Fd)> owners) in expected)
            {
                Assert.Equal(owners.Order(), map.Owners(inode));
            }
        }
        finally
        {
            child.StandardInput.Close();
            if (!child.WaitForExit(10_000))
            {
                child.Kill();
                child.WaitForExit(5000);
            }
        }
    }

    /// <summary>The reference: every socket link in /proc/PID/fd, read with .NET's own file APIs.</summary>
    private static Dictionary<ulong, List<(int Pid, int Fd)>> SocketsOf(int pid)
    {
        var sockets = new Dictionary<ulong, List<(int, int)>>();
        foreach (string entry in Directory.GetFileSystemEntries($"/proc/{pid}/fd"))
        {
            string? target = new FileInfo(entry).LinkTarget;
            if (target is not null && SocketOwnerScan.TryParseSocketInode(System.Text.Encoding.ASCII.GetBytes(target), out ulong inode))
            {
                if (!sockets.TryGetValue(inode, out List<(int, int)>? owners))
                {
                    sockets[inode] = owners = new List<(int, int)>();
                }

                owners.Add((pid, int.Parse(Path.GetFileName(entry))));
            }
        }

        return sockets;
    }
}
