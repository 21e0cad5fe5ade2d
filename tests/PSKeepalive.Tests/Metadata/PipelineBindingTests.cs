using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using PSKeepalive.Commands;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Settings;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Metadata;

/// <summary>
/// Objects flow between cmdlets by property name (Get-TcpConnection | Enable-TcpKeepalive, Get-Process |
/// Enable-TcpKeepalive, Get-TcpKeepaliveSetting | Set-TcpKeepaliveSetting). For each pairing, read through
/// CustomAttributeData: which parameters of the receiver bind from which properties of the sender, with
/// types PowerShell converts without loss, and every mandatory parameter of the set satisfied.
/// </summary>
public sealed class PipelineBindingTests
{
    /// <summary>A parameter as PowerShell binds it: its name, aliases and [Parameter] attributes (one per set).</summary>
    private sealed record BindableParameter(PropertyInfo Property, IReadOnlyList<string> Names, IReadOnlyList<CustomAttributeData> ParameterAttributes)
    {
        public bool InSet(string? set) => ParameterAttributes.Any(a => CmdletMetadata.Named(a, "ParameterSetName") is not string name || name == "__AllParameterSets" || set is null || name == set);

        private IEnumerable<CustomAttributeData> For(string? set) => ParameterAttributes.Where(a =>
            CmdletMetadata.Named(a, "ParameterSetName") is not string name || name == "__AllParameterSets" || set is null || name == set);

        public bool ByPropertyName(string? set) => For(set).Any(a => CmdletMetadata.Named(a, "ValueFromPipelineByPropertyName") is true);

        public bool Mandatory(string? set) => For(set).Any(a => CmdletMetadata.Named(a, "Mandatory") is true);
    }

    private static IReadOnlyList<BindableParameter> ParametersOf(Type cmdlet) =>
        CmdletMetadata.Parameters(cmdlet).Select(p =>
        {
            var aliases = CmdletMetadata.Attributes(p, "AliasAttribute")
                .SelectMany(a => a.ConstructorArguments)
                .SelectMany(arg => arg.Value is IEnumerable<CustomAttributeTypedArgument> many ? many.Select(m => (string)m.Value!) : [(string)arg.Value!]);
            return new BindableParameter(p, [p.Name, .. aliases], CmdletMetadata.Attributes(p, "ParameterAttribute").ToList());
        }).ToList();

    /// <summary>sender type, receiving cmdlet, parameter set (null: the cmdlet has one), the parameters that must bind.</summary>
    public static TheoryData<Type, Type, string?, string[]> Pairings() => new()
    {
        { typeof(TcpConnection), typeof(EnableTcpKeepaliveCommand), "Connection", ["Inode", "Processes", "LocalAddress", "LocalPort", "RemoteAddress", "RemotePort", "NetworkNamespace"] },
        { typeof(TcpConnection), typeof(DisableTcpKeepaliveCommand), "Connection", ["Inode", "Processes", "LocalAddress", "LocalPort", "RemoteAddress", "RemotePort", "NetworkNamespace"] },
        { typeof(TcpConnection), typeof(CloseTcpConnectionCommand), null, ["LocalAddress", "LocalPort", "RemoteAddress", "RemotePort", "Cookie", "InterfaceIndex", "State", "Inode", "NetworkNamespace"] },
        { typeof(System.Diagnostics.Process), typeof(EnableTcpKeepaliveCommand), "Process", ["ProcessId"] },
        { typeof(System.Diagnostics.Process), typeof(DisableTcpKeepaliveCommand), "Process", ["ProcessId"] },
        { typeof(System.Diagnostics.Process), typeof(GetTcpConnectionCommand), null, ["OwningProcess"] },
        { typeof(TcpKeepaliveSetting), typeof(SetTcpKeepaliveSettingCommand), null, ["Time", "Interval", "Probes"] },
        { typeof(System.Net.Sockets.TcpClient), typeof(GetSocketKeepaliveCommand), null, ["Socket"] },
        { typeof(System.Net.Sockets.TcpListener), typeof(SetSocketKeepaliveCommand), null, ["Socket"] },
        { typeof(System.Diagnostics.Process), typeof(SetTcpKeepalivePolicyCommand), "Process", ["ProcessId"] },
        { typeof(System.Diagnostics.Process), typeof(GetTcpKeepalivePolicyCommand), "Process", ["ProcessId"] },
        { typeof(System.Diagnostics.Process), typeof(RemoveTcpKeepalivePolicyCommand), "Process", ["ProcessId"] },
        { typeof(PSKeepalive.Core.Policy.TcpKeepalivePolicy), typeof(RemoveTcpKeepalivePolicyCommand), "Cgroup", ["Cgroup"] },
        { typeof(PSKeepalive.Core.Policy.TcpKeepalivePolicy), typeof(GetTcpKeepalivePolicyCommand), "Cgroup", ["Cgroup"] },
        { typeof(PSKeepalive.Core.Policy.TcpKeepalivePolicy), typeof(SetTcpKeepalivePolicyCommand), "Cgroup", ["Cgroup"] },
    };

