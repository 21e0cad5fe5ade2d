/*
 * pskeepalive-cgroup-exec: moves itself into a cgroup v2 directory, then
 * becomes the program (execv). Used by PSKeepalive's cgroup launch method
 * (Start-KeepaliveProcess -Method Cgroup, pskeepalive run --method cgroup):
 * the launcher creates the cgroup and attaches the keepalive policy, then
 * spawns this helper, so that the program's first instruction already runs
 * inside the cgroup and every connection it ever makes is covered. No
 * process of PSKeepalive's stays between the launcher and the program.
 *
 *   pskeepalive-cgroup-exec CGROUP_DIR PROGRAM [ARGUMENTS...]
 *
 * PROGRAM is a path (the launcher has resolved it); it runs with this
 * process's environment, working directory, descriptors and signal state.
 * Exit status when the program could not be started: 125 when the move
 * into the cgroup failed (the program is not started without its policy),
 * 126 when it cannot be executed, 127 when it does not exist; the reason is
 * printed on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int move_into(const char *cgroup)
{
    int dir = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int procs;
    ssize_t written;

    if (dir < 0)
        return -1;
    procs = openat(dir, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    close(dir);
    if (procs < 0)
        return -1;
    /* "0" moves the writing process itself. */
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

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: pskeepalive-cgroup-exec CGROUP_DIR PROGRAM [ARGUMENTS...]\n");
        return 125;
    }
    if (move_into(argv[1]) != 0) {
        fprintf(stderr, "pskeepalive-cgroup-exec: cannot move into the cgroup %s: %s\n", argv[1], strerror(errno));
        return 125;
    }
    execv(argv[2], argv + 2);
    fprintf(stderr, "pskeepalive-cgroup-exec: cannot execute %s: %s\n", argv[2], strerror(errno));
    return errno == ENOENT || errno == ENOTDIR ? 127 : 126;
}
