/*
 * verify_read.c - point lookups that walk: a cursor that answers
 * cairn__txn_get()'s question (the value under one key, or absent) by
 * stepping to the next key when that is the key asked for, and by a seek
 * otherwise.
 *
 * Verification asks for keys in nearly ascending order (a run's records
 * and its log tree leaves at consecutive positions, the index entries of
 * consecutive records): a step to the next entry of the B-tree costs a
 * fraction of a descent from the root.  The answer is the same as
 * cairn__txn_get()'s: found only on an exact key, else a seek decides.
 */
#include "verify/verify.h"

#include <string.h>

void cairn__vread_init(cairn__vread *r, cairn_txn *txn, cairn_dbi dbi)
{
    memset(r, 0, sizeof(*r));
    r->txn = txn;
    r->dbi = dbi;
}

void cairn__vread_close(cairn__vread *r)
{
    cairn__cursor_close(r->cur);
    r->cur = NULL;
    r->positioned = 0;
}

cairn_err cairn__vread_get(cairn__vread *r, const uint8_t *key, size_t key_len,
                           const uint8_t **val, size_t *val_len, int *found)
{
    const uint8_t *k, *v;
    size_t kl, vl;
    int got = 0;
    cairn_err err;
    *found = 0;
    if (r->cur == NULL) {
        err = cairn__cursor_open(r->txn, r->dbi, &r->cur);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    if (r->positioned) {
        err = cairn__cursor_next(r->cur, &k, &kl, &v, &vl, &got);
        if (err != CAIRN_OK) {
            r->positioned = 0;
            return err;
        }
        if (got && kl == key_len && memcmp(k, key, kl) == 0) {
            *val = v;
            *val_len = vl;
            *found = 1;
            return CAIRN_OK;
        }
    }
    r->positioned = 0;
    err = cairn__cursor_seek(r->cur, key, key_len, &k, &kl, &v, &vl, &got);
    if (err != CAIRN_OK) {
        return err;
    }
    r->positioned = got;
    if (got && kl == key_len && memcmp(k, key, kl) == 0) {
        *val = v;
        *val_len = vl;
        *found = 1;
    }
    return CAIRN_OK;
}
