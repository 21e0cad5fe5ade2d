using System.Linq;
using PSKeepalive.Commands;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Retrofit;

/// <summary>The binding contract of Enable-/Disable-TcpKeepalive and Close-TcpConnection, read through CustomAttributeData.</summary>
public sealed class RetrofitCmdletMetadataTests
{
    [Theory]
    [InlineData(typeof(EnableTcpKeepaliveCommand))]
    [InlineData(typeof(DisableTcpKeepaliveCommand))]
    public void KeepaliveCmdlets_TakeConnectionsByPropertyName_OrAProcessId(System.Type type)
    {
        var parameters = CmdletMetadata.Parameters(type).ToDictionary(p => p.Name);

        foreach (string name in new[] { "Inode", "Processes", "LocalAddress", "LocalPort", "RemoteAddress", "RemotePort" })
        {
            var attribute = CmdletMetadata.Attribute(parameters[name], "ParameterAttribute")!;
            Assert.True(CmdletMetadata.Named(attribute, "ValueFromPipelineByPropertyName") is true, $"-{name} binds by property name");
            Assert.Equal("Connection", CmdletMetadata.Named(attribute, "ParameterSetName"));
        }

        Assert.True(CmdletMetadata.Named(CmdletMetadata.Attribute(parameters["Inode"], "ParameterAttribute")!, "Mandatory") is true);
        Assert.Equal(typeof(long), parameters["Inode"].PropertyType);

        var processId = CmdletMetadata.Attribute(parameters["ProcessId"], "ParameterAttribute")!;
        Assert.Equal("Process", CmdletMetadata.Named(processId, "ParameterSetName"));
        Assert.True(CmdletMetadata.Named(processId, "Mandatory") is true);
        Assert.True(CmdletMetadata.Named(processId, "ValueFromPipelineByPropertyName") is true);
        var alias = CmdletMetadata.Attribute(parameters["ProcessId"], "AliasAttribute")!;
        var aliases = ((System.Collections.Generic.IEnumerable<System.Reflection.CustomAttributeTypedArgument>)alias.ConstructorArguments[0].Value!).Select(a => (string)a.Value!);
        Assert.Contains("Id", aliases); // Get-Process | Enable-TcpKeepalive

        var cmdlet = CmdletMetadata.Attribute(type, "CmdletAttribute")!;
        Assert.True(CmdletMetadata.Named(cmdlet, "SupportsShouldProcess") is true);
        Assert.Equal("Connection", CmdletMetadata.Named(cmdlet, "DefaultParameterSetName"));
        Assert.Contains("PassThru", parameters.Keys);
        var outputs = PSKeepalive.Tests.Metadata.HelpCoverageTests.OutputTypes(type).Select(t => t.Name).ToList();
        Assert.Contains("KeepaliveChangeResult", outputs);
        Assert.Contains("TcpConnection", outputs);
    }

    [Fact]
    public void Enable_HasTheTimingParameters_Disable_HasNone()
    {
        var enable = CmdletMetadata.Parameters(typeof(EnableTcpKeepaliveCommand)).Select(p => p.Name).ToHashSet();
        var disable = CmdletMetadata.Parameters(typeof(DisableTcpKeepaliveCommand)).Select(p => p.Name).ToHashSet();

        Assert.Superset(new System.Collections.Generic.HashSet<string> { "Idle", "Interval", "Count", "UserTimeout" }, enable);
        Assert.Empty(disable.Intersect(new[] { "Idle", "Interval", "Count", "UserTimeout" }));
        Assert.Equal(typeof(int?), typeof(EnableTcpKeepaliveCommand).GetProperty("Idle")!.PropertyType);
    }

    [Fact]
    public void Close_IsHighImpact_AndBindsTheExactSocketId()
    {
        var type = typeof(CloseTcpConnectionCommand);
        var cmdlet = CmdletMetadata.Attribute(type, "CmdletAttribute")!;
        Assert.True(CmdletMetadata.Named(cmdlet, "SupportsShouldProcess") is true);
        Assert.Equal(3, System.Convert.ToInt32(CmdletMetadata.Named(cmdlet, "ConfirmImpact"))); // ConfirmImpact.High

        var parameters = CmdletMetadata.Parameters(type).ToDictionary(p => p.Name);
        foreach (string name in new[] { "LocalAddress", "LocalPort", "RemoteAddress", "RemotePort", "Cookie", "InterfaceIndex" })
        {
            Assert.True(CmdletMetadata.Named(CmdletMetadata.Attribute(parameters[name], "ParameterAttribute")!, "ValueFromPipelineByPropertyName") is true, $"-{name}");
        }

        foreach (string name in new[] { "LocalAddress", "LocalPort", "RemoteAddress", "RemotePort" })
        {
            Assert.True(CmdletMetadata.Named(CmdletMetadata.Attribute(parameters[name], "ParameterAttribute")!, "Mandatory") is true, $"-{name} is mandatory");
        }

        Assert.Equal(typeof(ulong?), parameters["Cookie"].PropertyType);
        var range = CmdletMetadata.Attribute(parameters["LocalPort"], "ValidateRangeAttribute")!;
        Assert.Equal(65535, System.Convert.ToInt32(CmdletMetadata.Unwrap(range.ConstructorArguments[1].Value)));
    }
}
