using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using PSKeepalive.Core.Errors;

namespace PSKeepalive.Core.Connections;

/// <summary>What <see cref="TcpConnections.Enumerate(TcpConnectionQuery)"/> lists. Every filter is optional; all given filters must match.</summary>
public sealed record TcpConnectionQuery
{
    public const int MinPort = 0;
    public const int MaxPort = 65535;

    /// <summary>States to list (filtered by the kernel); null or empty lists every state.</summary>
    public IReadOnlyCollection<TcpState>? States { get; init; }

    /// <summary>Local address (IPv4 or IPv6 text); an IPv4 address also matches its IPv4-mapped IPv6 form.</summary>
    public string? LocalAddress { get; init; }

    public int? LocalPort { get; init; }

    public string? RemoteAddress { get; init; }

    public int? RemotePort { get; init; }

    /// <summary>
    /// Only sockets held by this process (implies an owner scan of that process only). Without
    /// <see cref="NetworkNamespace"/>, a process of another network namespace is listed in its own (/proc/PID/ns/net).
    /// </summary>
    public int? OwningProcess { get; init; }

    /// <summary>
    /// Only connections whose <see cref="TcpConnection.NoKeepalive"/> is true. Without <see cref="IncludeSocketOption"/>
    /// that is the timer's certain answer (ESTABLISHED, no timer armed); with it, the socket's own SO_KEEPALIVE
    /// (listeners and sockets with data in flight included; sockets that could not be read fall back to the timer).
    /// </summary>
    public bool NoKeepaliveOnly { get; init; }

    /// <summary>
    /// Read each socket's own keepalive options through an owner (pidfd_getfd; root or CAP_SYS_PTRACE): fills
    /// KeepaliveEnabled, Idle, Interval, Count and UserTimeout, and makes <see cref="TcpConnection.NoKeepalive"/>
    /// (and <see cref="NoKeepaliveOnly"/>) exact. Implies an owner scan.
    /// </summary>
    public bool IncludeSocketOption { get; init; }

    /// <summary>Look up the processes holding each socket (one scan of /proc/*/fd).</summary>
    public bool IncludeProcess { get; init; }

    /// <summary>Ask the kernel for tcp_info (RTT, last data times, retransmits, unacked segments).</summary>
    public bool IncludeInfo { get; init; }

    /// <summary>/run/netns/NAME or /proc/PID/ns/net; the caller's namespace when null.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>True when owners must be looked up (asked for, or needed by the process filter).</summary>
    public bool NeedsOwners => IncludeProcess || OwningProcess is not null || IncludeSocketOption;

    /// <summary>The kernel's idiag_states mask.</summary>
    public uint StateMask
    {
        get
        {
            if (States is null || States.Count == 0)
            {
                return Netlink.InetDiag.AllStates;
            }

            uint mask = 0;
            foreach (TcpState state in States)
            {
                mask |= 1u << (int)state;
            }

            return mask;
        }
    }

    /// <summary>Checks ranges and parses addresses; throws <see cref="KeepaliveValidationException"/> naming the parameter.</summary>
    public void Validate()
    {
        CheckPort(LocalPort, nameof(LocalPort));
        CheckPort(RemotePort, nameof(RemotePort));
        if (OwningProcess is int pid && pid <= 0)
        {
            throw new KeepaliveValidationException(Subject, nameof(OwningProcess), $"OwningProcess {pid} is not a process id (1 or more).", pid);
        }

        if (OwningProcess is int owner)
        {
            Processes.RunningProcesses.CheckIsProcess(owner, nameof(OwningProcess));
        }

        if (States is not null)
        {
            foreach (TcpState state in States)
            {
                if (!Enum.IsDefined(state))
                {
                    throw new KeepaliveValidationException(Subject, nameof(States), $"State {(int)state} is not a TCP state (1..11).", state);
                }
            }
        }

        ParseAddress(LocalAddress, nameof(LocalAddress));
        ParseAddress(RemoteAddress, nameof(RemoteAddress));
    }

    internal const string Subject = "Connection";

    /// <summary>Parses an address filter into its 16-byte form (IPv4 as IPv4-mapped IPv6) for comparison.</summary>
    internal static byte[]? ParseAddress(string? text, string parameterName)
    {
        if (text is null)
        {
            return null;
        }

        string trimmed = text.Trim();
        if (trimmed.StartsWith('[') && trimmed.EndsWith(']'))
        {
            trimmed = trimmed[1..^1];
        }

        if (!IPAddress.TryParse(trimmed, out IPAddress? address) ||
            (address.AddressFamily != AddressFamily.InterNetwork && address.AddressFamily != AddressFamily.InterNetworkV6) ||
            (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0))
        {
            throw new KeepaliveValidationException(Subject, parameterName, $"{parameterName} '{text}' is not an IPv4 or IPv6 address.", text);
        }

        return address.AddressFamily == AddressFamily.InterNetwork ? address.MapToIPv6().GetAddressBytes() : address.GetAddressBytes();
    }

    private static void CheckPort(int? port, string parameterName)
    {
        if (port is int value && (value < MinPort || value > MaxPort))
        {
            throw new KeepaliveValidationException(Subject, parameterName, $"{parameterName} {value} is outside the valid range {MinPort}..{MaxPort}.", value);
        }
    }
}
