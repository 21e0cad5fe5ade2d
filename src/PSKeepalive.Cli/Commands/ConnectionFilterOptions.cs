using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Linq;
using PSKeepalive.Core.Connections;

namespace PSKeepalive.Cli.Commands;

/// <summary>
/// The connection filters shared by `connections` and `close` (--state, --local-port, --remote-port,
/// --local-address, --remote-address, --process, --netns), so both select sockets with the same words.
/// </summary>
internal sealed class ConnectionFilterOptions
{
    private readonly Option<string[]> _states = new("--state")
    {
        Description = "Only these states (ss names, repeat or comma-separate): " + string.Join(", ", TcpStateNames.All.ToArray()) + ".",
        HelpName = "STATE",
        AllowMultipleArgumentsPerToken = true,
        Arity = ArgumentArity.OneOrMore,
    };

    private readonly Option<int?> _localPort = CommonOptions.Integer("--local-port", "PORT", "local port, 0..65535");
    private readonly Option<int?> _remotePort = CommonOptions.Integer("--remote-port", "PORT", "remote port, 0..65535");
    private readonly Option<string?> _localAddress = new("--local-address") { Description = "Only this local IPv4/IPv6 address.", HelpName = "ADDRESS" };
    private readonly Option<string?> _remoteAddress = new("--remote-address") { Description = "Only this remote IPv4/IPv6 address.", HelpName = "ADDRESS" };
    private readonly Option<int?> _process = CommonOptions.Integer("--process", "PID", "only sockets held by this process id");
    private readonly Option<string?> _netns = CommonOptions.NetworkNamespace();

    /// <summary>The filter options, in help order, followed by --netns.</summary>
    public IEnumerable<Option> Filters => [_states, _localPort, _remotePort, _localAddress, _remoteAddress, _process];

    public Option<string?> NetworkNamespace => _netns;

    /// <summary>A query with the filters the user gave; other settings are left to the command.</summary>
    public TcpConnectionQuery ToQuery(ParseResult parse) => new()
    {
        States = ParseStates(parse.GetValue(_states)),
        LocalPort = parse.GetValue(_localPort),
        RemotePort = parse.GetValue(_remotePort),
        LocalAddress = parse.GetValue(_localAddress),
        RemoteAddress = parse.GetValue(_remoteAddress),
        OwningProcess = parse.GetValue(_process),
        NetworkNamespace = parse.GetValue(_netns),
    };

    private static List<TcpState>? ParseStates(string[]? values)
    {
        if (values is null || values.Length == 0)
        {
            return null;
        }

        return values
            .SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(TcpStateNames.Parse)
            .ToList();
    }
}
