using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Metadata;

/// <summary>
/// PSKeepalive.Format.ps1xml, read as XML: every output type of every cmdlet has a table view that fits a
/// 120-column terminal, and every property a view names exists on its type (a renamed property would
/// otherwise show as an empty column, silently).
/// </summary>
public sealed class FormatViewTests
{
    private const int TerminalWidth = 120;

    /// <summary>The least room a column without a width should get (the last one takes the rest of the line).</summary>
    private const int MinimumFreeColumn = 10;

    private static readonly XDocument Format = XDocument.Load(Repository.PathOf("PSKeepalive.Format.ps1xml"));

    public static TheoryData<string> OutputTypes()
    {
        var data = new TheoryData<string>();
        foreach (Type type in CmdletMetadata.CmdletTypes.SelectMany(HelpCoverageTests.OutputTypes).Distinct()
                     .Where(t => t.Namespace?.StartsWith("PSKeepalive", StringComparison.Ordinal) == true)
                     .OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            data.Add(type.AssemblyQualifiedName!);
        }

        return data;
    }

    private static IEnumerable<XElement> ViewsOf(Type type) =>
        Format.Descendants("View").Where(v => v.Element("ViewSelectedBy")!.Elements("TypeName").Any(t => t.Value == type.FullName));

    [Fact]
    public void TheCmdletsHaveOutputTypesToFormat()
    {
        Assert.True(OutputTypes().Count >= 6, "the scan of [OutputType] found too few PSKeepalive types");
    }

    [Theory]
    [MemberData(nameof(OutputTypes))]
    public void OutputType_HasATableViewThatFits120Columns(string typeName)
    {
        Type type = Type.GetType(typeName, throwOnError: true)!;
        var tables = ViewsOf(type).Select(v => v.Element("TableControl")).OfType<XElement>().ToList();
        Assert.True(tables.Count > 0, $"{type.Name} has no table view in PSKeepalive.Format.ps1xml");

        foreach (XElement table in tables)
        {
            var headers = table.Element("TableHeaders")!.Elements("TableColumnHeader").ToList();
            var items = table.Descendants("TableColumnItems").Single().Elements("TableColumnItem").ToList();
            Assert.Equal(headers.Count, items.Count);

            var widths = headers.Select(h => h.Element("Width") is { } w ? int.Parse(w.Value, System.Globalization.CultureInfo.InvariantCulture) : (int?)null).ToList();
            Assert.True(widths.Take(widths.Count - 1).All(w => w is not null), $"{type.Name}: only the last table column may go without a width");
            int used = widths.Sum(w => w ?? MinimumFreeColumn) + (headers.Count - 1);
            Assert.True(used <= TerminalWidth, $"{type.Name}'s table needs {used} columns; a terminal has {TerminalWidth}");

            foreach (var (header, width) in headers.Zip(widths))
            {
                string label = header.Element("Label")?.Value ?? string.Empty;
                Assert.True(width is null || label.Length <= width, $"{type.Name}: the header '{label}' is wider than its column ({width})");
            }
        }
    }

    [Theory]
    [InlineData("PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult")]
    [InlineData("PSKeepalive.Core.Retrofit.KeepaliveChangeResult")]
    [InlineData("PSKeepalive.Core.Retrofit.TcpConnectionCloseResult")]
    public void WideResults_HaveAListViewWithEveryDetail(string typeName)
    {
        Type type = typeof(PSKeepalive.Core.KeepaliveLimits).Assembly.GetType(typeName, throwOnError: true)!;
        XElement? list = ViewsOf(type).Select(v => v.Element("ListControl")).OfType<XElement>().SingleOrDefault();
        Assert.True(list is not null, $"{type.Name} has no list view");

        string shown = string.Join(" ", list!.Descendants("ListItem").Select(i => (i.Element("PropertyName") ?? i.Element("ScriptBlock"))!.Value));
        var missing = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.Name)
            .Where(name => !Regex.IsMatch(shown, $@"\b{name}\b"))
            .ToList();

        Assert.Empty(missing.Select(name => $"{type.Name}'s list view does not show {name}"));
    }

    [Fact]
    public void EveryPropertyAViewNames_Exists()
    {
        var assembly = typeof(PSKeepalive.Core.KeepaliveLimits).Assembly;
        var problems = new List<string>();
        foreach (XElement view in Format.Descendants("View"))
        {
            foreach (string typeName in view.Element("ViewSelectedBy")!.Elements("TypeName").Select(t => t.Value))
            {
                Type? type = assembly.GetType(typeName);
                if (type is null)
                {
                    problems.Add($"{view.Element("Name")!.Value} selects {typeName}, which does not exist");
                    continue;
                }

                var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
                IEnumerable<string> named = view.Descendants("PropertyName").Select(p => p.Value)
                    .Concat(view.Descendants("ScriptBlock").SelectMany(s => Regex.Matches(s.Value, @"\$_\.(\w+)").Select(m => m.Groups[1].Value)));
                problems.AddRange(named.Where(n => !properties.Contains(n)).Distinct().Select(n => $"{view.Element("Name")!.Value}: {type.Name} has no property {n}"));
            }
        }

        Assert.Empty(problems);
    }
}
