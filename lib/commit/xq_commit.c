/*
 * xq_commit.c - the journal side of shared commits (see xq.h): the
 * caller prepares a transition into a payload, the leader writes
 * payloads, an owner checks an orphaned payload.
 *
 * Payload (big-endian, bounded; only ever read back by this file):
 *   u64 run_num | u64 seq | 32 prev (the run's head it was built on)
 *   | u32 record length | u32 state length | u32 offset of last_pos in
 *   the state | 130 checkpoint | record | state
 * The state is the run's state after the record, encoded (FORMAT.md
 * section 9) with last_pos 0: the leader writes the record's position
 * there.  Nothing else in record, state or checkpoint depends on the
 * position, which is why all of it can be built and signed before the
 * write transaction.
 */
#include "store/xq_int.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "keys/key.h"

#include <stdlib.h>
#include <string.h>

#define HDR_BYTES (8u + 8u + CAIRN_HASH_BYTES + 4u + 4u + 4u)
#define CP_AT HDR_BYTES
#define BODY_AT (HDR_BYTES + CAIRN_CHECKPOINT_BYTES)

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
        cairn__rd_left(&r) != 0) {
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
    if (cairn__rd_u8(&r, &u8) || u8 != 1 || cairn__rd_u8(&r, &u8) ||
        cairn__rd_u64(&r, &u64)) {
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

/* ---- the caller: prepare ---------------------------------------------- */

/* Lay out the payload of @p rec (encoded: @p bytes) and the state after
 * it (@p st); the checkpoint is added by the caller. */
static cairn_err lay_out(const cairn_state *st, const uint8_t prev[],
                         const uint8_t *bytes, size_t len, uint8_t **out,
                         size_t *out_len)
{
    uint8_t *blob = NULL;
    size_t blob_len = 0, off = 0;
    uint64_t next;
    const uint8_t *head;
    cairn_err err = cairn__state_encode(st, &blob, &blob_len);
    if (err != CAIRN_OK) {
        return err;
    }
    if (cairn__xq_state_tail(blob, blob_len, &next, &head, &off) != 0 ||
        len > UINT32_MAX || blob_len > UINT32_MAX) {
        free(blob);
        return CAIRN_EINVAL;
    }
    size_t total = BODY_AT + len + blob_len;
    uint8_t *p = malloc(total);
    if (p == NULL) {
        free(blob);
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
    free(blob);
    *out = p;
    *out_len = total;
    return CAIRN_OK;
}

/* Read the run's state, let the request build its record, validate and
 * apply it: *payload is NULL when the request writes nothing.  Runs with
 * sync->prep_mu held and j->sink on the request's detail. */
static cairn_err prepare(cairn_journal *j, cairn_append_req *r, cairn_state *st,
                         uint8_t **payload, size_t *len)
{
    cairn_txn *txn = NULL;
    cairn_record rec;
    uint8_t *bytes = NULL, hash[CAIRN_HASH_BYTES], prev[CAIRN_HASH_BYTES];
    size_t n = 0;
    char why[512];
    cairn__record_init(&rec);
    cairn_err err = cairn__store_read(j->store, &txn);
    if (err == CAIRN_OK) {
        err = cairn__load_state(j, txn, r->run_num, st);
        cairn__txn_end(txn);
    } else {
        cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    err = err == CAIRN_OK ? cairn__check_key(j, st) : err;
    if (err == CAIRN_OK) {
        memcpy(prev, st->head, CAIRN_HASH_BYTES);
        err = cairn__stamp(j, st, &rec, r->run_num, st->next_seq);
    }
    err = err == CAIRN_OK ? r->build(j, st, &rec, r->ctx) : err;
    if (err == CAIRN_OK && rec.type != 0) {
        err = cairn__record_encode(&rec, &bytes, &n, why, sizeof(why));
        if (err == CAIRN_OK) {
            cairn__leaf_hash(bytes, n, hash);
            why[0] = '\0';
            err = cairn__state_apply(st, &rec, hash, 0, why, sizeof(why));
        }
        if (err != CAIRN_OK) {
            cairn__jfail(j, err, "%s", why);
        }
    }
    if (err == CAIRN_OK && rec.type != 0) {
        err = lay_out(st, prev, bytes, n, payload, len);
    }
    free(bytes);
    cairn__record_free(&rec);
    return err;
}

/* One attempt: prepare, sign, queue.  1: decided; 0: stale, again;
 * -1: too big for a slot (nothing written). */
static int attempt(cairn_journal *j, cairn_append_req *r)
{
    cairn_state st;
    uint8_t *p = NULL;
    size_t len = 0;
    cairn_xq_item it;
    memset(&st, 0, sizeof(st));
    pthread_mutex_lock(&j->sync->prep_mu);
    j->sink = r->detail;
    r->detail[0] = '\0';
    cairn_err err = prepare(j, r, &st, &p, &len);
    j->sink = NULL;
    pthread_mutex_unlock(&j->sync->prep_mu);
    if (err == CAIRN_OK && p != NULL && len > XQ_SLOT_BYTES) {
        free(p);
        cairn__state_free(&st);
        return -1;
    }
    if (err == CAIRN_OK && p != NULL) {
        err = cairn__make_checkpoint(j, &st, p + CP_AT);
        if (err != CAIRN_OK) {
            cairn__fmt(r->detail, sizeof(r->detail),
                       "signing the checkpoint failed");
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

/* ---- the leader: write ------------------------------------------------ */

typedef struct wbatch {
    cairn_journal *j;
    cairn_xq_item *items;
    size_t n;
    size_t wrote;
} wbatch;

static void item_fail(cairn_xq_item *it, cairn_err err, const char *what)
{
    it->err = err;
    cairn__fmt(it->detail, sizeof(it->detail), "%s", what);
}

/* Is the run still where the payload was prepared from?  0 yes, 1 stale,
 * else an error for the item. */
static int check_base(cairn_txn *txn, const xpayload *pl, cairn_err *err)
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

/* The position the next record gets (cairn__next_position without
 * touching the handle's detail: the leader holds no sync->prep_mu). */
static cairn_err next_position(cairn_txn *txn, uint64_t *pos)
{
    const uint8_t *k;
    size_t kl;
    int found = 0;
    cairn_err err =
        cairn__txn_last_key(txn, CAIRN_DBI_RECORDS, &k, &kl, &found);
    if (err == CAIRN_OK && found && kl != 8) {
        err = CAIRN_ECORRUPT;
    }
    *pos = err == CAIRN_OK && found ? cairn__load64_be(k) + 1 : 1;
    return err;
}

/* The write transaction (re-run from scratch after a map growth). */
static cairn_err write_fn(cairn_txn *txn, void *vb)
{
    wbatch *b = vb;
    uint64_t pos = 0;
    b->wrote = 0;
    cairn_err err = next_position(txn, &pos);
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
        int base = check_base(txn, &pl, &bad);
        if (base < 0) {
            item_fail(it, bad, cairn_strerror(bad));
            continue;
        }
        if (base > 0) {
            it->stale = 1;
            continue;
        }
        /* The state sits in the payload, which the leader owns now. */
        err = put_item(txn, &pl, it->data + (pl.state - it->data), pos);
        it->pos = pos++;
        b->wrote++;
    }
    if (err == CAIRN_OK && b->wrote == 0) {
        return CAIRN_ENOTHING; /* abort: nothing to commit */
    }
    return err;
}

void cairn__xq_write_batch(cairn_journal *j, cairn_xq_item *items, size_t n)
{
    wbatch b = {j, items, n, 0};
    int was_fatal = cairn__store_fatal(j->store);
    cairn_err err =
        was_fatal ? CAIRN_EFATAL : cairn__store_write(j->store, write_fn, &b);
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
                  was_fatal ? "the leading process's journal handle failed "
                              "a commit earlier"
                            : cairn__store_detail(j->store));
    }
}

/* ---- an owner after its leader died ------------------------------------ */

/* The record @p pl names is in the journal, byte for byte: *pos, *found.
 * (No cairn__jfail here: this runs outside sync->prep_mu.) */
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

cairn_err cairn__xq_committed(cairn_journal *j, const uint8_t *data, size_t len,
                              uint64_t *pos, int *found)
{
    xpayload pl;
    *found = 0;
    if (cairn__xq_payload_parse(data, len, &pl) != 0) {
        return CAIRN_ECORRUPT;
    }
    lookup_ctx l = {&pl, pos, found};
    cairn_err err = cairn__store_write(j->store, lookup_fn, &l);
    err = err == CAIRN_ENOTHING ? CAIRN_OK : err;
    if (err == CAIRN_OK && *found) {
        /* Visible, but the dead leader may not have flushed it. */
        err = cairn__store_sync(j->store);
    }
    return err;
}
