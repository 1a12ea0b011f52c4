/*
 * test_runner_crash.c - the runner against crashes: SIGKILL of the runner
 * at every operation boundary and inside a running command (no completed
 * operation re-executed), and the three rules for in-doubt operations
 * (idempotent, probe exit 0/1/other, plain: needs `cairn resolve`).
 */
#include "testutil.h"

#include "runner/rt.h"

#include <sys/prctl.h>

/* ---- SIGKILL at every operation boundary ------------------------------ */

/* 0 pre, 1 stop, 2 snap (plain), 3 xfer (idempotent), 4 verify (probe),
 * 5 start, 6 tidy (cleanup) */
static const char crash_plan[] =
    "{\"cairn_plan\":1,\"plan_id\":\"crash\",\"run_id\":\"crash-1\","
    "\"operations\":["
    "{\"id\":\"pre\",\"kind\":\"preflight\",\"run\":[\"@S\",\"@D\",\"pre\","
    "\"ok\"]},"
    "{\"id\":\"stop\",\"kind\":\"stop\",\"target\":\"db\","
    "\"run\":[\"@S\",\"@D\",\"stop\",\"ok\"]},"
    "{\"id\":\"snap\",\"kind\":\"snapshot\","
    "\"run\":[\"@S\",\"@D\",\"snap\",\"ok\"]},"
    "{\"id\":\"xfer\",\"kind\":\"transfer\",\"idempotent\":true,"
    "\"run\":[\"@S\",\"@D\",\"xfer\",\"ok\"]},"
    "{\"id\":\"verify\",\"kind\":\"verify\","
    "\"probe\":[\"@S\",\"@D\",\"verify\",\"probe\"],"
    "\"run\":[\"@S\",\"@D\",\"verify\",\"ok\"]},"
    "{\"id\":\"start\",\"kind\":\"start\",\"target\":\"db\","
    "\"run\":[\"@S\",\"@D\",\"start\",\"ok\"]},"
    "{\"id\":\"tidy\",\"kind\":\"cleanup\","
    "\"run\":[\"@S\",\"@D\",\"tidy\",\"ok\"]}]}";

static const char *const crash_ops[] = {"pre",    "stop",  "snap", "xfer",
                                        "verify", "start", "tidy"};
#define N_CRASH_OPS ((uint32_t)(sizeof(crash_ops) / sizeof(crash_ops[0])))

/* What an operator does with an in-doubt plain operation: look at the
 * effect, resolve accordingly. */
static void operator_resolves(rt *t, uint32_t seq, const char *name)
{
    int happened = rt_effects(t, name) > 0;
    cairn_receipt r = {
        .seq = seq,
        .outcome = happened ? CAIRN_OUTCOME_COMPLETED : CAIRN_OUTCOME_FAILED,
        .error_class = happened ? CAIRN_CLASS_NONE : CAIRN_CLASS_RETRYABLE,
        .reason = happened ? "operator: effect found" : "operator: no effect"};
    cairn_actor_info who = {"tester", NULL};
    assert_int_equal(cairn_resolve(t->j, t->run, &r, &who), CAIRN_OK);
}

/* Resume until the run completes, settling plain in-doubt operations as
 * an operator would.  Returns how many operator decisions it took. */
static int resume_to_end(rt *t)
{
    int decisions = 0;
    for (int round = 0; round < 8; round++) {
        cairn_runner_opts o = rt_opts(t);
        cairn_err err = cairn_run_resume(t->j, t->run, &o);
        if (err == CAIRN_OK || err == CAIRN_EFINISHED) {
            rt_assert_state(t, CAIRN_RUN_COMPLETED, CAIRN_NEXT_DONE);
            return decisions;
        }
        assert_int_equal(err, CAIRN_EATTENTION);
        assert_non_null(strstr(cairn_journal_errdetail(t->j),
                               "`cairn resolve crash-1 --op"));
        cairn_summary *s = rt_status(t);
        assert_int_equal(s->n_in_doubt, 1);
        uint32_t seq = s->in_doubt[0];
        char name[CAIRN_MAX_ID + 1];
        snprintf(name, sizeof(name), "%s", s->ops[seq].id);
        cairn_summary_free(s);
        /* Never the idempotent or the probed operation. */
        assert_true(strcmp(name, "xfer") != 0 && strcmp(name, "verify"));
        operator_resolves(t, seq, name);
        decisions++;
    }
    fail_msg("run did not complete");
    return -1;
}

