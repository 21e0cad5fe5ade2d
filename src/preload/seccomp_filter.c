/*
 * seccomp_filter.c: the BPF filter of pskeepalive-seccomp and the decoding of
 * its notifications (see seccomp_filter.h for what each ABI contributes).
 */
#define _GNU_SOURCE
#include "seccomp_filter.h"

#include <endian.h>
#include <errno.h>
#include <linux/audit.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#if defined(__x86_64__)
#define PSK_NATIVE_ARCH AUDIT_ARCH_X86_64
#define PSK_COMPAT_ARCH AUDIT_ARCH_I386
const char psk_native_abi[] = "x86_64";
/* x32 calls are x86_64 calls with this bit set in the number. */
#define PSK_X32_BIT 0x40000000U
/* arch/x86/entry/syscalls/syscall_32.tbl */
#define PSK_COMPAT_CONNECT 362U
#define PSK_COMPAT_LISTEN 363U
#define PSK_COMPAT_SOCKETCALL 102U
#elif defined(__aarch64__)
#define PSK_NATIVE_ARCH AUDIT_ARCH_AARCH64
#define PSK_COMPAT_ARCH AUDIT_ARCH_ARM
const char psk_native_abi[] = "aarch64";
/* arch/arm/tools/syscall.tbl (EABI has no socketcall) */
#define PSK_COMPAT_CONNECT 283U
#define PSK_COMPAT_LISTEN 284U
#else
const char psk_native_abi[] = "unsupported";
#endif

/* socketcall(2) sub-calls (linux/net.h) */
#define PSK_SYS_CONNECT 3U
#define PSK_SYS_LISTEN 4U

#if PSK_FILTER_SUPPORTED

/* A tiny assembler: conditional jumps name a label, resolved at the end
 * (BPF jump offsets count instructions after the jump, at most 255). */
enum label { L_NEXT = -1, L_NATIVE, L_COMPAT, L_SOCKETCALL, L_NOTIFY, L_COUNT };

struct assembler {
    struct sock_filter *insns;
    unsigned short n;
    int target[PSK_FILTER_MAX];
    int at[L_COUNT];
};

static void emit(struct assembler *a, unsigned short code, unsigned int k, int label)
{
    a->insns[a->n] = (struct sock_filter)BPF_STMT(code, k);
    a->target[a->n] = label;
    a->n++;
}

static void load(struct assembler *a, unsigned int offset)
{
    emit(a, BPF_LD | BPF_W | BPF_ABS, offset, L_NEXT);
}

static void jump_if(struct assembler *a, unsigned int value, int label)
{
    emit(a, BPF_JMP | BPF_JEQ | BPF_K, value, label);
}

static void ret(struct assembler *a, unsigned int action)
{
    emit(a, BPF_RET | BPF_K, action, L_NEXT);
}

static void mark(struct assembler *a, int label)
{
    a->at[label] = a->n;
}

static void resolve(struct assembler *a)
{
    unsigned short i;

    for (i = 0; i < a->n; i++) {
        if (a->target[i] != L_NEXT)
            a->insns[i].jt = (unsigned char)(a->at[a->target[i]] - (i + 1));
    }
}

/* The low 32 bits of the first argument (socketcall's sub-call number). */
static unsigned int first_argument_low(void)
{
    return (unsigned int)offsetof(struct seccomp_data, args) + (BYTE_ORDER == BIG_ENDIAN ? 4U : 0U);
}

