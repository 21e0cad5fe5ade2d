/*
 * pskeepalive_seccomp.c: pskeepalive-seccomp, a launcher that switches TCP
 * keepalive on for programs LD_PRELOAD cannot reach (statically linked
 * programs, Go binaries and anything else that makes raw system calls), and
 * the foreground launcher of `pskeepalive run` for both of its methods.
 *
 *   PSKEEPALIVE_IDLE=60 pskeepalive-seccomp [--default-sigpipe]
 *       [--ld-preload LIST [--exec]] [--] PROGRAM ARGS...
 *
 *   --default-sigpipe starts PROGRAM with SIGPIPE at its default action
 *   (terminate) even when the launcher inherited it ignored: every process
 *   started by .NET does, and a program that inherits SIGPIPE ignored does
 *   not stop when the reader of its output goes away (`yes | head` spins).
 *
 *   --ld-preload LIST runs PROGRAM with LD_PRELOAD=LIST and no seccomp
 *   filter (the preload method: the shim in LIST does the work). The
 *   launcher still starts, waits for and signals PROGRAM as below, so that
 *   `pskeepalive run` behaves the same with either method. LIST is set for
 *   PROGRAM only, never loaded into the launcher itself.
 *
 *   --exec (with --ld-preload only) starts nothing and supervises nothing:
 *   it sets SIGPIPE (with --default-sigpipe), SIGCHLD and LD_PRELOAD as
 *   above and replaces itself with PROGRAM (same process ID), for callers
 *   that wait for the program themselves (Start-KeepaliveProcess).
 *
 * SIGCHLD: the launcher resets an inherited SIG_IGN (or SA_NOCLDWAIT) to the
 * default at start, for itself and for PROGRAM: with SIGCHLD ignored the
 * kernel reaps children at once, which takes away the exit status and lets
 * the child's process ID be reused while the launcher still believes it
 * names the child (POSIX leaves the inheritance of an ignored SIGCHLD across
 * exec unspecified, and programs that wait() for children break under it).
 * The child is watched through a pidfd opened right after fork (it cannot be
 * reaped before: only the launcher waits for it), polled together with
 * SIGCHLD; signals go to it with pidfd_send_signal, never kill(pid).
 *
 * Signals (one rule for both methods). SIGHUP, SIGINT, SIGQUIT, SIGTERM,
 * SIGUSR1 and SIGUSR2 that reach the launcher are passed on to PROGRAM,
 * except those the terminal sent (si_code SI_KERNEL: Ctrl-C, Ctrl-\, hangup)
 * while PROGRAM is still in the launcher's process group: the terminal
 * signals the whole foreground process group, so PROGRAM got that one
 * already and a second copy would turn "press Ctrl-C again to force" into a
 * forced stop (sudo follows the same rule). The launcher itself never dies of
 * these signals while PROGRAM runs; it exits when PROGRAM does.
 *
 * How it works
 *   The launcher forks. The child sets PR_SET_NO_NEW_PRIVS (unless it holds
 *   CAP_SYS_ADMIN), installs a seccomp BPF filter that returns
 *   SECCOMP_RET_USER_NOTIF for connect() and/or listen() (by mode) and
 *   SECCOMP_RET_ALLOW for every other system call, hands the filter's
 *   listener descriptor to the parent over a socketpair (SCM_RIGHTS), waits
 *   for the parent's go-ahead and execs PROGRAM. The filter is inherited over
 *   fork(), clone() and execve(), so it covers the whole process tree.
 *
 *   The parent is the supervisor. For each notification it opens a pidfd of
 *   the calling task, checks SECCOMP_IOCTL_NOTIF_ID_VALID (the task may have
 *   died or the call been interrupted, and the pid may since name another
 *   process), duplicates the socket argument with pidfd_getfd(), and if that
 *   is an AF_INET/AF_INET6 SOCK_STREAM IPPROTO_TCP socket sets SO_KEEPALIVE
 *   and the configured TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT/
 *   TCP_USER_TIMEOUT on the copy (it is the same socket). It then always
 *   answers SECCOMP_USER_NOTIF_FLAG_CONTINUE: the kernel runs the original
 *   call unchanged, whatever happened before. A failure never blocks or
 *   changes the program's call. Cost: one round trip to the supervisor per
 *   connect()/listen(); other system calls only run the filter's eight or so
 *   BPF instructions.
 *
 *   Descendants that outlive PROGRAM (a daemon that forks and exits, `sh -c
 *   'server &'`) keep the filter, and a filter without its supervisor makes
 *   each of their later connect()/listen() fail with ENOSYS (below). So the
 *   supervisor keeps serving until the listener reports POLLHUP (no task
 *   uses the filter any more: the whole tree has exited, Linux 5.8+) and the
 *   direct child has been reaped, then exits with the child's exit status
 *   (128 + signal number when it was killed by a signal). A stop request is
 *   never ignored: once the direct child has exited there is nobody left to
 *   pass a signal to, and any of the signals above (from a process or the
 *   terminal) ends the supervisor at once with the child's status; it says
 *   on stderr that the remaining descendants lose their supervisor.
 *
 * If the supervisor dies (SIGKILL, OOM killer)
 *   The listener descriptor is closed with it. The kernel then answers every
 *   pending notification and every later filtered call itself with ENOSYS:
 *   the program keeps running, nothing hangs, but each later connect() (or
 *   listen(), by mode) fails at once with ENOSYS, "Function not implemented"
 *   (checked on Linux 6.18 by tests/PSKeepalive.Tests/Seccomp). Stop the
 *   program, not the supervisor: SIGTERM to the supervisor is forwarded.
 *
 * no_new_privs
 *   Installing a seccomp filter needs either CAP_SYS_ADMIN or no_new_privs.
 *   When the caller lacks CAP_SYS_ADMIN the child sets no_new_privs, which
 *   the program and all its descendants inherit and cannot clear: execve()
 *   no longer grants privileges, so set-user-ID and set-group-ID programs
 *   and programs with file capabilities run with the caller's own identity
 *   and without their privileges (sudo, su, ping without CAP_NET_RAW may
 *   then fail). Started by root (CAP_SYS_ADMIN), no_new_privs is not set.
 *
 * Settings (environment, the same variables as the LD_PRELOAD shim; unlike
 * the shim the launcher refuses an invalid value up front with exit code 2):
 *   PSKEEPALIVE_IDLE          1..32767 s      TCP_KEEPIDLE
 *   PSKEEPALIVE_INTERVAL      1..32767 s      TCP_KEEPINTVL
 *   PSKEEPALIVE_COUNT         1..127          TCP_KEEPCNT
 *   PSKEEPALIVE_USER_TIMEOUT  0..2147483647 ms TCP_USER_TIMEOUT
 *   PSKEEPALIVE_MODE          all (default: connect and listen) | outgoing
 *                             (connect) | listening (listen; accepted sockets
 *                             inherit the listener's options)
 *   PSKEEPALIVE_DEBUG         1: one "pskeepalive-seccomp:" line on stderr
 *                             per socket touched or skipped
 *   PSKEEPALIVE_OFF           1: run PROGRAM directly, without any filter
 *   An empty variable counts as unset. SO_KEEPALIVE is always set; the other
 *   options only when their variable is set (else the sysctls apply).
 *
 * Exit status: PROGRAM's, or 128+N when it was killed by signal N; 2 for
 * invalid usage or settings; 125 when the kernel lacks what this needs or
 * the launcher itself failed; 127 when PROGRAM could not be executed.
 *
 * Races: another thread of the program may close and reuse the descriptor
 * number while the call waits for us. The options then land on whatever TCP
 * socket the number names at that moment (a socket of the same program, so
 * at worst one socket more gets keepalive), and the kernel continues the
 * call on the descriptor as it is then. This is the known time-of-check gap
 * of user notification; it matters for security policies, not here, and the
 * supervisor never decides anything for the program.
 *
 * ABIs: the filter checks the architecture of every call and covers each
 * ABI that can run on this kernel (seccomp_filter.h): x86_64, x32 and i386
 * on x86_64 (i386 socketcall() included), aarch64 and arm32 on aarch64.
 *
 * Not covered: io_uring IORING_OP_CONNECT and TCP Fast Open via
 * sendto(MSG_FASTOPEN) do not call connect(); pidfd_getfd() needs ptrace
 * access to the task (same user and a descendant under Yama ptrace_scope 1,
 * CAP_SYS_PTRACE for non-dumpable tasks such as those that called
 * prctl(PR_SET_DUMPABLE, 0)): without it the call continues untouched.
 *
 * Requirements (seccomp): Linux 5.6 (SECCOMP_USER_NOTIF_FLAG_CONTINUE is 5.5,
 * pidfd_getfd 5.6; both are probed at start), POLLHUP on the listener 5.8
 * (on 5.6/5.7 the supervisor stops when its direct child exits). Used when
 * present: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19: a signal does not
 * withdraw a notification being served), SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
 * (6.6: cheaper round trip), PIDFD_THREAD (6.9: the calling thread itself;
 * before, its thread group leader). Without --ld-preload, x86_64 or aarch64
 * (other architectures build the launcher for the preload method only).
 * --ld-preload needs no particular kernel: without pidfds (before 5.3) the
 * child is waited for through SIGCHLD and signalled with kill() before it is
 * reaped, when its process ID cannot have been reused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp_filter.h"

/* Numbers from the kernel's generic table (aarch64) and syscall_64.tbl
 * (x86_64), in case the C library's headers are older than the kernel. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9: a pidfd for any thread, not only a leader */
