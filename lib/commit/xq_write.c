/*
 * xq_write.c - the leader's side of shared commits (see store/xq.h): parse
 * the queued payloads (xq_commit.c lays them out), write them in one
 * transaction of the store, ending with the journal's new head, and, for
 * an owner whose leader died, find out whether its record is in the
 * journal.  The leader uses its own handle's key to prove the head it
 * extends and to sign the new one; no plan is needed.
 */
#include "commit/xq_write.h"

#include "commit/commit.h"
#include "journal/head.h"
#include "journal/oprows.h"

#include "base/bytes.h"
#include "format/record.h"
#include "keys/key.h"

#include <stdlib.h>
#include <string.h>

int cairn__xq_payload_parse(const uint8_t *p, size_t len, xpayload *out)
{
    cairn_rd r;
    cairn__rd_init(&r, p, len);
    if (cairn__rd_u64(&r, &out->run_num) || cairn__rd_u64(&r, &out->seq) ||
        cairn__rd_view(&r, CAIRN_HASH_BYTES, &out->prev) ||
        cairn__rd_u32(&r, &out->rec_len) ||
        cairn__rd_u32(&r, &out->state_len) ||
        cairn__rd_u32(&r, &out->last_pos_off) ||
        cairn__rd_view(&r, CAIRN_CHECKPOINT_BYTES, &out->cp) ||
        cairn__rd_view(&r, out->rec_len, &out->rec) ||
        cairn__rd_view(&r, out->state_len, &out->state) ||
        cairn__rd_u32(&r, &out->n_rows)) {
        return -1;
    }
    out->rows_len = cairn__rd_left(&r);
    out->rows = p + r.off;
    for (uint32_t i = 0; i < out->n_rows; i++) {
        uint32_t op, rl;
        const uint8_t *row;
        if (cairn__rd_u32(&r, &op) || cairn__rd_u32(&r, &rl) || rl == 0 ||
            cairn__rd_view(&r, rl, &row)) {
            return -1;
        }
    }
    if (cairn__rd_left(&r) != 0) {
        return -1;
    }
    return out->last_pos_off > out->state_len ||
                   out->state_len - out->last_pos_off < 8
               ? -1
               : 0;
}

int cairn__xq_state_tail(const uint8_t *p, size_t len, uint64_t *next_seq,
                         const uint8_t **head, size_t *last_pos_off)
{
    cairn_rd r;
    uint8_t u8;
    uint16_t n;
    uint64_t u64;
    const uint8_t *skip;
    cairn__rd_init(&r, p, len);
    if (cairn__rd_u8(&r, &u8) || (u8 != 1 && u8 != 2) ||
        cairn__rd_u8(&r, &u8) || cairn__rd_u64(&r, &u64)) {
        return -1;
    }
    for (int i = 0; i < 2; i++) { /* run_id, plan_id */
        if (cairn__rd_u16(&r, &n) || cairn__rd_view(&r, n, &skip)) {
            return -1;
        }
    }
    if (cairn__rd_view(&r, CAIRN_HASH_BYTES + CAIRN_KEY_ID_BYTES, &skip) ||
        cairn__rd_u16(&r, &n) || cairn__rd_view(&r, n, &skip) ||
        cairn__rd_u64(&r, next_seq) ||
        cairn__rd_view(&r, CAIRN_HASH_BYTES, head) || cairn__rd_left(&r) < 8) {
        return -1;
    }
    *last_pos_off = r.off;
    return 0;
}

/* ---- the leader: write ------------------------------------------------ */

typedef struct wbatch {
    cairn_journal *j;
    cairn_xq_item *items;
    size_t n;
    size_t wrote;
    cairn_head head; /* proven at the start of the transaction */
    uint8_t (*leaves)[CAIRN_HASH_BYTES]; /* records written, in order */
    cairn_run_leaf *moved; /* runs touched: first leaf proven, last leaf */
    size_t n_moved;
    char detail[CAIRN__XQ_DETAIL];
} wbatch;

static void item_fail(cairn_xq_item *it, cairn_err err, const char *what)
{
    it->err = err;
    cairn__fmt(it->detail, sizeof(it->detail), "%s", what);
}

/* The run's entry among the runs this transaction touched (NULL: not
 * yet). */
static cairn_run_leaf *moved_run(wbatch *b, uint64_t run_num)
{
    for (size_t i = 0; i < b->n_moved; i++) {
        if (b->moved[i].run_num == run_num) {
            return &b->moved[i];
        }
    }
    return NULL;
}

