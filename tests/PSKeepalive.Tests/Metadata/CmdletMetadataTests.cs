using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using PSKeepalive.Core;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Metadata;

/// <summary>Every cmdlet's declared shape, checked without running PowerShell.</summary>
public sealed class CmdletMetadataTests
{
    private static readonly string[] StateChangingVerbs = ["Set", "Enable", "Disable", "Close", "Start", "Stop", "Remove", "New", "Clear", "Reset"];

    /// <summary>Parameter name -> the KeepaliveLimits range it must carry, wherever it appears.</summary>
    private static readonly Dictionary<string, (long Min, long Max)> ExpectedRanges = new()
    {
        ["Time"] = (KeepaliveLimits.MinIdle, KeepaliveLimits.MaxIdle),
        ["Idle"] = (KeepaliveLimits.MinIdle, KeepaliveLimits.MaxIdle),
        ["Interval"] = (KeepaliveLimits.MinInterval, KeepaliveLimits.MaxInterval),
        ["Probes"] = (KeepaliveLimits.MinCount, KeepaliveLimits.MaxCount),
        ["Count"] = (KeepaliveLimits.MinCount, KeepaliveLimits.MaxCount),
        ["UserTimeout"] = (KeepaliveLimits.MinUserTimeout, KeepaliveLimits.MaxUserTimeout),
    };

    public static TheoryData<string> Cmdlets()
    {
        var data = new TheoryData<string>();
        foreach (var type in CmdletMetadata.CmdletTypes)
        {
            data.Add(type.FullName!);
        }

        return data;
    }

