/*
 * test_facts.c - the state machine's incremental facts (docs/FORMAT.md
 * section 23.2: op counts, head, done prefix, attempted end, preflight
 * count, restart targets, pending list) against the same facts computed
 * from scratch (cairn__state_derive()) and against the definitions by
 * scan, over random walks of records applied directly to the machine;
 * and the format-2 codecs of the summary and the operation rows (section
 * 23.2, 23.3) and the op tree root (23.4) on the states those walks reach.
 */
#include "testutil.h"

#include "journal/oprows.h"
#include "state/facts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct walk {
    uint64_t rng;
    cairn_plan plan;
    cairn_state st;
    char reason[8];
    char host[8];
    char pfid[8];
    unsigned applied;
    unsigned saw_stopped, saw_head_move, saw_done;
    uint64_t lazy_rows, lazy_steps; /* rows a writer loaded, records */
} walk;

static uint32_t rnd(walk *w, uint32_t n)
{
    w->rng = w->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((w->rng >> 33) % n);
}

static const cairn_kind kinds[] = {
    CAIRN_KIND_PREFLIGHT, CAIRN_KIND_STOP,     CAIRN_KIND_START,
    CAIRN_KIND_SNAPSHOT,  CAIRN_KIND_TRANSFER, CAIRN_KIND_TASK,
    CAIRN_KIND_CLEANUP,   CAIRN_KIND_STOP,     CAIRN_KIND_START};
static const char *const targets[] = {"db", "web", "cache"};

static void make_plan(walk *w, uint32_t n)
{
    memset(&w->plan, 0, sizeof(w->plan));
    w->plan.plan_id = strdup("p");
    w->plan.ops = calloc(n, sizeof(cairn_plan_op));
    assert_non_null(w->plan.ops);
    w->plan.n_ops = n;
    for (uint32_t i = 0; i < n; i++) {
        cairn_plan_op *op = &w->plan.ops[i];
        char id[16];
        snprintf(id, sizeof(id), "op%u", i);
        op->id = strdup(id);
        op->kind = kinds[rnd(w, sizeof(kinds) / sizeof(kinds[0]))];
        if (op->kind == CAIRN_KIND_STOP || op->kind == CAIRN_KIND_START) {
            op->target = strdup(targets[rnd(w, 3)]);
        }
    }
    memset(w->plan.hash, 7, sizeof(w->plan.hash));
}

static void free_plan(cairn_plan *p)
{
    for (size_t i = 0; i < p->n_ops; i++) {
        free(p->ops[i].id);
        free(p->ops[i].target);
    }
    free(p->ops);
    free(p->plan_id);
}

/* A walk over a random plan of @p n_ops operations, seeded @p seed. */
static void walk_new(walk *w, uint64_t seed, uint32_t n_ops)
{
    memset(w, 0, sizeof(*w));
    w->rng = seed;
    memcpy(w->reason, "why", 4);
    memcpy(w->host, "h", 2);
    memcpy(w->pfid, "pf", 3);
    make_plan(w, n_ops);
}

/* The state of a new run of the walk's plan (run 1, id w->pfid). */
static void walk_start(walk *w)
{
    cairn_record create;
    cairn__record_init(&create);
    create.type = CAIRN_REC_CREATE;
    create.run_num = 1;
    create.wall_ns = 1;
    create.plan_id = w->plan.plan_id;
    create.run_id = w->pfid;
    memcpy(create.plan_hash, w->plan.hash, CAIRN_HASH_BYTES);
    uint8_t hash[CAIRN_HASH_BYTES] = {1};
    char detail[256];
    assert_int_equal(cairn__state_init(&w->st, &w->plan, &create, hash, 1,
                                       detail, sizeof(detail)),
                     CAIRN_OK);
}

static void walk_free(walk *w)
{
    cairn__state_free(&w->st);
    free_plan(&w->plan);
}

static void base_record(walk *w, cairn_record *rec, cairn_record_type type)
{
    cairn__record_init(rec);
    rec->type = type;
    rec->run_num = 1;
    rec->seq = w->st.next_seq;
    rec->wall_ns = 1000 + w->st.next_seq;
    memcpy(rec->prev, w->st.head, CAIRN_HASH_BYTES);
    rec->reason = w->reason;
    rec->host = w->host;
    rec->preflight_id = w->pfid;
}

