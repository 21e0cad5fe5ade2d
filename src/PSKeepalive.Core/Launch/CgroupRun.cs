using System;
using System.Globalization;
using System.Linq;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Policy;

namespace PSKeepalive.Core.Launch;

/// <summary>
/// A program running in its own cgroup with a keepalive policy, started by <see cref="CgroupLauncher.Start"/> for a
/// caller that returns while it runs (Start-KeepaliveProcess: -PassThru gives the program itself, and a PowerShell
/// session cannot exec the C launcher as `pskeepalive run` does). Dispose (after the program ended) removes the
/// cgroup, and with it the policy, by the C launcher's rule: processes that end together with the program get a
/// short grace to leave; when processes it left behind still run there, the cgroup stays for them
/// (<see cref="LeftBehind"/> says so) and a later start sweeps it once they have ended.
/// </summary>
public sealed class CgroupRun : IDisposable
{
    /// <summary>How long processes that end together with the program may take to leave (EXIT_GRACE_MS in launcher_cgroup.c).</summary>
    internal static readonly TimeSpan ExitGrace = TimeSpan.FromMilliseconds(200);

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

    /// <summary>The program (its pid is the launcher's, which moved into the cgroup and became the program).</summary>
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
            bool populated = true;
            if (errno == Errno.EBUSY)
            {
                populated = !WaitUntilEmpty(ExitGrace);
                errno = Libc.RmDir(Cgroup) == 0 ? 0 : Libc.LastErrno;
            }

            LeftBehind = errno switch
            {
                0 or Errno.ENOENT => null,
                Errno.EBUSY when populated =>
                    $"Processes the program left behind still run in {Cgroup}: its keepalive policy stays for their connections, " +
                    "and the cgroup is removed by a later start once they have ended (or remove it yourself with rmdir).",
                Errno.EBUSY => $"Could not remove the cgroup {Cgroup}: cgroups made below it remain; remove them and it with rmdir.",
                _ => $"Could not remove the cgroup {Cgroup} ({Errno.Name(errno)}); remove it with rmdir.",
            };
        }

        Process.Dispose();
    }

    /// <summary>True when cgroup.events says "populated 0" within <paramref name="grace"/>.</summary>
    private bool WaitUntilEmpty(TimeSpan grace)
    {
        var deadline = DateTime.UtcNow + grace;
        while (true)
        {
            try
            {
                if (System.IO.File.ReadAllLines(System.IO.Path.Combine(Cgroup, "cgroup.events")).Contains("populated 0"))
                {
                    return true;
                }
            }
            catch (Exception e) when (e is System.IO.IOException or UnauthorizedAccessException)
            {
                return false;
            }

            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            System.Threading.Thread.Sleep(10);
        }
    }
}
