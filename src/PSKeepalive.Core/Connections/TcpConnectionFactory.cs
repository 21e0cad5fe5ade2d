using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Runtime.InteropServices;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Netlink;
using PSKeepalive.Core.Processes;

namespace PSKeepalive.Core.Connections;

/// <summary>The query's filters, applied to the raw message before any string or object is made.</summary>
internal sealed class ConnectionFilter
{
    private readonly AddressFilter? _local;
    private readonly AddressFilter? _remote;
    private readonly int[]? _localPorts;
    private readonly int[]? _remotePorts;
    private readonly bool _noKeepaliveOnly;
    private readonly uint _stateMask;

    public ConnectionFilter(TcpConnectionQuery query)
    {
        _local = AddressFilter.For(TcpConnectionQuery.ParsePatterns(query.LocalAddresses, "LocalAddress"));
        _remote = AddressFilter.For(TcpConnectionQuery.ParsePatterns(query.RemoteAddresses, "RemoteAddress"));
        _localPorts = SortedOrNull(query.LocalPorts);
        _remotePorts = SortedOrNull(query.RemotePorts);
        _noKeepaliveOnly = query.NoKeepaliveOnly && !query.IncludeSocketOption; // then filtered after the options are read
        _stateMask = query.StateMask;
        OwningProcesses = SortedOrNull(query.OwningProcesses);
        KernelProgram = InetDiagBytecode.PortFilter(query.LocalPorts, query.RemotePorts);
    }

    /// <summary>The port filter for the kernel (empty without port filters); the checks below stay as the authority.</summary>
    public byte[] KernelProgram { get; }

    /// <summary>The processes one of which must hold the socket, sorted; null for any.</summary>
    public int[]? OwningProcesses { get; }

    public bool Matches(in InetDiagMessage message)
    {
        if (_localPorts is not null && Array.BinarySearch(_localPorts, (int)message.SocketId.SourcePort) < 0)
        {
            return false;
        }

        if (_remotePorts is not null && Array.BinarySearch(_remotePorts, (int)message.SocketId.DestinationPort) < 0)
        {
            return false;
        }

        // The kernel reports request sockets (TCP_NEW_SYN_RECV, 12) as SYN_RECV; check the mask ourselves too.
        int state = message.State == TcpConnectionFactory.TcpNewSynRecv ? (int)TcpState.SynReceived : message.State;
        if (state < 32 && (_stateMask & (1u << state)) == 0)
        {
            return false;
        }

        if (_noKeepaliveOnly && !(message.State == (byte)TcpState.Established && message.Timer == (byte)TcpTimer.None))
        {
            return false;
        }

        if (_local is not null && !_local.Matches(message.Family, message.SocketId.Source))
        {
            return false;
        }

        return _remote is null || _remote.Matches(message.Family, message.SocketId.Destination);
    }

    private static int[]? SortedOrNull(IReadOnlyCollection<int>? values) =>
        values is null || values.Count == 0 ? null : values.Distinct().Order().ToArray();

    /// <summary>
    /// The address patterns of one side, with each distinct address's answer remembered: a dump has few distinct
    /// addresses and many sockets, so a wildcard formats an address once, not once per socket.
    /// </summary>
    private sealed class AddressFilter
    {
        private const int CacheLimit = 4096;
        private readonly AddressPattern[] _patterns;
        private readonly Dictionary<uint, bool> _ipv4 = new();
        private readonly Dictionary<UInt128, bool> _ipv6 = new();

        private readonly bool _needsText;

        private AddressFilter(AddressPattern[] patterns)
        {
            _patterns = patterns;
            _needsText = patterns.Any(p => p.NeedsText);
        }

        public static AddressFilter? For(AddressPattern[]? patterns) => patterns is null ? null : new AddressFilter(patterns);

