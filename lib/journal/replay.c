/*
 * replay.c - walking a run's records: the public record iterator, the run
 * list, and replay (recompute the state from the records alone and compare
 * it with the materialised state).
 */
#include "journal/journal.h"

#include "base/bytes.h"

#include <stdlib.h>
#include <string.h>

/* Is the record at position @p pos a PRUNE record (its type byte)? */
static int is_prune_at(cairn_txn *txn, uint64_t pos)
{
    uint8_t key[8];
    const uint8_t *v;
    size_t vl;
    int found = 0;
    cairn__store64_be(key, pos);
    return cairn__txn_get(txn, CAIRN_DBI_RECORDS, key, sizeof(key), &v, &vl,
                          &found) == CAIRN_OK &&
           found && vl > 1 && v[1] == CAIRN_REC_PRUNE;
}

cairn_err cairn__walk_run(cairn_journal *j, cairn_txn *txn, uint64_t run_num,
                          uint64_t from_seq, cairn_walk_fn fn, void *ctx)
{
    uint8_t key[16];
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found;
    cairn__store64_be(key, run_num);
    cairn__store64_be(key + 8, from_seq);
    cairn_err err = cairn__cursor_open(txn, CAIRN_DBI_INDEX, &cur);
    if (err == CAIRN_OK) {
        err =
            cairn__cursor_seek(cur, key, sizeof(key), &k, &kl, &v, &vl, &found);
    }
    uint64_t expect = from_seq;
    while (err == CAIRN_OK && found && kl == 16 &&
           cairn__load64_be(k) == run_num) {
        uint64_t seq = cairn__load64_be(k + 8), pos;
        /* A pruned run's index holds its PRUNE record alone: the walk
         * starts there (docs/FORMAT.md section 22). */
        if (vl == 8 && seq > expect && expect == from_seq &&
            is_prune_at(txn, cairn__load64_be(v))) {
            expect = seq;
        }
        if (vl != 8 || seq != expect) {
            err = cairn__jfail(j, CAIRN_ECORRUPT,
                               "run %llu: index jumps "
                               "from seq %llu to %llu",
                               (unsigned long long)run_num,
                               (unsigned long long)expect,
                               (unsigned long long)seq);
            break;
        }
        pos = cairn__load64_be(v);
        err = fn(ctx, j, txn, seq, pos);
        expect++;
        if (err == CAIRN_OK) {
            err = cairn__cursor_next(cur, &k, &kl, &v, &vl, &found);
        }
    }
    cairn__cursor_close(cur);
    return err == CAIRN_EINTR ? CAIRN_OK : err;
}

cairn_err cairn__read_record(cairn_journal *j, cairn_txn *txn, uint64_t seq,
                             uint64_t pos, cairn_record *rec,
                             uint8_t hash[CAIRN_HASH_BYTES])
{
    return cairn__read_record_len(j, txn, seq, pos, rec, hash, NULL);
}

cairn_err cairn__read_record_len(cairn_journal *j, cairn_txn *txn, uint64_t seq,
                                 uint64_t pos, cairn_record *rec,
                                 uint8_t hash[CAIRN_HASH_BYTES], size_t *len)
{
    uint8_t key[8];
    const uint8_t *v;
    size_t vl;
    int found;
    char why[256];
    cairn__store64_be(key, pos);
    cairn_err err = cairn__txn_get(txn, CAIRN_DBI_RECORDS, key, sizeof(key), &v,
                                   &vl, &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (!found) {
        return cairn__jfail(j, CAIRN_ECORRUPT,
                            "seq %llu: record at "
                            "position %llu is missing",
                            (unsigned long long)seq, (unsigned long long)pos);
    }
    err = cairn__record_decode(v, vl, rec, why, sizeof(why));
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "seq %llu (position %llu): %s",
                            (unsigned long long)seq, (unsigned long long)pos,
                            why);
    }
    if (hash != NULL) {
        cairn__leaf_hash(v, vl, hash);
    }
    if (len != NULL) {
        *len = vl;
    }
    return CAIRN_OK;
}

/* ---- public record iterator ---------------------------------------------- */

typedef struct each_ctx {
    int (*fn)(void *ctx, const cairn_record_view *record);
    void *ctx;
} each_ctx;

