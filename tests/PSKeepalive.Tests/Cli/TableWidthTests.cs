using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Cli;

/// <summary>The result tables of enable/disable/close fit 120 columns: a long reason wraps instead of running on.</summary>
public sealed class TableWidthTests
{
    [RootFact]
    public void Enable_SkippedResults_FitIn120Columns_WithTheWholeReason()
    {
        var start = new ProcessStartInfo(PSKeepalive.Tests.Preload.PreloadPrograms.Python)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import socket,time\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\nprint('ok', flush=True); time.sleep(60)");
        using var holder = Process.Start(start)!;
        try
        {
            var ready = holder.StandardOutput.ReadLineAsync();
            Assert.True(ready.Wait(TimeSpan.FromSeconds(20)) && ready.Result == "ok", "the socket holder did not start within 20 s");
            string pid = holder.Id.ToString(CultureInfo.InvariantCulture);

            CliResult first = CliRunner.Run("enable", "--pid", pid, "--idle", "31");
            CliResult again = CliRunner.Run("enable", "--pid", pid, "--idle", "31");

            Assert.True(first.ExitCode == 0, first.ToString());
            Assert.True(again.ExitCode == 0, again.ToString());
            string[] lines = again.StandardOutput.TrimEnd('\n').Split('\n');
            Assert.All(lines, l => Assert.True(l.Length <= 120, $"{l.Length} columns: {l}"));
            Assert.True(lines.Length >= 3, again.StandardOutput); // header, the row, and the reason's continuation
            string joined = string.Join(' ', lines.Skip(1).Select(l => l.Trim()));
            Assert.Contains("Skipped", joined, StringComparison.Ordinal);
            Assert.Contains("The socket already has the requested values; nothing was written.", joined, StringComparison.Ordinal);
        }
        finally
        {
            holder.Kill();
            holder.WaitForExit(10_000);
        }
    }
}
