using System;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Policy;

/// <summary>`pskeepalive policy set|get|remove` as a user runs it: options, JSON keys, exit codes, error ids.</summary>
public sealed class PolicyCliTests
{
    private static readonly string[] Keys = ["cgroup", "idle", "interval", "probeCount", "userTimeout", "mode", "force", "programId"];

    private static JsonElement Json(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.StandardOutput).RootElement;
    }

    [CgroupFact]
    public void SetGetRemove_RoundTrip_WithTheIssuesJsonKeys()
    {
        using var cgroup = new ThrowawayCgroup();

        JsonElement set = Json(CliRunner.Run("policy", "set", "--cgroup", cgroup.Path, "--idle", "60", "--interval", "10", "--count", "5", "--mode", "outgoing", "--json"));
        JsonElement got = Json(CliRunner.Run("policy", "get", "--cgroup", cgroup.CgroupPath, "--json"));
        JsonElement all = Json(CliRunner.Run("policy", "get", "--json"));
        JsonElement removed = Json(CliRunner.Run("policy", "remove", "--cgroup", cgroup.Name, "--json"));
        JsonElement after = Json(CliRunner.Run("policy", "get", "--cgroup", cgroup.Path, "--json"));

        Assert.Equal(JsonValueKind.Array, got.ValueKind);
        JsonElement policy = Assert.Single(got.EnumerateArray());
        Assert.Superset(Keys.ToHashSet(), policy.EnumerateObject().Select(p => p.Name).ToHashSet());
        Assert.Equal(cgroup.Path, policy.GetProperty("cgroup").GetString());
        Assert.Equal(60, policy.GetProperty("idle").GetInt32());
        Assert.Equal(10, policy.GetProperty("interval").GetInt32());
        Assert.Equal(5, policy.GetProperty("probeCount").GetInt32());
        Assert.Equal(JsonValueKind.Null, policy.GetProperty("userTimeout").ValueKind);
        Assert.Equal("outgoing", policy.GetProperty("mode").GetString());
        Assert.False(policy.GetProperty("force").GetBoolean());
        Assert.Equal(set.GetProperty("programId").GetUInt32(), policy.GetProperty("programId").GetUInt32());
        Assert.Contains(all.EnumerateArray(), p => p.GetProperty("cgroup").GetString() == cgroup.Path);
        Assert.Equal(policy.GetProperty("programId").GetUInt32(), Assert.Single(removed.EnumerateArray()).GetProperty("programId").GetUInt32());
        Assert.Empty(after.EnumerateArray());
    }

    [CgroupFact]
    public void Set_ByPid_ReachesTheProcessCgroup_AndPrintsATable()
    {
        using var cgroup = new ThrowawayCgroup();
        using var sleeper = System.Diagnostics.Process.Start(cgroup.StartInfo("/bin/sleep", "30"))!;
        try
        {
            WaitUntil(() => cgroup.Processes().Contains(sleeper.Id));

            CliResult result = CliRunner.Run("policy", "set", "--pid", sleeper.Id.ToString(CultureInfo.InvariantCulture), "--idle", "90", "--force");

            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains(cgroup.CgroupPath, result.StandardOutput);
            Assert.Matches(@"90s\s+system\s+system\s+system\s+all\s+yes\s+\d+\s+/", result.StandardOutput);
            Assert.Single(PolicyKernelTests.Query(cgroup.Path).ProgramIds);
        }
        finally
        {
            sleeper.Kill();
            sleeper.WaitForExit(5000);
        }
    }

    [CgroupFact]
    public void WhatIf_ChangesNothing_AndSaysWhatWouldHappen()
    {
        using var cgroup = new ThrowawayCgroup();

        CliResult set = CliRunner.Run("policy", "set", "--cgroup", cgroup.Path, "--idle", "60", "--what-if", "--json");
        JsonElement wouldBe = Json(set);

        Assert.Contains("What if: Attach a keepalive policy", set.StandardError);
        Assert.True(wouldBe.GetProperty("whatIf").GetBoolean());
        Assert.Equal(JsonValueKind.Null, wouldBe.GetProperty("programId").ValueKind);
        Assert.Empty(PolicyKernelTests.Query(cgroup.Path).ProgramIds);

        Assert.Equal(0, CliRunner.Run("policy", "set", "--cgroup", cgroup.Path, "--idle", "60").ExitCode);
        uint before = Assert.Single(PolicyKernelTests.Query(cgroup.Path).ProgramIds);
        CliResult remove = CliRunner.Run("policy", "remove", "--cgroup", cgroup.Path, "--what-if");

        Assert.Equal(0, remove.ExitCode);
        Assert.Contains("What if: Remove keepalive policy program", remove.StandardError);
        Assert.Equal(new[] { before }, PolicyKernelTests.Query(cgroup.Path).ProgramIds);
    }

    [CgroupTheory]
    [InlineData(2, "KeepalivePolicyInvalidArgument", "--idle", "0")]
    [InlineData(2, "KeepalivePolicyInvalidArgument", "--count", "128")]
    [InlineData(2, "KeepalivePolicyInvalidArgument", "--user-timeout", "-1")]
    public void BadValues_ExitTwo_WithTheId_AndAttachNothing(int exitCode, string id, string option, string value)
    {
        using var cgroup = new ThrowawayCgroup();

        CliResult result = CliRunner.Run("policy", "set", "--cgroup", cgroup.Path, option, value);

        Assert.Equal(exitCode, result.ExitCode);
        Assert.Contains($"[{id}]", result.StandardError);
        Assert.Empty(PolicyKernelTests.Query(cgroup.Path).ProgramIds);
    }

    [CgroupFact]
    public void BadTargets_ExitOne_WithTheirIds_AndMissingOrDoubleTargets_ExitTwo()
    {
        CliResult notCgroup = CliRunner.Run("policy", "set", "--cgroup", "/proc", "--idle", "60");
        CliResult missing = CliRunner.Run("policy", "get", "--cgroup", "pskeepalive-test-no-such-cgroup");
        CliResult gone = CliRunner.Run("policy", "remove", "--pid", "2147483646");
        CliResult none = CliRunner.Run("policy", "set", "--idle", "60");
        CliResult both = CliRunner.Run("policy", "remove", "--cgroup", "/", "--pid", "1");
        CliResult mode = CliRunner.Run("policy", "set", "--cgroup", "/", "--mode", "sideways");

        Assert.Equal(1, notCgroup.ExitCode);
        Assert.Contains("[CgroupInvalidTarget]", notCgroup.StandardError);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("[CgroupNotFound]", missing.StandardError);
        Assert.Equal(1, gone.ExitCode);
        Assert.Contains("[ProcessNotFound]", gone.StandardError);
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("--cgroup PATH", none.StandardError);
        Assert.Equal(2, both.ExitCode);
        Assert.Equal(2, mode.ExitCode);
        Assert.Contains("outgoing, listening, all", mode.StandardError);
    }

    [CgroupFact]
    public void RemoveWithoutAPolicy_ExitsOne_KeepalivePolicyNotFound()
    {
        using var cgroup = new ThrowawayCgroup();

        CliResult result = CliRunner.Run("policy", "remove", "--cgroup", cgroup.Path);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("[KeepalivePolicyNotFound]", result.StandardError);
    }

    private static void WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the condition did not hold within 10 s");
            }

            System.Threading.Thread.Sleep(10);
        }
    }
}
