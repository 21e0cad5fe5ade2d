using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using PSKeepalive.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace PSKeepalive.Tests.Preload;

/// <summary>
/// Seed 002's fix, proven: a server that never asked for keepalive, run through `pskeepalive run --idle 1
/// --interval 1 --count 2 --mode listening`, notices within about 3 s that its client went deaf. The client
/// (in this process) drops everything it receives with a classic BPF filter, so the server's probes go
/// unanswered. The same server without the shim sees nothing until its own limit.
/// </summary>
public sealed partial class EndToEndTests(ITestOutputHelper output)
{
    private const int ETIMEDOUT = 110;

    [DeafPeerFact]
    public async Task DeafClient_ServerUnderRun_IsResetAfterIdlePlusIntervalTimesCount()
    {
        string server = PreloadPrograms.Fixture("deafserver.py");
        var underShim = new ProcessStartInfo("dotnet");
        foreach (string argument in new[]
                 {
                     CliRunner.DllPath, "run", "--idle", "1", "--interval", "1", "--count", "2", "--mode", "listening", "--",
                     PreloadPrograms.Python, server, "20",
                 })
        {
            underShim.ArgumentList.Add(argument);
        }

        // Control: the same server without the shim, with a shorter limit of its own.
        var bare = new ProcessStartInfo(PreloadPrograms.Python);
        bare.ArgumentList.Add(server);
        bare.ArgumentList.Add("7");

        Task<(int Errno, double Seconds)> withShim = Task.Run(() => ServeDeafClient(underShim));
        Task<(int Errno, double Seconds)> without = Task.Run(() => ServeDeafClient(bare));
        var (errno, seconds) = await withShim;
        var (controlErrno, controlSeconds) = await without;
        output.WriteLine($"under the shim: errno {errno} after {seconds} s; without: errno {controlErrno} after {controlSeconds} s");

        Assert.Equal(ETIMEDOUT, errno);
        Assert.InRange(seconds, 2.5, 8.0); // 1 s idle + 2 probes x 1 s
        Assert.Equal(-1, controlErrno); // no keepalive: still waiting when its own limit ran out
        Assert.True(controlSeconds >= 6.5, $"control ended after {controlSeconds} s");
    }

    /// <summary>Starts the server, connects a client that then goes deaf, returns what the server reported.</summary>
    private static (int Errno, double Seconds) ServeDeafClient(ProcessStartInfo start)
    {
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        foreach (string name in new[] { "LD_PRELOAD", "PSKEEPALIVE_IDLE", "PSKEEPALIVE_INTERVAL", "PSKEEPALIVE_COUNT", "PSKEEPALIVE_MODE", "PSKEEPALIVE_OFF", "PSKEEPALIVE_USER_TIMEOUT" })
        {
            start.Environment.Remove(name);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start");
        try
        {
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            string first = ReadLine(process, TimeSpan.FromSeconds(60), stderr);
            Match port = PortLine().Match(first);
            Assert.True(port.Success, $"unexpected first line '{first}'");

            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(new IPEndPoint(IPAddress.Loopback, int.Parse(port.Groups[1].Value, CultureInfo.InvariantCulture)));
            AttachDropEverythingFilter(client);

            string second = ReadLine(process, TimeSpan.FromSeconds(30), stderr);
            Match closed = ClosedLine().Match(second);
            Assert.True(closed.Success, $"unexpected line '{second}'");
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "the server did not exit");
            return (int.Parse(closed.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(closed.Groups[2].Value, CultureInfo.InvariantCulture));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static string ReadLine(Process process, TimeSpan timeout, Task<string> stderr)
    {
        Task<string?> line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(timeout))
        {
            throw new TimeoutException($"no output within {timeout.TotalSeconds} s");
        }

        return line.Result ?? throw new EndOfStreamException($"the server ended early: {(stderr.Wait(TimeSpan.FromSeconds(5)) ? stderr.Result : string.Empty)}");
    }

    /// <summary>SO_ATTACH_FILTER with one instruction, BPF_RET|BPF_K 0: every incoming segment is dropped before TCP sees it.</summary>
    private static unsafe void AttachDropEverythingFilter(Socket socket)
    {
        const int SOL_SOCKET = 1;
        const int SO_ATTACH_FILTER = 26;
        const ushort BPF_RET_K = 0x06;
        ulong* filter = (ulong*)NativeMemory.AllocZeroed(8); // struct sock_filter { u16 code; u8 jt, jf; u32 k; }
        try
        {
            *(ushort*)filter = BPF_RET_K;
            byte[] program = new byte[16]; // struct sock_fprog { u16 len; struct sock_filter *filter; }
            BinaryPrimitives.WriteUInt16LittleEndian(program, 1);
            BinaryPrimitives.WriteInt64LittleEndian(program.AsSpan(8), (long)filter);
            socket.SetRawSocketOption(SOL_SOCKET, SO_ATTACH_FILTER, program);
        }
        finally
        {
            NativeMemory.Free(filter); // the kernel copied the program
        }
    }

    [GeneratedRegex(@"^port (\d+)$")]
    private static partial Regex PortLine();

    [GeneratedRegex(@"^closed errno=(-?\d+) seconds=([\d.]+)$")]
    private static partial Regex ClosedLine();
}
