using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Core.Sockets;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Retrofit;

/// <summary>
/// Core retrofit against a python3 child this test starts: every socket acted on is one the child holds
/// (connections to the test's own listener, its own listener); targets are always the child's PID.
/// </summary>
public sealed class RetrofitCoreTests
{
    private static readonly SocketKeepaliveChange Enable112 = new(Enabled: true, Idle: 1, Interval: 1, Count: 2, UserTimeout: 0);

    [Theory]
    [InlineData(1, "Established")]
    [InlineData(7, "Closed")]
    [InlineData(10, "Listen")]
    [InlineData(12, "SynReceived")]
    [InlineData(13, "Unknown")]
    public void StateName_UsesTheWordsOfGetTcpConnection(int kernelState, string expected)
    {
        Assert.Equal(expected, RemoteSocket.StateName(kernelState));
        if (expected != "Unknown")
        {
            Assert.True(Enum.TryParse(expected, out PSKeepalive.Core.Connections.TcpState _));
        }
    }

    [RootFact]
    public void ApplyToProcess_TheChildSeesExactlyTheNewValues_OnConnectionsAndListener()
    {
        using var child = new SocketHolderChild(connections: 2);
        var before = child.Options();
        Assert.All(before.Values, o => Assert.False(o.Enabled));

        var change = new SocketKeepaliveChange(Enabled: true, Idle: 61, Interval: 11, Count: 7, UserTimeout: 45000);
        var results = TcpKeepaliveRetrofit.ApplyToProcess(child.Pid, change).ToList();

        // Two connections and the listener; the UDP socket is not TCP and is left out.
        Assert.Equal(3, results.Count);
        Assert.DoesNotContain(results, r => r.Fd == child.Udp.Fd);
        Assert.All(results, r =>
        {
            Assert.Equal(KeepaliveChangeOutcome.Applied, r.Outcome);
            Assert.Null(r.Reason);
            Assert.Equal(child.Pid, r.Pid);
            Assert.False(r.Before!.Enabled);
            Assert.Equal(new SocketKeepaliveOptions(true, 61, 11, 7, 45000), r.After);
        });
        var listener = results.Single(r => r.Fd == child.Listener.Fd);
        Assert.Equal("Listen", listener.State);
        Assert.Equal(child.Listener.Inode, listener.Inode);
        Assert.Equal(0, listener.RemotePort);
        foreach (HeldSocket held in child.Connections)
        {
            var r = results.Single(x => x.Fd == held.Fd);
            Assert.Equal("Established", r.State);
            Assert.Equal(held.Inode, r.Inode);
            Assert.Equal(("127.0.0.1", held.LocalPort), (r.LocalAddress, r.LocalPort));
            Assert.Equal(("127.0.0.1", child.ListenerPort), (r.RemoteAddress, r.RemotePort));
        }

        var seen = child.Options();
        Assert.Equal(3, seen.Count);
        Assert.All(seen.Values, o => Assert.Equal(new ChildOptions(true, 61, 11, 7, 45000), o));

        // The same change again writes nothing.
        var again = TcpKeepaliveRetrofit.ApplyToProcess(child.Pid, change).ToList();
        Assert.All(again, r => Assert.Equal(KeepaliveChangeOutcome.Skipped, r.Outcome));
        Assert.All(again, r => Assert.Contains("already", r.Reason));

        // And back off: only SO_KEEPALIVE changes.
        var off = TcpKeepaliveRetrofit.ApplyToProcess(child.Pid, new SocketKeepaliveChange(Enabled: false)).ToList();
        Assert.All(off, r => Assert.Equal(KeepaliveChangeOutcome.Applied, r.Outcome));
        Assert.All(child.Options().Values, o => Assert.Equal(new ChildOptions(false, 61, 11, 7, 45000), o));
    }

    [RootFact]
    public void ApplyToProcess_Ipv6_Works()
    {
        using var child = new SocketHolderChild(connections: 1, host: "::1");
        var results = TcpKeepaliveRetrofit.ApplyToProcess(child.Pid, new SocketKeepaliveChange(Enabled: true, Idle: 99)).ToList();
        var conn = results.Single(r => r.Fd == child.Connections[0].Fd);
        Assert.Equal(KeepaliveChangeOutcome.Applied, conn.Outcome);
        Assert.Equal(("::1", "::1"), (conn.LocalAddress, conn.RemoteAddress));
        Assert.Equal(new ChildOptions(true, 99, child.Options()[conn.Fd].Interval, child.Options()[conn.Fd].Count, 0), child.Options()[conn.Fd]);
    }

