/*
 * test_runner.c - the thin runner driven through the library: receipts
 * and evidence, outputs and requires, the environment, retries with
 * backoff, terminal failures with containment and cleanup, timeouts,
 * bad $CAIRN_OUTPUT, commands that cannot run, large outputs.  Options
 * are in test_runner_opts.c, crashes in test_runner_crash.c, signals and
 * locks in test_runner_signal.c.
 */
#include "testutil.h"

#include "runner/rt.h"

static void test_happy_path(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    setenv("CAIRN_TEST_SECRET", "must-not-leak", 1);
    assert_int_equal(rt_run(t, happy_plan, &o), CAIRN_OK);
    unsetenv("CAIRN_TEST_SECRET");
    assert_string_equal(t->run, "happy-1");
    rt_assert_state(t, CAIRN_RUN_COMPLETED, CAIRN_NEXT_DONE);
    cairn_summary *s = rt_status(t);
    assert_string_equal(s->preflight_id, "auto-happy-1");
    assert_int_equal(s->restart_required, 0);
    assert_int_equal(s->records, 1 + 1 + 6 * 2);
    cairn_summary_free(s);
    const char *names[] = {"stop", "snap", "start", "xfer", "tidy", "check"};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(rt_effects(t, names[i]), 1);
    }
    /* Outputs are exactly the pairs of $CAIRN_OUTPUT; evidence is there. */
    rt_rec rec;
    rt_record(t, CAIRN_REC_RECEIPT, 2, &rec);
    assert_true(rec.found);
    assert_int_equal(rec.outcome, CAIRN_OUTCOME_COMPLETED);
    assert_true(rt_has_pair(&rec, "o:artifact=/b/db.tar\n"));
    assert_true(rt_has_pair(&rec, "o:digest=abc\n"));
    assert_true(rt_has_pair(&rec, "o:extra=x=y\n"));
    assert_true(rt_has_pair(&rec, "e:exit_code=0\n"));
    assert_true(rt_has_pair(&rec, "e:timed_out=0\n"));
    assert_true(rt_has_pair(&rec, "e:stdout_bytes=0\n"));
    assert_true(rt_has_pair(&rec,
                            "e:stdout_sha256=e3b0c44298fc1c149afbf4c8"
                            "996fb92427ae41e4649b934ca495991b7852b855\n"));
    assert_true(rt_has_pair(&rec, "e:duration_ms="));
    assert_true(rt_has_pair(&rec, "e:stderr_tail=\n"));
    /* Events: one start and one end per op, the acceptance, states. */
    assert_int_equal(rt_count_events(t, CAIRN_EVENT_OP_START), 6);
    assert_int_equal(rt_count_events(t, CAIRN_EVENT_OP_END), 6);
    assert_int_equal(rt_count_events(t, CAIRN_EVENT_PREFLIGHT_ACCEPTED), 1);
    assert_int_equal(t->ev[t->n_ev - 1].type, CAIRN_EVENT_STATE_CHANGE);
    assert_int_equal(t->ev[t->n_ev - 1].state, CAIRN_RUN_COMPLETED);
}