/* Is the run still where the payload was prepared from?  0 yes, 1 stale,
 * else an error for the item.  The state is proven against the head the
 * first time the transaction touches the run (later, it is this
 * transaction's own). */
static int check_base(wbatch *b, cairn_txn *txn, const xpayload *pl,
                      cairn_err *err, char *detail, size_t detail_len)
{
    uint8_t key[16];
    const uint8_t *v, *head;
    size_t vl, off;
    uint64_t next;
    int found = 0;
    cairn__store64_be(key, pl->run_num);
    *err = cairn__txn_get(txn, CAIRN_DBI_RUNS, key, 8, &v, &vl, &found);
    if (*err != CAIRN_OK || !found) {
        *err = *err != CAIRN_OK ? *err : CAIRN_ENORUN;
        return -1;
    }
    if (moved_run(b, pl->run_num) == NULL) {
        cairn_run_leaf *m = &b->moved[b->n_moved];
        memset(m, 0, sizeof(*m));
        m->run_num = pl->run_num;
        cairn__state_leaf(v, vl, m->old_leaf);
        memcpy(m->new_leaf, m->old_leaf, CAIRN_HASH_BYTES); /* until written */
        *err = cairn__head_prove_state(txn, &b->head, pl->run_num, m->old_leaf,
                                       detail, detail_len);
        if (*err != CAIRN_OK) {
            return -1;
        }
        b->n_moved++;
    }
    if (cairn__xq_state_tail(v, vl, &next, &head, &off) != 0) {
        *err = CAIRN_ECORRUPT;
        return -1;
    }
    if (next != pl->seq || memcmp(head, pl->prev, CAIRN_HASH_BYTES) != 0) {
        return 1;
    }
    cairn__store64_be(key + 8, pl->seq);
    *err = cairn__txn_get(txn, CAIRN_DBI_INDEX, key, 16, &v, &vl, &found);
    if (*err == CAIRN_OK && found) {
        *err = CAIRN_ECORRUPT; /* the state says next, the index has it */
    }
    return *err != CAIRN_OK ? -1 : 0;
}

/* Was the payload's checkpoint made for the key this leader signs the
 * head with (or, in an unsigned journal, for none)?  Its key_id names the
 * caller's key (head-sealed, flag bit 1, docs/FORMAT.md section 25; or
 * signed, bit 0).  A process holding a key the journal rotated away from
 * (section 24) must not get its record under the new key's head. */
static int same_signer(const cairn_journal *j, const xpayload *pl)
{
    const uint8_t *cp = pl->cp;
    int is_signed = (cp[1] & 3u) != 0;
    if (j->signer == NULL) {
        return !is_signed;
    }
    return is_signed &&
           memcmp(cp + 58, j->signer->key_id, CAIRN_KEY_ID_BYTES) == 0;
}

/* Offset of ops_root in a summary from its last_pos (FORMAT.md 23.2):
 * last_pos, created_ns, updated_ns, n_ops, 6 counts, preflight_open,
 * head_op, done_prefix, attempted_end. */
#define OPS_ROOT_FROM_LAST_POS (3u * 8u + 11u * 4u)
#define N_OPS_FROM_LAST_POS (3u * 8u)

/* The rows the payload's record changes, each after its stored path
 * proves under the stored summary's ops_root (which the head proved,
 * check_base()); then the new ops_root goes into the payload's summary.
 * A failure fails the batch: rows may be half written. */
