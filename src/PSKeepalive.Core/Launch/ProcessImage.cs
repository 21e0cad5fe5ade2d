using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Launch;

/// <summary>Replaces the running process with another program (execve): same process ID, stdio and parent.</summary>
internal static unsafe class ProcessImage
{
    /// <summary>
    /// Changes to <paramref name="workingDirectory"/> and execs <paramref name="path"/> with exactly
    /// <paramref name="argv"/> and <paramref name="environment"/> ("NAME=value"). Returns only by throwing.
    /// </summary>
    public static void Replace(string path, IReadOnlyList<string> argv, IEnumerable<string> environment, string workingDirectory)
    {
        try
        {
            Directory.SetCurrentDirectory(workingDirectory);
        }
        catch (IOException e)
        {
            throw new KeepaliveNotFoundException("Process", $"Cannot change to the working directory '{workingDirectory}': {e.Message}", workingDirectory, Errno.ENOENT);
        }

        string[] variables = environment.ToArray();
        nint file = Marshal.StringToCoTaskMemUTF8(path);
        byte** args = NullTerminated(argv);
        byte** envp = NullTerminated(variables);
        _ = Libc.Execve((byte*)file, args, envp);
        int errno = Libc.LastErrno;
        Free(args, argv.Count);
        Free(envp, variables.Length);
        Marshal.FreeCoTaskMem(file);
        throw Errno.ToException(errno, "Process", $"start '{path}'", path, "execute permission on the launcher");
    }

    private static byte** NullTerminated(IReadOnlyList<string> strings)
    {
        var array = (byte**)NativeMemory.AllocZeroed((nuint)(strings.Count + 1), (nuint)sizeof(byte*));
        for (int i = 0; i < strings.Count; i++)
        {
            array[i] = (byte*)Marshal.StringToCoTaskMemUTF8(strings[i]);
        }

        return array;
    }

    private static void Free(byte** array, int count)
    {
        for (int i = 0; i < count; i++)
        {
            Marshal.FreeCoTaskMem((nint)array[i]);
        }

        NativeMemory.Free(array);
    }
}
