/*
 * prune_read.c - the read side of pruning: may a run be pruned now
 * (cairn_prune_check()), and a pruned run's tombstone
 * (cairn_prune_tombstone()), both from the run's proven state.
 */
#include "journal/journal.h"

#include "base/bytes.h"
#include "base/sys.h"

#include <stdlib.h>
#include <string.h>

/* The run's proven state in a read transaction of its own. */
static cairn_err load(cairn_journal *j, const char *run_id, cairn_state *st,
                      char *detail, size_t detail_len)
{
    cairn_txn *txn = NULL;
    uint64_t run_num = 0;
    memset(st, 0, sizeof(*st));
    cairn_err err = cairn__store_read(j->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "%s",
                           cairn__store_detail(j->store));
    }
    err = cairn__lookup_run(j, txn, run_id, &run_num);
    if (err == CAIRN_ENORUN) {
        cairn__fmt(detail, detail_len, "no run \"%s\"", run_id);
    }
    if (err == CAIRN_OK) {
        err = cairn__load_state(j, txn, run_num, st, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err = cairn__state_is_run(st, run_id, run_num, detail, detail_len);
    }
    cairn__txn_end(txn);
    if (err != CAIRN_OK) {
        cairn__state_free(st);
    }
    return err;
}

cairn_err cairn_prune_check(cairn_journal *journal, const char *run_id,
                            char *detail, size_t detail_len)
{
    cairn__clear(detail, detail_len);
    if (journal == NULL || run_id == NULL) {
        return CAIRN_EINVAL;
    }
    char why[CAIRN__DETAIL_MAX];
    why[0] = '\0';
    cairn_state st;
    cairn_err err = load(journal, run_id, &st, why, sizeof(why));
    if (err == CAIRN_OK) {
        err = cairn__state_prunable(&st, cairn__wall_ns(), why, sizeof(why));
        cairn__state_free(&st);
    }
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s", why);
        cairn__publish_detail(journal, why);
    }
    return err;
}

void cairn_tombstone_free(cairn_tombstone *tombstone)
{
    if (tombstone == NULL) {
        return;
    }
    free(tombstone->positions);
    free(tombstone->leaves);
    free(tombstone);
}

cairn_err cairn__tombstone_from_record(const cairn_record *rec,
                                       const uint8_t leaf[CAIRN_HASH_BYTES],
                                       uint64_t position, cairn_tombstone **out)
{
    *out = NULL;
    cairn_tombstone *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return CAIRN_ENOMEM;
    }
    t->positions = calloc((size_t)rec->pruned_count, sizeof(uint64_t));
    t->leaves = calloc((size_t)rec->pruned_count, CAIRN_HASH_BYTES);
    if (t->positions == NULL || t->leaves == NULL) {
        cairn_tombstone_free(t);
        return CAIRN_ENOMEM;
    }
    cairn__fmt(t->run_id, sizeof(t->run_id), "%s", rec->run_id);
    cairn__fmt(t->plan_id, sizeof(t->plan_id), "%s", rec->plan_id);
    memcpy(t->plan_hash, rec->plan_hash, CAIRN_HASH_BYTES);
    t->run_num = rec->run_num;
    t->position = position;
    t->seq = rec->seq;
    t->wall_ns = rec->wall_ns;
    cairn__fmt(t->actor, sizeof(t->actor), "%s", rec->actor);
    cairn__fmt(t->rule, sizeof(t->rule), "%s", rec->rule);
    cairn__fmt(t->reason, sizeof(t->reason), "%s", rec->reason);
    cairn__fmt(t->policy, sizeof(t->policy), "%s", rec->policy);
    cairn__fmt(t->location, sizeof(t->location), "%s", rec->location);
    memcpy(t->bundle_sha256, rec->bundle_sha256, CAIRN_HASH_BYTES);
    t->bundle_bytes = rec->bundle_bytes;
    memcpy(t->plan_sha256, rec->prune_plan_sha256, CAIRN_HASH_BYTES);
    t->final_state = (cairn_run_state)rec->final_state;
    memcpy(t->run_head, rec->prev, CAIRN_HASH_BYTES);
    memcpy(t->leaf, leaf, CAIRN_HASH_BYTES);
    t->n_records = (size_t)rec->pruned_count;
    cairn__prune_positions(rec, t->positions);
    memcpy(t->leaves, rec->pruned_leaves,
           (size_t)rec->pruned_count * CAIRN_HASH_BYTES);
    *out = t;
    return CAIRN_OK;
}

cairn_err cairn_prune_tombstone(cairn_journal *journal, const char *run_id,
                                cairn_tombstone **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (journal == NULL || run_id == NULL || out == NULL) {
        return CAIRN_EINVAL;
    }
    char why[CAIRN__DETAIL_MAX];
    cairn_state st;
    cairn_err err = load(journal, run_id, &st, why, sizeof(why));
    if (err != CAIRN_OK) {
        return cairn__jfail(journal, err, "%s", why);
    }
    if (!st.pruned) {
        cairn__state_free(&st);
        return cairn__jfail(journal, CAIRN_ESTATE, "run %s is not pruned",
                            run_id);
    }
    cairn_txn *txn = NULL;
    cairn_record rec;
    uint8_t leaf[CAIRN_HASH_BYTES];
    err = cairn__store_read(journal->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(journal, err, "%s",
                            cairn__store_detail(journal->store));
    }
    err = cairn__read_record(journal, txn, st.next_seq - 1, st.last_pos, &rec,
                             leaf);
    cairn__txn_end(txn);
    if (err != CAIRN_OK) {
        return err == CAIRN_ENOMEM ? err : CAIRN_ETAMPERED;
    }
    if (rec.type != CAIRN_REC_PRUNE || rec.run_num != st.run_num ||
        rec.seq + 1 != st.next_seq ||
        memcmp(leaf, st.head, CAIRN_HASH_BYTES) != 0) {
        err = cairn__jfail(journal, CAIRN_ETAMPERED,
                           "run %s: the record at position %llu is not its "
                           "PRUNE record",
                           run_id, (unsigned long long)st.last_pos);
    } else {
        err = cairn__tombstone_from_record(&rec, leaf, st.last_pos, out);
    }
    cairn__record_free(&rec);
    return err;
}
