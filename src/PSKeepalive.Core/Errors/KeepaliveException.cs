using System;

namespace PSKeepalive.Core.Errors;

/// <summary>
/// Base of every error Core raises on purpose. Front ends need nothing else to report it well: a stable
/// <see cref="ErrorId"/>, a <see cref="Kind"/> to map to a category or exit code, the <see cref="Target"/>
/// acted on, and the errno when the kernel gave one.
/// </summary>
public abstract class KeepaliveException : Exception
{
    protected KeepaliveException(KeepaliveErrorKind kind, string subject, string message, object? target, int errno, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Subject = subject;
        Target = target;
        Errno = errno;
    }

    public KeepaliveErrorKind Kind { get; }

    /// <summary>The noun the error is about: "Sysctl", "Socket", "NetworkNamespace", "Process", "Netlink"...</summary>
    public string Subject { get; }

    /// <summary>The sysctl name, socket, path or process the operation acted on.</summary>
    public object? Target { get; }

    /// <summary>The kernel's errno, or 0 when the error did not come from a system call.</summary>
    public int Errno { get; }

    /// <summary>Stable id of the form &lt;Noun&gt;&lt;Condition&gt;, e.g. "SysctlPermissionDenied".</summary>
    public virtual string ErrorId => Subject + Kind;
}

/// <summary>A value outside its valid range; names the parameter, the value and the range.</summary>
public sealed class KeepaliveValidationException : KeepaliveException
{
    public KeepaliveValidationException(string subject, string parameterName, string message, object? value)
        : base(KeepaliveErrorKind.InvalidArgument, subject, message, value, 0)
    {
        ParameterName = parameterName;
    }

    public string ParameterName { get; }

    public override string ErrorId => Subject + "InvalidArgument";
}

public sealed class KeepalivePermissionException : KeepaliveException
{
    public KeepalivePermissionException(string subject, string message, object? target, int errno)
        : base(KeepaliveErrorKind.PermissionDenied, subject, message, target, errno)
    {
    }
}

public sealed class KeepaliveNotFoundException : KeepaliveException
{
    public KeepaliveNotFoundException(string subject, string message, object? target, int errno)
        : base(KeepaliveErrorKind.NotFound, subject, message, target, errno)
    {
    }
}

public sealed class KeepaliveNotSupportedException : KeepaliveException
{
    public KeepaliveNotSupportedException(string subject, string message, object? target, int errno)
        : base(KeepaliveErrorKind.NotSupported, subject, message, target, errno)
    {
    }
}

/// <summary>The object is of the wrong kind: a UDP or Unix socket where TCP is needed, a path that is no network namespace.</summary>
public sealed class KeepaliveInvalidTargetException : KeepaliveException
{
    public KeepaliveInvalidTargetException(string subject, string message, object? target, int errno)
        : base(KeepaliveErrorKind.InvalidTarget, subject, message, target, errno)
    {
    }
}

public sealed class KeepaliveReadOnlyException : KeepaliveException
{
    public KeepaliveReadOnlyException(string subject, string message, object? target, int errno)
        : base(KeepaliveErrorKind.ReadOnly, subject, message, target, errno)
    {
    }
}

/// <summary>Bytes from the kernel (netlink, /proc) that do not decode; never silently skipped.</summary>
public sealed class KeepaliveDataException : KeepaliveException
{
    public KeepaliveDataException(string subject, string message, object? target = null, Exception? inner = null)
        : base(KeepaliveErrorKind.InvalidData, subject, message, target, 0, inner)
    {
    }
}

public sealed class KeepaliveTimeoutException : KeepaliveException
{
    public KeepaliveTimeoutException(string subject, string message, object? target)
        : base(KeepaliveErrorKind.Timeout, subject, message, target, 0)
    {
    }
}

/// <summary>Any other errno from the kernel.</summary>
public sealed class KeepaliveKernelException : KeepaliveException
{
    public KeepaliveKernelException(string subject, string message, object? target, int errno, Exception? inner = null)
        : base(KeepaliveErrorKind.KernelFailure, subject, message, target, errno, inner)
    {
    }
}
