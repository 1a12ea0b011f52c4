/*
 * test_journal.c - every transition and error of the journal, the
 * scenarios of canic's journal tests, and "a rejected transition writes
 * nothing".
 */
#include "testutil.h"

#include "base/sys.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* 0 check-space (preflight), 1 check-auth (preflight), 2 stop-db,
 * 3 snapshot-db (requires artifact, digest), 4 start-db, 5 transfer,
 * 6 verify, 7 tidy (cleanup) */
static const char plan_json[] =
    "{\"cairn_plan\":1,\"plan_id\":\"pg\",\"run_id\":\"pg-1\","
    "\"operations\":["
    "{\"id\":\"check-space\",\"kind\":\"preflight\"},"
    "{\"id\":\"check-auth\",\"kind\":\"preflight\"},"
    "{\"id\":\"stop-db\",\"kind\":\"stop\",\"target\":\"db\"},"
    "{\"id\":\"snapshot-db\",\"kind\":\"snapshot\",\"target\":\"db\","
    "\"requires\":[\"artifact\",\"digest\"]},"
    "{\"id\":\"start-db\",\"kind\":\"start\",\"target\":\"db\"},"
    "{\"id\":\"transfer\",\"kind\":\"transfer\"},"
    "{\"id\":\"verify\",\"kind\":\"verify\"},"
    "{\"id\":\"tidy\",\"kind\":\"cleanup\"}]}";

typedef struct fixture {
    char *dir;
    cairn_journal *j;
    cairn_plan *plan;
    char run[CAIRN_MAX_ID + 1];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char detail[256];
    f->dir = tu_mkdtemp();
    assert_int_equal(cairn_journal_open(f->dir, CAIRN_OPEN_CREATE, &f->j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_plan_parse(plan_json, strlen(plan_json), &f->plan,
                                      detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(
        cairn_run_create(f->j, f->plan, NULL, f->run, sizeof(f->run)),
        CAIRN_OK);
    assert_string_equal(f->run, "pg-1");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cairn_journal_close(f->j);
    cairn_plan_free(f->plan);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static uint64_t records(fixture *f)
{
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, f->run, &s), CAIRN_OK);
    uint64_t n = s->records;
    cairn_summary_free(s);
    return n;
}

static cairn_summary *status(fixture *f)
{
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, f->run, &s), CAIRN_OK);
    assert_int_equal(cairn_replay_check(f->j, f->run), CAIRN_OK);
    return s;
}

static void claim_ok(fixture *f, int64_t op, uint32_t want_seq,
                     uint32_t want_attempt)
{
    cairn_claim_result r;
    assert_int_equal(
        cairn_claim(f->j, f->run, op, CAIRN_CLAIM_NORMAL, NULL, NULL, &r),
        CAIRN_OK);
    assert_int_equal(r.seq, want_seq);
    assert_int_equal(r.attempt, want_attempt);
}

static cairn_err complete(fixture *f, uint32_t seq, const cairn_kv *out,
                          size_t n)
{
    cairn_receipt r = {.seq = seq,
                       .outcome = CAIRN_OUTCOME_COMPLETED,
                       .outputs = out,
                       .n_outputs = n};
    return cairn_receipt_record(f->j, f->run, &r, NULL);
}

static cairn_err fail_op(fixture *f, uint32_t seq, cairn_error_class cls)
{
    cairn_receipt r = {.seq = seq,
                       .outcome = CAIRN_OUTCOME_FAILED,
                       .error_class = cls,
                       .reason = "exit 1"};
    return cairn_receipt_record(f->j, f->run, &r, NULL);
}

/* A rejected call must return exactly @p want and write nothing. */
#define REJECTED(f, call, want)                                                \
    do {                                                                       \
        uint64_t before_ = records(f);                                         \
        assert_int_equal((call), (want));                                      \
        assert_true(cairn_journal_errdetail((f)->j)[0] != '\0');               \
        assert_int_equal(records(f), before_);                                 \
        assert_int_equal(cairn_replay_check((f)->j, (f)->run), CAIRN_OK);      \
    } while (0)

