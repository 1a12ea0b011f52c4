/* test_exec.c - the runner's process-execution layer: spawning, the
 * child's environment, descriptors and captures (lib/exec*.c). */
#include "testutil.h"

#include "base/crypto.h"
#include "runner/exec.h"
#include "helpers/exec_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_exit_codes(void **state)
{
    (void)state;
    cairn_exec_result res;
    assert_int_equal(sh_exit_code("exit 0", &res), 0);
    assert_int_equal(res.timed_out, 0);
    assert_int_equal(res.interrupted, 0);
    assert_true(res.duration_ns > 0);
    cairn__exec_result_free(&res);
    assert_int_equal(sh_exit_code("exit 1", &res), 1);
    cairn__exec_result_free(&res);
    assert_int_equal(sh_exit_code("exit 75", &res), 75);
    cairn__exec_result_free(&res);
}

static void test_killed_by_signal(void **state)
{
    (void)state;
    cmd c;
    cmd_sh(&c, "kill -9 $$");
    cairn_exec_result res;
    run_ok(&c, &res);
    assert_int_equal(res.exited, 0);
    assert_int_equal(res.signaled, 1);
    assert_int_equal(res.term_signal, SIGKILL);
    assert_int_equal(res.timed_out, 0);
    assert_int_equal(res.interrupted, 0);
    cairn__exec_result_free(&res);
    cmd_free(&c);
}

static void expect_spawn_error(cmd *c, cairn_err want, const char *detail)
{
    cairn_exec_result res;
    char got[512] = "";
    int before = count_fds();
    assert_int_equal(cairn__exec_run(&c->spec, &res, got, sizeof got), want);
    assert_string_equal(got, detail);
    assert_null(res.out.tail);
    assert_null(res.err.tail);
    assert_int_equal(res.pid, 0);
    assert_int_equal(count_fds(), before);
    cairn__exec_result_free(&res);
}

static void test_not_found(void **state)
{
    (void)state;
    cmd c;
    cmd_init(&c);
    cmd_arg(&c, "cairn-no-such-command");
    cmd_env(&c, "PATH=/usr/bin:/bin");
    expect_spawn_error(&c, CAIRN_ECHILD,
                       "cairn-no-such-command: command not found");
    cmd_free(&c);
    cmd_init(&c);
    cmd_arg(&c, "/nonexistent/cairn-tool");
    expect_spawn_error(&c, CAIRN_ECHILD,
                       "/nonexistent/cairn-tool: command not found");
    cmd_free(&c);
}

static void test_not_executable(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *tool = tu_path(dir, "tool");
    make_script(tool, "#!/bin/sh\necho one\n", 0644);
    char env[PATH_MAX + 8];
    snprintf(env, sizeof env, "PATH=%s:/usr/bin:/bin", dir);
    cmd c;
    cmd_init(&c);
    cmd_arg(&c, "tool");
    cmd_env(&c, env);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s: permission denied", tool);
    expect_spawn_error(&c, CAIRN_ECHILD, want);
    cmd_free(&c);
    cmd_init(&c);
    cmd_arg(&c, tool);
    expect_spawn_error(&c, CAIRN_ECHILD, want);
    cmd_free(&c);
    /* a directory is not a command either */
    cmd_init(&c);
    cmd_arg(&c, dir);
    snprintf(want, sizeof want, "%s: permission denied", dir);
    expect_spawn_error(&c, CAIRN_ECHILD, want);
    cmd_free(&c);
    free(tool);
    tu_rmtree(dir);
}

static void test_path_search_order(void **state)
{
    (void)state;
    /* like execvp: a non-executable match does not stop the search */
    char *d1 = tu_mkdtemp();
    char *d2 = tu_mkdtemp();
    char *t1 = tu_path(d1, "tool");
    char *t2 = tu_path(d2, "tool");
    make_script(t1, "#!/bin/sh\necho one\n", 0644);
    make_script(t2, "#!/bin/sh\necho two \"$@\"\n", 0755);
    char env[2 * PATH_MAX];
    snprintf(env, sizeof env, "PATH=%s::%s:/usr/bin:/bin", d1, d2);
    cmd c;
    cmd_init(&c);
    cmd_arg(&c, "tool");
    cmd_arg(&c, "a b");
    cmd_env(&c, env);
    cairn_exec_result res;
    run_ok(&c, &res);
    assert_int_equal(res.exit_code, 0);
    assert_tail(&res.out, "two a b\n");
    cairn__exec_result_free(&res);
    cmd_free(&c);
    free(t1);
    free(t2);
    tu_rmtree(d1);
    tu_rmtree(d2);
}

