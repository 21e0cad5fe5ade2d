using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using PSKeepalive.Core.Processes;

namespace PSKeepalive.Completion;

/// <summary>Completes process ids, showing each process's name; matches on the id or the name. Kernel threads hold no sockets and are not offered.</summary>
public sealed class ProcessIdCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        string typed = wordToComplete.Trim('\'', '"');
        foreach (int pid in RunningProcesses.Pids().Order())
        {
            string text = pid.ToString(CultureInfo.InvariantCulture);
            string? name = ProcessName.Read(pid);
            if (name is null || !(text.StartsWith(typed, StringComparison.Ordinal) || name.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
                || RunningProcesses.IsKernelThread(pid))
            {
                continue;
            }

            yield return new CompletionResult(text, $"{text} {name}", CompletionResultType.ParameterValue, $"{name} (PID {text})");
        }
    }
}
