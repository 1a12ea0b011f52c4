/*
 * crash_util.c - small helpers of the crash suite: random numbers, clocks,
 * scratch directories, files, spawning processes.
 */
#include "crash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

uint64_t cr_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

uint64_t cr_below(uint64_t *state, uint64_t n)
{
    return n == 0 ? 0 : cr_rand(state) % n;
}

double cr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t cr_scaled(const cr_ctx *c, uint64_t n, unsigned asan_div)
{
    uint64_t v = n * c->scale;
    if (c->asan && asan_div > 1) {
        v /= asan_div;
    }
    return v > 0 ? v : 1;
}

void cr_mkdir_fresh(cr_ctx *c, const char *name, char *out, size_t len)
{
    static unsigned counter;
    for (;;) {
        snprintf(out, len, "%s/%s-%u", c->root, name, counter++);
        if (mkdir(out, 0755) == 0) {
            return;
        }
        if (errno != EEXIST) {
            fprintf(stderr, "crash: mkdir %s: %s\n", out, strerror(errno));
            exit(2);
        }
    }
}

void cr_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            char child[4096];
            snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
            cr_rmtree(child);
        }
        closedir(d);
    }
    rmdir(path);
}

void cr_cleanup_dir(cr_ctx *c, const char *dir, int failed)
{
    char store[4200];
    if (failed || c->keep) {
        printf("    kept %s\n", dir);
        return;
    }
    cr_rmtree(dir);
    snprintf(store, sizeof(store), "%s.ckpt", dir);
    cr_rmtree(store);
}

int cr_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int cr_copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        return -1;
    }
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t r;
    int rc = 0;
    while ((r = read(in, buf, sizeof(buf))) > 0) {
        if (cr_write_all(out, buf, (size_t)r) != 0) {
            rc = -1;
            break;
        }
    }
    if (r < 0) {
        rc = -1;
    }
    close(in);
    if (close(out) != 0) {
        rc = -1;
    }
    return rc;
}

off_t cr_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

char *cr_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        if (len != NULL) {
            *len = n;
        }
    }
    return buf;
}

void cr_argv_init(cr_argv *a)
{
    a->used = 0;
    a->n = 0;
    a->v[0] = NULL;
}

void cr_argv_add(cr_argv *a, const char *fmt, ...)
{
    va_list ap;
    size_t room = sizeof(a->store) - a->used;
    if (a->n + 1 >= sizeof(a->v) / sizeof(a->v[0]) || room < 2) {
        return;
    }
    va_start(ap, fmt);
    int n = vsnprintf(a->store + a->used, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        return;
    }
    a->v[a->n++] = a->store + a->used;
    a->v[a->n] = NULL;
    a->used += (size_t)n + 1;
}

void cr_status_text(int status, char *out, size_t len)
{
    if (status == -1) {
        snprintf(out, len, "could not run");
    } else if (WIFEXITED(status)) {
        snprintf(out, len, "exit %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(out, len, "signal %d", WTERMSIG(status));
    } else {
        snprintf(out, len, "status 0x%x", (unsigned)status);
    }
}

static void child_exec(char *const argv[], char *const env_extra[],
                       int close_std)
{
    for (size_t i = 0; env_extra != NULL && env_extra[i] != NULL; i++) {
        putenv(env_extra[i]);
    }
    if (close_std == CR_STD_CLOSED) {
        close(0);
        close(1);
        close(2);
    } else if (close_std == CR_STD_NULL) {
        int fd = open("/dev/null", O_RDWR);
        for (int i = 0; fd >= 0 && i < 3; i++) {
            dup2(fd, i);
        }
        if (fd > 2) {
            close(fd);
        }
    }
    execv(argv[0], argv);
    _exit(127);
}

static int wait_timeout(pid_t pid, double timeout_s)
{
    int status = 0;
    double end = cr_now() + timeout_s;
    for (;;) {
        pid_t r = waitpid(pid, &status, timeout_s > 0 ? WNOHANG : 0);
        if (r == pid) {
            return status;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        if (timeout_s > 0 && cr_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return status;
        }
        if (timeout_s > 0) {
            usleep(500);
        }
    }
}

pid_t cr_start(char *const argv[], char *const env_extra[], int close_std)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        child_exec(argv, env_extra, close_std);
    }
    return pid;
}

int cr_spawn(char *const argv[], char *const env_extra[], double timeout_s,
             int close_std)
{
    pid_t pid = cr_start(argv, env_extra, close_std);
    return pid < 0 ? -1 : wait_timeout(pid, timeout_s);
}