static void test_path_from_envp(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *tool = tu_path(dir, "cairn-test-tool");
    make_script(tool, "#!/bin/sh\necho found $#\n", 0755);
    char env[PATH_MAX + 8];
    snprintf(env, sizeof env, "PATH=%s:/usr/bin:/bin", dir);
    /* the parent's PATH is irrelevant: it has the tool, envp does not */
    char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    assert_int_equal(setenv("PATH", dir, 1), 0);
    cmd c;
    cmd_init(&c);
    cmd_arg(&c, "cairn-test-tool");
    cmd_env(&c, "PATH=/usr/bin:/bin");
    expect_spawn_error(&c, CAIRN_ECHILD, "cairn-test-tool: command not found");
    cmd_free(&c);
    /* no PATH in envp: the default /usr/bin:/bin, not the parent's */
    cmd_init(&c);
    cmd_arg(&c, "cairn-test-tool");
    cmd_env(&c, "A=1");
    expect_spawn_error(&c, CAIRN_ECHILD, "cairn-test-tool: command not found");
    cmd_free(&c);
    cmd_init(&c);
    cmd_arg(&c, "sh");
    cmd_arg(&c, "-c");
    cmd_arg(&c, "exit 3");
    cairn_exec_result res;
    run_ok(&c, &res);
    assert_int_equal(res.exit_code, 3);
    cairn__exec_result_free(&res);
    cmd_free(&c);
    if (saved != NULL) {
        assert_int_equal(setenv("PATH", saved, 1), 0);
        free(saved);
    }
    /* found through envp's PATH only */
    cmd_init(&c);
    cmd_arg(&c, "cairn-test-tool");
    cmd_arg(&c, "x");
    cmd_arg(&c, "y");
    cmd_env(&c, env);
    run_ok(&c, &res);
    assert_int_equal(res.exit_code, 0);
    assert_tail(&res.out, "found 2\n");
    cairn__exec_result_free(&res);
    cmd_free(&c);
    free(tool);
    tu_rmtree(dir);
}

static void test_env_exact(void **state)
{
    (void)state;
    cmd c;
    cmd_init(&c);
    cmd_arg(&c, "env");
    cmd_env(&c, "PATH=/usr/bin:/bin");
    cmd_env(&c, "A=1");
    cmd_env(&c, "B=two words");
    cmd_env(&c, "CAIRN_OUTPUT=/tmp/x");
    cairn_exec_result res;
    run_ok(&c, &res);
    assert_int_equal(res.exit_code, 0);
    assert_tail(&res.out,
                "PATH=/usr/bin:/bin\nA=1\nB=two words\nCAIRN_OUTPUT=/tmp/x\n");
    assert_tail(&res.err, "");
    cairn__exec_result_free(&res);
    cmd_free(&c);
}

static void test_cwd(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char real[PATH_MAX];
    assert_non_null(realpath(dir, real));
    char *tool = tu_path(dir, "hello");
    make_script(tool, "#!/bin/sh\necho hello; pwd -P\n", 0755);
    cmd c;
    cmd_init(&c);
    cmd_arg(&c, "./hello"); /* relative to the child's cwd */
    c.spec.cwd = dir;
    cairn_exec_result res;
    run_ok(&c, &res);
    char want[PATH_MAX + 16];
    snprintf(want, sizeof want, "hello\n%s\n", real);
    assert_tail(&res.out, want);
    cairn__exec_result_free(&res);
    /* the same name from the test's own cwd does not exist */
    c.spec.cwd = "/";
    expect_spawn_error(&c, CAIRN_ECHILD, "./hello: command not found");
    c.spec.cwd = "/nonexistent-cairn-dir";
    expect_spawn_error(&c, CAIRN_ECHILD,
                       "cwd /nonexistent-cairn-dir: No such file or directory");
    cmd_free(&c);
    free(tool);
    tu_rmtree(dir);
}

static void test_child_setup(void **state)
{
    (void)state;
    /* stdin is /dev/null; own process group; empty mask and default
     * dispositions even when the parent blocks and ignores signals */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old), 0);
    void (*oldpipe)(int) = signal(SIGPIPE, SIG_IGN);
    void (*oldterm)(int) = signal(SIGTERM, SIG_IGN);
    cmd c;
    cmd_sh(&c, "cat; readlink /proc/self/fd/0;"
               " read a b c d e rest </proc/$$/stat; echo $e;"
               " grep -E '^Sig(Blk|Ign)' /proc/self/status; kill -TERM $$");
    cairn_exec_result res;
    run_ok(&c, &res);
    signal(SIGPIPE, oldpipe);
    signal(SIGTERM, oldterm);
    assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
    char want[256];
    snprintf(want, sizeof want,
             "/dev/null\n%d\nSigBlk:\t0000000000000000\nSigIgn:\t",
             (int)res.pid);
    size_t wl = strlen(want);
    assert_int_equal(res.out.tail_len, wl + 17);
    assert_memory_equal(res.out.tail, want, wl);
    /* glibc's posix_spawn leaves its internal signals 32 and 33 ignored
     * (sigaddset refuses them); every standard signal is at default */
    unsigned long long ign = strtoull(res.out.tail + wl, NULL, 16);
    assert_int_equal(ign & 0x7fffffffull, 0);
    assert_int_equal(res.signaled, 1);
    assert_int_equal(res.term_signal, SIGTERM);
    assert_int_equal(res.timed_out, 0);
    cairn__exec_result_free(&res);
    cmd_free(&c);
}

