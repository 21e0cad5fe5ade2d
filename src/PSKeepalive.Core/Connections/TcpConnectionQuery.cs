using System;
using System.Collections.Generic;
using System.Linq;
using PSKeepalive.Core.Errors;

namespace PSKeepalive.Core.Connections;

/// <summary>
/// What <see cref="TcpConnections.Enumerate(TcpConnectionQuery)"/> lists. Every filter is optional; all given filters must
/// match, and a filter given several values matches when any of them does (as Get-NetTCPConnection takes lists).
/// </summary>
public sealed record TcpConnectionQuery
{
    public const int MinPort = 0;
    public const int MaxPort = 65535;

    /// <summary>States to list (filtered by the kernel); null or empty lists every state.</summary>
    public IReadOnlyCollection<TcpState>? States { get; init; }

    /// <summary>
    /// Local addresses, any of which may match: an address, a CIDR block (10.0.0.0/8) or a wildcard pattern on the
    /// address text (127.*); see <see cref="AddressPattern"/>. An IPv4 value also matches its IPv4-mapped IPv6 form.
    /// Null or empty: any.
    /// </summary>
    public IReadOnlyCollection<string>? LocalAddresses { get; init; }

    /// <summary>Local ports, any of which may match (filtered by the kernel); null or empty: any.</summary>
    public IReadOnlyCollection<int>? LocalPorts { get; init; }

    /// <summary>Remote addresses, as <see cref="LocalAddresses"/>.</summary>
    public IReadOnlyCollection<string>? RemoteAddresses { get; init; }

    /// <summary>Remote ports, any of which may match (filtered by the kernel); null or empty: any.</summary>
    public IReadOnlyCollection<int>? RemotePorts { get; init; }

    /// <summary>
    /// Only sockets held by one of these processes (implies an owner scan of those processes only). Without
    /// <see cref="NetworkNamespace"/>, processes of another network namespace are listed in their own (/proc/PID/ns/net).
    /// </summary>
    public IReadOnlyCollection<int>? OwningProcesses { get; init; }

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
    public bool NeedsOwners => IncludeProcess || OwningProcesses is { Count: > 0 } || IncludeSocketOption;

    /// <summary>True when any filter is given (states, ports, addresses other than "*", processes).</summary>
    public bool HasFilter =>
        States is { Count: > 0 } || LocalPorts is { Count: > 0 } || RemotePorts is { Count: > 0 } || OwningProcesses is { Count: > 0 }
        || NarrowsAddresses(LocalAddresses) || NarrowsAddresses(RemoteAddresses);

    /// <summary>Address values narrow the listing unless there are none or one is "*" (any of them may match).</summary>
    private static bool NarrowsAddresses(IReadOnlyCollection<string>? values) => values is { Count: > 0 } && values.All(v => v.Trim() != "*");

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
        CheckPorts(LocalPorts, "LocalPort");
        CheckPorts(RemotePorts, "RemotePort");
        foreach (int pid in OwningProcesses ?? [])
        {
            if (pid <= 0)
            {
                throw new KeepaliveValidationException(Subject, "OwningProcess", $"OwningProcess {pid} is not a process id (1 or more).", pid);
            }

            Processes.RunningProcesses.CheckIsProcess(pid, "OwningProcess");
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

        ParsePatterns(LocalAddresses, "LocalAddress");
        ParsePatterns(RemoteAddresses, "RemoteAddress");
    }

    internal const string Subject = "Connection";

    /// <summary>The address filter values parsed; null when none is given or one of them is "*" (any address).</summary>
    internal static AddressPattern[]? ParsePatterns(IReadOnlyCollection<string>? values, string parameterName)
    {
        if (values is null || values.Count == 0)
        {
            return null;
        }

        var patterns = values.Select(v => AddressPattern.Parse(v, parameterName)).ToArray();
        return patterns.Any(p => p.MatchesAll) ? null : patterns;
    }

    private static void CheckPorts(IReadOnlyCollection<int>? ports, string parameterName)
    {
        foreach (int port in ports ?? [])
        {
            if (port < MinPort || port > MaxPort)
            {
                throw new KeepaliveValidationException(Subject, parameterName, $"{parameterName} {port} is outside the valid range {MinPort}..{MaxPort}.", port);
            }
        }
    }
}
