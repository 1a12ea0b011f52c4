/*
 * verify_read.c - point lookups through a cursor kept open between them:
 * it answers cairn__txn_get()'s question (the value under one key, or
 * absent) with an exact-key lookup (MDB_SET_KEY) from where the cursor
 * stands.
 *
 * Verification asks for keys in nearly ascending order (a run's records
 * and its log tree leaves at consecutive positions, the index entries of
 * consecutive records).  LMDB answers such a lookup from the leaf page the
 * cursor is on when the key falls inside it, without a descent from the
 * root.  It does not step (MDB_NEXT): a step onto a damaged sibling page
 * trips an assertion in LMDB (mdb_cursor_next: IS_LEAF) and aborts the
 * process, where a lookup's descent reports MDB_CORRUPTED; salvage
 * depends on that error to say where a run breaks (tests/cli/salvage.sh).
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
}

cairn_err cairn__vread_get(cairn__vread *r, const uint8_t *key, size_t key_len,
                           const uint8_t **val, size_t *val_len, int *found)
{
    *found = 0;
    if (r->cur == NULL) {
        cairn_err err = cairn__cursor_open(r->txn, r->dbi, &r->cur);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    return cairn__cursor_find(r->cur, key, key_len, val, val_len, found);
}
