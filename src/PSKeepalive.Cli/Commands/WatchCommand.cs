using System;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Threading;
using PSKeepalive.Core;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Watch;

namespace PSKeepalive.Cli.Commands;

/// <summary>
/// `pskeepalive watch [--state S ...] [--local-port P] [--remote-port P] [--local-address A] [--remote-address A]
/// [--process PID] [--no-keepalive] [--netns PATH] [--interval MS] [--duration S] [--include-existing]
/// [--include-socket-option] [--json]`: keepalive at work, one line per event as the samples find them; with --json one
/// JSON object per line. Ends after --duration, or on SIGINT/SIGTERM (exit 0, output flushed), or at the first sample
/// after the reader of stdout has gone (141, as any command).
/// </summary>
internal static class WatchCommand
{
    public static Command Create()
    {
        var filters = new ConnectionFilterOptions();
        var noKeepalive = new Option<bool>("--no-keepalive")
        {
            Description = "Only connections certainly without keepalive when first seen (ESTABLISHED, no timer): the ghosts; they stay watched once keepalive is switched on.",
        };
        var interval = CommonOptions.Integer(
            "--interval",
            "MS",
            $"Milliseconds between samples, {TcpConnectionWatchOptions.MinSampleIntervalMilliseconds}..{TcpConnectionWatchOptions.MaxSampleIntervalMilliseconds} (default {TcpConnectionWatchOptions.DefaultSampleIntervalMilliseconds}); each sample is one sock_diag dump");
        var duration = CommonOptions.Integer("--duration", "S", $"Seconds to watch, 1..{TcpConnectionWatchOptions.MaxDurationSeconds} (default: until SIGINT/SIGTERM)");
        var includeExisting = new Option<bool>("--include-existing") { Description = "Also report the matching connections present at the start as new." };
        var includeSocketOption = new Option<bool>("--include-socket-option")
        {
            Description = "Read TCP_KEEPCNT (and the other values) of new sockets through their owners (pidfd_getfd; root), so that probes read 'n of CNT'.",
        };
        var json = new Option<bool>("--json") { Description = "One JSON object per event and line (camelCase keys), flushed as each sample ends." };
        var command = new Command(
            "watch",
            "Watch keepalive at work on the connections the filters choose (as for 'connections'): new connections, probes sent and answered, keepalive switched on/off, "
                + "ends by keepalive (keepaliveTimeout) and other closes. Runs until --duration or SIGINT/SIGTERM.")
        {
            noKeepalive, filters.NetworkNamespace, interval, duration, includeExisting, includeSocketOption, json,
        };
        foreach (var filter in filters.Filters.Reverse())
        {
            command.Options.Insert(0, filter);
        }

        CliApp.SetAction(command, parse =>
        {
            var options = new TcpConnectionWatchOptions
            {
                Query = filters.ToQuery(parse) with { NoKeepaliveOnly = parse.GetValue(noKeepalive) },
                SampleInterval = TimeSpan.FromMilliseconds(parse.GetValue(interval) ?? TcpConnectionWatchOptions.DefaultSampleIntervalMilliseconds),
                Duration = parse.GetValue(duration) is int seconds ? TimeSpan.FromSeconds(seconds) : null,
                IncludeExisting = parse.GetValue(includeExisting),
                IncludeSocketOption = parse.GetValue(includeSocketOption),
            };
            options.Validate();
            return Run(options, parse.GetValue(json));
        });
        return command;
    }

    private static int Run(TcpConnectionWatchOptions options, bool json)
    {
        using var stop = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true; // do not die: end the watch, flush, exit 0
            stop.Cancel();
        }

        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        // write(2) itself, not .NET's console stream, which drops EPIPE: a reader that has gone (`| head -1`) ends
        // the watch through Guard, quietly with 141, as it ends any other command.
        var stdout = new DescriptorOutputStream();
        var writer = new EventWriter(stdout, json);
        // The header waits in the buffer and the "watching" line for the first sample: a namespace or filter the
        // kernel refuses then gives only its error, not a watch that seemed to start.
        bool announced = json;
        void Sampled(TcpConnectionWatchSample sample)
        {
            if (!announced)
            {
                announced = true;
                Console.Error.WriteLine($"pskeepalive: watching {TcpConnectionWatch.Describe(options)}; SIGINT (Ctrl+C) stops.");
            }

            writer.Flush();
        }

        if (!json)
        {
            writer.WriteHeader();
        }

        foreach (TcpConnectionEvent e in TcpConnectionWatch.Run(options, stop.Token, Sampled))
        {
            writer.Write(e);
        }