#endif
#ifndef SECCOMP_GET_NOTIF_SIZES
#define SECCOMP_GET_NOTIF_SIZES 3
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif

#define PROG "pskeepalive-seccomp"

#define EXIT_USAGE 2
#define EXIT_LAUNCHER 125
#define EXIT_EXEC 127

/* Kernel ranges (include/net/tcp.h), the same as KeepaliveLimits in Core. */
#define KA_IDLE_MAX 32767L
#define KA_INTERVAL_MAX 32767L
#define KA_COUNT_MAX 127L

enum mode { MODE_ALL, MODE_OUTGOING, MODE_LISTENING };

struct settings {
    enum mode mode;
    int debug;
    int off;
    int default_sigpipe; /* --default-sigpipe: PROGRAM starts with SIGPIPE at its default */
    int idle;         /* -1: not set */
    int interval;     /* -1: not set */
    int count;        /* -1: not set */
    int user_timeout; /* -1: not set */
};

static struct settings cfg;

/* ---------------------------------------------------------------- output */

/* Where the supervisor writes its lines: stderr, or a private non-blocking
 * description of the same pipe or terminal (see private_stderr). */
static int err_fd = STDERR_FILENO;
static int err_nonblocking;

/* One line on stderr with one write(2). The supervisor must never block on
 * its own output while the program waits for it: stderr may be a pipe that
 * the (now waiting) program is meant to drain, or a terminal stopped with
 * Ctrl-S. With a private non-blocking description a full pipe or terminal
 * drops the line at once (EAGAIN); otherwise the supervisor waits at most
 * 100 ms for room (a pipe reported writable takes up to PIPE_BUF bytes). */
