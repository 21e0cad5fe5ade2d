namespace PSKeepalive.Core.Bpf;

/// <summary>bpf(2) commands Core uses (enum bpf_cmd in include/uapi/linux/bpf.h).</summary>
internal enum BpfCommand
{
    MapCreate = 0,
    MapLookupElement = 1,
    MapUpdateElement = 2,
    ProgramLoad = 5,
    ProgramAttach = 8,
    ProgramDetach = 9,
    ProgramGetNextId = 11,
    ProgramGetFdById = 13,
    MapGetFdById = 14,
    ObjectGetInfoByFd = 15,
    ProgramQuery = 16,
    MapFreeze = 22,
    LinkCreate = 28,
    IteratorCreate = 33,
}

/// <summary>enum bpf_prog_type values Core uses.</summary>
public enum BpfProgramType : uint
{
    SocketOperations = 13,

    /// <summary>BPF_PROG_TYPE_TRACING: with BPF_TRACE_ITER, an iterator program (Processes/SocketOwnerIterator).</summary>
    Tracing = 26,
}

/// <summary>enum bpf_map_type values Core uses.</summary>
public enum BpfMapType : uint
{
    Array = 2,
}

/// <summary>enum bpf_attach_type values Core uses.</summary>
public enum BpfAttachType : uint
{
    CgroupSocketOperations = 3,

    /// <summary>BPF_TRACE_ITER: a tracing program run by a BPF iterator (bpf_iter), attached through a link.</summary>
    TraceIterator = 28,
}

/// <summary>Flags of BPF_PROG_ATTACH (and the attach_flags BPF_PROG_QUERY reports).</summary>
[System.Flags]
public enum BpfAttachFlags : uint
{
    None = 0,

    /// <summary>BPF_F_ALLOW_OVERRIDE: a descendant's program replaces this one for its subtree.</summary>
    AllowOverride = 1,

    /// <summary>BPF_F_ALLOW_MULTI: several programs per cgroup, and descendants' programs run as well as this one.</summary>
    AllowMulti = 2,

    /// <summary>BPF_F_REPLACE: swap the program given by replace_bpf_fd for the new one, atomically.</summary>
    Replace = 4,
}

/// <summary>
/// Offsets into union bpf_attr and the info structs (include/uapi/linux/bpf.h), per command. Checked against the
/// C headers by a test. Every call passes a zeroed buffer of <see cref="Size"/> bytes: fields Core does not set are
/// zero, which is what the kernel expects of unused fields.
/// </summary>
internal static class BpfAttr
{
    /// <summary>
    /// At least sizeof(union bpf_attr) (144 bytes in Linux 6.1, more in later kernels), not only the fields Core
    /// sets: the kernel writes some fields back beyond them (since Linux 6.16, BPF_PROG_QUERY on a cgroup writes
    /// query.revision at offset 56 whatever size was passed). A kernel whose union is smaller accepts the larger
    /// size because the tail is zero.
    /// </summary>
    public const int Size = 256;

    // BPF_MAP_CREATE
    public const int MapType = 0;
    public const int KeySize = 4;
    public const int ValueSize = 8;
    public const int MaxEntries = 12;
    public const int MapFlags = 16;
    public const int MapName = 28;

    // BPF_MAP_*_ELEM
    public const int ElementMapFd = 0;
    public const int ElementKey = 8;
    public const int ElementValue = 16;
    public const int ElementFlags = 24;

    // BPF_PROG_LOAD
    public const int ProgramType = 0;
    public const int InstructionCount = 4;
    public const int Instructions = 8;
    public const int License = 16;
    public const int LogLevel = 24;
    public const int LogSize = 28;
    public const int LogBuffer = 32;
    public const int ProgramName = 48;
    public const int ExpectedAttachType = 68;
    public const int AttachBtfId = 108;

    // BPF_LINK_CREATE
    public const int LinkProgramFd = 0;
    public const int LinkAttachType = 8;

    // BPF_ITER_CREATE
    public const int IteratorLinkFd = 0;

    // BPF_PROG_ATTACH / BPF_PROG_DETACH
    public const int TargetFd = 0;
    public const int AttachBpfFd = 4;
    public const int AttachType = 8;
    public const int AttachFlags = 12;
    public const int ReplaceBpfFd = 16;

    // BPF_*_GET_FD_BY_ID, BPF_PROG_GET_NEXT_ID
    public const int Id = 0;
    public const int NextId = 4;

    // BPF_OBJ_GET_INFO_BY_FD
    public const int InfoBpfFd = 0;
    public const int InfoLength = 4;
    public const int Info = 8;

    // BPF_PROG_QUERY
    public const int QueryTargetFd = 0;
    public const int QueryAttachType = 4;
    public const int QueryFlags = 8;
    public const int QueryAttachFlags = 12;
    public const int QueryProgramIds = 16;
    public const int QueryProgramCount = 24;

    // BPF_MAP_FREEZE
    public const int FreezeMapFd = 0;

    /// <summary>BPF_OBJ_NAME_LEN: object names hold 15 characters and a NUL.</summary>
    public const int ObjectNameLength = 16;

    /// <summary>BPF_TAG_SIZE.</summary>
    public const int TagSize = 8;

    // struct bpf_prog_info
    public const int ProgramInfoType = 0;
    public const int ProgramInfoId = 4;
    public const int ProgramInfoTag = 8;
    public const int ProgramInfoLoadTime = 40;
    public const int ProgramInfoCreatedByUid = 48;
    public const int ProgramInfoMapIdCount = 52;
    public const int ProgramInfoMapIds = 56;
    public const int ProgramInfoName = 64;

    /// <summary>Bytes of struct bpf_prog_info Core reads up to (the name); the buffer passed is larger.</summary>
    public const int ProgramInfoNeeded = ProgramInfoName + ObjectNameLength;

    // struct bpf_map_info
    public const int MapInfoType = 0;
    public const int MapInfoId = 4;
    public const int MapInfoKeySize = 8;
    public const int MapInfoValueSize = 12;
    public const int MapInfoMaxEntries = 16;
    public const int MapInfoFlags = 20;
    public const int MapInfoName = 24;

    public const int MapInfoNeeded = MapInfoName + ObjectNameLength;

    /// <summary>Buffer for either info struct: larger than both in every kernel so far; the kernel fills what it knows.</summary>
    public const int InfoBufferSize = 256;
}
