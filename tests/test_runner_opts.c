/*
 * test_runner_opts.c - the runner's options and run-level rules: dry runs,
 * an existing run id, plans without commands, manual preflight
 * acceptance, max steps, the run deadline, hooks, signing, a signal
 * before the first operation.
 */
#include "testutil.h"

#include "runner/rt.h"

static void test_dry_run_writes_nothing(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    o.dry_run = 1;
    assert_int_equal(rt_run(t, happy_plan, &o), CAIRN_OK);
    assert_string_equal(t->run, "happy-1");
    assert_int_equal(rt_count_events(t, CAIRN_EVENT_DRY_RUN), 6);
    assert_int_equal(t->n_ev, 6);
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(t->j, "happy-1", &s), CAIRN_ENORUN);
    assert_int_equal(rt_effects(t, "check"), 0);
    /* Without a journal at all. */
    cairn_plan *plan = rt_plan(t, happy_plan);
    char run[CAIRN_MAX_ID + 1];
    assert_int_equal(cairn_run_plan(NULL, plan, &o, run, sizeof(run)),
                     CAIRN_OK);
    o.dry_run = 0;
    assert_int_equal(cairn_run_plan(NULL, plan, &o, run, sizeof(run)),
                     CAIRN_EINVAL);
    cairn_plan_free(plan);
    const rt_event *e = rt_find_event(t, CAIRN_EVENT_DRY_RUN, 2);
    assert_non_null(e);
    assert_non_null(strstr(e->reason, "requires artifact,digest"));
}

static void test_run_exists_and_no_command(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    o.max_steps = 1;
    assert_int_equal(rt_run(t, happy_plan, &o), CAIRN_OK);
    cairn_summary *s = rt_status(t);
    uint64_t records = s->records;
    cairn_summary_free(s);
    assert_int_equal(rt_run(t, happy_plan, &o), CAIRN_EEXIST);
    assert_string_equal(cairn_journal_errdetail(t->j),
                        "run happy-1 exists: use cairn resume happy-1");
    strcpy(t->run, "happy-1");
    s = rt_status(t);
    assert_int_equal(s->records, records);
    cairn_summary_free(s);
    /* An operation without a command: nothing is created. */
    assert_int_equal(
        rt_run(t,
               "{\"cairn_plan\":1,\"plan_id\":\"nc\",\"run_id\":\"nc-1\","
               "\"operations\":[{\"id\":\"x\",\"kind\":\"task\"}]}",
               &o),
        CAIRN_EPLAN);
    assert_non_null(strstr(cairn_journal_errdetail(t->j), "operations[0] "
                                                          "(x): no \"run\""));
    assert_int_equal(cairn_status(t->j, "nc-1", &s), CAIRN_ENORUN);
    assert_int_equal(cairn_run_resume(t->j, "nope", &o), CAIRN_ENORUN);
}

static void test_manual_accept_and_max_steps(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    o.manual_accept = 1;
    assert_int_equal(rt_run(t, happy_plan, &o), CAIRN_EATTENTION);
    assert_non_null(strstr(cairn_journal_errdetail(t->j), "accept-preflight"));
    rt_assert_state(t, CAIRN_RUN_AWAITING_PREFLIGHT,
                    CAIRN_NEXT_ACCEPT_PREFLIGHT);
    assert_int_equal(rt_effects(t, "stop"), 0);
    /* Resume without manual_accept accepts, then max_steps stops it. */
    o.manual_accept = 0;
    o.max_steps = 2;
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_OK);
    assert_non_null(strstr(cairn_journal_errdetail(t->j), "stopped after 2 "
                                                          "operations"));
    rt_assert_state(t, CAIRN_RUN_RUNNING, CAIRN_NEXT_RESUME);
    assert_int_equal(rt_effects(t, "stop"), 1);
    assert_int_equal(rt_effects(t, "snap"), 1);
    assert_int_equal(rt_effects(t, "start"), 0);
    assert_int_equal(rt_count_events(t, CAIRN_EVENT_STOPPED), 2);
    o.max_steps = 0;
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_OK);
    rt_assert_state(t, CAIRN_RUN_COMPLETED, CAIRN_NEXT_DONE);
    assert_int_equal(rt_effects(t, "check"), 1);
    assert_int_equal(rt_effects(t, "start"), 1);
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EFINISHED);
    assert_non_null(strstr(cairn_journal_errdetail(t->j), "already "
                                                          "complete"));
}

