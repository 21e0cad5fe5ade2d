using System;
using PSKeepalive.Tests.Support;

namespace PSKeepalive.Tests.Seccomp;

/// <summary>
/// The static C program the seccomp tests run under pskeepalive-seccomp, compiled once per test run with
/// <c>cc -static</c> (so LD_PRELOAD could not reach it). Kept here as a string so that no project file changes.
/// </summary>
public static class SeccompProbe
{
    private static readonly Lazy<string> Compiled = new(() => CCompiler.Compile(Source, "seccomp-probe", "-static", "-pthread"));

    private static readonly Lazy<string> CompiledDynamic = new(() => CCompiler.Compile(Source, "seccomp-probe-dynamic", "-pthread"));

    private static readonly Lazy<string> CompiledGoLike = new(() => CCompiler.Compile(
        Source + "\n__attribute__((section(\".go.buildinfo\"), used)) static const char go_buildinfo[16] = \"\\xff Go buildinf:\";\n",
        "seccomp-probe-golike",
        "-pthread"));

    /// <summary>Path of the compiled static probe.</summary>
    public static string Path => Compiled.Value;

    /// <summary>The same program linked dynamically (LD_PRELOAD reaches it), for the Auto method.</summary>
    public static string DynamicPath => CompiledDynamic.Value;

    /// <summary>
    /// The dynamic probe with the section the Go linker writes (.go.buildinfo, starting with its magic): no Go
    /// toolchain here, and the detector looks at nothing else.
    /// </summary>
    public static string GoLikePath => CompiledGoLike.Value;

