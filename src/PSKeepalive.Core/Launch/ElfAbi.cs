using System;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;

namespace PSKeepalive.Core.Launch;

/// <summary>How an ELF file's ABI relates to the machine PSKeepalive runs on (and its shim and launcher are built for).</summary>
internal enum ElfAbiKind
{
    /// <summary>This machine's own ABI (or one PSKeepalive does not judge).</summary>
    Native,

    /// <summary>The machine's other ABI that the kernel runs directly: i386 and x32 on x86_64, arm32 on aarch64.</summary>
    Compat,

    /// <summary>Another machine altogether: runs only under an emulator.</summary>
    ForeignMachine,
}

/// <summary>Reads e_ident[EI_CLASS] and e_machine from an ELF header (at least 20 bytes, magic already checked).</summary>
internal static class ElfAbi
{
    private const ushort EmI386 = 3;
    private const ushort EmArm = 40;
    private const ushort EmX8664 = 62;
    private const ushort EmAarch64 = 183;

    /// <summary>The ABI name of this process ("x86_64", "aarch64", ...).</summary>
    public static string NativeName => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => "x86_64",
        Architecture.Arm64 => "aarch64",
        Architecture.X86 => "i386",
        Architecture.Arm => "arm32",
        Architecture other => other.ToString().ToLowerInvariant(),
    };

    /// <summary>"x86_64", "x32", "i386", "aarch64", "arm32", or "ELF machine N".</summary>
    public static string Name(byte[] head)
    {
        ushort machine = Machine(head);
        return machine switch
        {
            EmX8664 => Is64(head) ? "x86_64" : "x32",
            EmI386 => "i386",
            EmAarch64 => "aarch64",
            EmArm => "arm32",
            _ => "ELF machine " + machine.ToString(CultureInfo.InvariantCulture),
        };
    }

    public static ElfAbiKind Classify(byte[] head)
    {
        ushort machine = Machine(head);
        bool is64 = Is64(head);
        return RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 when machine == EmX8664 && is64 => ElfAbiKind.Native,
            Architecture.X64 when machine == EmI386 || machine == EmX8664 => ElfAbiKind.Compat,
            Architecture.Arm64 when machine == EmAarch64 && is64 => ElfAbiKind.Native,
            Architecture.Arm64 when machine == EmArm => ElfAbiKind.Compat,
            Architecture.X64 or Architecture.Arm64 => ElfAbiKind.ForeignMachine,
            _ => ElfAbiKind.Native, // elsewhere nothing is known about the shim's reach: leave it to the loader
        };
    }

    private static bool Is64(byte[] head) => head[4] == 2;

    private static ushort Machine(byte[] head) =>
        head[5] == 2 ? BinaryPrimitives.ReadUInt16BigEndian(head.AsSpan(18)) : BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(18));
}