static void emit(const char *fmt, va_list ap)
{
    char line[512];
    struct pollfd p;
    size_t len;
    int n, saved = errno;

    memcpy(line, PROG ": ", sizeof(PROG ": ") - 1);
    n = vsnprintf(line + sizeof(PROG ": ") - 1, sizeof(line) - sizeof(PROG ": "), fmt, ap);
    if (n < 0) {
        errno = saved;
        return;
    }
    len = strnlen(line, sizeof(line) - 1);
    line[len++] = '\n';
    p.fd = err_fd;
    p.events = POLLOUT;
    p.revents = 0;
    if (err_nonblocking || (poll(&p, 1, 100) == 1 && (p.revents & POLLOUT))) {
        if (write(err_fd, line, len) < 0) {
            /* nothing more to do */
        }
    }
    errno = saved;
}

/* In the supervisor: O_NONBLOCK on the inherited stderr would change it for
 * the program too (the flag belongs to the shared open file description), so
 * a pipe or terminal is opened anew through /proc/self/fd/2, with its own
 * O_NONBLOCK. Regular files never block for long and keep the original (a
 * new description would write at its own offset); sockets cannot be reopened
 * this way (ENXIO) and keep the poll above. */
static void private_stderr(void)
{
    struct stat st;
    int fd;

    if (fstat(STDERR_FILENO, &st) != 0 || S_ISREG(st.st_mode))
        return;
    fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
        err_fd = fd;
        err_nonblocking = 1;
    }
}

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 1, 2))) static void debug(const char *fmt, ...)
{
    va_list ap;

    if (!cfg.debug)
        return;
    va_start(ap, fmt);
    emit(fmt, ap);
    va_end(ap);
}