static void accept_preflight(fixture *f)
{
    claim_ok(f, -1, 0, 1);
    assert_int_equal(complete(f, 0, NULL, 0), CAIRN_OK);
    claim_ok(f, -1, 1, 1);
    assert_int_equal(complete(f, 1, NULL, 0), CAIRN_OK);
    cairn_actor_info who = {"alice", "checks passed"};
    assert_int_equal(cairn_accept_preflight(f->j, f->run, "pf-1", &who),
                     CAIRN_OK);
}

static const cairn_kv snap_out[] = {{"artifact", "/b/db.tar"},
                                    {"digest", "abc"}};

static void test_create_initial_state(void **state)
{
    fixture *f = *state;
    cairn_summary *s = status(f);
    assert_int_equal(s->total, 8);
    assert_int_equal(s->counts[CAIRN_OP_READY], 2);
    assert_int_equal(s->counts[CAIRN_OP_BLOCKED], 6);
    assert_int_equal(s->state, CAIRN_RUN_RUNNING);
    assert_int_equal(s->next_action, CAIRN_NEXT_RESUME);
    assert_true(s->has_next);
    assert_int_equal(s->next_seq, 0);
    assert_int_equal(s->last_contiguous_seq, -1);
    assert_int_equal(s->last_attempted_seq, -1);
    assert_false(s->preflight_accepted);
    assert_int_equal(s->records, 1);
    assert_false(s->signed_run);
    assert_string_equal(s->plan_id, "pg");
    cairn_summary_free(s);
}

static void test_run_id_never_reused(void **state)
{
    fixture *f = *state;
    char run[CAIRN_MAX_ID + 1];
    assert_int_equal(cairn_run_create(f->j, f->plan, NULL, run, sizeof(run)),
                     CAIRN_EEXIST);
    assert_string_equal(run, "");
    assert_int_equal(records(f), 1);
}

static void test_mutation_blocked_until_accept(void **state)
{
    fixture *f = *state;
    REJECTED(f,
             cairn_claim(f->j, f->run, 2, CAIRN_CLAIM_NORMAL, NULL, NULL, NULL),
             CAIRN_EPREFLIGHT);
    REJECTED(f, cairn_accept_preflight(f->j, f->run, "pf", NULL),
             CAIRN_EPREFLIGHT_OPEN);
    claim_ok(f, -1, 0, 1);
    assert_int_equal(complete(f, 0, NULL, 0), CAIRN_OK);
    claim_ok(f, -1, 1, 1);
    assert_int_equal(complete(f, 1, NULL, 0), CAIRN_OK);
    cairn_summary *s = status(f);
    assert_int_equal(s->state, CAIRN_RUN_AWAITING_PREFLIGHT);
    assert_int_equal(s->stopped_reason, CAIRN_STOPPED_AWAITING_PREFLIGHT);
    assert_int_equal(s->next_action, CAIRN_NEXT_ACCEPT_PREFLIGHT);
    assert_false(s->has_next);
    cairn_summary_free(s);
    REJECTED(
        f, cairn_claim(f->j, f->run, -1, CAIRN_CLAIM_NORMAL, NULL, NULL, NULL),
        CAIRN_ENOTHING);
    assert_int_equal(cairn_accept_preflight(f->j, f->run, "pf-1", NULL),
                     CAIRN_OK);
    s = status(f);
    assert_true(s->preflight_accepted);
    assert_string_equal(s->preflight_id, "pf-1");
    assert_int_equal(s->next_seq, 2); /* acceptance unblocks stop-db */
    assert_int_equal(s->next_state, CAIRN_OP_READY);
    assert_int_equal(s->counts[CAIRN_OP_BLOCKED], 0);
    cairn_summary_free(s);
}

