using System;
using System.Collections.Generic;
using System.Globalization;
using System.CommandLine;
using System.IO;
using System.Linq;
using System.Text;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Processes;

namespace PSKeepalive.Cli.Commands;

/// <summary>
/// `pskeepalive connections [--state S ...] [--local-port P] [--remote-port P] [--local-address A] [--remote-address A]
/// [--process PID] [--no-keepalive] [--include-process] [--include-info] [--netns PATH] [--json]`: TCP sockets
/// from sock_diag with their keepalive state, streamed as they are read.
/// </summary>
internal static class ConnectionsCommand
{
    public static Command Create()
    {
        var filters = new ConnectionFilterOptions();
        var noKeepalive = new Option<bool>("--no-keepalive") { Description = "Only connections certainly without keepalive: ESTABLISHED with no timer armed; with --include-socket-option, SO_KEEPALIVE off (listeners included)." };
        var includeProcess = new Option<bool>("--include-process") { Description = "Show the processes holding each socket (one scan: the kernel's BPF iterator as root, otherwise /proc/*/fd)." };
        var includeInfo = new Option<bool>("--include-info") { Description = "Ask the kernel for tcp_info: RTT, last send/receive, retransmits, unacked segments." };
        var includeSocketOption = new Option<bool>("--include-socket-option")
        {
            Description = "Read each socket's own keepalive options through its owner (pidfd_getfd; root): keepaliveEnabled, idle, interval, probeCount, userTimeout; makes noKeepalive exact.",
        };
        var json = CommonOptions.Json();
        var command = new Command("connections", "List TCP connections (sock_diag) with their keepalive timer and, on request, their processes.")
        {
            noKeepalive, includeProcess, includeInfo, includeSocketOption, filters.NetworkNamespace, json,
        };
        foreach (var filter in filters.Filters.Reverse())
        {
            command.Options.Insert(0, filter);
        }

        CliApp.SetAction(command, parse =>
        {
            var query = filters.ToQuery(parse) with
            {
                NoKeepaliveOnly = parse.GetValue(noKeepalive),
                IncludeProcess = parse.GetValue(includeProcess) || parse.GetValue(includeSocketOption),
                IncludeInfo = parse.GetValue(includeInfo),
                IncludeSocketOption = parse.GetValue(includeSocketOption),
            };
            query.Validate();

            SocketOwnerMap? owners = null;
            if (query.NeedsOwners)
            {
                owners = SocketOwnerScan.Scan(query.OwningProcesses);
                if (owners.DeniedMessage is string denied)
                {
                    Console.Error.WriteLine($"pskeepalive: note: {denied}");
                }

                if (owners.ProcessesVanished > 0)
                {
                    Console.Error.WriteLine($"pskeepalive: note: {owners.ProcessesVanished} process(es) ended during the scan; their sockets show no process.");
                }
            }

            bool socketOptions = parse.GetValue(includeSocketOption);
            IEnumerable<TcpConnection> connections = TcpConnections.Enumerate(query, owners);
            if (parse.GetValue(json))
            {
                WriteJson(connections, query, socketOptions);
            }
            else
            {
                WriteTable(connections, query.NeedsOwners, query.IncludeInfo);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>A JSON array, one object per socket, written as the dump is read (see <see cref="ConnectionJsonWriter"/>).</summary>
    internal static void WriteJson(IEnumerable<TcpConnection> connections, TcpConnectionQuery query, bool socketOptions = false)
    {
        using Stream stdout = new PSKeepalive.Core.DescriptorOutputStream();
        WriteJson(stdout, connections, query, socketOptions);
    }

    /// <summary>As <see cref="WriteJson(IEnumerable{TcpConnection}, TcpConnectionQuery, bool)"/>, to any stream (benchmarks).</summary>
    internal static void WriteJson(Stream output, IEnumerable<TcpConnection> connections, TcpConnectionQuery query, bool socketOptions = false)
    {
        using var writer = new ConnectionJsonWriter(output, query.IncludeInfo, query.NeedsOwners, socketOptions);
        foreach (TcpConnection connection in connections)
        {
            writer.Write(connection);
        }

        writer.Complete();
    }

    /// <summary>
    /// Columns State, Local, Remote, Keepalive (and Process, and Info with --include-info), streamed with fixed minimum
    /// widths so that the first lines appear at once; a wider value pushes its row only.
    /// </summary>
    internal static void WriteTable(IEnumerable<TcpConnection> connections, bool owners, bool info = false)
    {
        // The dump starts (and a namespace that cannot be entered fails) at the first MoveNext: before the header, so
        // that a failure leaves stdout empty rather than holding a header with no rows.
        using IEnumerator<TcpConnection> rows = connections.GetEnumerator();
        bool any = rows.MoveNext();
        using var output = new StreamWriter(new PSKeepalive.Core.DescriptorOutputStream(), new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
        var line = new StringBuilder(160);
        AppendRow(line, "State", "Local", "Remote", "Keepalive", owners ? "Process" : null, info ? "Info" : null);
        output.Write(line);
        for (; any; any = rows.MoveNext())
        {
            TcpConnection c = rows.Current;
            AppendRow(
                line,
                StateNames[(int)c.State],
                TcpConnection.Endpoint(c.LocalAddress, c.LocalPort),
                TcpConnection.Endpoint(c.RemoteAddress, c.RemotePort),
                TcpConnectionText.Keepalive(c),
                owners ? TcpConnectionText.Process(c) : null,
                info ? InfoText(c) : null);
            output.Write(line);
        }
    }

    private static void AppendRow(StringBuilder line, string state, string local, string remote, string keepalive, string? process, string? info)
    {
        line.Clear();
        line.Append(state).Append(' ', Math.Max(1, 12 - state.Length));
        line.Append(local).Append(' ', Math.Max(1, 24 - local.Length));
        line.Append(remote).Append(' ', Math.Max(1, 24 - remote.Length));
        if (process is null)
        {
            line.Append(keepalive);
        }
        else
        {
            line.Append(keepalive).Append(' ', Math.Max(1, 20 - keepalive.Length)).Append(process);
        }

        if (info is not null)
        {
            line.Append(' ', process is null ? Math.Max(1, 20 - keepalive.Length) : Math.Max(1, 24 - process.Length)).Append(info);
        }

        line.Append('\n');
    }

    /// <summary>tcp_info in a few words: "rtt 0.05ms, retrans 0, unacked 0, sent 1.2s ago, received 3s ago"; "-" where there is none (listeners: the kernel gives zeros; TIME_WAIT: nothing).</summary>
    internal static string InfoText(TcpConnection c)
    {
        if (c.State == TcpState.Listen || (c.Rtt is null && c.Retransmits is null && c.UnackedSegments is null))
        {
            return "-";
        }

        string rtt = c.Rtt is TimeSpan r ? r.TotalMilliseconds.ToString(r.TotalMilliseconds < 10 ? "0.###" : "0", CultureInfo.InvariantCulture) + "ms" : "-";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"rtt {rtt}, retrans {c.Retransmits?.ToString(CultureInfo.InvariantCulture) ?? "-"}, unacked {c.UnackedSegments?.ToString(CultureInfo.InvariantCulture) ?? "-"}, sent {TcpConnectionText.Duration(c.LastDataSent)} ago, received {TcpConnectionText.Duration(c.LastDataReceived)} ago");
    }

    private static readonly string[] StateNames = Enumerable.Range(0, 12).Select(i => i == 0 ? "0" : TcpStateNames.ToName((TcpState)i)).ToArray();
}
