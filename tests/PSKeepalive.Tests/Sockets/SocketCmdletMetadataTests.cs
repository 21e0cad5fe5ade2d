using System;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Xml.Linq;
using PSKeepalive.Commands;
using PSKeepalive.Core.SelfTest;
using PSKeepalive.Core.Sockets;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Sockets;

/// <summary>The declared shape of Get-/Set-SocketKeepalive and Test-TcpKeepalive, their views and Pester suites (read, never run).</summary>
public sealed class SocketCmdletMetadataTests
{
    [Theory]
    [InlineData(typeof(GetSocketKeepaliveCommand))]
    [InlineData(typeof(SetSocketKeepaliveCommand))]
    public void SocketParameter_BindsSocketsTcpClientsAndTcpListenersFromThePipeline(Type cmdlet)
    {
        var property = cmdlet.GetProperty("Socket")!;
        var parameter = CmdletMetadata.Attribute(property, "ParameterAttribute")!;
        var aliases = CmdletMetadata.Attribute(property, "AliasAttribute")!.ConstructorArguments
            .SelectMany(a => (System.Collections.Generic.IEnumerable<System.Reflection.CustomAttributeTypedArgument>)a.Value!)
            .Select(a => (string)a.Value!)
            .ToList();

        Assert.Equal(typeof(Socket), property.PropertyType);
        Assert.Equal(true, CmdletMetadata.Named(parameter, "Mandatory"));
        Assert.Equal(0, CmdletMetadata.Named(parameter, "Position"));
        Assert.Equal(true, CmdletMetadata.Named(parameter, "ValueFromPipeline"));
        Assert.Equal(true, CmdletMetadata.Named(parameter, "ValueFromPipelineByPropertyName"));
        Assert.Equal(new[] { "Client", "Server" }, aliases);
        // The aliases are the properties through which TcpClient and TcpListener expose their socket.
        Assert.Equal(typeof(Socket), typeof(TcpClient).GetProperty("Client")!.PropertyType);
        Assert.Equal(typeof(Socket), typeof(TcpListener).GetProperty("Server")!.PropertyType);
        Assert.NotNull(CmdletMetadata.Attribute(property, "ValidateNotNullAttribute"));
    }

    [Theory]
    [InlineData(typeof(GetSocketKeepaliveCommand), typeof(SocketKeepaliveOptions))]
    [InlineData(typeof(SetSocketKeepaliveCommand), typeof(SocketKeepaliveOptions))]
    [InlineData(typeof(TestTcpKeepaliveCommand), typeof(TcpKeepaliveTestResult))]
    public void OutputType_IsTheCoreRecord(Type cmdlet, Type output)
    {
        Assert.Contains(output, Metadata.HelpCoverageTests.OutputTypes(cmdlet));
    }

    [Fact]
    public void SetSocketKeepalive_ChangesOnlyWhatIsGiven()
    {
        var type = typeof(SetSocketKeepaliveCommand);
        var cmdlet = CmdletMetadata.Attribute(type, "CmdletAttribute")!;

        Assert.Equal(true, CmdletMetadata.Named(cmdlet, "SupportsShouldProcess"));
        foreach (string name in new[] { "Idle", "Interval", "Count", "UserTimeout" })
        {
            Assert.Equal(typeof(int?), type.GetProperty(name)!.PropertyType);
        }

        Assert.Equal("SwitchParameter", type.GetProperty("Disable")!.PropertyType.Name);
        Assert.Equal("SwitchParameter", type.GetProperty("PassThru")!.PropertyType.Name);
    }

    [Fact]
    public void TestTcpKeepalive_SeparatesExplicitValuesFromSystemSettings()
    {
        var type = typeof(TestTcpKeepaliveCommand);
        Assert.Equal("Explicit", CmdletMetadata.Named(CmdletMetadata.Attribute(type, "CmdletAttribute")!, "DefaultParameterSetName"));

        foreach (string name in new[] { "Idle", "Interval", "Count" })
        {
            var parameter = CmdletMetadata.Attribute(type.GetProperty(name)!, "ParameterAttribute")!;
            Assert.Equal("Explicit", CmdletMetadata.Named(parameter, "ParameterSetName"));
        }

        var system = CmdletMetadata.Attribute(type.GetProperty("UseSystemSettings")!, "ParameterAttribute")!;
        Assert.Equal("SystemSettings", CmdletMetadata.Named(system, "ParameterSetName"));
        Assert.Equal(true, CmdletMetadata.Named(system, "Mandatory"));

        foreach (string name in new[] { "UserTimeout", "WithDataInFlight", "NetworkNamespace", "Timeout", "IPv6" })
        {
            var parameter = CmdletMetadata.Attribute(type.GetProperty(name)!, "ParameterAttribute")!;
            Assert.Null(CmdletMetadata.Named(parameter, "ParameterSetName"));
        }

        var timeout = CmdletMetadata.Attribute(type.GetProperty("Timeout")!, "ValidateRangeAttribute")!;
        Assert.Equal(1, Convert.ToInt32(CmdletMetadata.Unwrap(timeout.ConstructorArguments[0].Value)));
        Assert.Equal(TcpKeepaliveTest.MaxTimeoutSeconds, Convert.ToInt32(CmdletMetadata.Unwrap(timeout.ConstructorArguments[1].Value)));
        Assert.Equal(typeof(int), type.GetProperty("Idle")!.PropertyType);
        Assert.Null(CmdletMetadata.Named(CmdletMetadata.Attribute(type, "CmdletAttribute")!, "SupportsShouldProcess"));
    }

    [Theory]
    [InlineData("SocketKeepaliveOptions", typeof(SocketKeepaliveOptions))]
    [InlineData("TcpKeepaliveTestResult", typeof(TcpKeepaliveTestResult))]
    public void FormatView_ShowsExistingPropertiesWithin120Columns(string viewName, Type type)
    {
        var format = XDocument.Load(Repository.PathOf("PSKeepalive.Format.ps1xml"));
        var view = format.Descendants("View").Single(v => v.Element("Name")!.Value == viewName);
        var widths = view.Descendants("TableColumnHeader").Select(h => int.Parse(h.Element("Width")?.Value ?? "0")).ToList();
        var properties = view.Descendants("PropertyName").Select(p => p.Value).ToList();

        Assert.Equal(type.FullName, view.Descendants("TypeName").Single().Value);
        Assert.Equal(widths.Count, view.Descendants("TableColumnItem").Count());
        Assert.True(widths.Sum() + widths.Count - 1 <= 120, $"{viewName} is {widths.Sum() + widths.Count - 1} columns wide");
        Assert.All(properties, p => Assert.NotNull(type.GetProperty(p)));
    }

    [Theory]
    [InlineData("Get-SocketKeepalive")]
    [InlineData("Set-SocketKeepalive")]
    [InlineData("Test-TcpKeepalive")]
    public void PesterSuite_ExistsAndUsesTheCommonSetup(string cmdlet)
    {
        string path = Repository.PathOf("tests", cmdlet + ".Tests.ps1");

        Assert.True(File.Exists(path), $"tests/{cmdlet}.Tests.ps1 is missing");
        string suite = File.ReadAllText(path);
        Assert.StartsWith("BeforeDiscovery {\n    . $PSScriptRoot/common.ps1", suite);
        Assert.Contains($"Describe '{cmdlet}'", suite);
        Assert.Contains(cmdlet + " ", suite);
    }
}
