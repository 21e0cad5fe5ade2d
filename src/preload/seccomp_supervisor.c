/*
 * seccomp_supervisor.c: the seccomp side of pskeepalive-seccomp. Checks the
 * kernel, installs the filter (in the child), takes the listener and serves
 * each notification: pidfd of the calling task, its socket through
 * pidfd_getfd, the options set on the copy, and always CONTINUE. See the
 * comment at the top of pskeepalive_seccomp.c for the whole story.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher.h"
#include "seccomp_filter.h"

/* ---------------------------------------------------------- kernel calls */

static int sys_seccomp(unsigned int op, unsigned int flags, void *args)
{
    return (int)syscall(SYS_seccomp, op, flags, args);
}

int sys_pidfd_open(pid_t pid, unsigned int flags)
{
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

/* Tgid of a thread, from /proc/TID/status (TIDs resolve there although
 * /proc does not list them); -1 when unknown. */
static pid_t tgid_of(pid_t tid)
{
    char path[64], line[128];
    FILE *f;
    long tgid = -1;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)tid);
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "Tgid:", 5) == 0) {
            tgid = strtol(line + 5, NULL, 10);
            break;
        }
    }
    fclose(f);
    return tgid > 0 && tgid <= INT_MAX ? (pid_t)tgid : -1;
}

/* A pidfd for the task that made the call. The notification names the
 * calling thread, and in a multithreaded program (every Go program) that is
 * often not the thread group leader, for which plain pidfd_open fails:
 * PIDFD_THREAD (Linux 6.9) opens the thread itself; before that, the leader
 * of its thread group (threads share the descriptor table). */
static int open_task_pidfd(pid_t tid)
{
    int fd;
    pid_t tgid;

#ifndef PSK_TEST_WITHOUT_PIDFD_THREAD /* tests build the pre-6.9 path this way */
    fd = sys_pidfd_open(tid, PIDFD_THREAD);
    if (fd >= 0 || errno == ESRCH)
        return fd;
#endif
    fd = sys_pidfd_open(tid, 0); /* PIDFD_THREAD unknown (EINVAL): leaders work */
    if (fd >= 0 || errno == ESRCH)
        return fd;
    tgid = tgid_of(tid);
    if (tgid <= 0 || tgid == tid) {
        errno = ESRCH;
        return -1;
    }
    return sys_pidfd_open(tgid, 0);
}

static int sys_pidfd_getfd(int pidfd, int fd)
{
    return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

int has_cap_sys_admin(void)
{
    struct __user_cap_header_struct header;
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

    memset(&header, 0, sizeof(header));
    memset(data, 0, sizeof(data));
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    if (syscall(SYS_capget, &header, data) != 0)
        return 0;
    return (data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN)) != 0;
}

/* Refuses, before anything starts, on a kernel without pidfd_open (5.3) or
 * pidfd_getfd (5.6), probed rather than guessed from the version number
 * (distributions backport). SECCOMP_USER_NOTIF_FLAG_CONTINUE (5.5) is probed
 * by the supervisor on the real listener (probe_continue). */
