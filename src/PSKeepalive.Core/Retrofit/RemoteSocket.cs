using System;
using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Retrofit;

/// <summary>
/// A copy, in this process, of a socket descriptor of another process (pidfd_getfd), checked with fstat to
/// be the very socket asked for: a socket whose inode (st_ino, the number sock_diag and /proc/PID/fd report)
/// is the expected one. If the owner closed the descriptor and reused its number meanwhile, the copy is
/// closed again before anything touches it. Options set through <see cref="Handle"/> change the owner's
/// socket; disposing closes only the copy. Never call shutdown(2) on it: that would end the owner's connection.
/// </summary>
public sealed class RemoteSocket : IDisposable
{
    private const int S_IFMT = 0xF000;   // 0170000
    private const int S_IFSOCK = 0xC000; // 0140000

    private RemoteSocket(SafeFileHandle handle, int pid, int fd, ulong inode)
    {
        Handle = handle;
        Pid = pid;
        Fd = fd;
        Inode = inode;
    }

    /// <summary>The copy; valid until <see cref="Dispose"/>.</summary>
    public SafeFileHandle Handle { get; }

    /// <summary>The process that owns the socket.</summary>
    public int Pid { get; }

    /// <summary>The descriptor number in the owner.</summary>
    public int Fd { get; }

    /// <summary>The socket's inode, checked on the copy.</summary>
    public ulong Inode { get; }

    /// <summary>The copy's descriptor number in this process (for calls that take an int fd).</summary>
    public int LocalFd => (int)Handle.DangerousGetHandle();

    /// <summary>Duplicates descriptor <paramref name="fd"/> of <paramref name="pid"/> and checks that it is socket <paramref name="expectedInode"/>.</summary>
    /// <exception cref="KeepaliveNotFoundException">The process or the descriptor is gone.</exception>
    /// <exception cref="KeepalivePermissionException">No ptrace access over the process.</exception>
    /// <exception cref="KeepaliveInvalidTargetException">The descriptor now refers to something else; nothing was touched.</exception>
    public static RemoteSocket Open(int pid, int fd, ulong expectedInode)
    {
        using SafeFileHandle pidfd = Pidfd.Open(pid);
        return Open(pidfd, pid, fd, expectedInode);
    }

