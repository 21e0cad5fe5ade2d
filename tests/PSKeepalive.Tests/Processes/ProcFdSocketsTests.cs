using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Processes;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Processes;

/// <summary>
/// The one /proc/PID/fd walk (<see cref="ProcFdSockets"/> over <see cref="DirectoryEntries"/>) that the owner
/// scan and the retrofit's descriptor list share, and what each caller makes of its entries and errors.
/// </summary>
public sealed unsafe class ProcFdSocketsTests : IDisposable
{
    private const int FakePid = 4242;
    private readonly string _root = Directory.CreateTempSubdirectory("pskeepalive-procfd-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void OwnFdDirectory_YieldsTheTestsSocket_WithItsDescriptorAndInode()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int fd = (int)socket.Handle;
        Assert.True(PSKeepalive.Core.Processes.SocketOwnerScan.TryParseSocketInode(System.Text.Encoding.ASCII.GetBytes(new FileInfo($"/proc/self/fd/{fd}").LinkTarget!), out ulong inode));

        (List<(int Fd, ulong Inode)> found, int descriptors, int errno) = Walk($"/proc/{Environment.ProcessId}/fd", 32 * 1024);

        Assert.Equal(0, errno);
        Assert.Contains((fd, inode), found);
        Assert.True(descriptors > found.Count, "the test host holds non-socket descriptors too (at least its assemblies' files)");
        Assert.All(found, s => Assert.True(s.Fd >= 0));
    }

    [Fact]
    public void MissingDirectory_YieldsNothing_AndReportsEnoent()
    {
        (List<(int Fd, ulong Inode)> found, int descriptors, int errno) = Walk(Path.Combine(_root, "no-such-pid", "fd"), 32 * 1024);

        Assert.Empty(found);
        Assert.Equal(0, descriptors);
        Assert.Equal(Errno.ENOENT, errno);
    }

    [Fact]
    public void FakeFdDirectory_EveryCallerKeepsItsOwnViewOfOddEntries()
    {
        // "3" a socket, "4" a pipe, "5" a socket, "x" a socket link under a name that is no descriptor number.
        string fdDirectory = MakeFakeFdDirectory(("3", "socket:[77]"), ("4", "pipe:[1]"), ("5", "socket:[99]"), ("x", "socket:[88]"));

        (List<(int Fd, ulong Inode)> found, int descriptors, int errno) = Walk(fdDirectory, 32 * 1024);
        Assert.Equal(0, errno);
        Assert.Equal(4, descriptors);
        Assert.Equal(new[] { (-1, 88UL), (3, 77UL), (5, 99UL) }, found.OrderBy(s => s.Fd).ToArray());

        // The retrofit lists only real descriptor numbers, in order.
        Assert.Equal(new[] { new SocketDescriptor(3, 77), new SocketDescriptor(5, 99) }, ProcessSockets.List(FakePid, _root));

        // The owner scan counts every entry as a descriptor and keeps what it always kept.
        SocketOwnerMap map = SocketOwnerScan.Scan(FakePid, procRoot: _root);
        Assert.Equal(1, map.ProcessesScanned);
        Assert.Equal(0, map.ProcessesNotRead);
        Assert.Equal(4, map.DescriptorsScanned);
        Assert.Equal(3, map.SocketCount);
        Assert.Equal((FakePid, 3), Assert.Single(map.Owners(77)));
        Assert.Equal((FakePid, -1), Assert.Single(map.Owners(88)));
    }

