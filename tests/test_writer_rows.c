/*
 * test_writer_rows.c - writers read the rows a record needs and no other
 * (docs/FORMAT.md 23.5), through both commit paths (the shared queue and
 * the handle's group commit): a claim reads one row and a receipt two on
 * a 2,000-operation run; the state a caller gets back carries the new
 * ops_root; a forged row the record does not need is not read (the
 * writer goes on, verify names it), while a forged row it does need is
 * refused with CAIRN_ETAMPERED and nothing written.
 */
#include "testutil.h"

#include "helpers/group_fixture.h"

#include "base/bytes.h"
#include "journal/oprows.h"

#define N_OPS 2000u

static void reopen(gfix *f, unsigned flags)
{
    char detail[256];
    cairn_journal_close(f->j);
    f->opts.flags = CAIRN_OPEN_CREATE | flags;
    assert_int_equal(cairn_journal_open_opts(f->dir, &f->opts, &f->j, detail,
                                             sizeof(detail)),
                     CAIRN_OK);
    cairn_journal_set_signer(f->j, f->signer);
}

/* Run "w": op 0 a preflight, then N_OPS - 1 tasks; op 0 claimed and
 * completed, the preflight accepted: op 1 is the head. */
static void big_run(gfix *f)
{
    char *json = malloc(N_OPS * 40 + 128), detail[256];
    char out[CAIRN_MAX_ID + 1];
    assert_non_null(json);
    size_t n = (size_t)sprintf(json, "{\"cairn_plan\":1,\"plan_id\":\"w\","
                                     "\"run_id\":\"w\",\"operations\":["
                                     "{\"id\":\"pf\",\"kind\":\"preflight\"}");
    for (unsigned i = 1; i < N_OPS; i++) {
        n +=
            (size_t)sprintf(json + n, ",{\"id\":\"t%u\",\"kind\":\"task\"}", i);
    }
    n += (size_t)sprintf(json + n, "]}");
    cairn_plan *plan = NULL;
    assert_int_equal(cairn_plan_parse(json, n, &plan, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_run_create(f->j, plan, NULL, out, sizeof(out)),
                     CAIRN_OK);
    cairn_plan_free(plan);
    free(json);
    cairn_claim_result cr;
    cairn_receipt rc = {.seq = 0, .outcome = CAIRN_OUTCOME_COMPLETED};
    assert_int_equal(
        cairn_claim(f->j, "w", 0, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr),
        CAIRN_OK);
    assert_int_equal(cairn_receipt_record(f->j, "w", &rc, NULL), CAIRN_OK);
    assert_int_equal(cairn_accept_preflight(f->j, "w", "pf", NULL), CAIRN_OK);
}

/* ---- the stored rows and summary ----------------------------------------- */

typedef struct raw {
    uint32_t dst, src;
} raw;

/* The attacker: the row of op src stored as op dst's. */
static cairn_err forge_fn(cairn_txn *txn, void *v)
{
    const raw *r = v;
    uint8_t key[CAIRN__OPROW_KEY_BYTES], copy[1024];
    const uint8_t *val;
    size_t vl;
    int found = 0;
    cairn__store64_be(key, 1);
    cairn__store32_be(key + 8, r->src);
    cairn_err err = cairn__txn_get(txn, CAIRN_DBI_OPROWS, key, sizeof(key),
                                   &val, &vl, &found);
    if (err != CAIRN_OK || !found || vl > sizeof(copy)) {
        return err != CAIRN_OK ? err : CAIRN_EINVAL;
    }
    memcpy(copy, val, vl);
    cairn__store32_be(key + 8, r->dst);
    return cairn__txn_put(txn, CAIRN_DBI_OPROWS, key, sizeof(key), copy, vl, 0);
}

static void forge(gfix *f, uint32_t dst, uint32_t src)
{
    raw r = {dst, src};
    assert_int_equal(cairn__store_write(f->j->store, forge_fn, &r), CAIRN_OK);
}

/* The ops_root of run 1's stored summary. */
static void stored_root(gfix *f, uint8_t root[CAIRN_HASH_BYTES])
{
    cairn_txn *txn = NULL;
    uint8_t key[8];
    const uint8_t *v;
    size_t vl;
    int found = 0;
    char detail[256];
    cairn_state st;
    cairn__store64_be(key, 1);
    assert_int_equal(cairn__store_read(f->j->store, &txn), CAIRN_OK);
    assert_int_equal(
        cairn__txn_get(txn, CAIRN_DBI_RUNS, key, sizeof(key), &v, &vl, &found),
        CAIRN_OK);
    assert_true(found);
    assert_int_equal(cairn__summary_decode(v, vl, &st, detail, sizeof(detail)),
                     CAIRN_OK);
    cairn__txn_end(txn);
    memcpy(root, st.ops_root, CAIRN_HASH_BYTES);
    cairn__state_free(&st);
}

/* ---- transitions with the state after them --------------------------------
 */

typedef struct tb {
    uint32_t op;
    int receipt;
} tb;

static cairn_err tbuild(cairn_journal *j, cairn_state *st, cairn_record *rec,
                        void *ctx, char *detail, size_t detail_len)
{
    const tb *c = ctx;
    (void)j;
    cairn_err err = cairn__state_need(st, c->op, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    rec->op = c->op;
    if (!c->receipt) {
        rec->type = CAIRN_REC_CLAIM;
        rec->attempt = st->ops[c->op].attempt + 1;
        rec->claim_kind = CAIRN_CLAIM_NORMAL;
        rec->holder_pid = (uint32_t)getpid();
        return cairn__record_set_str(&rec->host, "test-host");
    }
    rec->type = CAIRN_REC_RECEIPT;
    rec->attempt = st->ops[c->op].attempt;
    rec->outcome = CAIRN_OUTCOME_COMPLETED;
    return CAIRN_OK;
}

/* Claim or complete @p op; the state after it has read @p rows rows and
 * carries the stored summary's new ops_root. */
static void transition(gfix *f, uint32_t op, int receipt, uint64_t rows)
{
    tb c = {op, receipt};
    cairn_state after;
    uint8_t root[CAIRN_HASH_BYTES];
    memset(&after, 0, sizeof(after));
    assert_int_equal(cairn__journal_append(f->j, "w", tbuild, &c, &after),
                     CAIRN_OK);
    assert_int_equal(after.rows_loaded, rows);
    assert_int_equal(after.n_dirty, 0); /* written */
    assert_int_equal(after.next_seq, receipt ? 2 * op + 4 : 2 * op + 3);
    stored_root(f, root);
    assert_memory_equal(after.ops_root, root, CAIRN_HASH_BYTES);
    cairn__state_free(&after);
}

/* ---- tests ------------------------------------------------------------------
 */

/* A claim reads the op (the head), a completion the op and the next one
 * (the new head); a second and third transition on the same handle
 * after them commit and the run verifies. */
static void rows_read(gfix *f)
{
    big_run(f);
    transition(f, 1, 0, 1);
    transition(f, 1, 1, 2);
    transition(f, 2, 0, 1);
    cairn_receipt rc = {.seq = 2, .outcome = CAIRN_OUTCOME_COMPLETED};
    assert_int_equal(cairn_receipt_record(f->j, "w", &rc, NULL), CAIRN_OK);
    cairn_claim_result cr;
    assert_int_equal(
        cairn_claim(f->j, "w", -1, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr),
        CAIRN_OK);
    assert_int_equal(cr.seq, 3);
    assert_verified(f, "w");
}

/* A forged row of an op the records do not need: claims and receipts
 * go on (they never read it); verify names it. */
static void untouched_forged(gfix *f)
{
    big_run(f);
    forge(f, 1500, 1501);
    transition(f, 1, 0, 1);
    transition(f, 1, 1, 2);
    transition(f, 2, 0, 1);
    cairn_verify_report rep;
    assert_int_equal(cairn_verify_run(f->j, "w", f->pub, &rep), CAIRN_OK);
    assert_int_equal(rep.verdict, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(rep.bad_field, "oprows");
    assert_non_null(strstr(rep.reason, "op 1500 "));
}

/* A forged row of the op a claim takes, or one a completion moves the
 * head across: CAIRN_ETAMPERED, nothing written. */
static void needed_forged(gfix *f)
{
    big_run(f);
    forge(f, 2, 5);
    cairn_claim_result cr;
    assert_int_equal(
        cairn_claim(f->j, "w", 2, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr),
        CAIRN_ETAMPERED);
    assert_non_null(strstr(cairn_journal_errdetail(f->j), "op 2"));
    transition(f, 1, 0, 1); /* op 1's row is sound */
    cairn_receipt rc = {.seq = 1, .outcome = CAIRN_OUTCOME_COMPLETED};
    assert_int_equal(cairn_receipt_record(f->j, "w", &rc, NULL),
                     CAIRN_ETAMPERED);
    forge(f, 1, 6);
    assert_int_equal(
        cairn_claim(f->j, "w", -1, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr),
        CAIRN_ETAMPERED);
    seen *s = records_of(f, "w");
    assert_int_equal(s->n, 5); /* create, claim, receipt, accept, claim */
    free(s);
}

static void test_rows_read_shared(void **state)
{
    rows_read(*state);
}

static void test_rows_read_group(void **state)
{
    reopen(*state, CAIRN_OPEN_NO_SHARED_COMMIT);
    rows_read(*state);
}

static void test_untouched_forged_shared(void **state)
{
    untouched_forged(*state);
}

static void test_untouched_forged_group(void **state)
{
    reopen(*state, CAIRN_OPEN_NO_SHARED_COMMIT);
    untouched_forged(*state);
}

static void test_needed_forged_shared(void **state)
{
    needed_forged(*state);
}

static void test_needed_forged_group(void **state)
{
    reopen(*state, CAIRN_OPEN_NO_SHARED_COMMIT);
    needed_forged(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rows_read_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_read_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untouched_forged_shared, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_untouched_forged_group, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_needed_forged_shared, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_needed_forged_group, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
