using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Encodings.Web;
using System.Text.Json;
using PSKeepalive.Core.Connections;

namespace PSKeepalive.Benchmarks;

/// <summary>
/// The `connections --json` writer as it was before ConnectionJsonWriter (Utf8JsonWriter, one call per key),
/// kept as the reference: DumpStageBenchmarks checks that both write the same bytes for the host's real
/// sockets, and measures both.
/// </summary>
internal static class Utf8JsonWriterReference
{
    public static void Write(Stream stdout, IEnumerable<TcpConnection> connections, TcpConnectionQuery query, bool socketOptions = false)
    {
        using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true }))
        {
            var strings = new EncodedStrings();
            writer.WriteStartArray();
            foreach (TcpConnection connection in connections)
            {
                WriteConnection(writer, connection, query.IncludeInfo, query.NeedsOwners, strings, socketOptions);
                if (writer.BytesPending >= 64 * 1024)
                {
                    writer.Flush();
                }
            }

            writer.WriteEndArray();
        }

        stdout.WriteByte((byte)'\n');
    }

    private static void WriteConnection(Utf8JsonWriter w, TcpConnection c, bool info, bool owners, EncodedStrings strings, bool socketOptions = false)
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
            WriteNullable(w, Keys.ProcessId, c.ProcessId);
            WriteNullable(w, Keys.ProcessName, c.ProcessName, strings);
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
            WriteNullable(w, Keys.ProbeCount, c.ProbeCount);
            WriteNullable(w, Keys.UserTimeout, c.UserTimeout);
        }

        w.WriteEndObject();
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
    private sealed class EncodedStrings
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
        public static readonly JsonEncodedText ProcessId = JsonEncodedText.Encode("processId");
        public static readonly JsonEncodedText ProcessName = JsonEncodedText.Encode("processName");
        public static readonly JsonEncodedText Processes = JsonEncodedText.Encode("processes");
        public static readonly JsonEncodedText Pid = JsonEncodedText.Encode("pid");
        public static readonly JsonEncodedText Name = JsonEncodedText.Encode("name");
        public static readonly JsonEncodedText CommandLine = JsonEncodedText.Encode("commandLine");
        public static readonly JsonEncodedText Fd = JsonEncodedText.Encode("fd");
        public static readonly JsonEncodedText KeepaliveEnabled = JsonEncodedText.Encode("keepaliveEnabled");
        public static readonly JsonEncodedText Idle = JsonEncodedText.Encode("idle");
        public static readonly JsonEncodedText Interval = JsonEncodedText.Encode("interval");
        public static readonly JsonEncodedText ProbeCount = JsonEncodedText.Encode("probeCount");
        public static readonly JsonEncodedText UserTimeout = JsonEncodedText.Encode("userTimeout");
        public static readonly JsonEncodedText NetworkNamespace = JsonEncodedText.Encode("networkNamespace");
    }
}
