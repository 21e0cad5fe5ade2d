/*
 * launcher_cgroup.c: the cgroup method of pskeepalive-seccomp (--run-cgroup
 * DIR). The caller (`pskeepalive run --method cgroup`, Start-KeepaliveProcess
 * -Method Cgroup) has made DIR for this run and attached a keepalive policy
 * to it; the launcher's child moves itself into DIR before it execs PROGRAM,
 * so that PROGRAM's first instruction already runs there, and the launcher
 * removes DIR when PROGRAM has ended (rmdir, which also frees the policy).
 *
 * Processes PROGRAM leaves running (a daemon that forks and exits, `sh -c
 * 'server &'`) stay in DIR, and a cgroup cannot be removed while processes
 * remain in it. They do not need the launcher (the policy lives as long as
 * the cgroup), so the launcher does not wait for them: it exits with
 * PROGRAM's status, as with the preload method, and says on stderr that DIR
 * and its policy stay for them; PSKeepalive's next cgroup start removes it
 * once they have ended (or rmdir it). Only processes that are exiting at the
 * same moment as PROGRAM (a Ctrl-C or a kill of the whole process group) get
 * a short grace, so that their last moments do not leave DIR behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "launcher.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* How long processes that end together with PROGRAM may take to leave. */
#define EXIT_GRACE_MS 200

/* 1 when cgroup.events (open as fd) says "populated 1", 0 for "populated 0",
 * -1 when it cannot be read. Reading also re-arms poll's POLLPRI. */
static int read_populated(int fd)
{
    char text[256];
    const char *line;
    ssize_t n;

    if (lseek(fd, 0, SEEK_SET) != 0)
        return -1;
    do
        n = read(fd, text, sizeof(text) - 1);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    line = strstr(text, "populated ");
    if (line == NULL || (line != text && line[-1] != '\n'))
        return -1;
    return line[sizeof("populated ") - 1] == '1' ? 1 : line[sizeof("populated ") - 1] == '0' ? 0 : -1;
}

int open_run_cgroup(const char *path)
{
    struct statfs fs;
    int dir, events, populated;

    dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        say("cannot open the cgroup %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstatfs(dir, &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC) {
        say("%s is not a cgroup v2 directory", path);
        close(dir);
        return -1;
    }
    /* DIR is removed at the end: only an empty cgroup made for this run is
     * taken, never one that other processes (a service) live in. */
    events = openat(dir, "cgroup.events", O_RDONLY | O_CLOEXEC);
    populated = events >= 0 ? read_populated(events) : -1;
    if (events >= 0)
        close(events);
    if (populated != 0) {
        if (populated > 0)
            say("the cgroup %s has processes: --run-cgroup takes an empty cgroup made for this "
                "run (it is removed when the program ends)", path);
        else
            say("cannot read %s/cgroup.events: %s", path, strerror(errno));
        close(dir);
        return -1;
    }
    return dir;
}

int enter_run_cgroup(int dir)
{
    int procs = openat(dir, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    ssize_t written;

    if (procs < 0)
        return -1;
    /* "0" moves the writing process itself (cgroup v2, Linux 4.5 and later). */
    do
        written = write(procs, "0\n", 2);
    while (written < 0 && errno == EINTR);
    if (written < 0) {
        int saved = errno;
        close(procs);
        errno = saved;
        return -1;
    }
    return close(procs);
}

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000L + (now.tv_nsec - since->tv_nsec) / 1000000L;
}

/* Waits at most timeout_ms for the cgroup to empty; 1 when it did. The
 * kernel flags cgroup.events with POLLPRI when "populated" changes. */
static int wait_until_empty(int dir, long timeout_ms)
{
    struct timespec start;
    struct pollfd p;
    int events = openat(dir, "cgroup.events", O_RDONLY | O_CLOEXEC), populated;

    if (events < 0)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while ((populated = read_populated(events)) == 1 && elapsed_ms(&start) < timeout_ms) {
        p.fd = events;
        p.events = POLLPRI;
        p.revents = 0;
        if (poll(&p, 1, (int)(timeout_ms - elapsed_ms(&start))) < 0 && errno != EINTR)
            break;
    }
    close(events);
    return populated == 0;
}

void remove_run_cgroup(const char *path, int dir, pid_t program)
{
    int err, populated = 1;

    if (rmdir(path) == 0)
        return;
    err = errno;
    if (err == EBUSY) {
        populated = !wait_until_empty(dir, EXIT_GRACE_MS);
        if (rmdir(path) == 0)
            return;
        err = errno;
    }
    if (err == ENOENT)
        return;
    if (err == EBUSY && populated)
        say("processes that pid %ld left behind still run in %s: its keepalive policy stays for "
            "their connections, and the cgroup is removed by a later cgroup start once they have "
            "ended (or remove it with rmdir)", (long)program, path);
    else if (err == EBUSY)
        say("cannot remove the cgroup %s: cgroups made below it remain; remove them and it with "
            "rmdir", path);
    else
        say("cannot remove the cgroup %s: %s; remove it with rmdir", path, strerror(err));
}
