/*
 * xq_commit.c - the caller's side of shared commits (see store/xq.h): a
 * transition is prepared into a payload (its checkpoint head-sealed, not
 * signed: the leader signs the journal head once per commit) and queued;
 * the leader's
 * side (writing payloads, checking an orphaned one) is xq_write.c.
 *
 * Payload (big-endian, bounded; only ever read back by this file):
 *   u64 run_num | u64 seq | 32 prev (the run's head it was built on)
 *   | u32 record length | u32 state length | u32 offset of last_pos in
 *   the state | 130 checkpoint | record | state | u32 n_rows
 *   | n_rows x (u32 op | u32 length | the op's new row)
 * The state is the run's summary after the record (FORMAT.md section
 * 23.2) with last_pos 0: the leader writes the record's position there;
 * the rows are those the record changes (23.3), which the leader writes
 * with their op tree paths (after the stored paths prove) and then the
 * new ops_root into the summary.  Nothing else in record, state or
 * checkpoint depends on the position or the other runs, which is why all
 * of it can be built before the write transaction.  A run
 * still stored as section 9's blob (migrated) is committed by the handle
 * itself, which stores its rows.
 */
#include "commit/commit.h"
#include "commit/xq_queue.h"
#include "journal/oprows.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "keys/key.h"

#include <stdlib.h>
#include <string.h>

#define HDR_BYTES (8u + 8u + CAIRN_HASH_BYTES + 4u + 4u + 4u)
#define CP_AT HDR_BYTES
#define BODY_AT (HDR_BYTES + CAIRN_CHECKPOINT_BYTES)

/* ---- the caller: prepare ---------------------------------------------- */

/* Lay out the payload of @p rec (encoded: @p bytes) and the state after
 * it (@p st); the checkpoint is added by the caller. */
/* The rows of @p st that differ from @p before's, laid out: u32 n_rows,
 * then u32 op | u32 length | row each. */
static cairn_err changed_rows(const cairn_state *before, const cairn_state *st,
                              cairn_wr *w)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < st->n_ops && i < before->n_ops; i++) {
        n += cairn__oprow_same(&before->ops[i], &st->ops[i]) ? 0u : 1u;
    }
    cairn__wr_u32(w, n);
    for (uint32_t i = 0; i < st->n_ops && i < before->n_ops; i++) {
        if (cairn__oprow_same(&before->ops[i], &st->ops[i])) {
            continue;
        }
        uint8_t *row = NULL;
        size_t rl = 0;
        cairn_err err = cairn__oprow_encode(&st->ops[i], &row, &rl);
        if (err != CAIRN_OK) {
            return err;
        }
        cairn__wr_u32(w, i);
        cairn__wr_u32(w, (uint32_t)rl);
        cairn__wr_bytes(w, row, rl);
        free(row);
    }
    return cairn__wr_status(w);
}

static cairn_err lay_out(const cairn_state *before, const cairn_state *st,
                         const uint8_t prev[], const uint8_t *bytes, size_t len,
                         uint8_t **out, size_t *out_len)
{
    uint8_t *blob = NULL;
    size_t blob_len = 0, off = 0;
    uint64_t next;
    const uint8_t *head;
    cairn_wr rows;
    cairn__wr_init(&rows, SIZE_MAX / 4);
    cairn_err err = changed_rows(before, st, &rows);
    if (err == CAIRN_OK) {
        err = cairn__summary_encode(st, &blob, &blob_len);
    }
    if (err != CAIRN_OK) {
        cairn__wr_free(&rows);
        return err;
    }
    if (cairn__xq_state_tail(blob, blob_len, &next, &head, &off) != 0 ||
        len > UINT32_MAX || blob_len > UINT32_MAX) {
        free(blob);
        cairn__wr_free(&rows);
        return CAIRN_EINVAL;
    }
    size_t total = BODY_AT + len + blob_len + rows.len;
    uint8_t *p = malloc(total);
    if (p == NULL) {
        free(blob);
        cairn__wr_free(&rows);
        return CAIRN_ENOMEM;
    }
    cairn__store64_be(p, st->run_num);
    cairn__store64_be(p + 8, st->next_seq - 1);
    memcpy(p + 16, prev, CAIRN_HASH_BYTES);
    cairn__store32_be(p + 16 + CAIRN_HASH_BYTES, (uint32_t)len);
    cairn__store32_be(p + 20 + CAIRN_HASH_BYTES, (uint32_t)blob_len);
    cairn__store32_be(p + 24 + CAIRN_HASH_BYTES, (uint32_t)off);
    memset(p + CP_AT, 0, CAIRN_CHECKPOINT_BYTES);
    memcpy(p + BODY_AT, bytes, len);
    memcpy(p + BODY_AT + len, blob, blob_len);
    memcpy(p + BODY_AT + len + blob_len, rows.p, rows.len);
    free(blob);
    cairn__wr_free(&rows);
    *out = p;
    *out_len = total;
    return CAIRN_OK;
}

/* Read the run's state and build the request's transition on it:
 * *payload is NULL when the request writes nothing.  Failures are
 * described in r->detail. */
