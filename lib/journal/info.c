/*
 * info.c - facts about a journal directory for `cairn info`.
 */
#include "journal/journal.h"

#include "base/bytes.h"

#include <string.h>

static cairn_err last_u64(cairn_journal *j, cairn_txn *txn, cairn_dbi dbi,
                          uint64_t *out)
{
    const uint8_t *k;
    size_t kl;
    int found;
    *out = 0;
    cairn_err err = cairn__txn_last_key(txn, dbi, &k, &kl, &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (found && kl == 8) {
        *out = cairn__load64_be(k);
    }
    return CAIRN_OK;
}

cairn_err cairn_journal_info_get(cairn_journal *journal,
                                 cairn_journal_info *out)
{
    if (journal == NULL || out == NULL) {
        return CAIRN_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out->journal_id, journal->journal_id, CAIRN_JOURNAL_ID_BYTES);
    out->format = journal->format;
    cairn_txn *txn = NULL;
    cairn_err err = cairn__store_read(journal->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(journal, err, "%s",
                            cairn__store_detail(journal->store));
    }
    const uint8_t *v;
    size_t vl;
    int found;
    err =
        cairn__txn_get(txn, CAIRN_DBI_META, "created_ns", 10, &v, &vl, &found);
    if (err == CAIRN_OK && found && vl == 8) {
        out->created_ns = cairn__load64_be(v);
    }
    if (err == CAIRN_OK) {
        err = last_u64(journal, txn, CAIRN_DBI_RUNS, &out->runs);
    }
    if (err == CAIRN_OK) {
        err = last_u64(journal, txn, CAIRN_DBI_RECORDS, &out->records);
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_count(txn, CAIRN_DBI_CHECKPOINTS, &out->checkpoints);
    }
    cairn__txn_end(txn);
    unsigned growths;
    cairn__store_map_info(journal->store, &out->map_size, &growths);
    cairn__store_env_info(journal->store, &out->page_size, &out->last_txnid,
                          &out->pages_used, &out->readers);
    out->pages_used += 1;
    return err;
}
