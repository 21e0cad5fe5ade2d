using System;
using System.Collections.Generic;
using System.IO;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Launch;
using PSKeepalive.Tests.Preload;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Seccomp;

/// <summary>
/// Programs of another ABI than the launcher's own: i386 (static glibc makes its socket calls through socketcall(),
/// dynamic ones cannot load the 64-bit shim), x32 system calls, and ELF files for another machine. None may end up
/// started silently without keepalive.
/// </summary>
public sealed class ForeignAbiTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static readonly Dictionary<string, string> Options = new()
    {
        ["PSKEEPALIVE_IDLE"] = "23",
        ["PSKEEPALIVE_INTERVAL"] = "4",
        ["PSKEEPALIVE_COUNT"] = "5",
        ["PSKEEPALIVE_DEBUG"] = "1",
    };

    [I386Fact]
    public void I386Static_UnderRunAuto_GetsKeepaliveOnConnectAndListen()
    {
        CliResult result = CliRunner.Run(["run", "--method", "auto", "--idle", "23", "--", I386Programs.StaticSockProbe, "tcp4", "listener"], Bound);

        Assert.True(result.ExitCode == 0, result.ToString());
        var run = new ProgramRun(result.ExitCode, result.StandardOutput, result.StandardError);
        Assert.Equal((1, 23), (run["tcp4"]["so_keepalive"], run["tcp4"]["idle"]));
        Assert.Equal((1, 23), (run["accepted"]["so_keepalive"], run["accepted"]["idle"]));
        if (!CgroupLauncher.CheckSupport().IsSupported)
        {
            // Seccomp sets the options at listen(); where Auto chooses a cgroup policy, it sets them on the
            // connections the listener accepts instead, and leaves the listening socket as it is.
            Assert.Equal((1, 23), (run["listener"]["so_keepalive"], run["listener"]["idle"]));
        }
    }

    [I386Theory]
    [InlineData("outgoing", 1, 0)]
    [InlineData("listening", 0, 1)]
    public void I386Static_Socketcall_IsCoveredByMode(string mode, int client, int listener)
    {
        var options = new Dictionary<string, string>(Options) { ["PSKEEPALIVE_MODE"] = mode };
        LauncherResult result = LauncherProcess.Run(options, Bound, I386Programs.StaticSockProbe, "tcp4", "listener");

        Assert.True(result.ExitCode == 0, result.ToString());
        var run = new ProgramRun(result.ExitCode, result.StandardOutput, result.StandardError);
        Assert.Equal(client, run["tcp4"]["so_keepalive"]);
        Assert.Equal(listener, run["listener"]["so_keepalive"]);
        Assert.Contains("i386 " + (client == 1 ? "connect" : "listen"), result.StandardError, StringComparison.Ordinal);
    }

    [I386Fact]
    public void I386_DirectConnectAndListenCalls_AreCovered()
    {
        LauncherResult result = LauncherProcess.Run(Options, Bound, I386Programs.DirectCalls);

        Assert.True(result.ExitCode == 0, result.ToString());
        var run = new ProgramRun(result.ExitCode, result.StandardOutput, result.StandardError);
        Assert.Equal((1, 23), (run["direct-client"]["so_keepalive"], run["direct-client"]["idle"]));
        Assert.Equal((1, 23), (run["direct-listener"]["so_keepalive"], run["direct-listener"]["idle"]));
    }

    [I386Fact]
    public void I386Dynamic_UnderPreload_IsRefusedWithTheReason_AndAutoReachesIt()
    {
        // ld.so would print "wrong ELF class: ELFCLASS64 ... ignored" and start the program without the shim.
        CliResult refused = CliRunner.Run(["run", "--idle", "23", "--", I386Programs.DynamicSockProbe, "tcp4"], Bound);
        CliResult auto = CliRunner.Run(["run", "--method", "auto", "--idle", "23", "--", I386Programs.DynamicSockProbe, "tcp4"], Bound);

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("[ProgramInvalidTarget]", refused.StandardError, StringComparison.Ordinal);
        Assert.Contains("32-bit", refused.StandardError, StringComparison.Ordinal);
        Assert.Contains("--method seccomp", refused.StandardError, StringComparison.Ordinal);
        Assert.Equal(string.Empty, refused.StandardOutput);
        Assert.True(auto.ExitCode == 0, auto.ToString());
        Assert.Contains("tcp4 so_keepalive=1 idle=23", auto.StandardOutput, StringComparison.Ordinal);
    }

    [X64Fact]
    public void X32SystemCalls_AreNotifiedToo()
    {
        // connect() with the x32 bit (0x40000000 | 42): the kernel may lack x32 support (ENOSYS), but the filter
        // sees the call first and must not let it pass unseen.
        LauncherResult result = LauncherProcess.Run(Options, Bound, I386Programs.X32Connect);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("x32 connect(", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("x32-connect so_keepalive=1", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void ElfForAnotherMachine_IsRefusedByEveryMethod_NamingTheMachine()
    {
        string directory = CCompiler.NewDirectory();
        string foreign = Path.Combine(directory, "foreign-machine");
        byte[] elf = File.ReadAllBytes(PreloadPrograms.SockProbe);
        BitConverter.TryWriteBytes(elf.AsSpan(18, 2), (ushort)(RuntimeIsArm64 ? 62 : 183)); // EM_X86_64 or EM_AARCH64
        File.WriteAllBytes(foreign, elf);
        File.SetUnixFileMode(foreign, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        foreach (LaunchMethod method in new[] { LaunchMethod.Preload, LaunchMethod.Seccomp, LaunchMethod.Auto })
        {
            var e = Assert.Throws<KeepaliveInvalidTargetException>(() => PreloadLauncher.Prepare(new KeepaliveLaunchRequest(foreign, []) { Method = method }));
            Assert.Contains(RuntimeIsArm64 ? "x86_64" : "aarch64", e.Message, StringComparison.Ordinal);
        }
    }

    private static bool RuntimeIsArm64 =>
        System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64;
}

/// <summary>Test programs for another ABI, compiled once per run (i386 ones with gcc -m32, which needs gcc-multilib).</summary>
public static class I386Programs
{
    private static readonly Lazy<(string? Static, string? Dynamic, string? Direct, string Reason)> Compiled = new(CompileAll);

    private static readonly Lazy<string> X32ConnectBinary = new(() => CCompiler.Compile(X32Source, "x32-connect", "-static"));

    public static string StaticSockProbe => Compiled.Value.Static ?? throw new InvalidOperationException(Compiled.Value.Reason);

    public static string DynamicSockProbe => Compiled.Value.Dynamic ?? throw new InvalidOperationException(Compiled.Value.Reason);

    public static string DirectCalls => Compiled.Value.Direct ?? throw new InvalidOperationException(Compiled.Value.Reason);

    public static string X32Connect => X32ConnectBinary.Value;

    /// <summary>Null when every i386 program could be built and run here; else why not.</summary>
    public static string? Unavailable
    {
        get
        {
            if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
            {
                return "x86_64 only: it runs i386 programs.";
            }

            var compiled = Compiled.Value;
            return compiled.Static is null || compiled.Dynamic is null || compiled.Direct is null ? compiled.Reason : null;
        }
    }

    private static (string?, string?, string?, string) CompileAll()
    {
        try
        {
            string source = File.ReadAllText(PreloadPrograms.Fixture("sockprobe.c"));
            string statik = CCompiler.Compile(source, "sockprobe-i386-static", "-m32", "-static");
            string dynamic = CCompiler.Compile(source, "sockprobe-i386", "-m32");
            string direct = CCompiler.Compile(DirectSource, "direct-i386", "-m32", "-static");
            CCompiler.RunToCompletion(dynamic, TimeSpan.FromSeconds(10), "udp");
            return (statik, dynamic, direct, string.Empty);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            return (null, null, null, "Cannot build or run i386 programs here (gcc -m32 needs gcc-multilib, and the kernel IA32 emulation): " + e.Message.Split('\n')[0]);
        }
    }

    /// <summary>i386 connect (362) and listen (363) as direct system calls rather than socketcall().</summary>
    private const string DirectSource = """
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void print(const char *name, int fd)
{
    int ka = -1, idle = -1;
    socklen_t len = sizeof(ka);
    getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &ka, &len);
    len = sizeof(idle);
    getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len);
    printf("%s so_keepalive=%d idle=%d\n", name, ka, idle);
}

int main(void)
{
    struct sockaddr_in a = { 0 };
    socklen_t len = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || syscall(SYS_listen, l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) != 0 || syscall(SYS_connect, c, &a, sizeof(a)) != 0) {
        perror("direct-i386");
        return 1;
    }
    print("direct-listener", l);
    print("direct-client", c);
    return 0;
}
""";

    /// <summary>An x86_64 program whose connect() carries the x32 bit; if the kernel refuses x32, it connects natively.</summary>
    private const string X32Source = """
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    struct sockaddr_in a = { 0 };
    socklen_t len = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), ka = -1;
    long r;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 || getsockname(l, (struct sockaddr *)&a, &len) != 0)
        return 1;
    r = syscall(0x40000000L | SYS_connect, c, &a, sizeof(a));
    fprintf(stderr, "x32 connect returned %ld (errno %d)\n", r, r == 0 ? 0 : errno);
    len = sizeof(ka);
    getsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &ka, &len);
    printf("x32-connect so_keepalive=%d\n", ka);
    return 0;
}
""";
}

/// <summary>A fact that runs i386 programs; skipped with the reason where they cannot be built or run.</summary>
public sealed class I386FactAttribute : FactAttribute
{
    public I386FactAttribute()
    {
        if (I386Programs.Unavailable is string reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A theory that runs i386 programs; see <see cref="I386FactAttribute"/>.</summary>
public sealed class I386TheoryAttribute : TheoryAttribute
{
    public I386TheoryAttribute()
    {
        if (I386Programs.Unavailable is string reason)
        {
            Skip = reason;
        }
    }
}
