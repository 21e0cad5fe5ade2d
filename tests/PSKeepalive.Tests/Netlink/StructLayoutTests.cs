using System;
using System.Collections.Generic;
using System.Linq;
using PSKeepalive.Core.Netlink;
using PSKeepalive.Tests.Support;
using Xunit;

namespace PSKeepalive.Tests.Netlink;

/// <summary>The C# constants against the C headers of this machine: a small C program prints sizeof/offsetof.</summary>
public sealed class StructLayoutTests
{
    private const string Program = """
        #include <stddef.h>
        #include <stdio.h>
        #include <linux/inet_diag.h>
        #include <linux/netlink.h>
        #include <linux/rtnetlink.h>
        #include <linux/sock_diag.h>
        #include <linux/tcp.h>
        #define P(name, value) printf("%s=%zu\n", name, (size_t)(value))
        int main(void) {
            P("sizeof(nlmsghdr)", sizeof(struct nlmsghdr));
            P("NLMSG_HDRLEN", NLMSG_HDRLEN);
            P("NLMSG_ALIGN(17)", NLMSG_ALIGN(17));
            P("sizeof(rtattr)", sizeof(struct rtattr));
            P("sizeof(nlmsgerr)", sizeof(struct nlmsgerr));
            P("NLMSG_ERROR", NLMSG_ERROR);
            P("NLMSG_DONE", NLMSG_DONE);
            P("NLM_F_DUMP", NLM_F_DUMP);
            P("NLM_F_DUMP_INTR", NLM_F_DUMP_INTR);
            P("NLM_F_ACK_TLVS", NLM_F_ACK_TLVS);
            P("NLM_F_CAPPED", NLM_F_CAPPED);
            P("NETLINK_SOCK_DIAG", NETLINK_SOCK_DIAG);
            P("SOCK_DIAG_BY_FAMILY", SOCK_DIAG_BY_FAMILY);
            P("SOCK_DESTROY", SOCK_DESTROY);
            P("INET_DIAG_INFO", INET_DIAG_INFO);
            P("sizeof(inet_diag_sockid)", sizeof(struct inet_diag_sockid));
            P("offsetof(inet_diag_sockid,idiag_sport)", offsetof(struct inet_diag_sockid, idiag_sport));
            P("offsetof(inet_diag_sockid,idiag_dport)", offsetof(struct inet_diag_sockid, idiag_dport));
            P("offsetof(inet_diag_sockid,idiag_src)", offsetof(struct inet_diag_sockid, idiag_src));
            P("offsetof(inet_diag_sockid,idiag_dst)", offsetof(struct inet_diag_sockid, idiag_dst));
            P("offsetof(inet_diag_sockid,idiag_if)", offsetof(struct inet_diag_sockid, idiag_if));
            P("offsetof(inet_diag_sockid,idiag_cookie)", offsetof(struct inet_diag_sockid, idiag_cookie));
            P("sizeof(inet_diag_req_v2)", sizeof(struct inet_diag_req_v2));
            P("offsetof(inet_diag_req_v2,idiag_states)", offsetof(struct inet_diag_req_v2, idiag_states));
            P("offsetof(inet_diag_req_v2,id)", offsetof(struct inet_diag_req_v2, id));
            P("TCPDIAG_GETSOCK", TCPDIAG_GETSOCK);
            P("sizeof(inet_diag_req)", sizeof(struct inet_diag_req));
            P("offsetof(inet_diag_req,idiag_ext)", offsetof(struct inet_diag_req, idiag_ext));
            P("offsetof(inet_diag_req,id)", offsetof(struct inet_diag_req, id));
            P("offsetof(inet_diag_req,idiag_states)", offsetof(struct inet_diag_req, idiag_states));
            P("sizeof(inet_diag_msg)", sizeof(struct inet_diag_msg));
            P("offsetof(inet_diag_msg,idiag_state)", offsetof(struct inet_diag_msg, idiag_state));
            P("offsetof(inet_diag_msg,idiag_timer)", offsetof(struct inet_diag_msg, idiag_timer));
            P("offsetof(inet_diag_msg,idiag_retrans)", offsetof(struct inet_diag_msg, idiag_retrans));
            P("offsetof(inet_diag_msg,id)", offsetof(struct inet_diag_msg, id));
            P("offsetof(inet_diag_msg,idiag_expires)", offsetof(struct inet_diag_msg, idiag_expires));
            P("offsetof(inet_diag_msg,idiag_rqueue)", offsetof(struct inet_diag_msg, idiag_rqueue));
            P("offsetof(inet_diag_msg,idiag_wqueue)", offsetof(struct inet_diag_msg, idiag_wqueue));
            P("offsetof(inet_diag_msg,idiag_uid)", offsetof(struct inet_diag_msg, idiag_uid));
            P("offsetof(inet_diag_msg,idiag_inode)", offsetof(struct inet_diag_msg, idiag_inode));
            P("offsetof(tcp_info,tcpi_retransmits)", offsetof(struct tcp_info, tcpi_retransmits));
            P("offsetof(tcp_info,tcpi_unacked)", offsetof(struct tcp_info, tcpi_unacked));
            P("offsetof(tcp_info,tcpi_last_data_sent)", offsetof(struct tcp_info, tcpi_last_data_sent));
            P("offsetof(tcp_info,tcpi_last_data_recv)", offsetof(struct tcp_info, tcpi_last_data_recv));
            P("offsetof(tcp_info,tcpi_rtt)", offsetof(struct tcp_info, tcpi_rtt));
            P("offsetof(tcp_info,tcpi_rttvar)", offsetof(struct tcp_info, tcpi_rttvar));
            P("offsetof(tcp_info,tcpi_total_retrans)", offsetof(struct tcp_info, tcpi_total_retrans));
            return 0;
        }
        """;

