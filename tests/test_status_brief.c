/*
 * test_status_brief.c - the brief resume summary (cairn_status_opts() with
 * CAIRN_STATUS_BRIEF, docs/FORMAT.md 23.6): the same summary as
 * cairn_status() but for its ops, which are only the next one, the
 * pending ones and the restart anchors, read as proven rows; a row it does
 * not name is not read (a forged one goes unnoticed by it, not by the full
 * summary), a row it names that does not prove is CAIRN_ETAMPERED.
 */
#include "testutil.h"

#include "base/bytes.h"
#include "journal/journal.h"
#include "journal/oprows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define OPS 300
#define RUN "brief-1"

typedef struct fix {
    char *dir;
    cairn_journal *j;
    uint32_t dead;
} fix;

static uint32_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return (uint32_t)pid;
}

/* pf (preflight), stop-db, t2 .. t298 (transfer), start-db. */
static void create_run(fix *f)
{
    char *json = malloc(OPS * 48 + 256), detail[256], got[CAIRN_MAX_ID + 1];
    size_t n = 0;
    assert_non_null(json);
    n += (size_t)sprintf(json + n,
                         "{\"cairn_plan\":1,\"plan_id\":\"brief\",\"run_id\":"
                         "\"" RUN "\",\"operations\":["
                         "{\"id\":\"pf\",\"kind\":\"preflight\"},"
                         "{\"id\":\"stop-db\",\"kind\":\"stop\",\"target\":"
                         "\"db\"}");
    for (int i = 2; i < OPS - 1; i++) {
        n += (size_t)sprintf(json + n,
                             ",{\"id\":\"t%d\",\"kind\":\"transfer\"}", i);
    }
    n += (size_t)sprintf(json + n, ",{\"id\":\"start-db\",\"kind\":\"start\","
                                   "\"target\":\"db\"}]}");
    cairn_plan *plan = NULL;
    assert_int_equal(cairn_plan_parse(json, n, &plan, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_run_create(f->j, plan, NULL, got, sizeof(got)),
                     CAIRN_OK);
    cairn_plan_free(plan);
    free(json);
}

static void claim_complete(fix *f, uint32_t seq)
{
    cairn_claim_result cr;
    cairn_receipt rc = {.seq = seq, .outcome = CAIRN_OUTCOME_COMPLETED};
    assert_int_equal(
        cairn_claim(f->j, RUN, seq, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr),
        CAIRN_OK);
    assert_int_equal(cairn_receipt_record(f->j, RUN, &rc, NULL), CAIRN_OK);
}

/* The run: pf and stop-db completed (db needs a restart), t2 claimed by
 * a process that is gone (in doubt). */
static int setup(void **state)
{
    fix *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = tu_mkdtemp();
    char detail[256];
    assert_int_equal(cairn_journal_open(f->dir, CAIRN_OPEN_CREATE, &f->j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    create_run(f);
    claim_complete(f, 0);
    assert_int_equal(cairn_accept_preflight(f->j, RUN, "pf", NULL), CAIRN_OK);
    claim_complete(f, 1);
    f->dead = dead_pid();
    cairn_holder gone = {f->dead, 12345};
    cairn_claim_result cr;
    assert_int_equal(
        cairn_claim(f->j, RUN, 2, CAIRN_CLAIM_NORMAL, &gone, NULL, &cr),
        CAIRN_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;
    cairn_journal_close(f->j);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

/* Everything but the ops is the same in both summaries. */
static void same_summary(const cairn_summary *a, const cairn_summary *b)
{
    assert_string_equal(a->run_id, b->run_id);
    assert_string_equal(a->plan_id, b->plan_id);
    assert_memory_equal(a->plan_hash, b->plan_hash, CAIRN_HASH_BYTES);
    assert_string_equal(a->preflight_id, b->preflight_id);
    assert_int_equal(a->preflight_accepted, b->preflight_accepted);
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->total, b->total);
    assert_memory_equal(a->counts, b->counts, sizeof(a->counts));
    assert_int_equal(a->has_next, b->has_next);
    assert_int_equal(a->next_seq, b->next_seq);
    assert_int_equal(a->next_state, b->next_state);
    assert_int_equal(a->next_attempt, b->next_attempt);
    assert_int_equal(a->restart_required, b->restart_required);
    assert_int_equal(a->n_restart_targets, b->n_restart_targets);
    for (size_t i = 0; i < a->n_restart_targets; i++) {
        assert_string_equal(a->restart_targets[i], b->restart_targets[i]);
    }
    assert_int_equal(a->n_in_doubt, b->n_in_doubt);
    for (size_t i = 0; i < a->n_in_doubt; i++) {
        assert_int_equal(a->in_doubt[i], b->in_doubt[i]);
    }
    assert_int_equal(a->last_contiguous_seq, b->last_contiguous_seq);
    assert_int_equal(a->last_attempted_seq, b->last_attempted_seq);
    assert_int_equal(a->stopped_reason, b->stopped_reason);
    assert_int_equal(a->next_action, b->next_action);
    assert_int_equal(a->records, b->records);
    assert_memory_equal(a->head, b->head, CAIRN_HASH_BYTES);
    assert_int_equal(a->created_ns, b->created_ns);
    assert_int_equal(a->updated_ns, b->updated_ns);
    assert_int_equal(a->pruned, b->pruned);
    assert_int_equal(a->held, b->held);
}

/* The views of op @p seq in both summaries are alike. */
static void same_op(const cairn_summary *full, const cairn_summary *brief,
                    uint32_t seq)
{
    const cairn_op_view *a = cairn_summary_op(full, seq);
    const cairn_op_view *b = cairn_summary_op(brief, seq);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->seq, seq);
    assert_int_equal(b->seq, seq);
    assert_memory_equal(a, b, sizeof(*a));
}

static void both(fix *f, cairn_summary **full, cairn_summary **brief)
{
    assert_int_equal(cairn_status(f->j, RUN, full), CAIRN_OK);
    assert_int_equal(cairn_status_opts(f->j, RUN, CAIRN_STATUS_BRIEF, brief),
                     CAIRN_OK);
    same_summary(*full, *brief);
}

static void test_brief_is_the_summary(void **state)
{
    fix *f = *state;
    cairn_summary *full = NULL, *brief = NULL;
    both(f, &full, &brief);
    assert_false(full->ops_partial);
    assert_int_equal(full->n_ops, OPS);
    assert_true(brief->ops_partial);
    /* stop-db (the anchor of db, which needs a restart) and t2 (next,
     * pending, in doubt) */
    assert_int_equal(brief->n_ops, 2);
    assert_int_equal(brief->ops[0].seq, 1);
    assert_int_equal(brief->ops[1].seq, 2);
    assert_int_equal(brief->state, CAIRN_RUN_NEEDS_ATTENTION);
    assert_int_equal(brief->n_in_doubt, 1);
    assert_int_equal(brief->in_doubt[0], 2);
    assert_int_equal(brief->last_contiguous_seq, 1);
    assert_int_equal(brief->last_attempted_seq, 2);
    assert_int_equal(brief->n_restart_targets, 1);
    assert_string_equal(brief->restart_targets[0], "db");
    same_op(full, brief, 1);
    same_op(full, brief, 2);
    const cairn_op_view *t2 = cairn_summary_op(brief, 2);
    assert_true(t2->in_doubt);
    assert_int_equal(t2->holder_pid, f->dead);
    assert_string_equal(t2->id, "t2");
    /* ops it does not name: absent from the brief one only */
    assert_null(cairn_summary_op(brief, 0));
    assert_null(cairn_summary_op(brief, 3));
    assert_null(cairn_summary_op(brief, OPS - 1));
    assert_string_equal(cairn_summary_op(full, OPS - 1)->id, "start-db");
    assert_null(cairn_summary_op(full, OPS));
    assert_null(cairn_summary_op(brief, OPS));
    assert_null(cairn_summary_op(NULL, 0));
    cairn_summary_free(full);
    cairn_summary_free(brief);

    /* t2 resolved failed (terminal): the failed head is the next op */
    cairn_receipt rs = {.seq = 2,
                        .outcome = CAIRN_OUTCOME_FAILED,
                        .error_class = CAIRN_CLASS_TERMINAL,
                        .reason = "checked: it failed"};
    assert_int_equal(cairn_resolve(f->j, RUN, &rs, NULL), CAIRN_OK);
    both(f, &full, &brief);
    assert_int_equal(brief->state, CAIRN_RUN_FAILED);
    assert_int_equal(brief->next_action, CAIRN_NEXT_RESTART_TARGETS);
    assert_int_equal(brief->n_ops, 2);
    same_op(full, brief, 2);
    cairn_summary_free(full);
    cairn_summary_free(brief);

    /* containment: start-db claimed and completed; db is up again */
    cairn_claim_result cr;
    cairn_receipt rc = {.seq = OPS - 1, .outcome = CAIRN_OUTCOME_COMPLETED};
    assert_int_equal(cairn_claim(f->j, RUN, OPS - 1, CAIRN_CLAIM_CONTAINMENT,
                                 NULL, NULL, &cr),
                     CAIRN_OK);
    both(f, &full, &brief);
    assert_int_equal(brief->counts[CAIRN_OP_PENDING], 1);
    /* t2, stop-db (db still needs its restart), start-db (pending) */
    assert_int_equal(brief->n_ops, 3);
    same_op(full, brief, 1);
    same_op(full, brief, OPS - 1);
    cairn_summary_free(full);
    cairn_summary_free(brief);
    assert_int_equal(cairn_receipt_record(f->j, RUN, &rc, NULL), CAIRN_OK);
    both(f, &full, &brief);
    assert_false(brief->restart_required);
    assert_int_equal(brief->n_ops, 1);       /* t2 */
    assert_null(cairn_summary_op(brief, 1)); /* no target to restart */
    cairn_summary_free(full);
    cairn_summary_free(brief);
}

/* Overwrite the row of op @p dst with the stored row of op @p src. */
typedef struct raw {
    uint8_t key[CAIRN__OPROW_KEY_BYTES];
    uint8_t val[512];
    size_t val_len;
} raw;

static cairn_err raw_write(cairn_txn *txn, void *v)
{
    raw *r = v;
    return cairn__txn_put(txn, CAIRN_DBI_OPROWS, r->key, sizeof(r->key), r->val,
                          r->val_len, 0);
}

static void copy_row(fix *f, uint32_t src, uint32_t dst)
{
    raw r;
    cairn_txn *txn = NULL;
    const uint8_t *v;
    size_t vl;
    int found = 0;
    cairn__store64_be(r.key, 1);
    cairn__store32_be(r.key + 8, src);
    assert_int_equal(cairn__store_read(f->j->store, &txn), CAIRN_OK);
    assert_int_equal(cairn__txn_get(txn, CAIRN_DBI_OPROWS, r.key, sizeof(r.key),
                                    &v, &vl, &found),
                     CAIRN_OK);
    assert_true(found && vl <= sizeof(r.val));
    memcpy(r.val, v, vl);
    r.val_len = vl;
    cairn__txn_end(txn);
    cairn__store32_be(r.key + 8, dst);
    assert_int_equal(cairn__store_write(f->j->store, raw_write, &r), CAIRN_OK);
}

static void test_brief_reads_only_its_rows(void **state)
{
    fix *f = *state;
    cairn_summary *s = (cairn_summary *)(uintptr_t)1;
    /* a forged row of an op the brief summary does not name: only the
     * full summary, which reads every row, sees it */
    copy_row(f, 201, 200);
    assert_int_equal(cairn_status(f->j, RUN, &s), CAIRN_ETAMPERED);
    assert_null(s);
    assert_int_equal(cairn_status_opts(f->j, RUN, CAIRN_STATUS_BRIEF, &s),
                     CAIRN_OK);
    assert_int_equal(s->n_ops, 2);
    cairn_summary_free(s);
    /* a forged row of the next op: both refuse */
    copy_row(f, 5, 2);
    assert_int_equal(cairn_status_opts(f->j, RUN, CAIRN_STATUS_BRIEF, &s),
                     CAIRN_ETAMPERED);
    assert_null(s);
    assert_non_null(strstr(cairn_journal_errdetail(f->j), "op 2"));
}

static void test_brief_bad_arguments(void **state)
{
    fix *f = *state;
    cairn_summary *s = (cairn_summary *)(uintptr_t)1;
    assert_int_equal(cairn_status_opts(f->j, RUN, 2, &s), CAIRN_EINVAL);
    assert_null(s);
    s = (cairn_summary *)(uintptr_t)1;
    assert_int_equal(cairn_status_opts(NULL, RUN, CAIRN_STATUS_BRIEF, &s),
                     CAIRN_EINVAL);
    assert_null(s);
    assert_int_equal(
        cairn_status_opts(f->j, "no-such-run", CAIRN_STATUS_BRIEF, &s),
        CAIRN_ENORUN);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_brief_is_the_summary, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_brief_reads_only_its_rows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_brief_bad_arguments, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