static void usage(FILE *to)
{
    fputs("usage: " PROG " [--default-sigpipe] [--ld-preload LIST [--exec]] [--] PROGRAM [ARGS...]\n"
          "Runs PROGRAM with TCP keepalive set on its sockets at connect() and listen(),\n"
          "through a seccomp user-notification filter: works for static and Go programs.\n"
          "Settings come from the environment:\n"
          "  PSKEEPALIVE_IDLE=1..32767 (s)  PSKEEPALIVE_INTERVAL=1..32767 (s)\n"
          "  PSKEEPALIVE_COUNT=1..127       PSKEEPALIVE_USER_TIMEOUT=0..2147483647 (ms)\n"
          "  PSKEEPALIVE_MODE=all|outgoing|listening  PSKEEPALIVE_DEBUG=1  PSKEEPALIVE_OFF=1\n"
          "--default-sigpipe: start PROGRAM with SIGPIPE at its default action even if this\n"
          "launcher inherited it ignored (as every process started by .NET does).\n"
          "--ld-preload LIST: no filter; PROGRAM runs with LD_PRELOAD=LIST (the preload method).\n"
          "--exec (with --ld-preload): replace this launcher with PROGRAM instead of waiting.\n"
          "Signals: HUP, INT, QUIT, TERM, USR1 and USR2 sent to the launcher are passed on to\n"
          "PROGRAM, except those the terminal sent to PROGRAM's process group already.\n"
          "Exit status: PROGRAM's (128+N if killed by signal N); 2 invalid usage or settings;\n"
          "125 kernel lacks support or launcher failure; 127 PROGRAM could not be run.\n",
          to);
}

/* -------------------------------------------------------------- settings */

static const char *env_value(const char *name)
{
    const char *v = getenv(name);
    return (v != NULL && *v != '\0') ? v : NULL;
}

/* Decimal digits only, the whole string, within [min, max]. */
static int parse_number(const char *name, long min, long max, const char *unit, int *dst)
{
    const char *v = env_value(name);
    char *end = NULL;
    long parsed;

    if (v == NULL)
        return 0;
    errno = 0;
    parsed = (*v >= '0' && *v <= '9') ? strtol(v, &end, 10) : -1;
    if (*v < '0' || *v > '9' || errno != 0 || end == v || *end != '\0' || parsed < min ||
        parsed > max) {
        say("invalid %s=\"%.64s\": expected an integer from %ld to %ld %s", name, v, min, max,
            unit);
        return -1;
    }
    *dst = (int)parsed;
    return 0;
}

static int load_settings(void)
{
    const char *v;
    int bad = 0;

    cfg.mode = MODE_ALL;
    cfg.idle = cfg.interval = cfg.count = cfg.user_timeout = -1;
    v = env_value("PSKEEPALIVE_DEBUG");
    cfg.debug = v != NULL && strcmp(v, "1") == 0;
    v = env_value("PSKEEPALIVE_OFF");
    if (v != NULL && strcmp(v, "1") == 0) {
        cfg.off = 1;
    } else if (v != NULL && strcmp(v, "0") != 0) {
        say("invalid PSKEEPALIVE_OFF=\"%.64s\": expected 1 or 0", v);
        bad = 1;
    }
    v = env_value("PSKEEPALIVE_MODE");
    if (v != NULL) {
        if (strcasecmp(v, "all") == 0)
            cfg.mode = MODE_ALL;
        else if (strcasecmp(v, "outgoing") == 0)
            cfg.mode = MODE_OUTGOING;
        else if (strcasecmp(v, "listening") == 0)
            cfg.mode = MODE_LISTENING;
        else {
            say("invalid PSKEEPALIVE_MODE=\"%.64s\": expected all, outgoing or listening", v);
            bad = 1;
        }
    }
    bad |= parse_number("PSKEEPALIVE_IDLE", 1, KA_IDLE_MAX, "seconds", &cfg.idle) != 0;
    bad |= parse_number("PSKEEPALIVE_INTERVAL", 1, KA_INTERVAL_MAX, "seconds", &cfg.interval) != 0;
    bad |= parse_number("PSKEEPALIVE_COUNT", 1, KA_COUNT_MAX, "probes", &cfg.count) != 0;
    bad |= parse_number("PSKEEPALIVE_USER_TIMEOUT", 0, INT_MAX, "milliseconds",
                        &cfg.user_timeout) != 0;
    return bad ? -1 : 0;
}

static const char *mode_name(enum mode m)
{
    return m == MODE_OUTGOING ? "outgoing" : m == MODE_LISTENING ? "listening" : "all";
}

