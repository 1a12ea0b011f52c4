/*
 * test_oprows.c - a run's operation rows and op tree in LMDB
 * (lib/journal/oprows.c, docs/FORMAT.md section 23): written for a new
 * run, one row updated with its path, rows read back with their proofs,
 * and every forged row, node or missing entry refused with
 * CAIRN_ETAMPERED.
 */
#include "testutil.h"

#include "base/bytes.h"
#include "journal/journal.h"
#include "journal/oprows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_OPS 1000u

typedef struct fix {
    char *dir;
    cairn_journal *j;
    cairn_plan plan;
    cairn_state st; /* the run, all its ops */
    char pfid[8];
} fix;

static void make_state(fix *f)
{
    memset(&f->plan, 0, sizeof(f->plan));
    f->plan.plan_id = strdup("p");
    f->plan.ops = calloc(N_OPS, sizeof(cairn_plan_op));
    assert_non_null(f->plan.ops);
    f->plan.n_ops = N_OPS;
    for (uint32_t i = 0; i < N_OPS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "op%u", i);
        f->plan.ops[i].id = strdup(id);
        f->plan.ops[i].kind = i % 3 == 1 ? CAIRN_KIND_STOP : CAIRN_KIND_TASK;
        if (i % 3 == 1) {
            f->plan.ops[i].target = strdup(i % 2 ? "db" : "web");
        }
    }
    memset(f->plan.hash, 7, sizeof(f->plan.hash));
    cairn_record create;
    cairn__record_init(&create);
    create.type = CAIRN_REC_CREATE;
    create.run_num = 1;
    create.wall_ns = 1;
    create.plan_id = f->plan.plan_id;
    memcpy(f->pfid, "r", 2);
    create.run_id = f->pfid;
    memcpy(create.plan_hash, f->plan.hash, CAIRN_HASH_BYTES);
    uint8_t hash[CAIRN_HASH_BYTES] = {1};
    char detail[256];
    assert_int_equal(cairn__state_init(&f->st, &f->plan, &create, hash, 1,
                                       detail, sizeof(detail)),
                     CAIRN_OK);
}

