using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Settings;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Settings;

/// <summary>Persistence against a temporary tree laid out like /etc, /run and /usr/lib; the host's files are never touched.</summary>
public sealed class SysctlPersistenceTests : IDisposable
{
    private static readonly KeyValuePair<string, int>[] AllThree =
    [
        new(TcpKeepaliveSettings.TimeKey, 600),
        new(TcpKeepaliveSettings.IntervalKey, 30),
        new(TcpKeepaliveSettings.ProbesKey, 5),
    ];

    private readonly string _root = Path.Combine(Path.GetTempPath(), "pskeepalive-persist-" + Guid.NewGuid().ToString("N"));

    public SysctlPersistenceTests()
    {
        Directory.CreateDirectory(Etc);
        Directory.CreateDirectory(UsrLib);
    }

    private string Etc => Path.Combine(_root, "etc", "sysctl.d");

    private string UsrLib => Path.Combine(_root, "usr", "lib", "sysctl.d");

    private string SysctlConf => Path.Combine(_root, "etc", "sysctl.conf");

    private string Ours => Path.Combine(Etc, "90-pskeepalive.conf");

    private SysctlPersistence Persistence => new([Etc, Path.Combine(_root, "run", "sysctl.d"), UsrLib], SysctlConf);

    public void Dispose()
    {
        File.SetUnixFileMode(Etc, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void Persist_NewFile_HasHeaderAndEveryValue()
    {
        var result = Persistence.Persist(Ours, AllThree);

        string text = File.ReadAllText(Ours);
        Assert.StartsWith("# Written by PSKeepalive", text);
        Assert.Contains("net.ipv4.tcp_keepalive_time = 600\n", text);
        Assert.Contains("net.ipv4.tcp_keepalive_intvl = 30\n", text);
        Assert.Contains("net.ipv4.tcp_keepalive_probes = 5\n", text);
        Assert.Equal(Ours, result.Path);
        Assert.Empty(result.Overrides);
        Assert.Empty(result.Warnings);
        Assert.Equal(
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            File.GetUnixFileMode(Ours));
    }

    [Fact]
    public void Persist_RoundTrip_ParsesBackToTheSameValues()
    {
        Persistence.Persist(Ours, AllThree);

        var parsed = SysctlConfigFile.Parse(File.ReadAllText(Ours)).ToDictionary(a => a.Key, a => a.Value);

        Assert.Equal(AllThree.ToDictionary(a => a.Key, a => a.Value.ToString()), parsed);
    }

    [Fact]
    public void Persist_KeepsForeignLinesAndReplacesOurKeysInPlace()
    {
        File.WriteAllText(Ours, "# admin comment\nvm.swappiness = 10\n; old style comment\nnet/ipv4/tcp_keepalive_time=7200\n-net.ipv4.tcp_keepalive_intvl = 75\nnet.core.somaxconn=4096\n");

        Persistence.Persist(Ours, AllThree);

        Assert.Equal(
            "# admin comment\nvm.swappiness = 10\n; old style comment\nnet.ipv4.tcp_keepalive_time = 600\nnet.ipv4.tcp_keepalive_intvl = 30\nnet.core.somaxconn=4096\nnet.ipv4.tcp_keepalive_probes = 5\n",
            File.ReadAllText(Ours));
    }

    [Fact]
    public void Persist_DropsLaterDuplicatesOfOurKeys_BecauseTheyWouldWin()
    {
        File.WriteAllText(Ours, "net.ipv4.tcp_keepalive_time = 1\nkernel.pid_max = 65536\nnet.ipv4.tcp_keepalive_time = 2\n");

        Persistence.Persist(Ours, [new(TcpKeepaliveSettings.TimeKey, 600)]);

        Assert.Equal("net.ipv4.tcp_keepalive_time = 600\nkernel.pid_max = 65536\n", File.ReadAllText(Ours));
    }

    [Fact]
    public void Persist_OnlyTheKeysGiven_LeavesOurOtherKeysAlone()
    {
        Persistence.Persist(Ours, AllThree);

        Persistence.Persist(Ours, [new(TcpKeepaliveSettings.ProbesKey, 7)]);

        var parsed = SysctlConfigFile.Parse(File.ReadAllText(Ours)).ToDictionary(a => a.Key, a => a.Value);
        Assert.Equal("600", parsed[TcpKeepaliveSettings.TimeKey]);
        Assert.Equal("30", parsed[TcpKeepaliveSettings.IntervalKey]);
        Assert.Equal("7", parsed[TcpKeepaliveSettings.ProbesKey]);
    }

    [Fact]
    public void Persist_IsAtomic_ReplacesTheInodeAndLeavesNoTemporaryFile()
    {
        File.WriteAllText(Ours, "vm.swappiness = 10\n");
        File.SetUnixFileMode(Ours, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using var before = File.OpenRead(Ours); // an open reader keeps seeing the old content: rename, not rewrite

        Persistence.Persist(Ours, AllThree);

        Assert.Equal("vm.swappiness = 10\n", new StreamReader(before).ReadToEnd());
        Assert.Single(Directory.GetFiles(Etc));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Ours));
    }

    [Fact]
    public void Persist_FailedWrite_LeavesTheFileAsItWasAndNoTemporaryFile()
    {
        const string original = "vm.swappiness = 10\n";
        File.WriteAllText(Ours, original);
        SysctlWriteProbe.MakeDirectoryReadOnlyFor(Etc);

        var error = Assert.ThrowsAny<KeepaliveException>(() => Unprivileged.RunWithoutPrivilege(() => Persistence.Persist(Ours, AllThree)));

        Assert.Equal(KeepaliveErrorKind.PermissionDenied, error.Kind);
        Assert.Equal("SysctlFilePermissionDenied", error.ErrorId);
        Assert.Contains(Ours, error.Message);
        Assert.Equal(original, File.ReadAllText(Ours));
        Assert.Single(Directory.GetFiles(Etc));
    }

    [Fact]
    public void Persist_LaterFileSettingTheSameKey_IsReportedAsOverride()
    {
        File.WriteAllText(Path.Combine(Etc, "10-early.conf"), "net.ipv4.tcp_keepalive_time = 1\n");
        File.WriteAllText(Path.Combine(Etc, "95-late.conf"), "# tuned\nnet.ipv4.tcp_keepalive_time = 7200\n");
        File.WriteAllText(Path.Combine(UsrLib, "99-vendor.conf"), "net/ipv4/tcp_keepalive_probes=3\n");

        var result = Persistence.Persist(Ours, AllThree);

        Assert.Equal(2, result.Overrides.Count);
        var late = Assert.Single(result.Overrides, o => o.File.EndsWith("95-late.conf", StringComparison.Ordinal));
        Assert.Equal((TcpKeepaliveSettings.TimeKey, 2, "7200"), (late.Key, late.LineNumber, late.Value));
        Assert.Single(result.Overrides, o => o.File.EndsWith("99-vendor.conf", StringComparison.Ordinal) && o.Key == TcpKeepaliveSettings.ProbesKey);
        Assert.DoesNotContain(result.Overrides, o => o.File.Contains("10-early", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.Contains("95-late.conf", StringComparison.Ordinal) && w.Contains("wins at boot", StringComparison.Ordinal));
    }

    [Fact]
    public void Persist_VendorFileMaskedByEtc_IsNotReported()
    {
        File.WriteAllText(Path.Combine(UsrLib, "99-masked.conf"), "net.ipv4.tcp_keepalive_time = 1\n");
        File.WriteAllText(Path.Combine(Etc, "99-masked.conf"), "# masked by the admin\n");

        var result = Persistence.Persist(Ours, AllThree);

        Assert.Empty(result.Overrides);
    }

    [Fact]
    public void Persist_SysctlConf_ReadLast_IsReportedOnceEvenWhenLinkedFromSysctlD()
    {
        File.WriteAllText(SysctlConf, "net.ipv4.tcp_keepalive_intvl = 75\n");
        File.CreateSymbolicLink(Path.Combine(Etc, "99-sysctl.conf"), SysctlConf);

        var result = Persistence.Persist(Ours, AllThree);

        var only = Assert.Single(result.Overrides);
        Assert.Equal(TcpKeepaliveSettings.IntervalKey, only.Key);
    }

    [Fact]
    public void Persist_SameNameInHigherPrecedenceDirectory_MasksOurFile()
    {
        string vendorOurs = Path.Combine(UsrLib, "90-pskeepalive.conf");
        File.WriteAllText(Ours, "net.ipv4.tcp_keepalive_time = 7200\n");

        var result = Persistence.Persist(vendorOurs, AllThree);

        Assert.Contains(result.Overrides, o => o.File == Ours && o.Key == TcpKeepaliveSettings.TimeKey);
    }

    [Fact]
    public void Persist_OutsideTheLoaderDirectories_WarnsThatItIsNotReadAtBoot()
    {
        string elsewhere = Path.Combine(_root, "elsewhere.conf");

        var result = Persistence.Persist(elsewhere, AllThree);

        Assert.True(File.Exists(elsewhere));
        Assert.Contains(result.Warnings, w => w.Contains("is not read at boot", StringComparison.Ordinal));
    }

    [Fact]
    public void Merge_KeepsEveryForeignLine_ForAnyInput()
    {
        Prop.ForAll(
            Gen.Elements("vm.swappiness = 10", "# comment", "", "  ", "kernel.x=1", "; semi", "bogus line", "net.core.y = 2", "=nokey")
                .ListOf().ToArbitrary(),
            lines =>
            {
                string existing = lines.Count == 0 ? string.Empty : string.Join('\n', lines) + "\n";
                string merged = SysctlConfigFile.Merge(existing, AllThree);
                var mergedLines = merged.Split('\n').ToList();
                int position = 0;
                foreach (string line in lines)
                {
                    int found = mergedLines.IndexOf(line, position);
                    if (found < 0)
                    {
                        return false;
                    }

                    position = found + 1;
                }

                var parsed = SysctlConfigFile.Parse(merged).Where(a => a.Key.StartsWith("net.ipv4.tcp_keepalive", StringComparison.Ordinal)).ToList();
                return parsed.Count == 3;
            }).QuickCheckThrowOnFailure();
    }
}