/* SHA-256 and last @p tail bytes of @p total bytes of @p pattern repeated. */
static void pattern_digest(const char *pattern, size_t total, uint8_t *sha,
                           char *tail, size_t tail_len)
{
    size_t plen = strlen(pattern);
    char block[4096 * 17];
    size_t blen = 0;
    while (blen + plen <= sizeof block) {
        memcpy(block + blen, pattern, plen);
        blen += plen;
    }
    cairn_sha256 st;
    cairn__sha256_init(&st);
    for (size_t done = 0; done < total;) {
        size_t n = total - done < blen ? total - done : blen;
        cairn__sha256_update(&st, block, n);
        done += n;
    }
    cairn__sha256_final(&st, sha);
    for (size_t i = 0; i < tail_len; i++) {
        tail[i] = pattern[(total - tail_len + i) % plen];
    }
}

static void test_large_output(void **state)
{
    (void)state;
    const size_t out_n = 20u << 20, err_n = 5u << 20;
    cmd c;
    cmd_sh(&c, "yes 0123456789abcdef | head -c 20971520 &"
               " yes err-line | head -c 5242880 >&2; wait");
    c.spec.timeout_ns = 30000 * MS;
    cairn_exec_result res;
    run_ok(&c, &res);
    assert_int_equal(res.exit_code, 0);
    assert_int_equal(res.timed_out, 0);
    assert_int_equal(res.out.bytes, out_n);
    assert_int_equal(res.err.bytes, err_n);
    uint8_t sha[CAIRN_HASH_BYTES];
    char tail[4096];
    pattern_digest("0123456789abcdef\n", out_n, sha, tail, sizeof tail);
    assert_memory_equal(res.out.sha256, sha, sizeof sha);
    assert_int_equal(res.out.tail_len, 4096);
    assert_memory_equal(res.out.tail, tail, 4096);
    pattern_digest("err-line\n", err_n, sha, tail, sizeof tail);
    assert_memory_equal(res.err.sha256, sha, sizeof sha);
    assert_int_equal(res.err.tail_len, 4096);
    assert_memory_equal(res.err.tail, tail, 4096);
    cairn__exec_result_free(&res);
    cmd_free(&c);
}

static void test_tail_small(void **state)
{
    (void)state;
    cmd c;
    cmd_sh(&c, "printf abcdefghij; printf ab >&2");
    c.spec.tail_max = 5;
    cairn_exec_result res;
    run_ok(&c, &res);
    assert_int_equal(res.out.bytes, 10);
    assert_tail(&res.out, "fghij");
    assert_int_equal(res.err.bytes, 2);
    assert_tail(&res.err, "ab");
    uint8_t sha[CAIRN_HASH_BYTES];
    cairn__sha256("abcdefghij", 10, sha);
    assert_memory_equal(res.out.sha256, sha, sizeof sha);
    cairn__exec_result_free(&res);
    cmd_free(&c);
    /* many small writes wrapping the ring several times */
    cmd_sh(&c, "for i in 1 2 3 4 5 6 7 8 9; do printf \"$i-\"; done");
    c.spec.tail_max = 7;
    run_ok(&c, &res);
    assert_int_equal(res.out.bytes, 18);
    assert_tail(&res.out, "-7-8-9-");
    cairn__exec_result_free(&res);
    cmd_free(&c);
    /* default 4096; empty streams have an empty, NUL-terminated tail */
    cmd_sh(&c, "head -c 5000 /dev/zero | tr '\\0' x");
    run_ok(&c, &res);
    assert_int_equal(res.out.bytes, 5000);
    assert_int_equal(res.out.tail_len, 4096);
    assert_int_equal(res.out.tail[0], 'x');
    assert_int_equal(res.err.bytes, 0);
    assert_tail(&res.err, "");
    cairn__sha256("", 0, sha);
    assert_memory_equal(res.err.sha256, sha, sizeof sha);
    cairn__exec_result_free(&res);
    cmd_free(&c);
}

