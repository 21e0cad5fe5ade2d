using System;
using System.Runtime.InteropServices;
using PSKeepalive.Core.Namespaces;

namespace PSKeepalive.Tests.Support;

/// <summary>
/// Runs work as user nobody on a dedicated thread, so that root can test "permission denied" paths. The
/// raw setresuid system call changes only the calling thread (glibc's wrapper would change every thread)
/// and drops its capabilities; the thread ends with the work. /proc/sys/net checks the effective uid and
/// CAP_NET_ADMIN, files the filesystem uid: this covers both.
/// </summary>
public static class Unprivileged
{
    public const uint Nobody = 65534;

    /// <summary>As nobody; only root can switch, so a test that calls this needs root (RootFact).</summary>
    public static T Run<T>(Func<T> action) => NetworkNamespace.RunOnDedicatedThread(BecomeNobody, action);

    /// <summary>Without privilege either way: as nobody when running as root, as the caller otherwise.</summary>
    public static T RunWithoutPrivilege<T>(Func<T> action) => Privilege.IsRoot ? Run(action) : action();

    private static void BecomeNobody()
    {
        long setresuid = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 117,
            Architecture.Arm64 => 147,
            _ => throw new PlatformNotSupportedException("setresuid syscall number unknown for this architecture"),
        };
        if (TestLibc.Syscall(setresuid, Nobody, Nobody, Nobody) != 0)
        {
            throw new InvalidOperationException($"setresuid failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public static void Chown(string path, uint uid)
    {
        if (TestLibc.Chown(path, uid, uid) != 0)
        {
            throw new InvalidOperationException($"chown {path} failed");
        }
    }
}