void cairn__record_view_fill(cairn_record_view *w, const cairn_record *r,
                             uint64_t pos)
{
    memset(w, 0, sizeof(*w));
    w->type = r->type;
    w->seq = r->seq;
    w->position = pos;
    w->wall_ns = r->wall_ns;
    w->mono_ns = r->mono_ns;
    memcpy(w->boot_id, r->boot_id, sizeof(w->boot_id));
    memcpy(w->prev, r->prev, sizeof(w->prev));
    w->actor = r->actor;
    w->run_id = r->run_id;
    w->plan_id = r->plan_id;
    w->plan_hash = r->plan_hash;
    w->plan_json = r->plan_json;
    w->plan_json_len = r->plan_len;
    w->preflight_id = r->preflight_id;
    w->op = r->op;
    w->attempt = r->attempt;
    w->claim_kind = r->claim_kind;
    w->holder_pid = r->holder_pid;
    w->holder_start = r->holder_start;
    w->host = r->host;
    w->outcome = r->outcome;
    w->error_class = r->error_class;
    w->reason = r->reason;
    w->outputs = r->outputs.v;
    w->n_outputs = r->outputs.n;
    w->evidence = r->evidence.v;
    w->n_evidence = r->evidence.n;
    w->until_ns = r->until_ns;
}

static cairn_err each_step(void *vctx, cairn_journal *j, cairn_txn *txn,
                           uint64_t seq, uint64_t pos)
{
    each_ctx *c = vctx;
    cairn_record rec;
    cairn_record_view view;
    uint8_t hash[CAIRN_HASH_BYTES];
    size_t len = 0;
    cairn_err err = cairn__read_record_len(j, txn, seq, pos, &rec, hash, &len);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__record_view_fill(&view, &rec, pos);
    memcpy(view.hash, hash, CAIRN_HASH_BYTES);
    view.encoded_len = len;
    cairn_tombstone *t = NULL;
    if (rec.type == CAIRN_REC_PRUNE &&
        (err = cairn__tombstone_from_record(&rec, hash, pos, &t)) != CAIRN_OK) {
        cairn__record_free(&rec);
        return err;
    }
    view.tombstone = t;
    int stop = c->fn(c->ctx, &view);
    cairn_tombstone_free(t);
    cairn__record_free(&rec);
    return stop ? CAIRN_EINTR : CAIRN_OK;
}

cairn_err
cairn_record_each(cairn_journal *journal, const char *run_id, uint64_t from_seq,
                  int (*fn)(void *ctx, const cairn_record_view *record),
                  void *ctx)
{
    if (journal == NULL || run_id == NULL || fn == NULL) {
        return CAIRN_EINVAL;
    }
    each_ctx c = {fn, ctx};
    cairn_err err =
        cairn__walk_run_id(journal, run_id, from_seq, each_step, &c);
    if (err == CAIRN_EIMPORTED) {
        journal->detail[0] = '\0';
        err = cairn__import_record_each(journal, run_id, from_seq, fn, ctx);
    }
    return err;
}

cairn_err cairn__walk_run_id(cairn_journal *j, const char *run_id,
                             uint64_t from_seq, cairn_walk_fn fn, void *ctx)
{
    cairn_txn *txn = NULL;
    uint64_t run_num;
    cairn_err err = cairn__store_read(j->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    err = cairn__lookup_run(j, txn, run_id, &run_num);
    if (err == CAIRN_OK) {
        err = cairn__walk_run(j, txn, run_num, from_seq, fn, ctx);
    }
    cairn__txn_end(txn);
    return err;
}

cairn_err cairn_run_each(cairn_journal *journal,
                         int (*fn)(void *ctx, const char *run_id), void *ctx)
{
    if (journal == NULL || fn == NULL) {
        return CAIRN_EINVAL;
    }
    cairn_txn *txn = NULL;
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found = 0;
    cairn_err err = cairn__store_read(journal->store, &txn);
    if (err == CAIRN_OK) {
        err = cairn__cursor_open(txn, CAIRN_DBI_RUNS, &cur);
    }
    if (err == CAIRN_OK) {
        err = cairn__cursor_seek(cur, NULL, 0, &k, &kl, &v, &vl, &found);
    }
    while (err == CAIRN_OK && found) {
        cairn_state st;
        char why[256];
        /* the run id is all it needs: a summary's rows are not read */
        err = vl > 0 && v[0] == 2
                  ? cairn__summary_decode(v, vl, &st, why, sizeof(why))
                  : cairn__state_decode(v, vl, &st, why, sizeof(why));
        if (err != CAIRN_OK) {
            cairn__jfail(journal, err, "runs: %s", why);
            break;
        }
        int stop = fn(ctx, st.run_id);
        cairn__state_free(&st);
        if (stop) {
            break;
        }
        err = cairn__cursor_next(cur, &k, &kl, &v, &vl, &found);
    }
    cairn__cursor_close(cur);
    cairn__txn_end(txn);
    return err;
}
