/*
 * launcher_settings.c: what pskeepalive-seccomp is told (PSKEEPALIVE_*
 * variables, checked up front) and how it speaks (one line per message on
 * stderr, never blocking the program that waits for it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "launcher.h"

struct settings cfg;

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
void private_stderr(void)
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

void say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(fmt, ap);
    va_end(ap);
}

void debug(const char *fmt, ...)
{
    va_list ap;

    if (!cfg.debug)
        return;
    va_start(ap, fmt);
    emit(fmt, ap);
    va_end(ap);
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

int load_settings(void)
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

const char *mode_name(enum mode m)
{
    return m == MODE_OUTGOING ? "outgoing" : m == MODE_LISTENING ? "listening" : "all";
}

/* Linux version as major * 1000 + minor, 0 when unknown. */
long kernel_version(char *release, size_t size)
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

/* Detaches the supervisor's stdin/stdout (the program keeps its own): a
 * reader waiting for EOF on the program's output must not wait for us. */
void detach_stdio(void)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (null < 0)
        return;
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    if (null > STDERR_FILENO)
        close(null);
}
