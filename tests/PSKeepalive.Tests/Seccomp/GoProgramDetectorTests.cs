using System;
using System.IO;
using PSKeepalive.Core.Launch;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Seccomp;

/// <summary>Go programs bypass LD_PRELOAD (own system calls) although they may be dynamically linked: Auto uses seccomp.</summary>
public sealed class GoProgramDetectorTests
{
    private static readonly SeccompSupportStatus Supported = new(true, "6.1.0", "X64", null);

    private static string TemporaryFile(byte[] content)
    {
        string directory = CCompiler.NewDirectory();
        string path = Path.Combine(directory, "file");
        File.WriteAllBytes(path, content);
        return path;
    }

    [Fact]
    public void ProgramWithGoBuildInfo_IsGo()
    {
        Assert.True(GoProgramDetector.IsGoProgram(SeccompProbe.GoLikePath));
    }

    [Fact]
    public void ProgramWithGoBuildIdNote_IsGo()
    {
        string program = CCompiler.Compile(
            "__attribute__((section(\".note.go.buildid\"), used)) static const char id[8] = \"Go\";\nint main(void) { return 0; }\n",
            "golike-note");
        Assert.True(GoProgramDetector.IsGoProgram(program));
    }

    [Fact]
    public void CPrograms_AreNotGo()
    {
        Assert.False(GoProgramDetector.IsGoProgram(SeccompProbe.Path));
        Assert.False(GoProgramDetector.IsGoProgram(SeccompProbe.DynamicPath));
        Assert.False(GoProgramDetector.IsGoProgram("/bin/sh"));
        Assert.False(GoProgramDetector.IsGoProgram(SeccompLauncher.LocateLauncher()));
    }

    [Fact]
    public void NotAnElf_TruncatedOrMissing_IsNotGo()
    {
        byte[] elf = File.ReadAllBytes(SeccompProbe.GoLikePath);
        Assert.False(GoProgramDetector.IsGoProgram(TemporaryFile("#!/bin/sh\necho .go.buildinfo\n"u8.ToArray())));
        Assert.False(GoProgramDetector.IsGoProgram(TemporaryFile(elf.AsSpan(0, 200).ToArray())));
        Assert.False(GoProgramDetector.IsGoProgram(TemporaryFile(elf.AsSpan(0, elf.Length - 64).ToArray())));
        Assert.False(GoProgramDetector.IsGoProgram(TemporaryFile([])));
        Assert.False(GoProgramDetector.IsGoProgram("/nonexistent/go-program"));
    }

    [Fact]
    public void Auto_DynamicGoProgram_UsesSeccomp_SayingWhy()
    {
        var request = new KeepaliveLaunchRequest(SeccompProbe.GoLikePath, ["loop4"]) { Method = LaunchMethod.Auto };
        ProgramInspection inspection = ProgramInspector.Inspect(SeccompProbe.GoLikePath);
        Assert.True(inspection.CanPreload); // what the ELF header alone says
        var choice = SeccompLauncher.ChooseMethod(request, inspection, () => Supported, () => false);
        Assert.Equal(LaunchMethod.Seccomp, choice.Method);
        Assert.Contains("is a Go program", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_DynamicGoProgram_WithoutSeccompSupport_FallsBackToPreload_SayingItMayNotWork()
    {
        var request = new KeepaliveLaunchRequest(SeccompProbe.GoLikePath, ["loop4"]) { Method = LaunchMethod.Auto };
        var old = SeccompLauncher.Evaluate("5.4.0", System.Runtime.InteropServices.Architecture.X64, PSKeepalive.Core.Interop.Errno.ENOSYS);
        var choice = SeccompLauncher.ChooseMethod(request, ProgramInspector.Inspect(SeccompProbe.GoLikePath), () => old, () => false);
        Assert.Equal(LaunchMethod.Preload, choice.Method);
        Assert.Contains("may not reach its sockets", choice.Reason, StringComparison.Ordinal);
        Assert.Contains("5.4.0", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void PreparedAutoLaunch_ForAGoProgram_RunsInACgroupWhereAvailable_ElseUnderTheSeccompLauncher()
    {
        KeepaliveProcessLaunch launch = PreloadLauncher.Prepare(new KeepaliveLaunchRequest(SeccompProbe.GoLikePath, ["loop4"]) { Method = LaunchMethod.Auto });
        if (CgroupLauncher.CheckSupport().IsSupported)
        {
            Assert.Equal(LaunchMethod.Cgroup, launch.Method); // a policy reaches Go's own system calls too
            return;
        }

        Assert.Equal(LaunchMethod.Seccomp, launch.Method);
        Assert.Equal(SeccompLauncher.LocateLauncher(), launch.SeccompLauncher);
    }
}
