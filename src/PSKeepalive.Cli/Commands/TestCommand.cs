using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using PSKeepalive.Cli.Output;
using PSKeepalive.Core.SelfTest;

namespace PSKeepalive.Cli.Commands;

/// <summary>
/// `pskeepalive test [--idle S] [--interval S] [--count N] [--user-timeout MS] [--with-data-in-flight]
/// [--use-system-settings] [--ipv6] [--netns PATH] [--timeout S] [--json]`: the end-to-end keepalive self-test.
/// Exit 0 when it passed, 3 when the kernel did not behave as the settings say, 2 for bad arguments, 1 otherwise.
/// </summary>
internal static class TestCommand
{
    public static Command Create()
    {
        var timing = new KeepaliveTimingOptions(idleDefault: "1", intervalDefault: "1", countDefault: "3", userTimeoutDefault: "0, not set");
        var idle = timing.Idle;
        var interval = timing.Interval;
        var count = timing.Count;
        var userTimeout = timing.UserTimeout;
        var dataInFlight = new Option<bool>("--with-data-in-flight")
        {
            Description = "Leave unacknowledged data queued, so that keepalive cannot fire and TCP_USER_TIMEOUT or retransmission decides.",
        };
        var system = new Option<bool>("--use-system-settings")
        {
            Description = "Set only SO_KEEPALIVE, so that the namespace's net.ipv4.tcp_keepalive_* sysctls govern.",
        };
        var ipv6 = new Option<bool>("--ipv6") { Description = "Test over ::1 instead of 127.0.0.1." };
        var netns = CommonOptions.NetworkNamespace();
        var timeout = CommonOptions.Integer(
            "--timeout",
            "S",
            $"Longest wait in seconds, 1..{TcpKeepaliveTest.MaxTimeoutSeconds} (default {TcpKeepaliveTest.DefaultTimeout.TotalSeconds}); longer tests are refused");
        var json = CommonOptions.Json();

        var command = new Command(
            "test",
            "Prove end to end that keepalive ends a connection to a silent peer when the settings say it should "
                + "(a loopback connection whose peer is made deaf; no root needed unless the kernel refuses socket filters to unprivileged users). Exit 0 passed, 3 the kernel did not behave as expected.")
        {
            idle, interval, count, userTimeout, dataInFlight, system, ipv6, netns, timeout, json,
        };
        CliApp.SetAction(command, parse =>
        {
            var options = new TcpKeepaliveTestOptions
            {
                Idle = parse.GetValue(idle),
                Interval = parse.GetValue(interval),
                Count = parse.GetValue(count),
                UserTimeout = parse.GetValue(userTimeout) ?? 0,
                WithDataInFlight = parse.GetValue(dataInFlight),
                UseSystemSettings = parse.GetValue(system),
                IPv6 = parse.GetValue(ipv6),
                NetworkNamespace = parse.GetValue(netns),
                Timeout = parse.GetValue(timeout) is int seconds ? TimeSpan.FromSeconds(seconds) : null,
            };

            TcpKeepaliveTestResult result = TcpKeepaliveTest.Run(options);
            Print(result, parse.GetValue(json));
            return result.Passed ? ExitCodes.Success : ExitCodes.TestFailed;
        });
        return command;
    }

    private static void Print(TcpKeepaliveTestResult result, bool json)
    {
        if (json)
        {
            JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WriteNumber("idle", result.Idle);
                w.WriteNumber("interval", result.Interval);
                w.WriteNumber("probeCount", result.ProbeCount);
                w.WriteNumber("userTimeout", result.UserTimeout);
                w.WriteNumber("expectedDetectionSeconds", Math.Round(result.ExpectedDetection.TotalSeconds, 3));
                if (result.MeasuredDetection is TimeSpan measured)
                {
                    w.WriteNumber("measuredDetectionSeconds", Math.Round(measured.TotalSeconds, 3));
                }
                else
                {
                    w.WriteNull("measuredDetectionSeconds");
                }

                w.WriteNumber("probesSent", result.ProbesSent);
                w.WriteNumber("retransmissions", result.Retransmissions);
                if (result.Error is null)
                {
                    w.WriteNull("error");
                }
                else
                {
                    w.WriteString("error", result.Error);
                }

                w.WriteBoolean("passed", result.Passed);
                w.WriteNumber("toleranceSeconds", Math.Round(result.Tolerance.TotalSeconds, 3));
                w.WriteNumber("earlyToleranceSeconds", Math.Round(result.EarlyTolerance.TotalSeconds, 3));
                w.WriteBoolean("withDataInFlight", result.WithDataInFlight);
                w.WriteBoolean("usedSystemSettings", result.UsedSystemSettings);
                w.WriteString("mechanism", result.Mechanism.ToString());
                w.WriteString("address", result.Address);
                w.WriteString("networkNamespace", result.NetworkNamespace);
                w.WriteString("message", result.Message);
                WriteNumbers(w, "probeTimes", result.ProbeTimes);
                WriteNumbers(w, "expectedProbeTimes", result.ExpectedProbeTimes);
                WriteNumbers(w, "lateProbes", result.LateProbes.Select(n => (double)n));
                WriteNumbers(w, "missingProbes", result.MissingProbes.Select(n => (double)n));
                w.WriteNumber("timelineResolutionSeconds", Math.Round(result.TimelineResolution.TotalSeconds, 3));
                w.WriteString("timeline", result.Timeline);
                w.WriteEndObject();
            });
            return;
        }

        var table = new TextTable("Passed", "Idle", "Interval", "Count", "UserTimeout", "Expected", "Measured", "Error", "Probes", "Retrans", "Mechanism")
            .AlignRight("Idle", "Interval", "Count", "UserTimeout", "Expected", "Measured", "Probes", "Retrans");
        table.Add(
            result.Passed ? "yes" : "NO",
            result.Idle.ToString(CultureInfo.InvariantCulture) + "s",
            result.Interval.ToString(CultureInfo.InvariantCulture) + "s",
            result.ProbeCount.ToString(CultureInfo.InvariantCulture),
            result.UserTimeout == 0 ? "-" : result.UserTimeout.ToString(CultureInfo.InvariantCulture) + "ms",
            Durations.Format(Math.Round(result.ExpectedDetection.TotalSeconds, 2)),
            result.MeasuredDetection is TimeSpan m ? Durations.Format(Math.Round(m.TotalSeconds, 2)) : "-",
            result.Error ?? "-",
            result.ProbesSent.ToString(CultureInfo.InvariantCulture),
            result.Retransmissions.ToString(CultureInfo.InvariantCulture),
            result.Mechanism.ToString());
        table.Write(Console.Out);
        Console.Out.WriteLine();
        Console.Out.WriteLine($"Timeline (s after the last data): {result.Timeline}");
        Console.Out.WriteLine(result.Message);
    }

    private static void WriteNumbers(Utf8JsonWriter w, string key, IEnumerable<double> values)
    {
        w.WriteStartArray(key);
        foreach (double value in values)
        {
            w.WriteNumberValue(value);
        }

        w.WriteEndArray();
    }
}
