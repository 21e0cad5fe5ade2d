// measure CMD [ARGS...]: runs CMD (stdout and stderr to /dev/null) and prints one line:
// "EXITCODE WALL_MS USER_MS SYS_MS MAXRSS_KIB". A small C parent, because a child's ru_maxrss starts from
// the memory of the process that forked it (python's ~15 MiB would hide a 2 MiB floor program).
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: measure CMD [ARGS...]\n"); return 2; }
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pid_t pid = fork();
  if (pid < 0) { perror("fork"); return 2; }
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1); dup2(null, 2);
    execvp(argv[1], argv + 1);
    _exit(127);
  }
  int status; struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) { perror("wait4"); return 2; }
  clock_gettime(CLOCK_MONOTONIC, &end);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  printf("%d %.3f %.3f %.3f %ld\n", code,
         (end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) / 1e6,
         ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3,
         ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3, ru.ru_maxrss);
  return 0;
}
