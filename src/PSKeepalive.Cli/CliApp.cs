using System;
using System.CommandLine;
using System.IO;
using System.Text;
using PSKeepalive.Core;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Cli;

/// <summary>Exit codes shared by every command.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int InvalidArguments = 2;

    /// <summary>`test`: the kernel did not behave as the settings say it should.</summary>
    public const int TestFailed = 3;

    /// <summary>The reader of the output has gone (EPIPE): 128 + SIGPIPE, what a shell reports for a stage killed by it.</summary>
    public const int ReaderGone = 141;
}

/// <summary>Parses, reports bad arguments with exit code 2, and turns Core's errors into messages and exit codes.</summary>
internal static class CliApp
{
    public static int Run(RootCommand root, string[] args)
    {
        // Standard output through write(2), so that a full disk or a reader that has gone is reported (Guard) instead
        // of being ignored (.NET's console stream drops EPIPE) or escaping as a stack trace.
        Console.SetOut(new StreamWriter(new DescriptorOutputStream(), new UTF8Encoding(false), 16 * 1024) { AutoFlush = true });
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

        // Without System.CommandLine's own handler, so that help and version text meet Guard too: `pskeepalive --help |
        // head -1` ends quietly with 141 and a full disk is one line, instead of an "Unhandled exception" stack trace.
        return Guard(() => parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
    }

    /// <summary>Sets <paramref name="action"/> as the command's action, with Core's errors reported on stderr.</summary>
    public static void SetAction(Command command, Func<ParseResult, int> action) =>
        command.SetAction(parse => Guard(() => action(parse)));

    /// <summary>
    /// Runs a command's body: Core's errors become one line with their id; a reader of the output that has gone
    /// (EPIPE) ends the command quietly with 141 (128 + SIGPIPE), as any stage of a pipeline that outlived its
    /// reader; anything unexpected is one line too, with the id InternalError (the stack trace with
    /// PSKEEPALIVE_DEBUG=1), never a .NET stack trace.
    /// </summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (KeepaliveException e) when (e.Subject == DescriptorOutputStream.Subject && e.Errno == Errno.EPIPE)
        {
            return ExitCodes.ReaderGone;
        }
        catch (KeepaliveException e)
        {
            return Report(e);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"pskeepalive: unexpected error: {e.GetType().Name}: {TerminalText.Escape(e.Message)} (please report it) [InternalError]");
            if (Environment.GetEnvironmentVariable("PSKEEPALIVE_DEBUG") == "1")
            {
                foreach (string line in e.ToString().Split('\n'))
                {
                    Console.Error.WriteLine(TerminalText.Escape(line.TrimEnd('\r')));
                }
            }

            return ExitCodes.Failure;
        }
    }

    public static int Report(KeepaliveException e)
    {
        // Messages quote paths and process names, which may hold anything: escaped for the terminal.
        Console.Error.WriteLine($"pskeepalive: {TerminalText.Escape(CliOptionNames.Message(e))} [{e.ErrorId}]");
        return e.Kind == KeepaliveErrorKind.InvalidArgument ? ExitCodes.InvalidArguments : ExitCodes.Failure;
    }
}
