/*
 * keepalive_core.c: environment parsing and option setting for the
 * PSKeepalive LD_PRELOAD shim. See keepalive_core.h.
 */
#define _GNU_SOURCE
#include "keepalive_core.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define KA_PREFIX "pskeepalive: "

void ka_debug(const struct ka_config *cfg, const char *fmt, ...)
{
    char line[512];
    int saved = errno;
    struct stat st;
    size_t len;
    va_list ap;
    int n;

    if (!cfg->debug)
        return;
    /* A daemon may have closed stderr and reused fd 2 for a connection:
     * never write debug text into a socket. */
    if (fstat(STDERR_FILENO, &st) != 0 || S_ISSOCK(st.st_mode)) {
        errno = saved;
        return;
    }
    memcpy(line, KA_PREFIX, sizeof(KA_PREFIX) - 1);
    va_start(ap, fmt);
    n = vsnprintf(line + sizeof(KA_PREFIX) - 1, sizeof(line) - sizeof(KA_PREFIX), fmt, ap);
    va_end(ap);
    if (n < 0) {
        errno = saved;
        return;
    }
    len = strnlen(line, sizeof(line) - 1);
    line[len++] = '\n';
    /* One write(2) so that lines from several threads or processes sharing
     * stderr do not interleave; a failed or short write is not our business. */
    if (write(STDERR_FILENO, line, len) < 0) {
        /* nothing to do */
    }
    errno = saved;
}

int ka_parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    /* strtol alone accepts blanks, a sign and trailing garbage: refuse them. */
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* getenv that treats an empty value as unset (`VAR= cmd` clears it).
 * secure_getenv: in a set-ID program (secure-execution mode, reachable only
 * through /etc/ld.so.preload) the caller's environment must not steer the
 * options of a privileged process; the defaults apply there. */
static const char *env_value(const char *name)
{
    const char *v = secure_getenv(name);
    return (v != NULL && *v != '\0') ? v : NULL;
}

/* Parses one numeric variable into *dst (left at -1 when unset or invalid). */
static void load_number(const struct ka_config *cfg, const char *name, long min, long max,
                        int *dst)
{
    const char *v = env_value(name);
    long parsed;

    if (v == NULL)
        return;
    if (ka_parse_long(v, min, max, &parsed) != 0) {
        ka_debug(cfg, "ignoring %s=\"%.64s\": not an integer in %ld..%ld", name, v, min, max);
        return;
    }
    *dst = (int)parsed;
}

static const char *mode_name(enum ka_mode mode)
{
    switch (mode) {
    case KA_MODE_OUTGOING:
        return "outgoing";
    case KA_MODE_LISTENING:
        return "listening";
    case KA_MODE_ALL:
        break;
    }
    return "all";
}

void ka_config_load(struct ka_config *cfg)
{
    static const char *const own[] = {
        "PSKEEPALIVE_IDLE", "PSKEEPALIVE_INTERVAL", "PSKEEPALIVE_COUNT",
        "PSKEEPALIVE_USER_TIMEOUT", "PSKEEPALIVE_MODE", "PSKEEPALIVE_OFF",
    };
    const char *v;
    int have_own = 0;
    size_t i;

    cfg->off = 0;
    cfg->mode = KA_MODE_ALL;
    cfg->compat = 0;
    cfg->idle = -1;
    cfg->interval = -1;
    cfg->count = -1;
    cfg->user_timeout = -1;
    v = env_value("PSKEEPALIVE_DEBUG");
    cfg->debug = (v != NULL && strcmp(v, "1") == 0);

    /* PSKEEPALIVE_DEBUG alone does not count: it must be possible to debug a
     * libkeepalive-style configuration. */
    for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (env_value(own[i]) != NULL)
            have_own = 1;

    if (have_own) {
        v = env_value("PSKEEPALIVE_OFF");
        if (v != NULL) {
            if (strcmp(v, "1") == 0)
                cfg->off = 1;
            else if (strcmp(v, "0") != 0)
                ka_debug(cfg, "ignoring PSKEEPALIVE_OFF=\"%.64s\": expected 1 or 0", v);
        }
        v = env_value("PSKEEPALIVE_MODE");
        if (v != NULL) {
            if (strcasecmp(v, "all") == 0)
                cfg->mode = KA_MODE_ALL;
            else if (strcasecmp(v, "outgoing") == 0)
                cfg->mode = KA_MODE_OUTGOING;
            else if (strcasecmp(v, "listening") == 0)
                cfg->mode = KA_MODE_LISTENING;
            else
                ka_debug(cfg, "ignoring PSKEEPALIVE_MODE=\"%.64s\": expected outgoing, "
                              "listening or all", v);
        }
        load_number(cfg, "PSKEEPALIVE_IDLE", KA_IDLE_MIN, KA_IDLE_MAX, &cfg->idle);
        load_number(cfg, "PSKEEPALIVE_INTERVAL", KA_INTERVAL_MIN, KA_INTERVAL_MAX,
                    &cfg->interval);
        load_number(cfg, "PSKEEPALIVE_COUNT", KA_COUNT_MIN, KA_COUNT_MAX, &cfg->count);
        load_number(cfg, "PSKEEPALIVE_USER_TIMEOUT", KA_USER_TIMEOUT_MIN, INT_MAX,
                    &cfg->user_timeout);
    } else if (env_value("KEEPIDLE") != NULL || env_value("KEEPINTVL") != NULL ||
               env_value("KEEPCNT") != NULL || env_value("KEEPALIVE") != NULL) {
        /* libkeepalive 0.3 (Debian's libkeepalive0): socket() hook, so mode
         * all; KEEPALIVE=off disables it. Same kernel ranges as ours. */
        cfg->compat = 1;
        v = env_value("KEEPALIVE");
        if (v != NULL && strcasecmp(v, "off") == 0)
            cfg->off = 1;
        load_number(cfg, "KEEPIDLE", KA_IDLE_MIN, KA_IDLE_MAX, &cfg->idle);
        load_number(cfg, "KEEPINTVL", KA_INTERVAL_MIN, KA_INTERVAL_MAX, &cfg->interval);
        load_number(cfg, "KEEPCNT", KA_COUNT_MIN, KA_COUNT_MAX, &cfg->count);
    }

    ka_debug(cfg, "pid %ld: %s, mode=%s idle=%d interval=%d count=%d user_timeout=%d "
                  "(-1 = not set)%s",
             (long)getpid(), cfg->off ? "off" : "on", mode_name(cfg->mode), cfg->idle,
             cfg->interval, cfg->count, cfg->user_timeout,
             cfg->compat ? ", from libkeepalive variables" : "");
}