    [Fact]
    public void SmallBuffer_ReadsEveryEntryOverManyGetdentsCalls()
    {
        var names = Enumerable.Range(0, 300).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        string fdDirectory = MakeFakeFdDirectory(names.Select(n => (n, $"socket:[{1000 + int.Parse(n, System.Globalization.CultureInfo.InvariantCulture)}]")).ToArray());

        // 96 bytes hold three or four records: about a hundred getdents64 calls.
        (List<(int Fd, ulong Inode)> found, int descriptors, int errno) = Walk(fdDirectory, 96);

        Assert.Equal(0, errno);
        Assert.Equal(300, descriptors);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => (i, 1000UL + (ulong)i)).ToArray(), found.OrderBy(s => s.Fd).ToArray());
    }

    [Fact]
    public void BufferTooSmallForOneRecord_ReportsGetdentsErrno()
    {
        string fdDirectory = MakeFakeFdDirectory(("3", "socket:[77]"));

        (List<(int Fd, ulong Inode)> found, _, int errno) = Walk(fdDirectory, 8);

        Assert.Empty(found);
        Assert.Equal(Errno.EINVAL, errno); // "result buffer is too small"
    }

    [Fact]
    public void DirectoryEntries_ListsDotEntriesAndNames()
    {
        MakeFakeFdDirectory(("7", "pipe:[1]"));
        byte[] path = Encoding.UTF8.GetBytes(Path.Combine(_root, FakePid.ToString(System.Globalization.CultureInfo.InvariantCulture), "fd") + "\0");
        var names = new List<string>();
        byte* buffer = stackalloc byte[1024];
        int fd;
        fixed (byte* p = path)
        {
            fd = Libc.OpenAt(Libc.AT_FDCWD, p, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        }

        Assert.True(fd >= 0);
        int errno;
        try
        {
            var entries = new DirectoryEntries(fd, buffer, 1024);
            while (entries.MoveNext())
            {
                names.Add(new string((sbyte*)entries.Name));
            }

            errno = entries.Errno;
        }
        finally
        {
            Libc.Close(fd);
        }

        Assert.Equal(0, errno);
        Assert.Equal(new[] { ".", "..", "7" }, names.OrderBy(n => n, StringComparer.Ordinal).ToArray());
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("1234", 1234)]
    [InlineData("2147483639", 2147483639)]
    [InlineData("2147483640", -1)]
    [InlineData("12a", -1)]
    [InlineData(".", -1)]
    [InlineData("", 0)]
    public void ParseDecimal_IsDigitsOnly_AndBounded(string name, int expected)
    {
        fixed (byte* p = Encoding.ASCII.GetBytes(name + "\0"))
        {
            Assert.Equal(expected, DirectoryEntries.ParseDecimal(p));
        }
    }

    [Fact]
    public void ProcessSockets_MissingProcess_IsNotFound()
    {
        var error = Assert.Throws<KeepaliveNotFoundException>(() => ProcessSockets.List(int.MaxValue - 1));

        Assert.Equal("ProcessNotFound", error.ErrorId);
    }

    [RootFact]
    public void ProcessSockets_OtherUsersProcess_IsPermissionDenied_NamingThePrivilege()
    {
        // As nobody, /proc/1/fd is closed (ptrace access): the retrofit throws where the owner scan counts.
        Exception? error = Unprivileged.Run(() => Record.Exception(() => ProcessSockets.List(1)));

        var permission = Assert.IsType<KeepalivePermissionException>(error);
        Assert.Contains("CAP_SYS_PTRACE", permission.Message);
    }

    [RootFact]
    public void ListableDirectoryWithUnreadableLinks_IsDenied_NotSocketless()
    {
        // As /proc/1/fd can be even for root: getdents64 works, every readlinkat fails with EACCES. Simulated as nobody
        // on a directory it may read but not search (mode 0444): the process must count as denied, never as empty.
        string fdDirectory = MakeFakeFdDirectory(("3", "socket:[77]"), ("5", "socket:[99]"));
        File.SetUnixFileMode(_root, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(Path.GetDirectoryName(fdDirectory)!, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(fdDirectory, (UnixFileMode)0b100_100_100);

        (List<(int Fd, ulong Inode)> found, _, int errno) = Unprivileged.Run(() => Walk(fdDirectory, 32 * 1024));
        SocketOwnerMap map = Unprivileged.Run(() => SocketOwnerScan.Scan((int?)null, null, _root));
        Exception? listing = Unprivileged.Run(() => Record.Exception(() => ProcessSockets.List(FakePid, _root)));

        Assert.Empty(found);
        Assert.Equal(Errno.EACCES, errno);
        Assert.Equal(1, map.ProcessesDenied);
        Assert.Equal([FakePid], map.DeniedPids);
        Assert.Contains($"({FakePid})", map.DeniedMessage, StringComparison.Ordinal);
        Assert.Contains("CAP_SYS_PTRACE", map.DeniedMessage, StringComparison.Ordinal); // nobody is told to become root
        Assert.Equal(0, map.SocketCount);
        Assert.IsType<KeepalivePermissionException>(listing);
    }

    [RootFact]
    public void PtraceRefusal_AsRoot_DoesNotAskForRoot()
    {
        // Enable-TcpKeepalive -ProcessId 1 as root on a host whose PID 1 refuses ptrace said "run as root".
        string asRoot = Pidfd.PtracePrivilege;
        string asNobody = Unprivileged.Run(() => Pidfd.PtracePrivilege);

        Assert.Contains("although this process runs as root", asRoot, StringComparison.Ordinal);
        Assert.DoesNotContain("run as root", asRoot, StringComparison.Ordinal);
        Assert.Contains("run as root, or with CAP_SYS_PTRACE", asNobody, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadableScan_HasNoDeniedMessage()
    {
        SocketOwnerMap map = SocketOwnerScan.Scan(Environment.ProcessId);

        Assert.Equal(0, map.ProcessesDenied);
        Assert.Null(map.DeniedMessage);
    }

    private static (List<(int Fd, ulong Inode)> Found, int Descriptors, int Errno) Walk(string directory, int bufferSize)
    {
        byte[] path = Encoding.UTF8.GetBytes(directory + "\0");
        byte[] buffer = new byte[bufferSize];
        byte* link = stackalloc byte[ProcFdSockets.LinkBufferSize];
        var found = new List<(int Fd, ulong Inode)>();
        fixed (byte* p = path)
        fixed (byte* dents = buffer)
        {
            var sockets = new ProcFdSockets(p, dents, bufferSize, link);
            try
            {
                while (sockets.MoveNext())
                {
                    found.Add(sockets.Current);
                }
            }
            finally
            {
                sockets.Dispose();
            }

            return (found, sockets.Descriptors, sockets.Errno);
        }
    }

    private string MakeFakeFdDirectory(params (string Name, string Target)[] links)
    {
        string fdDirectory = Path.Combine(_root, FakePid.ToString(System.Globalization.CultureInfo.InvariantCulture), "fd");
        Directory.CreateDirectory(fdDirectory);
        foreach ((string name, string target) in links)
        {
            File.CreateSymbolicLink(Path.Combine(fdDirectory, name), target);
        }

        return fdDirectory;
    }
}
