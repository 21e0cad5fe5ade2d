using System;
using System.Net.Sockets;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.SelfTest;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.SelfTest;

/// <summary>
/// The self-test's drop-all filter needs no privilege on most kernels; where the kernel refuses it to unprivileged
/// processes (this machine: 6.18, unprivileged_bpf_disabled = 2), the error names what grants it.
/// </summary>
public sealed class DeafPeerPrivilegeTests
{
    [RootFact]
    public void AsNobody_TheFilterIsAttached_OrTheRefusalNamesCapNetAdmin()
    {
        string outcome = Unprivileged.Run(() =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                DeafPeer.AttachDropAll(socket.SafeHandle, "test socket");
                return "attached";
            }
            catch (KeepalivePermissionException e)
            {
                return e.Message;
            }
        });

        if (outcome != "attached")
        {
            Assert.Contains("This needs root or CAP_NET_ADMIN", outcome, StringComparison.Ordinal);
            Assert.Contains("unprivileged_bpf_disabled", outcome, StringComparison.Ordinal);
        }

        using var asRoot = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        DeafPeer.AttachDropAll(asRoot.SafeHandle, "test socket"); // root always may
    }
}