static void test_preflight_id_rules(void **state)
{
    fixture *f = *state;
    accept_preflight(f);
    uint64_t n = records(f);
    assert_int_equal(cairn_accept_preflight(f->j, f->run, "pf-1", NULL),
                     CAIRN_OK); /* same id: no-op */
    assert_int_equal(records(f), n);
    REJECTED(f, cairn_accept_preflight(f->j, f->run, "pf-2", NULL),
             CAIRN_EPREFLIGHT_ID);
}

static void test_out_of_order_and_states(void **state)
{
    fixture *f = *state;
    accept_preflight(f);
    REJECTED(f,
             cairn_claim(f->j, f->run, 4, CAIRN_CLAIM_NORMAL, NULL, NULL, NULL),
             CAIRN_EORDER);
    REJECTED(f,
             cairn_claim(f->j, f->run, 0, CAIRN_CLAIM_NORMAL, NULL, NULL, NULL),
             CAIRN_ESTATE);
    REJECTED(
        f, cairn_claim(f->j, f->run, 99, CAIRN_CLAIM_NORMAL, NULL, NULL, NULL),
        CAIRN_ENOOP);
    REJECTED(f, complete(f, 2, NULL, 0), CAIRN_ENOTPENDING);
    claim_ok(f, 2, 2, 1);
    REJECTED(f,
             cairn_claim(f->j, f->run, 2, CAIRN_CLAIM_NORMAL, NULL, NULL, NULL),
             CAIRN_ESTATE); /* pending -> pending */
    cairn_receipt bad = {
        .seq = 2, .attempt = 2, .outcome = CAIRN_OUTCOME_COMPLETED};
    REJECTED(f, cairn_receipt_record(f->j, f->run, &bad, NULL), CAIRN_EATTEMPT);
    bad.attempt = 0;
    bad.op_id = "snapshot-db";
    REJECTED(f, cairn_receipt_record(f->j, f->run, &bad, NULL), CAIRN_EOPID);
    REJECTED(f, cairn_retry(f->j, f->run, 2, NULL), CAIRN_ENOTFAILED);
    cairn_receipt noreason = {.seq = 2,
                              .outcome = CAIRN_OUTCOME_FAILED,
                              .error_class = CAIRN_CLASS_TERMINAL};
    REJECTED(f, cairn_receipt_record(f->j, f->run, &noreason, NULL),
             CAIRN_EREASON);
    noreason.reason = "boom";
    noreason.error_class = CAIRN_CLASS_NONE;
    REJECTED(f, cairn_receipt_record(f->j, f->run, &noreason, NULL),
             CAIRN_EREASON);
    REJECTED(f, cairn_receipt_record(f->j, "nope", &noreason, NULL),
             CAIRN_ENORUN);
}

static void test_restart_required_after_stop(void **state)
{
    fixture *f = *state;
    accept_preflight(f);
    claim_ok(f, -1, 2, 1);
    assert_int_equal(complete(f, 2, NULL, 0), CAIRN_OK);
    cairn_summary *s = status(f);
    assert_true(s->restart_required);
    assert_int_equal(s->n_restart_targets, 1);
    assert_string_equal(s->restart_targets[0], "db");
    assert_int_equal(s->last_contiguous_seq, 2);
    cairn_summary_free(s);
    /* completed snapshot without its required outputs is rejected */
    claim_ok(f, -1, 3, 1);
    REJECTED(f, complete(f, 3, snap_out, 1), CAIRN_EOUTPUT);
    assert_int_equal(complete(f, 3, snap_out, 2), CAIRN_OK);
    claim_ok(f, -1, 4, 1);
    assert_int_equal(complete(f, 4, NULL, 0), CAIRN_OK);
    s = status(f);
    assert_false(s->restart_required);
    assert_int_equal(s->n_restart_targets, 0);
    cairn_summary_free(s);
}