static void crash_once(cairn_run_event_type type, uint32_t seq)
{
    void *state = NULL;
    rt_setup(&state);
    rt *t = state;
    strcpy(t->run, "crash-1");
    t->kill_type = type;
    t->kill_seq = seq;
    child_spec c = {crash_plan, NULL, 0, 0};
    int status = child_wait(t, child_start(t, &c));
    t->kill_type = 0;
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    int decisions = resume_to_end(t);
    /* Killed after a claim, before the command: a plain op needs one
     * operator decision, the idempotent and probed ones none. */
    int plain = type == CAIRN_EVENT_OP_START && seq != 3 && seq != 4;
    assert_int_equal(decisions, plain ? 1 : 0);
    for (size_t i = 0; i < N_CRASH_OPS; i++) {
        if (rt_effects(t, crash_ops[i]) != 1) {
            print_error("kill at %s of op %u: %s ran %d times\n",
                        cairn_run_event_name(type), seq, crash_ops[i],
                        rt_effects(t, crash_ops[i]));
        }
        assert_int_equal(rt_effects(t, crash_ops[i]), 1);
    }
    if (type == CAIRN_EVENT_OP_START && seq == 3) {
        const rt_event *e = rt_find_event(t, CAIRN_EVENT_IN_DOUBT, 3);
        assert_non_null(e);
        assert_true(e->has_outcome);
        assert_int_equal(e->outcome, CAIRN_OUTCOME_FAILED);
        assert_non_null(strstr(e->reason, "idempotent: running again"));
    }
    if (type == CAIRN_EVENT_OP_START && seq == 4) {
        rt_rec rec;
        rt_record(t, CAIRN_REC_RESOLVE, 4, &rec);
        assert_int_equal(rec.outcome, CAIRN_OUTCOME_FAILED);
        assert_string_equal(rec.reason, "probe: effect did not happen");
        assert_true(rt_has_pair(&rec, "e:probe_exit_code=1\n"));
    }
    rt_teardown(&state);
}

static void test_kill_at_every_boundary(void **state)
{
    (void)state;
    for (uint32_t seq = 0; seq < N_CRASH_OPS; seq++) {
        crash_once(CAIRN_EVENT_OP_START, seq);
        crash_once(CAIRN_EVENT_OP_END, seq);
    }
    crash_once(CAIRN_EVENT_PREFLIGHT_ACCEPTED, UINT32_MAX);
}

/* ---- SIGKILL inside a running command ----------------------------------- */

static const char inside_plan[] =
    "{\"cairn_plan\":1,\"plan_id\":\"in\",\"run_id\":\"crash-1\","
    "\"operations\":["
    "{\"id\":\"snap\",\"kind\":\"snapshot\",%s"
    "\"run\":[\"@S\",\"@D\",\"snap\",\"slow\",\"1\"]},"
    "{\"id\":\"after\",\"kind\":\"task\","
    "\"run\":[\"@S\",\"@D\",\"after\",\"ok\"]}]}";

/* Run inside_plan with @p extra keys, SIGKILL the runner once the command
 * started; @p kill_command: also kill its process group (no effect). */
static void kill_inside(rt *t, const char *extra, int kill_command)
{
    char plan[2048];
    snprintf(plan, sizeof(plan), inside_plan, extra);
    strcpy(t->run, "crash-1");
    child_spec c = {plan, NULL, 0, 0};
    pid_t pid = child_start(t, &c);
    pid_t pgid = (pid_t)rt_wait_number(t, "pid", "snap");
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = child_wait(t, pid);
    assert_true(WIFSIGNALED(status));
    if (kill_command) {
        assert_int_equal(kill(-pgid, SIGKILL), 0);
        rt_wait_group_gone(pgid);
        return;
    }
    /* The command outlives its runner: resume is refused meanwhile. */
    cairn_runner_opts o = rt_opts(t);
    int before = rt_effects(t, "snap");
    cairn_err err = cairn_run_resume(t->j, t->run, &o);
    if (before == 0) {
        assert_int_equal(err, CAIRN_ELOCKED);
        assert_non_null(
            strstr(cairn_journal_errdetail(t->j), "is still running"));
    }
    rt_wait_group_gone(pgid);
    assert_int_equal(rt_effects(t, "snap"), 1);
}

static void test_kill_inside_plain(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    /* The effect did not happen: the operator resolves failed. */
    kill_inside(t, "", 1);
    assert_int_equal(rt_output_files(t), 1); /* the dead runner's */
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EATTENTION);
    assert_int_equal(rt_output_files(t), 0); /* swept */
    assert_non_null(strstr(cairn_journal_errdetail(t->j),
                           "`cairn resolve crash-1 --op 0 --outcome"));
    assert_int_equal(rt_op_state(t, 0, NULL), CAIRN_OP_PENDING);
    assert_int_equal(rt_effects(t, "snap"), 0);
    assert_int_equal(resume_to_end(t), 1);
    assert_int_equal(rt_effects(t, "snap"), 1);
}

