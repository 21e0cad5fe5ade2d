using System;
using System.IO;
using System.Linq;
using Xunit;

namespace PSKeepalive.Tests.Preload;

/// <summary>A fact that needs the IPv6 loopback address ::1 (absent where IPv6 is disabled); skipped with that reason otherwise.</summary>
public sealed class Ipv6FactAttribute : FactAttribute
{
    public Ipv6FactAttribute()
    {
        if (!HasIpv6Loopback)
        {
            Skip = "Needs the IPv6 loopback address ::1 (IPv6 is disabled or lo has no ::1 here).";
        }
    }

    public static bool HasIpv6Loopback
    {
        get
        {
            try
            {
                return File.ReadLines("/proc/net/if_inet6").Any(line => line.StartsWith("00000000000000000000000000000001", StringComparison.Ordinal));
            }
            catch (IOException)
            {
                return false;
            }
        }
    }
}
