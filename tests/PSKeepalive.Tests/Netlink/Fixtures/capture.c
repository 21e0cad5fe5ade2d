// How the fixtures in this folder were captured (kept for reproducibility; not built by the tests).
// Run as root: gcc -O2 -o /tmp/capture capture.c && /tmp/capture
// In a fresh network namespace (so the dump holds only these sockets) it makes a 127.0.0.1 listener on
// port 40001, a client with SO_KEEPALIVE (TCP_KEEPIDLE 600) and one without, then dumps AF_INET TCP
// sockets with INET_DIAG_INFO, and AF_INET6 without it (a listener on [::1]:40002), writing every
// datagram received as one hex line to dump-ipv4-info.hex / dump-ipv6.hex. `/tmp/capture one-walk` instead
// dumps both families in one walk (TCPDIAG_GETSOCK, struct inet_diag_req, no tcp_info) to dump-one-walk.hex.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) { perror(what); exit(1); }

static void lo_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr; memset(&ifr, 0, sizeof ifr); strcpy(ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr)) die("SIOCGIFFLAGS");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr)) die("SIOCSIFFLAGS");
    close(fd);
}

static void receive(int fd, const char *path);

static void dump(int family, int ext, const char *path) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    struct { struct nlmsghdr nh; struct inet_diag_req_v2 r; } req;
    memset(&req, 0, sizeof req);
    req.nh.nlmsg_len = sizeof req; req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP; req.nh.nlmsg_seq = 7;
    req.r.sdiag_family = family; req.r.sdiag_protocol = IPPROTO_TCP; req.r.idiag_states = 0xffe;
    req.r.idiag_ext = ext;
    if (send(fd, &req, sizeof req, 0) < 0) die("send");
    receive(fd, path);
}

static void dump_one_walk(const char *path) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    struct { struct nlmsghdr nh; struct inet_diag_req r; } req;
    memset(&req, 0, sizeof req);
    req.nh.nlmsg_len = sizeof req; req.nh.nlmsg_type = TCPDIAG_GETSOCK;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP; req.nh.nlmsg_seq = 7;
    req.r.idiag_family = AF_INET; req.r.idiag_states = 0xffe;
    if (send(fd, &req, sizeof req, 0) < 0) die("send");
    receive(fd, path);
}

static void receive(int fd, const char *path) {
    FILE *out = fopen(path, "w");
    static unsigned char buf[65536];
    for (int done = 0; !done;) {
        ssize_t len = recv(fd, buf, sizeof buf, 0);
        if (len <= 0) die("recv");
        for (ssize_t i = 0; i < len; i++) fprintf(out, "%02x", buf[i]);
        fprintf(out, "\n");
        for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) done = 1;
    }
    fclose(out); close(fd);
}

int main(int argc, char **argv) {
    if (unshare(CLONE_NEWNET)) die("unshare");
    lo_up();
    int one = 1, idle = 600;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(40001) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (void *)&a, sizeof a) || listen(l, 8)) die("listen");
    int k = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(k, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(k, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    if (connect(k, (void *)&a, sizeof a)) die("connect");
    int p = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(p, (void *)&a, sizeof a)) die("connect");
    int s1 = accept(l, 0, 0), s2 = accept(l, 0, 0);
    int l6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(40002), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    if (bind(l6, (void *)&a6, sizeof a6) || listen(l6, 8)) die("listen6");
    usleep(100000);
    if (argc > 1 && strcmp(argv[1], "one-walk") == 0) {
        dump_one_walk("dump-one-walk.hex");
    } else {
        dump(AF_INET, 1 << (INET_DIAG_INFO - 1), "dump-ipv4-info.hex");
        dump(AF_INET6, 0, "dump-ipv6.hex");
    }
    close(s1); close(s2); close(k); close(p); close(l); close(l6);
    return 0;
}
