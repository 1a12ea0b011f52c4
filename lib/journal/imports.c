/*
 * imports.c - reading imported runs (cairn_import(), docs/FORMAT.md
 * section 21): the `imports` database maps a run id to the imported
 * bundle, its .minisig, the run state replayed from it and where each
 * record lies in the bundle.  Status and log read those; nothing here
 * parses the bundle itself, and nothing here proves anything: verify
 * re-verifies the stored bundle (lib/verify/import.c).  A zstd bundle is
 * stored compressed (value version 2): log decompresses it once per call
 * to reach the records; status reads the stored state alone.
 */
#include "journal/journal.h"

#include "format/import_value.h"

#include <stdlib.h>
#include <string.h>

int cairn__import_has(cairn_journal *j, cairn_txn *txn, const char *run_id,
                      size_t n)
{
    const uint8_t *v;
    size_t vl;
    int found = 0;
    if (!cairn__store_has(j->store, CAIRN_DBI_IMPORTS) || n == 0 ||
        n > CAIRN_MAX_ID) {
        return 0;
    }
    if (cairn__txn_get(txn, CAIRN_DBI_IMPORTS, run_id, n, &v, &vl, &found) !=
        CAIRN_OK) {
        return 0;
    }
    return found;
}

cairn_err cairn__import_load(cairn_journal *j, cairn_txn *txn,
                             const char *run_id, cairn_import_value *v,
                             cairn_state *st, char *detail, size_t detail_len)
{
    const uint8_t *val;
    size_t vl, n = strlen(run_id);
    int found = 0;
    char why[256];
    memset(v, 0, sizeof(*v));
    if (!cairn__store_has(j->store, CAIRN_DBI_IMPORTS) || n == 0 ||
        n > CAIRN_MAX_ID) {
        return cairn__fail(detail, detail_len, CAIRN_ENORUN,
                           "no imported run \"%.64s\"", run_id);
    }
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_IMPORTS, run_id, n, &val, &vl, &found);
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "%s",
                           cairn__store_detail(j->store));
    }
    if (!found) {
        return cairn__fail(detail, detail_len, CAIRN_ENORUN,
                           "no imported run \"%s\"", run_id);
    }
    err = cairn__import_value_decode(val, vl, v, why, sizeof(why));
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "imported run %s: %s",
                           run_id, why);
    }
    if (st == NULL) {
        return CAIRN_OK;
    }
    err = cairn__state_decode(v->state, v->state_len, st, why, sizeof(why));
    if (err == CAIRN_OK && strcmp(st->run_id, run_id) != 0) {
        cairn__state_free(st);
        cairn__fmt(why, sizeof(why), "its state names run %s", st->run_id);
        err = CAIRN_ECORRUPT;
    }
    if (err != CAIRN_OK) {
        cairn__import_value_free(v);
        return cairn__fail(detail, detail_len, err, "imported run %s: %s",
                           run_id, why);
    }
    return CAIRN_OK;
}

cairn_err cairn__import_status(cairn_journal *j, const char *run_id,
                               cairn_summary **out)
{
    cairn_txn *txn = NULL;
    cairn_import_value v;
    cairn_state st;
    memset(&st, 0, sizeof(st));
    cairn_err err = cairn__store_read(j->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    err = cairn__import_load(j, txn, run_id, &v, &st, j->detail,
                             sizeof(j->detail));
    cairn__txn_end(txn);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__import_value_free(&v);
    err = cairn__summary_from_state(&st, out);
    cairn__state_free(&st);
    if (err == CAIRN_OK) {
        (*out)->imported = 1;
        /* Nobody claims anything in this journal: a pending operation of
         * an imported run is in doubt for good. */
    }
    return err;
}

cairn_err cairn__import_record_each(
    cairn_journal *j, const char *run_id, uint64_t from_seq,
    int (*fn)(void *ctx, const cairn_record_view *record), void *ctx)
{
    cairn_txn *txn = NULL;
    cairn_import_value v;
    char why[256];
    uint8_t *owned = NULL;
    const uint8_t *bundle = NULL;
    cairn_err err = cairn__store_read(j->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    err = cairn__import_load(j, txn, run_id, &v, NULL, j->detail,
                             sizeof(j->detail));
    if (err == CAIRN_OK && from_seq < v.n_recs) {
        err = cairn__import_value_unpack(&v, &owned, &bundle, why, sizeof(why));
        if (err != CAIRN_OK) {
            err = cairn__jfail(j, err, "imported run %s: %s", run_id, why);
        }
    }
    for (size_t i = (size_t)from_seq; err == CAIRN_OK && i < v.n_recs; i++) {
        const cairn_import_rec *e = &v.recs[i];
        cairn_record rec;
        cairn_record_view view;
        const uint8_t *bytes = bundle + e->offset;
        err = cairn__record_decode(bytes, e->len, &rec, why, sizeof(why));
        if (err != CAIRN_OK) {
            err = cairn__jfail(j, err, "imported run %s: seq %zu: %s", run_id,
                               i, why);
            break;
        }
        cairn__record_view_fill(&view, &rec, e->position);
        cairn__leaf_hash(bytes, e->len, view.hash);
        view.encoded_len = e->len;
        int stop = fn(ctx, &view);
        cairn__record_free(&rec);
        if (stop) {
            break;
        }
    }
    if (v.recs != NULL) {
        cairn__import_value_free(&v);
    }
    free(owned);
    cairn__txn_end(txn);
    return err;
}

cairn_err cairn_import_each(cairn_journal *journal,
                            int (*fn)(void *ctx, const char *run_id), void *ctx)
{
    if (journal == NULL || fn == NULL) {
        return CAIRN_EINVAL;
    }
    if (!cairn__store_has(journal->store, CAIRN_DBI_IMPORTS)) {
        return CAIRN_OK;
    }
    cairn_txn *txn = NULL;
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found = 0;
    cairn_err err = cairn__store_read(journal->store, &txn);
    if (err == CAIRN_OK) {
        err = cairn__cursor_open(txn, CAIRN_DBI_IMPORTS, &cur);
    }
    if (err == CAIRN_OK) {
        err = cairn__cursor_seek(cur, NULL, 0, &k, &kl, &v, &vl, &found);
    }
    while (err == CAIRN_OK && found) {
        char id[CAIRN_MAX_ID + 1];
        if (kl == 0 || kl > CAIRN_MAX_ID || memchr(k, 0, kl) != NULL) {
            err = cairn__jfail(journal, CAIRN_ECORRUPT,
                               "imports: a malformed run id");
            break;
        }
        memcpy(id, k, kl);
        id[kl] = '\0';
        if (fn(ctx, id)) {
            break;
        }
        err = cairn__cursor_next(cur, &k, &kl, &v, &vl, &found);
    }
    if (err != CAIRN_OK && journal->detail[0] == '\0') {
        cairn__jfail(journal, err, "%s", cairn__store_detail(journal->store));
    }
    cairn__cursor_close(cur);
    cairn__txn_end(txn);
    return err;
}
