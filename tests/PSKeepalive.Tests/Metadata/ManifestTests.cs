using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Metadata;

/// <summary>
/// What the PowerShell Gallery and Get-Help read from the module folder: PSData, the release notes, the
/// licence and the about topic. (Exports, edition and version: <see cref="CmdletMetadataTests"/>.)
/// </summary>
public sealed class ManifestTests
{
    private static string Manifest => File.ReadAllText(Repository.PathOf("PSKeepalive.psd1"));

    /// <summary>The module as the build stages it (bin/*/net8.0 of src/PSKeepalive, newest).</summary>
    private static string ModuleBin => Directory.GetDirectories(Repository.PathOf("src", "PSKeepalive", "bin"), "net8.0", SearchOption.AllDirectories)
        .OrderByDescending(Directory.GetLastWriteTimeUtc).First();

    private static string Normalized(string text) => Regex.Replace(text, @"\s+", " ").Trim();

    [Fact]
    public void PSData_HasTheGalleryFields()
    {
        var psData = Regex.Match(Manifest, @"PSData\s*=\s*@\{(?<body>.*)\}\s*\}\s*\}\s*$", RegexOptions.Singleline);
        Assert.True(psData.Success, "PrivateData.PSData is missing");
        string body = psData.Groups["body"].Value;

        var tags = Regex.Matches(Regex.Match(body, @"Tags\s*=\s*@\((?<list>[^)]*)\)").Groups["list"].Value, "'([^']+)'").Select(m => m.Groups[1].Value).ToList();
        Assert.Contains("Linux", tags);
        Assert.Contains("PSEdition_Core", tags);
        Assert.All(tags, t => Assert.DoesNotContain(" ", t)); // the Gallery splits tags at spaces
        Assert.Matches(@"LicenseUri\s*=\s*'https://[^']+/LICENSE'", body);
        Assert.Matches(@"ProjectUri\s*=\s*'https://[^']+'", body);
    }

    [Fact]
    public void ReleaseNotes_AreTheNewestChangelogEntry()
    {
        string changelog = File.ReadAllText(Repository.PathOf("CHANGELOG.md"));
        var newest = Regex.Match(changelog, @"^## (?<version>\S+) - \S+\s*$(?<body>.*?)(?=^## |\z)", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.True(newest.Success, "CHANGELOG.md has no '## <version> - <date>' entry");
        var notes = Regex.Match(Manifest, @"ReleaseNotes\s*=\s*@'\r?\n(?<text>.*?)\r?\n'@", RegexOptions.Singleline);
        Assert.True(notes.Success, "ReleaseNotes must be a single-quoted here-string (@' ... '@) holding the newest CHANGELOG entry");

        string buildVersion = XDocument.Load(Repository.PathOf("Directory.Build.props")).Descendants("Version").Single().Value;
        Assert.Equal(buildVersion, newest.Groups["version"].Value);
        Assert.Equal(Normalized(newest.Value), Normalized(notes.Groups["text"].Value));
    }

    [Fact]
    public void License_IsMitAndShipsWithTheModule()
    {
        string license = File.ReadAllText(Repository.PathOf("LICENSE"));

        Assert.StartsWith("MIT License", license);
        Assert.Contains("MIT License", Manifest);
        Assert.True(File.Exists(Path.Combine(ModuleBin, "LICENSE")), $"LICENSE is not staged in {ModuleBin}");
    }

    [Fact]
    public void CompiledHelp_ShipsInEnUs()
    {
        // What Get-Help shows is tested in tests/PSKeepalive.Help.Tests.ps1; here only that the build stages it.
        foreach (string file in new[] { "PSKeepalive.dll-Help.xml", "about_PSKeepalive.help.txt" })
        {
            string staged = Path.Combine(ModuleBin, "en-US", file);
            Assert.True(File.Exists(staged), $"{staged} is missing: the build compiles docs/en-US into it (src/PSKeepalive/Help.targets)");
        }
    }

    [Fact]
    public void Manifest_ProcessesTheFormatFileThatShips()
    {
        Assert.Matches(@"FormatsToProcess\s*=\s*@\('PSKeepalive.Format.ps1xml'\)", Manifest);
        Assert.True(File.Exists(Path.Combine(ModuleBin, "PSKeepalive.Format.ps1xml")));
    }

    [Fact]
    public void Manifest_ProcessesTheTypesFileThatShips_AfterLoadingTheAssemblyItNames()
    {
        Assert.Matches(@"TypesToProcess\s*=\s*@\('PSKeepalive.Types.ps1xml'\)", Manifest);
        Assert.Matches(@"RequiredAssemblies\s*=\s*@\('PSKeepalive.Core.dll'\)", Manifest);
        Assert.True(File.Exists(Path.Combine(ModuleBin, "PSKeepalive.Types.ps1xml")));
    }
}