static void test_failed_snapshot_retry_keeps_restart(void **state)
{
    fixture *f = *state;
    accept_preflight(f);
    claim_ok(f, -1, 2, 1);
    assert_int_equal(complete(f, 2, NULL, 0), CAIRN_OK);
    claim_ok(f, -1, 3, 1);
    assert_int_equal(fail_op(f, 3, CAIRN_CLASS_RETRYABLE), CAIRN_OK);
    cairn_summary *s = status(f);
    assert_int_equal(s->state, CAIRN_RUN_NEEDS_ATTENTION);
    assert_int_equal(s->stopped_reason, CAIRN_STOPPED_FAILED);
    assert_int_equal(s->next_action, CAIRN_NEXT_RETRY_FAILED);
    assert_true(s->restart_required);
    assert_int_equal(s->next_seq, 3);
    assert_int_equal(s->next_state, CAIRN_OP_FAILED);
    cairn_summary_free(s);
    cairn_actor_info who = {"bob", ""};
    REJECTED(f, cairn_retry(f->j, f->run, 3, &who), CAIRN_EREASON);
    who.reason = "disk freed";
    assert_int_equal(cairn_retry(f->j, f->run, 3, &who), CAIRN_OK);
    s = status(f);
    assert_int_equal(s->next_state, CAIRN_OP_READY);
    assert_true(s->restart_required);
    cairn_summary_free(s);
    claim_ok(f, -1, 3, 2); /* attempt numbers go on */
    /* failed -> pending directly is also allowed (runner retries) */
    assert_int_equal(fail_op(f, 3, CAIRN_CLASS_RETRYABLE), CAIRN_OK);
    claim_ok(f, 3, 3, 3);
}

static void test_terminal_failure_containment_cleanup(void **state)
{
    fixture *f = *state;
    accept_preflight(f);
    REJECTED(
        f,
        cairn_claim(f->j, f->run, 4, CAIRN_CLAIM_CONTAINMENT, NULL, NULL, NULL),
        CAIRN_ECONTAIN); /* nothing failed yet */
    claim_ok(f, -1, 2, 1);
    assert_int_equal(complete(f, 2, NULL, 0), CAIRN_OK);
    claim_ok(f, -1, 3, 1);
    assert_int_equal(fail_op(f, 3, CAIRN_CLASS_TERMINAL), CAIRN_OK);
    cairn_summary *s = status(f);
    assert_int_equal(s->state, CAIRN_RUN_FAILED);
    assert_int_equal(s->next_action, CAIRN_NEXT_RESTART_TARGETS);
    cairn_summary_free(s);
    REJECTED(f,
             cairn_claim(f->j, f->run, 4, CAIRN_CLAIM_NORMAL, NULL, NULL, NULL),
             CAIRN_EORDER);
    REJECTED(
        f,
        cairn_claim(f->j, f->run, 5, CAIRN_CLAIM_CONTAINMENT, NULL, NULL, NULL),
        CAIRN_ECONTAIN); /* not a start */
    cairn_claim_result r;
    assert_int_equal(
        cairn_claim(f->j, f->run, -1, CAIRN_CLAIM_CONTAINMENT, NULL, NULL, &r),
        CAIRN_OK);
    assert_int_equal(r.seq, 4);
    assert_int_equal(complete(f, 4, NULL, 0), CAIRN_OK);
    s = status(f);
    assert_false(s->restart_required);
    assert_int_equal(s->state, CAIRN_RUN_FAILED);
    assert_int_equal(s->next_action, CAIRN_NEXT_RETRY_FAILED);
    cairn_summary_free(s);
    assert_int_equal(
        cairn_claim(f->j, f->run, -1, CAIRN_CLAIM_CLEANUP, NULL, NULL, &r),
        CAIRN_OK);
    assert_int_equal(r.seq, 7);
    assert_int_equal(complete(f, 7, NULL, 0), CAIRN_OK);
    REJECTED(
        f, cairn_claim(f->j, f->run, -1, CAIRN_CLAIM_CLEANUP, NULL, NULL, NULL),
        CAIRN_ECONTAIN);
}