/* The definitions by scan (section 9 and docs/DESIGN.md section 3). */
static int64_t scan_head(const cairn_state *st)
{
    for (uint32_t i = 0; i < st->n_ops; i++) {
        cairn_op_state s = st->ops[i].state;
        if (s == CAIRN_OP_READY || s == CAIRN_OP_PENDING ||
            s == CAIRN_OP_FAILED) {
            return i;
        }
    }
    return -1;
}

static int scan_stopped(const cairn_state *st, const char *target)
{
    uint64_t last_stop = 0, last_start = 0;
    for (uint32_t i = 0; i < st->n_ops; i++) {
        const cairn_op_st *op = &st->ops[i];
        if (op->state != CAIRN_OP_COMPLETED || strcmp(op->target, target)) {
            continue;
        }
        if (op->kind == CAIRN_KIND_STOP && op->done_seq > last_stop) {
            last_stop = op->done_seq;
        } else if (op->kind == CAIRN_KIND_START && op->done_seq > last_start) {
            last_start = op->done_seq;
        }
    }
    return last_stop > last_start;
}

static void check_facts(walk *w)
{
    cairn_state copy;
    assert_int_equal(cairn__state_copy(&w->st, &copy), CAIRN_OK);
    assert_int_equal(cairn__state_derive(&copy), CAIRN_OK);
    assert_true(cairn__facts_equal(&w->st, &copy));
    cairn__state_free(&copy);
    assert_int_equal(cairn__state_head(&w->st), scan_head(&w->st));
    int all_done = 1;
    for (uint32_t i = 0; i < w->st.n_ops; i++) {
        const cairn_op_st *op = &w->st.ops[i];
        all_done &=
            op->state == CAIRN_OP_COMPLETED || op->state == CAIRN_OP_SKIPPED;
        if (op->kind == CAIRN_KIND_STOP || op->kind == CAIRN_KIND_START) {
            assert_int_equal(cairn__state_op_stopped(&w->st, i),
                             scan_stopped(&w->st, op->target));
        } else {
            assert_int_equal(cairn__state_op_stopped(&w->st, i), 0);
        }
    }
    assert_int_equal(cairn__state_all_done(&w->st), all_done);
}

/* A writer's loader over @p ctx, the stored state (all its rows): the
 * row goes through its codec, as from `oprows`. */
static cairn_err snap_row(void *ctx, const cairn_state *st, uint32_t op,
                          cairn_op_st *out, char *detail, size_t detail_len)
{
    const cairn_state *snap = ctx;
    uint8_t *buf = NULL;
    size_t len = 0;
    (void)st;
    assert_true(op < snap->n_ops);
    assert_int_equal(cairn__oprow_encode(&snap->ops[op], &buf, &len), CAIRN_OK);
    cairn_err err = cairn__oprow_decode(buf, len, out, detail, detail_len);
    free(buf);
    return err;
}

/* @p lazy: a writer's copy of @p snap, its summary alone, rows loaded
 * from @p snap as the machine needs them (docs/FORMAT.md 23.5). */
static void make_lazy(const cairn_state *snap, cairn_state *lazy)
{
    assert_int_equal(cairn__state_copy(snap, lazy), CAIRN_OK);
    for (uint32_t i = 0; i < lazy->n_ops; i++) {
        cairn__oprow_free(&lazy->ops[i]);
    }
    free(lazy->ops);
    lazy->ops = NULL;
    assert_int_equal(cairn__state_lazy(lazy, snap_row, (void *)(uintptr_t)snap),
                     CAIRN_OK);
}

/* The same record applied to the whole state and to a writer's lazily
 * loaded one: the same answer and facts; the rows the writer has are
 * the whole state's, and every row that changed is in its dirty list
 * (so a writer reading only the rows the record needs writes the same
 * rows replay computes). */
static void check_lazy(const cairn_state *before, const cairn_state *after,
                       cairn_state *lazy, cairn_err want_err, cairn_err got_err)
{
    assert_int_equal(got_err, want_err);
    assert_true(cairn__facts_equal(after, lazy));
    assert_int_equal(after->next_seq, lazy->next_seq);
    cairn__state_dirty_sort(lazy);
    for (uint32_t i = 0; i < after->n_ops; i++) {
        int changed = !cairn__oprow_same(&before->ops[i], &after->ops[i]);
        int dirty = cairn__facts_has(lazy->dirty, lazy->n_dirty, i);
        assert_int_equal(changed, dirty);
        if (cairn__state_has_row(lazy, i)) {
            assert_true(cairn__oprow_same(&after->ops[i], &lazy->ops[i]));
        } else {
            assert_false(changed);
        }
    }
}

