using System;
using System.Globalization;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Policy;

namespace PSKeepalive.Core.Launch;

/// <summary>
/// A program running in its own cgroup with a keepalive policy. Dispose (after the program ended) removes the cgroup,
/// and with it the policy; when processes the program left behind still run there, the cgroup stays for them
/// (<see cref="LeftBehind"/> says so).
/// </summary>
public sealed class CgroupRun : IDisposable
{
    private bool _disposed;

    internal CgroupRun(string cgroup, TcpKeepalivePolicy policy, SpawnedProcess process)
    {
        Cgroup = cgroup;
        Policy = policy;
        Process = process;
    }

    /// <summary>The run cgroup's directory.</summary>
    public string Cgroup { get; }

    /// <summary>The policy attached to it, as read back from the kernel.</summary>
    public TcpKeepalivePolicy Policy { get; }

    /// <summary>The program (its pid is the helper's, which became the program).</summary>
    public SpawnedProcess Process { get; }

    /// <summary>Set by Dispose when the cgroup could not be removed because processes remain in it.</summary>
    public string? LeftBehind { get; private set; }

    /// <summary>Waits for the program in the background, then cleans up (for runs nobody waits for).</summary>
    public void CleanUpWhenDone()
    {
        var watcher = new System.Threading.Thread(() =>
        {
            try
            {
                Process.WaitForExitCode();
            }
            catch (KeepaliveException)
            {
                // Reaped elsewhere: it has ended all the same.
            }

            Dispose();
        })
        {
            IsBackground = true,
            Name = "pskeepalive cgroup run " + Process.Id.ToString(CultureInfo.InvariantCulture),
        };
        watcher.Start();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (Process.HasExited && Libc.RmDir(Cgroup) != 0)
        {
            int errno = Libc.LastErrno;
            if (errno == Errno.EBUSY)
            {
                LeftBehind = $"Processes the program left behind still run in {Cgroup}: its keepalive policy stays for their connections, " +
                             "and the cgroup is removed by a later start once they have ended (or remove it yourself with rmdir).";
            }
            else if (errno != Errno.ENOENT)
            {
                LeftBehind = $"Could not remove the cgroup {Cgroup} ({Errno.Name(errno)}); remove it with rmdir.";
            }
        }

        Process.Dispose();
    }
}
