using System;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Retrofit;

/// <summary>
/// pidfd_open(2) and pidfd_getfd(2): a stable handle on a process, and a copy of one of its descriptors.
/// The copy refers to the same open file description, so a socket option set on it changes the owner's
/// socket; closing the copy leaves the owner's descriptor open. Every failure becomes a typed error
/// that names the condition: the process or descriptor vanished, the ptrace privilege, the kernel version.
/// </summary>
internal static class Pidfd
{
    private const string Subject = "Process";

    /// <summary>
    /// What pidfd_getfd and /proc/PID/fd need over the target (the kernel's ptrace access check). As root the check can
    /// still refuse (a process of an outer user namespace, a security module): then root is not what is missing.
    /// </summary>
    public static string PtracePrivilege => PtracePrivilegeFor(root: Libc.GetEUid() == 0);

    /// <summary>What is missing when the ptrace check refuses a caller that is root, or is not.</summary>
    internal static string PtracePrivilegeFor(bool root) => root ? PtraceRefusedToRoot : PtraceForUsers;

    private const string PtraceForUsers =
        "ptrace access to the process: run as root, or with CAP_SYS_PTRACE; the same user is enough only when " +
        "kernel.yama.ptrace_scope is 0 or Yama is absent (and the process is not set-user-ID)";

    private const string PtraceRefusedToRoot =
        "ptrace access to the process, which the kernel refuses although this process runs as root: the process belongs to an " +
        "outer user namespace (such as a container host's PID 1) or a security module (AppArmor, SELinux, Yama) protects it";

    /// <summary>Opens a pidfd for <paramref name="pid"/> (Linux 5.3+).</summary>
    /// <exception cref="KeepaliveNotFoundException">The process does not exist (any more): ESRCH.</exception>
    /// <exception cref="KeepaliveNotSupportedException">The kernel has no pidfd_open (older than 5.3).</exception>
    public static SafeFileHandle Open(int pid)
    {
        if (pid <= 0)
        {
            throw new KeepaliveValidationException(Subject, "ProcessId", $"ProcessId must be a positive process id; {pid} is not one.", pid);
        }

        long fd = Libc.Syscall(Libc.SYS_pidfd_open, pid, 0, 0);
        if (fd < 0)
        {
            throw OpenError(Libc.LastErrno, pid);
        }

        return new SafeFileHandle((IntPtr)fd, ownsHandle: true);
    }

    /// <summary>Duplicates descriptor <paramref name="fd"/> of the process behind <paramref name="pidfd"/> into this process (close-on-exec).</summary>
    /// <exception cref="KeepaliveNotFoundException">The process exited (ESRCH) or closed the descriptor (EBADF).</exception>
    /// <exception cref="KeepalivePermissionException">No ptrace access over the process (EPERM).</exception>
    /// <exception cref="KeepaliveNotSupportedException">The kernel has no pidfd_getfd (older than 5.6).</exception>
    public static SafeFileHandle GetFd(SafeHandle pidfd, int pid, int fd)
    {
        bool added = false;
        try
        {
            pidfd.DangerousAddRef(ref added);
            long copy = Libc.Syscall(Libc.SYS_pidfd_getfd, pidfd.DangerousGetHandle(), fd, 0);
            if (copy < 0)
            {
                throw GetFdError(Libc.LastErrno, pid, fd);
            }

            return new SafeFileHandle((IntPtr)copy, ownsHandle: true);
        }
        finally
        {
            if (added)
            {
                pidfd.DangerousRelease();
            }
        }
    }

    /// <summary>The typed error for pidfd_open's errno.</summary>
    internal static KeepaliveException OpenError(int errno, int pid) => errno switch
    {
        Errno.ESRCH => Errno.ToException(errno, Subject, $"open process {pid} (it exited)", pid),
        Errno.ENOSYS => Errno.ToException(errno, Subject, $"open process {pid} with pidfd_open (needs Linux 5.3 or later)", pid),
        _ => Errno.ToException(errno, Subject, $"open process {pid} with pidfd_open", pid, PtracePrivilege),
    };

    /// <summary>The typed error for pidfd_getfd's errno: the process or descriptor vanished, the privilege, the kernel version.</summary>
    internal static KeepaliveException GetFdError(int errno, int pid, int fd) => errno switch
    {
        Errno.ESRCH => Errno.ToException(errno, Subject, $"duplicate descriptor {fd} of process {pid} (the process exited)", pid),
        Errno.EBADF => Errno.ToException(errno, Subject, $"duplicate descriptor {fd} of process {pid} (the process closed it)", pid),
        Errno.ENOSYS => Errno.ToException(errno, Subject, $"duplicate descriptor {fd} of process {pid} with pidfd_getfd (needs Linux 5.6 or later)", pid),
        _ => Errno.ToException(errno, Subject, $"duplicate descriptor {fd} of process {pid} with pidfd_getfd", pid, PtracePrivilege),
    };
}
