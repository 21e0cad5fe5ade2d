using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

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
        int dirFd;
        fixed (byte* path = pathBytes)
        {
            dirFd = Libc.OpenAt(Libc.AT_FDCWD, path, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        }

        if (dirFd < 0)
        {
            int errno = Libc.LastErrno;
            throw errno == Errno.ENOENT
                ? Errno.ToException(Errno.ESRCH, Subject, $"list the descriptors of process {pid}", pid)
                : Errno.ToException(errno, Subject, $"list the descriptors of process {pid}", pid, Pidfd.PtracePrivilege);
        }

        var sockets = new List<SocketDescriptor>();
        const int BufferSize = 32 * 1024;
        byte* dents = stackalloc byte[BufferSize];
        byte* link = stackalloc byte[64];
        try
        {
            while (true)
            {
                nint read = Libc.GetDents64(dirFd, dents, BufferSize);
                if (read < 0)
                {
                    int errno = Libc.LastErrno;
                    throw errno == Errno.ENOENT
                        ? Errno.ToException(Errno.ESRCH, Subject, $"list the descriptors of process {pid}", pid)
                        : Errno.ToException(errno, Subject, $"list the descriptors of process {pid}", pid, Pidfd.PtracePrivilege);
                }

                if (read == 0)
                {
                    break;
                }

                for (int offset = 0; offset < read;)
                {
                    // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
                    ushort recordLength = *(ushort*)(dents + offset + 16);
                    byte* name = dents + offset + 19;
                    offset += recordLength;
                    if (recordLength == 0)
                    {
                        break;
                    }

                    if (!TryParseFd(name, out int fd))
                    {
                        continue; // "." and ".."
                    }

                    nint length = Libc.ReadLinkAt(dirFd, name, link, 64);
                    if (length > 0 && Processes.SocketOwnerScan.TryParseSocketInode(new ReadOnlySpan<byte>(link, (int)length), out ulong inode))
                    {
                        sockets.Add(new SocketDescriptor(fd, inode));
                    }

                    // length < 0: closed between getdents64 and readlinkat.
                }
            }
        }
        finally
        {
            Libc.Close(dirFd);
        }

        sockets.Sort((a, b) => a.Fd.CompareTo(b.Fd));
        return sockets;
    }

    private static unsafe bool TryParseFd(byte* name, out int fd)
    {
        fd = 0;
        if (name[0] == 0)
        {
            return false;
        }

        for (byte* c = name; *c != 0; c++)
        {
            if (*c < (byte)'0' || *c > (byte)'9' || fd > (int.MaxValue - 9) / 10)
            {
                fd = 0;
                return false;
            }

            fd = (fd * 10) + (*c - (byte)'0');
        }

        return true;
    }

    /// <summary>The command name of a process (/proc/PID/comm), or null when it is gone or unreadable.</summary>
    public static string? Name(int pid, string procRoot = "/proc")
    {
        try
        {
            return File.ReadAllText(Path.Combine(procRoot, pid.ToString(CultureInfo.InvariantCulture), "comm")).TrimEnd('\n');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Parses "socket:[12345]".</summary>
    public static bool TryParseSocketLink(string link, out ulong inode)
    {
        inode = 0;
        return link.StartsWith("socket:[", StringComparison.Ordinal)
            && link.EndsWith(']')
            && ulong.TryParse(link.AsSpan(8, link.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out inode);
    }
}