    [RootFact]
    public void Apply_OutOfRange_IsRefusedBeforeAnySocketIsTouched()
    {
        using var child = new SocketHolderChild(connections: 1);
        var before = child.Options();

        var error = Assert.Throws<KeepaliveValidationException>(() =>
            TcpKeepaliveRetrofit.ApplyToProcess(child.Pid, new SocketKeepaliveChange(Enabled: true, Idle: 60, Count: 128)).ToList());

        Assert.Equal("Count", error.ParameterName);
        Assert.Contains("1 and 127", error.Message);
        Assert.Equal(before, child.Options());
    }

    [RootFact]
    public void Apply_ShouldProcessDeclined_ChangesNothing()
    {
        using var child = new SocketHolderChild(connections: 2);
        var before = child.Options();
        var asked = new System.Collections.Generic.List<(string Target, string Action)>();

        var results = TcpKeepaliveRetrofit.ApplyToProcess(child.Pid, Enable112, (t, a) =>
        {
            asked.Add((t, a));
            return false;
        }).ToList();

        Assert.Empty(results);
        Assert.Equal(3, asked.Count);
        Assert.All(asked, a => Assert.Contains($"process {child.Pid}", a.Target));
        Assert.All(asked, a => Assert.Contains("SO_KEEPALIVE=1", a.Action));
        Assert.Contains(asked, a => a.Target.Contains($"socket:[{child.Connections[0].Inode}]") && a.Target.Contains($"-> 127.0.0.1:{child.ListenerPort}"));
        Assert.Equal(before, child.Options());
    }

    [RootFact]
    public void Apply_OneTarget_LeavesTheTwinUntouched()
    {
        using var child = new SocketHolderChild(connections: 2);
        HeldSocket one = child.Connections[0], twin = child.Connections[1];
        var twinBefore = child.Options()[twin.Fd];

        var result = Assert.Single(TcpKeepaliveRetrofit.Apply(new[] { new SocketTarget(child.Pid, one.Fd, one.Inode) }, Enable112));

        Assert.Equal(KeepaliveChangeOutcome.Applied, result.Outcome);
        var now = child.Options();
        Assert.Equal(new ChildOptions(true, 1, 1, 2, 0), now[one.Fd]);
        Assert.Equal(twinBefore, now[twin.Fd]);
    }

    [RootFact]
    public void Apply_DescriptorNowHoldsAnotherSocket_IsSkippedAndNotTouched()
    {
        using var child = new SocketHolderChild(connections: 1);
        HeldSocket held = child.Connections[0];
        ulong fresh = child.Replace(held.Fd);
        Assert.NotEqual(held.Inode, fresh);

        var result = Assert.Single(TcpKeepaliveRetrofit.Apply(new[] { new SocketTarget(child.Pid, held.Fd, held.Inode) }, Enable112));

        Assert.Equal(KeepaliveChangeOutcome.Skipped, result.Outcome);
        Assert.Equal("SocketInvalidTarget", result.ErrorId);
        Assert.Contains($"socket:[{fresh}]", result.Reason);
        Assert.Contains("untouched", result.Reason);
        Assert.Null(result.After);
        Assert.False(child.Options()[held.Fd].Enabled);

        // RemoteSocket itself refuses the copy with the wrong inode.
        var error = Assert.Throws<KeepaliveInvalidTargetException>(() => RemoteSocket.Open(child.Pid, held.Fd, held.Inode));
        Assert.Contains($"socket:[{held.Inode}]", error.Message);
    }

    [RootFact]
    public void Apply_SocketClosedMeanwhile_IsSkipped()
    {
        using var child = new SocketHolderChild(connections: 2);
        HeldSocket gone = child.Connections[0];
        child.Close(gone.Fd);

        var result = Assert.Single(TcpKeepaliveRetrofit.Apply(new[] { new SocketTarget(child.Pid, gone.Fd, gone.Inode) }, Enable112));

        Assert.Equal(KeepaliveChangeOutcome.Skipped, result.Outcome);
        Assert.Equal("ProcessNotFound", result.ErrorId);
        Assert.Contains("closed", result.Reason);
        Assert.Throws<KeepaliveNotFoundException>(() => RemoteSocket.Open(child.Pid, gone.Fd, gone.Inode));
    }

