using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using PSKeepalive.Cli.Output;
using PSKeepalive.Core.Cgroups;
using PSKeepalive.Core.Policy;
using PSKeepalive.Core.Retrofit;

namespace PSKeepalive.Cli.Commands;

/// <summary>
/// `pskeepalive policy set|get|remove`: keepalive policies on cgroup v2 directories (a BPF sock_ops program per
/// cgroup, see Core's <see cref="TcpKeepalivePolicies"/>).
/// </summary>
internal static class PolicyCommand
{
    private static readonly string[] Modes = ["outgoing", "listening", "all"];

    public static Command Create()
    {
        var command = new Command(
            "policy",
            "Keepalive for every TCP connection of a cgroup (a service, a container), set by the kernel (BPF sock_ops; needs root).")
        {
            CreateSet(), CreateGet(), CreateRemove(),
        };
        return command;
    }

    private static Command CreateSet()
    {
        var (cgroup, pid) = TargetOptions("the cgroup whose connections get the policy");
        var timing = new KeepaliveTimingOptions(idleDefault: "the system's", intervalDefault: "the system's", countDefault: "the system's", userTimeoutDefault: "not set");
        var idle = timing.Idle;
        var interval = timing.Interval;
        var count = timing.Count;
        var userTimeout = timing.UserTimeout;
        var mode = CommonOptions.Choice(
            "--mode",
            "Which connections: outgoing (the cgroup's processes connect), listening (they accept), or all.",
            "all",
            Modes);
        var force = new Option<bool>("--force") { Description = "Also replace the values of connections whose program switched SO_KEEPALIVE on itself." };
        var includeExisting = new Option<bool>("--include-existing") { Description = "Also change the connections the cgroup's processes hold now (pidfd_getfd), not only new ones." };
        var whatIf = CommonOptions.WhatIf();
        var json = CommonOptions.Json();
        var command = new Command("set", "Attach a keepalive policy to a cgroup, or replace the one there (atomically).")
        {
            cgroup, pid, idle, interval, count, userTimeout, mode, force, includeExisting, whatIf, json,
        };
        RequireOneTarget(command, cgroup, pid);
        CliApp.SetAction(command, parse =>
        {
            var settings = new KeepalivePolicySettings
            {
                Idle = parse.GetValue(idle),
                Interval = parse.GetValue(interval),
                Count = parse.GetValue(count),
                UserTimeout = parse.GetValue(userTimeout),
                Mode = Enum.Parse<KeepalivePolicyMode>(parse.GetValue(mode) ?? "all", ignoreCase: true),
                Force = parse.GetValue(force),
            };
            settings.Validate();
            bool what = parse.GetValue(whatIf);
            bool asJson = parse.GetValue(json);
            using CgroupDirectory directory = Open(parse.GetValue(cgroup), parse.GetValue(pid));

            TcpKeepalivePolicies.ShouldProcess? ask = what ? (target, action) => WhatIf(target, action) : null;
            bool withExisting = parse.GetValue(includeExisting);
            KeepalivePolicySettings? replaced = withExisting ? TcpKeepalivePolicies.Get(directory).FirstOrDefault()?.Settings() : null;
            TcpKeepalivePolicy? policy = TcpKeepalivePolicies.Set(directory, settings, ask);
            List<KeepaliveChangeResult>? existing = null;
            if (withExisting)
            {
                TcpKeepaliveRetrofit.ShouldProcess? askSocket = what ? (target, action) => WhatIf(target, action) : null;
                existing = ExistingConnections.Apply(directory, settings, askSocket, replaced).ToList();
            }

            if (asJson)
            {
                JsonOutput.Write(w =>
                {
                    if (policy is null)
                    {
                        w.WriteStartObject();
                        WriteSettings(w, directory.Path, settings, programId: null);
                        w.WriteBoolean("whatIf", true);
                    }
                    else
                    {
                        w.WriteStartObject();
                        WriteProperties(w, policy);
                    }

                    if (existing is not null)
                    {
                        w.WriteStartArray("existing");
                        RetrofitOutput.WriteResults(w, existing);
                        w.WriteEndArray();
                    }

                    w.WriteEndObject();
                });
            }
            else
            {
                if (policy is not null)
                {
                    Print([policy]);
                }

                if (existing is { Count: > 0 })
                {
                    Console.Out.WriteLine();
                    RetrofitOutput.Print(existing, json: false);
                }
            }

            foreach (var failed in existing?.Where(r => r.Outcome == KeepaliveChangeOutcome.Failed) ?? [])
            {
                Console.Error.WriteLine($"pskeepalive: process {failed.Pid} fd {failed.Fd}: {failed.Reason} [{failed.ErrorId}]");
            }

            return existing?.Any(r => r.Outcome == KeepaliveChangeOutcome.Failed) == true ? ExitCodes.Failure : ExitCodes.Success;
        });
        return command;
    }

