/*
 * launcher.h: what the parts of pskeepalive-seccomp share. pskeepalive_seccomp.c
 * (the whole story, options, the child and its signals, main),
 * launcher_settings.c (settings from the environment, messages on stderr),
 * seccomp_supervisor.c (the seccomp side: kernel checks, installing the
 * filter, serving notifications) and seccomp_filter.c (the BPF program).
 */
#ifndef PSKEEPALIVE_LAUNCHER_H
#define PSKEEPALIVE_LAUNCHER_H

#include <fcntl.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/types.h>

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

/* The settings, read once from the environment (launcher_settings.c). */
extern struct settings cfg;

/* ------------------------------------------------ launcher_settings.c */

int load_settings(void);
const char *mode_name(enum mode m);
/* One "pskeepalive-seccomp: " line on stderr, never blocking for long. */
__attribute__((format(printf, 1, 2))) void say(const char *fmt, ...);
/* As say, with PSKEEPALIVE_DEBUG=1 only. */
__attribute__((format(printf, 1, 2))) void debug(const char *fmt, ...);
void private_stderr(void);
void detach_stdio(void);
long kernel_version(char *release, size_t size);

/* ----------------------------------------------- seccomp_supervisor.c */

struct child_state; /* pskeepalive_seccomp.c */

struct stats {
    unsigned long notifications, applied, skipped, failed;
};

/* The seccomp side of watch(): the listener and what serving needs. */
struct server {
    int listener; /* -1: no filter (--ld-preload) */
    int hup_supported;
    struct seccomp_notif *req;
    struct seccomp_notif_resp *resp;
    size_t req_size, resp_size;
    struct stats st;
};

int sys_pidfd_open(pid_t pid, unsigned int flags);
int has_cap_sys_admin(void);
int check_kernel(void);
int install_filter(void);
int send_fd(int sock, int fd);
int serve_one(int listener, struct seccomp_notif *req, size_t req_size,
              struct seccomp_notif_resp *resp, size_t resp_size, struct stats *st);
int supervise(struct child_state *child, int sock, int sigfd);

/* ---------------------------------------------- pskeepalive_seccomp.c */

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

int watch(struct child_state *child, int sigfd, struct server *srv);

#endif
