using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using PSKeepalive.Core.Bpf;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Policy;
using PSKeepalive.Tests.Preload;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Policy;

/// <summary>
/// Policies on real throw-away cgroups: the kernel applies them to the connections that programs inside make and
/// accept, and to nothing else. Every test removes its cgroups (and with them the programs) even when it fails.
/// </summary>
public sealed class PolicyKernelTests
{
    private static readonly KeepalivePolicySettings Full = new() { Idle = 61, Interval = 11, Count = 7, UserTimeout = 5000 };

    internal static TcpKeepalivePolicy Set(ThrowawayCgroup cgroup, KeepalivePolicySettings settings)
    {
        using CgroupDirectory directory = CgroupDirectory.Open(cgroup.Path);
        return TcpKeepalivePolicies.Set(directory, settings) ?? throw new InvalidOperationException("Set declined without a ShouldProcess");
    }

    internal static BpfQueryResult Query(string path)
    {
        using CgroupDirectory directory = CgroupDirectory.Open(path);
        return AttachedPrograms.QueryCgroup(directory);
    }

    private static int WaitForPort(string portFile)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!File.Exists(portFile))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the server did not write its port");
            }

            Thread.Sleep(10);
        }

        return int.Parse(File.ReadAllText(portFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [CgroupTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void ClientAndAcceptedEnd_InsideTheCgroup_GetTheValues_DynamicOrStatic(bool statically)
    {
        using var cgroup = new ThrowawayCgroup();
        Set(cgroup, Full);

        ProgramRun run = PolicyProbe.Run(cgroup, statically, "pair");

        foreach (string end in new[] { "outgoing", "accepted" })
        {
            Assert.Equal(1, run[end]["so_keepalive"]);
            Assert.Equal(61, run[end]["idle"]);
            Assert.Equal(11, run[end]["intvl"]);
            Assert.Equal(7, run[end]["cnt"]);
            Assert.Equal(5000, run[end]["user_timeout"]);
        }
    }

    [CgroupFact]
    public void AServerInside_AcceptingAClientOutside_GetsTheValues_TheClientOutsideGetsNothing()
    {
        using var cgroup = new ThrowawayCgroup();
        Set(cgroup, new KeepalivePolicySettings { Idle = 62 });
        string portFile = Path.Combine(CCompiler.NewDirectory(), "port");

        Task<ProgramRun> server = Task.Run(() => PolicyProbe.Run(cgroup, statically: false, "serve", portFile));
        int port = WaitForPort(portFile);
        using var client = new TcpClient();
        client.Connect(IPAddress.Loopback, port);
        ProgramRun run = server.Wait(TimeSpan.FromSeconds(30)) ? server.Result : throw new TimeoutException("the server did not finish");

        Assert.Equal(1, run["accepted"]["so_keepalive"]);
        Assert.Equal(62, run["accepted"]["idle"]);
        Assert.Equal(0, (int)client.Client.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
    }

    [CgroupFact]
    public void AProgramOutsideTheCgroup_GetsNothing()
    {
        using var cgroup = new ThrowawayCgroup();
        Set(cgroup, Full);

        ProgramRun outside = PolicyProbe.Run(null, statically: false, "pair");

        Assert.Equal(0, outside["outgoing"]["so_keepalive"]);
        Assert.Equal(0, outside["accepted"]["so_keepalive"]);
        Assert.NotEqual(61, outside["outgoing"]["idle"]);
    }

    [CgroupTheory]
    [InlineData(KeepalivePolicyMode.All, 1, 1)]
    [InlineData(KeepalivePolicyMode.Outgoing, 1, 0)]
    [InlineData(KeepalivePolicyMode.Listening, 0, 1)]
    public void Mode_ChoosesTheDirections(KeepalivePolicyMode mode, int outgoing, int accepted)
    {
        using var cgroup = new ThrowawayCgroup();
        Set(cgroup, new KeepalivePolicySettings { Idle = 63, Mode = mode });

        ProgramRun run = PolicyProbe.Run(cgroup, statically: false, "pair");

        Assert.Equal(outgoing, run["outgoing"]["so_keepalive"]);
        Assert.Equal(accepted, run["accepted"]["so_keepalive"]);
    }

    [CgroupFact]
    public void AProgramThatSwitchedKeepaliveOnItself_KeepsItsValues_UnlessForced()
    {
        using var cgroup = new ThrowawayCgroup();
        Set(cgroup, Full);

        ProgramRun own = PolicyProbe.Run(cgroup, statically: false, "own");
        ProgramRun listener = PolicyProbe.Run(cgroup, statically: false, "own-listener");
        Set(cgroup, Full with { Force = true });
        ProgramRun forced = PolicyProbe.Run(cgroup, statically: false, "own");

        Assert.Equal(33, own["outgoing"]["idle"]);      // set before connect(): kept
        Assert.NotEqual(11, own["outgoing"]["intvl"]);  // and nothing of the policy added
        Assert.Equal(61, own["accepted"]["idle"]);      // the other end chose nothing
        Assert.Equal(44, listener["accepted"]["idle"]); // inherited from the program's listener: kept
        Assert.Equal(61, forced["outgoing"]["idle"]);
        Assert.Equal(11, forced["outgoing"]["intvl"]);
    }

    [CgroupFact]
    public void TimersNotGiven_AreLeftToTheSysctls()
    {
        using var cgroup = new ThrowawayCgroup();
        Set(cgroup, new KeepalivePolicySettings());

        ProgramRun inside = PolicyProbe.Run(cgroup, statically: false, "pair");
        ProgramRun outside = PolicyProbe.Run(null, statically: false, "pair");

        Assert.Equal(1, inside["outgoing"]["so_keepalive"]);
        Assert.Equal(outside["outgoing"]["idle"], inside["outgoing"]["idle"]);
        Assert.Equal(outside["outgoing"]["intvl"], inside["outgoing"]["intvl"]);
        Assert.Equal(outside["outgoing"]["cnt"], inside["outgoing"]["cnt"]);
        Assert.Equal(0, inside["outgoing"]["user_timeout"]);
    }

    [CgroupFact]
    public void NestedPolicies_TheNearestCgroupDecides_AndADescendantWithoutOneInheritsIt()
    {
        using var parent = new ThrowawayCgroup();
        ThrowawayCgroup child = parent.Child();
        ThrowawayCgroup grandchild = child.Child();
        ThrowawayCgroup sibling = parent.Child();
        Set(parent, new KeepalivePolicySettings { Idle = 100, Force = true });
        Set(child, new KeepalivePolicySettings { Idle = 200, Mode = KeepalivePolicyMode.Outgoing });

        ProgramRun inParent = PolicyProbe.Run(parent, statically: false, "pair");
        ProgramRun inChild = PolicyProbe.Run(child, statically: false, "pair");
        ProgramRun inGrandchild = PolicyProbe.Run(grandchild, statically: false, "pair");
        ProgramRun inSibling = PolicyProbe.Run(sibling, statically: false, "pair");
        ProgramRun ownInChild = PolicyProbe.Run(child, statically: false, "own");

        Assert.Equal(100, inParent["outgoing"]["idle"]);
        Assert.Equal(200, inChild["outgoing"]["idle"]);
        Assert.Equal(200, inGrandchild["outgoing"]["idle"]);
        Assert.Equal(100, inSibling["outgoing"]["idle"]);

        // The child's policy covers outgoing connections only; the parent's (All, forced) does not step in.
        Assert.Equal(0, inChild["accepted"]["so_keepalive"]);
        Assert.Equal(0, inGrandchild["accepted"]["so_keepalive"]);
        Assert.Equal(1, inSibling["accepted"]["so_keepalive"]);

        // The child's policy respects a program's own keepalive, and the parent's forced one does not override it there.
        Assert.Equal(33, ownInChild["outgoing"]["idle"]);
    }

    [CgroupFact]
    public void Replace_KeepsEveryConnectionCovered_AndLeavesOnePolicy()
    {
        using var cgroup = new ThrowawayCgroup();
        uint first = Set(cgroup, new KeepalivePolicySettings { Idle = 70 }).ProgramId;

        Task<ProgramRun> loop = Task.Run(() => PolicyProbe.Run(cgroup, statically: false, "loop", "3", "70", "71"));
        uint last = first;
        var watch = Stopwatch.StartNew();
        for (int i = 0; !loop.IsCompleted && watch.Elapsed < TimeSpan.FromSeconds(20); i++)
        {
            last = Set(cgroup, new KeepalivePolicySettings { Idle = 70 + (i % 2) }).ProgramId;
        }

        ProgramRun run = loop.Wait(TimeSpan.FromSeconds(30)) ? loop.Result : throw new TimeoutException("the connect loop did not finish");

        Assert.True(run["loop"]["total"] > 100, run.ToString());
        Assert.Equal(0, run["loop"]["missing"]);
        Assert.Equal(0, run["loop"]["wrong"]);
        Assert.NotEqual(first, last);
        Assert.Equal(new[] { last }, Query(cgroup.Path).ProgramIds);
    }

    [CgroupFact]
    public void Remove_RestoresTheDefault_AndDetachesOnlyOurs()
    {
        using var cgroup = new ThrowawayCgroup();
        using SafeHandleProgram other = SafeHandleProgram.LoadForeign();
        using (CgroupDirectory directory = CgroupDirectory.Open(cgroup.Path))
        {
            BpfSystemCall.Attach(directory.Handle, other.Handle, BpfAttachType.CgroupSocketOperations, BpfAttachFlags.AllowMulti, null, cgroup.Path);
        }

        TcpKeepalivePolicy policy = Set(cgroup, Full);
        Assert.Equal(2, Query(cgroup.Path).ProgramIds.Length);
        using (CgroupDirectory directory = CgroupDirectory.Open(cgroup.Path))
        {
            var removed = TcpKeepalivePolicies.Remove(directory);
            Assert.Equal(policy.ProgramId, Assert.Single(removed).ProgramId);
        }

        ProgramRun after = PolicyProbe.Run(cgroup, statically: false, "pair");

        Assert.Equal(0, after["outgoing"]["so_keepalive"]);
        Assert.Equal(new[] { other.Id }, Query(cgroup.Path).ProgramIds);
        using (CgroupDirectory directory = CgroupDirectory.Open(cgroup.Path))
        {
            var e = Assert.Throws<KeepaliveNotFoundException>(() => TcpKeepalivePolicies.Remove(directory));
            Assert.Equal("KeepalivePolicyNotFound", e.ErrorId);
            Assert.Contains("1 other sock_ops program", e.Message);
        }
    }

    [CgroupFact]
    public void AnotherToolsProgramAttachedWithoutAllowMulti_IsNeverDisplaced()
    {
        using var parent = new ThrowawayCgroup();
        ThrowawayCgroup child = parent.Child();
        using SafeHandleProgram other = SafeHandleProgram.LoadForeign();
        using (CgroupDirectory directory = CgroupDirectory.Open(parent.Path))
        {
            BpfSystemCall.Attach(directory.Handle, other.Handle, BpfAttachType.CgroupSocketOperations, BpfAttachFlags.AllowOverride, null, parent.Path);
        }

        var onIt = Assert.Throws<KeepaliveInvalidTargetException>(() => Set(parent, Full));
        var below = Assert.Throws<KeepaliveInvalidTargetException>(() => Set(child, Full));

        Assert.Equal("KeepalivePolicyInvalidTarget", onIt.ErrorId);
        Assert.Contains("BPF_F_ALLOW_OVERRIDE", below.Message);
        Assert.Equal(new[] { other.Id }, Query(parent.Path).ProgramIds);
        Assert.Empty(Query(child.Path).ProgramIds);
    }

    [CgroupFact]
    public void Get_ReadsTheValuesBackFromTheKernel_AndGetAllFindsNestedPolicies()
    {
        using var parent = new ThrowawayCgroup();
        ThrowawayCgroup child = parent.Child();
        TcpKeepalivePolicy set = Set(child, new KeepalivePolicySettings { Interval = 9, UserTimeout = 0, Mode = KeepalivePolicyMode.Listening, Force = true });

        using CgroupDirectory directory = CgroupDirectory.Open(child.Path);
        TcpKeepalivePolicy got = Assert.Single(TcpKeepalivePolicies.Get(directory));
        var all = TcpKeepalivePolicies.GetAll().Where(p => p.Cgroup.StartsWith(parent.Path, StringComparison.Ordinal)).ToList();

        Assert.Equal(set, got);
        Assert.Null(got.Idle);
        Assert.Equal(9, got.Interval);
        Assert.Null(got.ProbeCount);
        Assert.Equal(0, got.UserTimeout);
        Assert.Equal(KeepalivePolicyMode.Listening, got.Mode);
        Assert.True(got.Force);
        Assert.Equal(child.Path, got.Cgroup);
        Assert.Equal(child.CgroupPath, got.CgroupPath);
        Assert.Equal(16, got.Tag.Length);
        Assert.InRange(got.LoadedAt!.Value, DateTime.Now.AddMinutes(-5), DateTime.Now.AddMinutes(1));
        Assert.Equal(set, Assert.Single(all));
    }

    [CgroupFact]
    public void BpftoolSeesThePolicyProgram()
    {
        using var cgroup = new ThrowawayCgroup();
        TcpKeepalivePolicy policy = Set(cgroup, Full);

        string shown = PreloadPrograms.Tool("bpftool", "cgroup", "show", cgroup.Path);

        Assert.Contains(policy.ProgramId.ToString(System.Globalization.CultureInfo.InvariantCulture), shown);
        Assert.Contains("sock_ops", shown);
        Assert.Contains("multi", shown);
        Assert.Contains(PolicyProgram.Name, shown);
    }

    [CgroupTheory]
    [InlineData(KeepalivePolicyMode.All, false)]
    [InlineData(KeepalivePolicyMode.All, true)]
    [InlineData(KeepalivePolicyMode.Outgoing, false)]
    [InlineData(KeepalivePolicyMode.Outgoing, true)]
    [InlineData(KeepalivePolicyMode.Listening, false)]
    [InlineData(KeepalivePolicyMode.Listening, true)]
    public void TheVerifierAcceptsEveryMode(KeepalivePolicyMode mode, bool force)
    {
        using var cgroup = new ThrowawayCgroup();

        TcpKeepalivePolicy policy = Set(cgroup, new KeepalivePolicySettings { Idle = 1, Interval = 32767, Count = 127, UserTimeout = int.MaxValue, Mode = mode, Force = force });

        Assert.Equal(mode, policy.Mode);
        Assert.Equal(force, policy.Force);
        Assert.Equal(int.MaxValue, policy.UserTimeout);
    }

    [CgroupFact]
    public void TwoSetsAtOnce_OnOneCgroup_LeaveOnePolicy()
    {
        using var cgroup = new ThrowawayCgroup();

        Parallel.For(0, 8, i => Set(cgroup, new KeepalivePolicySettings { Idle = 80 + i }));

        Assert.Single(Query(cgroup.Path).ProgramIds);
    }
}

/// <summary>A sock_ops program of "another tool" (returns 1, does nothing), loaded for a test and closed after.</summary>
internal sealed class SafeHandleProgram : IDisposable
{
    private SafeHandleProgram(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        Handle = handle;
        Id = BpfSystemCall.ProgramInfo(handle).Id;
    }

    public Microsoft.Win32.SafeHandles.SafeFileHandle Handle { get; }

    public uint Id { get; }

    public static SafeHandleProgram LoadForeign() => new(BpfSystemCall.LoadProgram(
        BpfProgramType.SocketOperations, "othertool", InstructionEncoder.Encode([Asm.Move(Register.R0, 1), Asm.Exit()]), "GPL"));

    public void Dispose() => Handle.Dispose();
}
