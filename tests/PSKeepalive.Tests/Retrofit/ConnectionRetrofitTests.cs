using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Core.Sockets;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Retrofit;

/// <summary>Exact socket options on listed connections, and SOCK_DESTROY, on sockets the test or its child holds.</summary>
public sealed class ConnectionRetrofitTests
{
    [RootFact]
    public void Fill_MakesNoKeepaliveExact_ForConnectionsAndListener_AndAgreesWithTheChild()
    {
        using var child = new SocketHolderChild(connections: 2);
        HeldSocket on = child.Connections[0], off = child.Connections[1];
        TcpKeepaliveRetrofit.Apply(new[] { new SocketTarget(child.Pid, on.Fd, on.Inode) }, new SocketKeepaliveChange(true, 50, 5, 3, 1234)).ToList();

        var listed = ConnectionSocketOptions.Fill(
            TcpConnections.Enumerate(new TcpConnectionQuery { OwningProcesses = [child.Pid], IncludeProcess = true })).ToList();

        Assert.Equal(3, listed.Count); // two connections and the listener
        var seen = child.Options();
        foreach (TcpConnection c in listed)
        {
            HeldSocket held = child.Connections.Append(child.Listener).Single(h => (ulong)c.Inode == h.Inode);
            ChildOptions own = seen[held.Fd];
            Assert.Equal(own.Enabled, c.KeepaliveEnabled);
            Assert.Equal(own.Idle, c.Idle);
            Assert.Equal(own.Interval, c.Interval);
            Assert.Equal(own.Count, c.ProbeCount);
            Assert.Equal(own.UserTimeout, c.UserTimeout);
            Assert.Equal(!own.Enabled, c.NoKeepalive);
        }

        Assert.Equal(TcpTimer.Keepalive, listed.Single(c => (ulong)c.Inode == on.Inode).Timer);
        Assert.Equal(TcpTimer.None, listed.Single(c => (ulong)c.Inode == off.Inode).Timer);
        var listener = listed.Single(c => c.State == TcpState.Listen);
        Assert.True(listener.NoKeepalive); // exact, where the timer alone says nothing for LISTEN
        Assert.Equal(1234, listed.Single(c => (ulong)c.Inode == on.Inode).UserTimeout);
    }

    /// <summary>What the cmdlets do with piped connections: owners from one /proc scan, apply, read the connection again.</summary>
    [RootFact]
    public void ListedConnection_WithoutOwners_IsResolvedByTheScan_AndReadAgainWithItsOptions()
    {
        using var child = new SocketHolderChild(connections: 1);
        HeldSocket held = child.Connections[0];
        TcpConnection listed = Assert.Single(TcpConnections.Enumerate(
            new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [held.LocalPort], RemotePorts = [child.ListenerPort] }));
        Assert.Empty(listed.Processes);
        Assert.Empty(RetrofitTargets.Of(listed));

        var owners = RetrofitTargets.ScanOwners().Owners((ulong)listed.Inode);
        var targets = RetrofitTargets.Of(listed.Inode, owners, listed.LocalAddress, listed.LocalPort, listed.RemoteAddress, listed.RemotePort);
        var result = Assert.Single(TcpKeepaliveRetrofit.Apply(targets, new SocketKeepaliveChange(Enabled: true, Idle: 77)));

        Assert.Equal((child.Pid, held.Fd), (result.Pid, result.Fd));
        Assert.Equal(KeepaliveChangeOutcome.Applied, result.Outcome);
        TcpConnection? again = RetrofitTargets.Reread(listed.Inode, child.Pid, listed.LocalPort, listed.RemotePort);
        Assert.NotNull(again);
        Assert.Equal(listed.Cookie, again!.Cookie);
        Assert.True(again.KeepaliveEnabled);
        Assert.Equal(77, again.Idle);
        Assert.False(again.NoKeepalive);
        Assert.Equal(child.Pid, again.OwningProcess);
        Assert.Equal(77, child.Options()[held.Fd].Idle);