static void test_environment(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    setenv("CAIRN_TEST_SECRET", "must-not-leak", 1);
    assert_int_equal(rt_run(t, happy_plan, &o), CAIRN_OK);
    unsetenv("CAIRN_TEST_SECRET");
    size_t len;
    char *path = tu_path(t->dir, "env-check");
    char *env = tu_read_file(path, &len);
    char want[8192];
    assert_null(strstr(env, "CAIRN_TEST_SECRET"));
    assert_non_null(strstr(env, "CAIRN_RUN_ID=happy-1\n"));
    assert_non_null(strstr(env, "CAIRN_OP_ID=check\n"));
    assert_non_null(strstr(env, "CAIRN_OP_SEQ=0\n"));
    assert_non_null(strstr(env, "CAIRN_OP_KIND=preflight\n"));
    assert_non_null(strstr(env, "CAIRN_ATTEMPT=1\n"));
    assert_non_null(strstr(env, "CAIRN_LOCK_FD="));
    assert_null(strstr(env, "CAIRN_TARGET="));
    assert_null(strstr(env, "CAIRN_PROBE="));
    snprintf(want, sizeof(want), "CAIRN_JOURNAL=%s\n", t->jdir);
    assert_non_null(strstr(env, want));
    if (getenv("PATH") != NULL) {
        snprintf(want, sizeof(want), "PATH=%s\n", getenv("PATH"));
        assert_non_null(strstr(env, want));
    }
    free(env);
    free(path);
    /* $CAIRN_OUTPUT was a fresh 0600 file, removed afterwards. */
    path = tu_path(t->dir, "mode-check");
    char *mode = tu_read_file(path, &len);
    assert_string_equal(mode, "600\n");
    free(mode);
    free(path);
    path = tu_path(t->dir, "outpath-check");
    char *out = tu_read_file(path, &len);
    out[strcspn(out, "\n")] = '\0';
    snprintf(want, sizeof(want), "%s/tmp/run-1.out-", t->jdir);
    assert_memory_equal(out, want, strlen(want));
    assert_int_equal(rt_output_files(t), 0);
    struct stat st;
    assert_int_equal(stat(out, &st), -1);
    assert_int_equal(errno, ENOENT);
    free(out);
    free(path);
}

/* 0 flaky (exit 75 twice, then ok) */
static const char flaky_plan[] =
    "{\"cairn_plan\":1,\"plan_id\":\"flaky\",\"run_id\":\"flaky-1\","
    "\"operations\":["
    "{\"id\":\"flaky\",\"kind\":\"task\",\"run\":[\"@S\",\"@D\",\"flaky\","
    "\"flaky\",\"2\",\"75\"],\"retry\":{\"attempts\":3,\"backoff\":\"100ms\","
    "\"max_backoff\":\"150ms\",\"exit_codes\":[75]}}]}";

