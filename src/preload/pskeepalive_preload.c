/*
 * pskeepalive_preload.c: the hooks of libpskeepalive.so, an LD_PRELOAD shim
 * that switches TCP keepalive on for programs that never asked for it.
 *
 *   LD_PRELOAD=libpskeepalive.so PSKEEPALIVE_IDLE=60 PROGRAM ARGS...
 *
 * socket(), connect() and listen() are wrapped; PSKEEPALIVE_MODE chooses where
 * the options are set:
 *   all (default)  at socket(), for AF_INET/AF_INET6 SOCK_STREAM TCP sockets
 *   outgoing       just before connect(), if the fd is such a TCP socket
 *   listening      just before listen(); accepted sockets inherit the options
 * Everything else is passed through untouched. The hooks never change what the
 * program sees: the real call's result and errno are returned as they were.
 *
 * The environment is read once, in the constructor (see keepalive_core.c).
 * PSKEEPALIVE_DEFAULT_SIGPIPE=1 (set by the launchers, which run on .NET and so
 * ignore SIGPIPE) makes the constructor put SIGPIPE back to its default action
 * and remove the variable, so that only the launched program is affected and
 * its children inherit whatever it chooses (as from a shell).
 * The real symbols are looked up once with dlsym(RTLD_NEXT); a hook that runs
 * before the constructor (another library's constructor calling socket())
 * initialises through the same pthread_once.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "keepalive_core.h"

#define KA_EXPORT __attribute__((visibility("default")))

typedef int (*socket_fn)(int, int, int);
typedef int (*connect_fn)(int, __CONST_SOCKADDR_ARG, socklen_t);
typedef int (*listen_fn)(int, int);

static struct ka_config config;
static socket_fn real_socket;
static connect_fn real_connect;
static listen_fn real_listen;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int initialised; /* read and written with __atomic builtins */

static void *resolve(const char *name)
{
    void *sym;

    (void)dlerror();
    sym = dlsym(RTLD_NEXT, name);
    if (sym == NULL) {
        const char *err = dlerror();
        ka_debug(&config, "dlsym(RTLD_NEXT, \"%s\") failed: %s; %s() will fail with ENOSYS",
                 name, err != NULL ? err : "no such symbol", name);
    }
    return sym;
}

static void initialise(void)
{
    ka_config_load(&config);
    real_socket = (socket_fn)resolve("socket");
    real_connect = (connect_fn)resolve("connect");
    real_listen = (listen_fn)resolve("listen");
    __atomic_store_n(&initialised, 1, __ATOMIC_RELEASE);
}

static inline void ensure_initialised(void)
{
    if (!__atomic_load_n(&initialised, __ATOMIC_ACQUIRE)) {
        int saved = errno;
        (void)pthread_once(&init_once, initialise);
        errno = saved;
    }
}

/* The launcher's process ignores SIGPIPE (.NET does) and exec keeps ignored
 * signals ignored: without this, `yes | head -1` under the launcher would get
 * EPIPE instead of dying quietly. Consumed once: the variable is removed. */
static void restore_default_sigpipe(void)
{
    const char *v = getenv("PSKEEPALIVE_DEFAULT_SIGPIPE");

    if (v == NULL)
        return;
    if (strcmp(v, "1") == 0) {
        struct sigaction action;

        memset(&action, 0, sizeof action);
        action.sa_handler = SIG_DFL;
        sigemptyset(&action.sa_mask);
        (void)sigaction(SIGPIPE, &action, NULL);
    }
    (void)unsetenv("PSKEEPALIVE_DEFAULT_SIGPIPE");
}

__attribute__((constructor)) static void ka_constructor(void)
{
    int saved = errno;

    restore_default_sigpipe();
    errno = saved;
    ensure_initialised();
}

KA_EXPORT int socket(int domain, int type, int protocol)
{
    int fd;

    ensure_initialised();
    if (real_socket == NULL) {
        errno = ENOSYS;
        return -1;
    }
    fd = real_socket(domain, type, protocol);
    if (fd >= 0 && !config.off && config.mode == KA_MODE_ALL &&
        ka_is_tcp_request(domain, type, protocol))
        ka_apply(&config, fd, "socket"); /* preserves errno */
    return fd;
}

KA_EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
    ensure_initialised();
    if (real_connect == NULL) {
        errno = ENOSYS;
        return -1;
    }
    if (!config.off && config.mode == KA_MODE_OUTGOING) {
        int saved = errno;
        if (ka_fd_is_tcp(fd))
            ka_apply(&config, fd, "connect");
        errno = saved;
    }
    return real_connect(fd, addr, len);
}

KA_EXPORT int listen(int fd, int backlog)
{
    ensure_initialised();
    if (real_listen == NULL) {
        errno = ENOSYS;
        return -1;
    }
    if (!config.off && config.mode == KA_MODE_LISTENING) {
        int saved = errno;
        if (ka_fd_is_tcp(fd))
            ka_apply(&config, fd, "listen");
        errno = saved;
    }
    return real_listen(fd, backlog);
}