    private static readonly Lazy<Dictionary<string, long>> Measured = new(() => CCompiler.PrintedValues(Program, "inet_diag_layout"));

    public static TheoryData<string, long> Expected() => new()
    {
        { "sizeof(nlmsghdr)", NetlinkConstants.HeaderLength },
        { "NLMSG_HDRLEN", NetlinkConstants.HeaderLength },
        { "NLMSG_ALIGN(17)", NetlinkConstants.Align(17) },
        { "sizeof(rtattr)", NetlinkConstants.AttributeHeaderLength },
        { "sizeof(nlmsgerr)", NetlinkConstants.ErrorLength },
        { "NLMSG_ERROR", NetlinkConstants.MessageError },
        { "NLMSG_DONE", NetlinkConstants.MessageDone },
        { "NLM_F_DUMP", NetlinkConstants.FlagDump },
        { "NLM_F_DUMP_INTR", NetlinkConstants.FlagDumpInterrupted },
        { "NLM_F_ACK_TLVS", NetlinkConstants.FlagAckTlvs },
        { "NLM_F_CAPPED", NetlinkConstants.FlagCapped },
        { "NETLINK_SOCK_DIAG", NetlinkConstants.ProtocolSockDiag },
        { "SOCK_DIAG_BY_FAMILY", InetDiag.SockDiagByFamily },
        { "SOCK_DESTROY", InetDiag.SockDestroy },
        { "INET_DIAG_INFO", InetDiag.AttributeInfo },
        { "sizeof(inet_diag_sockid)", InetDiag.SocketIdLength },
        { "offsetof(inet_diag_sockid,idiag_sport)", InetDiag.SocketIdSourcePort },
        { "offsetof(inet_diag_sockid,idiag_dport)", InetDiag.SocketIdDestinationPort },
        { "offsetof(inet_diag_sockid,idiag_src)", InetDiag.SocketIdSource },
        { "offsetof(inet_diag_sockid,idiag_dst)", InetDiag.SocketIdDestination },
        { "offsetof(inet_diag_sockid,idiag_if)", InetDiag.SocketIdInterface },
        { "offsetof(inet_diag_sockid,idiag_cookie)", InetDiag.SocketIdCookie },
        { "sizeof(inet_diag_req_v2)", InetDiag.RequestLength },
        { "offsetof(inet_diag_req_v2,idiag_states)", 4 },
        { "offsetof(inet_diag_req_v2,id)", 8 },
        { "TCPDIAG_GETSOCK", InetDiag.TcpDiagGetSock },
        { "sizeof(inet_diag_req)", InetDiag.OneWalkRequestLength },
        { "offsetof(inet_diag_req,idiag_ext)", 3 },
        { "offsetof(inet_diag_req,id)", 4 },
        { "offsetof(inet_diag_req,idiag_states)", InetDiag.OneWalkRequestStates },
        { "sizeof(inet_diag_msg)", InetDiag.MessageLength },
        { "offsetof(inet_diag_msg,idiag_state)", InetDiag.MessageState },
        { "offsetof(inet_diag_msg,idiag_timer)", InetDiag.MessageTimer },
        { "offsetof(inet_diag_msg,idiag_retrans)", InetDiag.MessageRetrans },
        { "offsetof(inet_diag_msg,id)", InetDiag.MessageSocketId },
        { "offsetof(inet_diag_msg,idiag_expires)", InetDiag.MessageExpires },
        { "offsetof(inet_diag_msg,idiag_rqueue)", InetDiag.MessageReceiveQueue },
        { "offsetof(inet_diag_msg,idiag_wqueue)", InetDiag.MessageSendQueue },
        { "offsetof(inet_diag_msg,idiag_uid)", InetDiag.MessageUid },
        { "offsetof(inet_diag_msg,idiag_inode)", InetDiag.MessageInode },
        { "offsetof(tcp_info,tcpi_retransmits)", InetDiag.TcpInfoRetransmits },
        { "offsetof(tcp_info,tcpi_unacked)", InetDiag.TcpInfoUnacked },
        { "offsetof(tcp_info,tcpi_last_data_sent)", InetDiag.TcpInfoLastDataSent },
        { "offsetof(tcp_info,tcpi_last_data_recv)", InetDiag.TcpInfoLastDataReceived },
        { "offsetof(tcp_info,tcpi_rtt)", InetDiag.TcpInfoRtt },
        { "offsetof(tcp_info,tcpi_rttvar)", InetDiag.TcpInfoRttVariance },
        { "offsetof(tcp_info,tcpi_total_retrans)", InetDiag.TcpInfoTotalRetransmits },
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
