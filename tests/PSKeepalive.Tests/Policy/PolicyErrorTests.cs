using System;
using System.Globalization;
using System.IO;
using System.Linq;
using PSKeepalive.Core.Bpf;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Policy;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Policy;

/// <summary>Bad values, bad targets, missing privilege and a refused program: each a clear error, and nothing attached.</summary>
public sealed class PolicyErrorTests
{
    [CgroupTheory]
    [InlineData("Idle", 0)]
    [InlineData("Idle", 32768)]
    [InlineData("Interval", 0)]
    [InlineData("Count", 128)]
    [InlineData("UserTimeout", -1)]
    public void BadValues_AreRefusedBeforeAnythingIsLoaded(string parameter, int value)
    {
        using var cgroup = new ThrowawayCgroup();
        var settings = parameter switch
        {
            "Idle" => new KeepalivePolicySettings { Idle = value },
            "Interval" => new KeepalivePolicySettings { Interval = value },
            "Count" => new KeepalivePolicySettings { Count = value },
            _ => new KeepalivePolicySettings { UserTimeout = value },
        };

        var e = Assert.Throws<KeepaliveValidationException>(() => PolicyKernelTests.Set(cgroup, settings));

        Assert.Equal("KeepalivePolicyInvalidArgument", e.ErrorId);
        Assert.Equal(parameter, e.ParameterName);
        Assert.Contains(value.ToString(CultureInfo.InvariantCulture), e.Message);
        Assert.Empty(PolicyKernelTests.Query(cgroup.Path).ProgramIds);
    }

    [Fact]
    public void AnUnknownMode_IsRefused()
    {
        var e = Assert.Throws<KeepaliveValidationException>(() => new KeepalivePolicySettings { Mode = (KeepalivePolicyMode)7 }.Validate());

        Assert.Equal("Mode", e.ParameterName);
    }

    [CgroupFact]
    public void APathThatIsNoCgroup_NamesTheCgroup2Mount()
    {
        var notCgroup = Assert.Throws<KeepaliveInvalidTargetException>(() => CgroupDirectory.Open("/proc"));
        var missing = Assert.Throws<KeepaliveNotFoundException>(() => CgroupDirectory.Open(Path.Combine(ThrowawayCgroup.Mount, "pskeepalive-test-no-such-cgroup")));
        var file = Assert.Throws<KeepaliveInvalidTargetException>(() => CgroupDirectory.Open(Path.Combine(ThrowawayCgroup.Mount, "cgroup.procs")));

        Assert.Equal("CgroupInvalidTarget", notCgroup.ErrorId);
        Assert.Contains("not a cgroup v2 directory", notCgroup.Message);
        Assert.Contains(ThrowawayCgroup.Mount, notCgroup.Message);
        Assert.Equal("CgroupNotFound", missing.ErrorId);
        Assert.Equal("CgroupInvalidTarget", file.ErrorId);
    }

    [CgroupFact]
    public void ACgroup_IsFoundByDirectory_ByPathRelativeToTheMount_AndByItsCgroupPath()
    {
        using var cgroup = new ThrowawayCgroup();

        using var byDirectory = CgroupDirectory.Open(cgroup.Path);
        using var relative = CgroupDirectory.Open(cgroup.Name);
        using var byCgroupPath = CgroupDirectory.Open(cgroup.CgroupPath);

        Assert.Equal(cgroup.Path, relative.Path);
        Assert.Equal(cgroup.Path, byCgroupPath.Path);
        Assert.Equal(cgroup.CgroupPath, byDirectory.CgroupPath);
        Assert.Equal(byDirectory.Id, byCgroupPath.Id);
    }

    [CgroupFact]
    public void AProcess_LeadsToItsCgroup_AGoneProcessToProcessNotFound()
    {
        using var cgroup = new ThrowawayCgroup();
        using var sleeper = System.Diagnostics.Process.Start(cgroup.StartInfo("/bin/sleep", "30"))!;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!cgroup.Processes().Contains(sleeper.Id) && DateTime.UtcNow < deadline)
            {
                System.Threading.Thread.Sleep(10);
            }

            using var found = CgroupDirectory.OfProcess(sleeper.Id);
            Assert.Equal(cgroup.Path, found.Path);
        }
        finally
        {
            sleeper.Kill();
            sleeper.WaitForExit(5000);
        }

        var e = Assert.Throws<KeepaliveNotFoundException>(() => CgroupDirectory.OfProcess(sleeper.Id));
        Assert.Equal("ProcessNotFound", e.ErrorId);
    }

    [CgroupFact]
    public void WithoutPrivilege_SetSaysWhichOneIsMissing_AndAttachesNothing()
    {
        using var cgroup = new ThrowawayCgroup();

        var e = Unprivileged.Run(() => Record.Exception(() => PolicyKernelTests.Set(cgroup, new KeepalivePolicySettings { Idle = 60 })));

        var denied = Assert.IsType<KeepalivePermissionException>(e);
        Assert.Equal("BpfPermissionDenied", denied.ErrorId);
        Assert.Contains("CAP_BPF", denied.Message);
        Assert.Empty(PolicyKernelTests.Query(cgroup.Path).ProgramIds);
    }

    [CgroupFact]
    public void ARefusedProgram_CarriesTheVerifierLog()
    {
        // r0 is never set before exit: the verifier refuses with "R0 !read_ok".
        byte[] code = InstructionEncoder.Encode([Asm.Exit()]);

        var e = Assert.Throws<BpfVerifierException>(() => BpfSystemCall.LoadProgram(BpfProgramType.SocketOperations, "pskeepalive_bad", code, "GPL"));

        Assert.Equal("BpfProgramKernelFailure", e.ErrorId);
        Assert.Contains("R0 !read_ok", e.VerifierLog);
        Assert.Contains(e.VerifierLog, e.Message);
    }
}
