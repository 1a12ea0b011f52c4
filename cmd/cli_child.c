/*
 * cli_child.c - a forked reader and its pipe (see cli_child.h).
 */
#include "cli_child.h"

#include "cli.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t cli_child_fork(int *fd, int errfd)
{
    int p[2];
    if (pipe(p) != 0) {
        cli_die(CLI_EXIT_ERROR, "pipe: %s", strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        cli_die(CLI_EXIT_ERROR, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        if (errfd >= 0) {
            (void)dup2(errfd, STDERR_FILENO);
        }
        *fd = p[1];
        return 0;
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

void cli_child_send(int fd, const void *m, size_t n)
{
    const char *p = m;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            _exit(5);
        }
        p += w;
        n -= (size_t)w;
    }
}

int cli_child_recv(int fd, void *m, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)m + got, n - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return got == 0 && r == 0 ? 0 : -1;
        }
        got += (size_t)r;
    }
    return 1;
}

int cli_child_wait(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}