int check_kernel(void)
{
    char release[128];
    int fd;

    (void)kernel_version(release, sizeof(release));
    fd = sys_pidfd_open(getpid(), 0);
    if (fd < 0) {
        say("this kernel (Linux %s) has no pidfd_open (%s): seccomp mode needs Linux 5.6 or "
            "later (pidfd_getfd)", release, strerror(errno));
        return -1;
    }
    if (sys_pidfd_getfd(fd, -1) >= 0 || errno == ENOSYS) {
        say("this kernel (Linux %s) has no pidfd_getfd: seccomp mode needs Linux 5.6 or later",
            release);
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* ---------------------------------------------------------------- filter */

/* Builds (seccomp_filter.c) and installs the filter; returns the listener
 * fd or -1. */
int install_filter(void)
{
    struct sock_filter insns[PSK_FILTER_MAX];
    struct sock_fprog prog;
    int fd;

    prog.len = psk_build_filter(insns, cfg.mode != MODE_LISTENING, cfg.mode != MODE_OUTGOING);
    prog.filter = insns;

    /* Linux 5.19: once the supervisor has read a notification, an ordinary
     * signal no longer interrupts the waiting call (which would make the
     * kernel withdraw it and the program see EINTR or a restart); fatal
     * signals still do. Older kernels reject the flag with EINVAL. */
    fd = sys_seccomp(SECCOMP_SET_MODE_FILTER,
                     SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
    if (fd < 0 && errno == EINVAL)
        fd = sys_seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (fd < 0) {
        char release[128];
        int err = errno;
        (void)kernel_version(release, sizeof(release));
        if (err == EBUSY)
            say("cannot install the seccomp filter: this process already runs under a seccomp "
                "user-notification supervisor (another " PROG ", or a container runtime's), "
                "and Linux allows one per process tree (EBUSY)");
        else if (err == EINVAL || err == ENOSYS)
            say("cannot install the seccomp filter on Linux %s (%s): seccomp user "
                "notification needs Linux 5.6 or later built with CONFIG_SECCOMP_FILTER",
                release, strerror(err));
        else
            say("cannot install the seccomp filter: %s", strerror(err));
        errno = err;
    }
    return fd;
}

/* --------------------------------------------------------- fd passing */

int send_fd(int sock, int fd)
{
    char byte = 'L';
    struct iovec iov = { &byte, 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg;
    struct cmsghdr *c;

    memset(&msg, 0, sizeof(msg));
    memset(&u, 0, sizeof(u));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof(u.buf);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* Returns the received fd, -1 on error, -2 when the peer closed without
 * sending one (the child failed before and said why). */
static int recv_fd(int sock)
{
    char byte;
    struct iovec iov = { &byte, 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg;
    struct cmsghdr *c;
    ssize_t r;
    int fd;

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof(u.buf);
    do
        r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return -2;
    if (r < 0)
        return -1;
    c = CMSG_FIRSTHDR(&msg);
    if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
        c->cmsg_len != CMSG_LEN(sizeof(int))) {
        errno = EPROTO;
        return -1;
    }
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

/* ------------------------------------------------------------ supervisor */

static int get_int(int fd, int level, int name, int *value)
{
    socklen_t len = (socklen_t)sizeof(*value);
    return getsockopt(fd, level, name, value, &len);
}

/* 1 if fd is an AF_INET/AF_INET6 SOCK_STREAM IPPROTO_TCP socket. */
static int is_tcp(int fd, char *why, size_t size)
{
    int domain = -1, type = -1, protocol = -1;

    if (get_int(fd, SOL_SOCKET, SO_DOMAIN, &domain) != 0) {
        snprintf(why, size, "not a socket (%s)", strerror(errno));
        return 0;
    }
    if (domain != AF_INET && domain != AF_INET6) {
        snprintf(why, size, "family %d, not AF_INET/AF_INET6", domain);
        return 0;
    }
    if (get_int(fd, SOL_SOCKET, SO_TYPE, &type) != 0 || type != SOCK_STREAM) {
        snprintf(why, size, "type %d, not SOCK_STREAM", type);
        return 0;
    }
    if (get_int(fd, SOL_SOCKET, SO_PROTOCOL, &protocol) != 0 || protocol != IPPROTO_TCP) {
        snprintf(why, size, "protocol %d, not TCP", protocol);
        return 0;
    }
    return 1;
}

/* Sets the configured options on fd; returns the number of failures and
 * describes what was done in line. */
static int apply(int fd, char *line, size_t size)
{
    struct {
        int level, name, value;
        const char *label;
    } opts[5];
    size_t n = 0, used = 0, i;
    int failures = 0;

    opts[n].level = SOL_SOCKET;
    opts[n].name = SO_KEEPALIVE;
    opts[n].value = 1;
    opts[n++].label = "SO_KEEPALIVE";
    if (cfg.idle > 0) {
        opts[n].level = IPPROTO_TCP;
        opts[n].name = TCP_KEEPIDLE;
        opts[n].value = cfg.idle;
        opts[n++].label = "TCP_KEEPIDLE";
    }
    if (cfg.interval > 0) {
        opts[n].level = IPPROTO_TCP;
        opts[n].name = TCP_KEEPINTVL;
        opts[n].value = cfg.interval;
        opts[n++].label = "TCP_KEEPINTVL";
    }
    if (cfg.count > 0) {
        opts[n].level = IPPROTO_TCP;
        opts[n].name = TCP_KEEPCNT;
        opts[n].value = cfg.count;
        opts[n++].label = "TCP_KEEPCNT";
    }
    if (cfg.user_timeout >= 0) {
        opts[n].level = IPPROTO_TCP;
        opts[n].name = TCP_USER_TIMEOUT;
        opts[n].value = cfg.user_timeout;
        opts[n++].label = "TCP_USER_TIMEOUT";
    }
    line[0] = '\0';
    for (i = 0; i < n; i++) {
        int rc = setsockopt(fd, opts[i].level, opts[i].name, &opts[i].value,
                            (socklen_t)sizeof(opts[i].value));
        int w;
        if (rc != 0)
            failures++;
        if (!cfg.debug || used >= size)
            continue;
        if (rc == 0)
            w = snprintf(line + used, size - used, " %s=%d", opts[i].label, opts[i].value);
        else
            w = snprintf(line + used, size - used, " %s=%d failed (%s)", opts[i].label,
                         opts[i].value, strerror(errno));
        if (w > 0)
            used += (size_t)w;
    }
    return failures;
}

/* Answers CONTINUE: the kernel runs the original call as the program made
 * it. ENOENT means the task died or the call was interrupted by a signal
 * (it will be restarted and notified again): nothing to do. */
static void answer_continue(int listener, struct seccomp_notif_resp *resp, size_t resp_size,
                            __u64 id)
{
    memset(resp, 0, resp_size);
    resp->id = id;
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    while (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0) {
        if (errno == EINTR)
            continue;
        if (errno != ENOENT)
            say("SECCOMP_IOCTL_NOTIF_SEND: %s", strerror(errno));
        break;
    }
}

/* Serves one notification. Returns -1 only when the listener itself failed. */
int serve_one(int listener, struct seccomp_notif *req, size_t req_size,
                     struct seccomp_notif_resp *resp, size_t resp_size, struct stats *st)
{
    char line[400], why[96], call[32];
    struct psk_call decoded;
    __u64 id;
    int pidfd, sock, fd, known, foreign;

    memset(req, 0, req_size); /* the kernel insists on a zeroed buffer */
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
        if (errno == EINTR || errno == ENOENT)
            return 0; /* interrupted, or the task went away before we read it */
        say("SECCOMP_IOCTL_NOTIF_RECV: %s", strerror(errno));
        return -1;
    }
    st->notifications++;
    id = req->id;
    pidfd = open_task_pidfd((pid_t)req->pid);
    if (pidfd < 0) {
        debug("pid %u: system call %d: pidfd_open: %s", req->pid, req->data.nr, strerror(errno));
        st->failed++;
        answer_continue(listener, resp, resp_size, id);
        return 0;
    }
    /* An i386 socketcall() keeps its descriptor in the program's memory: read
     * while the call waits, and trusted only after the ID_VALID check below. */
    memset(&decoded, 0, sizeof(decoded));
    known = psk_decode_call(&req->data, (pid_t)req->pid, &decoded);
    fd = decoded.fd;
    foreign = decoded.abi != NULL && decoded.abi != psk_native_abi;
    snprintf(call, sizeof(call), "%s%s%s", foreign ? decoded.abi : "", foreign ? " " : "",
             decoded.is_connect ? "connect" : "listen");
    if (known < 0) {
        debug("pid %u: %s: cannot read its socketcall arguments (%s), left alone", req->pid, call,
              strerror(errno));
        close(pidfd);
        st->failed++;
        answer_continue(listener, resp, resp_size, id);
        return 0;
    }
    if (known == 0 || (decoded.is_connect && cfg.mode == MODE_LISTENING) ||
        (!decoded.is_connect && cfg.mode == MODE_OUTGOING)) {
        close(pidfd);
        st->skipped++;
        answer_continue(listener, resp, resp_size, id);
        return 0;
    }
    /* Only while the notification is still pending is req->pid the task
     * that made the call (it cannot exit while it waits for us): checked
     * after pidfd_open, so the pidfd names that task and not a recycled pid. */
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0) {
        debug("pid %u: %s(%d): notification no longer valid (%s), left alone", req->pid, call,
              fd, strerror(errno));
        close(pidfd);
        st->skipped++;
        answer_continue(listener, resp, resp_size, id);
        return 0;
    }
    sock = sys_pidfd_getfd(pidfd, fd);
    if (sock < 0) {
        int err = errno;
        debug("pid %u: %s(%d): pidfd_getfd: %s, left alone", req->pid, call, fd, strerror(err));
        close(pidfd);
        if (err == EBADF)
            st->skipped++; /* the call itself will fail with EBADF */
        else
            st->failed++;
        answer_continue(listener, resp, resp_size, id);
        return 0;
    }
    close(pidfd);
    if (!is_tcp(sock, why, sizeof(why))) {
        debug("pid %u: %s(%d): %s, left alone", req->pid, call, fd, why);
        st->skipped++;
    } else if (apply(sock, line, sizeof(line)) != 0) {
        debug("pid %u: %s(%d):%s", req->pid, call, fd, line);
        st->failed++;
    } else {
        debug("pid %u: %s(%d):%s", req->pid, call, fd, line);
        st->applied++;
    }
    close(sock);
    answer_continue(listener, resp, resp_size, id);
    return 0;
}

/* SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5) on the real listener: a
 * response for an id that does not exist fails with ENOENT when the flag is
 * known and with EINVAL before 5.5. No call is pending yet (the child waits
 * for the go-ahead outside any filtered call), so no real id can match. */
static int probe_continue(int listener, struct seccomp_notif_resp *resp, size_t resp_size)
{
    char release[128];

    memset(resp, 0, resp_size);
    resp->id = 0;
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0 && errno == ENOENT)
        return 0;
    (void)kernel_version(release, sizeof(release));
    say("this kernel (Linux %s) has no SECCOMP_USER_NOTIF_FLAG_CONTINUE: seccomp mode needs "
        "Linux 5.5 or later (and pidfd_getfd, 5.6)", release);
    return -1;
}

/* ------------------------------------------------------------ supervisor */

/* Seccomp method: receives the listener from the child, checks the kernel,
 * sends the go-ahead and serves until the end. */
int supervise(struct child_state *child, int sock, int sigfd)
{
    struct seccomp_notif_sizes sizes;
    struct server srv;
    char release[128];
    int result;

    memset(&srv, 0, sizeof(srv));
    srv.hup_supported = kernel_version(release, sizeof(release)) >= 5008;
    srv.listener = recv_fd(sock);
    if (srv.listener < 0) {
        if (srv.listener == -1)
            say("did not receive the seccomp listener from the child: %s", strerror(errno));
        goto refuse;
    }
    if (sys_seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
        say("seccomp(SECCOMP_GET_NOTIF_SIZES): %s", strerror(errno));
        goto refuse;
    }
    srv.req_size = sizes.seccomp_notif > sizeof(*srv.req) ? sizes.seccomp_notif : sizeof(*srv.req);
    srv.resp_size = sizes.seccomp_notif_resp > sizeof(*srv.resp) ? sizes.seccomp_notif_resp
                                                                 : sizeof(*srv.resp);
    srv.req = calloc(1, srv.req_size);
    srv.resp = calloc(1, srv.resp_size);
    if (srv.req == NULL || srv.resp == NULL) {
        say("cannot set up the supervisor: %s", strerror(errno));
        goto refuse;
    }
    if (probe_continue(srv.listener, srv.resp, srv.resp_size) != 0)
        goto refuse;
    /* Linux 6.6: the program and the supervisor hand the CPU to each other
     * directly (the program waits while we work), which makes the round
     * trip several times cheaper. Older kernels: EINVAL/ENOTTY, no matter. */
    int sync_wake = ioctl(srv.listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                          (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;

    debug("pid %ld supervises pid %ld: mode=%s idle=%d interval=%d count=%d user_timeout=%d "
          "(-1 = not set), %s, Linux %s%s",
          (long)getpid(), (long)child->pid, mode_name(cfg.mode), cfg.idle, cfg.interval,
          cfg.count, cfg.user_timeout, psk_native_abi, release, sync_wake ? ", synchronous wake-up" : "");
    if (write(sock, "G", 1) != 1) {
        say("cannot start the child: %s", strerror(errno));
        goto refuse;
    }
    close(sock);
    detach_stdio();
    private_stderr();
    result = watch(child, sigfd, &srv);
    debug("done: %lu notifications, %lu sockets set, %lu left alone, %lu failed; exit %d",
          srv.st.notifications, srv.st.applied, srv.st.skipped, srv.st.failed, result);
    free(srv.req);
    free(srv.resp);
    close(srv.listener);
    return result;

refuse:
    /* The child is waiting for the go-ahead: closing our end makes it exit
     * without running the program. */
    close(sock);
    if (srv.listener >= 0)
        close(srv.listener);
    free(srv.req);
    free(srv.resp);
    while (waitpid(child->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return EXIT_LAUNCHER;
}

