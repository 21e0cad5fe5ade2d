using System;
using System.Globalization;

namespace PSKeepalive.Core.Connections;

/// <summary>Short texts for tables (the CLI and the module's Format.ps1xml view show the same words).</summary>
public static class TcpConnectionText
{
    /// <summary>
    /// The keepalive column. With the socket's own options read: "on 30/5/3" (idle s / interval s / count) or
    /// "off". Otherwise the timer: "keepalive 59s/0" (timer running: time left / probes sent), "off" (certainly
    /// without keepalive), or the timer that hides it ("retransmit 1.2s", "time-wait 59s"), or "-". At most
    /// 18 characters ("on 32767/32767/127").
    /// </summary>
    public static string Keepalive(TcpConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return Keepalive(
            connection.KeepaliveEnabled, connection.Idle, connection.Interval, connection.ProbeCount,
            connection.Timer, connection.TimerExpires, connection.ProbesSent, connection.NoKeepalive);
    }

    /// <summary>
    /// The keepalive column from plain values, for PSKeepalive.Format.ps1xml: a connection that came through
    /// PowerShell remoting is a deserialized property bag, not a <see cref="TcpConnection"/>, but its properties
    /// bind here (a timer's name converts to <see cref="TcpTimer"/>).
    /// </summary>
    public static string Keepalive(bool? keepaliveEnabled, int? idle, int? interval, int? probeCount, TcpTimer timer, TimeSpan? timerExpires, int probesSent, bool? noKeepalive)
    {
        if (keepaliveEnabled is bool enabled)
        {
            if (!enabled)
            {
                return "off";
            }

            if (idle is int i && interval is int n && probeCount is int c)
            {
                return string.Create(CultureInfo.InvariantCulture, $"on {i}/{n}/{c}");
            }

            if (timer != TcpTimer.Keepalive)
            {
                return "on";
            }
        }

        return timer switch
        {
            TcpTimer.Keepalive => $"keepalive {Duration(timerExpires)}/{probesSent}",
            TcpTimer.Retransmit => $"retransmit {Duration(timerExpires)}",
            TcpTimer.TimeWait => $"time-wait {Duration(timerExpires)}",
            TcpTimer.ZeroWindowProbe => $"zero-window {Duration(timerExpires)}/{probesSent}",
            _ => noKeepalive == true ? "off" : "-",
        };
    }

    /// <summary>The process column: "sshd/812", "sshd/812 +2" when shared, "" when unknown; the name escaped for a terminal.</summary>
    public static string Process(TcpConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection.Processes.Count == 0)
        {
            return Process(connection.OwningProcess, null, 0);
        }

        TcpConnectionProcess first = connection.Processes[0];
        return Process(first.Pid, first.Name, connection.Processes.Count);
    }

    /// <summary>
    /// The process column from plain values (for the Format.ps1xml view, which also sees deserialized
    /// connections): the first holder's id and name and how many processes hold the socket. An empty name
    /// counts as unknown: PowerShell passes $null to a string parameter as "". The name is escaped for a terminal.
    /// </summary>
    public static string Process(int? pid, string? name, int processCount)
    {
        if (pid is not int id)
        {
            return string.Empty;
        }

        // A process names itself: escaped, so that nothing in the name reaches the terminal as a control.
        string text = string.IsNullOrEmpty(name) ? id.ToString(CultureInfo.InvariantCulture) : $"{TerminalText.Escape(name)}/{id.ToString(CultureInfo.InvariantCulture)}";
        return processCount > 1 ? $"{text} +{(processCount - 1).ToString(CultureInfo.InvariantCulture)}" : text;
    }

    /// <summary>"59s", "1h59m", "0.2s", "0s".</summary>
    public static string Duration(TimeSpan? value)
    {
        if (value is not TimeSpan span)
        {
            return "-";
        }

        double seconds = span.TotalSeconds;
        if (seconds < 10)
        {
            return seconds.ToString("0.#", CultureInfo.InvariantCulture) + "s";
        }

        long total = (long)Math.Round(seconds);
        long hours = total / 3600, minutes = total / 60 % 60, rest = total % 60;
        if (hours > 0)
        {
            return minutes > 0 ? $"{hours}h{minutes}m" : $"{hours}h";
        }

        return minutes > 0 ? (rest > 0 ? $"{minutes}m{rest}s" : $"{minutes}m") : $"{rest}s";
    }

    /// <summary>Timer names as the CLI prints them: "none", "retransmit", "keepalive", "time-wait", "zero-window-probe".</summary>
    public static string TimerName(TcpTimer timer) => timer switch
    {
        TcpTimer.None => "none",
        TcpTimer.Retransmit => "retransmit",
        TcpTimer.Keepalive => "keepalive",
        TcpTimer.TimeWait => "time-wait",
        TcpTimer.ZeroWindowProbe => "zero-window-probe",
        _ => ((int)timer).ToString(CultureInfo.InvariantCulture),
    };
}
