/*
 * store_copy.c - whole-store work: the copy and the new databases of
 * `cairn migrate` (commit/migrate.c), and compaction's LMDB side
 * (journal/compact.c has the procedure, store_rebuild.c the rebuilding
 * copy): the space a store takes and the entry-by-entry comparison of a
 * store with its copy.
 */
#include "base/sys.h"
#include "store/store_int.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

/* ---- cairn migrate (commit/migrate.c) ---------------------------------- */

cairn_err cairn__store_copy_fd(cairn_store *store, int fd)
{
    pthread_rwlock_rdlock(&store->maplock);
    int rc = mdb_env_copyfd2(store->env, fd, 0);
    pthread_rwlock_unlock(&store->maplock);
    return cairn__store_map_rc(store, "mdb_env_copyfd2", rc);
}

cairn_err cairn__txn_create_format2(cairn_txn *txn)
{
    cairn_store *s = txn->store;
    for (int i = CAIRN_DBI_FORMAT2_FIRST; i < CAIRN_DBI_COUNT_; i++) {
        MDB_dbi dbi;
        if (i == CAIRN_DBI_IMPORTS) {
            continue; /* made by the first import */
        }
        MDB_stat st;
        int rc = mdb_dbi_open(txn->txn, cairn__dbi_name((cairn_dbi)i),
                              MDB_CREATE, &dbi);
        if (rc == MDB_SUCCESS) {
            rc = mdb_stat(txn->txn, dbi, &st);
        }
        if (rc != MDB_SUCCESS) {
            return cairn__store_map_rc(s, "mdb_dbi_open", rc);
        }
        if (st.ms_entries != 0) {
            cairn__fmt(s->detail, sizeof(s->detail),
                       "database \"%s\" exists and is not empty",
                       cairn__dbi_name((cairn_dbi)i));
            return CAIRN_ECORRUPT;
        }
        s->dbi[i] = dbi;
        s->have[i] = 1;
    }
    return CAIRN_OK;
}

cairn_err cairn__txn_create_imports(cairn_txn *txn)
{
    cairn_store *s = txn->store;
    MDB_dbi dbi;
    /* Opened again each time: after an aborted attempt (a map growth
     * re-runs the write) a handle made in it is gone. */
    int rc = mdb_dbi_open(txn->txn, cairn__dbi_name(CAIRN_DBI_IMPORTS),
                          MDB_CREATE, &dbi);
    if (rc != MDB_SUCCESS) {
        return cairn__store_map_rc(s, "mdb_dbi_open", rc);
    }
    s->dbi[CAIRN_DBI_IMPORTS] = dbi;
    s->have[CAIRN_DBI_IMPORTS] = 1;
    return CAIRN_OK;
}

void cairn__store_forget_imports(cairn_store *store, int had_before)
{
    if (!had_before) {
        store->have[CAIRN_DBI_IMPORTS] = 0;
    }
}

/* Compaction's LMDB side (store.h; the procedure is journal/compact.c's,
 * the rebuilding copy store_rebuild.c's). */
int cairn__store_open_named(MDB_txn *txn, const MDB_val *name, MDB_dbi *dbi)
{
    char buf[512];
    if (name->mv_size == 0 || name->mv_size >= sizeof(buf) ||
        memchr(name->mv_data, '\0', name->mv_size) != NULL) {
        return MDB_INCOMPATIBLE;
    }
    memcpy(buf, name->mv_data, name->mv_size);
    buf[name->mv_size] = '\0';
    return mdb_dbi_open(txn, buf, 0, dbi);
}

cairn_err cairn__store_space(cairn_store *store, uint64_t *file_bytes,
                             uint64_t *page_size)
{
    MDB_stat st;
    struct stat fst;
    *file_bytes = *page_size = 0;
    int rc = mdb_env_stat(store->env, &st);
    if (rc != MDB_SUCCESS) {
        return cairn__store_map_rc(store, "mdb_env_stat", rc);
    }
    cairn_err err = cairn__store_data_stat(store, &fst);
    if (err != CAIRN_OK) {
        return err;
    }
    *page_size = st.ms_psize;
    *file_bytes = (uint64_t)fst.st_size;
    return CAIRN_OK;
}