static cairn_err prepare(cairn_journal *j, cairn_append_req *r, cairn_state *st,
                         uint8_t **payload, size_t *len, uint64_t *wall_ns,
                         int *own)
{
    cairn_txn *txn = NULL;
    cairn_transition t;
    cairn_err err = cairn__store_read(j->store, &txn);
    if (err == CAIRN_OK) {
        err = cairn__load_state(j, txn, r->run_num, st, r->detail,
                                sizeof(r->detail));
        uint8_t key[8];
        const uint8_t *v;
        size_t vl;
        int found = 0;
        cairn__store64_be(key, r->run_num);
        if (err == CAIRN_OK &&
            cairn__txn_get(txn, CAIRN_DBI_RUNS, key, sizeof(key), &v, &vl,
                           &found) == CAIRN_OK &&
            found && (vl == 0 || v[0] != 2)) {
            *own = 1; /* not a summary yet: the handle stores its rows */
        }
        cairn__txn_end(txn);
        if (err == CAIRN_OK &&
            (err = cairn__state_is_run(st, r->run_id, r->run_num, r->detail,
                                       sizeof(r->detail))) != CAIRN_OK) {
            cairn__state_free(st);
        }
    } else {
        cairn__fmt(r->detail, sizeof(r->detail), "%s",
                   cairn__store_detail(j->store));
    }
    if (err != CAIRN_OK || *own) {
        return err;
    }
    cairn_state before; /* the rows that change are sent along */
    err = cairn__state_copy(st, &before);
    if (err != CAIRN_OK) {
        return err;
    }
    /* The position is the leader's to give: last_pos is written there. */
    err = cairn__transition_build(j, st, r, NULL, 0, &t);
    if (err != CAIRN_OK) {
        cairn__state_free(&before);
        return err;
    }
    if (t.bytes != NULL) {
        *wall_ns = t.rec.wall_ns;
        err = lay_out(&before, st, t.rec.prev, t.bytes, t.len, payload, len);
    }
    cairn__state_free(&before);
    cairn__transition_free(&t);
    return err;
}

/* One attempt: prepare, seal, queue.  1: decided; 0: stale, again;
 * -1: too big for a slot (nothing written). */
static int attempt(cairn_journal *j, cairn_append_req *r)
{
    cairn_state st;
    uint8_t *p = NULL;
    size_t len = 0;
    cairn_xq_item it;
    memset(&st, 0, sizeof(st));
    r->detail[0] = '\0';
    uint64_t wall_ns = 0;
    int own = 0;
    cairn_err err = prepare(j, r, &st, &p, &len, &wall_ns, &own);
    if (err == CAIRN_OK && (own || (p != NULL && len > XQ_SLOT_BYTES))) {
        free(p);
        cairn__state_free(&st);
        return -1;
    }
    if (err == CAIRN_OK && p != NULL) {
        err = cairn__make_checkpoint(j, &st, wall_ns, p + CP_AT);
        if (err != CAIRN_OK) {
            cairn__fmt(r->detail, sizeof(r->detail),
                       "sealing the checkpoint failed");
        }
    }
    memset(&it, 0, sizeof(it));
    int writes = p != NULL;
    if (err == CAIRN_OK && writes) {
        err = cairn__xq_submit(j->xq, j, p, len, &it);
        if (err == CAIRN_EINVAL) {
            free(p); /* not queued: the handle commits it on its own */
            cairn__state_free(&st);
            return -1;
        }
        if (err != CAIRN_OK) {
            cairn__fmt(r->detail, sizeof(r->detail), "%s", it.detail);
        }
    }
    free(p);
    if (err == CAIRN_OK && it.stale) {
        cairn__state_free(&st);
        return 0;
    }
    err = err == CAIRN_OK ? it.err : err;
    r->err = err;
    r->wrote = err == CAIRN_OK && writes;
    if (err != CAIRN_OK && it.detail[0] != '\0') {
        cairn__fmt(r->detail, sizeof(r->detail), "%s", it.detail);
    } else if (err != CAIRN_OK && r->detail[0] == '\0') {
        cairn__fmt(r->detail, sizeof(r->detail), "%s", cairn_strerror(err));
    } else if (err == CAIRN_OK) {
        r->detail[0] = '\0';
    }
    if (err == CAIRN_OK && r->after != NULL) {
        st.last_pos = r->wrote ? it.pos : st.last_pos;
        *r->after = st;
    } else {
        cairn__state_free(&st);
    }
    return 1;
}

/* Each stale answer means another transition of the run committed in
 * between; a run cannot be raced that often by honest callers. */
#define MAX_REBUILDS 1000

int cairn__xq_append(cairn_journal *j, cairn_append_req *r)
{
    for (int i = 0; i < MAX_REBUILDS; i++) {
        int rc = attempt(j, r); /* 0: stale, build again */
        if (rc != 0) {
            return rc > 0;
        }
    }
    r->err = CAIRN_EIO;
    r->wrote = 0;
    cairn__fmt(r->detail, sizeof(r->detail),
               "commit queue: gave up after %d rebuilds of a stale "
               "transition",
               MAX_REBUILDS);
    return 1;
}