int ka_is_tcp_request(int domain, int type, int protocol)
{
    return (domain == AF_INET || domain == AF_INET6) &&
           (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
           (protocol == 0 || protocol == IPPROTO_TCP);
}

static int get_int(int fd, int level, int name, int *value)
{
    socklen_t len = (socklen_t)sizeof(*value);
    return getsockopt(fd, level, name, value, &len);
}

int ka_fd_is_tcp(int fd)
{
    int v;

    if (get_int(fd, SOL_SOCKET, SO_DOMAIN, &v) != 0 || (v != AF_INET && v != AF_INET6))
        return 0;
    if (get_int(fd, SOL_SOCKET, SO_TYPE, &v) != 0 || v != SOCK_STREAM)
        return 0;
    if (get_int(fd, SOL_SOCKET, SO_PROTOCOL, &v) != 0 || v != IPPROTO_TCP)
        return 0;
    return 1;
}

/* Appends " NAME=value" (and the error, if any) to the debug line. */
static void note(char *buf, size_t size, size_t *used, const char *name, int value, int rc,
                 int err)
{
    int n;

    if (*used >= size)
        return;
    if (rc == 0)
        n = snprintf(buf + *used, size - *used, " %s=%d", name, value);
    else
        n = snprintf(buf + *used, size - *used, " %s=%d failed (%s)", name, value,
                     strerror(err));
    if (n > 0)
        *used += (size_t)n;
}

void ka_apply(const struct ka_config *cfg, int fd, const char *where)
{
    struct {
        int level, name, value;
        const char *label;
    } opts[5];
    char line[400];
    size_t used = 0, n = 0, i;
    int saved = errno;

    opts[n].level = SOL_SOCKET;
    opts[n].name = SO_KEEPALIVE;
    opts[n].value = 1;
    opts[n++].label = "SO_KEEPALIVE";
    if (cfg->idle > 0) {
        opts[n].level = IPPROTO_TCP;
        opts[n].name = TCP_KEEPIDLE;
        opts[n].value = cfg->idle;
        opts[n++].label = "TCP_KEEPIDLE";
    }
    if (cfg->interval > 0) {
        opts[n].level = IPPROTO_TCP;
        opts[n].name = TCP_KEEPINTVL;
        opts[n].value = cfg->interval;
        opts[n++].label = "TCP_KEEPINTVL";
    }
    if (cfg->count > 0) {
        opts[n].level = IPPROTO_TCP;
        opts[n].name = TCP_KEEPCNT;
        opts[n].value = cfg->count;
        opts[n++].label = "TCP_KEEPCNT";
    }
    if (cfg->user_timeout >= 0) {
        opts[n].level = IPPROTO_TCP;
        opts[n].name = TCP_USER_TIMEOUT;
        opts[n].value = cfg->user_timeout;
        opts[n++].label = "TCP_USER_TIMEOUT";
    }

    line[0] = '\0';
    for (i = 0; i < n; i++) {
        int rc = setsockopt(fd, opts[i].level, opts[i].name, &opts[i].value,
                            (socklen_t)sizeof(opts[i].value));
        if (cfg->debug)
            note(line, sizeof(line), &used, opts[i].label, opts[i].value, rc, errno);
    }
    ka_debug(cfg, "fd %d at %s():%s", fd, where, line);
    errno = saved;
}
