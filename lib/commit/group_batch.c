/*
 * group_batch.c - the write transaction of one group-commit batch: the
 * leader processes the requests in queue order, then writes each touched
 * run's state once and one checkpoint per touched run, keyed by the
 * position of that run's last record in the transaction.
 *
 * The transaction function is re-runnable: on MDB_MAP_FULL the store
 * grows the map and runs it again from scratch, so every request's
 * outcome is recomputed.
 */
#include "commit/commit.h"
#include "journal/head.h"
#include "journal/oprows.h"

#include "base/bytes.h"

#include <stdlib.h>
#include <string.h>

/* A run touched by the batch: its state as the batch advances it, with
 * the rows loaded so far (docs/FORMAT.md 23.5); the rows each request
 * changes are written as it applies, so st.ops_root is always the root
 * of the rows in the transaction. */
typedef struct run_slot {
    uint64_t run_num;
    cairn_state st;
    int loaded;
    int touched;      /* a record of the run is in this transaction */
    uint64_t cp_pos;  /* position of the run's last record here */
    uint64_t cp_wall; /* and its wall time */
    uint8_t old_leaf[CAIRN_HASH_BYTES]; /* its state map leaf, proven */
} run_slot;

typedef struct batch {
    cairn_journal *j;
    cairn_append_req *first;
    size_t n;
    run_slot *runs; /* at most n */
    size_t n_runs;
    run_slot **order; /* touched runs by cp_pos */
    cairn_head head;  /* proven at the start of the transaction */
    uint8_t (*leaves)[CAIRN_HASH_BYTES]; /* the records written, in order */
    size_t n_leaves;
    cairn_run_leaf *moved; /* the touched runs' state map leaves */
    int wrote_any;
    int empty;         /* nothing to write: aborted on purpose */
    int fn_failed;     /* the function itself failed (not the commit) */
    unsigned attempts; /* runs of the function (more after MAP_FULL) */
    char detail[CAIRN__DETAIL_MAX];
} batch;

static void reset_after(cairn_append_req *r)
{
    if (r->after != NULL) {
        cairn__state_free(r->after);
        memset(r->after, 0, sizeof(*r->after));
    }
}

/* Forget everything a previous attempt computed. */
static void reset(batch *b)
{
    for (size_t i = 0; i < b->n_runs; i++) {
        cairn__state_free(&b->runs[i].st);
    }
    memset(b->runs, 0, b->n * sizeof(run_slot));
    b->n_runs = 0;
    b->n_leaves = 0;
    b->wrote_any = b->empty = b->fn_failed = 0;
    b->detail[0] = '\0';
    for (cairn_append_req *r = b->first; r != NULL; r = r->next) {
        r->err = CAIRN_OK;
        r->wrote = 0;
        r->detail[0] = '\0';
        reset_after(r);
    }
}

static run_slot *slot_for(batch *b, uint64_t run_num)
{
    for (size_t i = 0; i < b->n_runs; i++) {
        if (b->runs[i].run_num == run_num) {
            return &b->runs[i];
        }
    }
    run_slot *rs = &b->runs[b->n_runs++];
    rs->run_num = run_num;
    return rs;
}

/* Put record @p t (already applied to the run's state) and its index
 * entry at @p pos.  A failure is a storage failure: the batch cannot go
 * on. */
static cairn_err put_record(batch *b, cairn_txn *txn, run_slot *rs,
                            const cairn_transition *t, uint64_t pos,
                            char *detail, size_t detail_len)
{
    uint8_t key[8], ikey[16];
    cairn__store64_be(key, pos);
    cairn__store64_be(ikey, rs->run_num);
    cairn__store64_be(ikey + 8, t->rec.seq);
    cairn_err err = cairn__txn_put(txn, CAIRN_DBI_RECORDS, key, sizeof(key),
                                   t->bytes, t->len, CAIRN_PUT_APPEND);
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_INDEX, ikey, sizeof(ikey), key,
                             sizeof(key), CAIRN_PUT_NOOVERWRITE);
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "%s",
                           cairn__store_detail(b->j->store));
    }
    rs->touched = 1;
    rs->cp_pos = pos;
    rs->cp_wall = t->rec.wall_ns;
    memcpy(b->leaves[b->n_leaves++], t->hash, CAIRN_HASH_BYTES);
    b->wrote_any = 1;
    return CAIRN_OK;
}

