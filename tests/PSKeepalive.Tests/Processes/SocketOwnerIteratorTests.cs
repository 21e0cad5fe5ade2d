using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using PSKeepalive.Core.Processes;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Processes;

/// <summary>
/// The owner scan in the kernel (a BPF task_file iterator, root only) against the /proc/*/fd walk: the same
/// owners for the same sockets, a descriptor shared by two file tables listed once, and the fallback.
/// </summary>
[Collection(nameof(SocketOwnerIteratorTests))]
public sealed class SocketOwnerIteratorTests
{
    [RootFact]
    public void KernelIterator_FindsTheSameOwnersAsTheProcWalk()
    {
        using var listener = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        listener.Listen(4);
        using var client = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        using Socket server = listener.Accept();
        ulong[] inodes = new[] { listener, client, server }.Select(InodeOf).ToArray();

        SocketOwnerMap byKernel = SocketOwnerScan.Scan();
        SocketOwnerMap byWalk = WithoutIterator(() => SocketOwnerScan.Scan());

        Assert.True(byKernel.ByKernelIterator, "as root, with kernel BTF, the scan should run in the kernel");
        Assert.False(byWalk.ByKernelIterator);
        foreach (ulong inode in inodes)
        {
            Assert.Equal(byWalk.Owners(inode), byKernel.Owners(inode));
            Assert.Contains((Environment.ProcessId, FdOf(inode, new[] { listener, client, server })), byKernel.Owners(inode));
        }

        // What root may not read in /proc (the ptrace check: PID 1 here, in some containers) the kernel's view
        // leaves out too, counted and named alike.
        Assert.Equal(byWalk.DeniedPids, byKernel.DeniedPids);
        Assert.Equal(byWalk.ProcessesDenied, byKernel.ProcessesDenied);
        Assert.Equal(!CanReadLinks("/proc/1/fd"), byKernel.DeniedPids.Contains(1));
        Assert.True(byKernel.ProcessesScanned > 1);
        Assert.True(byKernel.DescriptorsScanned > byKernel.SocketCount, "every descriptor is looked at, sockets or not");
        Assert.InRange(byKernel.SocketCount, byWalk.SocketCount / 2, (byWalk.SocketCount * 2) + 100); // the host's sockets come and go between the two scans
    }

    [RootFact]
    public void DescriptorInTwoFileTablesOfOneProcess_IsListedOnce()
    {
        // A thread that unshares its file table holds a copy of every descriptor: the kernel iterator visits
        // both tables (/proc/PID/fd shows the leader's only); the owner is still one (pid, fd).
        const string Source = """
            #define _GNU_SOURCE
            #include <pthread.h>
            #include <sched.h>
            #include <stdio.h>
            #include <sys/socket.h>
            #include <sys/stat.h>
            #include <unistd.h>
            static void *own_table(void *arg) {
                (void)arg;
                if (unshare(CLONE_FILES) != 0) { perror("unshare"); return NULL; }
                printf("ready\n"); fflush(stdout);
                pause();
                return NULL;
            }
            int main(void) {
                int s = socket(AF_INET, SOCK_STREAM, 0);
                struct stat st; fstat(s, &st);
                printf("%d %lu\n", s, (unsigned long)st.st_ino); fflush(stdout);
                pthread_t thread; pthread_create(&thread, NULL, own_table, NULL);
                getchar();
                return 0;
            }
            """;
        string program = CCompiler.Compile(Source, "two_file_tables", "-pthread");
        var start = new ProcessStartInfo(program) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        using Process child = Process.Start(start)!;
        try
        {
            string[] socket = ReadLine(child).Split(' ');
            Assert.Equal("ready", ReadLine(child));
            (int fd, ulong inode) = (int.Parse(socket[0]), ulong.Parse(socket[1]));

            SocketOwnerMap map = SocketOwnerScan.Scan();

            Assert.True(map.ByKernelIterator);
            Assert.Equal(new[] { (child.Id, fd) }, map.Owners(inode));
        }
        finally
        {
            child.StandardInput.Close();
            if (!child.WaitForExit(5000))
            {
                child.Kill();
                child.WaitForExit(5000);
            }
        }
    }

    [Fact]
    public void Unprivileged_TheWalkIsUsed()
    {
        SocketOwnerMap map = Unprivileged.RunWithoutPrivilege(() => SocketOwnerScan.Scan());

        Assert.False(map.ByKernelIterator);
    }

