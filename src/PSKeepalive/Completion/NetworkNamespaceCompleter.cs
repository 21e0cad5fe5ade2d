using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using PSKeepalive.Core.Namespaces;

namespace PSKeepalive.Completion;

/// <summary>Completes -NetworkNamespace with /run/netns entries and one /proc/PID/ns/net per other namespace in use.</summary>
public sealed class NetworkNamespaceCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        string typed = wordToComplete.Trim('\'', '"');
        return NetworkNamespaceCatalog.List()
            .Where(e => e.Path.StartsWith(typed, StringComparison.Ordinal) || e.Description.Contains(typed, StringComparison.OrdinalIgnoreCase))
            .Select(e => new CompletionResult(e.Path, $"{e.Path}  {e.Description}", CompletionResultType.ParameterValue, $"{e.Id}: {e.Description}"));
    }
}
