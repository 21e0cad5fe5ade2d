using System.Collections.Generic;

namespace PSKeepalive.Core.Errors;

/// <summary>A multi-option change on one socket that failed part way; the options already set were put back.</summary>
public sealed class SocketOptionWriteException : KeepaliveRollbackException
{
    public SocketOptionWriteException(KeepaliveException failure, IReadOnlyList<string> restored, IReadOnlyList<string> notRestored)
        : base(failure, restored, notRestored, "options already set", string.Empty)
    {
    }
}
