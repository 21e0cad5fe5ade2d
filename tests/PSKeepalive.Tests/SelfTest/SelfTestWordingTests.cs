using System;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.SelfTest;

/// <summary>The self-test's summary counts probes in good English.</summary>
public sealed class SelfTestWordingTests
{
    [DeafPeerFact]
    public void OneProbe_IsSingular()
    {
        CliResult result = CliRunner.Run("test", "--idle", "1", "--interval", "1", "--count", "1");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("after 1 unanswered probe.", result.StandardOutput, StringComparison.Ordinal);
    }
}