static void test_deadline_kills(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    /* The deadline (400 ms) kills snap, which has no timeout of its own;
     * then containment (start-db) and cleanup run. */
    assert_int_equal(
        rt_run(t,
               "{\"cairn_plan\":1,\"plan_id\":\"dl\",\"run_id\":\"dl-1\","
               "\"deadline\":\"400ms\",\"operations\":["
               "{\"id\":\"stop-db\",\"kind\":\"stop\",\"target\":\"db\","
               "\"run\":[\"@S\",\"@D\",\"stop\",\"ok\"]},"
               "{\"id\":\"snap\",\"kind\":\"snapshot\","
               "\"run\":[\"@S\",\"@D\",\"snap\",\"slow\",\"5\"]},"
               "{\"id\":\"start-db\",\"kind\":\"start\",\"target\":\"db\","
               "\"run\":[\"@S\",\"@D\",\"start\",\"ok\"]},"
               "{\"id\":\"tidy\",\"kind\":\"cleanup\","
               "\"run\":[\"@S\",\"@D\",\"tidy\",\"ok\"]}]}",
               &o),
        CAIRN_EFAILED);
    rt_assert_state(t, CAIRN_RUN_TIMED_OUT, CAIRN_NEXT_DONE);
    rt_rec rec;
    rt_record(t, CAIRN_REC_RECEIPT, 1, &rec);
    assert_non_null(strstr(rec.reason, "run deadline exceeded"));
    assert_int_equal(rt_effects(t, "snap"), 0);
    assert_int_equal(rt_effects(t, "start"), 1);
    assert_int_equal(rt_effects(t, "tidy"), 1);
    rt_record(t, CAIRN_REC_TIMEOUT, 0, &rec);
    assert_true(rec.found);
    assert_non_null(strstr(cairn_journal_errdetail(t->j), "run deadline"));
    /* The run has ended: resume has nothing left to do. */
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EFINISHED);
}

static void test_deadline_between_ops(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    o.max_steps = 1;
    assert_int_equal(
        rt_run(t,
               "{\"cairn_plan\":1,\"plan_id\":\"db\",\"run_id\":\"db-1\","
               "\"deadline\":\"3s\",\"operations\":["
               "{\"id\":\"a\",\"kind\":\"task\","
               "\"run\":[\"@S\",\"@D\",\"a\",\"ok\"]},"
               "{\"id\":\"b\",\"kind\":\"task\","
               "\"run\":[\"@S\",\"@D\",\"b\",\"ok\"]}]}",
               &o),
        CAIRN_OK);
    /* The deadline counts from the run's creation, so it has passed once
     * this much has passed since the first step returned.  3 s leaves
     * room for that step on a loaded machine (150 ms did not). */
    struct timespec ts = {3, 200000000};
    nanosleep(&ts, NULL);
    o.max_steps = 0;
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EFAILED);
    rt_assert_state(t, CAIRN_RUN_TIMED_OUT, CAIRN_NEXT_DONE);
    assert_int_equal(rt_effects(t, "b"), 0);
    assert_int_equal(rt_op_state(t, 1, NULL), CAIRN_OP_READY);
}