static void test_retry_backoff(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(rt_run(t, flaky_plan, &o), CAIRN_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    uint64_t elapsed = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull +
                       (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
    rt_assert_state(t, CAIRN_RUN_COMPLETED, CAIRN_NEXT_DONE);
    uint32_t attempt;
    assert_int_equal(rt_op_state(t, 0, &attempt), CAIRN_OP_COMPLETED);
    assert_int_equal(attempt, 3);
    assert_int_equal(rt_effects(t, "flaky"), 1);
    rt_rec claims, receipts;
    rt_record(t, CAIRN_REC_CLAIM, 0, &claims);
    rt_record(t, CAIRN_REC_RECEIPT, 0, &receipts);
    assert_int_equal(claims.count, 3);
    assert_int_equal(receipts.count, 3);
    assert_int_equal(receipts.attempt, 3);
    /* Two waits: 100 ms then 150 ms (capped), each 50..100 % of it. */
    assert_int_equal(rt_count_events(t, CAIRN_EVENT_RETRY_WAIT), 2);
    uint64_t waited = 0;
    uint32_t next = 2;
    for (size_t i = 0; i < t->n_ev; i++) {
        const rt_event *e = &t->ev[i];
        if (e->type != CAIRN_EVENT_RETRY_WAIT) {
            continue;
        }
        uint64_t d = next == 2 ? 100 * MS : 150 * MS;
        assert_int_equal(e->attempt, next);
        assert_true(e->wait_ns >= d / 2 && e->wait_ns <= d);
        assert_non_null(strstr(e->reason, "exit status 75"));
        waited += e->wait_ns;
        next++;
    }
    assert_true(elapsed >= waited);
    assert_true(elapsed >= 50 * MS + 75 * MS);
}

static void test_retry_exhausted(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    /* Always fails retryably, no target stopped: the run waits for an
     * operator (resume gives a fresh budget). */
    const char plan[] =
        "{\"cairn_plan\":1,\"plan_id\":\"ex\",\"run_id\":\"ex-1\","
        "\"operations\":["
        "{\"id\":\"prep\",\"kind\":\"task\","
        "\"run\":[\"@S\",\"@D\",\"stop\",\"ok\"]},"
        "{\"id\":\"snap\",\"kind\":\"snapshot\",\"run\":[\"@S\",\"@D\","
        "\"snap\",\"fail\",\"75\"],\"retry\":{\"attempts\":2,"
        "\"backoff\":\"10ms\",\"exit_codes\":[75]}},"
        "{\"id\":\"after\",\"kind\":\"task\","
        "\"run\":[\"@S\",\"@D\",\"start\",\"ok\"]}]}";
    assert_int_equal(rt_run(t, plan, &o), CAIRN_EATTENTION);
    assert_non_null(strstr(cairn_journal_errdetail(t->j), "no attempts "
                                                          "left"));
    rt_assert_state(t, CAIRN_RUN_NEEDS_ATTENTION, CAIRN_NEXT_RETRY_FAILED);
    uint32_t attempt;
    assert_int_equal(rt_op_state(t, 1, &attempt), CAIRN_OP_FAILED);
    assert_int_equal(attempt, 2);
    assert_int_equal(rt_op_state(t, 2, NULL), CAIRN_OP_READY);
    assert_int_equal(rt_effects(t, "start"), 0);
    /* Resume gives the operation a fresh budget of attempts. */
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EATTENTION);
    assert_int_equal(rt_op_state(t, 1, &attempt), CAIRN_OP_FAILED);
    assert_int_equal(attempt, 4);
    assert_int_equal(rt_effects(t, "snap"), 4);
}

static void test_retry_exhausted_contains(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    /* Attempts used up (a timeout on the last attempt is the same) while
     * db is stopped: the run is ended and containment restarts db, the
     * final word says so (issue 13: a stopped service stays down). */
    const char plan[] =
        "{\"cairn_plan\":1,\"plan_id\":\"ex\",\"run_id\":\"ex-1\","
        "\"operations\":["
        "{\"id\":\"stop\",\"kind\":\"stop\",\"target\":\"db\","
        "\"run\":[\"@S\",\"@D\",\"stop\",\"ok\"]},"
        "{\"id\":\"snap\",\"kind\":\"snapshot\",\"run\":[\"@S\",\"@D\","
        "\"snap\",\"slow\",\"30\"],\"timeout\":\"200ms\"},"
        "{\"id\":\"start\",\"kind\":\"start\",\"target\":\"db\","
        "\"run\":[\"@S\",\"@D\",\"start\",\"ok\"]},"
        "{\"id\":\"tidy\",\"kind\":\"cleanup\","
        "\"run\":[\"@S\",\"@D\",\"tidy\",\"ok\"]}]}";
    assert_int_equal(rt_run(t, plan, &o), CAIRN_EFAILED);
    const char *d = cairn_journal_errdetail(t->j);
    assert_non_null(strstr(d, "timed out after"));
    assert_non_null(strstr(d, "run ended with stopped targets; containment "
                              "and cleanup done"));
    rt_assert_state(t, CAIRN_RUN_CANCELLED, CAIRN_NEXT_DONE);
    assert_int_equal(rt_effects(t, "start"), 1);
    assert_int_equal(rt_effects(t, "tidy"), 1);
    cairn_summary *s = rt_status(t);
    assert_int_equal(s->restart_required, 0);
    cairn_summary_free(s);
}

static void test_terminal_containment(void **state)
{
    rt *t = *state;
    run_terminal(t, "ok", NULL);
    rt_assert_state(t, CAIRN_RUN_FAILED, CAIRN_NEXT_RETRY_FAILED);
    cairn_summary *s = rt_status(t);
    assert_int_equal(s->restart_required, 0);
    assert_int_equal(s->n_restart_targets, 0);
    assert_int_equal(s->ops[2].state, CAIRN_OP_COMPLETED);
    assert_int_equal(s->ops[4].state, CAIRN_OP_COMPLETED);
    cairn_summary_free(s);
    /* Resuming a failed run owes nothing more: EFAILED again, no effect. */
    cairn_runner_opts o = rt_opts(t);
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EFAILED);
    assert_int_equal(rt_effects(t, "start"), 1);
    assert_int_equal(rt_effects(t, "tidy"), 1);
}

