using System.Collections.Generic;

namespace PSKeepalive.Core.Errors;

/// <summary>
/// A change of several values that failed part way and was rolled back. Keeps the kind, id, errno and target
/// of the failure and says what was put back, so the caller knows the object is as it was (or exactly what
/// is not). Subclasses name what was being changed: sysctls, or the options of one socket.
/// </summary>
public abstract class KeepaliveRollbackException : KeepaliveException
{
    protected KeepaliveRollbackException(
        KeepaliveException failure,
        IReadOnlyList<string> restored,
        IReadOnlyList<string> notRestored,
        string restoredWhat,
        string notRestoredAdvice)
        : base(failure.Kind, failure.Subject, Describe(failure, restored, notRestored, restoredWhat, notRestoredAdvice), failure.Target, failure.Errno, failure)
    {
        Restored = restored;
        NotRestored = notRestored;
    }

    /// <summary>What was put back to its previous value ("net.ipv4.tcp_keepalive_time = 7200", "SO_KEEPALIVE = 0").</summary>
    public IReadOnlyList<string> Restored { get; }

    /// <summary>What could not be put back; empty when the rollback was complete.</summary>
    public IReadOnlyList<string> NotRestored { get; }

    public bool RolledBack => NotRestored.Count == 0;

    /// <summary>The id of the failure itself: a rollback does not change what went wrong.</summary>
    public override string ErrorId => ((KeepaliveException)InnerException!).ErrorId;

    private static string Describe(
        KeepaliveException failure,
        IReadOnlyList<string> restored,
        IReadOnlyList<string> notRestored,
        string restoredWhat,
        string notRestoredAdvice)
    {
        string message = failure.Message;
        if (restored.Count > 0)
        {
            message += $" Restored the {restoredWhat}: " + string.Join(", ", restored) + ".";
        }
        else if (notRestored.Count == 0)
        {
            message += " Nothing was changed.";
        }

        if (notRestored.Count > 0)
        {
            message += " Could NOT restore: " + string.Join(", ", notRestored) + notRestoredAdvice + ".";
        }

        return message;
    }
}
