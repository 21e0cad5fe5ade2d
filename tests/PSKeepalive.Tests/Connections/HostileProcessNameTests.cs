using System;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PSKeepalive.Core;
using PSKeepalive.Tests.Preload;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Connections;

/// <summary>
/// A process may name itself anything (prctl PR_SET_NAME, 15 bytes; its argv): escape sequences and line breaks
/// in a process name must not reach root's terminal through a table, nor split its rows. JSON stays exact.
/// </summary>
public sealed class HostileProcessNameTests
{
    /// <summary>15 bytes: a quote, a backslash, a newline and an SGR escape sequence (red text).</summary>
    public const string HostileName = "a\"b\\c\nd\u001b[31mRED";

    [Fact]
    public void Escape_MakesControlCharactersVisible_AndKeepsEverythingElse()
    {
        Assert.Equal("a\"b\\\\c\\nd\\x1b[31mRED", TerminalText.Escape(HostileName));
        Assert.Equal("tab\\t cr\\r nul\\x00 del\\x7f c1\\x9b", TerminalText.Escape("tab\t cr\r nul\0 del\u007f c1\u009b"));
        Assert.Equal("bidi \\u202e and \\u2066", TerminalText.Escape("bidi \u202e and \u2066"));
        Assert.Equal("plain café 東京 /usr/bin/nc", TerminalText.Escape("plain café 東京 /usr/bin/nc"));
        Assert.Equal(string.Empty, TerminalText.Escape(null));
        string clean = "nothing to do";
        Assert.Same(clean, TerminalText.Escape(clean)); // the common case costs no allocation
    }

    [Fact]
    public void ConnectionsTable_EscapesTheProcessName_OneRowPerSocket_AndJsonKeepsItExactly()
    {
        using var holder = HostileListener.Start();

        CliResult table = CliRunner.Run("connections", "--include-process", "--state", "listen", "--local-port", holder.Port.ToString(CultureInfo.InvariantCulture));
        CliResult json = CliRunner.Run("connections", "--include-process", "--state", "listen", "--local-port", holder.Port.ToString(CultureInfo.InvariantCulture), "--json");

        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.DoesNotContain('\u001b', table.StandardOutput);
        string[] lines = table.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains($"a\"b\\\\c\\nd\\x1b[31mRED/{holder.Pid}", lines[1], StringComparison.Ordinal);
        using var document = JsonDocument.Parse(json.StandardOutput);
        JsonElement process = document.RootElement[0].GetProperty("processes")[0];
        Assert.Equal(HostileName, process.GetProperty("name").GetString());
        Assert.Equal(holder.Pid, process.GetProperty("pid").GetInt32());
    }

    [RootFact]
    public void EnableTable_EscapesReasons_AndEveryOtherCell()
    {
        using var holder = HostileListener.Start();

        CliResult result = CliRunner.Run("enable", "--pid", holder.Pid.ToString(CultureInfo.InvariantCulture), "--idle", "61", "--what-if");

        Assert.DoesNotContain('\u001b', result.StandardOutput + result.StandardError);
    }
}

/// <summary>A python3 process with a hostile comm and argv that holds a loopback listener until disposed.</summary>
public sealed class HostileListener : IDisposable
{
    private const string Script = """
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
""";

    private readonly Process _process;

    private HostileListener(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Pid => _process.Id;

    public int Port { get; }

    public static HostileListener Start()
    {
        var start = new ProcessStartInfo(PreloadPrograms.Python) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in new[] { "-c", Script, HostileProcessNameTests.HostileName, "--quote=\"x\"", "back\\slash", "line\nbreak\u001b]0;title\u0007" })
        {
            start.ArgumentList.Add(argument);
        }

        Process process = Process.Start(start)!;
        var line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(20)) || line.Result is null)
        {
            process.Kill();
            process.Dispose();
            throw new TimeoutException("The hostile listener did not report its port within 20 s.");
        }

        return new HostileListener(process, int.Parse(line.Result, CultureInfo.InvariantCulture));
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(10_000))
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
