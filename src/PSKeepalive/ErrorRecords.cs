using System;
using System.Globalization;
using System.Management.Automation;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Retrofit;

namespace PSKeepalive;

/// <summary>Turns Core's typed exceptions into ErrorRecords with their stable id, category and target.</summary>
internal static class ErrorRecords
{
    internal static ErrorRecord From(KeepaliveException exception, object? target = null) =>
        new(exception, exception.ErrorId, CategoryOf(exception.Kind), target ?? exception.Target);

    /// <summary>
    /// The error record of a per-socket result that failed (Enable-/Disable-TcpKeepalive, Close-TcpConnection):
    /// the result's own id, the category of the kind the id ends with, and the result as the target.
    /// </summary>
    internal static ErrorRecord FromResult(string reason, string? errorId, string fallbackId, object target)
    {
        string id = errorId ?? fallbackId;
        return new ErrorRecord(new KeepaliveChangeFailedException(reason), id, CategoryOfId(id), target);
    }

    /// <summary>
    /// What a per-socket keepalive change says beside its result: a non-terminating error when it failed, a verbose
    /// line when it was skipped (Enable-/Disable-TcpKeepalive, Set-TcpKeepalivePolicy -IncludeExisting).
    /// </summary>
    internal static void ReportOutcome(Cmdlet cmdlet, KeepaliveChangeResult result)
    {
        string where = string.Create(CultureInfo.InvariantCulture, $"process {result.Pid} fd {result.Fd} socket:[{result.Inode}]");
        if (result.Outcome == KeepaliveChangeOutcome.Failed)
        {
            cmdlet.WriteError(FromResult(result.Reason ?? "The change failed.", result.ErrorId, "SocketChangeFailed", where));
        }
        else if (result.Outcome == KeepaliveChangeOutcome.Skipped)
        {
            cmdlet.WriteVerbose($"Skipped {where}: {result.Reason}");
        }
    }

    /// <summary>The category of an id of the form Subject + Kind; NotSpecified for other ids ("SocketVerificationFailed").</summary>
    internal static ErrorCategory CategoryOfId(string errorId)
    {
        foreach (KeepaliveErrorKind kind in Enum.GetValues<KeepaliveErrorKind>())
        {
            string name = kind.ToString();
            if (errorId.Length > name.Length && errorId.EndsWith(name, StringComparison.Ordinal))
            {
                return CategoryOf(kind);
            }
        }

        return ErrorCategory.NotSpecified;
    }

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