/* ---------------------------------------------------------- kernel calls */

static int sys_seccomp(unsigned int op, unsigned int flags, void *args)
{
    return (int)syscall(SYS_seccomp, op, flags, args);
}

static int sys_pidfd_open(pid_t pid, unsigned int flags)
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

static int has_cap_sys_admin(void)
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

/* Linux version as major * 1000 + minor, 0 when unknown. */
static long kernel_version(char *release, size_t size)
{
    struct utsname u;
    long major, minor;
    char *end;

    if (uname(&u) != 0) {
        snprintf(release, size, "unknown");
        return 0;
    }
    snprintf(release, size, "%s", u.release);
    major = strtol(u.release, &end, 10);
    if (*end != '.')
        return 0;
    minor = strtol(end + 1, NULL, 10);
    return major * 1000 + minor;
}

/* Refuses, before anything starts, on a kernel without pidfd_open (5.3) or
 * pidfd_getfd (5.6), probed rather than guessed from the version number
 * (distributions backport). SECCOMP_USER_NOTIF_FLAG_CONTINUE (5.5) is probed
 * by the supervisor on the real listener (probe_continue). */
static int check_kernel(void)
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
static int install_filter(void)
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

static int send_fd(int sock, int fd)
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

/* ----------------------------------------------------------------- child */

/* Signals that reach the launcher and are passed on to PROGRAM; the first
 * four also ask the launcher to stop (see "Signals" above). */
static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 };

static int is_stop_request(int sig)
{
    return sig == SIGHUP || sig == SIGINT || sig == SIGQUIT || sig == SIGTERM;
}

/* Command-line choices (the settings come from the environment). */
static struct {
    const char *ld_preload; /* --ld-preload LIST: no filter, LD_PRELOAD=LIST */
    int exec_in_place;      /* --exec */
} launch;

/* The last steps before PROGRAM runs, in the process that becomes it. */
static void exec_program(const sigset_t *original_mask, char **argv)
{
    if (launch.ld_preload != NULL && setenv("LD_PRELOAD", launch.ld_preload, 1) != 0) {
        say("cannot set LD_PRELOAD: %s", strerror(errno));
        _exit(EXIT_LAUNCHER);
    }
    if (original_mask != NULL)
        sigprocmask(SIG_SETMASK, original_mask, NULL);
    execvp(argv[0], argv);
    say("cannot run %s: %s", argv[0], strerror(errno));
    _exit(EXIT_EXEC);
}

/* Runs in the forked child: filter (unless --ld-preload), hand over the
 * listener, wait for the go-ahead, exec. Never returns. */
static void run_child(int sock, const sigset_t *original_mask, char **argv)
{
    char go = 0;
    ssize_t r;
    int listener;

    if (launch.ld_preload != NULL)
        exec_program(original_mask, argv);
    if (!has_cap_sys_admin() && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        say("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        _exit(EXIT_LAUNCHER);
    }
    listener = install_filter();
    if (listener < 0)
        _exit(EXIT_LAUNCHER);
    if (send_fd(sock, listener) != 0) {
        say("cannot hand the listener to the supervisor: %s", strerror(errno));
        _exit(EXIT_LAUNCHER);
    }
    /* The supervisor holds it now. Keeping a copy here would keep every
     * filtered call of the program waiting forever if the supervisor died. */
    close(listener);
    do
        r = read(sock, &go, 1);
    while (r < 0 && errno == EINTR);
    if (r != 1 || go != 'G')
        _exit(EXIT_LAUNCHER); /* the supervisor refused and said why, or died */
    close(sock);
    exec_program(original_mask, argv);
}

/* ------------------------------------------------------------ supervisor */

struct stats {
    unsigned long notifications, applied, skipped, failed;
};

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
static int serve_one(int listener, struct seccomp_notif *req, size_t req_size,
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

static int exit_code_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return EXIT_LAUNCHER;
}

/* Detaches the supervisor's stdin/stdout (the program keeps its own): a
 * reader waiting for EOF on the program's output must not wait for us. */
static void detach_stdio(void)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (null < 0)
        return;
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    if (null > STDERR_FILENO)
        close(null);
}

/* ----------------------------------------------------------------- the child */

/* The direct child, PROGRAM. Its process ID stays ours until we reap it
 * (SIGCHLD is at its default and nobody else waits for it), so the pidfd
 * opened right after fork names it, and so does the pid until done is set. */
