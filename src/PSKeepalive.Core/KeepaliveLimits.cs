using PSKeepalive.Core.Errors;

namespace PSKeepalive.Core;

/// <summary>
/// The kernel's per-socket limits (tcp(7), checked in ../shared/kernel-notes.md), used as the valid range
/// everywhere: sysctls (which the kernel itself does not range-check), socket options, the shim's
/// environment and the cmdlets' ValidateRange attributes. Constants, so that attributes can name them.
/// </summary>
public static class KeepaliveLimits
{
    /// <summary>TCP_KEEPIDLE and net.ipv4.tcp_keepalive_time, seconds.</summary>
    public const int MinIdle = 1;
    public const int MaxIdle = 32767;

    /// <summary>TCP_KEEPINTVL and net.ipv4.tcp_keepalive_intvl, seconds.</summary>
    public const int MinInterval = 1;
    public const int MaxInterval = 32767;

    /// <summary>TCP_KEEPCNT and net.ipv4.tcp_keepalive_probes.</summary>
    public const int MinCount = 1;
    public const int MaxCount = 127;

    /// <summary>TCP_USER_TIMEOUT, milliseconds; 0 means the system default.</summary>
    public const int MinUserTimeout = 0;
    public const int MaxUserTimeout = int.MaxValue;

    public static void CheckIdle(int value, string parameterName, string subject) =>
        CheckRange(value, MinIdle, MaxIdle, "seconds", parameterName, subject);

    public static void CheckInterval(int value, string parameterName, string subject) =>
        CheckRange(value, MinInterval, MaxInterval, "seconds", parameterName, subject);

    public static void CheckCount(int value, string parameterName, string subject) =>
        CheckRange(value, MinCount, MaxCount, "probes", parameterName, subject);

    public static void CheckUserTimeout(int value, string parameterName, string subject) =>
        CheckRange(value, MinUserTimeout, MaxUserTimeout, "milliseconds", parameterName, subject);

    /// <summary>Throws a validation error naming the parameter, the value and the valid range.</summary>
    public static void CheckRange(long value, long minimum, long maximum, string unit, string parameterName, string subject)
    {
        if (value < minimum || value > maximum)
        {
            throw new KeepaliveValidationException(
                subject,
                parameterName,
                $"{parameterName} must be between {minimum} and {maximum} {unit}; {value} is outside that range.",
                value);
        }
    }
}
