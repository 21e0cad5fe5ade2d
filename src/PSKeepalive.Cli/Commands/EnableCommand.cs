using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Linq;
using PSKeepalive.Cli.Output;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Cli.Commands;

/// <summary>
/// `pskeepalive enable --pid PID [--idle S] [--interval S] [--count N] [--user-timeout MS] [--what-if] [--json]`:
/// switches keepalive on for every TCP socket (connections and listeners) of a running process, without a restart.
/// </summary>
internal static class EnableCommand
{
    public static Command Create()
    {
        var pid = RetrofitOutput.PidOption();
        var timing = new KeepaliveTimingOptions(idleDefault: "unchanged", intervalDefault: "unchanged", countDefault: "unchanged", userTimeoutDefault: "unchanged; 0 means the system default");
        var idle = timing.Idle;
        var interval = timing.Interval;
        var count = timing.Count;
        var userTimeout = timing.UserTimeout;
        var whatIf = CommonOptions.WhatIf();
        var json = CommonOptions.Json();
        var command = new Command(
            "enable",
            "Switch keepalive on for every TCP socket of a running process (pidfd_getfd; needs root or CAP_SYS_PTRACE over it).")
        {
            pid, idle, interval, count, userTimeout, whatIf, json,
        };
        CliApp.SetAction(command, parse => RetrofitOutput.Run(
            parse.GetValue(pid)!.Value,
            new SocketKeepaliveChange(true, parse.GetValue(idle), parse.GetValue(interval), parse.GetValue(count), parse.GetValue(userTimeout)),
            parse.GetValue(whatIf),
            parse.GetValue(json)));
        return command;
    }
}
