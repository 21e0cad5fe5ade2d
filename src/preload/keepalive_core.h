/*
 * keepalive_core.h: configuration and option setting shared by the
 * PSKeepalive LD_PRELOAD shim's hooks.
 *
 * The environment is read once (ka_config_load) and the result is kept in
 * one immutable struct, so that a hook only pays for its setsockopt calls.
 * Nothing here is exported from the shared library: the build uses
 * -fvisibility=hidden and only the hooks in pskeepalive_preload.c are marked
 * visible.
 */
#ifndef PSKEEPALIVE_KEEPALIVE_CORE_H
#define PSKEEPALIVE_KEEPALIVE_CORE_H

/* Kernel ranges (include/net/tcp.h: MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL,
 * MAX_TCP_KEEPCNT). They match KeepaliveLimits in PSKeepalive.Core. */
#define KA_IDLE_MIN 1L
#define KA_IDLE_MAX 32767L
#define KA_INTERVAL_MIN 1L
#define KA_INTERVAL_MAX 32767L
#define KA_COUNT_MIN 1L
#define KA_COUNT_MAX 127L
#define KA_USER_TIMEOUT_MIN 0L /* ms; 0 = back to the system default */

enum ka_mode {
    KA_MODE_ALL = 0,   /* every TCP socket, at socket() */
    KA_MODE_OUTGOING,  /* sockets that connect(), just before connect() */
    KA_MODE_LISTENING  /* listeners, just before listen(); accept() inherits */
};

struct ka_config {
    int off;           /* 1: the shim does nothing at all */
    int debug;         /* 1: one line on stderr per action / invalid value */
    enum ka_mode mode;
    int compat;        /* 1: configured from libkeepalive 0.3's variables */
    int idle;          /* seconds, -1 = not set (leave the socket's value) */
    int interval;      /* seconds, -1 = not set */
    int count;         /* probes, -1 = not set */
    int user_timeout;  /* ms, -1 = not set */
};

/* Fills *cfg from the environment. Invalid values are ignored (reported when
 * debugging) and never used to derive anything else. Not thread-safe: call
 * it once, before any hook uses the result. */
void ka_config_load(struct ka_config *cfg);

/* Parses a decimal integer in [min, max]: digits only (no sign, no blanks),
 * the whole string. Returns 0 and stores the value, or -1. Exposed for the
 * unit test of the parser. */
int ka_parse_long(const char *s, long min, long max, long *out);

/* 1 if (domain, type, protocol) as passed to socket() names a TCP socket of
 * the families we handle. */
int ka_is_tcp_request(int domain, int type, int protocol);

/* 1 if fd is an AF_INET/AF_INET6 SOCK_STREAM TCP socket (asked from the
 * kernel with SO_DOMAIN/SO_TYPE/SO_PROTOCOL). Clobbers errno. */
int ka_fd_is_tcp(int fd);

/* Sets the configured options on fd. Failures are ignored (reported when
 * debugging). errno is left as it was on entry. `where` names the hook. */
void ka_apply(const struct ka_config *cfg, int fd, const char *where);

/* Writes "pskeepalive: <message>\n" to stderr with one write(2) when
 * debugging is on. errno is preserved. */
void ka_debug(const struct ka_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