struct child_state {
    pid_t pid;
    int pidfd; /* -1 without pidfd_open (Linux before 5.3) */
    int done;
    int status;
    int lost; /* reaped by someone else: no status */
};

static int sys_pidfd_send_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static void reap(struct child_state *c)
{
    int status = 0;
    pid_t r;

    if (c->done)
        return;
    do
        r = waitpid(c->pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return;
    c->done = 1;
    if (r == c->pid)
        c->status = status;
    else
        c->lost = 1; /* ECHILD: cannot happen with SIGCHLD at its default */
    if (c->pidfd >= 0) {
        close(c->pidfd);
        c->pidfd = -1;
    }
}

/* Passes a signal that reached the launcher on to PROGRAM, unless the
 * terminal sent it to PROGRAM's process group already (see "Signals"). */
static void pass_on(struct child_state *c, const struct signalfd_siginfo *si)
{
    int sig = (int)si->ssi_signo;

    reap(c); /* a child that has just exited is not signalled */
    if (c->done)
        return;
    if (si->ssi_code == SI_KERNEL && getpgid(c->pid) == getpgrp()) {
        debug("signal %d came from the terminal, which sent it to pid %ld too", sig, (long)c->pid);
        return;
    }
    debug("passing signal %d on to pid %ld", sig, (long)c->pid);
    if ((c->pidfd >= 0 ? sys_pidfd_send_signal(c->pidfd, sig) : kill(c->pid, sig)) != 0 &&
        errno != ESRCH)
        say("cannot pass signal %d on to pid %ld: %s", sig, (long)c->pid, strerror(errno));
}

/* The seccomp side of the loop below: the listener and what serving needs. */
struct server {
    int listener; /* -1: no filter (--ld-preload) */
    int hup_supported;
    struct seccomp_notif *req;
    struct seccomp_notif_resp *resp;
    size_t req_size, resp_size;
    struct stats st;
};

/* Serves notifications and watches the child until it has exited and, with
 * a filter, no task uses the filter any more, or until a stop request comes
 * with the child gone. Returns the exit status. */
static int watch(struct child_state *child, int sigfd, struct server *srv)
{
    int hup = srv->listener < 0, stop = 0;

    while (!(child->done && (hup || !srv->hup_supported || stop))) {
        struct pollfd p[3];
        nfds_t count = 0;
        int at_child = -1, at_listener = -1;

        p[count].fd = sigfd;
        p[count].events = POLLIN;
        p[count++].revents = 0;
        if (!child->done && child->pidfd >= 0) {
            at_child = (int)count;
            p[count].fd = child->pidfd;
            p[count].events = POLLIN;
            p[count++].revents = 0;
        }
        if (!hup) {
            at_listener = (int)count;
            p[count].fd = srv->listener;
            p[count].events = POLLIN;
            p[count++].revents = 0;
        }
        if (poll(p, count, -1) < 0) {
            if (errno == EINTR)
                continue;
            say("poll: %s", strerror(errno));
            break;
        }
        if (at_listener >= 0 && (p[at_listener].revents & POLLIN)) {
            if (serve_one(srv->listener, srv->req, srv->req_size, srv->resp, srv->resp_size,
                          &srv->st) != 0)
                break;
        } else if (at_listener >= 0 && (p[at_listener].revents & (POLLHUP | POLLERR | POLLNVAL))) {
            hup = 1;
        }
        if (at_child >= 0 && p[at_child].revents != 0)
            reap(child);
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                int sig = (int)si.ssi_signo;
                if (sig == SIGCHLD) {
                    reap(child);
                    continue;
                }
                if (is_stop_request(sig))
                    stop = sig;
                pass_on(child, &si);
            }
        }
    }
    if (stop && child->done && !hup && srv->hup_supported)
        say("stopping on signal %d: the processes that %ld left running lose their supervisor "
            "(their later connect()/listen() fail with ENOSYS)", stop, (long)child->pid);
    if (!child->done)
        return EXIT_LAUNCHER;
    if (child->lost) {
        say("pid %ld was reaped by someone else: its exit status is unknown", (long)child->pid);
        return EXIT_LAUNCHER;
    }
    return exit_code_of(child->status);
}

/* ------------------------------------------------------------ supervisor */

/* Seccomp method: receives the listener from the child, checks the kernel,
 * sends the go-ahead and serves until the end. */
static int supervise(struct child_state *child, int sock, int sigfd)
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