/* Load (once per batch) the run's state, build one request's transition
 * on it and write its record.  A failure of the request is in r->err; a
 * returned error fails the whole batch. */
static cairn_err one_request(batch *b, cairn_txn *txn, cairn_append_req *r,
                             uint64_t *pos)
{
    cairn_journal *j = b->j;
    run_slot *rs = slot_for(b, r->run_num);
    cairn_err err = CAIRN_OK;
    if (!rs->loaded) {
        err =
            cairn__load_state_lazy(j, txn, &b->head, r->run_num, &rs->st,
                                   rs->old_leaf, r->detail, sizeof(r->detail));
        if (err == CAIRN_OK && (err = cairn__state_is_run(
                                    &rs->st, r->run_id, r->run_num, r->detail,
                                    sizeof(r->detail))) != CAIRN_OK) {
            cairn__state_free(&rs->st);
        }
        rs->loaded = err == CAIRN_OK;
    }
    cairn_transition t;
    int built = 0, storage = 0;
    if (err == CAIRN_OK) {
        err = cairn__transition_build(j, &rs->st, r, NULL, *pos, &t);
        built = err == CAIRN_OK;
    }
    if (built && t.bytes != NULL) {
        err = put_record(b, txn, rs, &t, *pos, r->detail, sizeof(r->detail));
        /* A summary's changed rows now (a section 9 blob gets every row
         * when sealed): their paths were proven with the rows. */
        if (err == CAIRN_OK && rs->st.loaded != NULL) {
            err = cairn__runstate_put_rows(txn, &rs->st, r->detail,
                                           sizeof(r->detail));
        }
        storage = err != CAIRN_OK;
        r->wrote = err == CAIRN_OK;
        *pos += r->wrote ? 1u : 0u;
    }
    if (built) {
        cairn__transition_free(&t);
    }
    if (err != CAIRN_OK && storage) {
        return err;
    }
    if (err != CAIRN_OK) {
        r->err = err;
        if (r->detail[0] == '\0') {
            cairn__fmt(r->detail, sizeof(r->detail), "%s", cairn_strerror(err));
        }
        return CAIRN_OK;
    }
    r->detail[0] = '\0'; /* a success has no failure to describe */
    return r->after != NULL ? cairn__state_copy(&rs->st, r->after) : CAIRN_OK;
}

/* Each touched run's state once, then its checkpoint, in position order
 * (checkpoints are appended). */
static cairn_err seal_runs(batch *b, cairn_txn *txn)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_runs; i++) {
        if (!b->runs[i].touched) {
            continue;
        }
        size_t k = n++;
        while (k > 0 && b->order[k - 1]->cp_pos > b->runs[i].cp_pos) {
            b->order[k] = b->order[k - 1];
            k--;
        }
        b->order[k] = &b->runs[i];
    }
    cairn_err err = CAIRN_OK;
    for (size_t i = 0; i < n && err == CAIRN_OK; i++) {
        cairn_run_leaf *m = &b->moved[i];
        memset(m, 0, sizeof(*m));
        m->run_num = b->order[i]->run_num;
        memcpy(m->old_leaf, b->order[i]->old_leaf, CAIRN_HASH_BYTES);
        err = cairn__runstate_put(txn, &b->order[i]->st, &b->order[i]->st,
                                  m->new_leaf, b->detail, sizeof(b->detail));
    }
    for (size_t i = 0; i < n && err == CAIRN_OK; i++) {
        err = cairn__put_checkpoint(b->j, txn, &b->order[i]->st,
                                    b->order[i]->cp_wall, b->order[i]->cp_pos,
                                    b->detail, sizeof(b->detail));
    }
    if (err == CAIRN_OK) {
        err = cairn__head_write(
            b->j, txn, &b->head, (const uint8_t(*)[CAIRN_HASH_BYTES])b->leaves,
            b->n_leaves, b->moved, n, b->detail, sizeof(b->detail));
    }
    if (err != CAIRN_OK && b->detail[0] == '\0') {
        cairn__fmt(b->detail, sizeof(b->detail), "%s",
                   cairn__store_detail(b->j->store));
    }
    return err;
}

