namespace PSKeepalive.Core.Launch;

/// <summary>Whether this machine can run programs in seccomp mode, and why not.</summary>
/// <param name="IsSupported">True when the kernel and architecture have what pskeepalive-seccomp needs.</param>
/// <param name="KernelRelease">The running kernel ("6.1.0-27-amd64").</param>
/// <param name="Architecture">The process architecture ("X64", "Arm64").</param>
/// <param name="Reason">Why seccomp mode is unavailable, naming the kernel version needed; null when supported.</param>
public sealed record SeccompSupportStatus(bool IsSupported, string KernelRelease, string Architecture, string? Reason);