        writer.Flush();
        return ExitCodes.Success;
    }

    /// <summary>Writes events as lines into one buffer, flushed after each sample (not per line: a sample may end 20,000 connections at once).</summary>
    private sealed class EventWriter
    {
        private readonly DescriptorOutputStream _stdout;
        private readonly bool _json;
        private readonly MemoryStream _buffer = new();
        private readonly Utf8JsonWriter? _writer;
        private readonly StringBuilder _line = new(160);

        public EventWriter(DescriptorOutputStream stdout, bool json)
        {
            _stdout = stdout;
            _json = json;
            if (json)
            {
                _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true });
            }
        }

        public void WriteHeader() => WriteText(Row("Time", "Kind", "State", "Local", "Remote", "Detail"));

        public void Write(TcpConnectionEvent e)
        {
            if (_writer is null)
            {
                WriteText(Row(
                    e.Time.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture),
                    TcpConnectionEvent.KindName(e.Kind),
                    TcpStateNames.ToName(e.State),
                    TcpConnection.Endpoint(e.LocalAddress, e.LocalPort),
                    TcpConnection.Endpoint(e.RemoteAddress, e.RemotePort),
                    e.Detail));
                return;
            }

            Utf8JsonWriter w = _writer;
            w.Reset(_buffer);
            w.WriteStartObject();
            w.WriteString(Keys.Time, e.Time.ToString("O", CultureInfo.InvariantCulture));
            w.WriteString(Keys.Kind, TcpConnectionEvent.KindName(e.Kind));
            w.WriteNumber(Keys.Probes, e.Probes);
            w.WriteString(Keys.State, TcpStateNames.ToName(e.State));
            w.WriteString(Keys.LocalAddress, e.LocalAddress);
            w.WriteNumber(Keys.LocalPort, e.LocalPort);
            w.WriteString(Keys.RemoteAddress, e.RemoteAddress);
            w.WriteNumber(Keys.RemotePort, e.RemotePort);
            w.WriteNumber(Keys.Cookie, e.Cookie);
            if (e.ProbeCount is int count)
            {
                w.WriteNumber(Keys.ProbeCount, count);
            }
            else
            {
                w.WriteNull(Keys.ProbeCount);
            }

            w.WriteString(Keys.Timer, TcpConnectionText.TimerName(e.Timer));
            if (e.TimerExpires is TimeSpan expires)
            {
                w.WriteNumber(Keys.TimerExpiresMs, (long)expires.TotalMilliseconds);
            }
            else
            {
                w.WriteNull(Keys.TimerExpiresMs);
            }

            w.WriteNumber(Keys.Inode, e.Inode);
            if (e.NetworkNamespace is not null)
            {
                w.WriteString(Keys.NetworkNamespace, e.NetworkNamespace);
            }

            w.WriteString(Keys.Detail, e.Detail);
            w.WriteEndObject();
            w.Flush();
            _buffer.WriteByte((byte)'\n');
        }

        public void Flush()
        {
            if (_buffer.Length == 0)
            {
                _stdout.ThrowIfReaderGone(); // a quiet watch writes nothing, so no write would meet the EPIPE
                return;
            }

            _stdout.Write(_buffer.GetBuffer(), 0, (int)_buffer.Length);
            _buffer.SetLength(0);
            _stdout.Flush();
        }

        private void WriteText(string line) => _buffer.Write(Encoding.UTF8.GetBytes(line));

        private string Row(string time, string kind, string state, string local, string remote, string detail)
        {
            _line.Clear();
            _line.Append(time).Append(' ', Math.Max(1, 14 - time.Length));
            _line.Append(kind).Append(' ', Math.Max(1, 18 - kind.Length));
            _line.Append(state).Append(' ', Math.Max(1, 13 - state.Length));
            _line.Append(local).Append(' ', Math.Max(1, 24 - local.Length));
            _line.Append(remote).Append(' ', Math.Max(1, 24 - remote.Length));
            _line.Append(detail).Append('\n');
            return _line.ToString();
        }
    }

    /// <summary>Pre-encoded camelCase keys: the list first (time, kind, probes, state, addresses, ports, cookie), then the extras.</summary>
    private static class Keys
    {
        public static readonly JsonEncodedText Time = JsonEncodedText.Encode("time");
        public static readonly JsonEncodedText Kind = JsonEncodedText.Encode("kind");
        public static readonly JsonEncodedText Probes = JsonEncodedText.Encode("probes");
        public static readonly JsonEncodedText State = JsonEncodedText.Encode("state");
        public static readonly JsonEncodedText LocalAddress = JsonEncodedText.Encode("localAddress");
        public static readonly JsonEncodedText LocalPort = JsonEncodedText.Encode("localPort");
        public static readonly JsonEncodedText RemoteAddress = JsonEncodedText.Encode("remoteAddress");
        public static readonly JsonEncodedText RemotePort = JsonEncodedText.Encode("remotePort");
        public static readonly JsonEncodedText Cookie = JsonEncodedText.Encode("cookie");
        public static readonly JsonEncodedText ProbeCount = JsonEncodedText.Encode("probeCount");
        public static readonly JsonEncodedText Timer = JsonEncodedText.Encode("timer");
        public static readonly JsonEncodedText TimerExpiresMs = JsonEncodedText.Encode("timerExpiresMs");
        public static readonly JsonEncodedText Inode = JsonEncodedText.Encode("inode");
        public static readonly JsonEncodedText NetworkNamespace = JsonEncodedText.Encode("networkNamespace");
        public static readonly JsonEncodedText Detail = JsonEncodedText.Encode("detail");
    }
}