    [Fact]
    public void Program_EncodesAsTheKernelsMacrosDo()
    {
        byte[] code = PSKeepalive.Core.Bpf.InstructionEncoder.Encode(SocketOwnerIterator.Program(taskTgid: 1268, fileInode: 32, inodeMode: 0, inodeNumber: 64));

        // BPF_MOV64_REG(BPF_REG_6, BPF_REG_1); BPF_LDX_MEM(BPF_DW, BPF_REG_7, BPF_REG_6, 0); BPF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_6, 24)
        Assert.Equal(Convert.FromHexString("bf16000000000000" + "7967000000000000" + "7962180000000000"), code[..24]);
        // BPF_JMP_IMM(BPF_JEQ, BPF_REG_2, 0, +14): to the trailer
        Assert.Equal(Convert.FromHexString("15020e0000000000"), code[24..32]);
        // BPF_LDX_MEM(BPF_W, BPF_REG_5, BPF_REG_3, 1268): task->tgid
        Assert.Contains("6135f40400000000", Convert.ToHexString(code).ToLowerInvariant());
        // ... BPF_EMIT_CALL(BPF_FUNC_seq_write), BPF_MOV64_IMM(BPF_REG_0, 0), BPF_EXIT_INSN()
        Assert.Equal(Convert.FromHexString("850000007f000000" + "b700000000000000" + "9500000000000000"), code[^24..]);
        Assert.Equal(29 * 8, code.Length);
    }

    [Fact]
    public void KernelBtf_GivesTheOffsetsBpftoolShows()
    {
        using KernelBtf? btf = KernelBtf.Open();
        Assert.NotNull(btf);
        string? raw = Bpftool("btf dump file /sys/kernel/btf/vmlinux format raw");
        Assert.True(btf!.Find(KernelBtf.KindFunction, "bpf_iter_task_file"u8) > 0);
        foreach ((string structure, string member, int size) in new[] { ("task_struct", "tgid", 4), ("file", "f_inode", 8), ("inode", "i_mode", 2), ("inode", "i_ino", 8) })
        {
            Assert.True(btf.TryMember(System.Text.Encoding.ASCII.GetBytes(structure), System.Text.Encoding.ASCII.GetBytes(member), out int offset, out int memberSize), $"{structure}.{member}");
            Assert.Equal(size, memberSize);
            if (raw is not null)
            {
                Assert.Equal(BpftoolOffset(raw, structure, member), offset);
            }
        }

        Assert.False(btf.TryMember("task_struct"u8, "no_such_member"u8, out _, out _));
        Assert.Equal(-1, btf.Find(KernelBtf.KindStruct, "no_such_struct_pskeepalive"u8));
    }

    [Fact]
    public void KernelBtf_ReadsAHandMadeBlob_AndRefusesBrokenOnes()
    {
        // Strings: "\0int\0s\0a\0b\0c\0"; types: [1] INT "int" size 4; [2] STRUCT "s" size 12, kind_flag, members
        // a (int, bit 0), b (int, bit 32), c (int, a 3-bit bitfield at bit 64).
        byte[] strings = "\0int\0s\0a\0b\0c\0"u8.ToArray();
        byte[] types = Concat(
            Type(1, (1u << 24) | 0, 4), Int(0x20),
            Type(5, (1u << 31) | (4u << 24) | 3, 12), Member(7, 1, 0), Member(9, 1, 32), Member(11, 1, (3u << 24) | 64));
        string good = WriteBtf(Header(types.Length, strings.Length), types, strings);
        using (KernelBtf? btf = KernelBtf.Open(good))
        {
            Assert.NotNull(btf);
            Assert.Equal(2, btf!.Find(KernelBtf.KindStruct, "s"u8));
            Assert.True(btf.TryMember("s"u8, "b"u8, out int offset, out int size));
            Assert.Equal((4, 4), (offset, size));
            Assert.False(btf.TryMember("s"u8, "c"u8, out _, out _)); // a bitfield
        }

        Assert.Null(KernelBtf.Open(WriteBtf(Header(types.Length, strings.Length)[..20])));                    // short header
        Assert.Null(KernelBtf.Open(WriteBtf(new byte[] { 0x9f, 0xeb - 1 }.Concat(Header(types.Length, strings.Length)[2..]).ToArray(), types, strings))); // magic
        Assert.Null(KernelBtf.Open(WriteBtf(Header(types.Length + 4, strings.Length), types, strings)));     // types run past the end
        Assert.Null(KernelBtf.Open(WriteBtf(Header(types.Length - 4, strings.Length), types[..^4], strings))); // a member cut off
        Assert.Null(KernelBtf.Open(WriteBtf(Header(12, strings.Length), Type(1, 31u << 24, 0), strings)));    // an unknown kind
        Assert.Null(KernelBtf.Open(Path.Combine(CCompiler.NewDirectory(), "missing")));
    }

