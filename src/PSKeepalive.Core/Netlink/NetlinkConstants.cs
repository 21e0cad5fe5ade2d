namespace PSKeepalive.Core.Netlink;

/// <summary>
/// Constants and alignment rules of linux/netlink.h and linux/rtnetlink.h. Every length read from the
/// kernel is rounded with these helpers, never by hand, as NLMSG_ALIGN/NLA_ALIGN/RTA_ALIGN do.
/// </summary>
public static class NetlinkConstants
{
    /// <summary>NETLINK_SOCK_DIAG: the protocol of sock_diag (linux/netlink.h).</summary>
    public const int ProtocolSockDiag = 4;

    /// <summary>NLMSG_ALIGNTO, NLA_ALIGNTO and RTA_ALIGNTO are all 4.</summary>
    public const int AlignTo = 4;

    /// <summary>sizeof(struct nlmsghdr) = NLMSG_HDRLEN.</summary>
    public const int HeaderLength = 16;

    /// <summary>sizeof(struct rtattr) = RTA_LENGTH(0) (struct nlattr has the same layout).</summary>
    public const int AttributeHeaderLength = 4;

    /// <summary>sizeof(struct nlmsgerr) without the echoed request's payload: int error + struct nlmsghdr.</summary>
    public const int ErrorLength = 4 + HeaderLength;

    // nlmsg_type values below NLMSG_MIN_TYPE (0x10) are control messages.
    public const ushort MessageNoop = 1;
    public const ushort MessageError = 2;
    public const ushort MessageDone = 3;
    public const ushort MessageOverrun = 4;

    // nlmsg_flags.
    public const ushort FlagRequest = 0x1;
    public const ushort FlagMulti = 0x2;
    public const ushort FlagAck = 0x4;
    public const ushort FlagEcho = 0x8;
    public const ushort FlagDumpInterrupted = 0x10;
    public const ushort FlagDumpFiltered = 0x20;
    public const ushort FlagRoot = 0x100;
    public const ushort FlagMatch = 0x200;
    public const ushort FlagDump = FlagRoot | FlagMatch;

    // Flags of an NLMSG_ERROR message (acknowledgements).
    public const ushort FlagCapped = 0x100;
    public const ushort FlagAckTlvs = 0x200;

    /// <summary>NLMSGERR_ATTR_MSG: the extended ack's human-readable message.</summary>
    public const ushort ErrorAttributeMessage = 1;

    /// <summary>NLMSG_ALIGN(len): rounds up to the next multiple of 4.</summary>
    public static int Align(int length) => (length + AlignTo - 1) & ~(AlignTo - 1);

    /// <summary>NLA_ALIGN / RTA_ALIGN: the same rounding, for attributes.</summary>
    public static int AlignAttribute(int length) => Align(length);
}
