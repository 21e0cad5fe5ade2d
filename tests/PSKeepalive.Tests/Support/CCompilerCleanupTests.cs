using System;
using System.Globalization;
using System.IO;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Support;

/// <summary>Support/CCompiler keeps a test run's files under one directory that goes away with the run.</summary>
public sealed class CCompilerCleanupTests
{
    [Fact]
    public void Compile_WritesUnderThisRunsDirectory()
    {
        string program = CCompiler.Compile("int main(void) { return 0; }", "trial-empty");

        string expected = Path.Combine(
            Path.GetTempPath(),
            "pskeepalive-tests-" + TestLibc.GetEUid().ToString(CultureInfo.InvariantCulture),
            "run-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(expected, CCompiler.RunRoot);
        Assert.StartsWith(expected + "/", program, StringComparison.Ordinal);
        Assert.True(File.Exists(program));
    }

    [Fact]
    public void Sweep_RemovesDeadRunsAndOldLegacyDirectories_KeepsLiveOnes()
    {
        string root = Path.GetDirectoryName(CCompiler.RunRoot)!;
        string deadRun = Directory.CreateDirectory(Path.Combine(root, "run-999999999")).FullName; // above any pid_max
        File.WriteAllText(Path.Combine(deadRun, "left-behind"), "x");
        string oldLegacy = Directory.CreateDirectory(Path.Combine(root, Guid.NewGuid().ToString("N"))).FullName;
        Directory.SetLastWriteTimeUtc(oldLegacy, DateTime.UtcNow.AddHours(-3));
        string freshLegacy = Directory.CreateDirectory(Path.Combine(root, Guid.NewGuid().ToString("N"))).FullName;
        string mine = CCompiler.NewDirectory();
        try
        {
            CCompiler.Sweep();

            Assert.False(Directory.Exists(deadRun));
            Assert.False(Directory.Exists(oldLegacy));
            Assert.True(Directory.Exists(freshLegacy)); // may belong to a run of older test code in progress
            Assert.True(Directory.Exists(mine));
        }
        finally
        {
            Directory.Delete(freshLegacy, recursive: true);
        }
    }
}
