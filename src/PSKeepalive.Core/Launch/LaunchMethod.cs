namespace PSKeepalive.Core.Launch;

/// <summary>How a program started with keepalive gets its socket options.</summary>
public enum LaunchMethod
{
    /// <summary>
    /// The LD_PRELOAD shim libpskeepalive.so: no supervisor, no cost beyond a few setsockopt calls, but only for
    /// dynamically linked programs that call socket()/connect()/listen() through the C library.
    /// </summary>
    Preload,

    /// <summary>
    /// The seccomp user-notification launcher pskeepalive-seccomp: a supervisor process sets the options at each
    /// connect()/listen() of the whole process tree. Reaches statically linked programs and raw system calls (Go);
    /// needs Linux 5.6 on x86_64 or aarch64, and sets no_new_privs unless started with CAP_SYS_ADMIN.
    /// </summary>
    Seccomp,

    /// <summary>
    /// Cgroup where it is available (root, cgroup v2, cgroup BPF); otherwise Preload when LD_PRELOAD reaches the
    /// program, Seccomp when it cannot (static, Go, or set-ID when privileged).
    /// </summary>
    Auto,

    /// <summary>
    /// A new child cgroup with a keepalive policy (a BPF sock_ops program, see Policy/): the kernel sets the options on
    /// every TCP connection of the program and its children, whatever the program is; no process in between, no cost
    /// beyond the options themselves. Needs root, cgroup v2 and Linux 5.9.
    /// </summary>
    Cgroup,
}
