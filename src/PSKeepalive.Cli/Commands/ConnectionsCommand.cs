using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
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
    private const int FlushThreshold = 64 * 1024;

    public static Command Create()
    {
        var filters = new ConnectionFilterOptions();
        var noKeepalive = new Option<bool>("--no-keepalive") { Description = "Only connections certainly without keepalive: ESTABLISHED with no timer armed; with --include-socket-option, SO_KEEPALIVE off (listeners included)." };
        var includeProcess = new Option<bool>("--include-process") { Description = "Show the processes holding each socket (one scan of /proc/*/fd)." };
        var includeInfo = new Option<bool>("--include-info") { Description = "Ask the kernel for tcp_info: RTT, last send/receive, retransmits, unacked segments." };
        var includeSocketOption = new Option<bool>("--include-socket-option")
        {
            Description = "Read each socket's own keepalive options through its owner (pidfd_getfd; root): keepaliveEnabled, idle, interval, count, userTimeout; makes noKeepalive exact.",
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
                owners = SocketOwnerScan.Scan(query.OwningProcess);
                if (owners.ProcessesNotRead > 0)
                {
                    Console.Error.WriteLine(
                        $"pskeepalive: note: {owners.ProcessesNotRead} process(es) could not be read ({owners.ProcessesDenied} denied, {owners.ProcessesVanished} ended during the scan); their sockets show no process.");
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
                WriteTable(connections, query.NeedsOwners);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>A JSON array, one object per socket, written as the dump is read and flushed every 64 KiB.</summary>
    internal static void WriteJson(IEnumerable<TcpConnection> connections, TcpConnectionQuery query, bool socketOptions = false)
    {
        using Stream stdout = Console.OpenStandardOutput();
        WriteJson(stdout, connections, query, socketOptions);
    }

    /// <summary>As <see cref="WriteJson(IEnumerable{TcpConnection}, TcpConnectionQuery, bool)"/>, to any stream (benchmarks).</summary>
    internal static void WriteJson(Stream stdout, IEnumerable<TcpConnection> connections, TcpConnectionQuery query, bool socketOptions = false)
    {
        using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true }))
        {
            var strings = new EncodedStrings();
            writer.WriteStartArray();
            foreach (TcpConnection connection in connections)
            {
                WriteConnection(writer, connection, query.IncludeInfo, query.NeedsOwners, strings, socketOptions);
                if (writer.BytesPending >= FlushThreshold)
                {
                    writer.Flush();
                }
            }

            writer.WriteEndArray();
        }

        stdout.WriteByte((byte)'\n');
    }

    internal static void WriteConnection(Utf8JsonWriter w, TcpConnection c, bool info, bool owners, EncodedStrings strings, bool socketOptions = false)
    {
        w.WriteStartObject();
        w.WriteString(Keys.AddressFamily, strings.Get(c.AddressFamily));
        w.WriteString(Keys.LocalAddress, strings.Get(c.LocalAddress));
        w.WriteNumber(Keys.LocalPort, c.LocalPort);
        w.WriteString(Keys.RemoteAddress, strings.Get(c.RemoteAddress));
        w.WriteNumber(Keys.RemotePort, c.RemotePort);
        w.WriteString(Keys.State, EncodedStateNames[(int)c.State]);
        w.WriteString(Keys.Timer, EncodedTimerNames[(int)c.Timer]);
        if (c.TimerExpires is TimeSpan expires)
        {
            w.WriteNumber(Keys.TimerExpiresMs, (long)expires.TotalMilliseconds);
        }
        else
        {
            w.WriteNull(Keys.TimerExpiresMs);
        }

        w.WriteNumber(Keys.ProbesSent, c.ProbesSent);
        w.WriteBoolean(Keys.KeepaliveTimerActive, c.KeepaliveTimerActive);
        WriteNullable(w, Keys.NoKeepalive, c.NoKeepalive);
        w.WriteNumber(Keys.Inode, c.Inode);
        w.WriteNumber(Keys.Uid, c.Uid);
        w.WriteNumber(Keys.Cookie, c.Cookie);
        w.WriteNumber(Keys.InterfaceIndex, c.InterfaceIndex);
        w.WriteNumber(Keys.ReceiveQueue, c.ReceiveQueue);
        w.WriteNumber(Keys.SendQueue, c.SendQueue);
        if (c.NetworkNamespace is not null)
        {
            w.WriteString(Keys.NetworkNamespace, strings.Get(c.NetworkNamespace));
        }

        if (info)
        {
            WriteMilliseconds(w, Keys.RttMs, c.Rtt);
            WriteMilliseconds(w, Keys.LastDataSentMs, c.LastDataSent);
            WriteMilliseconds(w, Keys.LastDataReceivedMs, c.LastDataReceived);
            WriteNullable(w, Keys.Retransmits, c.Retransmits);
            WriteNullable(w, Keys.UnackedSegments, c.UnackedSegments);
        }

        if (owners)
        {
            WriteNullable(w, Keys.OwningProcess, c.OwningProcess);
            w.WriteStartArray(Keys.Processes);
            foreach (TcpConnectionProcess p in c.Processes)
            {
                w.WriteStartObject();
                w.WriteNumber(Keys.Pid, p.Pid);
                WriteNullable(w, Keys.Name, p.Name, strings);
                WriteNullable(w, Keys.CommandLine, p.CommandLine, strings);
                w.WriteNumber(Keys.Fd, p.Fd);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        if (socketOptions || c.KeepaliveEnabled is not null)
        {
            WriteNullable(w, Keys.KeepaliveEnabled, c.KeepaliveEnabled);
            WriteNullable(w, Keys.Idle, c.Idle);
            WriteNullable(w, Keys.Interval, c.Interval);
            WriteNullable(w, Keys.Count, c.Count);
            WriteNullable(w, Keys.UserTimeout, c.UserTimeout);
        }

        w.WriteEndObject();
    }

    /// <summary>
    /// Columns State, Local, Remote, Keepalive (and Process), streamed with fixed minimum widths so that the
    /// first lines appear at once; a wider value pushes its row only.
    /// </summary>
    internal static void WriteTable(IEnumerable<TcpConnection> connections, bool owners)
    {
        using var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
        var line = new StringBuilder(160);
        AppendRow(line, "State", "Local", "Remote", "Keepalive", owners ? "Process" : null);
        output.Write(line);
        foreach (TcpConnection c in connections)
        {
            AppendRow(
                line,
                StateNames[(int)c.State],
                TcpConnection.Endpoint(c.LocalAddress, c.LocalPort),
                TcpConnection.Endpoint(c.RemoteAddress, c.RemotePort),
                TcpConnectionText.Keepalive(c),
                owners ? TcpConnectionText.Process(c) : null);
            output.Write(line);
        }
    }

    private static void AppendRow(StringBuilder line, string state, string local, string remote, string keepalive, string? process)
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

        line.Append('\n');
    }

    private static void WriteNullable(Utf8JsonWriter w, JsonEncodedText key, string? value, EncodedStrings strings)
    {
        if (value is null)
        {
            w.WriteNull(key);
        }
        else
        {
            w.WriteString(key, strings.Get(value));
        }
    }

    private static void WriteNullable(Utf8JsonWriter w, JsonEncodedText key, bool? value)
    {
        if (value is bool b)
        {
            w.WriteBoolean(key, b);
        }
        else
        {
            w.WriteNull(key);
        }
    }

    private static void WriteNullable(Utf8JsonWriter w, JsonEncodedText key, long? value)
    {
        if (value is long n)
        {
            w.WriteNumber(key, n);
        }
        else
        {
            w.WriteNull(key);
        }
    }

    private static void WriteMilliseconds(Utf8JsonWriter w, JsonEncodedText key, TimeSpan? value)
    {
        if (value is TimeSpan span)
        {
            w.WriteNumber(key, Math.Round(span.TotalMilliseconds, 3));
        }
        else
        {
            w.WriteNull(key);
        }
    }

    private static readonly string[] StateNames = Enumerable.Range(0, 12).Select(i => i == 0 ? "0" : TcpStateNames.ToName((TcpState)i)).ToArray();

    private static readonly JsonEncodedText[] EncodedStateNames = StateNames.Select(n => JsonEncodedText.Encode(n)).ToArray();

    private static readonly JsonEncodedText[] EncodedTimerNames = Enumerable.Range(0, 5).Select(i => JsonEncodedText.Encode(TcpConnectionText.TimerName((TcpTimer)i))).ToArray();

    /// <summary>
    /// UTF-8 forms of repeated strings (addresses, process names), keyed by reference: Core hands out one string
    /// instance per distinct address, so most sockets cost a dictionary hit instead of a transcode.
    /// </summary>
    internal sealed class EncodedStrings
    {
        private const int Limit = 8192;
        private readonly Dictionary<string, JsonEncodedText> _cache = new(ReferenceEqualityComparer.Instance);

        public JsonEncodedText Get(string value)
        {
            if (!_cache.TryGetValue(value, out JsonEncodedText encoded))
            {
                encoded = JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
                if (_cache.Count >= Limit)
                {
                    _cache.Clear();
                }

                _cache[value] = encoded;
            }

            return encoded;
        }
    }

    /// <summary>Pre-encoded camelCase keys.</summary>
    private static class Keys
    {
        public static readonly JsonEncodedText AddressFamily = JsonEncodedText.Encode("addressFamily");
        public static readonly JsonEncodedText LocalAddress = JsonEncodedText.Encode("localAddress");
        public static readonly JsonEncodedText LocalPort = JsonEncodedText.Encode("localPort");
        public static readonly JsonEncodedText RemoteAddress = JsonEncodedText.Encode("remoteAddress");
        public static readonly JsonEncodedText RemotePort = JsonEncodedText.Encode("remotePort");
        public static readonly JsonEncodedText State = JsonEncodedText.Encode("state");
        public static readonly JsonEncodedText Timer = JsonEncodedText.Encode("timer");
        public static readonly JsonEncodedText TimerExpiresMs = JsonEncodedText.Encode("timerExpiresMs");
        public static readonly JsonEncodedText ProbesSent = JsonEncodedText.Encode("probesSent");
        public static readonly JsonEncodedText KeepaliveTimerActive = JsonEncodedText.Encode("keepaliveTimerActive");
        public static readonly JsonEncodedText NoKeepalive = JsonEncodedText.Encode("noKeepalive");
        public static readonly JsonEncodedText Inode = JsonEncodedText.Encode("inode");
        public static readonly JsonEncodedText Uid = JsonEncodedText.Encode("uid");
        public static readonly JsonEncodedText Cookie = JsonEncodedText.Encode("cookie");
        public static readonly JsonEncodedText InterfaceIndex = JsonEncodedText.Encode("interfaceIndex");
        public static readonly JsonEncodedText ReceiveQueue = JsonEncodedText.Encode("receiveQueue");
        public static readonly JsonEncodedText SendQueue = JsonEncodedText.Encode("sendQueue");
        public static readonly JsonEncodedText RttMs = JsonEncodedText.Encode("rttMs");
        public static readonly JsonEncodedText LastDataSentMs = JsonEncodedText.Encode("lastDataSentMs");
        public static readonly JsonEncodedText LastDataReceivedMs = JsonEncodedText.Encode("lastDataReceivedMs");
        public static readonly JsonEncodedText Retransmits = JsonEncodedText.Encode("retransmits");
        public static readonly JsonEncodedText UnackedSegments = JsonEncodedText.Encode("unackedSegments");
        public static readonly JsonEncodedText OwningProcess = JsonEncodedText.Encode("owningProcess");
        public static readonly JsonEncodedText Processes = JsonEncodedText.Encode("processes");
        public static readonly JsonEncodedText Pid = JsonEncodedText.Encode("pid");
        public static readonly JsonEncodedText Name = JsonEncodedText.Encode("name");
        public static readonly JsonEncodedText CommandLine = JsonEncodedText.Encode("commandLine");
        public static readonly JsonEncodedText Fd = JsonEncodedText.Encode("fd");
        public static readonly JsonEncodedText KeepaliveEnabled = JsonEncodedText.Encode("keepaliveEnabled");
        public static readonly JsonEncodedText Idle = JsonEncodedText.Encode("idle");
        public static readonly JsonEncodedText Interval = JsonEncodedText.Encode("interval");
        public static readonly JsonEncodedText Count = JsonEncodedText.Encode("count");
        public static readonly JsonEncodedText UserTimeout = JsonEncodedText.Encode("userTimeout");
        public static readonly JsonEncodedText NetworkNamespace = JsonEncodedText.Encode("networkNamespace");
    }
}