        public bool Matches(byte family, in AddressBytes address)
        {
            ReadOnlySpan<byte> bytes = address;
            if (!_needsText)
            {
                // Addresses and CIDR blocks only: comparing bytes is cheaper than remembering answers.
                return Decide(family == InetDiag.AfInet ? bytes.Slice(0, 4) : bytes.Slice(0, 16));
            }

            if (family == InetDiag.AfInet)
            {
                uint key = MemoryMarshal.Read<uint>(bytes);
                if (!_ipv4.TryGetValue(key, out bool known))
                {
                    known = Decide(bytes.Slice(0, 4));
                    Remember(_ipv4, key, known);
                }

                return known;
            }

            UInt128 key6 = MemoryMarshal.Read<UInt128>(bytes);
            if (!_ipv6.TryGetValue(key6, out bool known6))
            {
                known6 = Decide(bytes.Slice(0, 16));
                Remember(_ipv6, key6, known6);
            }

            return known6;
        }

        private bool Decide(ReadOnlySpan<byte> address)
        {
            if (!_needsText)
            {
                foreach (AddressPattern pattern in _patterns)
                {
                    if (pattern.Matches(address, NoText))
                    {
                        return true;
                    }
                }

                return false;
            }

            string? text = null;
            byte[] copy = address.ToArray();
            string Text() => text ??= new IPAddress(copy).ToString();
            foreach (AddressPattern pattern in _patterns)
            {
                if (pattern.Matches(copy, Text))
                {
                    return true;
                }
            }

            return false;
        }

        private static string NoText() => throw new InvalidOperationException("An address or CIDR pattern never needs the address text.");

        private static void Remember<TKey>(Dictionary<TKey, bool> cache, TKey key, bool value)
            where TKey : notnull
        {
            if (cache.Count >= CacheLimit)
            {
                cache.Clear();
            }

            cache[key] = value;
        }
    }
}

/// <summary>Turns decoded messages into <see cref="TcpConnection"/> objects, caching address strings (few distinct addresses, many sockets).</summary>
internal sealed class TcpConnectionFactory
{
    internal const byte TcpNewSynRecv = 12;
    private const int CacheLimit = 4096;

    private readonly bool _includeInfo;
    private readonly SocketOwnerMap? _owners;
    private readonly bool _attachProcesses;
    private readonly Dictionary<uint, string> _ipv4 = new();
    private readonly Dictionary<UInt128, string> _ipv6 = new();

    // The last address of each family, checked before the dictionaries: neighbouring sockets mostly share one.
    private uint _lastIPv4Key;
    private string? _lastIPv4;
    private UInt128 _lastIPv6Key;
    private string? _lastIPv6;

    public TcpConnectionFactory(bool includeInfo, SocketOwnerMap? owners, bool attachProcesses)
    {
        _includeInfo = includeInfo;
        _owners = owners;
        _attachProcesses = attachProcesses;
    }

    /// <summary>True when tcp_info was asked for (the only attribute read).</summary>
    public bool IncludeInfo => _includeInfo;

