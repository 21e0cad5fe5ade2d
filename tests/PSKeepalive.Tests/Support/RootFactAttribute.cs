using PSKeepalive.Core.Interop;
using Xunit;

namespace PSKeepalive.Tests.Support;

/// <summary>A fact that needs root (unshare, setns, other users' processes); skipped with that reason elsewhere. CI runs as root.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Privilege.IsRoot)
        {
            Skip = "Needs root (CAP_SYS_ADMIN to create a private network namespace); CI runs as root.";
        }
    }
}

/// <summary>A theory that needs root; see <see cref="RootFactAttribute"/>.</summary>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        if (!Privilege.IsRoot)
        {
            Skip = "Needs root (CAP_SYS_ADMIN to create a private network namespace); CI runs as root.";
        }
    }
}

public static class Privilege
{
    public static bool IsRoot { get; } = TestLibc.GetEUid() == 0;
}
