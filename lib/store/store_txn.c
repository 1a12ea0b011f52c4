/*
 * store_txn.c - transactions on a store: read transactions, the
 * re-runnable write (begin, run the caller's function, commit; on a full
 * map abort, double the map and run it again) and the map lock every
 * transaction holds shared (store.h, "Threads").
 */
#include "base/sys.h"
#include "store/store_int.h"

#include <stdatomic.h>
#include <stdlib.h>

#define MAX_MAP_SIZE CAIRN_MAP_SIZE_MAX
#define MAX_GROWTHS 40

/* Adopt the map size another process set (MDB_MAP_RESIZED). */
static int adopt_map_size(cairn_store *store)
{
    pthread_rwlock_wrlock(&store->maplock);
    int rc = mdb_env_set_mapsize(store->env, 0);
    MDB_envinfo info;
    if (rc == MDB_SUCCESS && mdb_env_info(store->env, &info) == 0) {
        store->map_size = info.me_mapsize;
    }
    pthread_rwlock_unlock(&store->maplock);
    return rc;
}

/* Begin a transaction holding maplock shared; on success the caller
 * releases it when the transaction ends. */
int cairn__store_begin(cairn_store *store, unsigned flags, MDB_txn **txn)
{
    pthread_rwlock_rdlock(&store->maplock);
    int rc = mdb_txn_begin(store->env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another process grew the map: adopt its size and retry. */
        pthread_rwlock_unlock(&store->maplock);
        rc = adopt_map_size(store);
        pthread_rwlock_rdlock(&store->maplock);
        if (rc == MDB_SUCCESS) {
            rc = mdb_txn_begin(store->env, NULL, flags, txn);
        }
    }
    if (rc != MDB_SUCCESS) {
        pthread_rwlock_unlock(&store->maplock);
    }
    return rc;
}

cairn_err cairn__store_read(cairn_store *store, cairn_txn **out)
{
    *out = NULL;
    cairn_txn *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return CAIRN_ENOMEM;
    }
    t->store = store;
    int rc = cairn__store_begin(store, MDB_RDONLY, &t->txn);
    if (rc != MDB_SUCCESS) {
        free(t);
        return cairn__store_map_rc(store, "mdb_txn_begin (read)", rc);
    }
    *out = t;
    return CAIRN_OK;
}

cairn_err cairn__store_sync(cairn_store *store)
{
    int rc = mdb_env_sync(store->env, 1);
    return rc == MDB_SUCCESS ? CAIRN_OK
                             : cairn__store_map_rc(store, "mdb_env_sync", rc);
}

void cairn__txn_end(cairn_txn *txn)
{
    if (txn == NULL) {
        return;
    }
    if (txn->txn != NULL) {
        mdb_txn_abort(txn->txn);
        pthread_rwlock_unlock(&txn->store->maplock);
    }
    free(txn);
}

static cairn_err grow(cairn_store *store)
{
    cairn_err err = CAIRN_OK;
    pthread_rwlock_wrlock(&store->maplock);
    if (store->growths >= MAX_GROWTHS || store->map_size >= MAX_MAP_SIZE) {
        cairn__fmt(store->detail, sizeof(store->detail),
                   "map full at %llu bytes (limit reached)",
                   (unsigned long long)store->map_size);
        err = CAIRN_EIO;
    } else {
        uint64_t next = store->map_size * 2;
        int rc = mdb_env_set_mapsize(store->env, (size_t)next);
        if (rc != MDB_SUCCESS) {
            err = cairn__store_map_rc(store, "mdb_env_set_mapsize", rc);
        } else {
            store->map_size = next;
            store->growths++;
        }
    }
    pthread_rwlock_unlock(&store->maplock);
    return err;
}

/* One attempt: begin, run @p fn, commit.  *again is set when the map
 * must grow before the next attempt. */
static cairn_err write_once(cairn_store *store, cairn_write_fn fn, void *ctx,
                            int *again)
{
    *again = 0;
    cairn_txn t = {.store = store};
    int rc = cairn__store_begin(store, 0, &t.txn);
    if (rc != MDB_SUCCESS) {
        return cairn__store_map_rc(store, "mdb_txn_begin", rc);
    }
    cairn_err err = cairn__store_check_write_base(store, t.txn);
    if (err != CAIRN_OK) {
        mdb_txn_abort(t.txn);
        pthread_rwlock_unlock(&store->maplock);
        return err;
    }
    err = fn(&t, ctx);
    if (err != CAIRN_OK) {
        mdb_txn_abort(t.txn);
        *again = t.map_full;
    } else {
        /* mdb_txn_commit consumes the handle whatever it returns. */
        rc = mdb_txn_commit(t.txn);
        if (rc == MDB_MAP_FULL) {
            *again = 1;
        } else if (rc != MDB_SUCCESS) {
            err = cairn__store_map_rc(store, "mdb_txn_commit", rc);
            atomic_store(&store->fatal, 1);
        }
    }
    pthread_rwlock_unlock(&store->maplock);
    return err;
}

cairn_err cairn__store_write(cairn_store *store, cairn_write_fn fn, void *ctx)
{
    if (store->readonly) {
        cairn__fmt(store->detail, sizeof(store->detail),
                   "journal opened read-only");
        return CAIRN_EINVAL;
    }
    for (;;) {
        if (atomic_load(&store->fatal)) {
            return CAIRN_EFATAL;
        }
        int again = 0;
        cairn_err err = write_once(store, fn, ctx, &again);
        if (!again) {
            return err;
        }
        err = grow(store);
        if (err != CAIRN_OK) {
            return err;
        }
    }
}

int cairn__store_begin_read_raw(cairn_store *store, MDB_txn **txn)
{
    return cairn__store_begin(store, MDB_RDONLY, txn);
}

void cairn__store_end_read_raw(cairn_store *store, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&store->maplock);
}
