using System;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Netlink;
using Xunit;

namespace PSKeepalive.Tests.Netlink;

public sealed class NetlinkSocketTests
{
    [Fact]
    public void Open_BindsToAKernelAssignedPort()
    {
        using var socket = NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag);

        Assert.NotEqual(0u, socket.PortId);
    }

    [Fact]
    public void KernelRejection_ComesBackAsTheErrnoException()
    {
        // sock_diag answers EINVAL for an address family beyond AF_MAX; NLM_F_ACK asks for the answer.
        using var socket = NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag);
        uint sequence = socket.NextSequence();
        var request = new byte[InetDiag.RequestMessageLength];
        InetDiag.WriteRequest(request, InetDiag.SockDiagByFamily, NetlinkConstants.FlagRequest | NetlinkConstants.FlagAck, sequence, 200, InetDiag.AllStates, 0, default);

        var error = Assert.Throws<KeepaliveKernelException>(() => socket.SendAndWaitForAck(request, sequence, "query family 200", 200));

        Assert.Equal(22, error.Errno);
        Assert.Equal("NetlinkKernelFailure", error.ErrorId);
        Assert.Contains("query family 200", error.Message);
    }

    [Fact]
    public void Disposed_RefusesToSend()
    {
        var socket = NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag);
        socket.Dispose();

        Assert.Throws<ObjectDisposedException>(() => socket.Send(new byte[16]));
    }

    [Fact]
    public void Open_InPathThatIsNoNamespace_IsRefusedClearly()
    {
        var error = Assert.Throws<KeepaliveInvalidTargetException>(() => NetlinkSocket.Open(NetlinkConstants.ProtocolSockDiag, "/etc/hostname"));

        Assert.Equal("NetworkNamespaceInvalidTarget", error.ErrorId);
    }
}
