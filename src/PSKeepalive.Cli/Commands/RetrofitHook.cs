using System.Collections.Generic;
using System.Linq;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Processes;
using PSKeepalive.Core.Retrofit;

namespace PSKeepalive.Cli.Commands;

/// <summary>`connections --include-socket-option`: the listing with each socket's own options read through its owner.</summary>
internal static class RetrofitHook
{
    /// <summary>
    /// Lists with <paramref name="query"/> and fills the socket options. With --no-keepalive the filter is applied
    /// after reading the options, so that it is exact (listeners and sockets with data in flight included).
    /// </summary>
    public static IEnumerable<TcpConnection> WithSocketOptions(TcpConnectionQuery query, SocketOwnerMap? owners)
    {
        IEnumerable<TcpConnection> filled = ConnectionSocketOptions.Fill(TcpConnections.Enumerate(query with { NoKeepaliveOnly = false }, owners));
        return query.NoKeepaliveOnly ? filled.Where(c => c.NoKeepalive == true) : filled;
    }
}
