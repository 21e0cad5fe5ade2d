using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Linq;
using PSKeepalive.Cli.Output;
using PSKeepalive.Core;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Cli.Commands;

/// <summary>Shared by enable and disable: run the change on a process and print one row per socket.</summary>
internal static class RetrofitOutput
{
    public static Option<int?> PidOption()
    {
        var option = CommonOptions.Integer("--pid", "PID", "The process whose TCP sockets to change");
        option.Required = true;
        return option;
    }

    public static int Run(int pid, SocketKeepaliveChange change, bool whatIf, bool json)
    {
        TcpKeepaliveRetrofit.ShouldProcess? ask = null;
        if (whatIf)
        {
            ask = (target, action) =>
            {
                Console.Error.WriteLine($"What if: {action} on {target}");
                return false;
            };
        }

        List<KeepaliveChangeResult> results = TcpKeepaliveRetrofit.ApplyToProcess(pid, change, ask).ToList();
        if (results.Count == 0 && !whatIf)
        {
            Console.Error.WriteLine($"pskeepalive: process {pid} has no TCP sockets; nothing to change.");
        }

        Print(results, json);
        foreach (var failed in results.Where(r => r.Outcome == KeepaliveChangeOutcome.Failed))
        {
            Console.Error.WriteLine($"pskeepalive: process {failed.Pid} fd {failed.Fd}: {TerminalText.Escape(failed.Reason)} [{failed.ErrorId}]");
        }

        return results.Any(r => r.Outcome == KeepaliveChangeOutcome.Failed) ? ExitCodes.Failure : ExitCodes.Success;
    }

    public static void Print(IReadOnlyList<KeepaliveChangeResult> results, bool json)
    {
        if (json)
        {
            JsonOutput.Write(w =>
            {
                w.WriteStartArray();
                WriteResults(w, results);
                w.WriteEndArray();
            });
            return;
        }

        if (results.Count == 0)
        {
            return;
        }

        var table = new TextTable("PID", "FD", "State", "Local", "Remote", "Outcome", "Before", "After", "Reason") { MaxWidth = 120 }.AlignRight("PID", "FD");
        foreach (KeepaliveChangeResult r in results)
        {
            table.Add(
                r.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture),
                r.Fd.ToString(System.Globalization.CultureInfo.InvariantCulture),
                StateText.Of(r.State) ?? "-",
                EndPoint(r.LocalAddress, r.LocalPort),
                EndPoint(r.RemoteAddress, r.RemotePort),
                r.Outcome.ToString(),
                Short(r.Before),
                Short(r.After),
                r.Reason ?? string.Empty);
        }

        table.Write(Console.Out);
    }

    /// <summary>One JSON object per result (pid, processName, fd, inode, state, addresses, outcome, reason, errorId, before, after).</summary>
    public static void WriteResults(System.Text.Json.Utf8JsonWriter w, IReadOnlyList<KeepaliveChangeResult> results)
    {
        foreach (KeepaliveChangeResult r in results)
        {
            w.WriteStartObject();
            w.WriteNumber("pid", r.Pid);
            w.WriteString("processName", r.ProcessName);
            w.WriteNumber("fd", r.Fd);
            w.WriteNumber("inode", r.Inode);
            w.WriteString("state", StateText.Of(r.State));
            w.WriteString("localAddress", r.LocalAddress);
            w.WriteNumber("localPort", r.LocalPort);
            w.WriteString("remoteAddress", r.RemoteAddress);
            w.WriteNumber("remotePort", r.RemotePort);
            w.WriteString("outcome", r.Outcome.ToString());
            w.WriteString("reason", r.Reason);
            w.WriteString("errorId", r.ErrorId);
            WriteOptions(w, "before", r.Before);
            WriteOptions(w, "after", r.After);
            w.WriteEndObject();
        }
    }

    /// <summary>"on 60/10/6" (idle/interval/count), with "+ut 30000ms" when a user timeout is set; "off" or "-".</summary>
    public static string Short(SocketKeepaliveOptions? options) => options switch
    {
        null => "-",
        { Enabled: false } => "off",
        _ => FormattableString.Invariant($"on {options.Idle}/{options.Interval}/{options.ProbeCount}")
            + (options.UserTimeout > 0 ? FormattableString.Invariant($" ut{options.UserTimeout}ms") : string.Empty),
    };

    public static string EndPoint(string? address, int port) => address is null
        ? "?"
        : address.Contains(':') ? $"[{address}]:{port}" : $"{address}:{port}";

    public static void WriteOptions(System.Text.Json.Utf8JsonWriter w, string name, SocketKeepaliveOptions? options)
    {
        if (options is null)
        {
            w.WriteNull(name);
            return;
        }

        w.WriteStartObject(name);
        w.WriteBoolean("enabled", options.Enabled);
        w.WriteNumber("idle", options.Idle);
        w.WriteNumber("interval", options.Interval);
        w.WriteNumber("probeCount", options.ProbeCount);
        w.WriteNumber("userTimeout", options.UserTimeout);
        w.WriteEndObject();
    }
}