static void test_kill_inside_plain_effect_done(void **state)
{
    rt *t = *state;
    kill_inside(t, "", 0);
    assert_int_equal(resume_to_end(t), 1);
    assert_int_equal(rt_effects(t, "snap"), 1);
    rt_rec rec;
    rt_record(t, CAIRN_REC_RESOLVE, 0, &rec);
    assert_int_equal(rec.outcome, CAIRN_OUTCOME_COMPLETED);
}

static void test_kill_inside_idempotent(void **state)
{
    rt *t = *state;
    kill_inside(t, "\"idempotent\":true,", 0);
    assert_int_equal(resume_to_end(t), 0);
    assert_int_equal(rt_effects(t, "snap"), 2); /* run again, on purpose */
    uint32_t attempt;
    assert_int_equal(rt_op_state(t, 0, &attempt), CAIRN_OP_COMPLETED);
    assert_int_equal(attempt, 2);
}

static void test_kill_inside_probe(void **state)
{
    rt *t = *state;
    /* Probe exit 0 (the command finished): completed, not run again. */
    kill_inside(t, "\"probe\":[\"@S\",\"@D\",\"snap\",\"probe\"],", 0);
    assert_int_equal(resume_to_end(t), 0);
    assert_int_equal(rt_effects(t, "snap"), 1);
    rt_rec rec;
    rt_record(t, CAIRN_REC_RESOLVE, 0, &rec);
    assert_int_equal(rec.outcome, CAIRN_OUTCOME_COMPLETED);
    assert_string_equal(rec.reason, "probe: effect happened (exit 0)");
    assert_true(rt_has_pair(&rec, "e:decided_by=probe\n"));
}

static void test_kill_inside_probe_not_happened(void **state)
{
    rt *t = *state;
    kill_inside(t, "\"probe\":[\"@S\",\"@D\",\"snap\",\"probe\"],", 1);
    assert_int_equal(resume_to_end(t), 0);
    assert_int_equal(rt_effects(t, "snap"), 1);
    uint32_t attempt;
    assert_int_equal(rt_op_state(t, 0, &attempt), CAIRN_OP_COMPLETED);
    assert_int_equal(attempt, 2);
}

/* ---- the probe rules on a fabricated in-doubt claim -----------------------
 */

/* A pid that existed and is gone. */
static uint32_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(0);
    }
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return (uint32_t)pid;
}

/* Run "doubt-1" = one op with @p keys, claimed by a dead process. */
static void fabricate(rt *t, const char *keys, uint32_t holder_pid)
{
    char tmpl[2048];
    snprintf(tmpl, sizeof(tmpl),
             "{\"cairn_plan\":1,\"plan_id\":\"d\",\"run_id\":\"doubt-1\","
             "\"operations\":[{\"id\":\"op\",\"kind\":\"task\",%s"
             "\"run\":[\"@S\",\"@D\",\"op\",\"ok\"]}]}",
             keys);
    cairn_plan *plan = rt_plan(t, tmpl);
    assert_int_equal(cairn_run_create(t->j, plan, NULL, t->run, sizeof(t->run)),
                     CAIRN_OK);
    cairn_plan_free(plan);
    assert_int_equal(cairn_accept_preflight(t->j, t->run, "p", NULL), CAIRN_OK);
    cairn_holder h = {holder_pid, 0};
    cairn_claim_result cl;
    assert_int_equal(
        cairn_claim(t->j, t->run, 0, CAIRN_CLAIM_NORMAL, &h, NULL, &cl),
        CAIRN_OK);
}

static void test_probe_outputs(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    fabricate(t,
              "\"requires\":[\"artifact\"],\"probe\":[\"@S\",\"@D\","
              "\"op\",\"probe-out\",\"artifact=/b/x\"],",
              dead_pid());
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_OK);
    assert_int_equal(rt_effects(t, "op"), 0);
    rt_rec rec;
    rt_record(t, CAIRN_REC_RESOLVE, 0, &rec);
    assert_true(rt_has_pair(&rec, "o:artifact=/b/x\n"));
    assert_true(rt_has_pair(&rec, "e:in_doubt_attempt=1\n"));
    rt_assert_state(t, CAIRN_RUN_COMPLETED, CAIRN_NEXT_DONE);
}

