using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;

namespace PSKeepalive.Tests.Support;

/// <summary>
/// Reads cmdlet attributes through CustomAttributeData: attribute constructors and the stub
/// System.Management.Automation are never run.
/// </summary>
public static class CmdletMetadata
{
    public static Assembly ModuleAssembly { get; } = typeof(PSKeepalive.Commands.GetTcpKeepaliveSettingCommand).Assembly;

    public static IReadOnlyList<Type> CmdletTypes { get; } = ModuleAssembly.GetTypes()
        .Where(t => t.GetCustomAttributesData().Any(a => a.AttributeType.Name == "CmdletAttribute"))
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .ToList();

    public static CustomAttributeData? Attribute(MemberInfo member, string attributeName) =>
        member.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.Name == attributeName);

    public static IEnumerable<CustomAttributeData> Attributes(MemberInfo member, string attributeName) =>
        member.GetCustomAttributesData().Where(a => a.AttributeType.Name == attributeName);

    public static (string Verb, string Noun) VerbNoun(Type cmdlet)
    {
        var attribute = Attribute(cmdlet, "CmdletAttribute")!;
        return ((string)attribute.ConstructorArguments[0].Value!, (string)attribute.ConstructorArguments[1].Value!);
    }

    public static string Name(Type cmdlet)
    {
        var (verb, noun) = VerbNoun(cmdlet);
        return $"{verb}-{noun}";
    }

    public static object? Named(CustomAttributeData attribute, string name) =>
        attribute.NamedArguments.FirstOrDefault(a => a.MemberName == name) is { MemberInfo: not null } found ? Unwrap(found.TypedValue.Value) : null;

    public static object? Unwrap(object? value) => value is CustomAttributeTypedArgument inner ? Unwrap(inner.Value) : value;

    /// <summary>Properties carrying [Parameter].</summary>
    public static IEnumerable<PropertyInfo> Parameters(Type cmdlet) =>
        cmdlet.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => Attribute(p, "ParameterAttribute") is not null);

    /// <summary>Every approved verb, read from the constants of the Verbs* classes.</summary>
    public static IReadOnlySet<string> ApprovedVerbs { get; } = typeof(System.Management.Automation.VerbsCommon).Assembly.GetTypes()
        .Where(t => t.Namespace == "System.Management.Automation" && t.Name.StartsWith("Verbs", StringComparison.Ordinal))
        .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToHashSet(StringComparer.Ordinal);
}
