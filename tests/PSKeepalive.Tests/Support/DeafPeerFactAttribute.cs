using System;
using System.Net.Sockets;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.SelfTest;
using Xunit;

namespace PSKeepalive.Tests.Support;

/// <summary>
/// Whether this user may make a socket deaf with a drop-all socket filter (SO_ATTACH_FILTER). Some kernels
/// refuse socket filters to unprivileged users (seen on 6.18 with kernel.unprivileged_bpf_disabled = 2);
/// tests that need a deaf peer skip there with that reason. Root (CI) always may.
/// </summary>
public static class DeafPeerSupport
{
    private static readonly Lazy<string?> Refusal = new(Probe);

    /// <summary>Null when filters can be attached, else the reason to skip.</summary>
    public static string? SkipReason => Refusal.Value;

    private static string? Probe()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            DeafPeer.AttachDropAll(socket.SafeHandle, "probe socket");
            return null;
        }
        catch (KeepalivePermissionException)
        {
            return "This kernel refuses socket filters (SO_ATTACH_FILTER) to unprivileged users " +
                   "(kernel.unprivileged_bpf_disabled); a deaf peer needs root or CAP_NET_ADMIN. CI runs as root.";
        }
    }
}

/// <summary>A fact that needs a deaf peer (drop-all socket filter); see <see cref="DeafPeerSupport"/>.</summary>
public sealed class DeafPeerFactAttribute : FactAttribute
{
    public DeafPeerFactAttribute()
    {
        if (DeafPeerSupport.SkipReason is string reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A theory that needs a deaf peer (drop-all socket filter); see <see cref="DeafPeerSupport"/>.</summary>
public sealed class DeafPeerTheoryAttribute : TheoryAttribute
{
    public DeafPeerTheoryAttribute()
    {
        if (DeafPeerSupport.SkipReason is string reason)
        {
            Skip = reason;
        }
    }
}
