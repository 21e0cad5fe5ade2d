using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Win32.SafeHandles;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Launch;

/// <summary>
/// Finds the file a program name refers to and reads enough of it to know whether LD_PRELOAD can reach it:
/// an ELF with a dynamic loader (PT_INTERP) and no set-user-ID/set-group-ID bit. #! scripts are followed to
/// their interpreter, also through <c>/usr/bin/env NAME</c>.
/// </summary>
public static class ProgramInspector
{
    private const string Subject = "Program";

    /// <summary>binfmt_script follows at most this many nested interpreters.</summary>
    private const int MaxInterpreterDepth = 4;

    /// <summary>The kernel reads at most this much of a #! line (BINPRM_BUF_SIZE).</summary>
    private const int ShebangLength = 256;

    private const uint PtInterp = 3;
    private const ushort EtExec = 2;
    private const ushort EtDyn = 3;

    /// <summary>
    /// Resolves <paramref name="program"/> as execvp does: a name containing '/' is a path (relative to
    /// <paramref name="baseDirectory"/>, default the current directory); a bare name is looked up in
    /// <paramref name="searchPath"/> (default $PATH), taking the first executable regular file.
    /// Returns null when nothing matches.
    /// </summary>
    public static string? Resolve(string program, string? baseDirectory = null, string? searchPath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        string cwd = baseDirectory ?? Environment.CurrentDirectory;
        if (program.Contains('/', StringComparison.Ordinal))
        {
            string full = System.IO.Path.GetFullPath(program, cwd);
            return File.Exists(full) ? full : null;
        }

        searchPath ??= Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        foreach (string directory in searchPath.Split(':'))
        {
            // An empty PATH entry means the current directory.
            string candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(directory.Length == 0 ? cwd : directory, program), cwd);
            if (File.Exists(candidate) && IsExecutable(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>
    /// Resolves and inspects <paramref name="program"/>. Throws <see cref="KeepaliveNotFoundException"/> when it
    /// does not resolve to a file; every other finding is reported in the result.
    /// </summary>
    public static ProgramInspection Inspect(string program, string? baseDirectory = null, string? searchPath = null)
    {
        if (program.Contains('/', StringComparison.Ordinal) && Directory.Exists(System.IO.Path.GetFullPath(program, baseDirectory ?? Environment.CurrentDirectory)))
        {
            throw new KeepaliveInvalidTargetException(Subject, $"'{program}' is a directory, not a program.", program, Errno.EISDIR);
        }

        if (program.Contains('/', StringComparison.Ordinal) && LeadsNowhere(System.IO.Path.GetFullPath(program, baseDirectory ?? Environment.CurrentDirectory)))
        {
            // File.Exists is true for the link itself, and the execute-bit check would then blame chmod.
            throw new KeepaliveNotFoundException(
                Subject,
                $"Cannot find program '{program}': it is a symbolic link to a file that does not exist (or a loop of links).",
                program,
                Errno.ENOENT);
        }

        string path = Resolve(program, baseDirectory, searchPath)
            ?? throw new KeepaliveNotFoundException(
                Subject,
                program.Contains('/', StringComparison.Ordinal)
                    ? $"Cannot find program '{program}': no such file."
                    : $"Cannot find program '{program}' in PATH.",
                program,
                Errno.ENOENT);

        string current = path;
        var chain = new List<string>();
        for (int depth = 0; ; depth++)
        {
            byte[] head;
            try
            {
                head = ReadAt(current, 0, ShebangLength);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Refused(program, path, current, chain, PreloadBlocker.Unreadable,
                    $"'{current}' cannot be read to check whether it can be preloaded ({e.Message}).");
            }

            if (head.Length >= 2 && head[0] == '#' && head[1] == '!')
            {
                if (depth >= MaxInterpreterDepth)
                {
                    return Refused(program, path, current, chain, PreloadBlocker.InterpreterLoop,
                        $"'{path}' nests #! interpreters deeper than the kernel follows ({MaxInterpreterDepth}).");
                }

                string? next = NextInterpreter(head, baseDirectory, searchPath, chain);
                if (next is null)
                {
                    return Refused(program, path, current, chain, PreloadBlocker.NotExecutableFormat,
                        $"The #! line of '{current}' names no interpreter that exists.");
                }

                current = next;
                continue;
            }

            return InspectElf(program, path, current, chain, head);
        }
    }

    private static ProgramInspection InspectElf(string program, string path, string executable, List<string> chain, byte[] head)
    {
        ProgramInspection found = InspectElfFile(program, path, executable, chain, head);
        return found.Blocker is PreloadBlocker.NotExecutableFormat or PreloadBlocker.Unreadable ? found : found with { Architecture = ElfAbi.Name(head) };
    }

    private static ProgramInspection InspectElfFile(string program, string path, string executable, List<string> chain, byte[] head)
    {
        string? loader;
        try
        {
            if (!TryReadInterp(executable, head, out loader))
            {
                return Refused(program, path, executable, chain, PreloadBlocker.NotExecutableFormat,
                    chain.Count == 0
                        ? $"'{path}' is neither an ELF executable nor a #! script."
                        : $"The interpreter '{executable}' of '{path}' is not an ELF executable.");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Refused(program, path, executable, chain, PreloadBlocker.Unreadable,
                $"'{executable}' cannot be read to check whether it can be preloaded ({e.Message}).");
        }

        bool isSetId = IsSetId(executable);
        string? interpreter = chain.Count == 0 ? null : string.Join(" -> ", chain);
        string runs = chain.Count == 0 ? $"'{path}'" : $"The interpreter '{executable}' of '{path}'";
        ElfAbiKind abi = ElfAbi.Classify(head);
        if (abi == ElfAbiKind.ForeignMachine)
        {
            return new ProgramInspection(program, path, executable, interpreter, loader, chain.Count > 0, IsStatic: loader is null, isSetId,
                PreloadBlocker.ForeignMachine,
                $"{runs} is built for {ElfAbi.Name(head)}, not for {ElfAbi.NativeName}: it can run here only under an emulator " +
                "(binfmt_misc), whose sockets neither the preload shim nor the seccomp filter is known to reach.");
        }

        if (loader is null)
        {
            return new ProgramInspection(program, path, executable, interpreter, null, chain.Count > 0, IsStatic: true, isSetId,
                PreloadBlocker.StaticallyLinked,
                $"{runs} is statically linked (no ELF interpreter), so LD_PRELOAD has no effect on it. " +
                "Set keepalive another way (the program's own options, or its sockets' options from outside).");
        }

        if (abi == ElfAbiKind.Compat)
        {
            return new ProgramInspection(program, path, executable, interpreter, loader, chain.Count > 0, IsStatic: false, isSetId,
                PreloadBlocker.ForeignAbi,
                $"{runs} is a 32-bit {ElfAbi.Name(head)} program: the dynamic loader skips the {ElfAbi.NativeName} preload shim " +
                "(wrong ELF class), so LD_PRELOAD has no effect on it.");
        }

        if (!isSetId && HasFileCapabilities(executable))
        {
            return new ProgramInspection(program, path, executable, interpreter, loader, chain.Count > 0, IsStatic: false, IsSetId: true,
                PreloadBlocker.SetId,
                $"{runs} has file capabilities (security.capability, see getcap): when they raise its privileges, the dynamic loader is in secure mode and ignores LD_PRELOAD.")
            {
                HasFileCapabilities = true,
            };
        }

        if (isSetId)
        {
            return new ProgramInspection(program, path, executable, interpreter, loader, chain.Count > 0, IsStatic: false, IsSetId: true,
                PreloadBlocker.SetId,
                $"{runs} is set-user-ID or set-group-ID: when it runs with IDs other than the caller's, the dynamic loader is in secure mode and ignores LD_PRELOAD.");
        }

        return new ProgramInspection(program, path, executable, interpreter, loader, chain.Count > 0, IsStatic: false, IsSetId: false,
            PreloadBlocker.None, null);
    }

    private static ProgramInspection Refused(string program, string path, string executable, List<string> chain, PreloadBlocker blocker, string reason) =>
        new(program, path, executable, chain.Count == 0 ? null : string.Join(" -> ", chain), null, chain.Count > 0,
            IsStatic: false, IsSetId: false, blocker, reason);

    /// <summary>
    /// Parses "#!INTERPRETER [ARG]" and returns the file that will run next. For <c>env NAME</c> (and
    /// <c>env -S "NAME ..."</c>) that is NAME looked up in PATH, since env itself only execs it.
    /// </summary>
    private static string? NextInterpreter(byte[] head, string? baseDirectory, string? searchPath, List<string> chain)
    {
        int end = Array.IndexOf(head, (byte)'\n');
        string line = Encoding.UTF8.GetString(head, 2, (end < 0 ? head.Length : end) - 2).Trim(' ', '\t', '\r');
        int split = line.IndexOfAny([' ', '\t']);
        string interpreter = split < 0 ? line : line[..split];
        string argument = split < 0 ? string.Empty : line[(split + 1)..].Trim(' ', '\t');
        if (interpreter.Length == 0)
        {
            return null;
        }

        // The kernel resolves a relative interpreter against the current directory, not the script's.
        string interpreterPath = System.IO.Path.GetFullPath(interpreter, baseDirectory ?? Environment.CurrentDirectory);
        if (!File.Exists(interpreterPath))
        {
            return null;
        }

        chain.Add(interpreterPath);
        if (System.IO.Path.GetFileName(interpreterPath) == "env" && argument.Length > 0)
        {
            string[] words = argument.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            int first = words.Length > 0 && (words[0] == "-S" || words[0] == "--split-string") ? 1 : 0;
            if (first < words.Length && !words[first].StartsWith('-') && !words[first].Contains('=', StringComparison.Ordinal))
            {
                string? target = Resolve(words[first], baseDirectory, searchPath);
                if (target is not null)
                {
                    // env's own ELF must be preloadable too for LD_PRELOAD to survive until the exec.
                    if (!TryReadInterp(interpreterPath, ReadAt(interpreterPath, 0, 64), out string? envLoader) || envLoader is null || IsSetId(interpreterPath))
                    {
                        return interpreterPath;
                    }

                    chain.Add(target);
                    return target;
                }
            }
        }

        return interpreterPath;
    }

    /// <summary>
    /// Reads the ELF header and program headers. Returns false when the file is no ELF executable or shared
    /// object; otherwise <paramref name="loader"/> is the PT_INTERP path, or null for a static executable.
    /// </summary>
    private static bool TryReadInterp(string file, byte[] head, out string? loader)
    {
        loader = null;
        if (head.Length < 52 || head[0] != 0x7F || head[1] != (byte)'E' || head[2] != (byte)'L' || head[3] != (byte)'F')
        {
            return false;
        }

        bool is64 = head[4] == 2;
        bool little = head[5] == 1;
        if ((head[4] != 1 && !is64) || (head[5] != 1 && head[5] != 2) || (is64 && head.Length < 64))
        {
            return false;
        }

        ushort type = U16(head, 16, little);
        if (type != EtExec && type != EtDyn)
        {
            return false;
        }

        ulong phoff = is64 ? U64(head, 0x20, little) : U32(head, 0x1C, little);
        int phentsize = U16(head, is64 ? 0x36 : 0x2A, little);
        int phnum = U16(head, is64 ? 0x38 : 0x2C, little);
        int minimum = is64 ? 56 : 32;
        if (phnum == 0 || phentsize < minimum || phoff > long.MaxValue)
        {
            return phnum == 0;
        }

        byte[] table = ReadAt(file, (long)phoff, phentsize * phnum);
        for (int i = 0; i + phentsize <= table.Length; i += phentsize)
        {
            if (U32(table, i, little) != PtInterp)
            {
                continue;
            }

            ulong offset = is64 ? U64(table, i + 8, little) : U32(table, i + 4, little);
            ulong size = is64 ? U64(table, i + 32, little) : U32(table, i + 16, little);
            if (size == 0 || size > 4096 || offset > long.MaxValue)
            {
                return true; // malformed PT_INTERP: the kernel would refuse it; report it as dynamic-but-odd
            }

            byte[] text = ReadAt(file, (long)offset, (int)size);
            loader = Encoding.UTF8.GetString(text).TrimEnd('\0');
            return true;
        }

        return true;
    }

    private static byte[] ReadAt(string file, long offset, int count)
    {
        using SafeFileHandle handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        byte[] buffer = new byte[count];
        int total = 0;
        while (total < count)
        {
            int read = RandomAccess.Read(handle, buffer.AsSpan(total), offset + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total == count ? buffer : buffer[..total];
    }

    private static ushort U16(byte[] b, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at)) : BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(at));

    private static uint U32(byte[] b, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at)) : BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(at));

    private static ulong U64(byte[] b, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at)) : BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(at));

    /// <summary>True when <paramref name="path"/> is a symbolic link whose final target does not exist or that loops.</summary>
    private static bool LeadsNowhere(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget is not null && File.ResolveLinkTarget(path, returnFinalTarget: true) is not { Exists: true };
        }
        catch (IOException)
        {
            return true; // ELOOP: too many levels of symbolic links
        }
        catch (UnauthorizedAccessException)
        {
            return false; // a directory on the way may not be read: let the start report it
        }
    }

    internal static bool IsExecutable(string file)
    {
        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        try
        {
            return (File.GetUnixFileMode(file) & anyExecute) != 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// True when <paramref name="file"/> carries file capabilities (the security.capability extended attribute):
    /// exec then runs in secure-execution mode (AT_SECURE) whenever they raise the caller's privileges, as for set-ID.
    /// </summary>
    internal static unsafe bool HasFileCapabilities(string file)
    {
        // Size query only; ENODATA (none), ENOTSUP (file system without xattrs) and anything else mean "not seen".
        return Libc.GetXattr(file, "security.capability", null, 0) > 0;
    }

    private static bool IsSetId(string file)
    {
        try
        {
            return (File.GetUnixFileMode(file) & (UnixFileMode.SetUser | UnixFileMode.SetGroup)) != 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