static void test_containment_start_fails(void **state)
{
    rt *t = *state;
    run_terminal(t, "fail", NULL);
    rt_assert_state(t, CAIRN_RUN_FAILED, CAIRN_NEXT_RESTART_TARGETS);
    cairn_summary *s = rt_status(t);
    assert_int_equal(s->restart_required, 1);
    assert_int_equal(s->n_restart_targets, 1);
    assert_string_equal(s->restart_targets[0], "db");
    assert_int_equal(s->ops[2].state, CAIRN_OP_FAILED);
    assert_int_equal(s->ops[4].state, CAIRN_OP_COMPLETED);
    cairn_summary_free(s);
    assert_non_null(strstr(cairn_journal_errdetail(t->j), "still stopped "
                                                          "(restart them): "
                                                          "db"));
}

static void test_timeout_kills_group(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    const char plan[] =
        "{\"cairn_plan\":1,\"plan_id\":\"to\",\"run_id\":\"to-1\","
        "\"operations\":[{\"id\":\"gc\",\"kind\":\"task\","
        "\"run\":[\"@S\",\"@D\",\"gc\",\"grandchild\"],"
        "\"timeout\":\"300ms\"}]}";
    assert_int_equal(rt_run(t, plan, &o), CAIRN_EATTENTION);
    long gc = rt_wait_number(t, "gc", "gc");
    rt_wait_gone((pid_t)gc);
    rt_rec rec;
    rt_record(t, CAIRN_REC_RECEIPT, 0, &rec);
    assert_int_equal(rec.outcome, CAIRN_OUTCOME_FAILED);
    assert_int_equal(rec.cls, CAIRN_CLASS_RETRYABLE);
    assert_non_null(strstr(rec.reason, "timed out after"));
    assert_non_null(strstr(rec.reason, "(timeout 300ms)"));
    assert_true(rt_has_pair(&rec, "e:timed_out=1\n"));
    assert_true(rt_has_pair(&rec, "e:signal=15\n"));
    rt_assert_state(t, CAIRN_RUN_NEEDS_ATTENTION, CAIRN_NEXT_RETRY_FAILED);
}

static void expect_terminal(rt *t, const char *tmpl, const char *reason)
{
    cairn_runner_opts o = rt_opts(t);
    assert_int_equal(rt_run(t, tmpl, &o), CAIRN_EFAILED);
    rt_rec rec;
    rt_record(t, CAIRN_REC_RECEIPT, 0, &rec);
    assert_int_equal(rec.outcome, CAIRN_OUTCOME_FAILED);
    assert_int_equal(rec.cls, CAIRN_CLASS_TERMINAL);
    if (strstr(rec.reason, reason) == NULL) {
        print_error("reason \"%s\" lacks \"%s\"\n", rec.reason, reason);
    }
    assert_non_null(strstr(rec.reason, reason));
    rt_assert_state(t, CAIRN_RUN_FAILED, CAIRN_NEXT_RETRY_FAILED);
}

static void test_bad_output(void **state)
{
    rt *t = *state;
    expect_terminal(t,
                    "{\"cairn_plan\":1,\"plan_id\":\"b\",\"run_id\":\"b-1\","
                    "\"operations\":[{\"id\":\"x\",\"kind\":\"task\","
                    "\"run\":[\"@S\",\"@D\",\"x\",\"badout\"]}]}",
                    "$CAIRN_OUTPUT: line 2: missing '='");
}

