using System.CommandLine;
using System.Globalization;
using PSKeepalive.Core;

namespace PSKeepalive.Cli.Commands;

/// <summary>
/// The per-socket options --idle, --interval, --count and --user-timeout, shared by `run`, `enable` and
/// `test` so that they read the same everywhere. Ranges come from <see cref="KeepaliveLimits"/>; Core checks
/// them. Each command says what an omitted option means.
/// </summary>
internal sealed class KeepaliveTimingOptions
{
    public KeepaliveTimingOptions(string? idleDefault, string? intervalDefault, string? countDefault, string? userTimeoutDefault)
    {
        Idle = CommonOptions.Integer("--idle", "S", Describe("TCP_KEEPIDLE: idle seconds before the first probe", KeepaliveLimits.MinIdle, KeepaliveLimits.MaxIdle, idleDefault));
        Interval = CommonOptions.Integer("--interval", "S", Describe("TCP_KEEPINTVL: seconds between unanswered probes", KeepaliveLimits.MinInterval, KeepaliveLimits.MaxInterval, intervalDefault));
        Count = CommonOptions.Integer("--count", "N", Describe("TCP_KEEPCNT: unanswered probes before the connection is dropped", KeepaliveLimits.MinCount, KeepaliveLimits.MaxCount, countDefault));
        UserTimeout = CommonOptions.Integer("--user-timeout", "MS", Describe("TCP_USER_TIMEOUT: milliseconds sent data may stay unacknowledged", KeepaliveLimits.MinUserTimeout, KeepaliveLimits.MaxUserTimeout, userTimeoutDefault));
    }

    public Option<int?> Idle { get; }

    public Option<int?> Interval { get; }

    public Option<int?> Count { get; }

    public Option<int?> UserTimeout { get; }

    private static string Describe(string what, int minimum, int maximum, string? byDefault) =>
        string.Create(CultureInfo.InvariantCulture, $"{what}, {minimum}..{maximum}") + (byDefault is null ? string.Empty : $" (default: {byDefault})");
}