    internal static RemoteSocket Open(SafeHandle pidfd, int pid, int fd, ulong expectedInode)
    {
        SafeFileHandle copy = Pidfd.GetFd(pidfd, pid, fd);
        try
        {
            Verify(copy, pid, fd, expectedInode);
            return new RemoteSocket(copy, pid, fd, expectedInode);
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>The local address and port of the socket (getsockname).</summary>
    public (string Address, int Port) LocalEndPoint() => Name(peer: false);

    /// <summary>The peer's address and port (getpeername); the family's any-address and 0 when not connected (LISTEN).</summary>
    public (string Address, int Port) RemoteEndPoint() => Name(peer: true);

    /// <summary>The TCP state from TCP_INFO (tcpi_state), e.g. "Established", "Listen".</summary>
    public unsafe string TcpStateName()
    {
        const int IPPROTO_TCP = 6, TCP_INFO = 11;
        byte* info = stackalloc byte[8];
        uint length = 8;
        bool added = false;
        try
        {
            Handle.DangerousAddRef(ref added);
            if (Libc.GetSockOpt(LocalFd, IPPROTO_TCP, TCP_INFO, info, &length) != 0 || length < 1)
            {
                return "Unknown";
            }
        }
        finally
        {
            if (added)
            {
                Handle.DangerousRelease();
            }
        }

        return StateName(info[0]);
    }

    /// <summary>
    /// Kernel TCP state numbers (include/net/tcp_states.h) as the <see cref="Connections.TcpState"/> names Get-TcpConnection
    /// shows ("Established", "Closed", "Listen"), so results and listings use one set of words; TCP_NEW_SYN_RECV is
    /// SynReceived there too.
    /// </summary>
    public static string StateName(int state) => state switch
    {
        >= (int)Connections.TcpState.Established and <= (int)Connections.TcpState.Closing => ((Connections.TcpState)state).ToString(),
        Connections.TcpConnectionFactory.TcpNewSynRecv => nameof(Connections.TcpState.SynReceived),
        _ => "Unknown",
    };

    public void Dispose() => Handle.Dispose();

    private unsafe (string Address, int Port) Name(bool peer)
    {
        byte* buffer = stackalloc byte[128];
        uint length = 128;
        bool added = false;
        int result;
        int errno = 0;
        try
        {
            Handle.DangerousAddRef(ref added);
            result = peer ? Libc.GetPeerName(LocalFd, buffer, &length) : Libc.GetSockName(LocalFd, buffer, &length);
            if (result != 0)
            {
                errno = Libc.LastErrno;
            }
        }
        finally
        {
            if (added)
            {
                Handle.DangerousRelease();
            }
        }

        if (result != 0)
        {
            if (peer && errno == Errno.ENOTCONN)
            {
                var local = Name(peer: false);
                return (local.Address.Contains(':') ? "::" : "0.0.0.0", 0);
            }

            throw Errno.ToException(errno, "Socket", $"read the {(peer ? "peer" : "local")} address of descriptor {Fd} of process {Pid}", Pid);
        }

        return Decode(new ReadOnlySpan<byte>(buffer, (int)Math.Min(length, 128u)));
    }

    /// <summary>Decodes a sockaddr_in or sockaddr_in6.</summary>
    internal static (string Address, int Port) Decode(ReadOnlySpan<byte> sockaddr)
    {
        const int AF_INET = 2, AF_INET6 = 10;
        if (sockaddr.Length < 2)
        {
            throw new KeepaliveDataException("Socket", $"A socket address of {sockaddr.Length} bytes is too short.");
        }

        int family = sockaddr[0] | (sockaddr[1] << 8);
        if (family == AF_INET && sockaddr.Length >= 8)
        {
            int port = (sockaddr[2] << 8) | sockaddr[3];
            return (new IPAddress(sockaddr.Slice(4, 4)).ToString(), port);
        }

        if (family == AF_INET6 && sockaddr.Length >= 24)
        {
            int port = (sockaddr[2] << 8) | sockaddr[3];
            return (new IPAddress(sockaddr.Slice(8, 16)).ToString(), port);
        }

        throw new KeepaliveDataException("Socket", $"A socket address of family {family} ({sockaddr.Length} bytes) is not an IPv4 or IPv6 address.");
    }

    private static unsafe void Verify(SafeFileHandle copy, int pid, int fd, ulong expectedInode)
    {
        // struct stat: st_ino is at offset 8 everywhere; st_mode follows st_nlink (8 bytes) on x86-64 and
        // precedes it (4 bytes) on the generic layout (arm64).
        int modeOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 24 : 16;
        byte* stat = stackalloc byte[256];
        int copyFd = (int)copy.DangerousGetHandle();
        if (Libc.FStat(copyFd, stat) != 0)
        {
            throw Errno.Last("Socket", $"check descriptor {fd} of process {pid} with fstat", pid);
        }

        ulong inode = *(ulong*)(stat + 8);
        int mode = *(int*)(stat + modeOffset);
        if ((mode & S_IFMT) != S_IFSOCK)
        {
            throw new KeepaliveInvalidTargetException(
                "Socket",
                $"Descriptor {fd} of process {pid} is no longer socket:[{expectedInode}] (it is not a socket now); it was left untouched.",
                pid,
                0);
        }

        if (inode != expectedInode)
        {
            throw new KeepaliveInvalidTargetException(
                "Socket",
                $"Descriptor {fd} of process {pid} is now socket:[{inode}], no longer socket:[{expectedInode}]; it was left untouched.",
                pid,
                0);
        }
    }
}