static void test_missing_required(void **state)
{
    rt *t = *state;
    expect_terminal(t,
                    "{\"cairn_plan\":1,\"plan_id\":\"m\",\"run_id\":\"m-1\","
                    "\"operations\":[{\"id\":\"x\",\"kind\":\"task\","
                    "\"requires\":[\"artifact\",\"digest\"],"
                    "\"run\":[\"@S\",\"@D\",\"x\",\"out\",\"artifact=a\"]}]}",
                    "required output \"digest\" is missing");
}

static void test_command_not_found(void **state)
{
    rt *t = *state;
    expect_terminal(t,
                    "{\"cairn_plan\":1,\"plan_id\":\"n\",\"run_id\":\"n-1\","
                    "\"operations\":[{\"id\":\"x\",\"kind\":\"task\","
                    "\"run\":[\"cairn-no-such-command-42\"],"
                    "\"retry\":{\"attempts\":3}}]}",
                    "cairn-no-such-command-42: command not found");
    rt_rec rec;
    rt_record(t, CAIRN_REC_RECEIPT, 0, &rec);
    assert_true(rt_has_pair(&rec, "e:spawn_error=cairn-no-such-command-42: "
                                  "command not found\n"));
    assert_int_equal(rec.count, 1);
}

static void test_not_executable(void **state)
{
    rt *t = *state;
    char *path = tu_path(t->dir, "noexec.sh");
    tu_write_file(path, "#!/bin/sh\n", 10);
    assert_int_equal(chmod(path, 0644), 0);
    free(path);
    expect_terminal(t,
                    "{\"cairn_plan\":1,\"plan_id\":\"x\",\"run_id\":\"x-1\","
                    "\"operations\":[{\"id\":\"x\",\"kind\":\"task\","
                    "\"run\":[\"@D/noexec.sh\"]}]}",
                    "noexec.sh: permission denied");
}

static void test_big_output(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    assert_int_equal(
        rt_run(t,
               "{\"cairn_plan\":1,\"plan_id\":\"big\",\"run_id\":\"big-1\","
               "\"operations\":[{\"id\":\"big\",\"kind\":\"task\","
               "\"run\":[\"@S\",\"@D\",\"big\",\"big\"]},"
               "{\"id\":\"nul\",\"kind\":\"task\","
               "\"run\":[\"@S\",\"@D\",\"nul\",\"nul\"]}]}",
               &o),
        CAIRN_OK);
    rt_rec rec;
    rt_record(t, CAIRN_REC_RECEIPT, 0, &rec);
    assert_true(rt_has_pair(&rec, "e:stdout_bytes=5000000\n"));
    assert_true(rt_has_pair(&rec, "e:stderr_bytes=3000000\n"));
    char want[128];
    FILE *p =
        popen("head -c 5000000 /dev/zero | tr '\\000' a | sha256sum", "r");
    assert_non_null(p);
    char hex[80] = "";
    assert_non_null(fgets(hex, sizeof(hex), p));
    pclose(p);
    hex[64] = '\0';
    snprintf(want, sizeof(want), "e:stdout_sha256=%s\n", hex);
    assert_true(rt_has_pair(&rec, want));
    /* The tail is the last 2048 bytes. */
    char tail[2100];
    memset(tail, 'b', 2048);
    tail[2048] = '\n';
    tail[2049] = '\0';
    char *at = strstr(rec.pairs, "e:stderr_tail=");
    assert_non_null(at);
    assert_memory_equal(at + 14, tail, 2049);
    /* A tail holding NUL bytes is escaped. */
    rt_record(t, CAIRN_REC_RECEIPT, 1, &rec);
    assert_true(rt_has_pair(&rec, "e:stdout_tail=a\\x00b\\\\c\\x01\n"));
    assert_true(rt_has_pair(&rec, "e:stdout_bytes=6\n"));
}