/* Compare one database (@p da in @p ta, @p db in @p tb) entry by entry. */
static int same_db(MDB_txn *ta, MDB_dbi da, MDB_txn *tb, MDB_dbi db,
                   const char *name, char *detail, size_t detail_len)
{
    MDB_cursor *ca = NULL, *cb = NULL;
    MDB_val ka, va, kb, vb;
    uint64_t n = 0;
    int rc = mdb_cursor_open(ta, da, &ca);
    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_open(tb, db, &cb);
    }
    for (MDB_cursor_op op = MDB_FIRST; rc == MDB_SUCCESS; op = MDB_NEXT, n++) {
        int ra = mdb_cursor_get(ca, &ka, &va, op);
        int rb = mdb_cursor_get(cb, &kb, &vb, op);
        if (ra == MDB_NOTFOUND && rb == MDB_NOTFOUND) {
            break;
        }
        if (ra != MDB_SUCCESS && ra != MDB_NOTFOUND) {
            rc = ra;
        } else if (rb != MDB_SUCCESS && rb != MDB_NOTFOUND) {
            rc = rb;
        } else if (ra != rb || ka.mv_size != kb.mv_size ||
                   va.mv_size != vb.mv_size ||
                   memcmp(ka.mv_data, kb.mv_data, ka.mv_size) != 0 ||
                   memcmp(va.mv_data, vb.mv_data, va.mv_size) != 0) {
            cairn__fmt(detail, detail_len,
                       "database \"%s\": entry %llu differs in the copy", name,
                       (unsigned long long)n);
            rc = MDB_CORRUPTED;
            break;
        }
    }
    mdb_cursor_close(ca);
    mdb_cursor_close(cb);
    return rc;
}

/* Walk the main databases of @p ta and @p tb together. */
static int same_main(MDB_txn *ta, MDB_txn *tb, char *detail, size_t detail_len)
{
    MDB_dbi ma, mb;
    MDB_cursor *ca = NULL, *cb = NULL;
    int rc = mdb_dbi_open(ta, NULL, 0, &ma);
    if (rc == MDB_SUCCESS) {
        rc = mdb_dbi_open(tb, NULL, 0, &mb);
    }
    /* A named database's record in the main database differs in the copy
     * (its root page moved): the names must match, the content of each
     * database is compared entry by entry. */
    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_open(ta, ma, &ca);
    }
    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_open(tb, mb, &cb);
    }
    for (MDB_cursor_op op = MDB_FIRST; rc == MDB_SUCCESS; op = MDB_NEXT) {
        MDB_val ka, va, kb, vb;
        MDB_dbi da, db;
        int ra = mdb_cursor_get(ca, &ka, &va, op);
        int rb = mdb_cursor_get(cb, &kb, &vb, op);
        if (ra == MDB_NOTFOUND && rb == MDB_NOTFOUND) {
            break;
        }
        if (ra != MDB_SUCCESS || rb != MDB_SUCCESS ||
            ka.mv_size != kb.mv_size ||
            memcmp(ka.mv_data, kb.mv_data, ka.mv_size) != 0) {
            cairn__fmt(detail, detail_len,
                       "the copy's list of databases differs");
            rc = ra != MDB_SUCCESS && ra != MDB_NOTFOUND ? ra : MDB_CORRUPTED;
            break;
        }
        char name[64];
        cairn__fmt(name, sizeof(name), "%.*s",
                   (int)(ka.mv_size < 60 ? ka.mv_size : 60),
                   (const char *)ka.mv_data);
        int named = cairn__store_open_named(ta, &ka, &da);
        if (named == MDB_SUCCESS &&
            (rc = cairn__store_open_named(tb, &kb, &db)) == 0) {
            rc = same_db(ta, da, tb, db, name, detail, detail_len);
        } else if (named == MDB_INCOMPATIBLE &&
                   (va.mv_size != vb.mv_size ||
                    memcmp(va.mv_data, vb.mv_data, va.mv_size) != 0)) {
            cairn__fmt(detail, detail_len, "main key \"%s\" differs", name);
            rc = MDB_CORRUPTED;
        } else if (named != MDB_SUCCESS && named != MDB_INCOMPATIBLE) {
            rc = named;
        }
    }
    mdb_cursor_close(ca);
    mdb_cursor_close(cb);
    return rc;
}

cairn_err cairn__store_same_content(cairn_store *a, cairn_store *b,
                                    char *detail, size_t detail_len)
{
    MDB_txn *ta = NULL, *tb = NULL;
    int rc = cairn__store_begin_read_raw(a, &ta);
    if (rc != MDB_SUCCESS) {
        return cairn__store_map_rc(a, "mdb_txn_begin (read)", rc);
    }
    rc = cairn__store_begin_read_raw(b, &tb);
    if (rc != MDB_SUCCESS) {
        cairn__store_end_read_raw(a, ta);
        return cairn__store_map_rc(b, "mdb_txn_begin (read)", rc);
    }
    cairn__clear(detail, detail_len);
    rc = same_main(ta, tb, detail, detail_len);
    cairn__store_end_read_raw(b, tb);
    cairn__store_end_read_raw(a, ta);
    if (rc == MDB_CORRUPTED && detail != NULL && detail[0] != '\0') {
        return CAIRN_ECORRUPT;
    }
    cairn_err err = cairn__store_map_rc(a, "compare", rc);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s", a->detail);
    }
    return err;
}