/* The pid the command printed first on stdout. */
static void test_keep_fd(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *file = tu_path(dir, "lock");
    int base = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(base >= 0);
    int keep = fcntl(base, F_DUPFD_CLOEXEC, 40);
    int cloexec = fcntl(base, F_DUPFD_CLOEXEC, 50);
    int plain = fcntl(base, F_DUPFD, 60); /* not close-on-exec */
    assert_true(keep >= 40 && cloexec >= 50 && plain >= 60);
    char script[256];
    snprintf(script, sizeof script,
             "for f in %d %d %d; do test -e /proc/self/fd/$f && echo $f;"
             " done; exit 0",
             keep, cloexec, plain);
    cmd c;
    cmd_sh(&c, script);
    c.spec.keep_fd = keep;
    cairn_exec_result res;
    int before = count_fds();
    run_ok(&c, &res);
    assert_int_equal(count_fds(), before);
    char want[32];
    snprintf(want, sizeof want, "%d\n", keep);
    assert_tail(&res.out, want);
    /* the parent's descriptor keeps its close-on-exec flag */
    assert_int_equal(fcntl(keep, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    cairn__exec_result_free(&res);
    /* without keep_fd, nothing beyond 0..2 */
    c.spec.keep_fd = -1;
    run_ok(&c, &res);
    assert_tail(&res.out, "");
    cairn__exec_result_free(&res);
    cmd_free(&c);
    close(keep);
    close(cloexec);
    close(plain);
    close(base);
    free(file);
    tu_rmtree(dir);
}

static void test_bad_args(void **state)
{
    (void)state;
    cmd c;
    cmd_sh(&c, "exit 0");
    cairn_exec_result res;
    char detail[256];
    assert_int_equal(cairn__exec_run(&c.spec, NULL, detail, sizeof detail),
                     CAIRN_EINVAL);
    assert_string_equal(detail, "res is NULL");
    assert_int_equal(cairn__exec_run(NULL, &res, detail, sizeof detail),
                     CAIRN_EINVAL);
    assert_string_equal(detail, "spec, argv or envp is NULL");
    c.spec.envp = NULL;
    assert_int_equal(cairn__exec_run(&c.spec, &res, detail, sizeof detail),
                     CAIRN_EINVAL);
    c.spec.envp = c.envp;
    c.spec.keep_fd = 2;
    assert_int_equal(cairn__exec_run(&c.spec, &res, detail, sizeof detail),
                     CAIRN_EINVAL);
    assert_string_equal(detail, "keep_fd 2: not an open descriptor >= 3");
    c.spec.keep_fd = 1000; /* not open */
    assert_int_equal(cairn__exec_run(&c.spec, &res, detail, sizeof detail),
                     CAIRN_EINVAL);
    assert_string_equal(detail, "keep_fd 1000: not an open descriptor >= 3");
    c.spec.keep_fd = -1;
    c.spec.tail_max = (1u << 20) + 1;
    assert_int_equal(cairn__exec_run(&c.spec, &res, detail, sizeof detail),
                     CAIRN_EINVAL);
    assert_string_equal(detail, "tail_max 1048577 larger than 1048576");
    c.spec.tail_max = 1u << 20; /* the limit itself is fine */
    assert_int_equal(cairn__exec_run(&c.spec, &res, NULL, 0), CAIRN_OK);
    cairn__exec_result_free(&res);
    cmd_free(&c);
    cmd_init(&c);
    cmd_arg(&c, "");
    assert_int_equal(cairn__exec_run(&c.spec, &res, detail, sizeof detail),
                     CAIRN_EINVAL);
    assert_string_equal(detail, "argv[0] is empty");
    cmd_free(&c);
    cmd_init(&c);
    assert_int_equal(cairn__exec_run(&c.spec, &res, detail, sizeof detail),
                     CAIRN_EINVAL);
    assert_null(res.out.tail);
    cmd_free(&c);
}

static void test_result_free(void **state)
{
    (void)state;
    cairn__exec_result_free(NULL);
    cairn_exec_result res;
    sh_exit_code("echo hi; echo err >&2", &res);
    assert_tail(&res.out, "hi\n");
    assert_tail(&res.err, "err\n");
    cairn__exec_result_free(&res);
    assert_null(res.out.tail);
    assert_null(res.err.tail);
    assert_int_equal(res.out.tail_len, 0);
    cairn__exec_result_free(&res); /* idempotent */
}

static void test_no_descriptor_leak(void **state)
{
    (void)state;
    int before = count_fds();
    for (int i = 0; i < 20; i++) {
        cairn_exec_result res;
        sh_exit_code("echo x", &res);
        cairn__exec_result_free(&res);
    }
    assert_int_equal(count_fds(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_killed_by_signal),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_not_executable),
        cmocka_unit_test(test_path_search_order),
        cmocka_unit_test(test_path_from_envp),
        cmocka_unit_test(test_env_exact),
        cmocka_unit_test(test_cwd),
        cmocka_unit_test(test_child_setup),
        cmocka_unit_test(test_large_output),
        cmocka_unit_test(test_tail_small),
        cmocka_unit_test(test_keep_fd),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_result_free),
        cmocka_unit_test(test_no_descriptor_leak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
