using System.Linq;
using System.Xml.Linq;
using PSKeepalive.HelpCompiler;
using Xunit;

namespace PSKeepalive.Tests.Help;

/// <summary>
/// tools/HelpCompiler on small pages: the MAML shape platyPS gives (one syntax per parameter set, switches without
/// a value in the syntax, padded example titles) and a clear build error, with file and line, for a page
/// New-ExternalHelp would reject. That Get-Help shows the real pages is tested in PSKeepalive.Help.Tests.ps1.
/// </summary>
public sealed class HelpCompilerTests
{
    private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";

    private const string Page = """
        ---
        external help file: Demo.dll-Help.xml
        Module Name: Demo
        online version:
        schema: 2.0.0
        ---

        # Get-Demo

        ## SYNOPSIS
        Gets a demo.

        ## SYNTAX

        ### ById
        ```
        Get-Demo -Id <Int32> [-Force]
        ```

        ### ByName
        ```
        Get-Demo [-Name] <String> [-Force]
        ```

        ## DESCRIPTION
        First line of the description
        continues here.

        - an item
        - another

        ## EXAMPLES

        ### Example 1: By id
        ```powershell
        PS> Get-Demo -Id 3
        ```

        Gets demo 3.

        ## PARAMETERS

        ### -Id
        The id, 1 to 10.

        ```yaml
        Type: Int32
        Parameter Sets: ById
        Aliases:

        Required: True
        Position: Named
        Default value: None
        Accept pipeline input: True (ByPropertyName)
        Accept wildcard characters: False
        ```

        ### -Name
        The name.

        ```yaml
        Type: String
        Parameter Sets: ByName
        Aliases: n

        Required: True
        Position: 0
        Default value: None
        Accept pipeline input: False
        Accept wildcard characters: False
        ```

        ### -Force
        Forces it.

        ```yaml
        Type: SwitchParameter
        Parameter Sets: (All)
        Aliases:

        Required: False
        Position: Named
        Default value: None
        Accept pipeline input: False
        Accept wildcard characters: False
        ```

        ### CommonParameters
        This cmdlet supports the common parameters.

        ## INPUTS

        ### System.Int32
        An id.

        ## OUTPUTS

        ### Demo.Item
        The demo.

        ## NOTES

        ## RELATED LINKS
        [about_Demo](about_Demo.help.md)

        [Online](https://example.org/demo)
        """;

    private static XElement Compile(string page) =>
        MamlWriter.Write([CommandHelp.Read(MarkdownPage.Parse("Get-Demo.md", page))]).Root!.Element(Command + "command")!;

    [Fact]
    public void EachParameterSet_GetsASyntaxItem_WithTheParametersOfAllSets()
    {
        var items = Compile(Page).Element(Command + "syntax")!.Elements(Command + "syntaxItem").ToList();

        Assert.Equal(2, items.Count);
        Assert.Equal(["Id", "Force"], items[0].Elements(Command + "parameter").Select(p => p.Element(Maml + "name")!.Value));
        Assert.Equal(["Name", "Force"], items[1].Elements(Command + "parameter").Select(p => p.Element(Maml + "name")!.Value));
        var force = items[0].Elements(Command + "parameter").Last();
        Assert.Null(force.Element(Command + "parameterValue")); // "[-Force]", not "[-Force <SwitchParameter>]"
        Assert.Equal("False", force.Element(XNamespace.Get("http://schemas.microsoft.com/maml/dev/2004/10") + "defaultValue")!.Value);
    }

    [Fact]
    public void ASyntaxHeadingWhoseSetHasNoParameterOfItsOwn_StillGetsItsSyntaxItem()
    {
        // Get-TcpKeepalivePolicy lists every policy when neither -Cgroup nor -ProcessId is given: set All has no parameter.
        string page = Page.Replace("## SYNTAX\n", "## SYNTAX\n\n### Everything\n```\nGet-Demo [-Force] [<CommonParameters>]\n```\n", System.StringComparison.Ordinal);

        var items = Compile(page).Element(Command + "syntax")!.Elements(Command + "syntaxItem").ToList();

        Assert.Equal(3, items.Count);
        Assert.Equal(["Force"], items[0].Elements(Command + "parameter").Select(p => p.Element(Maml + "name")!.Value));
    }

    [Fact]
    public void Parameters_CarryTheirYaml_AndText_AsMarkdownParagraphs()
    {
        var command = Compile(Page);
        var name = command.Element(Command + "parameters")!.Elements(Command + "parameter").Single(p => p.Element(Maml + "name")!.Value == "Name");

        Assert.Equal("true", name.Attribute("required")!.Value);
        Assert.Equal("0", name.Attribute("position")!.Value);
        Assert.Equal("n", name.Attribute("aliases")!.Value);
        var description = command.Element(Maml + "description")!.Elements(Maml + "para").Select(p => p.Value).ToList();
        Assert.Equal(["First line of the description continues here.", "- an item\n- another"], description);
    }

    [Fact]
    public void Examples_AndLinks_AreWrittenAsPlatyPsWritesThem()
    {
        var command = Compile(Page);
        var example = command.Element(Command + "examples")!.Element(Command + "example")!;
        var links = command.Element(Command + "relatedLinks")!.Elements(Maml + "navigationLink").ToList();

        Assert.Equal(new string('-', 23) + " Example 1: By id " + new string('-', 23), example.Element(Maml + "title")!.Value);
        Assert.Equal("PS> Get-Demo -Id 3", example.Element(XNamespace.Get("http://schemas.microsoft.com/maml/dev/2004/10") + "code")!.Value);
        Assert.Equal(string.Empty, links[0].Element(Maml + "uri")!.Value); // relative links have no address in MAML
        Assert.Equal("https://example.org/demo", links[1].Element(Maml + "uri")!.Value);
    }

    [Theory]
    [InlineData("```yaml\nType: Int32", "```\nType: Int32", "-Id has no ```yaml block")]
    [InlineData("## NOTES\n", "## REMARKS\n", "'## REMARKS' is not a section")]
    [InlineData("```powershell\nPS> Get-Demo -Id 3\n```", "PS> Get-Demo -Id 3", "'Example 1: By id' has no code block")]
    public void APageNewExternalHelpWouldReject_FailsTheBuild_NamingFileAndLine(string from, string to, string message)
    {
        var error = Assert.Throws<HelpFormatException>(() => Compile(Page.Replace(from, to, System.StringComparison.Ordinal)));

        Assert.Contains(message, error.Message, System.StringComparison.Ordinal);
        Assert.Matches(@"^Get-Demo\.md\(\d+\): error PSKHELP1: ", error.ToString());
    }

    [Fact]
    public void AboutTopic_IsWrappedAt80Columns_WithCodeKept()
    {
        string text = AboutTopicWriter.Write(MarkdownPage.Parse("about_Demo.help.md", "# about_Demo\n\n## SHORT DESCRIPTION\n" +
            string.Join(' ', Enumerable.Repeat("word", 40)) + "\n\n```\nGet-Demo -Id 3 | Format-List\n```\n"));

        var lines = text.Split('\n');
        Assert.Equal(["TOPIC", "    about_Demo", "", "SHORT DESCRIPTION"], lines[..4]);
        Assert.All(lines, l => Assert.True(l.Length <= 80, l));
        Assert.Contains("        Get-Demo -Id 3 | Format-List", lines);
    }
}