static cairn_err batch_fn(cairn_txn *txn, void *vb)
{
    batch *b = vb;
    cairn_journal *j = b->j;
    reset(b);
    b->attempts++;
    uint64_t pos = 0;
    cairn_err err =
        cairn__head_load(j, txn, &b->head, b->detail, sizeof(b->detail));
    if (err == CAIRN_OK) {
        err = cairn__next_position(j->store, txn, &pos, b->detail,
                                   sizeof(b->detail));
    }
    for (cairn_append_req *r = b->first; r != NULL && err == CAIRN_OK;
         r = r->next) {
        err = one_request(b, txn, r, &pos);
        if (err != CAIRN_OK) {
            cairn__fmt(b->detail, sizeof(b->detail), "%s",
                       r->detail[0] != '\0' ? r->detail : cairn_strerror(err));
        }
    }
    if (err == CAIRN_OK && !b->wrote_any) {
        b->empty = 1;
        return CAIRN_ENOTHING; /* abort: there is nothing to commit */
    }
    if (err == CAIRN_OK) {
        err = seal_runs(b, txn);
    }
    b->fn_failed = err != CAIRN_OK;
    return err;
}

/* The whole batch failed: every request gets @p err. */
static void fail_all(batch *b, cairn_err err)
{
    if (err == CAIRN_EFATAL && b->attempts == 0) {
        cairn__fmt(b->detail, sizeof(b->detail),
                   "a commit failed earlier: close and reopen the journal");
    } else if (!b->fn_failed || b->detail[0] == '\0') {
        cairn__fmt(b->detail, sizeof(b->detail), "%s",
                   cairn__store_detail(b->j->store));
    }
    for (cairn_append_req *r = b->first; r != NULL; r = r->next) {
        r->err = err;
        r->wrote = 0;
        memcpy(r->detail, b->detail, sizeof(r->detail));
        reset_after(r);
    }
}

void cairn__batch_commit(cairn_journal *j, cairn_append_req *first, size_t n)
{
    batch b;
    memset(&b, 0, sizeof(b));
    b.j = j;
    b.first = first;
    b.n = n;
    b.runs = calloc(n, sizeof(run_slot));
    b.order = calloc(n, sizeof(run_slot *));
    b.leaves = calloc(n, sizeof(*b.leaves));
    b.moved = calloc(n, sizeof(cairn_run_leaf));
    cairn_err err = CAIRN_ENOMEM;
    if (b.runs != NULL && b.order != NULL && b.leaves != NULL &&
        b.moved != NULL) {
        err = cairn__store_write(j->store, batch_fn, &b);
    } else {
        b.fn_failed = 1;
        cairn__fmt(b.detail, sizeof(b.detail), "group commit: out of memory");
    }
    if (err == CAIRN_ENOTHING && b.empty) {
        err = CAIRN_OK;
    }
    if (err != CAIRN_OK) {
        fail_all(&b, err);
    }
    for (cairn_append_req *r = first; r != NULL; r = r->next) {
        if (r->err != CAIRN_OK) {
            reset_after(r);
        }
    }
    for (size_t i = 0; b.runs != NULL && i < b.n_runs; i++) {
        cairn__state_free(&b.runs[i].st);
    }
    free(b.runs);
    free(b.order);
    free(b.leaves);
    free(b.moved);
}