static int setup(void **state)
{
    fix *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = tu_mkdtemp();
    char detail[256];
    assert_int_equal(cairn_journal_open(f->dir, CAIRN_OPEN_CREATE, &f->j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    make_state(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;
    cairn__state_free(&f->st);
    for (size_t i = 0; i < f->plan.n_ops; i++) {
        free(f->plan.ops[i].id);
        free(f->plan.ops[i].target);
    }
    free(f->plan.ops);
    free(f->plan.plan_id);
    cairn_journal_close(f->j);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

/* ---- write transactions ------------------------------------------------ */

typedef struct wctx {
    fix *f;
    cairn_state *st;
    uint32_t op;
    const cairn_op_st *row;
    cairn_err (*fn)(cairn_txn *, struct wctx *);
    char detail[256];
} wctx;

static cairn_err run_write(cairn_txn *txn, void *v)
{
    wctx *c = v;
    return c->fn(txn, c);
}

static cairn_err do_put_all(cairn_txn *txn, wctx *c)
{
    return cairn__oprows_put_all(txn, c->st, c->detail, sizeof(c->detail));
}

static cairn_err do_update(cairn_txn *txn, wctx *c)
{
    return cairn__oprows_update(txn, c->st, c->op, c->row, c->detail,
                                sizeof(c->detail));
}

static cairn_err write_with(fix *f, wctx *c)
{
    c->f = f;
    c->detail[0] = '\0';
    return cairn__store_write(f->j->store, run_write, c);
}

/* Put raw bytes at a key of @p dbi (the attacker's write). */
typedef struct raw {
    cairn_dbi dbi;
    uint8_t key[CAIRN__OTREE_KEY_BYTES];
    size_t key_len;
    const uint8_t *val;
    size_t val_len; /* 0: delete */
} raw;

static cairn_err raw_write(cairn_txn *txn, void *v)
{
    raw *r = v;
    if (r->val_len == 0) {
        return cairn__txn_del(txn, r->dbi, r->key, r->key_len, NULL);
    }
    return cairn__txn_put(txn, r->dbi, r->key, r->key_len, r->val, r->val_len,
                          0);
}

static void put_all(fix *f)
{
    wctx c = {.st = &f->st, .fn = do_put_all};
    assert_int_equal(write_with(f, &c), CAIRN_OK);
}

static cairn_err get_row(fix *f, uint32_t op, cairn_op_st *out, char *detail)
{
    cairn_txn *txn;
    assert_int_equal(cairn__store_read(f->j->store, &txn), CAIRN_OK);
    cairn_err err = cairn__oprows_get(txn, &f->st, op, out, detail, 256);
    cairn__txn_end(txn);
    return err;
}

static cairn_err get_all(fix *f, cairn_state *sum, char *detail)
{
    cairn_txn *txn;
    memset(sum, 0, sizeof(*sum));
    sum->run_num = f->st.run_num;
    sum->n_ops = f->st.n_ops;
    memcpy(sum->ops_root, f->st.ops_root, CAIRN_HASH_BYTES);
    assert_int_equal(cairn__store_read(f->j->store, &txn), CAIRN_OK);
    cairn_err err = cairn__oprows_get_all(txn, sum, detail, 256);
    cairn__txn_end(txn);
    return err;
}

static uint64_t count(fix *f, cairn_dbi dbi)
{
    cairn_txn *txn;
    uint64_t n = 0;
    assert_int_equal(cairn__store_read(f->j->store, &txn), CAIRN_OK);
    assert_int_equal(cairn__txn_count(txn, dbi, &n), CAIRN_OK);
    cairn__txn_end(txn);
    return n;
}

/* Complete nodes of a tree of @p n leaves: sum of n >> L over L. */
static uint64_t complete_nodes(uint64_t n)
{
    uint64_t c = 0;
    for (; n > 0; n >>= 1) {
        c += n;
    }
    return c;
}

/* ---- tests ----------------------------------------------------------------
 */

/* A new run's rows and op tree: exactly n rows and the complete nodes,
 * the root RFC 6962's over the rows, every row proven and equal. */
static void test_oprows_put_all_and_read(void **state)
{
    fix *f = *state;
    char detail[256];
    put_all(f);
    uint8_t root[CAIRN_HASH_BYTES];
    memcpy(root, f->st.ops_root, CAIRN_HASH_BYTES);
    assert_int_equal(cairn__state_ops_root(&f->st, NULL, NULL), CAIRN_OK);
    assert_memory_equal(root, f->st.ops_root, CAIRN_HASH_BYTES);
    assert_int_equal(count(f, CAIRN_DBI_OPROWS), N_OPS);
    assert_int_equal(count(f, CAIRN_DBI_OTREE), complete_nodes(N_OPS));
    const uint32_t ops[] = {0, 1, 499, 998, 999};
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        cairn_op_st op;
        assert_int_equal(get_row(f, ops[k], &op, detail), CAIRN_OK);
        assert_string_equal(op.id, f->st.ops[ops[k]].id);
        assert_int_equal(op.anchor, f->st.ops[ops[k]].anchor);
        cairn__oprow_free(&op);
    }
    cairn_op_st none;
    assert_int_equal(get_row(f, N_OPS, &none, detail), CAIRN_EINVAL);
    cairn_state sum;
    assert_int_equal(get_all(f, &sum, detail), CAIRN_OK);
    for (uint32_t i = 0; i < N_OPS; i++) {
        assert_string_equal(sum.ops[i].id, f->st.ops[i].id);
    }
    cairn__state_free(&sum);
    /* Nothing is overwritten: the run's rows exist. */
    wctx c = {.st = &f->st, .fn = do_put_all};
    assert_int_equal(write_with(f, &c), CAIRN_EEXIST);
}

/* An update writes the row and its path; the root is the one of the
 * changed ops, and the counts do not move. */
static void test_oprows_update(void **state)
{
    fix *f = *state;
    char detail[256];
    put_all(f);
    cairn_op_st row = f->st.ops[500];
    row.state = CAIRN_OP_PENDING;
    row.attempt = 1;
    row.holder_pid = 4242;
    wctx c = {.st = &f->st, .op = 500, .row = &row, .fn = do_update};
    assert_int_equal(write_with(f, &c), CAIRN_OK);
    f->st.ops[500].state = CAIRN_OP_PENDING;
    f->st.ops[500].attempt = 1;
    f->st.ops[500].holder_pid = 4242;
    uint8_t root[CAIRN_HASH_BYTES];
    memcpy(root, f->st.ops_root, CAIRN_HASH_BYTES);
    assert_int_equal(cairn__state_ops_root(&f->st, NULL, NULL), CAIRN_OK);
    assert_memory_equal(root, f->st.ops_root, CAIRN_HASH_BYTES);
    assert_int_equal(count(f, CAIRN_DBI_OPROWS), N_OPS);
    assert_int_equal(count(f, CAIRN_DBI_OTREE), complete_nodes(N_OPS));
    cairn_op_st op;
    assert_int_equal(get_row(f, 500, &op, detail), CAIRN_OK);
    assert_int_equal(op.holder_pid, 4242);
    cairn__oprow_free(&op);
    cairn_state sum;
    assert_int_equal(get_all(f, &sum, detail), CAIRN_OK);
    cairn__state_free(&sum);
}

/* A forged row, a forged node and a missing row: refused when read,
 * refused when updated (nothing written). */
static void test_oprows_tampered(void **state)
{
    fix *f = *state;
    char detail[256];
    put_all(f);
    /* Row 10 rewritten as completed, its path left alone. */
    cairn_op_st forged = f->st.ops[10];
    forged.state = CAIRN_OP_COMPLETED;
    uint8_t *buf;
    size_t len;
    assert_int_equal(cairn__oprow_encode(&forged, &buf, &len), CAIRN_OK);
    raw r = {.dbi = CAIRN_DBI_OPROWS,
             .key_len = CAIRN__OPROW_KEY_BYTES,
             .val = buf,
             .val_len = len};
    cairn__store64_be(r.key, f->st.run_num);
    cairn__store32_be(r.key + 8, 10);
    assert_int_equal(cairn__store_write(f->j->store, raw_write, &r), CAIRN_OK);
    free(buf);
    cairn_op_st op;
    assert_int_equal(get_row(f, 10, &op, detail), CAIRN_ETAMPERED);
    assert_non_null(strstr(detail, "op 10"));
    assert_null(op.requires);
    cairn_state sum;
    assert_int_equal(get_all(f, &sum, detail), CAIRN_ETAMPERED);
    assert_null(sum.ops);
    cairn_op_st row = f->st.ops[10];
    row.attempt = 1;
    uint8_t before[CAIRN_HASH_BYTES];
    memcpy(before, f->st.ops_root, CAIRN_HASH_BYTES);
    wctx c = {.st = &f->st, .op = 10, .row = &row, .fn = do_update};
    assert_int_equal(write_with(f, &c), CAIRN_ETAMPERED);
    assert_memory_equal(before, f->st.ops_root, CAIRN_HASH_BYTES);
    /* Another row still proves. */
    assert_int_equal(get_row(f, 600, &op, detail), CAIRN_OK);
    cairn__oprow_free(&op);
    /* A node on row 600's path: level 1, index 301 (its sibling pair). */
    uint8_t junk[CAIRN_HASH_BYTES];
    memset(junk, 0xAB, sizeof(junk));
    raw n = {.dbi = CAIRN_DBI_OTREE,
             .key_len = CAIRN__OTREE_KEY_BYTES,
             .val = junk,
             .val_len = sizeof(junk)};
    cairn__store64_be(n.key, f->st.run_num);
    n.key[8] = 1;
    cairn__store64_be(n.key + 9, 301);
    assert_int_equal(cairn__store_write(f->j->store, raw_write, &n), CAIRN_OK);
    assert_int_equal(get_row(f, 600, &op, detail), CAIRN_ETAMPERED);
    /* A missing row. */
    cairn__store32_be(r.key + 8, 900);
    r.val_len = 0;
    assert_int_equal(cairn__store_write(f->j->store, raw_write, &r), CAIRN_OK);
    assert_int_equal(get_row(f, 900, &op, detail), CAIRN_ETAMPERED);
    assert_non_null(strstr(detail, "missing"));
}

/* "oprows" and "otree" hold exactly the rows and nodes of the runs'
 * summaries (none here): a planted row is TAMPERED, field "oprows". */
static void test_oprows_verify_refuses_planted(void **state)
{
    fix *f = *state;
    cairn_verify_report rep;
    assert_int_equal(cairn_verify_directory(f->j, &rep), CAIRN_OK);
    assert_int_not_equal(rep.verdict, CAIRN_VERDICT_TAMPERED);
    put_all(f);
    assert_int_equal(cairn_verify_directory(f->j, &rep), CAIRN_OK);
    assert_int_equal(rep.verdict, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(rep.bad_field, "oprows");
}

/* The stored value of run 1 in @p db: version byte, and whether op
 * @p op's row exists. */
typedef struct peek {
    cairn_dbi dbi;
    uint8_t key[12];
    size_t key_len;
    int found;
    uint8_t first;
    uint64_t count;
} peek;

static cairn_err peek_read(cairn_txn *txn, void *v)
{
    peek *p = v;
    const uint8_t *val;
    size_t vl;
    cairn_err err =
        cairn__txn_get(txn, p->dbi, p->key, p->key_len, &val, &vl, &p->found);
    if (err == CAIRN_OK && p->found) {
        p->first = vl > 0 ? val[0] : 0;
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_count(txn, CAIRN_DBI_OPROWS, &p->count);
    }
    return err;
}

static peek peek_at(cairn_journal *j, cairn_dbi dbi, uint32_t op)
{
    peek p;
    memset(&p, 0, sizeof(p));
    p.dbi = dbi;
    cairn__store64_be(p.key, 1);
    p.key_len = 8;
    if (dbi == CAIRN_DBI_OPROWS) {
        cairn__store32_be(p.key + 8, op);
        p.key_len = 12;
    }
    cairn_txn *txn = NULL;
    assert_int_equal(cairn__store_read(j->store, &txn), CAIRN_OK);
    assert_int_equal(peek_read(txn, &p), CAIRN_OK);
    cairn__txn_end(txn);
    return p;
}

/* The commit paths (docs/FORMAT.md 23.5): a new run stores its summary
 * (state version 2) and a row per op; a transition rewrites the rows it
 * changes; status, verify (the run and the directory) read them. */
static void test_commit_writes_rows(void **state)
{
    fix *f = *state;
    enum { OPS = 300 };
    char *json = malloc(OPS * 48 + 256), detail[256], got[CAIRN_MAX_ID + 1];
    size_t n = 0;
    assert_non_null(json);
    n += (size_t)sprintf(json + n, "{\"cairn_plan\":1,\"plan_id\":\"rows\","
                                   "\"run_id\":\"rows-1\",\"operations\":["
                                   "{\"id\":\"pf\",\"kind\":\"preflight\"}");
    for (int i = 1; i < OPS; i++) {
        n += (size_t)sprintf(json + n,
                             ",{\"id\":\"t%d\",\"kind\":\"transfer\"}", i);
    }
    n += (size_t)sprintf(json + n, "]}");
    cairn_plan *plan = NULL;
    assert_int_equal(cairn_plan_parse(json, n, &plan, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_run_create(f->j, plan, NULL, got, sizeof(got)),
                     CAIRN_OK);
    peek p = peek_at(f->j, CAIRN_DBI_RUNS, 0);
    assert_true(p.found);
    assert_int_equal(p.first, 2); /* a summary */
    assert_int_equal(p.count, OPS);
    cairn_claim_result cr;
    cairn_receipt rc = {.seq = 0, .outcome = CAIRN_OUTCOME_COMPLETED};
    assert_int_equal(
        cairn_claim(f->j, "rows-1", 0, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr),
        CAIRN_OK);
    assert_int_equal(cairn_receipt_record(f->j, "rows-1", &rc, NULL), CAIRN_OK);
    assert_int_equal(cairn_accept_preflight(f->j, "rows-1", "pf", NULL),
                     CAIRN_OK);
    assert_int_equal(
        cairn_claim(f->j, "rows-1", 1, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr),
        CAIRN_OK);
    /* the row of op 1 says pending, read through the proven summary */
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, "rows-1", &s), CAIRN_OK);
    assert_int_equal(s->total, OPS);
    assert_int_equal(s->counts[CAIRN_OP_COMPLETED], 1);
    assert_int_equal(s->counts[CAIRN_OP_PENDING], 1);
    assert_int_equal(s->counts[CAIRN_OP_READY], OPS - 2);
    assert_int_equal(s->records, 5);
    cairn_summary_free(s);
    p = peek_at(f->j, CAIRN_DBI_OPROWS, OPS - 1);
    assert_true(p.found);
    assert_int_equal(p.count, OPS);
    cairn_verify_report rep;
    assert_int_equal(cairn_verify_run(f->j, "rows-1", NULL, &rep), CAIRN_OK);
    assert_int_not_equal(rep.verdict, CAIRN_VERDICT_TAMPERED);
    assert_true(rep.replay_ok);
    assert_int_equal(cairn_verify_directory(f->j, &rep), CAIRN_OK);
    assert_int_not_equal(rep.verdict, CAIRN_VERDICT_TAMPERED);
    /* Op 5's row (valid, ready) stored as op 2's: writers and readers
     * refuse the run (its rows do not give the summary's ops_root), and
     * nothing is written; verify names the op. */
    cairn_txn *txn = NULL;
    const uint8_t *v;
    size_t vl;
    int found = 0;
    uint8_t copy[512];
    raw r = {.dbi = CAIRN_DBI_OPROWS, .key_len = CAIRN__OPROW_KEY_BYTES};
    cairn__store64_be(r.key, 1);
    cairn__store32_be(r.key + 8, 5);
    assert_int_equal(cairn__store_read(f->j->store, &txn), CAIRN_OK);
    assert_int_equal(cairn__txn_get(txn, CAIRN_DBI_OPROWS, r.key, r.key_len, &v,
                                    &vl, &found),
                     CAIRN_OK);
    assert_true(found && vl <= sizeof(copy));
    memcpy(copy, v, vl);
    cairn__txn_end(txn);
    cairn__store32_be(r.key + 8, 2);
    r.val = copy;
    r.val_len = vl;
    assert_int_equal(cairn__store_write(f->j->store, raw_write, &r), CAIRN_OK);
    cairn_receipt rc1 = {.seq = 1, .outcome = CAIRN_OUTCOME_COMPLETED};
    assert_int_equal(cairn_receipt_record(f->j, "rows-1", &rc1, NULL),
                     CAIRN_ETAMPERED);
    assert_int_equal(cairn_status(f->j, "rows-1", &s), CAIRN_ETAMPERED);
    const char *d = cairn_journal_errdetail(f->j);
    assert_non_null(strstr(d, "the row of op 2 does not match"));
    assert_null(strstr(d, "run 1: run 1:"));
    assert_int_equal(cairn_verify_run(f->j, "rows-1", NULL, &rep), CAIRN_OK);
    assert_int_equal(rep.verdict, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(rep.bad_field, "oprows");
    assert_non_null(strstr(rep.reason, "op 2 "));
    assert_int_equal(rep.records, 5); /* the receipt was not written */
    cairn_plan_free(plan);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_oprows_put_all_and_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_oprows_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oprows_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oprows_verify_refuses_planted,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_writes_rows, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
