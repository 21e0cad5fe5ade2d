using System.Collections.Generic;

namespace PSKeepalive.Core.Errors;

/// <summary>
/// A multi-option change on one socket that failed part way. Keeps the kind, id, errno and target of the
/// failure and says which options were put back, so the caller knows the socket is as it was.
/// </summary>
public sealed class SocketOptionWriteException : KeepaliveException
{
    public SocketOptionWriteException(KeepaliveException failure, IReadOnlyList<string> restored, IReadOnlyList<string> notRestored)
        : base(failure.Kind, failure.Subject, Describe(failure, restored, notRestored), failure.Target, failure.Errno, failure)
    {
        Restored = restored;
        NotRestored = notRestored;
    }

    /// <summary>Options put back to their previous values ("SO_KEEPALIVE = 0").</summary>
    public IReadOnlyList<string> Restored { get; }

    /// <summary>Options that could not be put back; empty when the rollback was complete.</summary>
    public IReadOnlyList<string> NotRestored { get; }

    public bool RolledBack => NotRestored.Count == 0;

    public override string ErrorId => ((KeepaliveException)InnerException!).ErrorId;

    private static string Describe(KeepaliveException failure, IReadOnlyList<string> restored, IReadOnlyList<string> notRestored)
    {
        string message = failure.Message;
        if (restored.Count > 0)
        {
            message += " Restored the options already set: " + string.Join(", ", restored) + ".";
        }
        else if (notRestored.Count == 0)
        {
            message += " Nothing was changed.";
        }

        if (notRestored.Count > 0)
        {
            message += " Could NOT restore: " + string.Join(", ", notRestored) + ".";
        }

        return message;
    }
}