    /// <summary>Whether this process may read the fd links of a process (/proc lists them even where the ptrace check refuses the links).</summary>
    private static bool CanReadLinks(string directory)
    {
        try
        {
            string? first = Directory.EnumerateFileSystemEntries(directory).FirstOrDefault();
            return first is null || new FileInfo(first).LinkTarget is not null;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return false;
        }
    }

    private static SocketOwnerMap WithoutIterator(Func<SocketOwnerMap> scan)
    {
        SocketOwnerIterator.Enabled = false;
        try
        {
            return scan();
        }
        finally
        {
            SocketOwnerIterator.Enabled = true;
        }
    }

    private static ulong InodeOf(Socket socket)
    {
        Assert.True(SocketOwnerScan.TryParseSocketInode(System.Text.Encoding.ASCII.GetBytes(new FileInfo($"/proc/self/fd/{(int)socket.Handle}").LinkTarget!), out ulong inode));
        return inode;
    }

    private static int FdOf(ulong inode, Socket[] sockets) => (int)sockets.Single(s => InodeOf(s) == inode).Handle;

    private static string ReadLine(Process child)
    {
        Task<string?> line = child.StandardOutput.ReadLineAsync();
        Assert.True(line.Wait(TimeSpan.FromSeconds(20)), "the helper did not answer within 20 s");
        return line.Result ?? throw new InvalidOperationException("the helper ended early");
    }

    private static string? Bpftool(string arguments)
    {
        try
        {
            var start = new ProcessStartInfo("bpftool", arguments) { RedirectStandardOutput = true, UseShellExecute = false };
            using Process process = Process.Start(start)!;
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            return process.WaitForExit(60_000) && process.ExitCode == 0 ? output.Result : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // bpftool is not installed: the offsets are still checked by the verifier in the tests above
        }
    }

    private static int BpftoolOffset(string raw, string structure, string member)
    {
        Match block = Regex.Match(raw, $@"STRUCT '{structure}' size=\d+ vlen=\d+\n((?:\t.*\n)+)");
        Assert.True(block.Success, $"bpftool shows no STRUCT '{structure}'");
        Match field = Regex.Match(block.Groups[1].Value, $@"'{member}' type_id=\d+ bits_offset=(\d+)");
        Assert.True(field.Success, $"bpftool shows no {structure}.{member}");
        return int.Parse(field.Groups[1].Value) / 8;
    }

    private static byte[] Header(int typeLength, int stringLength)
    {
        var header = new byte[24];
        BitConverter.GetBytes((ushort)0xeb9f).CopyTo(header, 0);
        header[2] = 1;
        BitConverter.GetBytes(24u).CopyTo(header, 4);
        BitConverter.GetBytes(0u).CopyTo(header, 8);
        BitConverter.GetBytes((uint)typeLength).CopyTo(header, 12);
        BitConverter.GetBytes((uint)typeLength).CopyTo(header, 16);
        BitConverter.GetBytes((uint)stringLength).CopyTo(header, 20);
        return header;
    }

    private static byte[] Type(uint nameOffset, uint info, uint sizeOrType) => Concat(BitConverter.GetBytes(nameOffset), BitConverter.GetBytes(info), BitConverter.GetBytes(sizeOrType));

    private static byte[] Int(uint encoding) => BitConverter.GetBytes(encoding);

    private static byte[] Member(uint nameOffset, uint type, uint offset) => Type(nameOffset, type, offset);

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    private static string WriteBtf(params byte[][] parts)
    {
        string path = Path.Combine(CCompiler.NewDirectory(), "btf");
        File.WriteAllBytes(path, Concat(parts));
        return path;
    }
}
