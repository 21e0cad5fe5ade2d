using System;
using System.CommandLine;
using PSKeepalive.Core;
using PSKeepalive.Core.Errors;

namespace PSKeepalive.Cli;

/// <summary>Exit codes shared by every command.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int InvalidArguments = 2;

    /// <summary>`test`: the kernel did not behave as the settings say it should.</summary>
    public const int TestFailed = 3;
}

/// <summary>Parses, reports bad arguments with exit code 2, and turns Core's errors into messages and exit codes.</summary>
internal static class CliApp
{
    public static int Run(RootCommand root, string[] args)
    {
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                Console.Error.WriteLine($"pskeepalive: {TerminalText.Escape(error.Message)}");
            }

            Console.Error.WriteLine("Run 'pskeepalive --help' or 'pskeepalive COMMAND --help' for usage.");
            return ExitCodes.InvalidArguments;
        }

        return parse.Invoke();
    }

    /// <summary>Sets <paramref name="action"/> as the command's action, with Core's errors reported on stderr.</summary>
    public static void SetAction(Command command, Func<ParseResult, int> action) =>
        command.SetAction(parse => Guard(() => action(parse)));

    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (KeepaliveException e)
        {
            return Report(e);
        }
    }

    public static int Report(KeepaliveException e)
    {
        // Messages quote paths and process names, which may hold anything: escaped for the terminal.
        Console.Error.WriteLine($"pskeepalive: {TerminalText.Escape(e.Message)} [{e.ErrorId}]");
        return e.Kind == KeepaliveErrorKind.InvalidArgument ? ExitCodes.InvalidArguments : ExitCodes.Failure;
    }
}
