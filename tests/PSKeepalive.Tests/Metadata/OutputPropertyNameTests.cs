using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Metadata;

/// <summary>
/// PowerShell gives every object .Count and .Length (one object counts as 1) and PSObject's own members, and
/// remoting adds PSComputerName and RunspaceId. An output property of such a name hides them: with a
/// TcpConnection.Count, `$g = Get-TcpConnection ...` returning one object made `$g.Count` empty. Checked for every
/// type any cmdlet declares with [OutputType], so types added later are held to it too (the Pester suite checks
/// the same in pwsh).
/// </summary>
public sealed class OutputPropertyNameTests
{
    internal static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "Count", "Length", "PSObject", "PSBase", "PSAdapted", "PSExtended", "PSTypeNames", "ForEach", "Where",
        "PSComputerName", "PSShowComputerName", "RunspaceId",
    };

    public static TheoryData<string> Cmdlets() => CmdletMetadataTests.Cmdlets();

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void OutputTypes_HideNoMemberPowerShellGivesEveryObject(string typeName)
    {
        Type cmdlet = CmdletMetadata.ModuleAssembly.GetType(typeName)!;
        var problems = new List<string>();
        foreach (Type output in HelpCoverageTests.OutputTypes(cmdlet).Where(t => t.Namespace?.StartsWith("PSKeepalive", StringComparison.Ordinal) == true))
        {
            // Nested records too: Before/After of a result are objects a script reads the same way.
            foreach (Type type in output.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                         .Select(p => Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType)
                         .Where(t => t.Namespace?.StartsWith("PSKeepalive", StringComparison.Ordinal) == true && t.IsClass)
                         .Prepend(output)
                         .Distinct())
            {
                problems.AddRange(type.GetMembers(BindingFlags.Public | BindingFlags.Instance)
                    .Where(m => m is PropertyInfo or FieldInfo && Reserved.Contains(m.Name))
                    .Select(m => $"{type.Name}.{m.Name}"));
            }
        }

        Assert.Empty(problems);
    }

    [Fact]
    public void TheListNamesWhatPowerShellAddsToEveryObject()
    {
        Assert.Contains("Count", Reserved);
        Assert.Contains("Length", Reserved);
        Assert.Contains("psobject", Reserved);
        Assert.Contains("PSComputerName", Reserved);
    }
}