static void test_hook(void **state)
{
    rt *t = *state;
    char hook[4200];
    snprintf(hook, sizeof(hook),
             "env | grep '^CAIRN_' | sort >> '%s/hook.log'; echo >> "
             "'%s/hook.log'",
             t->dir, t->dir);
    run_terminal(t, "fail", hook);
    char *path = tu_path(t->dir, "hook.log");
    size_t len;
    char *log = tu_read_file(path, &len);
    assert_non_null(strstr(log, "CAIRN_RUN_ID=term-1\n"));
    assert_non_null(strstr(log, "CAIRN_RUN_STATE=running\n"));
    /* The stop completing (db down) is a change the hook is told about
     * while the run is still running. */
    assert_non_null(strstr(log, "CAIRN_RESTART_REQUIRED=1\n"
                                "CAIRN_RESTART_TARGETS=db\n"
                                "CAIRN_RUN_ID=term-1\n"
                                "CAIRN_RUN_STATE=running\n"));
    /* The last call saw the final state, restart required for db. */
    char *last = strstr(log, "CAIRN_RUN_STATE=failed");
    assert_non_null(last);
    /* Blocks end with a blank line: find the start of the last one. */
    char *block = log, *next;
    assert_true(len > 2);
    log[len - 1] = '\0';
    while ((next = strstr(block, "\n\n")) != NULL) {
        block = next + 2;
    }
    assert_non_null(strstr(block, "CAIRN_RESTART_REQUIRED=1\n"));
    assert_non_null(strstr(block, "CAIRN_RESTART_TARGETS=db\n"));
    assert_non_null(strstr(block, "CAIRN_NEXT_ACTION=restart-targets\n"));
    assert_non_null(strstr(block, "CAIRN_STOPPED_REASON=failed\n"));
    assert_non_null(strstr(block, "CAIRN_IN_DOUBT=\n"));
    free(log);
    free(path);
    assert_int_equal(rt_count_events(t, CAIRN_EVENT_HOOK_FAILED), 0);
}

static void test_hook_failure_not_fatal(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    o.hook = "echo hook broke >&2; exit 3";
    assert_int_equal(rt_run(t, happy_plan, &o), CAIRN_OK);
    size_t changes = rt_count_events(t, CAIRN_EVENT_STATE_CHANGE);
    assert_true(changes >= 2);
    assert_int_equal(rt_count_events(t, CAIRN_EVENT_HOOK_FAILED), changes);
    for (size_t i = 0; i < t->n_ev; i++) {
        if (t->ev[i].type == CAIRN_EVENT_HOOK_FAILED) {
            assert_string_equal(t->ev[i].reason,
                                "hook: exit status 3: hook broke\n");
        }
    }
    rt_assert_state(t, CAIRN_RUN_COMPLETED, CAIRN_NEXT_DONE);
}

static void test_signed_run_needs_its_key(void **state)
{
    rt *t = *state;
    char *pub = tu_path(t->dir, "k.pub"), *sec = tu_path(t->dir, "k.sec");
    cairn_signer *signer = NULL;
    char detail[256];
    assert_int_equal(cairn_keygen(pub, sec, NULL, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(
        cairn_signer_load(sec, NULL, &signer, detail, sizeof(detail)),
        CAIRN_OK);
    cairn_journal_set_signer(t->j, signer);
    cairn_runner_opts o = rt_opts(t);
    o.max_steps = 1;
    assert_int_equal(rt_run(t, happy_plan, &o), CAIRN_OK);
    cairn_summary *s = rt_status(t);
    assert_int_equal(s->signed_run, 1);
    cairn_summary_free(s);
    /* Without the key nothing runs: the claim is refused first. */
    cairn_journal_set_signer(t->j, NULL);
    o.max_steps = 0;
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EKEYMISMATCH);
    assert_int_equal(rt_effects(t, "stop"), 0);
    cairn_journal_set_signer(t->j, signer);
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_OK);
    rt_assert_state(t, CAIRN_RUN_COMPLETED, CAIRN_NEXT_DONE);
    cairn_journal_set_signer(t->j, NULL);
    cairn_signer_free(signer);
    free(pub);
    free(sec);
}

static void test_interrupted_before_start(void **state)
{
    rt *t = *state;
    static volatile sig_atomic_t counter = 1;
    cairn_runner_opts o = rt_opts(t);
    o.interrupts = &counter;
    assert_int_equal(rt_run(t, happy_plan, &o), CAIRN_EINTR);
    assert_int_equal(rt_effects(t, "check"), 0);
    rt_assert_state(t, CAIRN_RUN_RUNNING, CAIRN_NEXT_RESUME);
    o.interrupts = NULL;
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_OK);
    assert_int_equal(cairn_run_resume(t->j, t->run, NULL), CAIRN_EFINISHED);
}

#define T(f) cmocka_unit_test_setup_teardown(f, rt_setup, rt_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_dry_run_writes_nothing),      T(test_run_exists_and_no_command),
        T(test_manual_accept_and_max_steps), T(test_deadline_kills),
        T(test_deadline_between_ops),        T(test_hook),
        T(test_hook_failure_not_fatal),      T(test_signed_run_needs_its_key),
        T(test_interrupted_before_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
