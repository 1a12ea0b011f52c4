/*
 * store_rebuild.c - the rebuilding copy behind `cairn compact`
 * (cairn__store_rebuild(), store.h): a fresh LMDB environment in a file of
 * the caller's, filled database by database and entry by entry in key
 * order with MDB_APPEND.
 *
 * Why not LMDB's compacting copy (mdb_env_copyfd2 with MDB_CP_COMPACT):
 * it leaves out free pages but copies every other page as it is, and the
 * leaf pages a prune leaves behind are half empty (LMDB merges a page with
 * its neighbour only below a quarter full).  Appending in key order fills
 * each leaf page before it starts the next one, so the copy holds about
 * as many pages as its entries need.
 *
 * The copy is written with MDB_NOLOCK (nobody else has the file) and
 * MDB_NOSYNC (the caller fsyncs it once at the end); it commits every
 * CAIRN__REBUILD_TXN_BYTES of entries so that the pages of one write
 * transaction, which LMDB keeps in memory, stay bounded (each commit after
 * the first leaves a few pages, the copied path to the last entry, on the
 * copy's free list).  It is deterministic: the same content gives the same
 * file, byte for byte, which is what lets a dry run announce the exact
 * size.
 */
#include "store/store_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Named databases the copy may hold (as many as a journal opens). */
#define REBUILD_MAX_DBS 16
/* The flags of a database that describe its content (mdb_dbi_flags). */
#define DB_CONTENT_FLAGS                                                       \
    (MDB_REVERSEKEY | MDB_DUPSORT | MDB_INTEGERKEY | MDB_DUPFIXED |            \
     MDB_INTEGERDUP | MDB_REVERSEDUP)

typedef struct rebuild {
    cairn_store *src;
    MDB_txn *stxn;    /* read transaction on the source */
    MDB_env *env;     /* the copy */
    MDB_txn *dtxn;    /* the copy's current write transaction */
    uint64_t pending; /* bytes put in dtxn */
    uint64_t txn_bytes;
    const char *what; /* the step that failed, for the detail */
    char db[512];     /* the database being copied, "" for main */
    void (*hook)(void *ctx);
    void *hook_ctx;
} rebuild;

/* Commit the copy's write transaction and begin the next one. */
static int next_txn(rebuild *r)
{
    int rc = mdb_txn_commit(r->dtxn);
    r->dtxn = NULL;
    r->pending = 0;
    if (rc != MDB_SUCCESS) {
        r->what = "mdb_txn_commit";
        return rc;
    }
    rc = mdb_txn_begin(r->env, NULL, 0, &r->dtxn);
    if (rc != MDB_SUCCESS) {
        r->what = "mdb_txn_begin";
    }
    return rc;
}

/* Append one entry through @p *cur (opened again after a commit); @p dup:
 * the key is the previous one's (a database with sorted duplicates). */
static int append(rebuild *r, MDB_dbi dbi, MDB_cursor **cur, MDB_val *k,
                  MDB_val *v, int dup)
{
    int rc = MDB_SUCCESS;
    if (r->pending >= r->txn_bytes) {
        mdb_cursor_close(*cur);
        *cur = NULL;
        rc = next_txn(r);
        if (rc == MDB_SUCCESS) {
            rc = mdb_cursor_open(r->dtxn, dbi, cur);
        }
        if (rc != MDB_SUCCESS) {
            return rc;
        }
    }
    r->pending += k->mv_size + v->mv_size;
    rc = mdb_cursor_put(*cur, k, v, dup ? MDB_APPENDDUP : MDB_APPEND);
    if (rc != MDB_SUCCESS) {
        r->what = "mdb_cursor_put";
    }
    return rc;
}

