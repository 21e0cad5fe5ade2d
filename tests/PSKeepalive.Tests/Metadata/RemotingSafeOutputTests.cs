using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Xml.Linq;
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

    /// <summary>
    /// PSKeepalive.Types.ps1xml gives every enum of an output type (nested records included) SerializationMethod String
    /// and a Deserialized twin with TargetTypeForDeserialization, and every nested record SerializationDepth 1; an enum
    /// or a nested record added later without them would travel as a tagged Int32 or as ToString() text.
    /// </summary>
    [Fact]
    public void TypesFile_ShapesEveryEnumAndNestedRecordOfTheOutputTypes()
    {
        var types = XDocument.Load(Repository.PathOf("PSKeepalive.Types.ps1xml")).Descendants("Type")
            .ToDictionary(t => t.Element("Name")!.Value, t => t.Descendants("NoteProperty").ToDictionary(n => n.Element("Name")!.Value, n => n.Element("Value")!.Value));
        string? Note(string type, string name) => types.TryGetValue(type, out var notes) && notes.TryGetValue(name, out var value) ? value : null;

        var outputs = CmdletMetadata.CmdletTypes.SelectMany(HelpCoverageTests.OutputTypes).Distinct()
            .Where(t => t.Namespace?.StartsWith("PSKeepalive", StringComparison.Ordinal) == true).ToList();
        Assert.NotEmpty(outputs);
        var enums = new HashSet<Type>();
        var nested = new HashSet<Type>();
        foreach (Type output in outputs)
        {
            foreach (Type property in output.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => ElementOf(p.PropertyType)))
            {
                if (property.IsEnum)
                {
                    enums.Add(property);
                }
                else if (property.Namespace?.StartsWith("PSKeepalive", StringComparison.Ordinal) == true && property.IsClass)
                {
                    nested.Add(property);
                    enums.UnionWith(property.GetProperties().Select(p => ElementOf(p.PropertyType)).Where(t => t.IsEnum));
                }
            }
        }

        Assert.Contains(typeof(PSKeepalive.Core.Connections.TcpState), enums);
        Assert.Contains(typeof(PSKeepalive.Core.Connections.TcpConnectionProcess), nested);
        var problems = enums.Where(e => Note(e.FullName!, "SerializationMethod") != "String").Select(e => $"{e.FullName} lacks SerializationMethod String")
            .Concat(enums.Where(e => Note("Deserialized." + e.FullName, "TargetTypeForDeserialization") != e.FullName).Select(e => $"Deserialized.{e.FullName} lacks TargetTypeForDeserialization"))
            .Concat(nested.Where(n => Note(n.FullName!, "SerializationDepth") != "1").Select(n => $"{n.FullName} (nested in an output type) lacks SerializationDepth 1"))
            .ToList();

        Assert.Empty(problems);
    }

    private static Type ElementOf(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsArray)
        {
            return type.GetElementType()!;
        }

        return type.IsGenericType && type.GetGenericArguments().Length == 1 && type != typeof(string) ? type.GetGenericArguments()[0] : type;
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
