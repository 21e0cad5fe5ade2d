using System;
using System.Globalization;
using System.IO;
using System.Linq;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Core.Sockets;
using PSKeepalive.Tests.Preload;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Cli;

/// <summary>
/// The CLI when its output cannot be written (a full disk, a reader that went away) and when given a thread id
/// where a process id belongs: one line with an error id, or a quiet pipeline end, never a .NET stack trace.
/// </summary>
public sealed class HostileOutputAndTargetTests
{
    [Theory]
    [InlineData("settings")]
    [InlineData("connections")]
    [InlineData("connections", "--json")]
    [InlineData("--help")]
    [InlineData("policy", "set", "--help")]
    public void OutputToAFullDevice_IsOneLineWithAnErrorId_AndExitOne(params string[] command)
    {
        CliResult result = RunWithStdout("/dev/full", command);

        Assert.True(result.ExitCode == 1, result.ToString());
        string[] lines = result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, result.ToString());
        Assert.Contains("[OutputKernelFailure]", lines[0], StringComparison.Ordinal);
        Assert.Contains("ENOSPC", lines[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("settings")]
    [InlineData("connections", "--json")]
    [InlineData("--help")]
    [InlineData("--version")]
    [InlineData("watch", "--help")]
    public void OutputToAPipeWithoutReader_EndsQuietly_AsAPipelineStage(params string[] command)
    {
        // As 'pskeepalive connections | head -1' once head has exited: no message, 128+SIGPIPE like any other stage.
        CliResult result = RunWithStdout(null, command);

        Assert.True(result.ExitCode == 141, result.ToString());
        Assert.Equal(string.Empty, result.StandardError);
    }

    [Theory]
    [InlineData("--json")]
    [InlineData]
    public void Watch_WhoseReaderHasGone_EndsAtTheNextSample_EvenWithNothingToReport(params string[] format)
    {
        // As 'pskeepalive watch --json | head -1' once head has exited, on connections that stay quiet: nothing is
        // written, so only a look at the pipe itself notices; the watch must not run on until --duration.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        CliResult result = RunWithStdout(null, ["watch", "--local-port", "1", "--interval", "100", "--duration", "40", .. format]);

        Assert.True(result.ExitCode == 141, result.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}: {result}");
        Assert.DoesNotContain("Exception", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void EnableWithAThreadId_IsRefused_NamingItsProcess()
    {
        int thread = OtherThreadOfThisProcess();

        CliResult result = CliRunner.Run("enable", "--pid", thread.ToString(CultureInfo.InvariantCulture), "--idle", "60", "--what-if");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("[ProcessInvalidArgument]", result.StandardError, StringComparison.Ordinal);
        Assert.Contains($"thread of process {Environment.ProcessId}", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.StandardOutput);
    }

    [Fact]
    public void ThreadIds_AreRefusedByCore_SoThatTheCmdletsGetTheSameError()
    {
        int thread = OtherThreadOfThisProcess();

        var enable = Assert.Throws<KeepaliveValidationException>(() => TcpKeepaliveRetrofit.ApplyToProcess(thread, new SocketKeepaliveChange(Enabled: true)).ToList());
        var owner = Assert.Throws<KeepaliveValidationException>(() => new TcpConnectionQuery { OwningProcesses = [thread] }.Validate());

        Assert.All(new[] { enable, owner }, e => Assert.Contains($"thread of process {Environment.ProcessId}", e.Message, StringComparison.Ordinal));
        Assert.Equal("ProcessInvalidArgument", enable.ErrorId);
        TcpKeepaliveRetrofit.ApplyToProcess(Environment.ProcessId, new SocketKeepaliveChange(Enabled: true), (_, _) => false).ToList(); // the process itself is fine
    }

    /// <summary>A thread of the test process that is not its leader.</summary>
    private static int OtherThreadOfThisProcess() =>
        Directory.EnumerateDirectories("/proc/self/task")
            .Select(d => int.Parse(Path.GetFileName(d), CultureInfo.InvariantCulture))
            .First(tid => tid != Environment.ProcessId);

    /// <summary>Runs the CLI with stdout redirected to <paramref name="file"/>, or to a pipe whose reader is already gone (null).</summary>
    private static CliResult RunWithStdout(string? file, string[] command)
    {
        const string script = """
import os, subprocess, sys
target = sys.argv[1]
if target == "-":
    r, w = os.pipe()
    os.close(r)
    out = w
else:
    out = os.open(target, os.O_WRONLY)
p = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.PIPE, timeout=60)
sys.stderr.buffer.write(p.stderr)
sys.exit(p.returncode if p.returncode >= 0 else 128 - p.returncode)
""";
        return CliRunner.RunProgram(PreloadPrograms.Python, ["-c", script, file ?? "-", "dotnet", CliRunner.DllPath, .. command], TimeSpan.FromSeconds(90));
    }
}