unsigned short psk_build_filter(struct sock_filter *insns, int watch_connect, int watch_listen)
{
    struct assembler a;

    memset(&a, 0, sizeof(a));
    a.insns = insns;
    load(&a, (unsigned int)offsetof(struct seccomp_data, arch));
    jump_if(&a, PSK_NATIVE_ARCH, L_NATIVE);
    jump_if(&a, PSK_COMPAT_ARCH, L_COMPAT);
    ret(&a, SECCOMP_RET_ALLOW); /* no other ABI can run on this kernel */

    mark(&a, L_NATIVE);
    load(&a, (unsigned int)offsetof(struct seccomp_data, nr));
    if (watch_connect)
        jump_if(&a, SYS_connect, L_NOTIFY);
    if (watch_listen)
        jump_if(&a, SYS_listen, L_NOTIFY);
#ifdef PSK_X32_BIT
    if (watch_connect)
        jump_if(&a, PSK_X32_BIT | SYS_connect, L_NOTIFY);
    if (watch_listen)
        jump_if(&a, PSK_X32_BIT | SYS_listen, L_NOTIFY);
#endif
    ret(&a, SECCOMP_RET_ALLOW);

    mark(&a, L_COMPAT);
    load(&a, (unsigned int)offsetof(struct seccomp_data, nr));
    if (watch_connect)
        jump_if(&a, PSK_COMPAT_CONNECT, L_NOTIFY);
    if (watch_listen)
        jump_if(&a, PSK_COMPAT_LISTEN, L_NOTIFY);
#ifdef PSK_COMPAT_SOCKETCALL
    jump_if(&a, PSK_COMPAT_SOCKETCALL, L_SOCKETCALL);
#endif
    ret(&a, SECCOMP_RET_ALLOW);

    mark(&a, L_SOCKETCALL);
#ifdef PSK_COMPAT_SOCKETCALL
    load(&a, first_argument_low());
    if (watch_connect)
        jump_if(&a, PSK_SYS_CONNECT, L_NOTIFY);
    if (watch_listen)
        jump_if(&a, PSK_SYS_LISTEN, L_NOTIFY);
    ret(&a, SECCOMP_RET_ALLOW);
#endif

    mark(&a, L_NOTIFY);
    ret(&a, SECCOMP_RET_USER_NOTIF);
    resolve(&a);
    return a.n;
}

/* The first argument of an i386 socketcall: an array of 32-bit words in the
 * program's memory whose first word is the descriptor. */
static int read_socketcall_fd(pid_t pid, uint64_t address, int *fd)
{
    uint32_t word = 0;
    struct iovec local = { &word, sizeof(word) };
    struct iovec remote = { (void *)(uintptr_t)(uint32_t)address, sizeof(word) };

    if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(word)) {
        if (errno == 0)
            errno = EFAULT;
        return -1;
    }
    *fd = (int)word;
    return 0;
}

int psk_decode_call(const struct seccomp_data *data, pid_t pid, struct psk_call *call)
{
    unsigned int nr = (unsigned int)data->nr;

    call->fd = (int)(unsigned int)data->args[0]; /* the kernel's connect/listen take an int */
    if (data->arch == PSK_NATIVE_ARCH) {
        call->abi = psk_native_abi;
#ifdef PSK_X32_BIT
        if (nr & PSK_X32_BIT) {
            call->abi = "x32";
            nr &= ~PSK_X32_BIT;
        }
#endif
        if (nr != SYS_connect && nr != SYS_listen)
            return 0;
        call->is_connect = nr == SYS_connect;
        return 1;
    }
    if (data->arch != PSK_COMPAT_ARCH)
        return 0;
    call->abi = PSK_COMPAT_ARCH == AUDIT_ARCH_ARM ? "arm32" : "i386";
    if (nr == PSK_COMPAT_CONNECT || nr == PSK_COMPAT_LISTEN) {
        call->is_connect = nr == PSK_COMPAT_CONNECT;
        return 1;
    }
#ifdef PSK_COMPAT_SOCKETCALL
    if (nr == PSK_COMPAT_SOCKETCALL) {
        unsigned int sub = (unsigned int)data->args[0];
        if (sub != PSK_SYS_CONNECT && sub != PSK_SYS_LISTEN)
            return 0;
        call->is_connect = sub == PSK_SYS_CONNECT;
        return read_socketcall_fd(pid, data->args[1], &call->fd) == 0 ? 1 : -1;
    }
#else
    (void)pid;
#endif
    return 0;
}

#else /* no filter on this architecture */

unsigned short psk_build_filter(struct sock_filter *insns, int watch_connect, int watch_listen)
{
    (void)insns;
    (void)watch_connect;
    (void)watch_listen;
    return 0;
}

int psk_decode_call(const struct seccomp_data *data, pid_t pid, struct psk_call *call)
{
    (void)data;
    (void)pid;
    (void)call;
    return 0;
}

#endif
