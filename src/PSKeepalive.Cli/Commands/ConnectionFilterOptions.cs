using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.Linq;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Processes;

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

    private readonly Option<string[]> _localPort = IntegerList("--local-port", "PORT", "local port, 0..65535");
    private readonly Option<string[]> _remotePort = IntegerList("--remote-port", "PORT", "remote port, 0..65535");
    private readonly Option<string[]> _localAddress = AddressList("--local-address", "local");
    private readonly Option<string[]> _remoteAddress = AddressList("--remote-address", "remote");
    private readonly Option<string[]> _process = IntegerList("--process", "PID", "owning process id");
    private readonly Option<string?> _netns = CommonOptions.NetworkNamespace();

    /// <summary>The filter options, in help order, followed by --netns.</summary>
    public IEnumerable<Option> Filters => [_states, _localPort, _remotePort, _localAddress, _remoteAddress, _process];

    public Option<string?> NetworkNamespace => _netns;

    /// <summary>A query with the filters the user gave; other settings are left to the command.</summary>
    public TcpConnectionQuery ToQuery(ParseResult parse) => new()
    {
        States = ParseStates(parse.GetValue(_states)),
        LocalPorts = Integers(parse.GetValue(_localPort)),
        RemotePorts = Integers(parse.GetValue(_remotePort)),
        LocalAddresses = Values(parse.GetValue(_localAddress)),
        RemoteAddresses = Values(parse.GetValue(_remoteAddress)),
        OwningProcesses = Integers(parse.GetValue(_process)) is List<int> pids ? RunningProcesses.Existing(pids, "--process", missing => throw missing) : null,
        NetworkNamespace = parse.GetValue(_netns),
    };

    /// <summary>
    /// An option that takes several values, repeated or comma-separated (--local-port 80,443 or --local-port 80 --local-port
    /// 443), any of which may match, as --state does.
    /// </summary>
    private static Option<string[]> List(string name, string helpName, string description) => new(name)
    {
        Description = description,
        HelpName = helpName,
        AllowMultipleArgumentsPerToken = true,
        Arity = ArgumentArity.OneOrMore,
    };

    /// <summary>Whole numbers; a word that is none is a parse error naming the option (exit 2). Ranges are Core's to check.</summary>
    private static Option<string[]> IntegerList(string name, string helpName, string what)
    {
        Option<string[]> option = List(name, helpName, $"Only sockets with this {what} (repeat or comma-separate: any may match).");
        option.Validators.Add(result =>
        {
            foreach (string word in Split(result.Tokens.Select(t => t.Value)))
            {
                if (!int.TryParse(word, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                {
                    result.AddError($"{name} takes whole numbers ({what}); '{word}' is not one.");
                }
            }
        });
        return option;
    }

    private static Option<string[]> AddressList(string name, string side) => List(
        name,
        "ADDRESS",
        $"Only this {side} IPv4/IPv6 address, CIDR block (10.0.0.0/8) or wildcard pattern (quote it: '127.*'); an IPv4 value also matches its IPv4-mapped form (repeat or comma-separate: any may match).");

    private static IEnumerable<string> Split(IEnumerable<string> values) =>
        values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static List<string>? Values(string[]? values) => values is null || values.Length == 0 ? null : Split(values).ToList();

    private static List<int>? Integers(string[]? values) =>
        Values(values)?.Select(v => int.Parse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)).ToList();

    private static List<TcpState>? ParseStates(string[]? values) => Values(values)?.Select(TcpStateNames.Parse).ToList();
}
