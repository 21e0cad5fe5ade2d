using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Metadata;

/// <summary>
/// Output objects must survive PowerShell remoting (Invoke-Command -HostName a,b,c): CLIXML keeps
/// primitives, strings, enums and TimeSpan faithfully, so output types hold only those (IP addresses as
/// strings), nullable versions of them, and lists of such values or of records made of them.
/// </summary>
public sealed class RemotingSafeOutputTests
{
    public static TheoryData<string> Cmdlets() => CmdletMetadataTests.Cmdlets();

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void OutputTypes_HoldOnlySerializationSafeProperties(string typeName)
    {
        var cmdlet = CmdletMetadata.ModuleAssembly.GetType(typeName)!;

        foreach (Type output in HelpCoverageTests.OutputTypes(cmdlet).Where(t => t.Namespace?.StartsWith("PSKeepalive", StringComparison.Ordinal) == true))
        {
            var problems = output.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.GetIndexParameters().Length == 0 && !IsSafe(p.PropertyType, allowRecords: true))
                .Select(p => $"{output.Name}.{p.Name} is {p.PropertyType}")
                .ToList();

            Assert.Empty(problems);
        }
    }

    [Fact]
    public void TheCheckRejectsWhatRemotingMangles()
    {
        Assert.False(IsSafe(typeof(System.Net.IPAddress), allowRecords: true));
        Assert.False(IsSafe(typeof(System.Diagnostics.Process), allowRecords: true));
        Assert.False(IsSafe(typeof(Dictionary<string, object>), allowRecords: true));
        Assert.True(IsSafe(typeof(TimeSpan?), allowRecords: true));
        Assert.True(IsSafe(typeof(IReadOnlyList<string>), allowRecords: true));
    }

    internal static bool IsSafe(Type type, bool allowRecords)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) ||
            type == typeof(TimeSpan) || type == typeof(DateTime) || type == typeof(DateTimeOffset) || type == typeof(Guid))
        {
            return true;
        }

        if (type.IsArray)
        {
            return IsSafe(type.GetElementType()!, allowRecords);
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() is var definition &&
            (definition == typeof(IReadOnlyList<>) || definition == typeof(IReadOnlyCollection<>) || definition == typeof(List<>) || definition == typeof(IList<>)))
        {
            return IsSafe(type.GetGenericArguments()[0], allowRecords);
        }

        // One level of nested PSKeepalive records whose own properties are plain values.
        return allowRecords && type.Namespace?.StartsWith("PSKeepalive", StringComparison.Ordinal) == true && type.IsClass &&
               type.GetProperties(BindingFlags.Public | BindingFlags.Instance).All(p => IsSafe(p.PropertyType, allowRecords: false));
    }
}
