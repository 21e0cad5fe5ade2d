using System;
using System.Buffers;
using System.Buffers.Text;
using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using PSKeepalive.Core.Connections;

namespace PSKeepalive.Cli.Commands;

/// <summary>
/// The output of `connections --json`: an array with one object per socket, camelCase keys in a fixed order,
/// text escaped as JavaScriptEncoder.UnsafeRelaxedJsonEscaping escapes it, numbers formatted as Utf8JsonWriter
/// formats them. Written straight into one large pooled buffer from pre-encoded runs of keys and punctuation
/// (`","localPort":`), without a general-purpose writer's per-value bookkeeping, and handed to the stream in
/// 1 MiB writes: at 100,000 sockets the JSON was the largest user-space cost of the listing.
/// </summary>
internal sealed class ConnectionJsonWriter : IDisposable
{
    /// <summary>Bytes gathered before a write to the stream.</summary>
    public const int BufferSize = 1 << 20;

    /// <summary>Room checked before a number: a ulong has at most 20 digits, a double's shortest form 24 characters.</summary>
    private const int NumberRoom = 32;

    private readonly Stream _output;
    private readonly bool _info;
    private readonly bool _owners;
    private readonly bool _socketOptions;
    private readonly EncodedStrings _strings = new();
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _length;
    private bool _first = true;

    /// <param name="output">Where the JSON goes (stdout).</param>
    /// <param name="info">Write the tcp_info keys (--include-info).</param>
    /// <param name="owners">Write owningProcess and processes (--include-process).</param>
    /// <param name="socketOptions">Write the socket option keys on every object (--include-socket-option); otherwise only where read.</param>
    public ConnectionJsonWriter(Stream output, bool info, bool owners, bool socketOptions)
    {
        _output = output;
        _info = info;
        _owners = owners;
        _socketOptions = socketOptions;
        Raw((byte)'[');
    }

    /// <summary>Appends one connection's object.</summary>
    public void Write(TcpConnection c)
    {
        if (!_first)
        {
            Raw((byte)',');
        }

        _first = false;
        switch (c.AddressFamily)
        {
            case "IPv4":
                Raw(Fragments.StartIPv4);
                break;
            case "IPv6":
                Raw(Fragments.StartIPv6);
                break;
            default:
                Raw(Fragments.Start);
                String(c.AddressFamily);
                Raw(Fragments.LocalAddress);
                break;
        }

        String(c.LocalAddress);
        Raw(Fragments.LocalPort);
        Number(c.LocalPort);
        Raw(Fragments.RemoteAddress);
        String(c.RemoteAddress);
        Raw(Fragments.RemotePort);
        Number(c.RemotePort);
        Raw(Fragments.StateAndTimer((int)c.State, (int)c.Timer));
        if (c.TimerExpires is TimeSpan expires)
        {
            Number((long)expires.TotalMilliseconds);
        }
        else
        {
            Raw(Fragments.Null);
        }

        Raw(Fragments.ProbesSent);
        Number(c.ProbesSent);
        Raw(c.KeepaliveTimerActive ? Fragments.KeepaliveTimerActiveTrue : Fragments.KeepaliveTimerActiveFalse);
        Nullable(c.NoKeepalive);
        Raw(Fragments.Inode);
        Number(c.Inode);
        Raw(Fragments.Uid);
        Number(c.Uid);
        Raw(Fragments.Cookie);
        Number(c.Cookie);
        Raw(Fragments.InterfaceIndex);
        Number(c.InterfaceIndex);
        Raw(Fragments.ReceiveQueue);
        Number(c.ReceiveQueue);
        Raw(Fragments.SendQueue);
        Number(c.SendQueue);
        if (c.NetworkNamespace is not null)
        {
            Raw(Fragments.NetworkNamespace);
            String(c.NetworkNamespace);
        }

        if (_info)
        {
            Raw(Fragments.RttMs);
            Milliseconds(c.Rtt);
            Raw(Fragments.LastDataSentMs);
            Milliseconds(c.LastDataSent);
            Raw(Fragments.LastDataReceivedMs);
            Milliseconds(c.LastDataReceived);
            Raw(Fragments.Retransmits);
            Nullable(c.Retransmits);
            Raw(Fragments.UnackedSegments);
            Nullable(c.UnackedSegments);
        }

        if (_owners)
        {
            Raw(Fragments.OwningProcess);
            Nullable(c.OwningProcess);
            Raw(Fragments.ProcessId);
            Nullable(c.ProcessId);
            Raw(Fragments.ProcessName);
            NullableString(c.ProcessName);
            Raw(Fragments.Processes);
            IReadOnlyList<TcpConnectionProcess> processes = c.Processes;
            for (int i = 0; i < processes.Count; i++)
            {
                TcpConnectionProcess p = processes[i];
                Raw(i == 0 ? Fragments.FirstPid : Fragments.NextPid);
                Number(p.Pid);
                Raw(Fragments.Name);
                NullableString(p.Name);
                Raw(Fragments.CommandLine);
                NullableString(p.CommandLine);
                Raw(Fragments.Fd);
                Number(p.Fd);
                Raw((byte)'}');
            }

            Raw((byte)']');
        }

        if (_socketOptions || c.KeepaliveEnabled is not null)
        {
            Raw(Fragments.KeepaliveEnabled);
            Nullable(c.KeepaliveEnabled);
            Raw(Fragments.Idle);
            Nullable(c.Idle);
            Raw(Fragments.Interval);
            Nullable(c.Interval);
            Raw(Fragments.ProbeCount);
            Nullable(c.ProbeCount);
            Raw(Fragments.UserTimeout);
            Nullable(c.UserTimeout);
        }

        Raw((byte)'}');
    }