    public const string Source = """
/*
 * seccomp-probe: static test program for pskeepalive-seccomp. Each scenario
 * prints lines "<label> so_keepalive=N idle=N intvl=N cnt=N user_timeout=N"
 * with the options read back inside the program (stdout flushed per line).
 *
 *   loop4 | loop6            listen + connect + accept in one process:
 *                            lines listener, client, accepted
 *   connect4 PORT [LABEL]    connect to 127.0.0.1:PORT; line LABEL (client)
 *   udp PORT                 UDP socket connect()ed to 127.0.0.1:PORT
 *   unix                     AF_UNIX stream connect to an abstract listener
 *   forkserver N BACKEND     listen (prints "port P"), accept N clients; a
 *                            forked child per client prints handlerI for the
 *                            accepted socket and connects to BACKEND (line
 *                            backendI); odd children exec connect4 instead
 *   orphan PORT MS CODE      fork a child that sleeps MS ms, connects to PORT
 *                            (line orphan); the parent exits CODE at once
 *   wait PORT                print "pid P ready", read a line from stdin,
 *                            connect; line client or "connect errno=N"
 *   deafserver               listen (prints "port P"), accept one, recv():
 *                            "recv errno=N after S s" or "recv returned N"
 *   fd0                      line fd0 for the socket on stdin (nc -e)
 *   nnp                      "nnp N": NoNewPrivs from /proc/self/status
 *   threads N                listen, then N threads connect at once (lines
 *                            threadI); the main thread accepts them
 *   badfd                    connect() and listen() on descriptor 999 (not
 *                            open): "badfd connect errno=N listen errno=N"
 *   nodump                   prctl(PR_SET_DUMPABLE, 0), then as loop4
 *   i386-pipe                x86_64 only: system call 42 through int $0x80,
 *                            which is pipe() in the i386 table (connect() is
 *                            42 in the x86_64 one): "i386-pipe ret=N"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *self;

static void die(const char *what)
{
    fprintf(stderr, "seccomp-probe: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int get(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);
    if (getsockopt(fd, level, name, &v, &len) != 0)
        return -1;
    return v;
}

static void print_tcp(const char *label, int fd)
{
    printf("%s so_keepalive=%d idle=%d intvl=%d cnt=%d user_timeout=%d\n", label,
           get(fd, SOL_SOCKET, SO_KEEPALIVE), get(fd, IPPROTO_TCP, TCP_KEEPIDLE),
           get(fd, IPPROTO_TCP, TCP_KEEPINTVL), get(fd, IPPROTO_TCP, TCP_KEEPCNT),
           get(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
    fflush(stdout);
}

static int listener4(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0)
        die("bind/listen");
    if (getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("getsockname");
    *port = ntohs(a.sin_port);
    return fd;
}

static int connect4(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        return -1;
    return fd;
}

static int loop(int family)
{
    int l, c, a;
    if (family == AF_INET) {
        int port;
        l = listener4(&port);
        c = connect4(port);
        if (c < 0)
            die("connect");
    } else {
        struct sockaddr_in6 s;
        socklen_t len = sizeof(s);
        l = socket(AF_INET6, SOCK_STREAM, 0);
        memset(&s, 0, sizeof(s));
        s.sin6_family = AF_INET6;
        s.sin6_addr = in6addr_loopback;
        if (l < 0 || bind(l, (struct sockaddr *)&s, sizeof(s)) != 0 || listen(l, 4) != 0 ||
            getsockname(l, (struct sockaddr *)&s, &len) != 0)
            die("listen6");
        c = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
        if (c < 0 || connect(c, (struct sockaddr *)&s, sizeof(s)) != 0)
            die("connect6");
    }
    a = accept(l, NULL, NULL);
    if (a < 0)
        die("accept");
    print_tcp("listener", l);
    print_tcp("client", c);
    print_tcp("accepted", a);
    return 0;
}

static int threads_port;

static void *thread_connect(void *arg)
{
    char label[32];
    int fd = connect4(threads_port);
    if (fd < 0)
        die("thread connect");
    snprintf(label, sizeof(label), "thread%d", (int)(long)arg);
    print_tcp(label, fd);
    return NULL;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *s = argc > 1 ? argv[1] : "";
    self = argv[0];
    if (strcmp(s, "loop4") == 0)
        return loop(AF_INET);
    if (strcmp(s, "loop6") == 0)
        return loop(AF_INET6);
    if (strcmp(s, "nodump") == 0) {
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
            die("prctl");
        return loop(AF_INET);
    }
    if (strcmp(s, "badfd") == 0) {
        struct sockaddr_in a;
        int c, l;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons(9);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        c = connect(999, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : errno;
        l = listen(999, 1) == 0 ? 0 : errno;
        printf("badfd connect errno=%d listen errno=%d\n", c, l);
        return 0;
    }
    if (strcmp(s, "connect4") == 0 && argc >= 3) {
        int fd = connect4(atoi(argv[2]));
        if (fd < 0)
            die("connect");
        print_tcp(argc >= 4 ? argv[3] : "client", fd);
        return 0;
    }
    if (strcmp(s, "udp") == 0 && argc >= 3) {
        struct sockaddr_in a;
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((unsigned short)atoi(argv[2]));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
            die("udp connect");
        printf("udp so_keepalive=%d\n", get(fd, SOL_SOCKET, SO_KEEPALIVE));
        return 0;
    }
    if (strcmp(s, "unix") == 0) {
        struct sockaddr_un a;
        socklen_t len;
        int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
        memset(&a, 0, sizeof(a));
        a.sun_family = AF_UNIX;
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                          (size_t)snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1,
                                           "seccomp-probe-%d", (int)getpid()));
        if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, len) != 0 || listen(l, 1) != 0 ||
            connect(c, (struct sockaddr *)&a, len) != 0)
            die("unix");
        printf("unix so_keepalive=%d listener_so_keepalive=%d\n", get(c, SOL_SOCKET, SO_KEEPALIVE),
               get(l, SOL_SOCKET, SO_KEEPALIVE));
        return 0;
    }
    if (strcmp(s, "forkserver") == 0 && argc >= 4) {
        int n = atoi(argv[2]), port, i, l = listener4(&port);
        printf("port %d\n", port);
        fflush(stdout);
        for (i = 0; i < n; i++) {
            int a = accept(l, NULL, NULL);
            pid_t p;
            if (a < 0)
                die("accept");
            p = fork();
            if (p < 0)
                die("fork");
            if (p == 0) {
                char label[32];
                close(l);
                snprintf(label, sizeof(label), "handler%d", i);
                print_tcp(label, a);
                snprintf(label, sizeof(label), "backend%d", i);
                if (i % 2 == 1) {
                    execl(self, self, "connect4", argv[3], label, (char *)NULL);
                    die("exec");
                }
                int b = connect4(atoi(argv[3]));
                if (b < 0)
                    die("connect backend");
                print_tcp(label, b);
                _exit(0);
            }
            close(a);
        }
        while (wait(NULL) > 0) {
        }
        return 0;
    }
    if (strcmp(s, "orphan") == 0 && argc >= 5) {
        pid_t p = fork();
        if (p < 0)
            die("fork");
        if (p == 0) {
            struct timespec t;
            int fd, ms = atoi(argv[3]);
            t.tv_sec = ms / 1000;
            t.tv_nsec = (long)(ms % 1000) * 1000000L;
            nanosleep(&t, NULL);
            fd = connect4(atoi(argv[2]));
            if (fd < 0)
                die("orphan connect");
            print_tcp("orphan", fd);
            return 0;
        }
        return atoi(argv[4]);
    }
    if (strcmp(s, "wait") == 0 && argc >= 3) {
        char line[64];
        int fd;
        printf("pid %d ready\n", (int)getpid());
        fflush(stdout);
        if (fgets(line, sizeof(line), stdin) == NULL)
            return 3;
        fd = connect4(atoi(argv[2]));
        if (fd < 0) {
            printf("connect errno=%d\n", errno);
            fflush(stdout);
            return 0;
        }
        print_tcp("client", fd);
        return 0;
    }
    if (strcmp(s, "deafserver") == 0) {
        int port, l = listener4(&port), a;
        char buf[16];
        ssize_t r;
        double t0;
        printf("port %d\n", port);
        fflush(stdout);
        a = accept(l, NULL, NULL);
        if (a < 0)
            die("accept");
        print_tcp("accepted", a);
        t0 = now();
        r = recv(a, buf, sizeof(buf), 0);
        if (r < 0)
            printf("recv errno=%d after %.3f s\n", errno, now() - t0);
        else
            printf("recv returned %zd after %.3f s\n", r, now() - t0);
        fflush(stdout);
        return 0;
    }
    if (strcmp(s, "threads") == 0 && argc >= 3) {
        pthread_t t[64];
        int n = atoi(argv[2]), i, l = listener4(&threads_port);
        if (n < 1 || n > 64)
            return 2;
        for (i = 0; i < n; i++)
            if (pthread_create(&t[i], NULL, thread_connect, (void *)(long)i) != 0)
                die("pthread_create");
        for (i = 0; i < n; i++)
            if (accept(l, NULL, NULL) < 0)
                die("accept");
        for (i = 0; i < n; i++)
            pthread_join(t[i], NULL);
        return 0;
    }
#if defined(__x86_64__)
    if (strcmp(s, "i386-pipe") == 0) {
        static int fds[2]; /* static: below 4 GiB in this non-PIE static program */
        long ret;
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(42L), "b"((long)fds) : "memory");
        printf("i386-pipe ret=%ld\n", ret);
        return 0;
    }
#endif
    if (strcmp(s, "fd0") == 0) {
        print_tcp("fd0", 0);
        return 0;
    }
    if (strcmp(s, "nnp") == 0) {
        char line[256];
        FILE *f = fopen("/proc/self/status", "r");
        if (f == NULL)
            die("status");
        while (fgets(line, sizeof(line), f) != NULL)
            if (strncmp(line, "NoNewPrivs:", 11) == 0)
                printf("nnp %d\n", atoi(line + 11));
        return 0;
    }
    fprintf(stderr, "seccomp-probe: unknown scenario %s\n", s);
    return 2;
}
""";
}
