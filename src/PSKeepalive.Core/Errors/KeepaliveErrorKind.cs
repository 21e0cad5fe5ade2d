namespace PSKeepalive.Core.Errors;

/// <summary>
/// What went wrong, independent of the front end. The module maps it to an ErrorCategory, the CLI to an
/// exit code; the kind is also the second half of every stable error id ("Sysctl" + "PermissionDenied").
/// </summary>
public enum KeepaliveErrorKind
{
    /// <summary>A value outside the kernel's range, or arguments that contradict each other.</summary>
    InvalidArgument,

    /// <summary>EPERM/EACCES: the caller lacks root, CAP_NET_ADMIN or ptrace rights.</summary>
    PermissionDenied,

    /// <summary>The file, namespace, process or socket does not exist (any more).</summary>
    NotFound,

    /// <summary>The kernel or machine lacks the feature (old kernel, missing option).</summary>
    NotSupported,

    /// <summary>The object exists but is the wrong kind (not a TCP socket, not a network namespace).</summary>
    InvalidTarget,

    /// <summary>The target is read-only (e.g. /proc/sys mounted read-only in a container).</summary>
    ReadOnly,

    /// <summary>Bytes from the kernel that do not parse (never silently skipped).</summary>
    InvalidData,

    /// <summary>A bounded wait ran out.</summary>
    Timeout,

    /// <summary>Any other failure reported by the kernel.</summary>
    KernelFailure,
}
