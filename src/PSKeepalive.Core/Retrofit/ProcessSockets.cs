using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Processes;

namespace PSKeepalive.Core.Retrofit;

/// <summary>One socket descriptor of a process, as /proc/PID/fd shows it ("socket:[INODE]").</summary>
public readonly record struct SocketDescriptor(int Fd, ulong Inode);

/// <summary>The socket descriptors of one process, from /proc/PID/fd (needs the same ptrace access as pidfd_getfd).</summary>
public static class ProcessSockets
{
    private const string Subject = "Process";

    /// <summary>Every descriptor of <paramref name="pid"/> that is a socket, in descriptor order.</summary>
    /// <remarks>getdents64 + readlinkat into fixed buffers (the way the owner scan reads /proc): one system call per descriptor, no allocation per descriptor.</remarks>
    /// <exception cref="KeepaliveNotFoundException">The process does not exist.</exception>
    /// <exception cref="KeepalivePermissionException">The caller may not read the process's descriptors.</exception>
    public static unsafe IReadOnlyList<SocketDescriptor> List(int pid, string procRoot = "/proc")
    {
        if (pid <= 0)
        {
            throw new KeepaliveValidationException(Subject, "ProcessId", $"ProcessId must be a positive process id; {pid} is not one.", pid);
        }

        string directory = Path.Combine(procRoot, pid.ToString(CultureInfo.InvariantCulture), "fd");
        byte[] pathBytes = System.Text.Encoding.UTF8.GetBytes(directory + "\0");
        const int BufferSize = 32 * 1024;
        byte* dents = stackalloc byte[BufferSize];
        byte* link = stackalloc byte[ProcFdSockets.LinkBufferSize];
        var sockets = new List<SocketDescriptor>();
        int errno;
        fixed (byte* path = pathBytes)
        {
            var reader = new ProcFdSockets(path, dents, BufferSize, link);
            try
            {
                while (reader.MoveNext())
                {
                    // Fd < 0: a name that is not a descriptor number (never in a real /proc).
                    if (reader.Current.Fd >= 0)
                    {
                        sockets.Add(new SocketDescriptor(reader.Current.Fd, reader.Current.Inode));
                    }
                }
            }
            finally
            {
                reader.Dispose();
            }

            errno = reader.Errno;
        }

        if (errno != 0)
        {
            throw errno == Errno.ENOENT
                ? Errno.ToException(Errno.ESRCH, Subject, $"list the descriptors of process {pid}", pid)
                : Errno.ToException(errno, Subject, $"list the descriptors of process {pid}", pid, Pidfd.PtracePrivilege);
        }

        sockets.Sort((a, b) => a.Fd.CompareTo(b.Fd));
        return sockets;
    }
}
