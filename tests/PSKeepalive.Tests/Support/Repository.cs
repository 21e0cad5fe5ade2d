using System;
using System.IO;

namespace PSKeepalive.Tests.Support;

/// <summary>Paths in the source tree, found by walking up from the test binaries to the solution file.</summary>
public static class Repository
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "PSKeepalive.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException("PSKeepalive.sln not found above " + AppContext.BaseDirectory);
    });

    public static string Root => RootPath.Value;

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);
}