    [RootFact]
    public void Apply_ProcessGone_IsSkipped_AndApplyToProcessSaysNotFound()
    {
        var child = new SocketHolderChild(connections: 1);
        int pid = child.Pid;
        HeldSocket held = child.Connections[0];
        child.Dispose();

        var result = Assert.Single(TcpKeepaliveRetrofit.Apply(new[] { new SocketTarget(pid, held.Fd, held.Inode, "127.0.0.1", held.LocalPort) }, Enable112));

        Assert.Equal(KeepaliveChangeOutcome.Skipped, result.Outcome);
        Assert.Equal("ProcessNotFound", result.ErrorId);
        Assert.Contains("exited", result.Reason);
        Assert.Equal(("127.0.0.1", held.LocalPort), (result.LocalAddress, result.LocalPort));
        var error = Assert.Throws<KeepaliveNotFoundException>(() => TcpKeepaliveRetrofit.ApplyToProcess(pid, Enable112).ToList());
        Assert.Equal("ProcessNotFound", error.ErrorId);
    }

    [RootFact]
    public void Apply_WithoutPtraceAccess_FailsWithThePrivilegeNamed_AndChangesNothing()
    {
        using var child = new SocketHolderChild(connections: 1);
        HeldSocket held = child.Connections[0];
        var before = child.Options();

        var listing = Unprivileged.Run(() => Record.Exception(() => TcpKeepaliveRetrofit.ApplyToProcess(child.Pid, Enable112).ToList()));
        var result = Unprivileged.Run(() => TcpKeepaliveRetrofit.Apply(new[] { new SocketTarget(child.Pid, held.Fd, held.Inode) }, Enable112).Single());

        var permission = Assert.IsType<KeepalivePermissionException>(listing);
        Assert.Contains("CAP_SYS_PTRACE", permission.Message);
        Assert.Equal(KeepaliveChangeOutcome.Failed, result.Outcome);
        Assert.Equal("ProcessPermissionDenied", result.ErrorId);
        Assert.Contains("pidfd_getfd", result.Reason);
        Assert.Contains("CAP_SYS_PTRACE", result.Reason);
        Assert.Equal(before, child.Options());
    }

    [RootFact]
    public void TryRead_ReadsTheChildsValues_AndNullForAWrongInode()
    {
        using var child = new SocketHolderChild(connections: 1);
        HeldSocket held = child.Connections[0];
        TcpKeepaliveRetrofit.Apply(new[] { new SocketTarget(child.Pid, held.Fd, held.Inode) }, new SocketKeepaliveChange(Enabled: true, Idle: 33)).ToList();

        var options = TcpKeepaliveRetrofit.TryRead(child.Pid, held.Fd, held.Inode);

        var seen = child.Options()[held.Fd];
        Assert.Equal(new SocketKeepaliveOptions(seen.Enabled, seen.Idle, seen.Interval, seen.Count, seen.UserTimeout), options);
        Assert.True(options!.Enabled);
        Assert.Null(TcpKeepaliveRetrofit.TryRead(child.Pid, held.Fd, held.Inode + 1));
    }

    [Fact]
    public void Pidfd_NonPositivePid_IsAValidationError()
    {
        Assert.Throws<KeepaliveValidationException>(() => RemoteSocket.Open(0, 3, 1));
        Assert.Throws<KeepaliveValidationException>(() => ProcessSockets.List(-5));
    }

    [Fact]
    public void PidfdErrors_NameTheCondition_ThePrivilege_AndTheKernelVersion()
    {
        var noSyscall = Assert.IsType<KeepaliveNotSupportedException>(Pidfd.GetFdError(PSKeepalive.Core.Interop.Errno.ENOSYS, 42, 7));
        Assert.Contains("Linux 5.6", noSyscall.Message);
        Assert.Equal("ProcessNotSupported", noSyscall.ErrorId);
        Assert.Contains("Linux 5.3", Assert.IsType<KeepaliveNotSupportedException>(Pidfd.OpenError(PSKeepalive.Core.Interop.Errno.ENOSYS, 42)).Message);

        var permission = Assert.IsType<KeepalivePermissionException>(Pidfd.GetFdError(PSKeepalive.Core.Interop.Errno.EPERM, 42, 7));
        Assert.Contains(Pidfd.PtracePrivilege, permission.Message); // worded for whoever runs the test (root or not)
        string forUsers = Pidfd.PtracePrivilegeFor(root: false);
        Assert.Contains("CAP_SYS_PTRACE", forUsers);
        Assert.Contains("root", forUsers);
        Assert.Contains("ptrace_scope", forUsers);
        Assert.Contains("although this process runs as root", Pidfd.PtracePrivilegeFor(root: true));

        Assert.Contains("exited", Assert.IsType<KeepaliveNotFoundException>(Pidfd.GetFdError(PSKeepalive.Core.Interop.Errno.ESRCH, 42, 7)).Message);
        Assert.Contains("closed it", Assert.IsType<KeepaliveNotFoundException>(Pidfd.GetFdError(PSKeepalive.Core.Interop.Errno.EBADF, 42, 7)).Message);
    }

