using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Settings;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Settings;

/// <summary>
/// --persist / -Persist under hostile conditions: concurrent writers, symbolic links (to the file and to its
/// directory), bytes that are not UTF-8, unusual modes and owners, and targets that cannot be written. Only
/// temporary files and private network namespaces.
/// </summary>
public sealed class PersistRobustnessTests : IDisposable
{
    private readonly string _root = CCompiler.NewDirectory();

    private string Etc => Path.Combine(_root, "etc", "sysctl.d");

    private string SysctlConf => Path.Combine(_root, "etc", "sysctl.conf");

    private string Ours => Path.Combine(Etc, "90-pskeepalive.conf");

    private SysctlPersistence Persistence => new([Etc], SysctlConf);

    public PersistRobustnessTests()
    {
        Directory.CreateDirectory(Etc);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public void ConcurrentWriters_EightThreadsWithTheirOwnKeys_KeepEveryKey()
    {
        // Each writer opens its own descriptors, so flock excludes them from each other as it would processes.
        for (int round = 0; round < 5; round++)
        {
            File.Delete(Ours);
            using var start = new Barrier(8);
            Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            {
                start.SignalAndWait(TimeSpan.FromSeconds(30));
                Persistence.Persist(Ours, [new($"net.test.writer{i}", 100 + i)]);
            });

            var keys = SysctlConfigFile.Parse(File.ReadAllText(Ours)).ToDictionary(a => a.Key, a => a.Value);
            Assert.Equal(Enumerable.Range(0, 8).Select(i => $"net.test.writer{i}"), keys.Keys.Order(StringComparer.Ordinal));
        }
    }

    [RootFact]
    public void ConcurrentWriters_EightProcesses_KeepEveryKey()
    {
        using var ns = new PrivateNetworkNamespace();
        string file = Path.Combine(_root, "blue.conf");
        string[] options = ["--time", "--interval", "--probes"];
        string[] keys = [TcpKeepaliveSettings.TimeKey, TcpKeepaliveSettings.IntervalKey, TcpKeepaliveSettings.ProbesKey];
        var writers = Enumerable.Range(0, 8).Select(i => Task.Run(() =>
            CliRunner.Run(["set", options[i % 3], (10 + i).ToString(CultureInfo.InvariantCulture), "--persist", "--persist-path", file, "--netns", ns.Path], TimeSpan.FromSeconds(120)))).ToArray();
        Task.WaitAll(writers, TimeSpan.FromSeconds(150));

        Assert.All(writers, w => Assert.True(w.Result.ExitCode == 0, w.Result.ToString()));
        var persisted = SysctlConfigFile.Parse(File.ReadAllText(file)).ToDictionary(a => a.Key, a => int.Parse(a.Value, CultureInfo.InvariantCulture));
        Assert.Equal(keys.Order(StringComparer.Ordinal), persisted.Keys.Order(StringComparer.Ordinal));
        for (int k = 0; k < 3; k++)
        {
            Assert.Contains(persisted[keys[k]], Enumerable.Range(0, 8).Where(i => i % 3 == k).Select(i => 10 + i));
        }
    }

    [Fact]
    public void BootDirectoryReachedThroughLinks_CountsAsReadAtBoot()
    {
        string linkedDirectory = Path.Combine(_root, "sd");
        Directory.CreateSymbolicLink(linkedDirectory, Etc);
        string linkedFile = Path.Combine(_root, "elsewhere.conf");
        File.CreateSymbolicLink(linkedFile, Ours);

        Assert.True(Persistence.IsReadAtBoot(Path.Combine(linkedDirectory, "90-pskeepalive.conf")));
        Assert.True(Persistence.IsReadAtBoot(linkedFile)); // written through, so the boot file changes
        Assert.False(Persistence.IsReadAtBoot(Path.Combine(_root, "plain.conf")));
    }

