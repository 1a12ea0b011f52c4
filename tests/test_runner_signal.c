/*
 * test_runner_signal.c - the runner against signals and other processes:
 * SIGTERM (the command may finish within the shutdown timeout, a second
 * signal stops it at once, both journaled), a second runner, command
 * trees that outlive their runner (after a crash, or a process that
 * escaped its group).
 */
#include "testutil.h"

#include "runner/rt.h"

#include <sys/prctl.h>

/* ---- other processes ------------------------------------------------------
 */

static void test_second_runner_locked(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    o.max_steps = 1;
    assert_int_equal(rt_run(t, happy_plan, &o), CAIRN_OK);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    rt_close(t);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cairn_journal *j = NULL;
        char c = 'x';
        if (cairn_journal_open(t->jdir, 0, &j, NULL, 0) != CAIRN_OK ||
            cairn_run_lock(j, t->run) != CAIRN_OK ||
            write(fds[1], &c, 1) != 1) {
            _exit(1);
        }
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    rt_open(t);
    o.max_steps = 0;
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_ELOCKED);
    char want[64];
    snprintf(want, sizeof(want), "pid %d on host ", (int)pid);
    assert_non_null(strstr(cairn_journal_errdetail(t->j),
                           "another runner holds run happy-1"));
    assert_non_null(strstr(cairn_journal_errdetail(t->j), want));
    assert_int_equal(rt_effects(t, "stop"), 0);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_OK);
    rt_assert_state(t, CAIRN_RUN_COMPLETED, CAIRN_NEXT_DONE);
}

static void test_orphan_tree_refused(void **state)
{
    rt *t = *state;
    /* The command backgrounds a sleeper that keeps the lock descriptor. */
    child_spec c = {"{\"cairn_plan\":1,\"plan_id\":\"o\",\"run_id\":\"o-1\","
                    "\"operations\":[{\"id\":\"hang\",\"kind\":\"task\","
                    "\"run\":[\"@S\",\"@D\",\"hang\",\"hang\"]}]}",
                    NULL, 0, 0};
    strcpy(t->run, "o-1");
    pid_t pid = child_start(t, &c);
    pid_t sh = (pid_t)rt_wait_number(t, "pid", "hang");
    pid_t sleeper = (pid_t)rt_wait_number(t, "gc", "hang");
    assert_int_equal(kill(pid, SIGKILL), 0);
    child_wait(t, pid);
    cairn_runner_opts o = rt_opts(t);
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_ELOCKED);
    char want[64];
    snprintf(want, sizeof(want), "pgid %d)", (int)sh);
    assert_non_null(strstr(cairn_journal_errdetail(t->j), want));
    assert_non_null(
        strstr(cairn_journal_errdetail(t->j), "operation 0 (hang) attempt 1"));
    /* The shell alone is not enough: the sleeper still holds it. */
    assert_int_equal(kill(sh, SIGKILL), 0);
    rt_wait_gone(sh);
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_ELOCKED);
    snprintf(want, sizeof(want), "pid %d (sleep", (int)sleeper);
    assert_non_null(strstr(cairn_journal_errdetail(t->j), want));
    assert_int_equal(kill(sleeper, SIGKILL), 0);
    rt_wait_gone(sleeper);
    /* Free now; the operation is in doubt (plain). */
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EATTENTION);
    rt_assert_state(t, CAIRN_RUN_NEEDS_ATTENTION, CAIRN_NEXT_RESOLVE_IN_DOUBT);
}

static void test_escaped_process_mid_run(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    assert_int_equal(
        rt_run(t,
               "{\"cairn_plan\":1,\"plan_id\":\"e\",\"run_id\":\"e-1\","
               "\"operations\":[{\"id\":\"a\",\"kind\":\"task\","
               "\"run\":[\"@S\",\"@D\",\"a\",\"escape\"]},"
               "{\"id\":\"b\",\"kind\":\"task\","
               "\"run\":[\"@S\",\"@D\",\"b\",\"ok\"]}]}",
               &o),
        CAIRN_ELOCKED);
    pid_t escaped = (pid_t)rt_wait_number(t, "escaped", "a");
    assert_non_null(strstr(cairn_journal_errdetail(t->j), "(sleep"));
    assert_int_equal(rt_op_state(t, 0, NULL), CAIRN_OP_COMPLETED);
    assert_int_equal(rt_op_state(t, 1, NULL), CAIRN_OP_READY);
    assert_int_equal(rt_effects(t, "b"), 0);
    assert_int_equal(kill(escaped, SIGKILL), 0);
    rt_wait_gone(escaped);
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_OK);
    assert_int_equal(rt_effects(t, "b"), 1);
}

