/* test_exec_kill.c - the runner's process-execution layer: timeouts,
 * interrupts and the end of the whole process group (lib/exec*.c). */
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

/* Every command below would run for 100 s unless stopped: finishing
 * within 30 s proves it was stopped, without asserting how fast (the
 * lower bounds are the windows the mechanism must wait). */
#define STOPPED_EARLY (30000 * MS)

static void test_timeout_kills_group(void **state)
{
    (void)state;
    cmd c;
    cmd_sh(&c, "sleep 100 & echo $!; sleep 100");
    c.spec.timeout_ns = 200 * MS;
    cairn_exec_result res;
    run_ok(&c, &res);
    assert_int_equal(res.timed_out, 1);
    assert_int_equal(res.interrupted, 0);
    assert_int_equal(res.signaled, 1);
    assert_int_equal(res.term_signal, SIGTERM);
    assert_true(res.duration_ns >= 200 * MS);
    assert_true(res.duration_ns < STOPPED_EARLY);
    assert_pid_gone(first_pid(&res));
    assert_group_gone(res.pid);
    cairn__exec_result_free(&res);
    cmd_free(&c);
}

static void test_timeout_sigkill_after_grace(void **state)
{
    (void)state;
    cmd c;
    cmd_sh(&c, "trap '' TERM; echo ready; sleep 100; echo not-reached");
    c.spec.timeout_ns = 200 * MS;
    c.spec.grace_ns = 200 * MS;
    cairn_exec_result res;
    run_ok(&c, &res);
    assert_int_equal(res.timed_out, 1);
    assert_int_equal(res.signaled, 1);
    assert_int_equal(res.term_signal, SIGKILL);
    assert_true(res.duration_ns >= 400 * MS);
    assert_true(res.duration_ns < STOPPED_EARLY);
    assert_tail(&res.out, "ready\n");
    assert_group_gone(res.pid);
    cairn__exec_result_free(&res);
    cmd_free(&c);
}

static void test_timeout_grandchild_ignores_term(void **state)
{
    (void)state;
    /* the leader dies of SIGTERM; a grandchild that ignores it still gets
     * its grace period, then SIGKILL, before the call returns */
    cmd c;
    cmd_sh(&c, "(trap '' TERM; sleep 100; :) & echo $!; sleep 100");
    c.spec.timeout_ns = 200 * MS;
    c.spec.grace_ns = 300 * MS;
    cairn_exec_result res;
    uint64_t t0 = mono_ns();
    run_ok(&c, &res);
    uint64_t wall = mono_ns() - t0;
    assert_int_equal(res.timed_out, 1);
    assert_int_equal(res.term_signal, SIGTERM);
    assert_true(res.duration_ns < STOPPED_EARLY); /* the leader went early */
    assert_true(wall >= 500 * MS);                /* the group at kill time */
    assert_true(wall < STOPPED_EARLY);
    assert_pid_gone(first_pid(&res));
    assert_group_gone(res.pid);
    cairn__exec_result_free(&res);
    cmd_free(&c);
}

static void test_leader_exit_kills_background(void **state)
{
    (void)state;
    cmd c;
    cmd_sh(&c, "sleep 100 & echo $!");
    cairn_exec_result res;
    run_ok(&c, &res);
    assert_int_equal(res.exited, 1);
    assert_int_equal(res.exit_code, 0);
    assert_int_equal(res.timed_out, 0);
    assert_true(res.duration_ns < STOPPED_EARLY);
    assert_pid_gone(first_pid(&res));
    assert_group_gone(res.pid);
    cairn__exec_result_free(&res);
    cmd_free(&c);
}

/* Runs a leader that starts @p tail in a new session (it left the group
 * but keeps stdout open), waits until it runs, and exits.  The run must end
 * with the group, not with the pipe; then the escapee is killed. */
static void run_with_escapee(const char *tail, cairn_exec_result *res)
{
    char *dir = tu_mkdtemp();
    char *flag = tu_path(dir, "pid");
    char script[PATH_MAX * 2 + 256];
    snprintf(script, sizeof script,
             "setsid sh -c 'echo $$ >%s; exec %s' &"
             " while [ ! -s %s ]; do sleep 0.01; done; echo leader-done",
             flag, tail, flag);
    cmd c;
    cmd_sh(&c, script);
    c.spec.timeout_ns = 5000 * MS;
    uint64_t t0 = mono_ns();
    run_ok(&c, res);
    assert_true(mono_ns() - t0 < 1500 * MS);
    assert_int_equal(res->exited, 1);
    assert_int_equal(res->exit_code, 0);
    assert_int_equal(res->timed_out, 0);
    assert_group_gone(res->pid);
    size_t len;
    char *text = tu_read_file(flag, &len);
    pid_t escaped = (pid_t)strtol(text, NULL, 10);
    free(text);
    assert_true(escaped > 1);
    assert_int_equal(kill(escaped, 0), 0); /* it was left alone */
    assert_int_equal(kill(escaped, SIGKILL), 0);
    /* we are its subreaper (see main) */
    assert_int_equal(waitpid(escaped, NULL, 0), escaped);
    cmd_free(&c);
    free(flag);
    tu_rmtree(dir);
}