static const char rm_tmp_plan[] =
    "{\"cairn_plan\":1,\"plan_id\":\"flaky\",\"run_id\":\"flaky-1\","
    "\"operations\":["
    "{\"id\":\"rm\",\"kind\":\"task\",\"run\":[\"sh\",\"-c\","
    "\"rm -rf \\\"$CAIRN_JOURNAL/tmp\\\"\"]},"
    "{\"id\":\"flaky\",\"kind\":\"task\",\"run\":[\"@S\",\"@D\","
    "\"flaky\",\"flaky\",\"2\",\"75\"],\"retry\":{\"attempts\":3,"
    "\"backoff\":\"100ms\",\"max_backoff\":\"150ms\","
    "\"exit_codes\":[75]}}]}";

static void test_runner_error_after_claim(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    /* <journal>/tmp is not a private directory (here: a file): refused
     * before the run is created (exit 6). */
    char *blocker = tu_path(t->jdir, "tmp");
    tu_write_file(blocker, "x", 1);
    cairn_err err = rt_run(t, flaky_plan, &o);
    assert_int_equal(err, CAIRN_ECORRUPT);
    assert_non_null(strstr(cairn_journal_errdetail(t->j), "/tmp: "));
    assert_int_equal(rt_lines(t, "count", "flaky"), 0);
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(t->j, "flaky-1", &s), CAIRN_ENORUN);
    assert_int_equal(unlink(blocker), 0);
    free(blocker);
    assert_int_equal(rt_run(t, flaky_plan, &o), CAIRN_OK);
    rt_assert_state(t, CAIRN_RUN_COMPLETED, CAIRN_NEXT_DONE);
}

static void test_runner_error_after_claim_mid_run(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    /* No $CAIRN_OUTPUT file can be made (the first operation removed the
     * runner's tmp/): the claimed attempt is journaled as failed
     * (retryable), never left pending, and the error returned. */
    cairn_err err = rt_run(t, rm_tmp_plan, &o);
    assert_int_equal(err, CAIRN_EIO);
    assert_non_null(strstr(cairn_journal_errdetail(t->j),
                           "cannot create a $CAIRN_OUTPUT file"));
    rt_rec rec;
    rt_record(t, CAIRN_REC_RECEIPT, 1, &rec);
    assert_int_equal(rec.cls, CAIRN_CLASS_RETRYABLE);
    assert_non_null(strstr(rec.reason, "runner error"));
    assert_int_equal(rt_op_state(t, 1, NULL), CAIRN_OP_FAILED);
    assert_int_equal(rt_lines(t, "count", "flaky"), 0);
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_OK);
    rt_assert_state(t, CAIRN_RUN_COMPLETED, CAIRN_NEXT_DONE);
}

static void test_event_names(void **state)
{
    (void)state;
    assert_string_equal(cairn_run_event_name(CAIRN_EVENT_OP_START), "op-start");
    assert_string_equal(cairn_run_event_name(CAIRN_EVENT_STOPPED), "stopped");
    assert_string_equal(cairn_run_event_name((cairn_run_event_type)99),
                        "unknown");
    assert_int_equal(cairn_run_resume(NULL, "x", NULL), CAIRN_EINVAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, rt_setup, rt_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_happy_path),
        T(test_environment),
        T(test_retry_backoff),
        T(test_retry_exhausted),
        T(test_retry_exhausted_contains),
        T(test_terminal_containment),
        T(test_containment_start_fails),
        T(test_timeout_kills_group),
        T(test_bad_output),
        T(test_missing_required),
        T(test_command_not_found),
        T(test_not_executable),
        T(test_big_output),
        T(test_runner_error_after_claim),
        T(test_runner_error_after_claim_mid_run),
        T(test_event_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