static cairn_err put_rows(cairn_txn *txn, const xpayload *pl, uint8_t *state,
                          char *detail, size_t detail_len)
{
    uint8_t key[8];
    const uint8_t *v;
    size_t vl;
    int found = 0;
    size_t at = pl->last_pos_off + OPS_ROOT_FROM_LAST_POS;
    if (pl->state[0] != 2 || (pl->state[1] & 32u) != 0) {
        /* not a summary of a live run: it changes no row */
        return pl->n_rows == 0 ? CAIRN_OK : CAIRN_ECORRUPT;
    }
    if (at + CAIRN_HASH_BYTES > pl->state_len) {
        return CAIRN_ECORRUPT;
    }
    cairn__store64_be(key, pl->run_num);
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_RUNS, key, sizeof(key), &v, &vl, &found);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn_state cur;
    if (!found || vl == 0 || v[0] != 2) {
        return CAIRN_ECORRUPT;
    }
    err = cairn__summary_decode(v, vl, &cur, detail, detail_len);
    if (err != CAIRN_OK) {
        return err; /* CAIRN_ECORRUPT, or CAIRN_ENOMEM */
    }
    cairn_state t; /* what cairn__oprows_update_raw() reads and moves */
    memset(&t, 0, sizeof(t));
    t.run_num = pl->run_num;
    t.n_ops = cur.n_ops;
    memcpy(t.ops_root, cur.ops_root, CAIRN_HASH_BYTES);
    int pruned = cur.pruned;
    cairn__state_free(&cur);
    if (pruned || cairn__load32_be(state + pl->last_pos_off +
                                   N_OPS_FROM_LAST_POS) != t.n_ops) {
        return CAIRN_ECORRUPT;
    }
    cairn_rd r;
    cairn__rd_init(&r, pl->rows, pl->rows_len);
    for (uint32_t i = 0; i < pl->n_rows && err == CAIRN_OK; i++) {
        uint32_t op, rl;
        const uint8_t *row;
        if (cairn__rd_u32(&r, &op) || cairn__rd_u32(&r, &rl) ||
            cairn__rd_view(&r, rl, &row)) {
            return CAIRN_ECORRUPT;
        }
        err =
            cairn__oprows_update_raw(txn, &t, op, row, rl, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        memcpy(state + at, t.ops_root, CAIRN_HASH_BYTES);
    }
    return err;
}

/* Record, index entry, state (with its last_pos) and checkpoint. */
static cairn_err put_item(cairn_txn *txn, const xpayload *pl, uint8_t *state,
                          uint64_t pos)
{
    uint8_t key[8], ikey[16];
    cairn__store64_be(key, pos);
    cairn__store64_be(ikey, pl->run_num);
    cairn__store64_be(ikey + 8, pl->seq);
    cairn__store64_be(state + pl->last_pos_off, pos);
    cairn_err err = cairn__txn_put(txn, CAIRN_DBI_RECORDS, key, 8, pl->rec,
                                   pl->rec_len, CAIRN_PUT_APPEND);
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_INDEX, ikey, 16, key, 8,
                             CAIRN_PUT_NOOVERWRITE);
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_RUNS, ikey, 8, state, pl->state_len,
                             0);
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_CHECKPOINTS, key, 8, pl->cp,
                             CAIRN_CHECKPOINT_BYTES, CAIRN_PUT_APPEND);
    }
    return err;
}

/* The write transaction (re-run from scratch after a map growth). */
static cairn_err write_fn(cairn_txn *txn, void *vb)
{
    wbatch *b = vb;
    uint64_t pos = 0;
    b->wrote = 0;
    b->n_moved = 0;
    b->detail[0] = '\0';
    cairn_err err =
        cairn__head_load(b->j, txn, &b->head, b->detail, sizeof(b->detail));
    if (err == CAIRN_OK) {
        err = cairn__next_position(b->j->store, txn, &pos, NULL, 0);
    }
    for (size_t i = 0; i < b->n && err == CAIRN_OK; i++) {
        cairn_xq_item *it = &b->items[i];
        xpayload pl;
        cairn_err bad = CAIRN_OK;
        memset(&pl, 0, sizeof(pl));
        it->err = CAIRN_OK;
        it->stale = 0;
        it->pos = 0;
        it->detail[0] = '\0';
        if (cairn__xq_payload_parse(it->data, it->len, &pl) != 0) {
            item_fail(it, CAIRN_ECORRUPT, "commit queue: malformed payload");
            continue;
        }
        if (!same_signer(b->j, &pl)) {
            item_fail(it, CAIRN_EKEYMISMATCH,
                      "the checkpoint is not sealed by the key that signs "
                      "the journal's head (rotated away from, or another "
                      "key): nothing written");
            continue;
        }
        char why[CAIRN__XQ_DETAIL];
        why[0] = '\0';
        int base = check_base(b, txn, &pl, &bad, why, sizeof(why));
        if (base < 0) {
            item_fail(it, bad, why[0] != '\0' ? why : cairn_strerror(bad));
            continue;
        }
        if (base > 0) {
            it->stale = 1;
            continue;
        }
        /* The state sits in the payload, which the leader owns now. */
        uint8_t *state = it->data + (pl.state - it->data);
        err = put_rows(txn, &pl, state, b->detail, sizeof(b->detail));
        if (err == CAIRN_OK) {
            err = put_item(txn, &pl, state, pos);
        }
        cairn__state_leaf(state, pl.state_len,
                          moved_run(b, pl.run_num)->new_leaf);
        cairn__leaf_hash(pl.rec, pl.rec_len, b->leaves[b->wrote]);
        it->pos = pos++;
        b->wrote++;
    }
    if (err == CAIRN_OK && b->wrote == 0) {
        return CAIRN_ENOTHING; /* abort: nothing to commit */
    }
    if (err == CAIRN_OK) {
        err = cairn__head_write(
            b->j, txn, &b->head, (const uint8_t(*)[CAIRN_HASH_BYTES])b->leaves,
            b->wrote, b->moved, b->n_moved, b->detail, sizeof(b->detail));
    }
    return err;
}

