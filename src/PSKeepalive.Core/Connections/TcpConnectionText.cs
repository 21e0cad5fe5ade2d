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
        if (connection.KeepaliveEnabled is bool enabled)
        {
            if (!enabled)
            {
                return "off";
            }

            if (connection.Idle is int idle && connection.Interval is int interval && connection.Count is int count)
            {
                return string.Create(CultureInfo.InvariantCulture, $"on {idle}/{interval}/{count}");
            }

            if (connection.Timer != TcpTimer.Keepalive)
            {
                return "on";
            }
        }

        return connection.Timer switch
        {
            TcpTimer.Keepalive => $"keepalive {Duration(connection.TimerExpires)}/{connection.ProbesSent}",
            TcpTimer.Retransmit => $"retransmit {Duration(connection.TimerExpires)}",
            TcpTimer.TimeWait => $"time-wait {Duration(connection.TimerExpires)}",
            TcpTimer.ZeroWindowProbe => $"zero-window {Duration(connection.TimerExpires)}/{connection.ProbesSent}",
            _ => connection.NoKeepalive == true ? "off" : "-",
        };
    }

    /// <summary>The process column: "sshd/812", "sshd/812 +2" when shared, "" when unknown; the name escaped for a terminal.</summary>
    public static string Process(TcpConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection.Processes.Count == 0)
        {
            return connection.OwningProcess?.ToString(CultureInfo.InvariantCulture) ?? string.Empty;
        }

        TcpConnectionProcess first = connection.Processes[0];
        string text = first.Name is null ? first.Pid.ToString(CultureInfo.InvariantCulture) : $"{TerminalText.Escape(first.Name)}/{first.Pid}";
        return connection.Processes.Count == 1 ? text : $"{text} +{connection.Processes.Count - 1}";
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
