using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.Linq;
using PSKeepalive.Cli.Output;
using PSKeepalive.Core;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Retrofit;

namespace PSKeepalive.Cli.Commands;

/// <summary>
/// `pskeepalive close [--state S ...] [--local-port P] [--remote-port P] [--local-address A] [--remote-address A]
/// [--process PID] [--netns PATH] [--what-if] [--json]`: closes the matching TCP sockets with SOCK_DESTROY (as
/// `ss -K`). Refuses to run without a filter: that would close every connection of the host.
/// </summary>
internal static class CloseCommand
{
    public static Command Create()
    {
        var filters = new ConnectionFilterOptions();
        var whatIf = CommonOptions.WhatIf();
        var json = CommonOptions.Json();
        var command = new Command(
            "close",
            "Close matching TCP connections with SOCK_DESTROY (as ss -K): the peer gets a reset (needs CAP_NET_ADMIN). At least one filter is required; TIME_WAIT sockets are left alone, and listening sockets unless --state listen is given.")
        {
            filters.NetworkNamespace, whatIf, json,
        };
        foreach (var filter in filters.Filters.Reverse())
        {
            command.Options.Insert(0, filter);
        }

        CliApp.SetAction(command, parse =>
        {
            var query = filters.ToQuery(parse);
            if (!query.HasFilter)
            {
                throw new KeepaliveValidationException(
                    "Connection",
                    "Filter",
                    "close needs at least one filter (--state, --local-port, --remote-port, --local-address, --remote-address, --process; '*' is none): without one it would close every TCP connection of the host.",
                    null);
            }

            query.Validate();
            bool asJson = parse.GetValue(json);
            bool preview = parse.GetValue(whatIf);
            TcpConnectionCloser.ShouldProcess? ask = null;
            if (preview)
            {
                ask = (target, action) =>
                {
                    Console.Error.WriteLine($"What if: {action} on {target}");
                    return false;
                };
            }

            // Listed completely before the first close: destroying sockets while the dump runs would disturb it.
            List<TcpConnection> matches = TcpConnections.Enumerate(query).ToList();
            // A listener is closed only when asked for by state: '--local-port 5432' is meant for the ghost
            // connections of a server, and destroying its listening socket would stop it accepting for good.
            bool listenersAsked = query.States?.Contains(TcpState.Listen) == true;
            int timeWait = matches.Count(c => c.State == TcpState.TimeWait);
            if (timeWait > 0)
            {
                Console.Error.WriteLine($"pskeepalive: note: {timeWait} TIME_WAIT socket(s) left alone: no program holds them and they end by themselves.");
            }

            int listeners = listenersAsked ? 0 : matches.Count(c => c.State == TcpState.Listen);
            if (listeners > 0)
            {
                Console.Error.WriteLine(
                    $"pskeepalive: note: {listeners} listening socket(s) left alone: closing one stops its program accepting connections; give --state listen to close it anyway.");
            }

            // Each in the namespace it was listed in (for --process, a container process's own), not only --netns.
            var results = matches
                .Where(c => TcpConnectionCloser.LeftAlone(TcpCloseTarget.From(c), listenersAsked) is null)
                .GroupBy(c => c.NetworkNamespace)
                .SelectMany(g => TcpConnectionCloser.Close(g.Select(TcpCloseTarget.From), g.Key, ask))
                .ToList();
            if (matches.Count == 0)
            {
                Console.Error.WriteLine("pskeepalive: no TCP connection matches; nothing to close.");
            }

            Print(results, asJson);
            foreach (var failed in results.Where(r => r.Outcome == TcpCloseOutcome.Failed))
            {
                Console.Error.WriteLine($"pskeepalive: {TerminalText.Escape(failed.Reason)} [{failed.ErrorId}]");
            }

            return results.Any(r => r.Outcome == TcpCloseOutcome.Failed) ? ExitCodes.Failure : ExitCodes.Success;
        });
        return command;
    }

    private static void Print(IReadOnlyList<TcpConnectionCloseResult> results, bool json)
    {
        if (json)
        {
            JsonOutput.Write(w =>
            {
                w.WriteStartArray();
                foreach (TcpConnectionCloseResult r in results)
                {
                    w.WriteStartObject();
                    w.WriteString("localAddress", r.LocalAddress);
                    w.WriteNumber("localPort", r.LocalPort);
                    w.WriteString("remoteAddress", r.RemoteAddress);
                    w.WriteNumber("remotePort", r.RemotePort);
                    w.WriteString("state", StateText.Of(r.State));
                    w.WriteNumber("inode", r.Inode);
                    w.WriteNumber("cookie", r.Cookie);
                    w.WriteString("outcome", r.Outcome.ToString());
                    w.WriteString("reason", r.Reason);
                    w.WriteString("errorId", r.ErrorId);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            });
            return;
        }

        if (results.Count == 0)
        {
            return;
        }

        var table = new TextTable("State", "Local", "Remote", "Outcome", "Reason") { MaxWidth = 120 };
        foreach (TcpConnectionCloseResult r in results)
        {
            table.Add(
                StateText.Of(r.State) ?? "-",
                TcpConnection.Endpoint(r.LocalAddress, r.LocalPort),
                TcpConnection.Endpoint(r.RemoteAddress, r.RemotePort),
                r.Outcome.ToString(),
                r.Reason ?? string.Empty);
        }

        table.Write(Console.Out);
    }
}
