using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using PSKeepalive.Core.Connections;
using Xunit;

namespace PSKeepalive.Tests.Connections;

/// <summary>The cmdlet is thin and cannot run here (no pwsh): its attributes, the manifest, the view and the help are checked as data.</summary>
public sealed class GetTcpConnectionMetadataTests
{
    private static readonly Type Cmdlet = ModuleAssembly.Type("PSKeepalive.Commands.GetTcpConnectionCommand");

    [Fact]
    public void Cmdlet_IsGetTcpConnection_WithOutputType()
    {
        var cmdlet = Attribute(Cmdlet.GetCustomAttributesData(), "CmdletAttribute");
        Assert.Equal("Get", cmdlet.ConstructorArguments[0].Value);
        Assert.Equal("TcpConnection", cmdlet.ConstructorArguments[1].Value);
        Assert.DoesNotContain(cmdlet.NamedArguments, a => a.MemberName == "SupportsShouldProcess" && (bool)a.TypedValue.Value! == true);

        var output = Attribute(Cmdlet.GetCustomAttributesData(), "OutputTypeAttribute");
        var types = (System.Collections.Generic.IEnumerable<CustomAttributeTypedArgument>)output.ConstructorArguments[0].Value!;
        Assert.Equal(typeof(TcpConnection), Assert.Single(types).Value);
    }

    [Theory]
    [InlineData("LocalPort", 0, 65535)]
    [InlineData("RemotePort", 0, 65535)]
    [InlineData("OwningProcess", 1, int.MaxValue)]
    public void NumericParameters_HaveTheirRange(string name, int min, int max)
    {
        var range = Attribute(Parameter(name).GetCustomAttributesData(), "ValidateRangeAttribute");

        Assert.Equal(min, Convert.ToInt32(range.ConstructorArguments[0].Value));
        Assert.Equal(max, Convert.ToInt32(range.ConstructorArguments[1].Value));
    }

    [Fact]
    public void OwningProcess_BindsGetProcessOutputById()
    {
        var attributes = Parameter("OwningProcess").GetCustomAttributesData();
        var parameter = Attribute(attributes, "ParameterAttribute");
        Assert.Contains(parameter.NamedArguments, a => a.MemberName == "ValueFromPipelineByPropertyName" && (bool)a.TypedValue.Value!);
        var alias = Attribute(attributes, "AliasAttribute");
        var names = ((System.Collections.Generic.IEnumerable<CustomAttributeTypedArgument>)alias.ConstructorArguments[0].Value!).Select(a => (string)a.Value!);
        Assert.Contains("Id", names);
    }

    [Fact]
    public void Parameters_AreTheDocumentedOnes()
    {
        string[] expected = { "State", "LocalAddress", "LocalPort", "RemoteAddress", "RemotePort", "OwningProcess", "IncludeProcess", "IncludeInfo", "IncludeSocketOption", "NoKeepalive", "NetworkNamespace", "PSComputerName" };
        var actual = Cmdlet.GetProperties().Where(p => p.GetCustomAttributesData().Any(a => a.AttributeType.Name == "ParameterAttribute")).Select(p => p.Name);

        Assert.Equal(expected.Order(), actual.Order());
    }

    [Fact]
    public void Manifest_ExportsIt_AndTheViewNamesExistingMembers()
    {
        string root = RepositoryRoot();
        Assert.Contains("'Get-TcpConnection'", File.ReadAllText(Path.Combine(root, "PSKeepalive.psd1")));

        string format = File.ReadAllText(Path.Combine(root, "PSKeepalive.Format.ps1xml"));
        Assert.Contains("<TypeName>PSKeepalive.Core.Connections.TcpConnection</TypeName>", format);
        foreach (Match call in Regex.Matches(format, @"\[(PSKeepalive\.Core\.Connections\.\w+)\]::(\w+)\("))
        {
            Type? type = typeof(TcpConnection).Assembly.GetType(call.Groups[1].Value);
            Assert.NotNull(type);

            // Views also format deserialized objects (remoting): the helper called must take plain values only,
            // as many as the call passes, never a live record.
            int arguments = ArgumentCount(format, call.Index + call.Length);
            var overloads = type.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.Name == call.Groups[2].Value).ToList();
            Assert.True(overloads.Count > 0, $"{type.Name}.{call.Groups[2].Value} does not exist");
            Assert.True(
                overloads.Any(m => m.GetParameters().Length == arguments && m.GetParameters().All(p => IsPlain(p.ParameterType))),
                $"the view calls {type.Name}.{call.Groups[2].Value} with {arguments} argument(s), which no overload of plain values takes");
        }
    }

    private static bool IsPlain(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(TimeSpan);
    }

    /// <summary>Top-level arguments of the call whose "(" ends at <paramref name="start"/>.</summary>
    private static int ArgumentCount(string text, int start)
    {
        int depth = 0, commas = 0;
        for (int i = start; i < text.Length; i++)
        {
            char c = text[i];
            if (c is '(' or '[' or '{')
            {
                depth++;
            }
            else if (c is ')' or ']' or '}')
            {
                if (depth == 0)
                {
                    return i == start ? 0 : commas + 1;
                }

                depth--;
            }
            else if (c == ',' && depth == 0)
            {
                commas++;
            }
        }

        throw new FormatException("unbalanced call in the Format file");
    }

    [Fact]
    public void Help_DocumentsEveryParameterAndOutputProperty()
    {
        string help = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "en-US", "Get-TcpConnection.md"));
        foreach (PropertyInfo parameter in Cmdlet.GetProperties().Where(p => p.GetCustomAttributesData().Any(a => a.AttributeType.Name == "ParameterAttribute")))
        {
            Assert.Contains($"### -{parameter.Name}", help);
        }

        foreach (PropertyInfo property in typeof(TcpConnection).GetProperties())
        {
            Assert.Contains($"- {property.Name}:", help);
        }
    }

    private static PropertyInfo Parameter(string name) => Cmdlet.GetProperty(name) ?? throw new InvalidOperationException($"no parameter {name}");

    private static CustomAttributeData Attribute(System.Collections.Generic.IEnumerable<CustomAttributeData> attributes, string name) =>
        Assert.Single(attributes, a => a.AttributeType.Name == name);

    internal static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "PSKeepalive.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException("PSKeepalive.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>
/// The module assembly, loaded from its build output. It cannot come in as a normal reference: the CLI's
/// pskeepalive.dll has the same name but for case, and the build keeps only one of the two next to the tests.
/// </summary>
internal static class ModuleAssembly
{
    private static readonly Lazy<Assembly> Loaded = new(() =>
    {
        string configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name; // bin/<Configuration>/net8.0
        string path = Path.Combine(GetTcpConnectionMetadataTests.RepositoryRoot(), "src", "PSKeepalive", "bin", configuration, "net8.0", "PSKeepalive.dll");
        return new System.Runtime.Loader.AssemblyLoadContext("PSKeepalive module").LoadFromAssemblyPath(path); // its own context: the default one would answer "PSKeepalive" with the CLI
    });

    public static Type Type(string name) => Loaded.Value.GetType(name, throwOnError: true)!;
}
