using System;
using System.IO;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Namespaces;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Namespaces;

/// <summary>
/// net:[INODE] is found through a /run/netns entry or a process in that namespace, and the process may be gone
/// (its ID reused by a process elsewhere) by the time the path is opened: the namespace actually opened must be
/// the one asked for, checked on the open descriptor, before anything is done in it.
/// </summary>
public sealed class KernelNameVerificationTests
{
    [RootFact]
    public void AStaleMapping_ToAnotherNamespace_IsRefusedBeforeActing()
    {
        using var asked = new PrivateNetworkNamespace();
        using var other = new PrivateNetworkNamespace();
        string id = new FileInfo(asked.Path).LinkTarget!;
        bool ran = false;

        // As when the process found for net:[A] exits and its PID now names a process in namespace B.
        var error = Assert.Throws<KeepaliveNotFoundException>(() =>
            NetworkNamespace.Run(id, () => ran = true, _ => other.Path));

        Assert.False(ran);
        Assert.Contains(id, error.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was done", error.Message, StringComparison.Ordinal);
    }

    [RootFact]
    public void AMappingThatHolds_Runs_AndAStaleOneIsLookedUpAgain()
    {
        using var asked = new PrivateNetworkNamespace();
        using var other = new PrivateNetworkNamespace();
        string id = new FileInfo(asked.Path).LinkTarget!;
        int lookups = 0;

        // The first answer is stale, the next one right (another process in the namespace, or its /run/netns entry).
        string inside = NetworkNamespace.Run(id, NetworkNamespace.Current, _ => ++lookups == 1 ? other.Path : asked.Path);

        Assert.Equal(id, inside);
        Assert.Equal(2, lookups);
    }
}
