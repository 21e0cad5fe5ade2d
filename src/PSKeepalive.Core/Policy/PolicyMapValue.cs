using System;
using System.Buffers.Binary;

namespace PSKeepalive.Core.Policy;

/// <summary>
/// The one entry of a policy's BPF array map: what the program reads at run time, and what Get reads back from the
/// kernel. Little-endian u32 fields:
/// <code>
///  0 magic 'PSKA'    4 version    8 flags    12 idle    16 interval    20 count    24 user timeout    28 reserved (0)
/// </code>
/// Flags say which connections the policy covers, whether it is forced, and which timers are set (a timer whose
/// flag is clear is left to the sysctl; its field is 0).
/// </summary>
internal static class PolicyMapValue
{
    public const int Size = 32;

    /// <summary>"PSKA" as the bytes 'P' 'S' 'K' 'A' in memory; also the mark a policy leaves in bpf_sock_ops.reply.</summary>
    public const uint Magic = 0x414B5350;

    public const uint Version = 1;

    public const int MagicOffset = 0;
    public const int VersionOffset = 4;
    public const int FlagsOffset = 8;
    public const int IdleOffset = 12;
    public const int IntervalOffset = 16;
    public const int CountOffset = 20;
    public const int UserTimeoutOffset = 24;

    [Flags]
    public enum PolicyFlags : uint
    {
        None = 0,
        Outgoing = 1 << 0,
        Accepted = 1 << 1,
        Force = 1 << 2,
        Idle = 1 << 3,
        Interval = 1 << 4,
        Count = 1 << 5,
        UserTimeout = 1 << 6,
    }

    public static byte[] Encode(KeepalivePolicySettings settings)
    {
        PolicyFlags flags = settings.Mode switch
        {
            KeepalivePolicyMode.Outgoing => PolicyFlags.Outgoing,
            KeepalivePolicyMode.Listening => PolicyFlags.Accepted,
            _ => PolicyFlags.Outgoing | PolicyFlags.Accepted,
        };
        if (settings.Force)
        {
            flags |= PolicyFlags.Force;
        }

        byte[] value = new byte[Size];
        Put(value, IdleOffset, settings.Idle, PolicyFlags.Idle, ref flags);
        Put(value, IntervalOffset, settings.Interval, PolicyFlags.Interval, ref flags);
        Put(value, CountOffset, settings.Count, PolicyFlags.Count, ref flags);
        Put(value, UserTimeoutOffset, settings.UserTimeout, PolicyFlags.UserTimeout, ref flags);
        BinaryPrimitives.WriteUInt32LittleEndian(value.AsSpan(MagicOffset), Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(value.AsSpan(VersionOffset), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(value.AsSpan(FlagsOffset), (uint)flags);
        return value;
    }

    /// <summary>The settings in a map value; null when it is no policy of ours (wrong size, magic, version or flags).</summary>
    public static KeepalivePolicySettings? Decode(ReadOnlySpan<byte> value)
    {
        if (value.Length != Size || U32(value, MagicOffset) != Magic || U32(value, VersionOffset) != Version)
        {
            return null;
        }

        var flags = (PolicyFlags)U32(value, FlagsOffset);
        const PolicyFlags known = PolicyFlags.Outgoing | PolicyFlags.Accepted | PolicyFlags.Force | PolicyFlags.Idle | PolicyFlags.Interval | PolicyFlags.Count | PolicyFlags.UserTimeout;
        if ((flags & ~known) != 0 || (flags & (PolicyFlags.Outgoing | PolicyFlags.Accepted)) == 0)
        {
            return null;
        }

        return new KeepalivePolicySettings
        {
            Mode = (flags & (PolicyFlags.Outgoing | PolicyFlags.Accepted)) switch
            {
                PolicyFlags.Outgoing => KeepalivePolicyMode.Outgoing,
                PolicyFlags.Accepted => KeepalivePolicyMode.Listening,
                _ => KeepalivePolicyMode.All,
            },
            Force = (flags & PolicyFlags.Force) != 0,
            Idle = Get(value, IdleOffset, PolicyFlags.Idle, flags),
            Interval = Get(value, IntervalOffset, PolicyFlags.Interval, flags),
            Count = Get(value, CountOffset, PolicyFlags.Count, flags),
            UserTimeout = Get(value, UserTimeoutOffset, PolicyFlags.UserTimeout, flags),
        };
    }

    private static void Put(byte[] value, int offset, int? field, PolicyFlags flag, ref PolicyFlags flags)
    {
        if (field is int v)
        {
            BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(offset), v);
            flags |= flag;
        }
    }

    private static int? Get(ReadOnlySpan<byte> value, int offset, PolicyFlags flag, PolicyFlags flags) =>
        (flags & flag) != 0 ? (int)U32(value, offset) : null;

    private static uint U32(ReadOnlySpan<byte> value, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(value[offset..]);
}