/* One random record; applied or refused, the facts must hold. */
static void step(walk *w)
{
    cairn_record rec;
    uint32_t op = rnd(w, w->st.n_ops + 1); /* sometimes past the end */
    uint32_t which = rnd(w, 10);
    if (which < 4) {
        base_record(w, &rec, CAIRN_REC_CLAIM);
        rec.claim_kind = (cairn_claim_kind)(rnd(w, 4) == 0 ? 1 + rnd(w, 2) : 0);
        if (rec.claim_kind == CAIRN_CLAIM_NORMAL && rnd(w, 3) > 0 &&
            cairn__state_head(&w->st) >= 0) {
            op = (uint32_t)cairn__state_head(&w->st);
        }
        rec.op = op;
        rec.attempt = op < w->st.n_ops ? w->st.ops[op].attempt + 1 : 1;
    } else if (which < 8) {
        base_record(w, &rec, rnd(w, 4) ? CAIRN_REC_RECEIPT : CAIRN_REC_RESOLVE);
        if (w->st.op_counts[CAIRN_OP_PENDING] > 0 && rnd(w, 4) > 0) {
            op = w->st.pending[rnd(w, w->st.op_counts[CAIRN_OP_PENDING])];
        }
        rec.op = op;
        rec.attempt = op < w->st.n_ops ? w->st.ops[op].attempt : 1;
        rec.outcome = (cairn_outcome)(4 + rnd(w, 3));
        rec.error_class = rec.outcome == CAIRN_OUTCOME_FAILED
                              ? (cairn_error_class)(1 + rnd(w, 2))
                              : CAIRN_CLASS_NONE;
    } else if (which == 8) {
        base_record(w, &rec, rnd(w, 2) ? CAIRN_REC_RETRY : CAIRN_REC_ACCEPT);
        rec.op = op;
    } else {
        base_record(w, &rec, rnd(w, 8) ? CAIRN_REC_ACCEPT : CAIRN_REC_CANCEL);
    }
    uint8_t hash[CAIRN_HASH_BYTES];
    memset(hash, (int)(w->st.next_seq & 0xff), sizeof(hash));
    char detail[256];
    int64_t head = cairn__state_head(&w->st);
    cairn_state snap, lazy;
    assert_int_equal(cairn__state_copy(&w->st, &snap), CAIRN_OK);
    make_lazy(&snap, &lazy);
    cairn_err lazy_err = cairn__state_apply(
        &lazy, &rec, hash, w->st.next_seq + 1, detail, sizeof(detail));
    cairn_err err = cairn__state_apply(&w->st, &rec, hash, w->st.next_seq + 1,
                                       detail, sizeof(detail));
    if (err == CAIRN_OK) {
        w->applied++;
    }
    check_lazy(&snap, &w->st, &lazy, err, lazy_err);
    w->lazy_rows += lazy.rows_loaded;
    w->lazy_steps++;
    cairn__state_free(&lazy);
    cairn__state_free(&snap);
    w->saw_stopped += w->st.n_stopped > 0 ? 1u : 0u;
    w->saw_head_move +=
        head >= 0 && cairn__state_head(&w->st) > head + 1 ? 1u : 0u;
    check_facts(w);
}

/* With $CAIRN_OPROW_SEEDS set to a directory, the walks write seeds for
 * fuzz/fuzz_oprow.c there (a selector byte, then a summary or a row):
 *   CAIRN_OPROW_SEEDS=fuzz/corpus/oprow build/tests/test_facts */
