// The floor for one sock_diag walk: the legacy TCPDIAG_GETSOCK request, which the kernel answers with one
// pass over its socket tables for both address families (inet_diag_dump_compat sets AF_UNSPEC), where
// SOCK_DIAG_BY_FAMILY needs a pass per family (../shared/bench/nl-dump-floor.c, what `ss` does). Counted,
// nothing parsed or printed. Build: gcc -O2 -o nl-dump-one-walk nl-dump-one-walk.c; prints the number of
// TCP sockets.
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static char buf[1 << 20];
int main(void) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  int sz = 1 << 20; setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  struct { struct nlmsghdr nh; struct inet_diag_req r; } req;
  memset(&req, 0, sizeof req);
  req.nh.nlmsg_len = sizeof req; req.nh.nlmsg_type = TCPDIAG_GETSOCK;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.r.idiag_family = AF_INET; req.r.idiag_states = ~0u;
  if (send(fd, &req, sizeof req, 0) < 0) return 1;
  long n = 0;
  for (;;) {
    ssize_t len = recv(fd, buf, sizeof buf, 0);
    if (len <= 0) return 1;
    for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE) { printf("%ld\n", n); return 0; }
      if (h->nlmsg_type == NLMSG_ERROR) return 1;
      n++;
    }
  }
}
