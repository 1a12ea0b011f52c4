/*
 * exec_cmd.h - helpers shared by test_exec.c and test_exec_kill.c: build
 * argv/envp from copies (the spec takes char *const *), run, and assert on
 * captures and process groups.  Include after testutil.h.
 */
#ifndef CAIRN_TEST_EXEC_CMD_H
#define CAIRN_TEST_EXEC_CMD_H

#include "runner/exec.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MS 1000000ull

/* argv and envp built from copies, since the spec takes char *const *. */
typedef struct cmd {
    char *argv[16];
    char *envp[16];
    int argc, envc;
    cairn_exec_spec spec;
} cmd;

static inline void cmd_arg(cmd *c, const char *s)
{
    assert_true(c->argc < 15);
    c->argv[c->argc] = strdup(s);
    assert_non_null(c->argv[c->argc]);
    c->argc++;
}

static inline void cmd_env(cmd *c, const char *s)
{
    assert_true(c->envc < 15);
    c->envp[c->envc] = strdup(s);
    assert_non_null(c->envp[c->envc]);
    c->envc++;
}

/* A command with no environment yet, grace 200 ms, no keep_fd. */
static inline void cmd_init(cmd *c)
{
    memset(c, 0, sizeof *c);
    c->spec.argv = c->argv;
    c->spec.envp = c->envp;
    c->spec.keep_fd = -1;
    c->spec.grace_ns = 200 * MS;
}

/* sh -c SCRIPT with PATH=/usr/bin:/bin. */
static inline void cmd_sh(cmd *c, const char *script)
{
    cmd_init(c);
    cmd_arg(c, "sh");
    cmd_arg(c, "-c");
    cmd_arg(c, script);
    cmd_env(c, "PATH=/usr/bin:/bin");
}

static inline void cmd_free(cmd *c)
{
    for (int i = 0; i < c->argc; i++) {
        free(c->argv[i]);
    }
    for (int i = 0; i < c->envc; i++) {
        free(c->envp[i]);
    }
    memset(c, 0, sizeof *c);
}

static inline void run_ok(cmd *c, cairn_exec_result *res)
{
    char detail[256] = "";
    cairn_err e = cairn__exec_run(&c->spec, res, detail, sizeof detail);
    if (e != CAIRN_OK) {
        print_error("exec: error %d: %s\n", (int)e, detail);
    }
    assert_int_equal(e, CAIRN_OK);
    assert_true(res->pid > 0);
    assert_non_null(res->out.tail);
    assert_non_null(res->err.tail);
}

/* Runs sh -c SCRIPT and returns its exit code (fails unless it exited). */
static inline int sh_exit_code(const char *script, cairn_exec_result *res)
{
    cmd c;
    cmd_sh(&c, script);
    run_ok(&c, res);
    cmd_free(&c);
    assert_int_equal(res->exited, 1);
    assert_int_equal(res->signaled, 0);
    return res->exit_code;
}

static inline void assert_tail(const cairn_stream_capture *cap,
                               const char *want)
{
    assert_int_equal(cap->tail_len, strlen(want));
    assert_memory_equal(cap->tail, want, cap->tail_len);
    assert_int_equal(cap->tail[cap->tail_len], '\0');
}

/* The process group (and so every process in it) no longer exists. */
static inline void assert_group_gone(pid_t pgid)
{
    errno = 0;
    assert_int_equal(kill(-pgid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

static inline void assert_pid_gone(pid_t pid)
{
    errno = 0;
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

static inline int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d) != NULL) {
        n++;
    }
    closedir(d);
    return n;
}

static inline void make_script(const char *path, const char *body, mode_t mode)
{
    tu_write_file(path, body, strlen(body));
    assert_int_equal(chmod(path, mode), 0);
}

static inline pid_t first_pid(const cairn_exec_result *res)
{
    assert_true(res->out.tail_len > 0);
    long v = strtol(res->out.tail, NULL, 10);
    assert_true(v > 1);
    return (pid_t)v;
}

static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
