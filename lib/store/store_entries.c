/*
 * store_entries.c - entries inside a transaction: get, put, delete and
 * count in one of cairn's named databases, and cursors over them (views
 * into LMDB's memory that end with their transaction).
 */
#include "base/sys.h"
#include "store/store_int.h"

#include <stdint.h>
#include <stdlib.h>

static MDB_val val(const void *p, size_t n)
{
    MDB_val v = {.mv_size = n, .mv_data = (void *)(uintptr_t)p};
    return v;
}

/* A format-2 database a format-1 journal does not have. */
static cairn_err missing(cairn_store *s, cairn_dbi dbi)
{
    if (s->have[dbi]) {
        return CAIRN_OK;
    }
    cairn__fmt(s->detail, sizeof(s->detail),
               "no \"%s\" database (a format-1 journal)", cairn__dbi_name(dbi));
    return CAIRN_ECORRUPT;
}

cairn_err cairn__txn_get(cairn_txn *txn, cairn_dbi dbi, const void *key,
                         size_t key_len, const uint8_t **v, size_t *vl,
                         int *found)
{
    MDB_val k = val(key, key_len), d;
    *v = NULL;
    *vl = 0;
    *found = 0;
    if (missing(txn->store, dbi) != CAIRN_OK) {
        return CAIRN_ECORRUPT;
    }
    int rc = mdb_get(txn->txn, txn->store->dbi[dbi], &k, &d);
    if (rc == MDB_NOTFOUND) {
        return CAIRN_OK;
    }
    if (rc != MDB_SUCCESS) {
        return cairn__store_map_rc(txn->store, "mdb_get", rc);
    }
    *v = d.mv_data;
    *vl = d.mv_size;
    *found = 1;
    return CAIRN_OK;
}

cairn_err cairn__txn_put(cairn_txn *txn, cairn_dbi dbi, const void *key,
                         size_t key_len, const void *value, size_t val_len,
                         unsigned flags)
{
    MDB_val k = val(key, key_len), d = val(value, val_len);
    unsigned mf = ((flags & CAIRN_PUT_APPEND) ? MDB_APPEND : 0) |
                  ((flags & CAIRN_PUT_NOOVERWRITE) ? MDB_NOOVERWRITE : 0);
    if (missing(txn->store, dbi) != CAIRN_OK) {
        return CAIRN_ECORRUPT;
    }
    int rc = mdb_put(txn->txn, txn->store->dbi[dbi], &k, &d, mf);
    if (rc == MDB_MAP_FULL) {
        txn->map_full = 1;
    }
    return cairn__store_map_rc(txn->store, "mdb_put", rc);
}

cairn_err cairn__txn_del(cairn_txn *txn, cairn_dbi dbi, const void *key,
                         size_t key_len, int *found)
{
    MDB_val k = val(key, key_len);
    if (found != NULL) {
        *found = 0;
    }
    if (missing(txn->store, dbi) != CAIRN_OK) {
        return CAIRN_ECORRUPT;
    }
    int rc = mdb_del(txn->txn, txn->store->dbi[dbi], &k, NULL);
    if (rc == MDB_NOTFOUND) {
        return CAIRN_OK;
    }
    if (rc == MDB_SUCCESS && found != NULL) {
        *found = 1;
    }
    return cairn__store_map_rc(txn->store, "mdb_del", rc);
}

cairn_err cairn__txn_count(cairn_txn *txn, cairn_dbi dbi, uint64_t *count)
{
    MDB_stat st;
    *count = 0;
    if (missing(txn->store, dbi) != CAIRN_OK) {
        return CAIRN_ECORRUPT;
    }
    int rc = mdb_stat(txn->txn, txn->store->dbi[dbi], &st);
    if (rc == MDB_SUCCESS) {
        *count = st.ms_entries;
    }
    return cairn__store_map_rc(txn->store, "mdb_stat", rc);
}