/* ---- signals ----------------------------------------------------------------
 */

static const char slow_plan[] =
    "{\"cairn_plan\":1,\"plan_id\":\"s\",\"run_id\":\"sig-1\","
    "\"operations\":[{\"id\":\"slow\",\"kind\":\"task\","
    "\"run\":[\"@S\",\"@D\",\"slow\",\"slow\",\"%s\"]},"
    "{\"id\":\"next\",\"kind\":\"task\","
    "\"run\":[\"@S\",\"@D\",\"next\",\"ok\"]}]}";

/* Run slow_plan (sleep @p secs) in a child, SIGTERM it @p signals times
 * once the command runs; returns the elapsed ms after the first signal. */
static uint64_t term_child(rt *t, const char *secs, uint64_t shutdown_ns,
                           int signals)
{
    char plan[1024];
    snprintf(plan, sizeof(plan), slow_plan, secs);
    strcpy(t->run, "sig-1");
    child_spec c = {plan, NULL, shutdown_ns, 1};
    pid_t pid = child_start(t, &c);
    rt_wait_number(t, "pid", "slow");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < signals; i++) {
        assert_int_equal(kill(pid, SIGTERM), 0);
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    int status = child_wait(t, pid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), CAIRN_EINTR);
    assert_int_equal(rt_effects(t, "next"), 0);
    assert_int_equal(rt_op_state(t, 1, NULL), CAIRN_OP_READY);
    return ((uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull +
            (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec) /
           MS;
}

static void test_sigterm_lets_command_finish(void **state)
{
    rt *t = *state;
    term_child(t, "0.3", 5000 * MS, 1);
    assert_int_equal(rt_op_state(t, 0, NULL), CAIRN_OP_COMPLETED);
    assert_int_equal(rt_effects(t, "slow"), 1);
    rt_assert_state(t, CAIRN_RUN_RUNNING, CAIRN_NEXT_RESUME);
    cairn_runner_opts o = rt_opts(t);
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_OK);
    assert_int_equal(rt_effects(t, "slow"), 1);
    assert_int_equal(rt_effects(t, "next"), 1);
}

static void expect_interrupted_receipt(rt *t)
{
    rt_rec rec;
    rt_record(t, CAIRN_REC_RECEIPT, 0, &rec);
    assert_int_equal(rec.outcome, CAIRN_OUTCOME_FAILED);
    assert_int_equal(rec.cls, CAIRN_CLASS_RETRYABLE);
    assert_non_null(strstr(rec.reason, "interrupted by signal"));
    assert_true(rt_has_pair(&rec, "e:interrupted=1\n"));
    assert_int_equal(rt_effects(t, "slow"), 0);
}

static void test_sigterm_shutdown_timeout(void **state)
{
    rt *t = *state;
    uint64_t ms = term_child(t, "5", 200 * MS, 1);
    assert_true(ms < 3000);
    expect_interrupted_receipt(t);
    /* A failed (retryable) head: resume would run it again. */
    rt_assert_state(t, CAIRN_RUN_NEEDS_ATTENTION, CAIRN_NEXT_RETRY_FAILED);
}

static void test_double_sigterm(void **state)
{
    rt *t = *state;
    uint64_t ms = term_child(t, "5", 30000 * MS, 2);
    assert_true(ms < 3000);
    expect_interrupted_receipt(t);
}

#define T(f) cmocka_unit_test_setup_teardown(f, rt_setup, rt_teardown)

int main(void)
{
    /* Orphans of killed runners are ours to reap (init may not reap). */
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    const struct CMUnitTest tests[] = {
        T(test_second_runner_locked),     T(test_orphan_tree_refused),
        T(test_escaped_process_mid_run),  T(test_sigterm_lets_command_finish),
        T(test_sigterm_shutdown_timeout), T(test_double_sigterm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
