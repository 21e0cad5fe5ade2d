using System;
using System.CommandLine;
using System.Linq;
using PSKeepalive.Cli.Output;
using PSKeepalive.Core;
using PSKeepalive.Core.Settings;

namespace PSKeepalive.Cli.Commands;

/// <summary>
/// `pskeepalive set [--time S] [--interval S] [--probes N] [--persist] [--persist-path FILE] [--netns PATH] [--what-if] [--json]`.
/// </summary>
internal static class SetCommand
{
    public static Command Create()
    {
        var time = CommonOptions.Integer("--time", "S", "net.ipv4.tcp_keepalive_time: idle seconds before the first probe, 1..32767");
        var interval = CommonOptions.Integer("--interval", "S", "net.ipv4.tcp_keepalive_intvl: seconds between probes, 1..32767");
        var probes = CommonOptions.Integer("--probes", "N", "net.ipv4.tcp_keepalive_probes: unanswered probes before the connection is dropped, 1..127");
        var persist = new Option<bool>("--persist") { Description = "Also write the values to a sysctl.d file so that they survive a reboot." };
        var persistPath = new Option<string>("--persist-path")
        {
            Description = "The sysctl.d file to persist to (implies --persist).",
            HelpName = "FILE",
            DefaultValueFactory = _ => SysctlPersistence.DefaultPath,
        };
        var netns = CommonOptions.NetworkNamespace();
        var whatIf = CommonOptions.WhatIf();
        var json = CommonOptions.Json();

        var command = new Command("set", "Change the keepalive sysctls, all or nothing (needs root or CAP_NET_ADMIN).")
        {
            time, interval, probes, persist, persistPath, netns, whatIf, json,
        };
        CliApp.SetAction(command, parse =>
        {
            var change = new TcpKeepaliveSettingChange(parse.GetValue(time), parse.GetValue(interval), parse.GetValue(probes));
            TcpKeepaliveSettings.Validate(change);
            // Naming the file says where to persist: --persist-path alone implies --persist rather than being ignored.
            bool persisting = parse.GetValue(persist) || parse.GetResult(persistPath) is { Implicit: false };
            var persistence = new SysctlPersistence();
            if (persisting)
            {
                // Both before the live write: a persist that cannot succeed changes nothing.
                persistence.CheckNamespace(parse.GetValue(netns), parse.GetValue(persistPath)!);
                persistence.CheckTarget(parse.GetValue(persistPath)!);
            }

            var assignments = TcpKeepaliveSettings.Assignments(change);
            bool asJson = parse.GetValue(json);
            string? path = parse.GetValue(netns);

            if (parse.GetValue(whatIf))
            {
                string where = path is null ? "this network namespace" : path;
                foreach (var (key, value) in assignments)
                {
                    Console.Error.WriteLine($"What if: set {key} = {value} in {where}");
                }

                if (persisting)
                {
                    Console.Error.WriteLine($"What if: persist {string.Join(", ", assignments.Select(a => $"{a.Key} = {a.Value}"))} to {parse.GetValue(persistPath)}");
                }

                // Show the values as they would be, so that --what-if --json can be reviewed before the real run.
                var current = new TcpKeepaliveSettings().Get(path);
                var wouldBe = current with
                {
                    Time = change.Time ?? current.Time,
                    Interval = change.Interval ?? current.Interval,
                    Probes = change.Probes ?? current.Probes,
                };
                if (!asJson)
                {
                    SettingsCommand.Print(wouldBe, json: false);
                    return ExitCodes.Success;
                }

                JsonOutput.Write(w =>
                {
                    w.WriteStartObject();
                    SettingsCommand.WriteProperties(w, wouldBe);
                    w.WriteBoolean("whatIf", true);
                    w.WriteEndObject();
                });
                return ExitCodes.Success;
            }

            var settings = new TcpKeepaliveSettings();
            TcpKeepaliveSetting? previous = persisting ? settings.Get(path) : null;
            var result = settings.Set(change, path);
            SysctlPersistResult? persisted = null;
            if (previous is not null)
            {
                persisted = settings.PersistOrRestore(change, previous, path, () => persistence.Persist(parse.GetValue(persistPath)!, assignments));
                foreach (string warning in persisted.Warnings)
                {
                    Console.Error.WriteLine($"pskeepalive: warning: {TerminalText.Escape(warning)}");
                }
            }

            if (!asJson)
            {
                SettingsCommand.Print(result, json: false);
                return ExitCodes.Success;
            }

            JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                SettingsCommand.WriteProperties(w, result);
                if (persisted is not null)
                {
                    w.WriteString("persistedTo", persisted.Path);
                    w.WriteStartArray("warnings");
                    foreach (string warning in persisted.Warnings)
                    {
                        w.WriteStringValue(warning);
                    }

                    w.WriteEndArray();
                }

                w.WriteEndObject();
            });
            return ExitCodes.Success;
        });
        return command;
    }
}