    [Fact]
    public void TheModuleHasItsFoundationCmdlets()
    {
        var names = CmdletMetadata.CmdletTypes.Select(CmdletMetadata.Name).ToList();

        Assert.Contains("Get-TcpKeepaliveSetting", names);
        Assert.Contains("Set-TcpKeepaliveSetting", names);
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Cmdlet_IsSealedAndNamedAfterItsVerbAndNoun(string typeName)
    {
        var type = CmdletMetadata.ModuleAssembly.GetType(typeName)!;
        var (verb, noun) = CmdletMetadata.VerbNoun(type);

        Assert.True(type.IsSealed, $"{type.Name} should be sealed");
        Assert.Equal($"{verb}{noun}Command", type.Name);
        Assert.Equal("PSKeepalive.Commands", type.Namespace);
        Assert.True(File.Exists(Repository.PathOf("src", "PSKeepalive", "Commands", type.Name + ".cs")), $"{type.Name} lives in Commands/{type.Name}.cs");
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Cmdlet_UsesAnApprovedVerb(string typeName)
    {
        var (verb, _) = CmdletMetadata.VerbNoun(CmdletMetadata.ModuleAssembly.GetType(typeName)!);

        Assert.Contains(verb, CmdletMetadata.ApprovedVerbs);
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Cmdlet_DeclaresItsOutputType(string typeName)
    {
        var type = CmdletMetadata.ModuleAssembly.GetType(typeName)!;

        var outputTypes = CmdletMetadata.Attributes(type, "OutputTypeAttribute").ToList();

        Assert.NotEmpty(outputTypes);
        Assert.All(outputTypes, a => Assert.NotEmpty(a.ConstructorArguments));
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void StateChangingCmdlet_SupportsShouldProcess(string typeName)
    {
        var type = CmdletMetadata.ModuleAssembly.GetType(typeName)!;
        var (verb, _) = CmdletMetadata.VerbNoun(type);
        bool supports = CmdletMetadata.Named(CmdletMetadata.Attribute(type, "CmdletAttribute")!, "SupportsShouldProcess") is true;

        if (StateChangingVerbs.Contains(verb))
        {
            Assert.True(supports, $"{CmdletMetadata.Name(type)} changes state and must support -WhatIf/-Confirm");
        }
        else
        {
            Assert.False(supports, $"{CmdletMetadata.Name(type)} does not change state and should not offer -WhatIf");
        }
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void KeepaliveParameters_CarryTheKernelRange(string typeName)
    {
        var type = CmdletMetadata.ModuleAssembly.GetType(typeName)!;

        foreach (var parameter in CmdletMetadata.Parameters(type).Where(p => ExpectedRanges.ContainsKey(p.Name)))
        {
            var range = CmdletMetadata.Attribute(parameter, "ValidateRangeAttribute");
            Assert.True(range is not null, $"{CmdletMetadata.Name(type)} -{parameter.Name} needs [ValidateRange]");
            var (min, max) = ExpectedRanges[parameter.Name];
            Assert.Equal(min, Convert.ToInt64(CmdletMetadata.Unwrap(range!.ConstructorArguments[0].Value)));
            Assert.Equal(max, Convert.ToInt64(CmdletMetadata.Unwrap(range.ConstructorArguments[1].Value)));
        }
    }

    [Fact]
    public void SetTcpKeepaliveSetting_HasTheIssuesParameters()
    {
        var type = typeof(PSKeepalive.Commands.SetTcpKeepaliveSettingCommand);
        var names = CmdletMetadata.Parameters(type).Select(p => p.Name).ToHashSet();

        Assert.Superset(new HashSet<string> { "Time", "Interval", "Probes", "Persist", "PersistPath", "NetworkNamespace", "PassThru" }, names);
        Assert.Equal(typeof(int?), type.GetProperty("Time")!.PropertyType);
        Assert.Equal("SwitchParameter", type.GetProperty("Persist")!.PropertyType.Name);
    }

    [Fact]
    public void Manifest_ExportsExactlyTheCmdletClasses()
    {
        string manifest = File.ReadAllText(Repository.PathOf("PSKeepalive.psd1"));
        var block = Regex.Match(manifest, @"CmdletsToExport\s*=\s*@\((?<list>[^)]*)\)");
        Assert.True(block.Success, "CmdletsToExport must be an explicit list");
        var exported = Regex.Matches(block.Groups["list"].Value, @"'([^']+)'").Select(m => m.Groups[1].Value).OrderBy(n => n, StringComparer.Ordinal);

        Assert.Equal(CmdletMetadata.CmdletTypes.Select(CmdletMetadata.Name).OrderBy(n => n, StringComparer.Ordinal), exported);
    }

    [Fact]
    public void Manifest_VersionMatchesTheBuild()
    {
        string manifest = File.ReadAllText(Repository.PathOf("PSKeepalive.psd1"));
        string moduleVersion = Regex.Match(manifest, @"ModuleVersion\s*=\s*'([^']+)'").Groups[1].Value;
        string buildVersion = XDocument.Load(Repository.PathOf("Directory.Build.props")).Descendants("Version").Single().Value;

        Assert.Equal(buildVersion, moduleVersion);
        Assert.Equal(buildVersion, CmdletMetadata.ModuleAssembly.GetName().Version!.ToString(3));
    }

    [Fact]
    public void Manifest_DeclaresCoreEditionAndNoWildcardExports()
    {
        string manifest = File.ReadAllText(Repository.PathOf("PSKeepalive.psd1"));

        Assert.Matches(@"PowerShellVersion\s*=\s*'7\.4'", manifest);
        Assert.Matches(@"CompatiblePSEditions\s*=\s*@\('Core'\)", manifest);
        Assert.Matches(@"FunctionsToExport\s*=\s*@\(\)", manifest);
        Assert.Matches(@"VariablesToExport\s*=\s*@\(\)", manifest);
        Assert.Matches(@"AliasesToExport\s*=\s*@\(\)", manifest);
        Assert.Matches(@"FormatsToProcess\s*=\s*@\('PSKeepalive.Format.ps1xml'\)", manifest);
        Assert.DoesNotContain("'*'", manifest);
    }

    [Fact]
    public void ModuleBuildOutput_HasTheModuleAndNoPowerShellAssembly()
    {
        string output = Path.GetDirectoryName(typeof(PSKeepalive.Commands.GetTcpKeepaliveSettingCommand).Assembly.Location)!;
        string moduleBin = Directory.GetDirectories(Repository.PathOf("src", "PSKeepalive", "bin"), "net8.0", SearchOption.AllDirectories)
            .OrderByDescending(Directory.GetLastWriteTimeUtc).First();

        foreach (string file in new[] { "PSKeepalive.dll", "PSKeepalive.Core.dll", "PSKeepalive.psd1", "PSKeepalive.Format.ps1xml" })
        {
            Assert.True(File.Exists(Path.Combine(moduleBin, file)), $"{file} missing from {moduleBin}");
        }

        Assert.False(File.Exists(Path.Combine(moduleBin, "System.Management.Automation.dll")), "the module must not ship the PowerShell stub");
        Assert.True(File.Exists(Path.Combine(output, "PSKeepalive.dll")));
    }

    [Fact]
    public void FormatFile_IsValidXmlWithUniqueViewNames()
    {
        var format = XDocument.Load(Repository.PathOf("PSKeepalive.Format.ps1xml"));
        var names = format.Descendants("View").Select(v => v.Element("Name")!.Value).ToList();

        Assert.NotEmpty(names);
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        Assert.All(format.Descendants("TypeName"), t => Assert.StartsWith("PSKeepalive.", t.Value));
    }
}

/// <summary>Tab completion is declared wherever the value set is known.</summary>
public sealed class CompletionMetadataTests
{
    [Fact]
    public void NamespaceAndProcessParameters_HaveCompleters()
    {
        var expectations = new System.Collections.Generic.Dictionary<string, string>
        {
            ["NetworkNamespace"] = "NetworkNamespaceCompleter",
            ["ProcessId"] = "ProcessIdCompleter",
            ["OwningProcess"] = "ProcessIdCompleter",
        };

        foreach (var cmdlet in CmdletMetadata.CmdletTypes)
        {
            foreach (var parameter in CmdletMetadata.Parameters(cmdlet).Where(p => expectations.ContainsKey(p.Name)))
            {
                var completer = CmdletMetadata.Attribute(parameter, "ArgumentCompleterAttribute");
                Assert.True(completer is not null, $"{CmdletMetadata.Name(cmdlet)} -{parameter.Name} has no argument completer");
                Assert.Equal(expectations[parameter.Name], ((Type)completer!.ConstructorArguments[0].Value!).Name);
            }
        }
    }
}