void cairn__xq_write_batch(cairn_journal *j, cairn_xq_item *items, size_t n)
{
    cairn_store *store = j->store;
    wbatch b;
    memset(&b, 0, sizeof(b));
    b.j = j;
    b.items = items;
    b.n = n;
    b.leaves = calloc(n, sizeof(*b.leaves));
    b.moved = calloc(n, sizeof(*b.moved));
    int was_fatal = cairn__store_fatal(store);
    cairn_err err = was_fatal ? CAIRN_EFATAL
                    : b.leaves == NULL || b.moved == NULL
                        ? CAIRN_ENOMEM
                        : cairn__store_write(store, write_fn, &b);
    free(b.leaves);
    free(b.moved);
    if (err == CAIRN_ENOTHING && b.wrote == 0) {
        return;
    }
    if (err == CAIRN_OK) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        items[i].stale = 0;
        items[i].pos = 0;
        item_fail(&items[i], err,
                  was_fatal             ? "the leading process's journal "
                                          "handle failed a commit earlier"
                  : b.detail[0] != '\0' ? b.detail
                                        : cairn__store_detail(store));
    }
}

/* ---- an owner after its leader died ------------------------------------ */

/* The record @p pl names is in the journal, byte for byte: *pos, *found. */
static cairn_err look_up(cairn_txn *txn, const xpayload *pl, uint64_t *pos,
                         int *found)
{
    uint8_t key[16];
    const uint8_t *v;
    size_t vl;
    int have = 0;
    cairn__store64_be(key, pl->run_num);
    cairn__store64_be(key + 8, pl->seq);
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_INDEX, key, 16, &v, &vl, &have);
    if (err != CAIRN_OK || !have || vl != 8) {
        return err;
    }
    *pos = cairn__load64_be(v);
    err = cairn__txn_get(txn, CAIRN_DBI_RECORDS, v, 8, &v, &vl, &have);
    *found = err == CAIRN_OK && have && vl == pl->rec_len &&
             memcmp(v, pl->rec, vl) == 0;
    return err;
}

typedef struct lookup_ctx {
    const xpayload *pl;
    uint64_t *pos;
    int *found;
} lookup_ctx;

/* Inside a write transaction that is always aborted: taking LMDB's writer
 * mutex first recovers it from the dead leader, which brings the lock
 * table up to the leader's last commit.  A plain read transaction could
 * still start from the commit before it (the leader may have died after
 * writing its meta page and before publishing it to readers), and the
 * owner would then queue again a transition that is already in the
 * journal and report a failure for it. */
static cairn_err lookup_fn(cairn_txn *txn, void *vctx)
{
    lookup_ctx *l = vctx;
    cairn_err err = look_up(txn, l->pl, l->pos, l->found);
    return err == CAIRN_OK ? CAIRN_ENOTHING : err;
}

cairn_err cairn__xq_committed(cairn_store *store, const uint8_t *data,
                              size_t len, uint64_t *pos, int *found)
{
    xpayload pl;
    *found = 0;
    if (cairn__xq_payload_parse(data, len, &pl) != 0) {
        return CAIRN_ECORRUPT;
    }
    lookup_ctx l = {&pl, pos, found};
    cairn_err err = cairn__store_write(store, lookup_fn, &l);
    err = err == CAIRN_ENOTHING ? CAIRN_OK : err;
    if (err == CAIRN_OK && *found) {
        /* Visible, but the dead leader may not have flushed it. */
        err = cairn__store_sync(store);
    }
    return err;
}
