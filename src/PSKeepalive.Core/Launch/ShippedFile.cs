using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.IO;
using System.Linq;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Launch;

/// <summary>
/// Finds the native files built from src/preload (the preload shim, the seccomp launcher), which ship next to
/// PSKeepalive.Core.dll in the module and CLI folders.
/// </summary>
internal static class ShippedFile
{
    /// <summary>
    /// Looks next to PSKeepalive.Core.dll, then in the application's base directory; throws
    /// <see cref="KeepaliveNotFoundException"/> naming where it looked and how to get the file.
    /// </summary>
    [UnconditionalSuppressMessage("SingleFile", "IL3000", Justification = "An empty Location (single-file app) falls back to AppContext.BaseDirectory.")]
    internal static string Locate(string fileName, string subject, string description, string buildHint)
    {
        var candidates = new List<string>();
        string? assemblyDirectory = Path.GetDirectoryName(typeof(ShippedFile).Assembly.Location);
        if (!string.IsNullOrEmpty(assemblyDirectory))
        {
            candidates.Add(Path.Combine(assemblyDirectory, fileName));
        }

        candidates.Add(Path.Combine(AppContext.BaseDirectory, fileName));
        foreach (string candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                return Path.GetFullPath(candidate);
            }
        }

        throw new KeepaliveNotFoundException(
            subject,
            $"The {description} {fileName} was not found (looked in {string.Join(", ", candidates.Distinct())}). " +
            $"It is built from src/preload by 'dotnet build' with a C compiler{buildHint}; rebuild or reinstall PSKeepalive.",
            fileName,
            Errno.ENOENT);
    }
}
