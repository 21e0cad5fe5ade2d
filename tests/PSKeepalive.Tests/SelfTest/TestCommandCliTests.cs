using System;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using PSKeepalive.Core.SelfTest;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.SelfTest;

/// <summary>`pskeepalive test` as a process, the way users run it. The runs are started together so that they overlap.</summary>
public sealed class TestCommandCliTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [DeafPeerFact]
    public async Task Test_RunsAsAProcess_WithExitCodesAndJson()
    {
        Task<CliResult> json = Run("test", "--json");
        Task<CliResult> human = Run("test", "--idle", "1", "--interval", "1", "--count", "2", "--ipv6");
        Task<CliResult> data = Run("test", "--json", "--with-data-in-flight", "--user-timeout", "1000");
        Task<CliResult> badIdle = Run("test", "--idle", "0");
        Task<CliResult> notANumber = Run("test", "--count", "three");
        Task<CliResult> contradiction = Run("test", "--use-system-settings", "--idle", "5");
        Task<CliResult> wouldTakeMinutes = Run("test", "--with-data-in-flight");
        Task<CliResult> badTimeout = Run("test", "--timeout", "0");
        Task<CliResult> unknown = Run("test", "--bogus");
        Task<CliResult> missingNamespace = Run("test", "--netns", "/run/netns/pskeepalive-no-such-namespace");
        await Task.WhenAll(json, human, data, badIdle, notANumber, contradiction, wouldTakeMinutes, badTimeout, unknown, missingNamespace);

        Assert.True(json.Result.ExitCode == 0, json.Result.ToString());
        using (var document = JsonDocument.Parse(json.Result.StandardOutput))
        {
            var root = document.RootElement;
            Assert.True(root.GetProperty("passed").GetBoolean());
            Assert.Equal(1, root.GetProperty("idle").GetInt32());
            Assert.Equal(1, root.GetProperty("interval").GetInt32());
            Assert.Equal(3, root.GetProperty("probeCount").GetInt32());
            Assert.False(root.TryGetProperty("count", out _), "a \"count\" key would hide .Count of the object ConvertFrom-Json makes");
            Assert.Equal(0, root.GetProperty("userTimeout").GetInt32());
            Assert.Equal(4.0, root.GetProperty("expectedDetectionSeconds").GetDouble());
            Assert.InRange(root.GetProperty("measuredDetectionSeconds").GetDouble(), 3.5, 5.0);
            Assert.Equal(3, root.GetProperty("probesSent").GetInt32());
            Assert.Equal("ETIMEDOUT", root.GetProperty("error").GetString());
            Assert.Equal(1.0, root.GetProperty("toleranceSeconds").GetDouble());
            Assert.Equal(0.5, root.GetProperty("earlyToleranceSeconds").GetDouble());
            Assert.Equal("Keepalive", root.GetProperty("mechanism").GetString());
            Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("message").GetString()));

            // The timeline beside the existing keys: one offset per probe near 1, 2, 3 s, none late or missing.
            double[] probeTimes = root.GetProperty("probeTimes").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(3, probeTimes.Length);
            Assert.Equal(new[] { 1.0, 2.0, 3.0 }, root.GetProperty("expectedProbeTimes").EnumerateArray().Select(e => e.GetDouble()));
            for (int k = 0; k < 3; k++)
            {
                Assert.InRange(probeTimes[k], k + 1 - ProbeTimeline.EarlyStepTolerance.TotalSeconds, k + 1 + ((k + 1) * 0.375));
            }

            Assert.Equal(0, root.GetProperty("lateProbes").GetArrayLength());
            Assert.Equal(0, root.GetProperty("missingProbes").GetArrayLength());
            Assert.InRange(root.GetProperty("timelineResolutionSeconds").GetDouble(), 0, 0.01);
            Assert.Matches(@"^\d\.\d\d \d\.\d\d \d\.\d\d \| reset \d\.\d\d$", root.GetProperty("timeline").GetString());
        }

        Assert.True(human.Result.ExitCode == 0, human.Result.ToString());
        string[] lines = human.Result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("Passed", lines[0]);
        Assert.StartsWith("yes", lines[1]);
        Assert.Contains("Keepalive ended the connection", human.Result.StandardOutput);
        Assert.Matches(@"Timeline \(s after the last data\): \d\.\d\d \d\.\d\d \| reset \d\.\d\d", human.Result.StandardOutput);

        Assert.True(data.Result.ExitCode == 0, data.Result.ToString());
        using (var document = JsonDocument.Parse(data.Result.StandardOutput))
        {
            var root = document.RootElement;
            Assert.Equal("UserTimeout", root.GetProperty("mechanism").GetString());
            Assert.True(root.GetProperty("withDataInFlight").GetBoolean());
            Assert.Equal(0, root.GetProperty("probesSent").GetInt32());
            Assert.InRange(root.GetProperty("measuredDetectionSeconds").GetDouble(), 0.9, 2.4);
            Assert.Equal(0, root.GetProperty("probeTimes").GetArrayLength());
            Assert.StartsWith("no probes | reset ", root.GetProperty("timeline").GetString());
        }

        AssertBadArguments(badIdle.Result, "--idle must be between 1 and 32767");
        AssertBadArguments(notANumber.Result, "--count takes a whole number");
        AssertBadArguments(contradiction.Result, "--use-system-settings takes --idle, --interval and --count");
        AssertBadArguments(wouldTakeMinutes.Result, "tcp_retries2");
        AssertBadArguments(badTimeout.Result, "--timeout must be between 1 and");
        AssertBadArguments(unknown.Result, "--bogus");

        Assert.True(missingNamespace.Result.ExitCode == 1, missingNamespace.Result.ToString());
        Assert.Contains("NetworkNamespaceNotFound", missingNamespace.Result.StandardError);
    }

    /// <summary>Each run waits on its own thread, not a pool thread, so that the runs do not starve the pool other tests time with.</summary>
    private static Task<CliResult> Run(params string[] arguments) =>
        Task.Factory.StartNew(() => CliRunner.Run(arguments, Bound), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static void AssertBadArguments(CliResult result, string phrase)
    {
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(phrase, result.StandardError);
        Assert.Equal(string.Empty, result.StandardOutput.Trim());
        Assert.True(result.StandardError.Split('\n').Any(line => line.StartsWith("pskeepalive:", StringComparison.Ordinal)), result.ToString());
    }
}

/// <summary>`pskeepalive test --netns`, in its own class so that it runs alongside the runs above.</summary>
public sealed class TestCommandNamespaceCliTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [RootFact]
    public void Test_UseSystemSettings_InAnotherNamespace()
    {
        using var ns = new PrivateNetworkNamespace();
        ns.WriteSysctl("net/ipv4/tcp_keepalive_time", "1");
        ns.WriteSysctl("net/ipv4/tcp_keepalive_intvl", "1");
        ns.WriteSysctl("net/ipv4/tcp_keepalive_probes", "2");

        var result = CliRunner.Run(new[] { "test", "--use-system-settings", "--netns", ns.Path, "--json" }, Bound);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var document = JsonDocument.Parse(result.StandardOutput);
        Assert.True(document.RootElement.GetProperty("usedSystemSettings").GetBoolean());
        Assert.Equal(3.0, document.RootElement.GetProperty("expectedDetectionSeconds").GetDouble());
        Assert.Equal(2, document.RootElement.GetProperty("probesSent").GetInt32());
    }
}
