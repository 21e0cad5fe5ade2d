using System;
using System.Globalization;
using System.IO;
using System.Text;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Settings;

/// <summary>
/// Reads and writes integer sysctls as files under a root (normally /proc/sys). Uses open/pread/pwrite
/// directly so that the kernel's errno reaches <see cref="Errno"/> unchanged and a write is exactly one
/// write(2), as /proc/sys expects.
/// </summary>
public sealed class SysctlFile
{
    private const string Subject = "Sysctl";
    private const string WritePrivilege = "root, or CAP_NET_ADMIN over the network namespace";

    public SysctlFile(string root = "/proc/sys")
    {
        Root = root;
    }

    public string Root { get; }

    /// <summary>The file behind a dotted sysctl name: net.ipv4.tcp_keepalive_time -> ROOT/net/ipv4/tcp_keepalive_time.</summary>
    public string PathOf(string name) => Path.Combine(Root, name.Replace('.', '/'));

    public unsafe int ReadInt(string name)
    {
        string path = PathOf(name);
        int fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            throw OpenFailure(name, path, "read");
        }

        try
        {
            byte* buffer = stackalloc byte[64];
            nint read = Libc.PRead(fd, buffer, 64, 0);
            if (read < 0)
            {
                throw Errno.Last(Subject, $"read {name} ({path})", name);
            }

            string text = Encoding.ASCII.GetString(buffer, (int)read).Trim();
            if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
            {
                throw new KeepaliveDataException(Subject, $"{name} ({path}) holds '{text}', which is not an integer.", name);
            }

            return value;
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>Writes <paramref name="value"/> and reads it back; throws if the kernel kept something else.</summary>
    public unsafe void WriteInt(string name, int value)
    {
        string path = PathOf(name);
        int fd = Libc.Open(path, Libc.O_WRONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            throw OpenFailure(name, path, "write");
        }

        try
        {
            byte[] bytes = Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture) + "\n");
            fixed (byte* p = bytes)
            {
                nint written = Libc.PWrite(fd, p, (nuint)bytes.Length, 0);
                if (written < 0)
                {
                    throw Errno.Last(Subject, $"write {value} to {name} ({path})", name, WritePrivilege);
                }

                if (written != bytes.Length)
                {
                    throw new KeepaliveKernelException(Subject, $"Short write to {name} ({path}): {written} of {bytes.Length} bytes.", name, 0);
                }
            }
        }
        finally
        {
            Libc.Close(fd);
        }

        int readBack = ReadInt(name);
        if (readBack != value)
        {
            throw new KeepaliveKernelException(Subject, $"Wrote {value} to {name} but read back {readBack}.", name, 0);
        }
    }

    private static KeepaliveException OpenFailure(string name, string path, string access)
    {
        int errno = Libc.LastErrno;
        return errno switch
        {
            Errno.ENOENT or Errno.ENOTDIR => new KeepaliveNotFoundException(
                Subject,
                $"Cannot {access} {name}: {path} does not exist. Is /proc mounted, and is this a Linux kernel with TCP/IPv4?",
                name,
                errno),
            Errno.EROFS => new KeepaliveReadOnlyException(
                Subject,
                $"Cannot write {name}: {path} is on a read-only file system (containers often mount /proc/sys read-only; change it from the host, e.g. with -NetworkNamespace /proc/PID/ns/net).",
                name,
                errno),
            _ => Errno.ToException(errno, Subject, $"{access} {name} ({path})", name, access == "write" ? WritePrivilege : null),
        };
    }
}
