using System;
using System.IO;

namespace PSKeepalive.Tests.Support;

/// <summary>Makes a directory unwritable for the unprivileged runner (root ignores modes, hence <see cref="Unprivileged"/>).</summary>
public static class SysctlWriteProbe
{
    public static void MakeDirectoryReadOnlyFor(string directory) =>
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
}
