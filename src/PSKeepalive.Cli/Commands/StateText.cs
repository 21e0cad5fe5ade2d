using System;
using PSKeepalive.Core.Connections;

namespace PSKeepalive.Cli.Commands;

/// <summary>
/// States in the CLI's output are the ss names `connections` prints and `--state` takes ("established", "listen"),
/// also in the results of enable, disable and close, whose Core records carry the enum's name ("Established").
/// </summary>
internal static class StateText
{
    /// <summary>The ss name of an enum-named state; other text lower-cased; null stays null.</summary>
    public static string? Of(string? state) =>
        state is null ? null
        : Enum.TryParse(state, ignoreCase: false, out TcpState parsed) && Enum.IsDefined(parsed) ? TcpStateNames.ToName(parsed)
        : state.ToLowerInvariant();
}
