using System.Collections.Generic;
using System.Linq;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Preload;

/// <summary>
/// libpskeepalive.so under real programs: sockprobe.c and pyprobe.py read their sockets' options from inside
/// and print them; the shim is preloaded directly with LD_PRELOAD (the launchers are tested elsewhere).
/// </summary>
public sealed class ShimTests
{
    private const int EXDEV = 18;
    private const int ECONNREFUSED = 111;

    private static readonly Dictionary<string, string> Requested = new()
    {
        ["PSKEEPALIVE_IDLE"] = "11",
        ["PSKEEPALIVE_INTERVAL"] = "12",
        ["PSKEEPALIVE_COUNT"] = "13",
        ["PSKEEPALIVE_USER_TIMEOUT"] = "14000",
    };

    private static Dictionary<string, string> With(string mode, params (string Key, string Value)[] more)
    {
        var variables = new Dictionary<string, string>(Requested) { ["PSKEEPALIVE_MODE"] = mode };
        foreach (var (key, value) in more)
        {
            variables[key] = value;
        }

        return variables;
    }

    private static void AssertRequested(ProgramRun run, string socket)
    {
        var s = run[socket];
        Assert.True(
            (s["so_keepalive"], s["idle"], s["intvl"], s["cnt"], s["user_timeout"]) == (1, 11, 12, 13, 14000),
            $"{socket} does not carry the requested options:\n{run}");
    }

    /// <summary>The options a socket has without the shim (the namespace's sysctls, keepalive off).</summary>
    private static void AssertUntouched(ProgramRun run, ProgramRun bare, string socket)
    {
        Assert.True(
            run[socket].OrderBy(p => p.Key).SequenceEqual(bare[socket].OrderBy(p => p.Key)),
            $"{socket} was changed by the shim:\n{run}\nwithout the shim:\n{bare}");
        Assert.Equal(0, run[socket]["so_keepalive"]);
    }

    private static ProgramRun Bare(params string[] scenarios) =>
        PreloadPrograms.RunUnder(null, PreloadPrograms.SockProbe, null, scenarios);

    private static ProgramRun Probe(IReadOnlyDictionary<string, string>? variables, params string[] scenarios)
    {
        ProgramRun run = PreloadPrograms.RunUnder(PreloadPrograms.Shim, PreloadPrograms.SockProbe, variables, scenarios);
        Assert.True(run.ExitCode == 0, run.ToString());
        return run;
    }

    [Fact]
    public void AllMode_TcpClientsFlaggedTypesListenersAndAccepted_CarryExactlyTheRequestedOptions()
    {
        ProgramRun run = Probe(With("all"), "tcp4", "tcp4-flags", "listener");

        foreach (string socket in new[] { "tcp4", "tcp4-flags", "listener", "accepted", "connected" })
        {
            AssertRequested(run, socket);
        }

        Assert.Equal(string.Empty, run.StandardError);
    }

    [Ipv6Fact]
    public void Ipv6Client_CarriesExactlyTheRequestedOptions_InAllAndOutgoingModes()
    {
        AssertRequested(Probe(With("all"), "tcp6"), "tcp6");
        AssertRequested(Probe(With("outgoing"), "tcp6"), "tcp6");
    }

    [Fact]
    public void WithoutTheShim_TheProbeSeesKeepaliveOff()
    {
        ProgramRun bare = Bare("tcp4", "listener");

        Assert.Equal(0, bare["tcp4"]["so_keepalive"]);
        Assert.Equal(0, bare["accepted"]["so_keepalive"]);
        Assert.Equal(0, bare["tcp4"]["user_timeout"]);
    }

    [Theory]
    [InlineData("all")]
    [InlineData("outgoing")]
    [InlineData("listening")]
    public void UdpUnixAndSeqpacketSockets_AreNeverTouched(string mode)
    {
        ProgramRun run = Probe(With(mode), "udp", "unix", "seqpacket");

        Assert.Equal(0, run["udp"]["so_keepalive"]);
        Assert.Equal(0, run["unix"]["so_keepalive"]);
        Assert.Equal(0, run["seqpacket"]["so_keepalive"]);
    }

