using System;
using System.Linq;
using PSKeepalive.Core.SelfTest;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.SelfTest;

/// <summary>Checks the struct offsets the self-test reads against the system headers, with the C compiler.</summary>
public sealed class TcpInfoLayoutTests
{
    private const string Source = """
        #include <stddef.h>
        #include <stdio.h>
        #include <linux/filter.h>
        #include <linux/tcp.h>

        int main(void)
        {
            printf("%zu %zu %zu %zu %zu %zu %zu %zu %zu %zu\n",
                   offsetof(struct tcp_info, tcpi_state),
                   offsetof(struct tcp_info, tcpi_retransmits),
                   offsetof(struct tcp_info, tcpi_probes),
                   offsetof(struct tcp_info, tcpi_total_retrans),
                   sizeof(struct sock_filter),
                   sizeof(struct sock_fprog),
                   offsetof(struct sock_fprog, filter),
                   offsetof(struct tcp_info, tcpi_last_data_sent),
                   offsetof(struct tcp_info, tcpi_last_data_recv),
                   offsetof(struct tcp_info, tcpi_last_ack_recv));
            return 0;
        }
        """;

    [Fact]
    public void Offsets_MatchTheKernelHeaders()
    {
        string program = CCompiler.Compile(Source, "tcpinfo_layout");

        long[] values = CCompiler.RunToCompletion(program, TimeSpan.FromSeconds(10))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(long.Parse)
            .ToArray();

        Assert.Equal(TcpInfo.StateOffset, values[0]);
        Assert.Equal(TcpInfo.RetransmitsOffset, values[1]);
        Assert.Equal(TcpInfo.ProbesOffset, values[2]);
        Assert.Equal(TcpInfo.TotalRetransOffset, values[3]);
        Assert.True(TcpInfo.Length >= values[3] + 4);
        Assert.Equal(8, values[4]);
        Assert.Equal(IntPtr.Size == 8 ? 16 : 8, values[5]);
        Assert.Equal(IntPtr.Size, values[6]);
        Assert.Equal(TcpInfo.LastDataSentOffset, values[7]);
        Assert.Equal(TcpInfo.LastDataRecvOffset, values[8]);
        Assert.Equal(TcpInfo.LastAckRecvOffset, values[9]);
    }
}
