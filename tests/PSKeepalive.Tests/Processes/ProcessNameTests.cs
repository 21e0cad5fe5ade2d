using System;
using System.Diagnostics;
using System.IO;
using System.Text;
using PSKeepalive.Core.Processes;
using Xunit;

namespace PSKeepalive.Tests.Processes;

/// <summary>/proc/PID/comm as the kernel writes it: at most 15 bytes, cut wherever the 15th byte falls, and a newline.</summary>
public sealed class ProcessNameTests
{
    [Theory]
    [InlineData("nc\n", "nc")]
    [InlineData("python3", "python3")]
    [InlineData("\n", "")]
    [InlineData("", "")]
    [InlineData("a b)(c\n", "a b)(c")] // spaces and parentheses are part of a name
    public void Decode_DropsTheNewlineOnly(string comm, string expected) =>
        Assert.Equal(expected, ProcessName.Decode(Encoding.UTF8.GetBytes(comm)));

    [Theory]
    [InlineData("c3a4c3a4c3a4c3a4c3a4c3a4c3a4c30a", "äääääää")] // 8 x "ä" (2 bytes) cut to 15 bytes: half an "ä" at the end
    [InlineData("e282ace282ace282ace282ace282ac0a", "€€€€€")] // whole 3-byte characters are kept
    [InlineData("6162e282", "ab")] // 2 of the 3 bytes of "€"
    [InlineData("6162f09f98", "ab")] // 3 of the 4 bytes of an emoji
    [InlineData("6162f09f9880", "ab😀")]
    [InlineData("61ff", "a\uFFFD")] // not UTF-8 at all: shown as such, not dropped
    [InlineData("80", "\uFFFD")] // a lone continuation byte
    public void Decode_DropsAHalfCharacterAtTheCut(string hex, string expected) =>
        Assert.Equal(expected, ProcessName.Decode(Convert.FromHexString(hex)));

    [Fact]
    public void Read_AProcessWhoseNameTheKernelCutInAMultibyteCharacter()
    {
        // exec of a file named with 8 "ä": the kernel keeps 15 of its 16 bytes as the process name.
        string folder = Path.Combine(Path.GetTempPath(), "pskeepalive-comm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string program = Path.Combine(folder, "ääääääää");
        File.Copy("/bin/sleep", program);
        File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        using var process = Process.Start(new ProcessStartInfo(program, "30") { UseShellExecute = false })!;
        try
        {
            byte[] raw = File.ReadAllBytes($"/proc/{process.Id}/comm");
            Assert.Equal(16, raw.Length); // 15 bytes and the newline: the cut this test is about
            Assert.Equal("äääääää", ProcessName.Read(process.Id));
        }
        finally
        {
            process.Kill();
            process.WaitForExit(10_000);
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Read_AProcessThatIsGone_IsNull() => Assert.Null(ProcessName.Read(int.MaxValue));
}
