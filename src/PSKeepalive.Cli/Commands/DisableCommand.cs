using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Linq;
using PSKeepalive.Cli.Output;
using PSKeepalive.Core.Retrofit;
using PSKeepalive.Core.Sockets;

namespace PSKeepalive.Cli.Commands;

/// <summary>`pskeepalive disable --pid PID [--what-if] [--json]`: switches keepalive off for every TCP socket of a process.</summary>
internal static class DisableCommand
{
    public static Command Create()
    {
        var pid = RetrofitOutput.PidOption();
        var whatIf = CommonOptions.WhatIf();
        var json = CommonOptions.Json();
        var command = new Command(
            "disable",
            "Switch keepalive off for every TCP socket of a running process (pidfd_getfd; needs root or CAP_SYS_PTRACE over it).")
        {
            pid, whatIf, json,
        };
        CliApp.SetAction(command, parse => RetrofitOutput.Run(
            parse.GetValue(pid)!.Value, new SocketKeepaliveChange(Enabled: false), parse.GetValue(whatIf), parse.GetValue(json)));
        return command;
    }
}