static void test_escaped_writer_does_not_hang(void **state)
{
    (void)state;
    cairn_exec_result res;
    run_with_escapee("sleep 100", &res);
    assert_tail(&res.out, "leader-done\n");
    cairn__exec_result_free(&res);
}

static void test_escaped_flooder_does_not_hang(void **state)
{
    (void)state;
    /* it writes without end: the last drain is bounded too */
    cairn_exec_result res;
    run_with_escapee("yes", &res);
    assert_true(res.out.bytes > 0);
    cairn__exec_result_free(&res);
}

static volatile sig_atomic_t interrupts;

static void on_alarm(int sig)
{
    (void)sig;
    interrupts++;
}

static void test_interrupt_soft(void **state)
{
    (void)state;
    cmd c;
    cmd_sh(&c, "sleep 0.05");
    interrupts = 1;
    c.spec.interrupts = &interrupts;
    c.spec.shutdown_ns = 300 * MS;
    cairn_exec_result res;
    run_ok(&c, &res); /* a short command finishes */
    assert_int_equal(res.exited, 1);
    assert_int_equal(res.exit_code, 0);
    assert_int_equal(res.interrupted, 0);
    cairn__exec_result_free(&res);
    cmd_free(&c);
    cmd_sh(&c, "sleep 100");
    c.spec.interrupts = &interrupts;
    c.spec.shutdown_ns = 300 * MS;
    run_ok(&c, &res); /* a long one is stopped */
    assert_int_equal(res.interrupted, 1);
    assert_int_equal(res.timed_out, 0);
    assert_int_equal(res.signaled, 1);
    assert_int_equal(res.term_signal, SIGTERM);
    assert_true(res.duration_ns >= 300 * MS);
    assert_true(res.duration_ns < STOPPED_EARLY);
    assert_group_gone(res.pid);
    cairn__exec_result_free(&res);
    /* the timeout wins when it comes first */
    c.spec.timeout_ns = 100 * MS;
    run_ok(&c, &res);
    assert_int_equal(res.interrupted, 0);
    assert_int_equal(res.timed_out, 1);
    assert_true(res.duration_ns < STOPPED_EARLY);
    cairn__exec_result_free(&res);
    cmd_free(&c);
    interrupts = 0;
}

static void test_interrupt_from_signal_handler(void **state)
{
    (void)state;
    /* the counter moves during the run: the shutdown window starts at the
     * first observation (~100 ms), poll's EINTR is survived */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    interrupts = 0;
    struct itimerval it = {{0, 0}, {0, 100000}};
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
    cmd c;
    cmd_sh(&c, "sleep 100");
    c.spec.interrupts = &interrupts;
    c.spec.shutdown_ns = 200 * MS;
    cairn_exec_result res;
    run_ok(&c, &res);
    assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
    assert_int_equal(interrupts, 1);
    assert_int_equal(res.interrupted, 1);
    assert_int_equal(res.timed_out, 0);
    assert_true(res.duration_ns >= 300 * MS);
    assert_true(res.duration_ns < STOPPED_EARLY);
    cairn__exec_result_free(&res);
    cmd_free(&c);
    interrupts = 0;
}

static void test_interrupt_hard(void **state)
{
    (void)state;
    cmd c;
    cmd_sh(&c, "sleep 100");
    interrupts = 2;
    c.spec.interrupts = &interrupts;
    c.spec.shutdown_ns = 60000 * MS;
    c.spec.timeout_ns = 60000 * MS;
    cairn_exec_result res;
    run_ok(&c, &res);
    assert_int_equal(res.interrupted, 1);
    assert_int_equal(res.timed_out, 0);
    assert_int_equal(res.signaled, 1);
    assert_int_equal(res.term_signal, SIGTERM);
    assert_true(res.duration_ns < STOPPED_EARLY);
    assert_group_gone(res.pid);
    cairn__exec_result_free(&res);
    cmd_free(&c);
    interrupts = 0;
}

int main(void)
{
    /* Orphaned grandchildren are re-parented to us and reaped by
     * cairn__exec_run (the init of a container may never reap them, which
     * would keep the process group alive as zombies). */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        perror("prctl");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeout_kills_group),
        cmocka_unit_test(test_timeout_sigkill_after_grace),
        cmocka_unit_test(test_timeout_grandchild_ignores_term),
        cmocka_unit_test(test_leader_exit_kills_background),
        cmocka_unit_test(test_escaped_writer_does_not_hang),
        cmocka_unit_test(test_escaped_flooder_does_not_hang),
        cmocka_unit_test(test_interrupt_soft),
        cmocka_unit_test(test_interrupt_from_signal_handler),
        cmocka_unit_test(test_interrupt_hard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
