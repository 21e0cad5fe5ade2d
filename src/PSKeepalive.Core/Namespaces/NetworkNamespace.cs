using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Runtime.ExceptionServices;
using System.Threading;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Namespaces;

/// <summary>
/// Runs work inside another network namespace without moving the caller: a dedicated thread joins the
/// namespace with setns(2) and dies afterwards, so no pooled thread is ever left in a foreign namespace.
/// Sockets (netlink included) and /proc/sys/net files opened on that thread belong to that namespace and
/// keep it after the thread ends.
/// </summary>
public static partial class NetworkNamespace
{
    private const string Subject = "NetworkNamespace";

    /// <summary>
    /// Runs <paramref name="action"/> in the namespace at <paramref name="path"/> (/run/netns/NAME, NAME,
    /// /proc/PID/ns/net, or the kernel's name net:[INODE] as output objects carry it), or directly on the
    /// calling thread when <paramref name="path"/> is null, empty or names the caller's own namespace.
    /// </summary>
    public static T Run<T>(string? path, Func<T> action) => Run(path, action, Resolve);

    /// <summary>As <see cref="Run{T}(string?, Func{T})"/> with another name resolution (tests give stale ones).</summary>
    internal static T Run<T>(string? path, Func<T> action, Func<string, string> resolve)
    {
        if (string.IsNullOrEmpty(path) || path == Current())
        {
            return action();
        }

        return RunOnDedicatedThread(() => Enter(path, resolve), action);
    }

    /// <summary>Runs <paramref name="action"/> on a fresh thread after <paramref name="prepare"/>; rethrows its exception as is.</summary>
    internal static T RunOnDedicatedThread<T>(Action prepare, Func<T> action)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                prepare();
                result = action();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            IsBackground = true,
            Name = "pskeepalive-netns",
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    /// <summary>Moves the calling thread into the network namespace at <paramref name="path"/>.</summary>
    internal static void Enter(string path) => Enter(path, Resolve);

    /// <summary>
    /// Moves the calling thread into the namespace <paramref name="name"/> names. For the kernel's name
    /// net:[INODE], the path it resolves to (a /run/netns entry or /proc/PID/ns/net of a process found in it) may
    /// have changed by the time it is opened: the process may have exited and its ID been reused by a process in
    /// another namespace. So the inode of the descriptor actually opened is compared with INODE before setns; a
    /// stale answer is looked up again, and refused after a few tries with nothing done.
    /// </summary>
    internal static void Enter(string name, Func<string, string> resolve)
    {
        ulong? wanted = KernelNameInode(name);
        for (int attempt = 1; ; attempt++)
        {
            string path = resolve(name);
            int fd = Open(path);
            try
            {
                if (wanted is ulong inode && FileStatus.InodeOf(fd) is ulong opened && opened != inode)
                {
                    if (attempt < MaxLookups)
                    {
                        continue;
                    }

                    throw new KeepaliveNotFoundException(
                        Subject,
                        $"The network namespace {name} was found at {path}, but that is net:[{opened}] by now (the process found in {name} has exited and " +
                        $"its ID names a process elsewhere). Nothing was done. Give /run/netns/NAME or /proc/PID/ns/net of a process that stays in it.",
                        name,
                        Errno.ESRCH);
                }

                Join(fd, path);
                return;
            }
            finally
            {
                Libc.Close(fd);
            }
        }
    }

    /// <summary>How many times a stale net:[INODE] answer is looked up again.</summary>
    private const int MaxLookups = 3;

    /// <summary>INODE of "net:[INODE]"; null for any other name.</summary>
    private static ulong? KernelNameInode(string name) =>
        KernelName().IsMatch(name) && ulong.TryParse(name.AsSpan(5, name.Length - 6), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ulong inode)
            ? inode
            : null;

    private static int Open(string path)
    {
        int fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd >= 0)
        {
            return fd;
        }

        int errno = Libc.LastErrno;
        if (errno == Errno.ENOENT)
        {
            throw new KeepaliveNotFoundException(
                Subject,
                $"Cannot open the network namespace {path}: no such file or directory (ENOENT). Give /run/netns/NAME or just NAME (see 'ip netns list'), or /proc/PID/ns/net of a process in it.",
                path,
                errno);
        }

        throw Errno.ToException(errno, Subject, $"open the network namespace {path}", path, OpenPrivilege(path, Libc.GetEUid() == 0));
    }

    private static void Join(int fd, string path)
    {
        if (Libc.SetNs(fd, Libc.CLONE_NEWNET) == 0)
        {
            return;
        }

        int errno = Libc.LastErrno;
        if (errno == Errno.EINVAL)
        {
            throw new KeepaliveInvalidTargetException(
                Subject,
                $"{path} is not a network namespace; give /run/netns/NAME or /proc/PID/ns/net.",
                path,
                errno);
        }

        throw Errno.ToException(errno, Subject, $"enter the network namespace {path}", path, "root (CAP_SYS_ADMIN)");
    }

    /// <summary>
    /// What opening <paramref name="path"/> needs, for a permission error. /proc/PID/ns/net is guarded by the kernel's
    /// ptrace check on that process, which can refuse root too: then "root" is not what is missing.
    /// </summary>
    internal static string OpenPrivilege(string path, bool root)
    {
        if (!path.StartsWith("/proc/", StringComparison.Ordinal))
        {
            return "root";
        }

        return root
            ? "ptrace read access to the process that holds it, which the kernel refuses although this process runs as root: the "
              + "process belongs to an outer user namespace (such as a container host's PID 1) or a security module (AppArmor, SELinux, "
              + "Yama) protects it. Name the namespace through /run/netns (ip netns) or another process in it"
            : "root (or CAP_SYS_PTRACE over the process)";
        // Pidfd.PtracePrivilege says the same for the process's descriptors.
    }

    /// <summary>
    /// A bare NAME (no '/'), as 'ip netns' and 'ip -n NAME' take it, means /run/netns/NAME when no file of that name
    /// is in the current directory; the kernel's name net:[INODE] (the NetworkNamespace property of output
    /// objects) means a /run/netns entry or a process in that namespace; every other path is used as given.
    /// </summary>
    public static string Resolve(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (KernelName().IsMatch(path))
        {
            return NetworkNamespaceCatalog.List().FirstOrDefault(e => e.Id == path)?.Path ?? throw new KeepaliveNotFoundException(
                Subject,
                $"No /run/netns entry and no process is in the network namespace {path} (any more); give /run/netns/NAME or /proc/PID/ns/net.",
                path,
                Errno.ENOENT);
        }

        if (path.Contains('/', StringComparison.Ordinal) || path is "." or ".." || File.Exists(path))
        {
            return path;
        }

        return "/run/netns/" + path;
    }

    /// <summary>
    /// Identifies the network namespace the calling thread is in, as the kernel names it ("net:[4026531840]").
    /// Reads /proc/thread-self so that a thread moved by setns or unshare reports its own namespace.
    /// </summary>
    public static string Current()
    {
        try
        {
            var info = new FileInfo("/proc/thread-self/ns/net");
            return info.LinkTarget ?? "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    [GeneratedRegex(@"^net:\[\d+\]$")]
    private static partial Regex KernelName();
}
