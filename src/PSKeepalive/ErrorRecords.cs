using System;
using System.Management.Automation;
using PSKeepalive.Core.Errors;

namespace PSKeepalive;

/// <summary>Turns Core's typed exceptions into ErrorRecords with their stable id, category and target.</summary>
internal static class ErrorRecords
{
    internal static ErrorRecord From(KeepaliveException exception, object? target = null) =>
        new(exception, exception.ErrorId, CategoryOf(exception.Kind), target ?? exception.Target);

    internal static ErrorCategory CategoryOf(KeepaliveErrorKind kind) => kind switch
    {
        KeepaliveErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        KeepaliveErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
        KeepaliveErrorKind.NotFound => ErrorCategory.ObjectNotFound,
        KeepaliveErrorKind.NotSupported => ErrorCategory.NotImplemented,
        KeepaliveErrorKind.InvalidTarget => ErrorCategory.InvalidType,
        KeepaliveErrorKind.ReadOnly => ErrorCategory.WriteError,
        KeepaliveErrorKind.InvalidData => ErrorCategory.InvalidData,
        KeepaliveErrorKind.Timeout => ErrorCategory.OperationTimeout,
        KeepaliveErrorKind.KernelFailure => ErrorCategory.NotSpecified,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