    /// <summary>libkeepalive 0.3 tests <c>type &amp; SOCK_STREAM</c>, which is true for SOCK_RAW (3).</summary>
    [RootFact]
    public void RawSocket_IsNeverTouched()
    {
        ProgramRun run = Probe(With("all"), "raw");

        Assert.True(run.Sockets.ContainsKey("raw"), run.ToString());
        Assert.Equal(0, run["raw"]["so_keepalive"]);
    }

    [Fact]
    public void ListeningMode_SetsListenerAndAcceptedSockets_NotOutgoingOnes()
    {
        ProgramRun bare = Bare("tcp4", "listener");
        ProgramRun run = Probe(With("listening"), "tcp4", "listener");

        AssertRequested(run, "listener");
        AssertRequested(run, "accepted");
        AssertUntouched(run, bare, "connected");
        AssertUntouched(run, bare, "tcp4");
    }

    [Fact]
    public void OutgoingMode_SetsConnectingSockets_NotListeners()
    {
        ProgramRun bare = Bare("listener");
        ProgramRun run = Probe(With("outgoing"), "tcp4", "tcp4-flags", "listener");

        AssertRequested(run, "tcp4");
        AssertRequested(run, "tcp4-flags");
        AssertRequested(run, "connected");
        AssertUntouched(run, bare, "listener");
        AssertUntouched(run, bare, "accepted");
    }

    [Theory]
    [InlineData("all")]
    [InlineData("outgoing")]
    public void ForkAndExec_ChildIsCoveredToo(string mode)
    {
        ProgramRun run = Probe(With(mode), "fork-exec");

        AssertRequested(run, "child-tcp4");
    }

    [Theory]
    [InlineData("all")]
    [InlineData("outgoing")]
    [InlineData("listening")]
    public void FailingConnect_ReturnsTheRealResultAndErrno(string mode)
    {
        ProgramRun run = Probe(With(mode), "refused");

        Assert.Equal(-1, run["refused"]["rc"]);
        Assert.Equal(ECONNREFUSED, run["refused"]["errno"]);
    }

    [Theory]
    [InlineData("all")]
    [InlineData("outgoing")]
    [InlineData("listening")]
    public void SuccessfulCalls_LeaveErrnoAsTheProgramSetIt(string mode)
    {
        ProgramRun run = Probe(With(mode), "errno-kept");

        Assert.Equal(EXDEV, run["errno-kept"]["socket"]);
        Assert.Equal(EXDEV, run["errno-kept"]["connect"]);
        Assert.Equal(EXDEV, run["errno-kept"]["listen"]);
    }

    [Theory]
    [InlineData("0", "abc", "128", "-5")]
    [InlineData("32768", "0", "0", "2147483648")]
    [InlineData(" 5", "+5", "5s", "0x10")]
    [InlineData("99999999999999999999", "-1", "1e2", "1.5")]
    public void InvalidValues_AreIgnoredAndNeverUsedToDeriveOthers(string idle, string interval, string count, string userTimeout)
    {
        var variables = new Dictionary<string, string>
        {
            ["PSKEEPALIVE_IDLE"] = idle,
            ["PSKEEPALIVE_INTERVAL"] = interval,
            ["PSKEEPALIVE_COUNT"] = count,
            ["PSKEEPALIVE_USER_TIMEOUT"] = userTimeout,
            ["PSKEEPALIVE_MODE"] = "sideways",
        };
        ProgramRun bare = Bare("tcp4");

        ProgramRun run = Probe(variables, "tcp4", "listener");

        // Keepalive on (mode falls back to all), every other option left at the system's value.
        Assert.Equal(1, run["tcp4"]["so_keepalive"]);
        Assert.Equal(1, run["listener"]["so_keepalive"]);
        foreach (string option in new[] { "idle", "intvl", "cnt", "user_timeout" })
        {
            Assert.Equal(bare["tcp4"][option], run["tcp4"][option]);
        }

        Assert.Equal(string.Empty, run.StandardError); // silent without PSKEEPALIVE_DEBUG
    }

