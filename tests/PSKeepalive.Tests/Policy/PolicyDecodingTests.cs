using System;
using System.Buffers.Binary;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Policy;
using Xunit;

namespace PSKeepalive.Tests.Policy;

/// <summary>What the policy code reads without the kernel: mountinfo, /proc/PID/cgroup, and its own map values.</summary>
public sealed class PolicyDecodingTests
{
    private const string Hybrid = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """;

    private const string Unified = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";

    [Fact]
    public void Mountinfo_GivesTheCgroup2MountOnHybridAndUnifiedHosts_AndNothingOnV1Only()
    {
        Assert.Equal(new CgroupMount("/sys/fs/cgroup/unified", "/"), CgroupMount.Parse(Hybrid));
        Assert.Equal(new CgroupMount("/sys/fs/cgroup", "/"), CgroupMount.Parse(Unified));
        Assert.Null(CgroupMount.Parse("32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"));
    }

    [Fact]
    public void NoCgroup2Mount_IsExplainedByWhatIsMounted_NotAlwaysAsAV1OnlyHost()
    {
        const string V1Only = "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n";
        const string NoCgroups = "1186 1185 0:82 / /sys rw,relatime - sysfs trialps rw\n";

        // cgroup v1 only: no '0::' line for this process either.
        string v1 = CgroupMount.NotMountedReason(V1Only, ["1:cpu:/"]);
        Assert.Contains("cgroup v1 only", v1, StringComparison.Ordinal);

        // `ip netns exec` remounts /sys without the cgroup file systems: v2 is in use (the '0::' line), just not here.
        string hidden = CgroupMount.NotMountedReason(NoCgroups, ["1:cpu:/", "0::/user.slice"]);
        Assert.DoesNotContain("cgroup v1 only", hidden, StringComparison.Ordinal);
        Assert.Contains("mount namespace", hidden, StringComparison.Ordinal);
        Assert.Contains("ip netns exec", hidden, StringComparison.Ordinal);

        // Nothing mounted and no hierarchy known: say that, not "v1 only".
        string none = CgroupMount.NotMountedReason(NoCgroups, []);
        Assert.DoesNotContain("cgroup v1 only", none, StringComparison.Ordinal);
        Assert.Contains("No cgroup file system", none, StringComparison.Ordinal);
    }

    [Fact]
    public void Mountinfo_UnescapesOctalSequences_AndKeepsABindMountedRoot()
    {
        CgroupMount? mount = CgroupMount.Parse(@"50 23 0:26 /system.slice /mnt/my\040cgroups rw - cgroup2 cgroup2 rw" + "\n");

        Assert.Equal(new CgroupMount("/mnt/my cgroups", "/system.slice"), mount);
        Assert.Equal("/mnt/my cgroups/nginx.service", mount!.DirectoryOf("/system.slice/nginx.service"));
        Assert.Null(mount.DirectoryOf("/user.slice"));
        Assert.Equal("/system.slice/nginx.service", mount.CgroupPathOf("/mnt/my cgroups/nginx.service"));
    }

    [Fact]
    public void ProcessCgroup_IsTheZeroLine()
    {
        Assert.Equal("/system.slice/nginx.service", CgroupMount.ParseProcessCgroup(["12:pids:/system.slice", "0::/system.slice/nginx.service"]));
        Assert.Equal("/", CgroupMount.ParseProcessCgroup(["0::/"]));
        Assert.Null(CgroupMount.ParseProcessCgroup(["4:memory:/x", "1:name=systemd:/x"]));
    }

    [Fact]
    public void ACgroupPath_MapsToItsDirectoryAndBack()
    {
        var mount = new CgroupMount("/sys/fs/cgroup", "/");

        Assert.Equal("/sys/fs/cgroup", mount.DirectoryOf("/"));
        Assert.Equal("/sys/fs/cgroup/a/b", mount.DirectoryOf("/a/b"));
        Assert.Equal("/", mount.CgroupPathOf("/sys/fs/cgroup"));
        Assert.Equal("/a/b", mount.CgroupPathOf("/sys/fs/cgroup/a/b"));
    }

    public static TheoryData<KeepalivePolicySettings> Settings() => new()
    {
        new KeepalivePolicySettings(),
        new KeepalivePolicySettings { Idle = 60, Interval = 10, Count = 5, UserTimeout = 30000 },
        new KeepalivePolicySettings { Idle = 1, Mode = KeepalivePolicyMode.Outgoing, Force = true },
        new KeepalivePolicySettings { UserTimeout = 0, Mode = KeepalivePolicyMode.Listening },
        new KeepalivePolicySettings { Count = 127, Interval = 32767 },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void MapValue_RoundTrips(KeepalivePolicySettings settings)
    {
        Assert.Equal(settings, PolicyMapValue.Decode(PolicyMapValue.Encode(settings)));
    }

    [Fact]
    public void MapValue_Layout_IsTheDocumentedOne()
    {
        byte[] value = PolicyMapValue.Encode(new KeepalivePolicySettings { Idle = 60, Count = 5, Mode = KeepalivePolicyMode.Outgoing });

        Assert.Equal("PSKA", System.Text.Encoding.ASCII.GetString(value, 0, 4));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(4)));
        Assert.Equal(1u | (1u << 3) | (1u << 5), BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(8)));
        Assert.Equal(60u, BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(12)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(16)));
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(20)));
    }

    [Theory]
    [InlineData(0, 0x00)]   // magic
    [InlineData(4, 0x02)]   // version 2
    [InlineData(8, 0x00)]   // no direction
    [InlineData(9, 0x01)]   // an unknown flag (bit 8)
    public void MapValue_ThatIsNotOurs_DecodesToNull(int offset, byte replacement)
    {
        byte[] value = PolicyMapValue.Encode(new KeepalivePolicySettings { Idle = 60 });
        value[offset] = replacement;

        Assert.Null(PolicyMapValue.Decode(value));
        Assert.Null(PolicyMapValue.Decode(value.AsSpan(0, 31)));
    }
}