static void write_seed(uint8_t selector, const uint8_t *buf, size_t len)
{
    static unsigned n_seeds;
    const char *dir = getenv("CAIRN_OPROW_SEEDS");
    if (dir == NULL || n_seeds >= 48) {
        return;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/seed-%02u", dir, n_seeds++);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(&selector, 1, 1, f), 1);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Every strict prefix of @p buf fails to decode as @p what says. */
static void check_prefixes(const uint8_t *buf, size_t len, int row)
{
    for (size_t n = 0; n < len; n++) {
        char detail[256] = "";
        cairn_err err;
        if (row) {
            cairn_op_st op;
            err = cairn__oprow_decode(buf, n, &op, detail, sizeof(detail));
            assert_null(op.requires);
        } else {
            cairn_state st;
            err = cairn__summary_decode(buf, n, &st, detail, sizeof(detail));
            assert_null(st.stopped);
        }
        assert_int_equal(err, CAIRN_ECORRUPT);
        assert_non_null(strstr(detail, row ? "op row" : "run summary"));
    }
}

/* The summary and every row decode to what was encoded and encode to
 * the same bytes again; a byte more is refused. */
static void check_codecs(walk *w)
{
    uint8_t *buf = NULL, *again = NULL;
    size_t len = 0, again_len = 0;
    char detail[256];
    assert_int_equal(cairn__state_ops_root(&w->st, NULL, NULL), CAIRN_OK);
    assert_int_equal(cairn__summary_encode(&w->st, &buf, &len), CAIRN_OK);
    cairn_state dec;
    assert_int_equal(
        cairn__summary_decode(buf, len, &dec, detail, sizeof(detail)),
        CAIRN_OK);
    assert_true(cairn__facts_equal(&w->st, &dec));
    assert_memory_equal(dec.ops_root, w->st.ops_root, CAIRN_HASH_BYTES);
    assert_null(dec.ops);
    assert_int_equal(cairn__summary_encode(&dec, &again, &again_len), CAIRN_OK);
    assert_int_equal(again_len, len);
    assert_memory_equal(again, buf, len);
    free(again);
    cairn__state_free(&dec);
    if ((w->rng & 7) == 0) {
        check_prefixes(buf, len, 0);
        write_seed(0, buf, len);
    }
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    longer[len] = 0;
    assert_int_equal(
        cairn__summary_decode(longer, len + 1, &dec, detail, sizeof(detail)),
        CAIRN_ECORRUPT);
    free(longer);
    free(buf);
    for (uint32_t i = 0; i < w->st.n_ops; i++) {
        assert_int_equal(cairn__oprow_encode(&w->st.ops[i], &buf, &len),
                         CAIRN_OK);
        cairn_op_st op;
        assert_int_equal(
            cairn__oprow_decode(buf, len, &op, detail, sizeof(detail)),
            CAIRN_OK);
        assert_int_equal(cairn__oprow_encode(&op, &again, &again_len),
                         CAIRN_OK);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, buf, len);
        assert_int_equal(op.anchor, w->st.ops[i].anchor);
        assert_int_equal(op.state, w->st.ops[i].state);
        free(again);
        cairn__oprow_free(&op);
        if (i == 0 && (w->rng & 7) == 0) {
            check_prefixes(buf, len, 1);
            write_seed(1, buf, len);
        }
        free(buf);
    }
}

typedef struct tally {
    unsigned applied, stopped, head_moves, done;
} tally;

static void one_walk(uint64_t seed, uint32_t n_ops, unsigned steps, tally *t)
{
    walk w;
    walk_new(&w, seed, n_ops);
    walk_start(&w);
    check_facts(&w);
    for (unsigned i = 0; i < steps && !cairn__state_all_done(&w.st); i++) {
        step(&w);
    }
    check_codecs(&w);
    t->applied += w.applied;
    t->stopped += w.saw_stopped > 0;
    t->head_moves += w.saw_head_move > 0;
    t->done += cairn__state_all_done(&w.st) ? 1u : 0u;
    walk_free(&w);
}

static void test_facts_random_walks(void **state)
{
    (void)state;
    tally t = {0, 0, 0, 0};
    for (uint64_t seed = 1; seed <= 400; seed++) {
        one_walk(seed, 1 + (uint32_t)(seed % 24), 300, &t);
    }
    /* The walks reach what they are meant to check. */
    print_message("applied %u, stopped %u, head jumps %u, done %u\n", t.applied,
                  t.stopped, t.head_moves, t.done);
    assert_true(t.applied > 4000);
    assert_true(t.stopped > 20 && t.head_moves > 20 && t.done > 20);
}

/* The anchors: the lowest stop-or-start op of the same target. */
static void test_facts_anchors(void **state)
{
    (void)state;
    walk w;
    walk_new(&w, 99, 64);
    walk_start(&w);
    unsigned anchored = 0;
    for (uint32_t i = 0; i < w.st.n_ops; i++) {
        const cairn_op_st *op = &w.st.ops[i];
        if (op->kind != CAIRN_KIND_STOP && op->kind != CAIRN_KIND_START) {
            assert_int_equal(op->anchor, CAIRN_NO_ANCHOR);
            continue;
        }
        uint32_t first = i;
        for (uint32_t k = 0; k < i; k++) {
            const cairn_op_st *o = &w.st.ops[k];
            if ((o->kind == CAIRN_KIND_STOP || o->kind == CAIRN_KIND_START) &&
                strcmp(o->target, op->target) == 0) {
                first = k;
                break;
            }
        }
        assert_int_equal(op->anchor, first);
        anchored++;
    }
    assert_true(anchored > 0);
    walk_free(&w);
}

static void op_tree_node(const uint8_t *l, const uint8_t *r, uint8_t *out)
{
    cairn__mt_node_hash(l, r, out);
}

/* The op tree root is RFC 6962's over the rows' leaf hashes, and a row
 * whose anchor does not fit its kind is refused. */
static void test_facts_op_tree_and_anchor(void **state)
{
    (void)state;
    walk w;
    walk_new(&w, 5, 3);
    w.plan.ops[0].kind = CAIRN_KIND_PREFLIGHT;
    w.plan.ops[1].kind = CAIRN_KIND_STOP;
    if (w.plan.ops[1].target == NULL) {
        w.plan.ops[1].target = strdup("db");
    }
    w.plan.ops[2].kind = CAIRN_KIND_TASK;
    free(w.plan.ops[2].target);
    w.plan.ops[2].target = NULL;
    walk_start(&w);
    uint8_t l[3][CAIRN_HASH_BYTES], want[32];
    char detail[256];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cairn__oprow_leaf(&w.st.ops[i], l[i]), CAIRN_OK);
    }
    op_tree_node(l[0], l[1], want);
    op_tree_node(want, l[2], want);
    assert_int_equal(cairn__state_ops_root(&w.st, NULL, NULL), CAIRN_OK);
    assert_memory_equal(w.st.ops_root, want, CAIRN_HASH_BYTES);
    /* A task row with an anchor, a stop row without one. */
    for (int i = 1; i < 3; i++) {
        cairn_op_st op = w.st.ops[i];
        op.anchor = i == 1 ? CAIRN_NO_ANCHOR : 0;
        uint8_t *buf;
        size_t len;
        assert_int_equal(cairn__oprow_encode(&op, &buf, &len), CAIRN_OK);
        cairn_op_st dec;
        assert_int_equal(
            cairn__oprow_decode(buf, len, &dec, detail, sizeof(detail)),
            CAIRN_ECORRUPT);
        assert_non_null(strstr(detail, "anchor"));
        free(buf);
    }
    walk_free(&w);
}