/* Copy every entry of the source's database @p sdbi into @p ddbi. */
static int copy_entries(rebuild *r, MDB_dbi sdbi, MDB_dbi ddbi, int dupsort)
{
    MDB_cursor *scur = NULL, *dcur = NULL;
    MDB_val k, v, prev = {0, NULL};
    int rc = mdb_cursor_open(r->stxn, sdbi, &scur);
    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_open(r->dtxn, ddbi, &dcur);
    }
    r->what = "mdb_cursor_open";
    for (MDB_cursor_op op = MDB_FIRST; rc == MDB_SUCCESS; op = MDB_NEXT) {
        rc = mdb_cursor_get(scur, &k, &v, op);
        if (rc != MDB_SUCCESS) {
            r->what = "mdb_cursor_get";
            break;
        }
        int dup = dupsort && prev.mv_data != NULL &&
                  prev.mv_size == k.mv_size &&
                  memcmp(prev.mv_data, k.mv_data, k.mv_size) == 0;
        prev = k; /* in the source's map: valid while stxn lives */
        rc = append(r, ddbi, &dcur, &k, &v, dup);
    }
    mdb_cursor_close(dcur);
    mdb_cursor_close(scur);
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* Create the named database @p name in the copy with the source's flags
 * and copy its entries. */
static int copy_named(rebuild *r, const MDB_val *name, MDB_dbi sdbi)
{
    unsigned flags = 0;
    MDB_dbi ddbi;
    /* cairn__store_open_named() checked: shorter than db, no NUL */
    memcpy(r->db, name->mv_data, name->mv_size);
    r->db[name->mv_size] = '\0';
    int rc = mdb_dbi_flags(r->stxn, sdbi, &flags);
    r->what = "mdb_dbi_flags";
    if (rc == MDB_SUCCESS) {
        flags &= DB_CONTENT_FLAGS;
        rc = mdb_dbi_open(r->dtxn, r->db, MDB_CREATE | flags, &ddbi);
        r->what = "mdb_dbi_open";
    }
    if (rc == MDB_SUCCESS) {
        rc = copy_entries(r, sdbi, ddbi, (flags & MDB_DUPSORT) != 0);
    }
    if (rc == MDB_SUCCESS && r->hook != NULL) {
        r->hook(r->hook_ctx);
    }
    return rc;
}

/* Walk the source's main database: each named database is created and
 * copied, plain entries (cairn has none) are put as they are. */
