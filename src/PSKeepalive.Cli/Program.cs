using System.CommandLine;
using PSKeepalive.Cli;
using PSKeepalive.Cli.Commands;

var root = new RootCommand("pskeepalive: see and fix TCP keepalive on Linux (sysctls, connections, sockets, programs).");

// One line per command; each command lives in its own file under Commands/.
root.Subcommands.Add(SettingsCommand.Create());
root.Subcommands.Add(SetCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(ConnectionsCommand.Create());
root.Subcommands.Add(EnableCommand.Create());
root.Subcommands.Add(DisableCommand.Create());
root.Subcommands.Add(CloseCommand.Create());
root.Subcommands.Add(TestCommand.Create());
root.Subcommands.Add(PolicyCommand.Create());
root.Subcommands.Add(WatchCommand.Create());

return CliApp.Run(root, RunCommand.SeparateProgram(args));