/* Summaries whose lists are out of order or out of range are refused. */
static void test_facts_summary_refused(void **state)
{
    (void)state;
    walk w;
    walk_new(&w, 11, 6);
    walk_start(&w);
    char detail[256];
    struct {
        uint32_t n_stopped, s0, s1, head_op;
        const char *field;
    } bad[] = {
        {2, 3, 3, 0, "stopped"}, /* not strictly ascending */
        {2, 4, 2, 0, "stopped"},
        {1, 6, 0, 0, "stopped"}, /* past n_ops */
        {0, 0, 0, 7, "summary"}, /* head past n_ops */
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        cairn_state st;
        assert_int_equal(cairn__state_copy(&w.st, &st), CAIRN_OK);
        uint32_t set[2] = {bad[k].s0, bad[k].s1};
        free(st.stopped);
        st.stopped = set;
        st.n_stopped = bad[k].n_stopped;
        st.head_op = bad[k].head_op;
        st.done_prefix = 0;
        uint8_t *buf;
        size_t len;
        assert_int_equal(cairn__summary_encode(&st, &buf, &len), CAIRN_OK);
        st.stopped = NULL;
        cairn__state_free(&st);
        cairn_state dec;
        assert_int_equal(
            cairn__summary_decode(buf, len, &dec, detail, sizeof(detail)),
            CAIRN_ECORRUPT);
        assert_non_null(strstr(detail, bad[k].field));
        free(buf);
    }
    walk_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_facts_random_walks),
        cmocka_unit_test(test_facts_anchors),
        cmocka_unit_test(test_facts_op_tree_and_anchor),
        cmocka_unit_test(test_facts_summary_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
