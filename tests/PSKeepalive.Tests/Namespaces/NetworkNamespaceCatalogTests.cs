using System;
using System.IO;
using System.Linq;
using PSKeepalive.Core.Namespaces;
using PSKeepalive.Core.Processes;
using Xunit;

namespace PSKeepalive.Tests.Namespaces;

public sealed class NetworkNamespaceCatalogTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "pskeepalive-catalog-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public void List_OffersBoundNamespacesThenOneProcessPerOtherNamespace()
    {
        string proc = Path.Combine(_root, "proc");
        string runNetns = Path.Combine(_root, "netns");
        Directory.CreateDirectory(runNetns);
        File.WriteAllText(Path.Combine(runNetns, "blue"), string.Empty);
        FakeProcess(proc, 10, "nginx", "net:[111]");
        FakeProcess(proc, 11, "nginx-worker", "net:[111]");
        FakeProcess(proc, 12, "postgres", "net:[222]");
        FakeProcess(proc, 13, "self", NetworkNamespace.Current());
        Directory.CreateDirectory(Path.Combine(proc, "not-a-pid"));

        var entries = NetworkNamespaceCatalog.List(runNetns, proc);

        Assert.Equal(
            [Path.Combine(runNetns, "blue"), $"{proc}/10/ns/net", $"{proc}/12/ns/net"],
            entries.Select(e => e.Path));
        Assert.Equal("ip netns blue", entries[0].Description);
        Assert.Matches(@"^net:\[\d+\]$", entries[0].Id);
        Assert.Equal(("net:[111]", "process 10 (nginx)"), (entries[1].Id, entries[1].Description));
        Assert.Equal("process 12 (postgres)", entries[2].Description);
    }

    [Fact]
    public void List_OnThisHost_NeverOffersTheCallersOwnNamespace()
    {
        var entries = NetworkNamespaceCatalog.List();

        Assert.DoesNotContain(entries, e => e.Id == NetworkNamespace.Current());
        Assert.Equal(entries.Count, entries.Select(e => e.Id).Distinct().Count());
    }

    [Fact]
    public void RunningProcesses_IncludesThisProcessWithItsName()
    {
        Assert.Contains(Environment.ProcessId, RunningProcesses.Pids());
        Assert.Equal(File.ReadAllText("/proc/self/comm").TrimEnd('\n'), ProcessName.Read(Environment.ProcessId));
        Assert.Null(ProcessName.Read(int.MaxValue));
    }

    private static void FakeProcess(string proc, int pid, string name, string namespaceId)
    {
        string ns = Path.Combine(proc, pid.ToString(), "ns");
        Directory.CreateDirectory(ns);
        File.CreateSymbolicLink(Path.Combine(ns, "net"), namespaceId);
        File.WriteAllText(Path.Combine(proc, pid.ToString(), "comm"), name + "\n");
    }
}