    [Fact]
    public void InvalidValues_WithDebug_OneMessageEachOnStderr()
    {
        var variables = new Dictionary<string, string>
        {
            ["PSKEEPALIVE_IDLE"] = "0",
            ["PSKEEPALIVE_INTERVAL"] = "12",
            ["PSKEEPALIVE_COUNT"] = "500",
            ["PSKEEPALIVE_MODE"] = "sideways",
            ["PSKEEPALIVE_DEBUG"] = "1",
        };

        ProgramRun run = Probe(variables, "tcp4");

        string[] lines = run.StandardError.Split('\n', System.StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, line => Assert.StartsWith("pskeepalive: ", line));
        Assert.Single(lines, l => l.Contains("ignoring PSKEEPALIVE_IDLE=\"0\"", System.StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("ignoring PSKEEPALIVE_COUNT=\"500\"", System.StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("ignoring PSKEEPALIVE_MODE=\"sideways\"", System.StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("at socket(): SO_KEEPALIVE=1 TCP_KEEPINTVL=12", System.StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("TCP_KEEPIDLE", System.StringComparison.Ordinal));
        Assert.Equal(12, run["tcp4"]["intvl"]);
    }

    private static readonly System.Lazy<string> EarlyLibrary = new(() => CCompiler.Compile(
        """
        #include <stdio.h>
        #include <sys/socket.h>
        #include <unistd.h>
        __attribute__((constructor)) static void early(void)
        {
            int fd = socket(AF_INET, SOCK_STREAM, 0), v = -1;
            socklen_t l = sizeof v;
            getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &l);
            printf("early so_keepalive=%d\n", v);
            fflush(stdout);
            close(fd);
        }
        """,
        "early",
        "-shared",
        "-fPIC"));

    /// <summary>Another preloaded library's constructor may call socket() before or after the shim's own constructor ran.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SocketFromAnotherLibrarysConstructor_IsCoveredInEitherLoadOrder(bool shimFirst)
    {
        string preload = shimFirst ? $"{PreloadPrograms.Shim} {EarlyLibrary.Value}" : $"{EarlyLibrary.Value} {PreloadPrograms.Shim}";

        ProgramRun run = PreloadPrograms.RunUnder(preload, PreloadPrograms.SockProbe, With("all"), "tcp4");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(1, run["early"]["so_keepalive"]);
        AssertRequested(run, "tcp4");
    }

    [Fact]
    public void Debug_NeverWritesIntoASocketThatReplacedStderr()
    {
        ProgramRun run = Probe(With("all", ("PSKEEPALIVE_DEBUG", "1")), "stderr-socket", "tcp4");

        Assert.Equal(0, run["stderr-socket"]["leaked"]);
        Assert.Contains("at socket(): SO_KEEPALIVE=1", run.StandardError, System.StringComparison.Ordinal); // the real stderr still gets it
    }

    [Fact]
    public void LibkeepaliveVariables_AreHonouredWhenNoOwnVariableIsSet()
    {
        var variables = new Dictionary<string, string> { ["KEEPIDLE"] = "21", ["KEEPINTVL"] = "22", ["KEEPCNT"] = "23" };

        ProgramRun run = Probe(variables, "tcp4", "udp");

        Assert.Equal((1, 21, 22, 23), (run["tcp4"]["so_keepalive"], run["tcp4"]["idle"], run["tcp4"]["intvl"], run["tcp4"]["cnt"]));
        Assert.Equal(0, run["udp"]["so_keepalive"]);
    }

    [Fact]
    public void LibkeepaliveOff_LeavesSocketsAlone()
    {
        ProgramRun bare = Bare("tcp4");

        ProgramRun run = Probe(new Dictionary<string, string> { ["KEEPALIVE"] = "off", ["KEEPIDLE"] = "21" }, "tcp4");

        AssertUntouched(run, bare, "tcp4");
    }

    [Fact]
    public void OwnVariables_TakePrecedenceOverLibkeepaliveOnes()
    {
        var variables = new Dictionary<string, string> { ["PSKEEPALIVE_IDLE"] = "31", ["KEEPIDLE"] = "21", ["KEEPCNT"] = "23" };
        ProgramRun bare = Bare("tcp4");

        ProgramRun run = Probe(variables, "tcp4");

        Assert.Equal(31, run["tcp4"]["idle"]);
        Assert.Equal(bare["tcp4"]["cnt"], run["tcp4"]["cnt"]);
    }

    [Fact]
    public void Off_LeavesEverySocketAlone()
    {
        ProgramRun bare = Bare("tcp4", "listener");

        ProgramRun run = Probe(With("all", ("PSKEEPALIVE_OFF", "1")), "tcp4", "listener");

        AssertUntouched(run, bare, "tcp4");
        AssertUntouched(run, bare, "listener");
        AssertUntouched(run, bare, "accepted");
    }

    [Fact]
    public void NoVariables_SwitchesKeepaliveOnWithTheSystemTimers()
    {
        ProgramRun bare = Bare("tcp4");

        ProgramRun run = Probe(null, "tcp4");

        Assert.Equal(1, run["tcp4"]["so_keepalive"]);
        Assert.Equal(bare["tcp4"]["idle"], run["tcp4"]["idle"]);
        Assert.Equal(bare["tcp4"]["user_timeout"], run["tcp4"]["user_timeout"]);
    }

    [Theory]
    [InlineData("all", 1, 1, 1)]
    [InlineData("listening", 1, 1, 0)]
    [InlineData("outgoing", 0, 0, 1)]
    public void Python_ClientAndServer(string mode, int listener, int accepted, int client)
    {
        ProgramRun run = PreloadPrograms.RunUnder(PreloadPrograms.Shim, PreloadPrograms.Python, With(mode), PreloadPrograms.Fixture("pyprobe.py"));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal((listener, accepted, client), (run["py-listener"]["so_keepalive"], run["py-accepted"]["so_keepalive"], run["py-client"]["so_keepalive"]));
        if (client == 1)
        {
            Assert.Equal(11, run["py-client"]["idle"]);
        }

        if (accepted == 1)
        {
            Assert.Equal((11, 12, 13, 14000), (run["py-accepted"]["idle"], run["py-accepted"]["intvl"], run["py-accepted"]["cnt"], run["py-accepted"]["user_timeout"]));
        }

        Assert.Equal(0, run["py-udp"]["so_keepalive"]);
    }

    [Fact]
    public void Library_ExportsOnlyTheHooks_AndIsHardened()
    {
        string symbols = PreloadPrograms.Tool("nm", "-D", "--defined-only", PreloadPrograms.Shim);
        string[] exported = symbols.Split('\n', System.StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', System.StringSplitOptions.RemoveEmptyEntries).Last())
            .OrderBy(s => s, System.StringComparer.Ordinal)
            .ToArray();
        Assert.Equal(new[] { "connect", "listen", "socket" }, exported);

        string dynamic = PreloadPrograms.Tool("readelf", "-d", PreloadPrograms.Shim);
        Assert.Contains("BIND_NOW", dynamic, System.StringComparison.Ordinal);
        string segments = PreloadPrograms.Tool("readelf", "-lW", PreloadPrograms.Shim);
        Assert.Contains("GNU_RELRO", segments, System.StringComparison.Ordinal);
        string stack = segments.Split('\n').Single(l => l.Contains("GNU_STACK", System.StringComparison.Ordinal));
        Assert.DoesNotContain("RWE", stack, System.StringComparison.Ordinal);
    }
}