static void test_cancel(void **state)
{
    fixture *f = *state;
    accept_preflight(f);
    claim_ok(f, -1, 2, 1);
    assert_int_equal(complete(f, 2, NULL, 0), CAIRN_OK);
    cairn_actor_info who = {"ops", "maintenance window over"};
    assert_int_equal(cairn_cancel(f->j, f->run, 0, &who), CAIRN_OK);
    cairn_summary *s = status(f);
    assert_int_equal(s->state, CAIRN_RUN_CANCELLED);
    assert_int_equal(s->stopped_reason, CAIRN_STOPPED_CANCELLED);
    assert_int_equal(s->next_action, CAIRN_NEXT_RESTART_TARGETS);
    cairn_summary_free(s);
    REJECTED(
        f, cairn_claim(f->j, f->run, -1, CAIRN_CLAIM_NORMAL, NULL, NULL, NULL),
        CAIRN_EFINISHED);
    REJECTED(f, cairn_cancel(f->j, f->run, 1, NULL), CAIRN_EFINISHED);
    REJECTED(f, cairn_accept_preflight(f->j, f->run, "x", NULL),
             CAIRN_EFINISHED);
    cairn_claim_result r;
    assert_int_equal(
        cairn_claim(f->j, f->run, -1, CAIRN_CLAIM_CONTAINMENT, NULL, NULL, &r),
        CAIRN_OK);
    assert_int_equal(r.seq, 4);
}

static void test_timeout_and_complete_run(void **state)
{
    fixture *f = *state;
    accept_preflight(f);
    for (uint32_t i = 2; i < 8; i++) {
        claim_ok(f, -1, i, 1);
        assert_int_equal(
            complete(f, i, i == 3 ? snap_out : NULL, i == 3 ? 2 : 0), CAIRN_OK);
    }
    cairn_summary *s = status(f);
    assert_int_equal(s->state, CAIRN_RUN_COMPLETED);
    assert_int_equal(s->stopped_reason, CAIRN_STOPPED_COMPLETE);
    assert_int_equal(s->next_action, CAIRN_NEXT_DONE);
    assert_int_equal(s->counts[CAIRN_OP_COMPLETED], 8);
    assert_int_equal(s->last_contiguous_seq, 7);
    assert_int_equal(s->last_attempted_seq, 7);
    assert_false(s->has_next);
    assert_int_equal(s->records, 1 + 4 + 1 + 12);
    cairn_summary_free(s);
    REJECTED(f, cairn_cancel(f->j, f->run, 1, NULL), CAIRN_EFINISHED);
}

static void test_skip_rules(void **state)
{
    fixture *f = *state;
    claim_ok(f, -1, 0, 1);
    cairn_receipt r = {
        .seq = 0, .outcome = CAIRN_OUTCOME_SKIPPED, .reason = "not needed"};
    REJECTED(f, cairn_receipt_record(f->j, f->run, &r, NULL), CAIRN_ESTATE);
    assert_int_equal(complete(f, 0, NULL, 0), CAIRN_OK);
    claim_ok(f, -1, 1, 1);
    assert_int_equal(complete(f, 1, NULL, 0), CAIRN_OK);
    assert_int_equal(cairn_accept_preflight(f->j, f->run, "p", NULL), CAIRN_OK);
    claim_ok(f, -1, 2, 1);
    r.seq = 2;
    r.reason = "";
    REJECTED(f, cairn_receipt_record(f->j, f->run, &r, NULL), CAIRN_EREASON);
    r.reason = "db already down";
    assert_int_equal(cairn_receipt_record(f->j, f->run, &r, NULL), CAIRN_OK);
    cairn_summary *s = status(f);
    assert_false(s->restart_required); /* a skipped stop stops nothing */
    assert_int_equal(s->last_contiguous_seq, 2);
    cairn_summary_free(s);
}

static pid_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return pid;
}

