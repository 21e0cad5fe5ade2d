using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Namespaces;
using PSKeepalive.Core.Settings;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Namespaces;

/// <summary>
/// Output objects name their namespace as the kernel does (net:[INODE]); piping them back in (e.g.
/// Get-TcpKeepaliveSetting -NetworkNamespace X | Set-TcpKeepaliveSetting) must reach the same namespace.
/// </summary>
public sealed class KernelNamespaceNameTests
{
    [Fact]
    public void TheCallersOwnKernelName_RunsInPlace()
    {
        string own = NetworkNamespace.Current();

        var setting = new TcpKeepaliveSettings().Get(own);

        Assert.Equal(own, setting.NetworkNamespace);
    }

    [Fact]
    public void AKernelNameNobodyHolds_IsNotFoundWithWhatToGive()
    {
        var error = Assert.Throws<KeepaliveNotFoundException>(() => new TcpKeepaliveSettings().Get("net:[1]"));

        Assert.Contains("net:[1]", error.Message);
        Assert.Contains("/proc/PID/ns/net", error.Message);
    }

    [RootFact]
    public void AKernelNameOfAnotherProcessesNamespace_ReachesThatNamespace()
    {
        string own = NetworkNamespace.Current();
        using var holder = Process.Start(new ProcessStartInfo("unshare", "--net sleep 30") { UseShellExecute = false })!;
        try
        {
            string? id = null;
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline)
            {
                // unshare execs sleep after entering the new namespace; wait for the link to change.
                id = new FileInfo($"/proc/{holder.Id}/ns/net").LinkTarget;
                if (id is not null && id != own)
                {
                    break;
                }

                Thread.Sleep(20);
            }

            Assert.NotNull(id);
            Assert.NotEqual(own, id);

            var setting = new TcpKeepaliveSettings().Get(id);

            Assert.Equal(id, setting.NetworkNamespace);
            Assert.Equal($"/proc/{holder.Id}/ns/net", NetworkNamespace.Resolve(id!));
        }
        finally
        {
            holder.Kill();
            holder.WaitForExit(10_000);
        }
    }
}
