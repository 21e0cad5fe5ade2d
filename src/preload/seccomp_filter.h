/*
 * seccomp_filter.h: what pskeepalive-seccomp asks the kernel to notify, and
 * how a notification is read back into "connect()/listen() on descriptor N".
 *
 * Every ABI a process of this architecture can use is covered, so that no
 * call passes the filter unseen (a foreign AUDIT_ARCH is never waved through):
 *   x86_64   native connect/listen, the same calls of the x32 ABI (number |
 *            __X32_SYSCALL_BIT), and i386 programs: connect/listen (Linux
 *            4.3+) and socketcall(SYS_CONNECT/SYS_LISTEN), which static i386
 *            glibc uses (its descriptor is read from the program's memory)
 *   aarch64  native connect/listen and arm32 (compat) connect/listen
 * Other architectures: no filter (PSK_FILTER_SUPPORTED is 0).
 */
#ifndef PSKEEPALIVE_SECCOMP_FILTER_H
#define PSKEEPALIVE_SECCOMP_FILTER_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/types.h>

#if defined(__x86_64__) || defined(__aarch64__)
#define PSK_FILTER_SUPPORTED 1
#else
#define PSK_FILTER_SUPPORTED 0
#endif

/* Enough for the longest program below (x86_64, mode all). */
#define PSK_FILTER_MAX 32

/* Builds the filter for the watched calls into insns (PSK_FILTER_MAX
 * entries); returns the number of instructions, 0 when this architecture has
 * no filter. */
unsigned short psk_build_filter(struct sock_filter *insns, int watch_connect, int watch_listen);

/* A filtered call as the supervisor needs it. */
struct psk_call {
    int is_connect; /* 1 connect(), 0 listen() */
    int fd;         /* the socket argument */
    const char *abi; /* "x86_64", "x32", "i386", "aarch64", "arm32" */
};

/* Reads a notification. Returns 1 and fills *call for a connect()/listen()
 * (of any covered ABI), 0 for anything else, -1 when the descriptor of an
 * i386 socketcall could not be read from the program's memory (errno set).
 * pid is the calling task (req->pid), used only for that read. */
int psk_decode_call(const struct seccomp_data *data, pid_t pid, struct psk_call *call);

/* For messages: "x86_64" or "aarch64". */
extern const char psk_native_abi[];

#endif
