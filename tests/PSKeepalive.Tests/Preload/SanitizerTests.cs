using System;
using System.Collections.Generic;
using System.IO;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Preload;

/// <summary>The shim built with AddressSanitizer and UndefinedBehaviorSanitizer, run once under real programs.</summary>
public sealed class SanitizerTests
{
    private static readonly Lazy<string> SanitizedShim = new(() =>
    {
        string output = Path.Combine(PreloadPrograms.TemporaryDirectory(), "libpskeepalive-asan.so");
        PreloadPrograms.Tool(
            "cc",
            "-std=c11", "-O1", "-g", "-fPIC", "-shared", "-fno-omit-frame-pointer",
            "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
            "-Wall", "-Wextra", "-Werror", "-Wconversion", "-Wshadow", "-fvisibility=hidden",
            "-o", output,
            PreloadPrograms.ShimSource("keepalive_core.c"), PreloadPrograms.ShimSource("pskeepalive_preload.c"),
            "-pthread", "-ldl");
        return output;
    });

    [Theory]
    [InlineData("all")]
    [InlineData("outgoing")]
    [InlineData("listening")]
    public void SanitizedShim_ReportsNothing(string mode)
    {
        string asanRuntime = PreloadPrograms.Tool("cc", "-print-file-name=libasan.so").Trim();
        Assert.True(File.Exists(asanRuntime), $"libasan.so not found ({asanRuntime}); install the gcc sanitizer runtimes");
        var variables = new Dictionary<string, string>
        {
            ["PSKEEPALIVE_MODE"] = mode,
            ["PSKEEPALIVE_IDLE"] = "7",
            ["PSKEEPALIVE_INTERVAL"] = "abc", // the invalid-value path too
            ["PSKEEPALIVE_COUNT"] = "99999999999999999999999",
            ["PSKEEPALIVE_USER_TIMEOUT"] = "3000",
            ["PSKEEPALIVE_DEBUG"] = "1",
            ["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=86",
            ["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1",
        };

        // The sanitizer runtime must be loaded first; the fork-exec child inherits both.
        ProgramRun run = PreloadPrograms.RunUnder(
            $"{asanRuntime} {SanitizedShim.Value}",
            PreloadPrograms.SockProbe,
            variables,
            "tcp4", "tcp4-flags", "listener", "udp", "unix", "refused", "errno-kept", "fork-exec");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain("Sanitizer", run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("runtime error", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("pskeepalive: ignoring PSKEEPALIVE_INTERVAL", run.StandardError, StringComparison.Ordinal);
        Assert.Equal(1, mode == "listening" ? run["accepted"]["so_keepalive"] : run["tcp4"]["so_keepalive"]);
        Assert.Equal(7, mode == "listening" ? run["accepted"]["idle"] : run["tcp4"]["idle"]);
    }
}
