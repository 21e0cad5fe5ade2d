using System;
using System.Net;
using System.Runtime.InteropServices;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Namespaces;
using PSKeepalive.Core.Sockets;
using Xunit;

namespace PSKeepalive.Tests.Sockets;

/// <summary>
/// All or nothing on a real failure: a seccomp filter installed on one dedicated thread (seccomp filters are
/// per thread; PR_SET_NO_NEW_PRIVS lets any user install one) makes the kernel refuse setsockopt(TCP_KEEPCNT)
/// with EPERM, so a change fails after SO_KEEPALIVE and TCP_KEEPIDLE were already set. The thread ends with the work.
/// </summary>
public sealed partial class SocketRollbackTests
{
    [Fact]
    public void FailureMidway_RestoresTheOptionsAlreadySet()
    {
        using var pair = LoopbackPair.Open(IPAddress.Loopback);
        SocketKeepalive.Set(pair.Client, new SocketKeepaliveChange(false, 50, 10, 5, 1000));
        var before = SocketKeepalive.Get(pair.Client);
        int fd = (int)pair.Client.Handle;

        var error = NetworkNamespace.RunOnDedicatedThread(
            RefuseTcpKeepcnt,
            () => Assert.Throws<SocketOptionWriteException>(() => SocketKeepalive.Set(fd, new SocketKeepaliveChange(true, 7, 3, 2, 2000))));

        Assert.Equal(KeepaliveErrorKind.PermissionDenied, error.Kind);
        Assert.Equal("SocketPermissionDenied", error.ErrorId);
        Assert.Equal(1, error.Errno); // EPERM
        Assert.Contains("TCP_KEEPCNT", error.Message);
        Assert.True(error.RolledBack);
        Assert.Equal(new[] { "TCP_KEEPINTVL = 10", "TCP_KEEPIDLE = 50", "SO_KEEPALIVE = 0" }, error.Restored);
        Assert.Contains("Restored the options already set", error.Message);
        Assert.Equal(before, SocketKeepalive.Get(pair.Client));
    }

    [Fact]
    public void TheFilterOnlyAffectsItsThread()
    {
        using var pair = LoopbackPair.Open(IPAddress.Loopback);
        int fd = (int)pair.Client.Handle;

        int refused = NetworkNamespace.RunOnDedicatedThread(RefuseTcpKeepcnt, () =>
            Assert.Throws<SocketOptionWriteException>(() => SocketKeepalive.Set(fd, new SocketKeepaliveChange(Count: 4))).Errno);

        Assert.Equal(1, refused);
        Assert.Equal(4, SocketKeepalive.Set(fd, new SocketKeepaliveChange(Count: 4)).ProbeCount);
    }

    /// <summary>setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, ...) fails with EPERM on this thread; everything else is allowed.</summary>
    private static unsafe void RefuseTcpKeepcnt()
    {
        (uint arch, uint setsockopt) = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => (0xC000003Eu, 54u),
            Architecture.Arm64 => (0xC00000B7u, 208u),
            _ => throw new PlatformNotSupportedException("seccomp test filter: unknown architecture"),
        };
        const ushort LdAbsW = 0x20, JeqK = 0x15, RetK = 0x06;
        const uint Allow = 0x7fff0000, ErrnoEperm = 0x00050000 | 1;
        SockFilter* program = stackalloc SockFilter[]
        {
            new(LdAbsW, 0, 0, 4),             // seccomp_data.arch
            new(JeqK, 0, 7, arch),
            new(LdAbsW, 0, 0, 0),             // seccomp_data.nr
            new(JeqK, 0, 5, setsockopt),
            new(LdAbsW, 0, 0, 24),            // args[1] (level), low word
            new(JeqK, 0, 3, 6),               // IPPROTO_TCP
            new(LdAbsW, 0, 0, 32),            // args[2] (optname), low word
            new(JeqK, 0, 1, 6),               // TCP_KEEPCNT
            new(RetK, 0, 0, ErrnoEperm),
            new(RetK, 0, 0, Allow),
        };
        var fprog = new SockFprog { Length = 10, Filter = program };
        if (Prctl(38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0) != 0)
        {
            throw new InvalidOperationException($"PR_SET_NO_NEW_PRIVS failed: errno {Marshal.GetLastPInvokeError()}");
        }

        if (Prctl(22 /* PR_SET_SECCOMP */, 2 /* SECCOMP_MODE_FILTER */, (nuint)(&fprog), 0, 0) != 0)
        {
            throw new InvalidOperationException($"PR_SET_SECCOMP failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct SockFilter(ushort code, byte jumpTrue, byte jumpFalse, uint k)
    {
        public readonly ushort Code = code;
        public readonly byte JumpTrue = jumpTrue;
        public readonly byte JumpFalse = jumpFalse;
        public readonly uint K = k;
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct SockFprog
    {
        public ushort Length;
        public SockFilter* Filter;
    }
}
