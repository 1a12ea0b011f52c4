/*
 * rebuild.c - replay: recompute a run's state from its records alone (the
 * canonical plan in its CREATE record, then every transition through the
 * same state machine) and compare it with the materialised state.
 */
#include "journal/journal.h"

#include "base/crypto.h"

#include <stdlib.h>
#include <string.h>

typedef struct rebuild_ctx {
    uint64_t run_num;
    cairn_state *st;
    cairn_rebuild_hook hook;
    void *hook_ctx;
} rebuild_ctx;

static cairn_err start_run(cairn_journal *j, rebuild_ctx *c,
                           const cairn_record *rec,
                           const uint8_t hash[CAIRN_HASH_BYTES], uint64_t pos)
{
    uint8_t genesis[CAIRN_HASH_BYTES], plan_hash[CAIRN_HASH_BYTES];
    char why[512];
    if (rec->type != CAIRN_REC_CREATE) {
        return cairn__jfail(j, CAIRN_ECORRUPT,
                            "seq 0: a %s record, not "
                            "create",
                            cairn_record_type_name(rec->type));
    }
    if (memcmp(rec->journal_id, j->journal_id, CAIRN_JOURNAL_ID_BYTES)) {
        return cairn__jfail(j, CAIRN_ECORRUPT,
                            "seq 0: journal_id belongs "
                            "to another journal");
    }
    cairn__genesis_hash(j->journal_id, rec->run_id, rec->key_id, genesis);
    if (memcmp(genesis, rec->prev, CAIRN_HASH_BYTES) != 0) {
        return cairn__jfail(j, CAIRN_ECORRUPT,
                            "seq 0: prev is not the "
                            "genesis hash of this "
                            "journal, run and key");
    }
    cairn__sha256(rec->plan_json, rec->plan_len, plan_hash);
    if (memcmp(plan_hash, rec->plan_hash, CAIRN_HASH_BYTES) != 0) {
        return cairn__jfail(j, CAIRN_ECORRUPT,
                            "seq 0: plan_hash is not "
                            "the SHA-256 of the plan");
    }
    cairn_plan *plan = NULL;
    cairn_err err = cairn__plan_from_canonical(rec->plan_json, rec->plan_len,
                                               &plan, why, sizeof(why));
    if (err != CAIRN_OK) {
        return cairn__jfail(j, CAIRN_ECORRUPT, "seq 0: stored plan: %s", why);
    }
    err = cairn__state_init(c->st, plan, rec, hash, pos, why, sizeof(why));
    cairn_plan_free(plan);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, CAIRN_ECORRUPT, "seq 0: %s", why);
    }
    return CAIRN_OK;
}

static cairn_err rebuild_step(void *vctx, cairn_journal *j, cairn_txn *txn,
                              uint64_t seq, uint64_t pos)
{
    rebuild_ctx *c = vctx;
    cairn_record rec;
    uint8_t hash[CAIRN_HASH_BYTES];
    char why[512];
    cairn_err err = cairn__read_record(j, txn, seq, pos, &rec, hash);
    if (err != CAIRN_OK) {
        return err;
    }
    if (rec.run_num != c->run_num || rec.seq != seq) {
        err = cairn__jfail(j, CAIRN_ECORRUPT,
                           "seq %llu: record names run "
                           "%llu seq %llu",
                           (unsigned long long)seq,
                           (unsigned long long)rec.run_num,
                           (unsigned long long)rec.seq);
    } else if (seq == 0) {
        err = start_run(j, c, &rec, hash, pos);
    } else {
        err = cairn__state_apply(c->st, &rec, hash, pos, why, sizeof(why));
        if (err != CAIRN_OK) {
            err = cairn__jfail(j, CAIRN_ECORRUPT,
                               "seq %llu: %s does not "
                               "apply: %s (%s)",
                               (unsigned long long)seq,
                               cairn_record_type_name(rec.type), why,
                               cairn_errname(err));
        }
    }
    if (err == CAIRN_OK && c->hook != NULL) {
        err = c->hook(c->hook_ctx, j, txn, &rec, hash, pos);
    }
    cairn__record_free(&rec);
    return err;
}

cairn_err cairn__rebuild(cairn_journal *j, cairn_txn *txn, uint64_t run_num,
                         cairn_state *out, cairn_rebuild_hook hook,
                         void *hook_ctx)
{
    memset(out, 0, sizeof(*out));
    rebuild_ctx c = {run_num, out, hook, hook_ctx};
    cairn_err err = cairn__walk_run(j, txn, run_num, 0, rebuild_step, &c);
    if (err == CAIRN_OK && out->next_seq == 0) {
        err = cairn__jfail(j, CAIRN_ECORRUPT, "run %llu has no records",
                           (unsigned long long)run_num);
    }
    if (err != CAIRN_OK) {
        cairn__state_free(out);
    }
    return err;
}

cairn_err cairn__compare_state(cairn_journal *j, const cairn_state *replayed,
                               const cairn_state *stored)
{
    uint8_t *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    cairn_err err = cairn__state_encode(replayed, &a, &al);
    if (err == CAIRN_OK) {
        err = cairn__state_encode(stored, &b, &bl);
    }
    if (err == CAIRN_OK && (al != bl || memcmp(a, b, al) != 0)) {
        uint32_t n =
            replayed->n_ops < stored->n_ops ? replayed->n_ops : stored->n_ops;
        uint32_t i = 0;
        while (i < n && replayed->ops[i].state == stored->ops[i].state &&
               replayed->ops[i].attempt == stored->ops[i].attempt) {
            i++;
        }
        err = cairn__jfail(j, CAIRN_ECORRUPT,
                           "materialised state differs from the replay of "
                           "the records (%llu vs %llu records; first "
                           "operation that differs: %u)",
                           (unsigned long long)stored->next_seq,
                           (unsigned long long)replayed->next_seq, i);
    }
    free(a);
    free(b);
    return err;
}

cairn_err cairn_replay_check(cairn_journal *journal, const char *run_id)
{
    if (journal == NULL || run_id == NULL) {
        return CAIRN_EINVAL;
    }
    cairn_txn *txn = NULL;
    uint64_t run_num;
    cairn_state replayed, stored;
    memset(&replayed, 0, sizeof(replayed));
    memset(&stored, 0, sizeof(stored));
    cairn_err err = cairn__store_read(journal->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(journal, err, "%s",
                            cairn__store_detail(journal->store));
    }
    err = cairn__lookup_run(journal, txn, run_id, &run_num);
    if (err == CAIRN_OK) {
        err = cairn__load_state(journal, txn, run_num, &stored, journal->detail,
                                sizeof(journal->detail));
    }
    if (err == CAIRN_OK) {
        err = cairn__rebuild(journal, txn, run_num, &replayed, NULL, NULL);
    }
    if (err == CAIRN_OK) {
        err = cairn__compare_state(journal, &replayed, &stored);
    }
    cairn__txn_end(txn);
    cairn__state_free(&replayed);
    cairn__state_free(&stored);
    return err;
}