    /// <summary>Closes the array, ends the line and writes everything still held.</summary>
    public void Complete()
    {
        Raw("]\n"u8);
        Flush();
    }

    /// <summary>Writes what is buffered to the stream.</summary>
    public void Flush()
    {
        if (_length > 0)
        {
            _output.Write(_buffer, 0, _length);
            _length = 0;
        }
    }

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = Array.Empty<byte>();
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Ensure(int bytes)
    {
        if (_buffer.Length - _length < bytes)
        {
            MakeRoom(bytes);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void MakeRoom(int bytes)
    {
        Flush();
        if (_buffer.Length < bytes)
        {
            // One string larger than the buffer (a huge command line): hold it whole.
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(bytes);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Raw(byte value)
    {
        Ensure(1);
        _buffer[_length++] = value;
    }

    /// <summary>A constant run (inlined, so that the copy of a fixed-length literal unrolls).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Raw(ReadOnlySpan<byte> utf8)
    {
        Ensure(utf8.Length);
        utf8.CopyTo(_buffer.AsSpan(_length));
        _length += utf8.Length;
    }

    private void String(string value)
    {
        ReadOnlySpan<byte> encoded = _strings.Get(value);
        Ensure(encoded.Length + 2);
        Span<byte> destination = _buffer.AsSpan(_length);
        destination[0] = (byte)'"';
        encoded.CopyTo(destination.Slice(1));
        destination[encoded.Length + 1] = (byte)'"';
        _length += encoded.Length + 2;
    }

    private void NullableString(string? value)
    {
        if (value is null)
        {
            Raw(Fragments.Null);
        }
        else
        {
            String(value);
        }
    }

    private void Number(long value)
    {
        if (value < 0)
        {
            Raw((byte)'-');
            Number((ulong)-(value + 1) + 1); // long.MinValue too
            return;
        }

        Number((ulong)value);
    }

    /// <summary>Decimal digits, as Utf8JsonWriter writes an integer; two at a time from a table.</summary>
    private void Number(ulong value)
    {
        Ensure(NumberRoom);
        ref byte start = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_buffer), _length);
        if (value < 10)
        {
            start = (byte)('0' + value);
            _length++;
            return;
        }

        int digits = CountDigits(value);
        _length += digits;
        ref byte pairs = ref MemoryMarshal.GetReference(DigitPairs);
        int at = digits;
        while (value >= 100)
        {
            ulong quotient = value / 100;
            int pair = (int)(value - (quotient * 100)) * 2;
            Unsafe.Add(ref start, --at) = Unsafe.Add(ref pairs, pair + 1);
            Unsafe.Add(ref start, --at) = Unsafe.Add(ref pairs, pair);
            value = quotient;
        }

        if (value >= 10)
        {
            int pair = (int)value * 2;
            Unsafe.Add(ref start, 1) = Unsafe.Add(ref pairs, pair + 1);
            start = Unsafe.Add(ref pairs, pair);
        }
        else
        {
            start = (byte)('0' + value);
        }
    }

    private static int CountDigits(ulong value)
    {
        if (value < 100_000_000)
        {
            return value < 10_000
                ? (value < 100 ? 2 : value < 1000 ? 3 : 4)
                : (value < 1_000_000 ? (value < 100_000 ? 5 : 6) : (value < 10_000_000 ? 7 : 8));
        }

        int digits = 9;
        for (ulong rest = value / 1_000_000_000; rest > 0; rest /= 10)
        {
            digits++;
        }

        return digits;
    }

    private static ReadOnlySpan<byte> DigitPairs =>
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"u8;

    private void Nullable(long? value)
    {
        if (value is long number)
        {
            Number(number);
        }
        else
        {
            Raw(Fragments.Null);
        }
    }

    private void Nullable(bool? value) => Raw(value is bool b ? (b ? Fragments.True : Fragments.False) : Fragments.Null);

    /// <summary>Milliseconds rounded to microseconds, as a JSON number in its shortest round-trip form (what Utf8JsonWriter writes).</summary>
    private void Milliseconds(TimeSpan? value)
    {
        if (value is TimeSpan span)
        {
            Ensure(NumberRoom);
            Utf8Formatter.TryFormat(Math.Round(span.TotalMilliseconds, 3), _buffer.AsSpan(_length), out int written);
            _length += written;
        }
        else
        {
            Raw(Fragments.Null);
        }
    }

    /// <summary>The keys with the punctuation around them, UTF-8, in output order.</summary>
    private static class Fragments
    {
        public static ReadOnlySpan<byte> Start => "{\"addressFamily\":"u8;

        public static ReadOnlySpan<byte> StartIPv4 => "{\"addressFamily\":\"IPv4\",\"localAddress\":"u8;

        public static ReadOnlySpan<byte> StartIPv6 => "{\"addressFamily\":\"IPv6\",\"localAddress\":"u8;

        public static ReadOnlySpan<byte> LocalAddress => ",\"localAddress\":"u8;

        public static ReadOnlySpan<byte> LocalPort => ",\"localPort\":"u8;

        public static ReadOnlySpan<byte> RemoteAddress => ",\"remoteAddress\":"u8;

        public static ReadOnlySpan<byte> RemotePort => ",\"remotePort\":"u8;

        public static ReadOnlySpan<byte> ProbesSent => ",\"probesSent\":"u8;

        public static ReadOnlySpan<byte> KeepaliveTimerActiveTrue => ",\"keepaliveTimerActive\":true,\"noKeepalive\":"u8;

        public static ReadOnlySpan<byte> KeepaliveTimerActiveFalse => ",\"keepaliveTimerActive\":false,\"noKeepalive\":"u8;

        public static ReadOnlySpan<byte> Inode => ",\"inode\":"u8;

        public static ReadOnlySpan<byte> Uid => ",\"uid\":"u8;

        public static ReadOnlySpan<byte> Cookie => ",\"cookie\":"u8;

        public static ReadOnlySpan<byte> InterfaceIndex => ",\"interfaceIndex\":"u8;

        public static ReadOnlySpan<byte> ReceiveQueue => ",\"receiveQueue\":"u8;

        public static ReadOnlySpan<byte> SendQueue => ",\"sendQueue\":"u8;

        public static ReadOnlySpan<byte> NetworkNamespace => ",\"networkNamespace\":"u8;

        public static ReadOnlySpan<byte> RttMs => ",\"rttMs\":"u8;

        public static ReadOnlySpan<byte> LastDataSentMs => ",\"lastDataSentMs\":"u8;

        public static ReadOnlySpan<byte> LastDataReceivedMs => ",\"lastDataReceivedMs\":"u8;

        public static ReadOnlySpan<byte> Retransmits => ",\"retransmits\":"u8;

        public static ReadOnlySpan<byte> UnackedSegments => ",\"unackedSegments\":"u8;

        public static ReadOnlySpan<byte> OwningProcess => ",\"owningProcess\":"u8;

        public static ReadOnlySpan<byte> ProcessId => ",\"processId\":"u8;

        public static ReadOnlySpan<byte> ProcessName => ",\"processName\":"u8;

        public static ReadOnlySpan<byte> Processes => ",\"processes\":["u8;

        public static ReadOnlySpan<byte> FirstPid => "{\"pid\":"u8;

        public static ReadOnlySpan<byte> NextPid => ",{\"pid\":"u8;

        public static ReadOnlySpan<byte> Name => ",\"name\":"u8;

        public static ReadOnlySpan<byte> CommandLine => ",\"commandLine\":"u8;

        public static ReadOnlySpan<byte> Fd => ",\"fd\":"u8;

        public static ReadOnlySpan<byte> KeepaliveEnabled => ",\"keepaliveEnabled\":"u8;

        public static ReadOnlySpan<byte> Idle => ",\"idle\":"u8;

        public static ReadOnlySpan<byte> Interval => ",\"interval\":"u8;

        public static ReadOnlySpan<byte> ProbeCount => ",\"probeCount\":"u8;

        public static ReadOnlySpan<byte> UserTimeout => ",\"userTimeout\":"u8;

        public static ReadOnlySpan<byte> Null => "null"u8;

        public static ReadOnlySpan<byte> True => "true"u8;

        public static ReadOnlySpan<byte> False => "false"u8;

        /// <summary>`,"state":"NAME","timer":"NAME","timerExpiresMs":` for every state and timer value (names as ss spells them).</summary>
        private static readonly byte[][] StatesAndTimers = BuildStatesAndTimers();

        public static ReadOnlySpan<byte> StateAndTimer(int state, int timer) =>
            (uint)state < 12 && (uint)timer < 5 ? StatesAndTimers[(state * 5) + timer] : Encode(state, timer);

        private static byte[][] BuildStatesAndTimers()
        {
            var table = new byte[12 * 5][];
            for (int state = 0; state < 12; state++)
            {
                for (int timer = 0; timer < 5; timer++)
                {
                    table[(state * 5) + timer] = Encode(state, timer);
                }
            }

            return table;
        }

        private static byte[] Encode(int state, int timer)
        {
            string stateName = state == 0 ? "0" : TcpStateNames.ToName((TcpState)state);
            string timerName = TcpConnectionText.TimerName((TcpTimer)timer);
            return Encoding.UTF8.GetBytes(
                $",\"state\":\"{JsonEncodedText.Encode(stateName, JavaScriptEncoder.UnsafeRelaxedJsonEscaping)}\"," +
                $"\"timer\":\"{JsonEncodedText.Encode(timerName, JavaScriptEncoder.UnsafeRelaxedJsonEscaping)}\",\"timerExpiresMs\":");
        }
    }

    /// <summary>
    /// UTF-8 forms of repeated strings (addresses, process names, command lines), keyed by reference: Core hands
    /// out one string instance per distinct address and per process, so most sockets cost a reference check (the
    /// last two strings seen) or a slot of a direct-mapped table instead of a transcode. A slot taken by another
    /// string is simply overwritten: at worst a string is encoded again.
    /// </summary>
    private sealed class EncodedStrings
    {
        private const int Slots = 4096;
        private readonly string?[] _keys = new string?[Slots];
        private readonly byte[][] _values = new byte[Slots][];
        private string? _last;
        private byte[] _lastBytes = Array.Empty<byte>();
        private string? _previous;
        private byte[] _previousBytes = Array.Empty<byte>();

        public byte[] Get(string value)
        {
            if (ReferenceEquals(value, _last))
            {
                return _lastBytes;
            }

            if (ReferenceEquals(value, _previous))
            {
                (_last, _previous) = (_previous, _last);
                (_lastBytes, _previousBytes) = (_previousBytes, _lastBytes);
                return _lastBytes;
            }

            int slot = RuntimeHelpers.GetHashCode(value) & (Slots - 1);
            byte[] encoded;
            if (ReferenceEquals(_keys[slot], value))
            {
                encoded = _values[slot];
            }
            else
            {
                encoded = JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).EncodedUtf8Bytes.ToArray();
                _keys[slot] = value;
                _values[slot] = encoded;
            }

            (_previous, _previousBytes) = (_last, _lastBytes);
            (_last, _lastBytes) = (value, encoded);
            return encoded;
        }
    }
}