    [Theory]
    [MemberData(nameof(Pairings))]
    public void Receiver_BindsTheSendersPropertiesByName(Type sender, Type cmdlet, string? set, string[] expected)
    {
        var properties = sender.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0)
            .GroupBy(p => p.Name, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.OrdinalIgnoreCase);
        var parameters = ParametersOf(cmdlet).Where(p => p.InSet(set)).ToList();

        var bound = new Dictionary<string, PropertyInfo>(StringComparer.Ordinal);
        foreach (BindableParameter parameter in parameters.Where(p => p.ByPropertyName(set)))
        {
            // PowerShell matches the parameter name or any alias, case-insensitively.
            if (parameter.Names.Select(n => properties.GetValueOrDefault(n)).FirstOrDefault(p => p is not null) is { } source)
            {
                bound[parameter.Property.Name] = source;
            }
        }

        Assert.Equal(expected.OrderBy(n => n, StringComparer.Ordinal), bound.Keys.OrderBy(n => n, StringComparer.Ordinal));
        foreach (var (name, source) in bound)
        {
            Type target = parameters.Single(p => p.Property.Name == name).Property.PropertyType;
            Assert.True(
                Converts(source.PropertyType, target),
                $"{sender.Name}.{source.Name} ({source.PropertyType.Name}) does not convert to {CmdletMetadata.Name(cmdlet)} -{name} ({target.Name})");
        }

        var unmet = parameters.Where(p => p.Mandatory(set) && !bound.ContainsKey(p.Property.Name)).Select(p => p.Property.Name).ToList();
        Assert.Empty(unmet.Select(n => $"{CmdletMetadata.Name(cmdlet)} -{n} is mandatory in set {set ?? "(default)"} but {sender.Name} does not supply it"));
    }

    [Fact]
    public void PipedConnections_DoNotBindTheTimingBack()
    {
        // Get-TcpConnection -IncludeSocketOption | Enable-TcpKeepalive -Idle 60 must not take Interval/Count/UserTimeout
        // from the connection's current values: only the values the user typed are applied.
        foreach (Type cmdlet in new[] { typeof(EnableTcpKeepaliveCommand), typeof(DisableTcpKeepaliveCommand) })
        {
            var timing = ParametersOf(cmdlet).Where(p => p.Property.Name is "Idle" or "Interval" or "Count" or "UserTimeout");
            Assert.DoesNotContain(timing, p => p.ByPropertyName(null));
        }
    }

    [Fact]
    public void SetTcpKeepaliveSetting_DoesNotBindTheNamespaceName()
    {
        // TcpKeepaliveSetting.NetworkNamespace is a name ("net:[4026531840]"), not a path -NetworkNamespace accepts.
        var parameter = ParametersOf(typeof(SetTcpKeepaliveSettingCommand)).Single(p => p.Property.Name == "NetworkNamespace");

        Assert.False(parameter.ByPropertyName(null));
    }

    [Fact]
    public void TheConversionRuleRejectsLossyPairs()
    {
        Assert.True(Converts(typeof(int), typeof(long)));
        Assert.True(Converts(typeof(TcpState), typeof(string)));
        Assert.True(Converts(typeof(ulong), typeof(ulong?)));
        Assert.True(Converts(typeof(IReadOnlyList<TcpConnectionProcess>), typeof(System.Management.Automation.PSObject[])));
        Assert.False(Converts(typeof(long), typeof(int)));
        Assert.False(Converts(typeof(string), typeof(int)));
        Assert.False(Converts(typeof(int?), typeof(int)));
    }

    /// <summary>Conversions PowerShell's binder makes without loss or a run-time failure for any value of the source type.</summary>
    private static bool Converts(Type source, Type target)
    {
        Type? targetInner = Nullable.GetUnderlyingType(target);
        if (Nullable.GetUnderlyingType(source) is not null && targetInner is null && target.IsValueType)
        {
            return false; // a null would not bind to a non-nullable value parameter
        }

        source = Nullable.GetUnderlyingType(source) ?? source;
        target = targetInner ?? target;
        if (target.IsAssignableFrom(source) || target == typeof(string))
        {
            return true;
        }

        if (target.IsArray && source != typeof(string) && typeof(IEnumerable).IsAssignableFrom(source))
        {
            Type element = target.GetElementType()!;
            return element == typeof(object) || element == typeof(System.Management.Automation.PSObject);
        }

        var widening = new Dictionary<Type, Type[]>
        {
            [typeof(byte)] = [typeof(short), typeof(ushort), typeof(int), typeof(uint), typeof(long), typeof(ulong)],
            [typeof(ushort)] = [typeof(int), typeof(uint), typeof(long), typeof(ulong)],
            [typeof(short)] = [typeof(int), typeof(long)],
            [typeof(int)] = [typeof(long)],
            [typeof(uint)] = [typeof(long), typeof(ulong)],
        };
        return widening.TryGetValue(source, out Type[]? wider) && wider.Contains(target);
    }
}
