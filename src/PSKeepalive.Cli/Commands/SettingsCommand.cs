using System;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PSKeepalive.Cli.Output;
using PSKeepalive.Core.Settings;

namespace PSKeepalive.Cli.Commands;

/// <summary>`pskeepalive settings [--netns PATH] [--json]`: the three keepalive sysctls.</summary>
internal static class SettingsCommand
{
    public static Command Create()
    {
        var json = CommonOptions.Json();
        var netns = CommonOptions.NetworkNamespace();
        var command = new Command("settings", "Show the keepalive sysctls (net.ipv4.tcp_keepalive_time, _intvl, _probes).") { netns, json };
        CliApp.SetAction(command, parse =>
        {
            var setting = new TcpKeepaliveSettings().Get(parse.GetValue(netns));
            Print(setting, parse.GetValue(json));
            return ExitCodes.Success;
        });
        return command;
    }

    public static void Print(TcpKeepaliveSetting setting, bool json)
    {
        if (json)
        {
            JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                WriteProperties(w, setting);
                w.WriteEndObject();
            });
            return;
        }

        var table = new TextTable("Time", "Interval", "Probes", "DeadPeerDetection", "NetworkNamespace")
            .AlignRight("Time", "Interval", "Probes", "DeadPeerDetection");
        table.Add(
            Seconds(setting.Time),
            Seconds(setting.Interval),
            setting.Probes.ToString(CultureInfo.InvariantCulture),
            Durations.Format(setting.DeadPeerDetectionSeconds),
            setting.NetworkNamespace);
        table.Write(Console.Out);
    }

    public static void WriteProperties(Utf8JsonWriter w, TcpKeepaliveSetting setting)
    {
        w.WriteNumber("time", setting.Time);
        w.WriteNumber("interval", setting.Interval);
        w.WriteNumber("probes", setting.Probes);
        w.WriteNumber("deadPeerDetectionSeconds", setting.DeadPeerDetectionSeconds);
        w.WriteString("networkNamespace", setting.NetworkNamespace);
    }

    private static string Seconds(int value) => value.ToString(CultureInfo.InvariantCulture) + "s";
}