    [Fact]
    public void SocketLink_Parses()
    {
        Assert.True(PSKeepalive.Core.Processes.SocketOwnerScan.TryParseSocketInode(System.Text.Encoding.ASCII.GetBytes("socket:[123456]"), out ulong inode));
        Assert.Equal(123456UL, inode);
        Assert.False(PSKeepalive.Core.Processes.SocketOwnerScan.TryParseSocketInode(System.Text.Encoding.ASCII.GetBytes("pipe:[1]"), out _));
        Assert.False(PSKeepalive.Core.Processes.SocketOwnerScan.TryParseSocketInode(System.Text.Encoding.ASCII.GetBytes("socket:[]"), out _));
        Assert.False(PSKeepalive.Core.Processes.SocketOwnerScan.TryParseSocketInode(System.Text.Encoding.ASCII.GetBytes("/dev/null"), out _));
    }

    /// <summary>
    /// End to end: both peers (the test's sockets) go deaf; the connection whose keepalive was switched on
    /// from outside (idle 1, interval 1, count 2) dies with ETIMEDOUT about 3 s after the last data, the
    /// untouched twin stays up.
    /// </summary>
    [RootFact]
    public void DeafPeer_TheRetrofittedConnectionDies_TheTwinSurvives()
    {
        using var child = new SocketHolderChild(connections: 2);
        HeldSocket fixedOne = child.Connections[0], twin = child.Connections[1];
        var peer = child.PeerOf(fixedOne);

        // Last data on the connection: the idle time counts from here.
        peer.Send(new byte[] { 1 });
        double lastData = child.WaitData(fixedOne.Fd, TimeSpan.FromSeconds(10));
        Thread.Sleep(100); // let the child's ACK reach the peer before it goes deaf
        PSKeepalive.Core.SelfTest.DeafPeer.AttachDropAll(peer.SafeHandle, "test peer");
        PSKeepalive.Core.SelfTest.DeafPeer.AttachDropAll(child.PeerOf(twin).SafeHandle, "test peer");

        var result = Assert.Single(TcpKeepaliveRetrofit.Apply(new[] { new SocketTarget(child.Pid, fixedOne.Fd, fixedOne.Inode) }, Enable112));
        Assert.Equal(KeepaliveChangeOutcome.Applied, result.Outcome);
        Assert.Contains("timer:(keepalive", Ss(fixedOne.LocalPort, child.ListenerPort));
        Assert.DoesNotContain("keepalive", Ss(twin.LocalPort, child.ListenerPort));

        var closed = child.WaitClosed(fixedOne.Fd, TimeSpan.FromSeconds(15));

        Assert.NotNull(closed);
        Assert.Equal(110, closed!.Value.Errno); // ETIMEDOUT
        double died = closed.Value.Time - lastData;
        Assert.InRange(died, 2.5, 6.0); // idle 1 + interval 1 x count 2 = 3 s
        Assert.False(child.HasClosed(twin.Fd));
        Assert.False(child.Options()[twin.Fd].Enabled);
    }

    /// <summary>The socket of the child's local port as `ss -tnoH` shows it (an independent look at the kernel's timer).</summary>
    internal static string Ss(int localPort, int remotePort)
    {
        var start = new ProcessStartInfo("ss") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[] { "-4tnoH", "state", "established", "src", $"127.0.0.1:{localPort}", "dst", $"127.0.0.1:{remotePort}" })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(10_000), "ss did not finish within 10 s");
        Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($":{localPort}", output);
        return output;
    }
}