static int copy_all(rebuild *r)
{
    MDB_dbi smain, dmain;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    r->what = "mdb_dbi_open (main)";
    int rc = mdb_dbi_open(r->stxn, NULL, 0, &smain);
    if (rc == MDB_SUCCESS) {
        rc = mdb_dbi_open(r->dtxn, NULL, 0, &dmain);
    }
    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_open(r->stxn, smain, &cur);
        r->what = "mdb_cursor_open (main)";
    }
    for (MDB_cursor_op op = MDB_FIRST; rc == MDB_SUCCESS; op = MDB_NEXT) {
        MDB_dbi sdbi;
        r->db[0] = '\0';
        rc = mdb_cursor_get(cur, &k, &v, op);
        r->what = "mdb_cursor_get (main)";
        if (rc != MDB_SUCCESS) {
            break;
        }
        rc = cairn__store_open_named(r->stxn, &k, &sdbi);
        if (rc == MDB_SUCCESS) {
            rc = copy_named(r, &k, sdbi);
        } else if (rc == MDB_INCOMPATIBLE) {
            rc = mdb_put(r->dtxn, dmain, &k, &v, 0); /* plain data */
            r->what = "mdb_put (main)";
        } else {
            r->what = "mdb_dbi_open";
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* A map size for the copy: at least the source's, and room for twice its
 * file (the copy is smaller; the map is address space, not disk). */
static size_t copy_map_size(MDB_env *src, uint64_t file_bytes)
{
    MDB_envinfo info;
    uint64_t size = CAIRN_MAP_SIZE_DEFAULT;
    if (mdb_env_info(src, &info) == MDB_SUCCESS &&
        (uint64_t)info.me_mapsize > size) {
        size = (uint64_t)info.me_mapsize;
    }
    while (size < 2 * file_bytes + ((uint64_t)16 << 20) &&
           size < 2 * CAIRN_MAP_SIZE_MAX) {
        size *= 2;
    }
    return (size_t)size;
}

/* Create and open the copy's environment (r->env) on the file @p fd. */
static int open_copy(rebuild *r, int fd, size_t map)
{
    char path[64];
    cairn__fd_path(fd, "", path, sizeof(path));
    r->what = "mdb_env_create";
    int rc = mdb_env_create(&r->env);
    if (rc != MDB_SUCCESS) {
        r->env = NULL;
        return rc;
    }
    rc = mdb_env_set_maxdbs(r->env, REBUILD_MAX_DBS);
    if (rc == MDB_SUCCESS) {
        rc = mdb_env_set_mapsize(r->env, map);
    }
    if (rc == MDB_SUCCESS) {
        r->what = "mdb_env_open (the copy)";
        rc = mdb_env_open(r->env, path,
                          MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC |
                              MDB_NOMETASYNC | MDB_NOTLS,
                          0600);
    }
    return rc;
}

static cairn_err fail(rebuild *r, int rc, char *detail, size_t detail_len)
{
    cairn_err err = cairn__store_map_rc(r->src, r->what, rc);
    if (r->db[0] != '\0') {
        cairn__fmt(detail, detail_len, "rebuilding database \"%.60s\": %s",
                   r->db, cairn__store_detail(r->src));
    } else {
        cairn__fmt(detail, detail_len, "rebuilding: %s",
                   cairn__store_detail(r->src));
    }
    return err;
}

cairn_err cairn__store_rebuild(cairn_store *src, int fd,
                               const cairn__rebuild_opts *opts, uint64_t *bytes,
                               char *detail, size_t detail_len)
{
    rebuild r = {.src = src, .txn_bytes = CAIRN__REBUILD_TXN_BYTES};
    if (opts != NULL) {
        r.hook = opts->hook;
        r.hook_ctx = opts->hook_ctx;
        r.txn_bytes = opts->txn_bytes != 0 ? opts->txn_bytes : r.txn_bytes;
    }
    struct stat st, sst;
    *bytes = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 0) {
        cairn__fmt(detail, detail_len,
                   "rebuilding: the copy's file is not "
                   "an empty regular file");
        return CAIRN_EINVAL;
    }
    cairn_err err = cairn__store_data_stat(src, &sst);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "rebuilding: %s",
                   cairn__store_detail(src));
        return err;
    }
    int rc = open_copy(
        &r, fd, copy_map_size(cairn__store_env(src), (uint64_t)sst.st_size));
    if (rc == MDB_SUCCESS) {
        r.what = "mdb_txn_begin (read)";
        rc = cairn__store_begin_read_raw(src, &r.stxn);
        if (rc != MDB_SUCCESS) {
            r.stxn = NULL;
        }
    }
    if (rc == MDB_SUCCESS) {
        r.what = "mdb_txn_begin";
        rc = mdb_txn_begin(r.env, NULL, 0, &r.dtxn);
    }
    if (rc == MDB_SUCCESS) {
        rc = copy_all(&r);
    }
    if (rc == MDB_SUCCESS) {
        r.db[0] = '\0';
        r.what = "mdb_txn_commit";
        rc = mdb_txn_commit(r.dtxn);
        r.dtxn = NULL;
    }
    if (r.dtxn != NULL) {
        mdb_txn_abort(r.dtxn);
    }
    if (r.stxn != NULL) {
        cairn__store_end_read_raw(src, r.stxn);
    }
    mdb_env_close(r.env); /* MDB_NOSYNC: writes nothing more */
    if (rc != MDB_SUCCESS) {
        return fail(&r, rc, detail, detail_len);
    }
    if (fstat(fd, &st) != 0) {
        return fail(&r, errno, detail, detail_len);
    }
    *bytes = (uint64_t)st.st_size;
    return CAIRN_OK;
}