static void test_probe_missing_output(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    fabricate(t,
              "\"requires\":[\"artifact\"],\"probe\":[\"@S\",\"@D\","
              "\"op\",\"probe-out\",\"other=1\"],",
              dead_pid());
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EATTENTION);
    assert_non_null(strstr(cairn_journal_errdetail(t->j),
                           "its required output \"artifact\" is missing"));
    rt_assert_state(t, CAIRN_RUN_NEEDS_ATTENTION, CAIRN_NEXT_RESOLVE_IN_DOUBT);
    assert_int_equal(rt_effects(t, "op"), 0);
}

static void test_probe_unknown(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    fabricate(t, "\"probe\":[\"@S\",\"@D\",\"op\",\"probe\",\"3\"],",
              dead_pid());
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EATTENTION);
    assert_non_null(strstr(cairn_journal_errdetail(t->j),
                           "probe could not tell (exit status 3)"));
    assert_int_equal(rt_op_state(t, 0, NULL), CAIRN_OP_PENDING);
    assert_int_equal(rt_effects(t, "op"), 0);
    /* The operator decides; then resume finishes. */
    cairn_receipt r = {.seq = 0,
                       .outcome = CAIRN_OUTCOME_SKIPPED,
                       .reason = "operator: not needed"};
    assert_int_equal(cairn_resolve(t->j, t->run, &r, NULL), CAIRN_OK);
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EFINISHED);
    rt_assert_state(t, CAIRN_RUN_COMPLETED, CAIRN_NEXT_DONE);
    assert_int_equal(rt_effects(t, "op"), 0);
}

static void test_probe_unknown_idempotent(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    fabricate(t,
              "\"idempotent\":true,\"probe\":[\"@S\",\"@D\",\"op\","
              "\"probe\",\"3\"],",
              dead_pid());
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_OK);
    assert_int_equal(rt_effects(t, "op"), 1);
    rt_rec rec;
    rt_record(t, CAIRN_REC_RESOLVE, 0, &rec);
    assert_true(rt_has_pair(&rec, "e:decided_by=idempotent\n"));
}

static void test_plain_in_doubt_then_resolve(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    uint32_t dead = dead_pid();
    fabricate(t, "", dead);
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EATTENTION);
    char want[128];
    snprintf(want, sizeof(want), "its runner (pid %u) died", dead);
    assert_non_null(strstr(cairn_journal_errdetail(t->j), want));
    assert_non_null(strstr(cairn_journal_errdetail(t->j),
                           "`cairn resolve doubt-1 --op 0 --outcome "
                           "completed|failed|skipped --reason TEXT`"));
    /* Asking again changes nothing: never re-run silently. */
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_EATTENTION);
    assert_int_equal(rt_effects(t, "op"), 0);
    cairn_summary *s = rt_status(t);
    assert_int_equal(s->records, 3);
    cairn_summary_free(s);
    cairn_receipt r = {.seq = 0,
                       .outcome = CAIRN_OUTCOME_FAILED,
                       .error_class = CAIRN_CLASS_RETRYABLE,
                       .reason = "operator: did not happen"};
    assert_int_equal(cairn_resolve(t->j, t->run, &r, NULL), CAIRN_OK);
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_OK);
    assert_int_equal(rt_effects(t, "op"), 1);
}

static void test_live_claimer_locked(void **state)
{
    rt *t = *state;
    cairn_runner_opts o = rt_opts(t);
    fabricate(t, "\"idempotent\":true,", (uint32_t)getpid());
    assert_int_equal(cairn_run_resume(t->j, t->run, &o), CAIRN_ELOCKED);
    assert_non_null(
        strstr(cairn_journal_errdetail(t->j), "is pending and its claimer"));
    assert_int_equal(rt_effects(t, "op"), 0);
    assert_int_equal(rt_op_state(t, 0, NULL), CAIRN_OP_PENDING);
}

#define T(f) cmocka_unit_test_setup_teardown(f, rt_setup, rt_teardown)

int main(void)
{
    /* Orphans of killed runners are ours to reap (init may not reap). */
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_at_every_boundary),
        T(test_kill_inside_plain),
        T(test_kill_inside_plain_effect_done),
        T(test_kill_inside_idempotent),
        T(test_kill_inside_probe),
        T(test_kill_inside_probe_not_happened),
        T(test_probe_outputs),
        T(test_probe_missing_output),
        T(test_probe_unknown),
        T(test_probe_unknown_idempotent),
        T(test_plain_in_doubt_then_resolve),
        T(test_live_claimer_locked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
