using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using PSKeepalive.Core.Interop;
using PSKeepalive.Core.Launch;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Policy;

/// <summary>The libc numbers and layouts the cgroup launcher writes by hand (posix_spawn, siginfo, sigaction, poll, system calls), against the headers.</summary>
public sealed class SpawnLayoutTests
{
    private const string Program = """
        #define _GNU_SOURCE
        #include <poll.h>
        #include <signal.h>
        #include <spawn.h>
        #include <stddef.h>
        #include <stdio.h>
        #include <sys/file.h>
        #include <sys/syscall.h>
        #include <sys/wait.h>
        #include <time.h>
        #include <unistd.h>
        #ifndef P_PIDFD
        #define P_PIDFD 3
        #endif
        #define P(name, value) printf("%s=%lld\n", name, (long long)(value))
        int main(void) {
            P("POSIX_SPAWN_SETSIGDEF", POSIX_SPAWN_SETSIGDEF); P("POSIX_SPAWN_SETSIGMASK", POSIX_SPAWN_SETSIGMASK);
            P("SIGPIPE", SIGPIPE); P("SIGCHLD", SIGCHLD); P("SIGTERM", SIGTERM); P("SIGHUP", SIGHUP);
            P("SIGINT", SIGINT); P("SIGQUIT", SIGQUIT); P("SIGUSR1", SIGUSR1); P("SIGUSR2", SIGUSR2);
            P("CLD_EXITED", CLD_EXITED); P("CLD_KILLED", CLD_KILLED); P("CLD_DUMPED", CLD_DUMPED);
            P("offsetof(siginfo_t,si_code)", offsetof(siginfo_t, si_code)); P("offsetof(siginfo_t,si_status)", offsetof(siginfo_t, si_status));
            P("fits(siginfo_t)", sizeof(siginfo_t) <= 128); P("fits(posix_spawnattr_t)", sizeof(posix_spawnattr_t) <= 512);
            P("fits(posix_spawn_file_actions_t)", sizeof(posix_spawn_file_actions_t) <= 256); P("fits(sigset_t)", sizeof(sigset_t) <= 128);
            P("fits(struct sigaction)", sizeof(struct sigaction) <= 256); P("offsetof(struct sigaction,sa_handler)", offsetof(struct sigaction, sa_handler));
            P("SIG_IGN", (long)SIG_IGN); P("P_PIDFD", P_PIDFD); P("WEXITED", WEXITED); P("POLLIN", POLLIN); P("sizeof(struct pollfd)", sizeof(struct pollfd));
            P("LOCK_EX", LOCK_EX); P("LOCK_UN", LOCK_UN); P("CLOCK_REALTIME", CLOCK_REALTIME); P("CLOCK_BOOTTIME", CLOCK_BOOTTIME);
            P("SYS_pidfd_send_signal", SYS_pidfd_send_signal); P("SYS_bpf", SYS_bpf);
            return 0;
        }
        """;

    private static readonly Lazy<Dictionary<string, long>> Measured = new(() => CCompiler.PrintedValues(Program, "spawn_layout"));

    public static TheoryData<string, long> Expected() => new()
    {
        { "POSIX_SPAWN_SETSIGDEF", SpawnedProcess.PosixSpawnSetSigDefault }, { "POSIX_SPAWN_SETSIGMASK", SpawnedProcess.PosixSpawnSetSigMask },
        { "SIGPIPE", SpawnedProcess.SIGPIPE }, { "SIGCHLD", SpawnedProcess.SIGCHLD }, { "SIGTERM", 15 }, { "SIGHUP", 1 }, { "SIGINT", 2 }, { "SIGQUIT", 3 }, { "SIGUSR1", 10 }, { "SIGUSR2", 12 },
        { "CLD_EXITED", SpawnedProcess.CLD_EXITED }, { "CLD_KILLED", SpawnedProcess.CLD_KILLED }, { "CLD_DUMPED", SpawnedProcess.CLD_DUMPED },
        { "offsetof(siginfo_t,si_code)", SpawnedProcess.SignalInfoCode }, { "offsetof(siginfo_t,si_status)", SpawnedProcess.SignalInfoStatus },
        { "fits(siginfo_t)", 1 }, { "fits(posix_spawnattr_t)", 1 }, { "fits(posix_spawn_file_actions_t)", 1 }, { "fits(sigset_t)", 1 },
        { "fits(struct sigaction)", 1 }, { "offsetof(struct sigaction,sa_handler)", 0 },
        { "SIG_IGN", 1 }, { "P_PIDFD", Libc.P_PIDFD }, { "WEXITED", Libc.WEXITED }, { "POLLIN", Libc.POLLIN }, { "sizeof(struct pollfd)", 8 },
        { "LOCK_EX", Libc.LOCK_EX }, { "LOCK_UN", Libc.LOCK_UN }, { "CLOCK_REALTIME", Libc.CLOCK_REALTIME }, { "CLOCK_BOOTTIME", Libc.CLOCK_BOOTTIME },
        { "SYS_pidfd_send_signal", Libc.SYS_pidfd_send_signal },
        { "SYS_bpf", RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? Libc.SYS_bpf_arm64 : Libc.SYS_bpf_x64 },
    };

    [Theory]
    [MemberData(nameof(Expected))]
    public void Constant_MatchesTheCHeaders(string name, long expected)
    {
        Assert.True(Measured.Value.ContainsKey(name), $"the C program did not print {name}");
        Assert.Equal(Measured.Value[name], expected);
    }

    [Fact]
    public void EveryPrintedValueIsChecked()
    {
        var checkedNames = Expected().Select(row => (string)row[0]).ToHashSet();
        Assert.Equal(Array.Empty<string>(), Measured.Value.Keys.Where(name => !checkedNames.Contains(name)).ToArray());
    }
}