    [RootFact]
    public void OtherNamespace_AndABootFileReachedThroughALinkedDirectory_IsRefused()
    {
        using var ns = new PrivateNetworkNamespace();
        string linkedDirectory = Path.Combine(_root, "sd");
        Directory.CreateSymbolicLink(linkedDirectory, Etc);

        var refused = Assert.Throws<KeepaliveValidationException>(() => Persistence.CheckNamespace(ns.Path, Path.Combine(linkedDirectory, "90-pskeepalive.conf")));

        Assert.Contains("change the host's", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Ours));
    }

    [Fact]
    public void SymlinkAtTheTarget_IsWrittenThrough_AndStaysALink()
    {
        // Debian ships /etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf.
        File.WriteAllText(SysctlConf, "kernel.domainname = example.com\n");
        string link = Path.Combine(Etc, "99-sysctl.conf");
        File.CreateSymbolicLink(link, "../sysctl.conf");

        SysctlPersistResult result = Persistence.Persist(link, [new(TcpKeepaliveSettings.TimeKey, 600)]);

        Assert.Equal("../sysctl.conf", new FileInfo(link).LinkTarget);
        Assert.Equal("kernel.domainname = example.com\nnet.ipv4.tcp_keepalive_time = 600\n", File.ReadAllText(SysctlConf));
        Assert.Equal(SysctlConf, result.Path);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(SysctlConf)!, "*.tmp"));
    }

    [Fact]
    public void DanglingSymlinkAtTheTarget_CreatesItsTarget()
    {
        string target = Path.Combine(_root, "shared", "keepalive.conf");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.CreateSymbolicLink(Ours, target);

        Persistence.Persist(Ours, [new(TcpKeepaliveSettings.ProbesKey, 4)]);

        Assert.Equal(target, new FileInfo(Ours).LinkTarget);
        Assert.Contains("net.ipv4.tcp_keepalive_probes = 4\n", File.ReadAllText(target), StringComparison.Ordinal);
    }

    [Fact]
    public void BytesOfLinesWeDoNotOwn_AreKeptByteForByte()
    {
        // Latin-1 é, an invalid UTF-8 sequence, CR LF line ends and a NUL: nothing is decoded and re-encoded.
        byte[] original =
        [
            .. "# caf"u8, 0xE9, .. "\n"u8,
            .. "kernel.x = "u8, 0xFF, 0xC3, 0x28, .. "\r\n"u8,
            .. "net.ipv4.tcp_keepalive_time = 7200\n"u8,
            .. "; tail \0 end"u8,
        ];
        File.WriteAllBytes(Ours, original);

        Persistence.Persist(Ours, [new(TcpKeepaliveSettings.TimeKey, 600)]);

        byte[] expected =
        [
            .. "# caf"u8, 0xE9, .. "\n"u8,
            .. "kernel.x = "u8, 0xFF, 0xC3, 0x28, .. "\r\n"u8,
            .. "net.ipv4.tcp_keepalive_time = 600\n"u8,
            .. "; tail \0 end\n"u8,
        ];
        Assert.Equal(expected, File.ReadAllBytes(Ours));
    }

    [Fact]
    public void ExistingFile_KeepsItsExactMode_WhateverTheUmask()
    {
        // 0666 would lose its write bits to the usual umask 022 if the mode were only asked for at creation.
        File.WriteAllText(Ours, "vm.swappiness = 10\n");
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite |
                                  UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        File.SetUnixFileMode(Ours, mode);

        Persistence.Persist(Ours, [new(TcpKeepaliveSettings.TimeKey, 600)]);

        Assert.Equal(mode, File.GetUnixFileMode(Ours));
    }

    [RootFact]
    public void ExistingFile_UnderUmask077_KeepsMode0644AndItsOwner_AndANewFileIs0644()
    {
        // The case, end to end: `set --persist` from a shell with umask 077.
        using var ns = new PrivateNetworkNamespace();
        File.WriteAllText(Ours, "vm.swappiness = 10\n");
        File.SetUnixFileMode(Ours, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Assert.Equal(0, TestLibc.Chown(Ours, 1000, 1000));
        string fresh = Path.Combine(_root, "new.conf");

        foreach (string file in new[] { Ours, fresh })
        {
            CliResult result = RunWithUmask077("set", "--time", "600", "--persist", "--persist-path", file, "--netns", ns.Path);
            Assert.True(result.ExitCode == 0, result.ToString());
        }

        const UnixFileMode rw_r__r__ = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        Assert.Equal(rw_r__r__, File.GetUnixFileMode(Ours));
        Assert.Equal((1000u, 1000u), TestLibc.OwnerOf(Ours));
        Assert.Equal(rw_r__r__, File.GetUnixFileMode(fresh));
        Assert.Equal((0u, 0u), TestLibc.OwnerOf(fresh));
    }

    [RootFact]
    public void PersistTargetThatCannotBeWritten_IsRefusedBeforeTheLiveValueChanges()
    {
        using var ns = new PrivateNetworkNamespace();
        string before = ns.ReadSysctl("net/ipv4/tcp_keepalive_time");
        string regularFile = Path.Combine(_root, "not-a-directory");
        File.WriteAllText(regularFile, "x");

        CliResult result = CliRunner.Run("set", "--time", "444", "--persist", "--persist-path", Path.Combine(regularFile, "x.conf"), "--netns", ns.Path);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("not a directory", result.StandardError, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("nothing was changed", result.StandardError, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, ns.ReadSysctl("net/ipv4/tcp_keepalive_time"));
    }

    [Fact]
    public void PersistThatFailsAfterTheLiveWrite_RestoresTheLiveValues_AndSaysSo()
    {
        using var sysctls = new TemporarySysctlRoot("7200", "75", "9");
        var settings = new TcpKeepaliveSettings(sysctls.Path);
        var change = new TcpKeepaliveSettingChange(Time: 444);
        TcpKeepaliveSetting previous = settings.Get();
        settings.Set(change);
        var failure = new KeepaliveKernelException("SysctlFile", "Cannot write /etc/sysctl.d/90-pskeepalive.conf: No space left on device", "/etc/sysctl.d/90-pskeepalive.conf", 28);

        var error = Assert.Throws<SysctlPersistException>(() => settings.PersistOrRestore(change, previous, null, () => throw failure));

        Assert.Equal("7200", sysctls.Read("tcp_keepalive_time"));
        Assert.True(error.RolledBack);
        Assert.Equal("SysctlFileKernelFailure", error.ErrorId);
        Assert.Contains("No space left on device", error.Message, StringComparison.Ordinal);
        Assert.Contains("net.ipv4.tcp_keepalive_time = 7200", error.Message, StringComparison.Ordinal);
        Assert.Contains("nothing is changed", error.Message, StringComparison.Ordinal);
    }

    private static CliResult RunWithUmask077(params string[] arguments) =>
        CliRunner.RunProgram("sh", ["-c", "umask 077; exec dotnet \"$@\"", "sh", CliRunner.DllPath, .. arguments], TimeSpan.FromSeconds(60));
}
