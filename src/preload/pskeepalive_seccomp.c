/*
 * pskeepalive_seccomp.c: pskeepalive-seccomp, a launcher that switches TCP
 * keepalive on for programs LD_PRELOAD cannot reach (statically linked
 * programs, Go binaries and anything else that makes raw system calls), and
 * the foreground launcher of `pskeepalive run` for both of its methods.
 *
 *   PSKEEPALIVE_IDLE=60 pskeepalive-seccomp [--default-sigpipe]
 *       [--ld-preload LIST [--exec]] [--] PROGRAM ARGS...
 *
 * This file: the options, the child, its signals and main. launcher.h lists
 * what the other parts share: launcher_settings.c (PSKEEPALIVE_* settings,
 * messages on stderr), seccomp_supervisor.c (kernel checks, the filter's
 * installation, serving notifications), seccomp_filter.c (the BPF program
 * and the decoding of a notification's system call).
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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher.h"
#include "seccomp_filter.h"

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

static int exit_code_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return EXIT_LAUNCHER;
}

/* ------------------------------------------------------ watching the child */

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

/* Serves notifications and watches the child until it has exited and, with
 * a filter, no task uses the filter any more, or until a stop request comes
 * with the child gone. Returns the exit status. */
int watch(struct child_state *child, int sigfd, struct server *srv)
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