        // The batch form (what -PassThru does at the end of a pipeline): one dump for every changed socket.
        var batch = RetrofitTargets.Reread(new[] { (listed.Inode, child.Pid) }).ToList();
        var same = Assert.Single(batch);
        Assert.Equal((again.Cookie, again.KeepaliveEnabled, again.Idle, again.Interval, again.ProbeCount, again.UserTimeout, again.OwningProcess),
            (same.Cookie, same.KeepaliveEnabled, same.Idle, same.Interval, same.ProbeCount, same.UserTimeout, same.OwningProcess));
        Assert.Equal(again.Processes.Select(p => (p.Pid, p.Fd)), same.Processes.Select(p => (p.Pid, p.Fd)));

        var unowned = RetrofitTargets.Unowned(0, "127.0.0.1", 1, "127.0.0.1", 2, "TimeWait");
        Assert.Equal(KeepaliveChangeOutcome.Skipped, unowned.Outcome);
        Assert.Contains("TIME_WAIT", unowned.Reason);
    }

    [Fact]
    public void Fill_WithoutOwners_LeavesTheConnectionAsListed()
    {
        using var sockets = new PSKeepalive.Tests.Connections.LoopbackSockets(IPAddress.Loopback);
        var (client, _) = sockets.Connect();
        var exact = Exact(client);

        var listed = Assert.Single(ConnectionSocketOptions.Fill(TcpConnections.Enumerate(exact)));

        Assert.Null(listed.KeepaliveEnabled);
        Assert.Null(listed.Idle);
        Assert.True(listed.NoKeepalive); // the timer heuristic
    }

    [RootFact]
    public void Close_ConnectionOfTheChild_PeerSeesReset_OwnerSeesAbort()
    {
        using var child = new SocketHolderChild(connections: 2);
        HeldSocket doomed = child.Connections[0], twin = child.Connections[1];
        TcpConnection listed = Assert.Single(TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [doomed.LocalPort], RemotePorts = [child.ListenerPort] }));

        var result = Assert.Single(TcpConnectionCloser.Close(new[] { TcpCloseTarget.From(listed) }));

        Assert.Equal(TcpCloseOutcome.Closed, result.Outcome);
        Assert.Equal(listed.Cookie, result.Cookie);
        var closed = child.WaitClosed(doomed.Fd, TimeSpan.FromSeconds(10));
        Assert.Equal(Errno.ECONNABORTED, closed!.Value.Errno);
        Socket peer = child.PeerOf(doomed);
        peer.ReceiveTimeout = 5000;
        var error = Assert.Throws<SocketException>(() => peer.Receive(new byte[16]));
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        Assert.Empty(TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [doomed.LocalPort], RemotePorts = [child.ListenerPort], States = new[] { TcpState.Established } }));
        Assert.False(child.HasClosed(twin.Fd));
        Assert.Single(TcpConnections.Enumerate(new TcpConnectionQuery { LocalAddresses = ["127.0.0.1"], LocalPorts = [twin.LocalPort], RemotePorts = [child.ListenerPort] }));

        // Closing it again finds nothing: skipped, not failed.
        var again = Assert.Single(TcpConnectionCloser.Close(new[] { TcpCloseTarget.From(listed) }));
        Assert.Equal(TcpCloseOutcome.Skipped, again.Outcome);
        Assert.Equal("ConnectionNotFound", again.ErrorId);
    }

    [RootTheory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Close_WithAnotherCookie_DoesNotTouchTheSocket(string address)
    {
        using var sockets = new PSKeepalive.Tests.Connections.LoopbackSockets(IPAddress.Parse(address));
        var (client, server) = sockets.Connect();
        var exact = Exact(client);
        TcpConnection listed = Assert.Single(TcpConnections.Enumerate(exact));

        var result = TcpConnectionCloser.Close(TcpCloseTarget.From(listed) with { Cookie = listed.Cookie + 1 });

        Assert.Equal(TcpCloseOutcome.Skipped, result.Outcome);
        Assert.Single(TcpConnections.Enumerate(exact));
        client.Send(new byte[] { 7 });
        server.ReceiveTimeout = 5000;
        Assert.Equal(1, server.Receive(new byte[4]));

        // And with its own cookie it is closed.
        Assert.Equal(TcpCloseOutcome.Closed, TcpConnectionCloser.Close(TcpCloseTarget.From(listed)).Outcome);
        var error = Assert.Throws<SocketException>(() => server.Receive(new byte[4]));
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
    }

    [RootFact]
    public void Close_WithoutCapNetAdmin_NamesThePrivilege_AndClosesNothing()
    {
        using var sockets = new PSKeepalive.Tests.Connections.LoopbackSockets(IPAddress.Loopback);
        var (client, server) = sockets.Connect();
        var exact = Exact(client);
        TcpConnection listed = Assert.Single(TcpConnections.Enumerate(exact));

        var error = Unprivileged.Run(() => Record.Exception(() => TcpConnectionCloser.Close(new[] { TcpCloseTarget.From(listed) }).ToList()));

        var permission = Assert.IsType<KeepalivePermissionException>(error);
        Assert.Equal("ConnectionPermissionDenied", permission.ErrorId);
        Assert.Contains("CAP_NET_ADMIN", permission.Message);
        client.Send(new byte[] { 7 });
        server.ReceiveTimeout = 5000;
        Assert.Equal(1, server.Receive(new byte[4]));
    }

    /// <summary>The one connection of <paramref name="client"/> (a local port alone is not unique on a busy host).</summary>
    private static TcpConnectionQuery Exact(Socket client)
    {
        var local = (IPEndPoint)client.LocalEndPoint!;
        var remote = (IPEndPoint)client.RemoteEndPoint!;
        return new TcpConnectionQuery { LocalAddresses = [local.Address.ToString()], LocalPorts = [local.Port], RemoteAddresses = [remote.Address.ToString()], RemotePorts = [remote.Port] };
    }

    [Fact]
    public void CloseErrors_NameTheKernelOption()
    {
        var target = new TcpCloseTarget("127.0.0.1", 1, "127.0.0.1", 2);

        var notSupported = Assert.IsType<KeepaliveNotSupportedException>(TcpConnectionCloser.ErrorFor(Errno.EOPNOTSUPP, target));
        Assert.Contains("CONFIG_INET_DIAG_DESTROY", notSupported.Message);
        Assert.Equal("ConnectionNotSupported", notSupported.ErrorId);
        var permission = Assert.IsType<KeepalivePermissionException>(TcpConnectionCloser.ErrorFor(Errno.EPERM, target));
        Assert.Contains("CAP_NET_ADMIN", permission.Message);
    }

    [Fact]
    public void SocketId_MapsAddressesByFamily()
    {
        var (family4, id4) = TcpConnectionCloser.SocketIdOf(new TcpCloseTarget("127.0.0.2", 80, "127.0.0.3", 4000, 42));
        Assert.Equal(2, family4);
        Assert.Equal(new byte[] { 127, 0, 0, 2 }, ((ReadOnlySpan<byte>)id4.Source).Slice(0, 4).ToArray());
        Assert.Equal(new byte[12], ((ReadOnlySpan<byte>)id4.Source).Slice(4).ToArray());
        Assert.Equal((80, 4000, 42UL), (id4.SourcePort, id4.DestinationPort, id4.Cookie));

        var (family6, id6) = TcpConnectionCloser.SocketIdOf(new TcpCloseTarget("::ffff:127.0.0.1", 80, "::1", 4000));
        Assert.Equal(10, family6);
        Assert.Equal(IPAddress.Parse("::ffff:127.0.0.1").GetAddressBytes(), ((ReadOnlySpan<byte>)id6.Source).ToArray());
        Assert.Equal(TcpConnectionCloser.AnyCookie, id6.Cookie);

        Assert.Throws<KeepaliveValidationException>(() => TcpConnectionCloser.SocketIdOf(new TcpCloseTarget("nonsense", 1, "::1", 2)));
        Assert.Throws<KeepaliveValidationException>(() => TcpConnectionCloser.SocketIdOf(new TcpCloseTarget("::1", 70000, "::1", 2)));
    }
}
