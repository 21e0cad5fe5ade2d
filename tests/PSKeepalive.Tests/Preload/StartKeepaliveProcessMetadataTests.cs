using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using PSKeepalive.Core;
using Xunit;

namespace PSKeepalive.Tests.Preload;

/// <summary>Start-KeepaliveProcess's binding contract, read through CustomAttributeData (no PowerShell code runs).</summary>
public sealed class StartKeepaliveProcessMetadataTests
{
    private static readonly Type Cmdlet = typeof(PSKeepalive.Commands.StartKeepaliveProcessCommand);

    private static CustomAttributeData Attribute(MemberInfo member, string name) =>
        member.GetCustomAttributesData().Single(a => a.AttributeType.Name == name);

    private static IDictionary<string, object?> Named(CustomAttributeData attribute) =>
        attribute.NamedArguments.ToDictionary(a => a.MemberName, a => a.TypedValue.Value);

    [Fact]
    public void Cmdlet_IsStartKeepaliveProcess_WithShouldProcessAndOutputType()
    {
        var cmdlet = Attribute(Cmdlet, "CmdletAttribute");
        Assert.Equal(new object?[] { "Start", "KeepaliveProcess" }, cmdlet.ConstructorArguments.Select(a => a.Value));
        Assert.Equal(true, Named(cmdlet)["SupportsShouldProcess"]);
        var output = Attribute(Cmdlet, "OutputTypeAttribute");
        Assert.Contains("System.Diagnostics.Process", output.ConstructorArguments.Single().ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ProgramAndArguments_ArePositional_WithRemainingArguments()
    {
        var filePath = Named(Attribute(Cmdlet.GetProperty("FilePath")!, "ParameterAttribute"));
        var arguments = Named(Attribute(Cmdlet.GetProperty("ArgumentList")!, "ParameterAttribute"));

        Assert.Equal(0, filePath["Position"]);
        Assert.Equal(true, filePath["Mandatory"]);
        Assert.Equal(1, arguments["Position"]);
        Assert.Equal(true, arguments["ValueFromRemainingArguments"]);
    }

    [Theory]
    [InlineData("Idle", KeepaliveLimits.MinIdle, KeepaliveLimits.MaxIdle)]
    [InlineData("Interval", KeepaliveLimits.MinInterval, KeepaliveLimits.MaxInterval)]
    [InlineData("Count", KeepaliveLimits.MinCount, KeepaliveLimits.MaxCount)]
    [InlineData("UserTimeout", KeepaliveLimits.MinUserTimeout, KeepaliveLimits.MaxUserTimeout)]
    public void NumericParameters_AreRangeChecked_WithTheKernelLimits(string parameter, int minimum, int maximum)
    {
        var range = Attribute(Cmdlet.GetProperty(parameter)!, "ValidateRangeAttribute");

        Assert.Equal(new object?[] { minimum, maximum }, range.ConstructorArguments.Select(a => a.Value));
    }

    [Fact]
    public void Switches_AndOtherParameters_Exist()
    {
        foreach (string name in new[] { "Mode", "Force", "Wait", "PassThru", "WorkingDirectory" })
        {
            Assert.NotNull(Cmdlet.GetProperty(name)?.GetCustomAttributesData().SingleOrDefault(a => a.AttributeType.Name == "ParameterAttribute"));
        }
    }
}