static void test_in_doubt_and_resolve(void **state)
{
    fixture *f = *state;
    cairn_holder gone = {(uint32_t)dead_pid(), 12345};
    cairn_claim_result r;
    assert_int_equal(
        cairn_claim(f->j, f->run, -1, CAIRN_CLAIM_NORMAL, &gone, NULL, &r),
        CAIRN_OK);
    cairn_summary *s = status(f);
    assert_int_equal(s->n_in_doubt, 1);
    assert_int_equal(s->in_doubt[0], 0);
    assert_true(s->ops[0].in_doubt);
    assert_int_equal(s->state, CAIRN_RUN_NEEDS_ATTENTION);
    assert_int_equal(s->stopped_reason, CAIRN_STOPPED_IN_DOUBT);
    assert_int_equal(s->next_action, CAIRN_NEXT_RESOLVE_IN_DOUBT);
    cairn_summary_free(s);
    cairn_receipt res = {.seq = 0, .outcome = CAIRN_OUTCOME_COMPLETED};
    REJECTED(f, cairn_resolve(f->j, f->run, &res, NULL), CAIRN_EREASON);
    res.reason = "probe says it ran";
    assert_int_equal(cairn_resolve(f->j, f->run, &res, NULL), CAIRN_OK);
    s = status(f);
    assert_int_equal(s->n_in_doubt, 0);
    assert_int_equal(s->counts[CAIRN_OP_COMPLETED], 1);
    cairn_summary_free(s);
    /* a live claimer (this process) is not in doubt */
    claim_ok(f, -1, 1, 1);
    s = status(f);
    assert_int_equal(s->n_in_doubt, 0);
    assert_int_equal(s->state, CAIRN_RUN_RUNNING);
    cairn_summary_free(s);
    res.seq = 1;
    REJECTED(f, cairn_resolve(f->j, f->run, &res, NULL), CAIRN_ENOTINDOUBT);
    res.seq = 2;
    REJECTED(f, cairn_resolve(f->j, f->run, &res, NULL), CAIRN_ENOTPENDING);
}

/* The holder of the last CLAIM record of a run. */
typedef struct last_claim {
    uint32_t pid;
    uint64_t start;
} last_claim;

static int find_claim(void *ctx, const cairn_record_view *r)
{
    last_claim *c = ctx;
    if (r->type == CAIRN_REC_CLAIM) {
        c->pid = r->holder_pid;
        c->start = r->holder_start;
    }
    return 0;
}

static last_claim claimed_by(fixture *f)
{
    last_claim c = {0, 0};
    assert_int_equal(cairn_record_each(f->j, f->run, 0, find_claim, &c),
                     CAIRN_OK);
    return c;
}

/* A claim names its holder with the /proc start time: the handle's own
 * (read once at open), another process's (read at the claim), or the one
 * given. */
static void test_claim_holder_identity(void **state)
{
    fixture *f = *state;
    uint64_t self = 0, parent = 0;
    assert_int_equal(cairn__proc_start_time(getpid(), &self), CAIRN_OK);
    assert_int_equal(cairn__proc_start_time(getppid(), &parent), CAIRN_OK);
    assert_true(self != 0 && parent != 0);
    claim_ok(f, -1, 0, 1);
    last_claim c = claimed_by(f);
    assert_int_equal(c.pid, (uint32_t)getpid());
    assert_int_equal(c.start, self);
    assert_int_equal(complete(f, 0, NULL, 0), CAIRN_OK);
    cairn_holder other = {(uint32_t)getppid(), 0};
    assert_int_equal(
        cairn_claim(f->j, f->run, -1, CAIRN_CLAIM_NORMAL, &other, NULL, NULL),
        CAIRN_OK);
    c = claimed_by(f);
    assert_int_equal(c.pid, (uint32_t)getppid());
    assert_int_equal(c.start, parent);
    assert_int_equal(complete(f, 1, NULL, 0), CAIRN_OK);
    assert_int_equal(cairn_accept_preflight(f->j, f->run, "pf-1", NULL),
                     CAIRN_OK);
    cairn_holder given = {0, 777};
    assert_int_equal(
        cairn_claim(f->j, f->run, -1, CAIRN_CLAIM_NORMAL, &given, NULL, NULL),
        CAIRN_OK);
    c = claimed_by(f);
    assert_int_equal(c.pid, (uint32_t)getpid());
    assert_int_equal(c.start, 777);
}