    /// <summary>The namespace the dump runs in, as the query gave it (null: the caller's); stamped on every connection.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>Builds the connection, or null when the owner filter rules it out.</summary>
    public TcpConnection? Create(in InetDiagMessage message, ConnectionFilter filter)
    {
        if (filter.OwningProcesses is int[] pids && (_owners is null || !HeldByAny(message.Inode, pids)))
        {
            return null;
        }

        TcpState state = StateOf(message.State);
        TcpTimer timer = TimerOf(message.Timer);
        TcpInfoFields? info = _includeInfo ? message.Info : null;
        IReadOnlyList<TcpConnectionProcess> processes = Array.Empty<TcpConnectionProcess>();
        int? owningProcess = null;
        if (_attachProcesses && _owners is not null && message.Inode != 0)
        {
            TcpConnectionProcess[] found = _owners.Processes(message.Inode);
            if (found.Length > 0)
            {
                processes = found;
                owningProcess = found[0].Pid;
            }
        }

        return new TcpConnection
        {
            AddressFamily = message.Family == InetDiag.AfInet ? "IPv4" : "IPv6",
            LocalAddress = Address(message.Family, message.SocketId.Source),
            LocalPort = message.SocketId.SourcePort,
            RemoteAddress = Address(message.Family, message.SocketId.Destination),
            RemotePort = message.SocketId.DestinationPort,
            State = state,
            Inode = message.Inode,
            Uid = message.Uid,
            Cookie = message.SocketId.Cookie,
            InterfaceIndex = (int)message.SocketId.Interface,
            ReceiveQueue = message.ReceiveQueue,
            SendQueue = message.SendQueue,
            Timer = timer,
            TimerExpires = timer == TcpTimer.None ? null : TimeSpan.FromTicks(message.Expires * TimeSpan.TicksPerMillisecond),
            ProbesSent = timer is TcpTimer.Keepalive or TcpTimer.ZeroWindowProbe ? message.Retrans : 0,
            Rtt = info?.RttMicroseconds is uint rtt ? TimeSpan.FromTicks(rtt * 10L) : null,
            LastDataSent = info?.LastDataSentMs is uint sent ? TimeSpan.FromTicks(sent * TimeSpan.TicksPerMillisecond) : null,
            LastDataReceived = info?.LastDataReceivedMs is uint received ? TimeSpan.FromTicks(received * TimeSpan.TicksPerMillisecond) : null,
            Retransmits = info?.TotalRetransmits,
            UnackedSegments = info?.Unacked,
            OwningProcess = owningProcess,
            Processes = processes,
            NetworkNamespace = NetworkNamespace,
        };
    }

    private bool HeldByAny(ulong inode, int[] pids)
    {
        foreach (int pid in pids)
        {
            if (_owners!.IsHeldBy(inode, pid))
            {
                return true;
            }
        }

        return false;
    }

    public static TcpState StateOf(byte raw)
    {
        if (raw >= (byte)TcpState.Established && raw <= (byte)TcpState.Closing)
        {
            return (TcpState)raw;
        }

        if (raw == TcpNewSynRecv)
        {
            return TcpState.SynReceived;
        }

        throw new KeepaliveDataException(NetlinkSocket.Subject, $"Malformed netlink data: idiag_state {raw} is not a TCP state (1..12).", raw);
    }

    public static TcpTimer TimerOf(byte raw)
    {
        if (raw <= (byte)TcpTimer.ZeroWindowProbe)
        {
            return (TcpTimer)raw;
        }

        throw new KeepaliveDataException(NetlinkSocket.Subject, $"Malformed netlink data: idiag_timer {raw} is not a timer the kernel reports (0..4).", raw);
    }

    private string Address(byte family, in AddressBytes address)
    {
        ReadOnlySpan<byte> bytes = address;
        if (family == InetDiag.AfInet)
        {
            uint key = System.Runtime.InteropServices.MemoryMarshal.Read<uint>(bytes);
            if (key == _lastIPv4Key && _lastIPv4 is not null)
            {
                return _lastIPv4;
            }

            if (!_ipv4.TryGetValue(key, out string? text))
            {
                text = FormatIPv4(bytes);
                if (_ipv4.Count >= CacheLimit)
                {
                    _ipv4.Clear();
                }

                _ipv4[key] = text;
            }

            (_lastIPv4Key, _lastIPv4) = (key, text);
            return text;
        }

        UInt128 key6 = System.Runtime.InteropServices.MemoryMarshal.Read<UInt128>(bytes);
        if (key6 == _lastIPv6Key && _lastIPv6 is not null)
        {
            return _lastIPv6;
        }

        if (!_ipv6.TryGetValue(key6, out string? text6))
        {
            text6 = new IPAddress(bytes.Slice(0, 16)).ToString();
            if (_ipv6.Count >= CacheLimit)
            {
                _ipv6.Clear();
            }

            _ipv6[key6] = text6;
        }

        (_lastIPv6Key, _lastIPv6) = (key6, text6);
        return text6;
    }

    private static string FormatIPv4(ReadOnlySpan<byte> bytes) =>
        string.Create(CultureInfo.InvariantCulture, $"{bytes[0]}.{bytes[1]}.{bytes[2]}.{bytes[3]}");
}