/* ------------------------------------------------------------------ main */

/* Resets a signal to its default action (and SIGCHLD's SA_NOCLDWAIT). */
static void default_action(int sig)
{
    struct sigaction action;

    memset(&action, 0, sizeof(action));
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    (void)sigaction(sig, &action, NULL);
}

int main(int argc, char **argv)
{
    sigset_t forward_mask, original_mask;
    struct child_state child;
    int pair[2] = { -1, -1 }, argi = 1, sigfd;
    size_t i;

    if (argi < argc && (strcmp(argv[argi], "-h") == 0 || strcmp(argv[argi], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    for (; argi < argc; argi++) {
        if (strcmp(argv[argi], "--default-sigpipe") == 0)
            cfg.default_sigpipe = 1;
        else if (strcmp(argv[argi], "--exec") == 0)
            launch.exec_in_place = 1;
        else if (strcmp(argv[argi], "--ld-preload") == 0 && argi + 1 < argc)
            launch.ld_preload = argv[++argi];
        else
            break;
    }
    if (argi < argc && strcmp(argv[argi], "--") == 0)
        argi++;
    else if (argi < argc && argv[argi][0] == '-' && argv[argi][1] != '\0') {
        say("unknown option %s (settings come from PSKEEPALIVE_* variables; use -- before a "
            "program whose name starts with -)", argv[argi]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (argi >= argc) {
        say("no program given");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (launch.exec_in_place && launch.ld_preload == NULL) {
        say("--exec needs --ld-preload: a seccomp filter needs a supervisor");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (load_settings() != 0)
        return EXIT_USAGE;
    /* Before fork: the child and the exec paths start PROGRAM with these. */
    default_action(SIGCHLD);
    if (cfg.default_sigpipe)
        default_action(SIGPIPE);
    if (launch.exec_in_place)
        exec_program(NULL, argv + argi);
    if (cfg.off && launch.ld_preload == NULL) {
        execvp(argv[argi], argv + argi);
        say("cannot run %s: %s", argv[argi], strerror(errno));
        return EXIT_EXEC;
    }
    if (launch.ld_preload == NULL) {
        if (!PSK_FILTER_SUPPORTED) {
            say("seccomp mode supports x86_64 and aarch64 only (its filter knows their system "
                "call numbers); this launcher was built for another architecture");
            return EXIT_LAUNCHER;
        }
        if (check_kernel() != 0)
            return EXIT_LAUNCHER;
    }

    /* Blocked before fork so that no forwarded signal or SIGCHLD can be
     * lost between fork and signalfd; the child restores the mask. */
    sigemptyset(&forward_mask);
    for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
        sigaddset(&forward_mask, forwarded[i]);
    sigaddset(&forward_mask, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &forward_mask, &original_mask) != 0 ||
        (launch.ld_preload == NULL &&
         socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)) {
        say("cannot set up: %s", strerror(errno));
        return EXIT_LAUNCHER;
    }
    fflush(NULL);
    memset(&child, 0, sizeof(child));
    child.pid = fork();
    if (child.pid < 0) {
        say("fork: %s", strerror(errno));
        return EXIT_LAUNCHER;
    }
    if (child.pid == 0) {
        if (pair[0] >= 0)
            close(pair[0]);
        run_child(pair[1], &original_mask, argv + argi);
    }
    if (pair[1] >= 0)
        close(pair[1]);
    child.pidfd = sys_pidfd_open(child.pid, 0);
    /* A reader of stderr that went away must not kill the supervisor
     * (SIGPIPE), nor may a background job's write to the terminal stop it
     * (SIGTTOU): either would leave the program without its supervisor. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTTOU, SIG_IGN);
    /* Non-blocking: the loop drains it and must get back to poll. */
    sigfd = signalfd(-1, &forward_mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) {
        say("cannot set up: signalfd: %s", strerror(errno));
        if (pair[0] >= 0)
            close(pair[0]); /* a waiting child exits without running PROGRAM */
        while (waitpid(child.pid, NULL, 0) < 0 && errno == EINTR) {
        }
        return EXIT_LAUNCHER;
    }
    if (launch.ld_preload == NULL)
        return supervise(&child, pair[0], sigfd);

    struct server none;
    memset(&none, 0, sizeof(none));
    none.listener = -1;
    detach_stdio();
    private_stderr();
    return watch(&child, sigfd, &none);
}