static void test_reopen_keeps_everything(void **state)
{
    fixture *f = *state;
    accept_preflight(f);
    claim_ok(f, -1, 2, 1);
    cairn_summary *a = status(f);
    uint8_t id[CAIRN_JOURNAL_ID_BYTES], id2[CAIRN_JOURNAL_ID_BYTES];
    cairn_journal_id(f->j, id);
    cairn_journal_close(f->j);
    char detail[256];
    assert_int_equal(cairn_journal_open(f->dir, CAIRN_OPEN_READONLY, &f->j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    cairn_journal_id(f->j, id2);
    assert_memory_equal(id, id2, sizeof(id));
    cairn_summary *b = status(f);
    assert_int_equal(a->records, b->records);
    assert_memory_equal(a->head, b->head, CAIRN_HASH_BYTES);
    assert_int_equal(b->next_state, CAIRN_OP_PENDING);
    cairn_summary_free(a);
    cairn_summary_free(b);
    /* a read-only handle refuses writes */
    assert_int_equal(complete(f, 2, NULL, 0), CAIRN_EINVAL);
}

static int count_records(void *ctx, const cairn_record_view *r)
{
    int *n = ctx;
    assert_int_equal(r->seq, (uint64_t)*n);
    (*n)++;
    return 0;
}

static void test_record_each_and_log_content(void **state)
{
    fixture *f = *state;
    accept_preflight(f);
    int n = 0;
    assert_int_equal(cairn_record_each(f->j, f->run, 0, count_records, &n),
                     CAIRN_OK);
    assert_int_equal(n, 6);
    assert_int_equal(cairn_record_each(f->j, "nope", 0, count_records, &n),
                     CAIRN_ENORUN);
}

static void test_open_errors(void **state)
{
    (void)state;
    cairn_journal *j = (cairn_journal *)1;
    char detail[256];
    char *dir = tu_mkdtemp();
    char *missing = tu_path(dir, "missing");
    assert_int_equal(cairn_journal_open(missing, 0, &j, detail, sizeof(detail)),
                     CAIRN_EIO);
    assert_null(j);
    assert_non_null(strstr(detail, "no journal"));
    assert_int_equal(cairn_journal_open(NULL, 0, &j, detail, sizeof(detail)),
                     CAIRN_EINVAL);
    char *file = tu_path(dir, "data.mdb");
    tu_write_file(file, "garbage, not lmdb at all, garbage garbage", 41);
    assert_int_equal(cairn_journal_open(dir, 0, &j, detail, sizeof(detail)),
                     CAIRN_ECORRUPT);
    assert_null(j);
    free(file);
    free(missing);
    tu_rmtree(dir);
}

static void test_errors_have_names(void **state)
{
    (void)state;
    for (int e = 0; e < CAIRN_ERR_COUNT_; e++) {
        assert_string_not_equal(cairn_errname((cairn_err)e), "CAIRN_E?");
        assert_string_not_equal(cairn_strerror((cairn_err)e), "unknown error");
    }
    assert_string_equal(cairn_strerror(CAIRN_ERR_COUNT_), "unknown error");
    assert_int_equal(cairn_exit_code(CAIRN_ELOCKED), 5);
    assert_int_equal(cairn_exit_code(CAIRN_ECORRUPT), 6);
    assert_int_equal(cairn_exit_code(CAIRN_ETAMPERED), 4);
    assert_int_equal(cairn_exit_code(CAIRN_EINCOMPLETE), 3);
    assert_int_equal(cairn_exit_code(CAIRN_EATTENTION), 7);
    assert_int_equal(cairn_exit_code(CAIRN_EORDER), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_initial_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_run_id_never_reused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mutation_blocked_until_accept,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_preflight_id_rules, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order_and_states, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_required_after_stop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_failed_snapshot_retry_keeps_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_terminal_failure_containment_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_and_complete_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_skip_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_doubt_and_resolve, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_claim_holder_identity, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_record_each_and_log_content, setup,
                                        teardown),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_errors_have_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
