/*
 * runstate.c - a run's stored state as a whole, whatever its version:
 * section 9's blob or format 2's summary with its rows and op tree
 * (docs/FORMAT.md section 23; oprows.h).
 */
#include "journal/oprows.h"

#include "base/bytes.h"
#include "format/merkle.h"

#include <stdlib.h>
#include <string.h>

cairn_err cairn__runstate_decode(cairn_txn *txn, const uint8_t *v, size_t vl,
                                 cairn_state *st, char *detail,
                                 size_t detail_len)
{
    if (vl == 0 || v[0] != 2) {
        return cairn__state_decode(v, vl, st, detail, detail_len);
    }
    cairn_err err = cairn__summary_decode(v, vl, st, detail, detail_len);
    if (err == CAIRN_OK && !st->pruned) {
        err = cairn__oprows_get_all(txn, st, detail, detail_len);
        if (err != CAIRN_OK) {
            cairn__state_free(st);
        }
    }
    return err;
}

static cairn_err load_row(void *ctx, const cairn_state *st, uint32_t op,
                          cairn_op_st *out, char *detail, size_t detail_len)
{
    return cairn__oprows_get(ctx, st, op, out, detail, detail_len);
}

cairn_err cairn__runstate_decode_lazy(cairn_txn *txn, const uint8_t *v,
                                      size_t vl, cairn_state *st, char *detail,
                                      size_t detail_len)
{
    if (vl == 0 || v[0] != 2) {
        cairn_err err = cairn__state_decode(v, vl, st, detail, detail_len);
        st->track_rows = err == CAIRN_OK;
        return err;
    }
    cairn_err err = cairn__summary_decode(v, vl, st, detail, detail_len);
    if (err == CAIRN_OK && !st->pruned) {
        err = cairn__state_lazy(st, load_row, txn);
        if (err != CAIRN_OK) {
            cairn__state_free(st);
            cairn__fmt(detail, detail_len, "out of memory");
        }
    }
    return err;
}

int cairn__oprow_same(const cairn_op_st *a, const cairn_op_st *b)
{
    return a->state == b->state && a->attempt == b->attempt &&
           a->last_class == b->last_class && a->updated_ns == b->updated_ns &&
           a->done_seq == b->done_seq && a->holder_pid == b->holder_pid &&
           a->holder_start == b->holder_start &&
           memcmp(a->holder_boot, b->holder_boot, CAIRN_BOOT_ID_BYTES) == 0 &&
           strcmp(a->host, b->host) == 0;
}

/* Delete every row and complete op tree node of a run of @p n_ops. */
static cairn_err drop_rows(cairn_txn *txn, uint64_t run_num, uint32_t n_ops)
{
    uint8_t key[CAIRN__OTREE_KEY_BYTES];
    int found;
    cairn_err err = CAIRN_OK;
    for (uint32_t i = 0; i < n_ops && err == CAIRN_OK; i++) {
        cairn__store64_be(key, run_num);
        cairn__store32_be(key + 8, i);
        err = cairn__txn_del(txn, CAIRN_DBI_OPROWS, key, CAIRN__OPROW_KEY_BYTES,
                             &found);
    }
    for (unsigned level = 0;
         level < 64 && err == CAIRN_OK && ((uint64_t)n_ops >> level) > 0;
         level++) {
        uint64_t count = (uint64_t)n_ops >> level;
        for (uint64_t k = 0; k < count && err == CAIRN_OK; k++) {
            cairn__store64_be(key, run_num);
            key[8] = (uint8_t)level;
            cairn__store64_be(key + 9, k);
            err = cairn__txn_del(txn, CAIRN_DBI_OTREE, key,
                                 CAIRN__OTREE_KEY_BYTES, &found);
        }
    }
    return err;
}

cairn_err cairn__runstate_put_rows(cairn_txn *txn, cairn_state *st,
                                   char *detail, size_t detail_len)
{
    cairn__state_dirty_sort(st);
    for (uint32_t k = 0; k < st->n_dirty; k++) {
        uint32_t i = st->dirty[k];
        if (!cairn__state_has_row(st, i)) {
            return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                               "run %llu: op %lu changed but was not loaded",
                               (unsigned long long)st->run_num,
                               (unsigned long)i);
        }
        cairn_err err =
            cairn__oprows_update(txn, st, i, &st->ops[i], detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    cairn__state_rows_clean(st);
    return CAIRN_OK;
}

cairn_err cairn__runstate_put(cairn_txn *txn, const cairn_state *prev,
                              cairn_state *next, uint8_t leaf[CAIRN_HASH_BYTES],
                              char *detail, size_t detail_len)
{
    uint8_t key[8];
    const uint8_t *v;
    size_t vl;
    int found = 0;
    cairn__store64_be(key, next->run_num);
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_RUNS, key, sizeof(key), &v, &vl, &found);
    /* Rows exist only under a stored summary: a run stored as section 9's
     * blob (migrated from format 1) gets all of its rows now. */
    int has_rows = err == CAIRN_OK && found && vl > 0 && v[0] == 2 &&
                   prev != NULL && !prev->pruned;
    if (err != CAIRN_OK) {
        /* reported below */
    } else if (next->pruned) {
        err = has_rows ? drop_rows(txn, prev->run_num, prev->n_ops) : CAIRN_OK;
    } else if (!has_rows && next->loaded != NULL) {
        err = cairn__fail(detail, detail_len, CAIRN_EINVAL,
                          "run %llu: not every row is loaded",
                          (unsigned long long)next->run_num);
    } else if (!has_rows) {
        err = cairn__oprows_put_all(txn, next, detail, detail_len);
    } else if (prev->n_ops != next->n_ops || prev->run_num != next->run_num) {
        err = cairn__fail(detail, detail_len, CAIRN_EINVAL,
                          "run %llu: the state changed its operations",
                          (unsigned long long)next->run_num);
    } else {
        err = cairn__runstate_put_rows(txn, next, detail, detail_len);
    }
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    if (err == CAIRN_OK) {
        err = cairn__summary_encode(next, &blob, &blob_len);
    }
    if (err == CAIRN_OK) {
        if (leaf != NULL) {
            cairn__leaf_hash(blob, blob_len, leaf);
        }
        err = cairn__txn_put(txn, CAIRN_DBI_RUNS, key, sizeof(key), blob,
                             blob_len, 0);
    }
    free(blob);
    if (err != CAIRN_OK && (detail == NULL || detail[0] == '\0')) {
        cairn__fail(detail, detail_len, err, "run %llu: writing its state: %s",
                    (unsigned long long)next->run_num, cairn_strerror(err));
    }
    return err;
}