    private static Command CreateGet()
    {
        var (cgroup, pid) = TargetOptions("the cgroup to look at (default: every cgroup that has a policy)");
        var json = CommonOptions.Json();
        var command = new Command("get", "Show keepalive policies, read back from the kernel.") { cgroup, pid, json };
        command.Validators.Add(result =>
        {
            if (result.GetValue(cgroup) is not null && result.GetValue(pid) is not null)
            {
                result.AddError("Give --cgroup or --pid, not both.");
            }
        });
        CliApp.SetAction(command, parse =>
        {
            string? path = parse.GetValue(cgroup);
            int? processId = parse.GetValue(pid);
            List<TcpKeepalivePolicy> policies;
            if (path is null && processId is null)
            {
                policies = TcpKeepalivePolicies.GetAll().ToList();
            }
            else
            {
                using CgroupDirectory directory = Open(path, processId);
                policies = TcpKeepalivePolicies.Get(directory).ToList();
            }

            Output(policies, parse.GetValue(json));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command CreateRemove()
    {
        var (cgroup, pid) = TargetOptions("the cgroup whose policy to remove");
        var whatIf = CommonOptions.WhatIf();
        var json = CommonOptions.Json();
        var command = new Command("remove", "Detach the keepalive policy from a cgroup (other programs there stay).") { cgroup, pid, whatIf, json };
        RequireOneTarget(command, cgroup, pid);
        CliApp.SetAction(command, parse =>
        {
            using CgroupDirectory directory = Open(parse.GetValue(cgroup), parse.GetValue(pid));
            TcpKeepalivePolicies.ShouldProcess? ask = parse.GetValue(whatIf) ? (target, action) => WhatIf(target, action) : null;
            IReadOnlyList<TcpKeepalivePolicy> removed = TcpKeepalivePolicies.Remove(directory, ask);
            Output(removed, parse.GetValue(json));
            return ExitCodes.Success;
        });
        return command;
    }

    private static (Option<string?> Cgroup, Option<int?> Pid) TargetOptions(string what)
    {
        var cgroup = new Option<string?>("--cgroup")
        {
            Description = $"{char.ToUpperInvariant(what[0])}{what[1..]}: a cgroup v2 directory, a path relative to the cgroup2 mount (or to the current directory inside it), or a cgroup path as /proc/PID/cgroup shows it.",
            HelpName = "PATH",
        };
        var pid = CommonOptions.Integer("--pid", "PID", $"{char.ToUpperInvariant(what[0])}{what[1..]}: the cgroup of this process (a service's or container's main process)");
        return (cgroup, pid);
    }

    private static void RequireOneTarget(Command command, Option<string?> cgroup, Option<int?> pid) =>
        command.Validators.Add(result =>
        {
            bool hasCgroup = result.GetValue(cgroup) is not null, hasPid = result.GetValue(pid) is not null;
            if (hasCgroup == hasPid)
            {
                result.AddError(hasCgroup ? "Give --cgroup or --pid, not both." : "Give the cgroup with --cgroup PATH, or a process in it with --pid PID.");
            }
        });

    private static CgroupDirectory Open(string? cgroup, int? pid) =>
        cgroup is not null ? CgroupDirectory.Open(cgroup, Environment.CurrentDirectory) : CgroupDirectory.OfProcess(pid!.Value);

    private static bool WhatIf(string target, string action)
    {
        Console.Error.WriteLine($"What if: {action} on {target}");
        return false;
    }

    private static void Output(IReadOnlyList<TcpKeepalivePolicy> policies, bool json)
    {
        if (json)
        {
            JsonOutput.Write(w =>
            {
                w.WriteStartArray();
                foreach (TcpKeepalivePolicy policy in policies)
                {
                    w.WriteStartObject();
                    WriteProperties(w, policy);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            });
            return;
        }

        if (policies.Count > 0)
        {
            Print(policies);
        }
    }

    private static void Print(IEnumerable<TcpKeepalivePolicy> policies)
    {
        var table = new TextTable("Idle", "Interval", "Count", "UserTimeout", "Mode", "Force", "ProgramId", "Cgroup")
            .AlignRight("Idle", "Interval", "Count", "UserTimeout", "ProgramId");
        foreach (TcpKeepalivePolicy p in policies)
        {
            table.Add(
                Value(p.Idle, "s"),
                Value(p.Interval, "s"),
                Value(p.ProbeCount, string.Empty),
                Value(p.UserTimeout, "ms"),
                p.Mode.ToString().ToLowerInvariant(),
                p.Force ? "yes" : "no",
                p.ProgramId.ToString(CultureInfo.InvariantCulture),
                p.CgroupPath);
        }

        table.Write(Console.Out);
    }

    /// <summary>"60s", or "system" for a timer the policy leaves to the sysctl.</summary>
    private static string Value(int? value, string unit) => value is int v ? v.ToString(CultureInfo.InvariantCulture) + unit : "system";

    /// <summary>The keys of one policy: cgroup, idle, interval, probeCount, userTimeout, mode, force, programId, and more.</summary>
    private static void WriteProperties(Utf8JsonWriter w, TcpKeepalivePolicy policy)
    {
        WriteSettings(w, policy.Cgroup, policy.Settings(), policy.ProgramId);
        w.WriteString("cgroupPath", policy.CgroupPath);
        w.WriteNumber("cgroupId", policy.CgroupId);
        w.WriteNumber("mapId", policy.MapId);
        w.WriteString("tag", policy.Tag);
        if (policy.LoadedAt is DateTime loaded)
        {
            w.WriteString("loadedAt", loaded.ToUniversalTime().ToString("o", CultureInfo.InvariantCulture));
        }
        else
        {
            w.WriteNull("loadedAt");
        }
    }

    private static void WriteSettings(Utf8JsonWriter w, string cgroup, KeepalivePolicySettings settings, uint? programId)
    {
        w.WriteString("cgroup", cgroup);
        Number(w, "idle", settings.Idle);
        Number(w, "interval", settings.Interval);
        Number(w, "probeCount", settings.Count);
        Number(w, "userTimeout", settings.UserTimeout);
        w.WriteString("mode", settings.Mode.ToString().ToLowerInvariant());
        w.WriteBoolean("force", settings.Force);
        if (programId is uint id)
        {
            w.WriteNumber("programId", id);
        }
        else
        {
            w.WriteNull("programId");
        }
    }

    private static void Number(Utf8JsonWriter w, string name, int? value)
    {
        if (value is int v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
