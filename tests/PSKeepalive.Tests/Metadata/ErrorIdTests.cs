using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using PSKeepalive.Core.Errors;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Metadata;

/// <summary>
/// Every error id the code can produce, read from the source: Core's subjects (the nouns passed to
/// Errno.ToException/Errno.Last, new Keepalive*Exception and the KeepaliveLimits checks) times every
/// <see cref="KeepaliveErrorKind"/>, plus the literal ids in Core and in the module. The ids are what scripts
/// match on (`Should -Throw -ErrorId`, `$err.FullyQualifiedErrorId`), so they must stay unique and readable.
/// </summary>
public sealed class ErrorIdTests
{
    private static readonly Regex PascalCase = new("^(?:[A-Z][a-z0-9]+)+$", RegexOptions.Compiled);

    /// <summary>Names that only pass a subject through (the helpers' own parameters and the Subject constants).</summary>
    private static readonly HashSet<string> PassThroughNames = ["subject", "Subject", "failure.Subject"];

    /// <summary>
    /// Every method and constructor of Core with a parameter named "subject", by the name a call uses
    /// ("ToException", "KeepaliveNotFoundException", "CheckIdle", "Locate"), with the subject's position and
    /// how many arguments the overload takes.
    /// </summary>
    private static readonly Lazy<ILookup<string, (int Index, int Required, int Total)>> SubjectTakers = new(() =>
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        return typeof(KeepaliveException).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(all).Cast<MethodBase>().Concat(t.GetConstructors(all)))
            .Select(m => (Method: m, Parameters: m.GetParameters()))
            .Where(m => m.Parameters.Any(p => p.Name == "subject"))
            .ToLookup(
                m => m.Method is ConstructorInfo c ? c.DeclaringType!.Name : m.Method.Name,
                m => (Array.FindIndex(m.Parameters, p => p.Name == "subject"), m.Parameters.Count(p => !p.IsOptional), m.Parameters.Length));
    });

    /// <summary>The arguments of the call whose "(" is at <paramref name="open"/>, split at top-level commas.</summary>
    private static List<string> ArgumentsAt(string code, int open)
    {
        var arguments = new List<string>();
        int depth = 0, start = open + 1;
        for (int i = open; i < code.Length; i++)
        {
            char c = code[i];
            if (c == '\'')
            {
                // A char literal: '"', '(' or '\'' must not count.
                i += code[i + 1] == '\\' ? 3 : 2;
                continue;
            }

            if (c == '"')
            {
                // Skip a string literal (interpolated or not); escaped quotes included.
                for (i++; i < code.Length && code[i] != '"'; i++)
                {
                    if (code[i] == '\\')
                    {
                        i++;
                    }
                }

                continue;
            }

            if (c is '(' or '[' or '{')
            {
                depth++;
            }
            else if (c is ')' or ']' or '}')
            {
                depth--;
                if (depth == 0)
                {
                    arguments.Add(code[start..i].Trim());
                    return arguments;
                }
            }
            else if (c == ',' && depth == 1)
            {
                arguments.Add(code[start..i].Trim());
                start = i + 1;
            }
        }

        return arguments;
    }

    private static readonly Lazy<HashSet<string>> ParameterNames = new(() =>
        CmdletMetadata.CmdletTypes.SelectMany(CmdletMetadata.Parameters).Select(p => p.Name).ToHashSet(StringComparer.Ordinal));

    private static IEnumerable<string> SourceFiles(params string[] project) =>
        Directory.GetFiles(Repository.PathOf(project), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    /// <summary>Comments removed, so that an example in a doc comment is not taken for code.</summary>
    private static string CodeOf(string file) => Regex.Replace(File.ReadAllText(file), @"^\s*//.*$", string.Empty, RegexOptions.Multiline);

    /// <summary>Every subject Core passes to an exception or a helper that builds one, with where it was found.</summary>
    internal static IReadOnlyDictionary<string, string> Subjects()
    {
        var subjects = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var names = string.Join("|", SubjectTakers.Value.Select(g => Regex.Escape(g.Key)));
        var call = new Regex($@"(?<![\w""])(?<name>{names})\s*\(");
        foreach (string file in SourceFiles("src", "PSKeepalive.Core"))
        {
            string code = CodeOf(file);
            foreach (Match constant in Regex.Matches(code, @"const\s+string\s+Subject\s*=\s*""(?<subject>[^""]*)"""))
            {
                subjects.TryAdd(constant.Groups["subject"].Value, Path.GetFileName(file));
            }

            foreach (Match match in call.Matches(code))
            {
                // Declarations ("string subject" among the parameters) are no calls.
                var arguments = ArgumentsAt(code, match.Index + match.Length - 1);
                if (arguments.Any(a => a.StartsWith("string ", StringComparison.Ordinal) || a.StartsWith("int ", StringComparison.Ordinal)))
                {
                    continue;
                }

                string where = $"{Path.GetFileName(file)}: {match.Groups["name"].Value}({string.Join(", ", arguments.Take(2))}...";
                foreach (var (index, required, total) in SubjectTakers.Value[match.Groups["name"].Value].Distinct())
                {
                    if (arguments.Count < required || arguments.Count > total || index >= arguments.Count)
                    {
                        continue;
                    }

                    string argument = arguments[index];
                    if (Regex.IsMatch(argument, @"^""\w+""$"))
                    {
                        subjects.TryAdd(argument.Trim('"'), where);
                    }
                    else
                    {
                        bool passThrough = PassThroughNames.Contains(argument) || argument.EndsWith(".Subject", StringComparison.Ordinal);
                        Assert.True(passThrough, $"{where}: the subject '{argument}' is neither a literal nor a Subject constant; the test cannot list its ids");
                    }
                }
            }
        }

        return subjects;
    }

    /// <summary>Ids written as literals: fallbacks in the module's error records and ids Core puts in results.</summary>
    internal static IReadOnlyDictionary<string, string> LiteralIds()
    {
        var ids = new SortedDictionary<string, string>(StringComparer.Ordinal);
        string suffixes = string.Join("|", Enum.GetNames<KeepaliveErrorKind>().Append("Failed"));
        var literal = new Regex($@"""(?<id>(?:[A-Z][a-z0-9]+)+(?:{suffixes}))""");
        foreach (string file in SourceFiles("src", "PSKeepalive.Core").Concat(SourceFiles("src", "PSKeepalive")).Concat(SourceFiles("src", "PSKeepalive.Cli")))
        {
            foreach (Match match in literal.Matches(CodeOf(file)))
            {
                string id = match.Groups["id"].Value;
                // A bare kind name ("PermissionDenied" in an EndsWith check) is a suffix, not an id; a parameter
                // name ("UserTimeout") in a validation message is no id either.
                if (!Enum.GetNames<KeepaliveErrorKind>().Contains(id) && !ParameterNames.Value.Contains(id))
                {
                    ids.TryAdd(id, Path.GetFileName(file));
                }
            }
        }

        return ids;
    }

    [Fact]
    public void TheSourceNamesTheKnownSubjects()
    {
        var subjects = Subjects();

        // The nouns CONTRIBUTING.md lists and those passed through helpers; the scan must find at least these, or it is broken.
        Assert.Superset(
            new SortedSet<string>(["Sysctl", "SysctlFile", "Socket", "NetworkNamespace", "Netlink", "Process", "Connection", "Program", "PreloadLibrary", "SeccompLauncher", "KeepaliveTest"], StringComparer.Ordinal),
            new SortedSet<string>(subjects.Keys, StringComparer.Ordinal));
    }

    [Fact]
    public void Subjects_ArePascalCaseNouns()
    {
        Assert.All(Subjects(), s => Assert.True(PascalCase.IsMatch(s.Key), $"subject '{s.Key}' ({s.Value}) is not PascalCase"));
    }

    [Fact]
    public void EverySubjectTimesEveryKind_GivesAUniqueId()
    {
        var produced = new Dictionary<string, string>(StringComparer.Ordinal);
        var collisions = new List<string>();
        foreach (string subject in Subjects().Keys)
        {
            foreach (KeepaliveErrorKind kind in Enum.GetValues<KeepaliveErrorKind>())
            {
                string id = subject + kind;
                Assert.Matches(PascalCase, id);
                if (produced.TryGetValue(id, out string? other))
                {
                    collisions.Add($"{id} is both {other} and {subject}+{kind}");
                }
                else
                {
                    produced[id] = $"{subject}+{kind}";
                }
            }
        }

        Assert.Empty(collisions);
    }

    [Fact]
    public void LiteralIds_ArePascalCaseAndDoNotShadowAnotherSubject()
    {
        var subjects = Subjects().Keys.ToHashSet(StringComparer.Ordinal);
        var literals = LiteralIds();
        Assert.Contains("SocketChangeFailed", literals.Keys);
        Assert.Contains("ConnectionCloseFailed", literals.Keys);

        foreach (var (id, file) in literals)
        {
            Assert.True(PascalCase.IsMatch(id), $"{id} ({file}) is not PascalCase");
            // An id ending in a kind must be made of a known subject and that kind: the same id as the exception's.
            string? kind = Enum.GetNames<KeepaliveErrorKind>().FirstOrDefault(k => id.EndsWith(k, StringComparison.Ordinal) && id.Length > k.Length);
            if (kind is not null)
            {
                string subject = id[..^kind.Length];
                Assert.True(subjects.Contains(subject), $"{id} ({file}) ends in {kind} but '{subject}' is no subject Core uses");
            }
            else
            {
                // "...Failed": the noun must be a subject, so that the id reads <Noun><Condition> like the others.
                Assert.True(subjects.Any(s => id.StartsWith(s, StringComparison.Ordinal)), $"{id} ({file}) does not start with a subject noun");
                Assert.DoesNotContain(id, subjects.SelectMany(s => Enum.GetNames<KeepaliveErrorKind>().Select(k => s + k)));
            }
        }
    }

    [Fact]
    public void ErrorIdForAKind_IsSubjectPlusKind()
    {
        var e = new KeepaliveNotFoundException("NetworkNamespace", "gone", "/run/netns/x", 2);
        var validation = new KeepaliveValidationException("Socket", "Idle", "bad", 0);

        Assert.Equal("NetworkNamespaceNotFound", e.ErrorId);
        Assert.Equal("SocketInvalidArgument", validation.ErrorId);
    }

    [Fact]
    public void AboutTopic_HasAnErrorIdsSectionNamingEverySubject()
    {
        string about = File.ReadAllText(Repository.PathOf("docs", "en-US", "about_PSKeepalive.help.md"));
        var section = Regex.Match(about, @"^#{2,3} ERROR IDS\s*$(?<body>.*?)(?=^#{1,3} [A-Z]|\z)", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.True(section.Success, "about_PSKeepalive.help.md needs an ERROR IDS section");
        string body = section.Groups["body"].Value;

        Assert.Empty(Subjects().Keys.Where(s => !Regex.IsMatch(body, $@"\b{s}\b")).Select(s => $"ERROR IDS does not name the subject {s}"));
        Assert.Empty(Enum.GetNames<KeepaliveErrorKind>().Where(k => !Regex.IsMatch(body, $@"\b{k}\b")).Select(k => $"ERROR IDS does not name the kind {k}"));
        Assert.Empty(LiteralIds().Keys.Where(id => !body.Contains(id, StringComparison.Ordinal) && !Subjects().Keys.Any(s => Enum.GetNames<KeepaliveErrorKind>().Any(k => s + k == id)))
            .Select(id => $"ERROR IDS does not name the literal id {id}"));
    }

    [Fact]
    public void ModuleErrors_AllGoThroughErrorRecords()
    {
        // ErrorRecords gives every record its id, category and target; a hand-made ErrorRecord would skip that.
        var problems = new List<string>();
        foreach (string file in SourceFiles("src", "PSKeepalive").Where(f => Path.GetFileName(f) != "ErrorRecords.cs"))
        {
            string code = CodeOf(file);
            problems.AddRange(Regex.Matches(code, @"new\s+ErrorRecord\s*\(").Select(_ => $"{Path.GetFileName(file)} builds an ErrorRecord by hand"));
            foreach (Match call in Regex.Matches(code, @"(?:WriteError|ThrowTerminatingError)\((?<arg>[^;]*)\);"))
            {
                if (!call.Groups["arg"].Value.TrimStart().StartsWith("ErrorRecords.", StringComparison.Ordinal))
                {
                    problems.Add($"{Path.GetFileName(file)}: {call.Value}");
                }
            }
        }

        Assert.Empty(problems);
    }

    [Theory]
    [InlineData("SysctlPermissionDenied", System.Management.Automation.ErrorCategory.PermissionDenied)]
    [InlineData("ProcessNotFound", System.Management.Automation.ErrorCategory.ObjectNotFound)]
    [InlineData("ConnectionNotSupported", System.Management.Automation.ErrorCategory.NotImplemented)]
    [InlineData("SocketInvalidTarget", System.Management.Automation.ErrorCategory.InvalidType)]
    [InlineData("SysctlFileReadOnly", System.Management.Automation.ErrorCategory.WriteError)]
    [InlineData("SocketVerificationFailed", System.Management.Automation.ErrorCategory.NotSpecified)]
    [InlineData("Timeout", System.Management.Automation.ErrorCategory.NotSpecified)]
    public void ResultErrorIds_GetTheCategoryOfTheirKind(string id, System.Management.Automation.ErrorCategory expected)
    {
        Assert.Equal(expected, PSKeepalive.ErrorRecords.CategoryOfId(id));
    }

    [Fact]
    public void EveryKind_HasACategory()
    {
        Assert.All(Enum.GetValues<KeepaliveErrorKind>(), k => Assert.True(Enum.IsDefined(PSKeepalive.ErrorRecords.CategoryOf(k))));
    }
}