cairn_err cairn__cursor_open(cairn_txn *txn, cairn_dbi dbi, cairn_cursor **out)
{
    *out = NULL;
    if (missing(txn->store, dbi) != CAIRN_OK) {
        return CAIRN_ECORRUPT;
    }
    cairn_cursor *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return CAIRN_ENOMEM;
    }
    c->store = txn->store;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[dbi], &c->cur);
    if (rc != MDB_SUCCESS) {
        free(c);
        return cairn__store_map_rc(txn->store, "mdb_cursor_open", rc);
    }
    *out = c;
    return CAIRN_OK;
}

cairn_err cairn__cursor_open_main(cairn_txn *txn, cairn_cursor **out)
{
    MDB_dbi main_dbi;
    *out = NULL;
    int rc = mdb_dbi_open(txn->txn, NULL, 0, &main_dbi);
    if (rc != MDB_SUCCESS) {
        return cairn__store_map_rc(txn->store, "mdb_dbi_open (main)", rc);
    }
    cairn_cursor *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return CAIRN_ENOMEM;
    }
    c->store = txn->store;
    rc = mdb_cursor_open(txn->txn, main_dbi, &c->cur);
    if (rc != MDB_SUCCESS) {
        free(c);
        return cairn__store_map_rc(txn->store, "mdb_cursor_open (main)", rc);
    }
    *out = c;
    return CAIRN_OK;
}

void cairn__cursor_close(cairn_cursor *cur)
{
    if (cur == NULL) {
        return;
    }
    mdb_cursor_close(cur->cur);
    free(cur);
}

static cairn_err cursor_get(cairn_cursor *cur, MDB_val *k, MDB_cursor_op op,
                            const uint8_t **kp, size_t *kl, const uint8_t **vp,
                            size_t *vl, int *found)
{
    MDB_val d;
    *found = 0;
    int rc = mdb_cursor_get(cur->cur, k, &d, op);
    if (rc == MDB_NOTFOUND) {
        return CAIRN_OK;
    }
    if (rc != MDB_SUCCESS) {
        return cairn__store_map_rc(cur->store, "mdb_cursor_get", rc);
    }
    *kp = k->mv_data;
    *kl = k->mv_size;
    if (vp != NULL) {
        *vp = d.mv_data;
        *vl = d.mv_size;
    }
    *found = 1;
    return CAIRN_OK;
}

cairn_err cairn__cursor_seek(cairn_cursor *cur, const void *key, size_t key_len,
                             const uint8_t **k, size_t *kl, const uint8_t **v,
                             size_t *vl, int *found)
{
    MDB_val kv = val(key, key_len);
    return cursor_get(cur, &kv, key ? MDB_SET_RANGE : MDB_FIRST, k, kl, v, vl,
                      found);
}

cairn_err cairn__cursor_find(cairn_cursor *cur, const void *key, size_t key_len,
                             const uint8_t **v, size_t *vl, int *found)
{
    MDB_val kv = val(key, key_len);
    const uint8_t *k;
    size_t kl;
    return cursor_get(cur, &kv, MDB_SET_KEY, &k, &kl, v, vl, found);
}

cairn_err cairn__cursor_next(cairn_cursor *cur, const uint8_t **k, size_t *kl,
                             const uint8_t **v, size_t *vl, int *found)
{
    MDB_val kv = {0, NULL};
    return cursor_get(cur, &kv, MDB_NEXT, k, kl, v, vl, found);
}

cairn_err cairn__txn_last_key(cairn_txn *txn, cairn_dbi dbi,
                              const uint8_t **key, size_t *key_len, int *found)
{
    cairn_cursor *c = NULL;
    cairn_err err = cairn__cursor_open(txn, dbi, &c);
    if (err != CAIRN_OK) {
        return err;
    }
    MDB_val kv = {0, NULL};
    err = cursor_get(c, &kv, MDB_LAST, key, key_len, NULL, NULL, found);
    cairn__cursor_close(c);
    return err;
}
