using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Processes;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Connections;

public sealed class OwnerScanTests
{
    [Theory]
    [InlineData("socket:[12345]", true, 12345UL)]
    [InlineData("socket:[0]", true, 0UL)]
    [InlineData("socket:[4294967296]", true, 4294967296UL)]
    [InlineData("socket:[184467440737095516150]", false, 0UL)]
    [InlineData("socket:[]", false, 0UL)]
    [InlineData("socket:[12a]", false, 0UL)]
    [InlineData("socket:[123", false, 0UL)]
    [InlineData("pipe:[123]", false, 0UL)]
    [InlineData("/dev/null", false, 0UL)]
    public void ParsesOnlySocketLinks(string link, bool isSocket, ulong inode)
    {
        Assert.Equal(isSocket, SocketOwnerScan.TryParseSocketInode(System.Text.Encoding.ASCII.GetBytes(link), out ulong parsed));
        Assert.Equal(inode, parsed);
    }

    [Fact]
    public void ScanOfThisProcess_FindsItsSocket()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen(1);
        var listener = Assert.Single(TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [((IPEndPoint)socket.LocalEndPoint!).Port], States = new[] { TcpState.Listen } }));

        SocketOwnerMap map = SocketOwnerScan.Scan(Environment.ProcessId);

        Assert.Equal(1, map.ProcessesScanned);
        Assert.Equal(0, map.ProcessesNotRead);
        Assert.True(map.Contains((ulong)listener.Inode));
        Assert.Equal(Environment.ProcessId, map.LowestPid((ulong)listener.Inode));
        Assert.Equal(((int)socket.Handle), Assert.Single(map.Owners((ulong)listener.Inode)).Fd);
        Assert.True(map.DescriptorsScanned >= map.SocketCount);
    }

    [Fact]
    public void FullScan_IncludesThisProcessAndReportsProgress()
    {
        using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        socket.Listen(1);
        var listener = Assert.Single(TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["::1"], LocalPorts = [((IPEndPoint)socket.LocalEndPoint!).Port], States = new[] { TcpState.Listen } }));
        SocketOwnerScanProgress last = default;

        SocketOwnerMap map = SocketOwnerScan.Scan(progress: p => last = p);

        Assert.True(map.IsHeldBy((ulong)listener.Inode, Environment.ProcessId));
        Assert.True(map.ProcessesScanned > 1);
        Assert.Equal(last.ProcessesTotal, last.ProcessesDone);
        Assert.Equal(map.ProcessesScanned + map.ProcessesNotRead, last.ProcessesTotal);
    }

    [Fact]
    public void VanishedProcess_IsCountedNotFatal()
    {
        SocketOwnerMap map = SocketOwnerScan.Scan(int.MaxValue - 1);

        Assert.Equal(0, map.ProcessesScanned);
        Assert.Equal(1, map.ProcessesVanished);
        Assert.Equal(0, map.SocketCount);
    }

    [RootFact]
    public void UnreadableProcesses_AreCountedAsDenied()
    {
        // As nobody (on one thread), other users' /proc/PID/fd are closed: the scan goes on and counts them.
        SocketOwnerMap map = Unprivileged.Run(() => SocketOwnerScan.Scan());

        Assert.True(map.ProcessesDenied > 0, "expected at least one process (e.g. PID 1) to deny access to nobody");
    }

    [Fact]
    public void MissingProcRoot_IsNotFound()
    {
        var error = Assert.Throws<KeepaliveNotFoundException>(() => SocketOwnerScan.Scan(procRoot: "/nonexistent-pskeepalive-proc"));

        Assert.Equal("ProcessNotFound", error.ErrorId);
    }
}
