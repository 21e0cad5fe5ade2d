using PSKeepalive.Core.Errors;

namespace PSKeepalive.Core.Interop;

/// <summary>
/// The one place that turns an errno into a typed exception. Callers name what they were doing and on
/// what (the subject noun becomes the first half of the stable error id, e.g. "Sysctl" + "PermissionDenied").
/// </summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int E2BIG = 7;
    public const int EBADF = 9;
    public const int ECHILD = 10;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int EMFILE = 24;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int EPIPE = 32;
    public const int ERANGE = 34;
    public const int ENOSYS = 38;
    public const int ENOTEMPTY = 39;
    public const int ELOOP = 40;
    public const int ENOTSOCK = 88;
    public const int EPROTOTYPE = 91;
    public const int ENOPROTOOPT = 92;
    public const int EPROTONOSUPPORT = 93;
    public const int EOPNOTSUPP = 95;
    public const int EAFNOSUPPORT = 97;
    public const int ECONNABORTED = 103;
    public const int ECONNRESET = 104;
    public const int ENOTCONN = 107;
    public const int ETIMEDOUT = 110;
    public const int ECONNREFUSED = 111;
    public const int EHOSTUNREACH = 113;
    public const int EADDRNOTAVAIL = 99;
    public const int ENETUNREACH = 101;
    public const int ESTALE = 116;

    /// <summary>The symbolic name of an errno ("ETIMEDOUT"), or "errno N" when unknown.</summary>
    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        ESRCH => "ESRCH",
        EINTR => "EINTR",
        EIO => "EIO",
        E2BIG => "E2BIG",
        EBADF => "EBADF",
        ECHILD => "ECHILD",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        ENOTDIR => "ENOTDIR",
        EISDIR => "EISDIR",
        EINVAL => "EINVAL",
        EMFILE => "EMFILE",
        ENOSPC => "ENOSPC",
        EROFS => "EROFS",
        EPIPE => "EPIPE",
        ELOOP => "ELOOP",
        ERANGE => "ERANGE",
        ENOSYS => "ENOSYS",
        ENOTEMPTY => "ENOTEMPTY",
        ENOTSOCK => "ENOTSOCK",
        EPROTOTYPE => "EPROTOTYPE",
        ENOPROTOOPT => "ENOPROTOOPT",
        EPROTONOSUPPORT => "EPROTONOSUPPORT",
        EOPNOTSUPP => "EOPNOTSUPP",
        EAFNOSUPPORT => "EAFNOSUPPORT",
        ECONNABORTED => "ECONNABORTED",
        ECONNRESET => "ECONNRESET",
        ENOTCONN => "ENOTCONN",
        ETIMEDOUT => "ETIMEDOUT",
        ECONNREFUSED => "ECONNREFUSED",
        EHOSTUNREACH => "EHOSTUNREACH",
        EADDRNOTAVAIL => "EADDRNOTAVAIL",
        ENETUNREACH => "ENETUNREACH",
        ESTALE => "ESTALE",
        _ => $"errno {errno}",
    };

    /// <summary>strerror-like text for messages ("permission denied").</summary>
    public static string Describe(int errno) => errno switch
    {
        EPERM => "operation not permitted",
        ENOENT => "no such file or directory",
        ESRCH => "no such process",
        EBADF => "bad file descriptor",
        EACCES => "permission denied",
        EINVAL => "invalid argument",
        EBUSY => "device or resource busy",
        ENOTDIR => "not a directory",
        EROFS => "read-only file system",
        ENOSPC => "no space left on device",
        EPIPE => "broken pipe (the reader has gone)",
        ENOSYS => "function not implemented by this kernel",
        ENOTSOCK => "not a socket",
        ENOPROTOOPT => "protocol option not available",
        EOPNOTSUPP => "operation not supported",
        ETIMEDOUT => "connection timed out",
        ECONNRESET => "connection reset by peer",
        ECONNABORTED => "connection aborted",
        ECONNREFUSED => "connection refused",
        ENETUNREACH => "network is unreachable",
        _ => Name(errno),
    };

    /// <summary>
    /// Builds the typed exception for <paramref name="errno"/>.
    /// </summary>
    /// <param name="errno">The errno reported by the kernel.</param>
    /// <param name="subject">Noun for the error id: "Sysctl", "Socket", "NetworkNamespace", "Process", "Netlink".</param>
    /// <param name="operation">What was being done, for the message ("write net.ipv4.tcp_keepalive_time").</param>
    /// <param name="target">The thing acted on (a sysctl name, a socket, a path); becomes the error's target.</param>
    /// <param name="privilegeHint">What would grant permission, used when errno is EPERM/EACCES.</param>
    public static KeepaliveException ToException(int errno, string subject, string operation, object? target, string? privilegeHint = null)
    {
        string detail = $"{operation}: {Describe(errno)} ({Name(errno)})";
        return errno switch
        {
            EPERM or EACCES => new KeepalivePermissionException(
                subject,
                privilegeHint is null ? $"Cannot {detail}." : $"Cannot {detail}. This needs {privilegeHint}.",
                target,
                errno),
            ENOENT or ESRCH or EBADF => new KeepaliveNotFoundException(subject, $"Cannot {detail}.", target, errno),
            ENOSYS or ENOPROTOOPT or EOPNOTSUPP or EAFNOSUPPORT or EPROTONOSUPPORT =>
                new KeepaliveNotSupportedException(subject, $"Cannot {detail}.", target, errno),
            ENOTSOCK => new KeepaliveInvalidTargetException(subject, $"Cannot {detail}.", target, errno),
            EINVAL => new KeepaliveKernelException(subject, $"Cannot {detail}: the kernel rejected the value.", target, errno),
            EROFS => new KeepaliveReadOnlyException(subject, $"Cannot {detail}.", target, errno),
            _ => new KeepaliveKernelException(subject, $"Cannot {detail}.", target, errno),
        };
    }

    /// <summary>Throws for the errno of the last failed libc call on this thread.</summary>
    internal static KeepaliveException Last(string subject, string operation, object? target, string? privilegeHint = null) =>
        ToException(Libc.LastErrno, subject, operation, target, privilegeHint);
}
