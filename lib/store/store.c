/*
 * store.c - the LMDB environment of a store: what it says about itself,
 * the names of cairn's databases, and the one place LMDB codes become
 * cairn_err values (map_rc).
 *
 * The store's other files: store_open.c (opening and closing),
 * store_guard.c (the two guards around LMDB's lock table), store_txn.c
 * (transactions and the re-runnable write), store_entries.c (entries and
 * cursors inside a transaction), store_copy.c (whole-store work for
 * migrate and compact), store_snapshot.c, store_pages.c, store_rebuild.c
 * and create.c.  Only these files include lmdb.h (through store_int.h).
 */
#include "store/store.h"
#include "base/sys.h"
#include "store/store_int.h"

#include <errno.h>
#include <sys/stat.h>

static const char *const dbi_names[CAIRN_DBI_COUNT_] = {
    "meta", "names", "runs",    "records", "index", "checkpoints",
    "tree", "smap",  "imports", "oprows",  "otree",
};

/* The single mapping from LMDB and errno values to cairn_err. */
static cairn_err map_rc(cairn_store *store, const char *what, int rc)
{
    if (rc == MDB_SUCCESS) {
        return CAIRN_OK;
    }
    cairn__fmt(store->detail, sizeof(store->detail), "%s: %s (%d)", what,
               mdb_strerror(rc), rc);
    switch (rc) {
    case ENOMEM:
        return CAIRN_ENOMEM;
    case EIO:
    case ENOSPC:
    case EACCES:
    case EPERM:
    case ENOENT:
    case EROFS:
    case EAGAIN:
        return CAIRN_EIO;
    case MDB_KEYEXIST:
        return CAIRN_EEXIST;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_BAD_DBI:
    case MDB_INCOMPATIBLE:
        return CAIRN_ECORRUPT;
    case MDB_VERSION_MISMATCH:
        return CAIRN_EVERSION;
    case MDB_PANIC:
        atomic_store(&store->fatal, 1);
        return CAIRN_EFATAL;
    default:
        return CAIRN_ESTORE;
    }
}

cairn_err cairn__store_data_stat(cairn_store *store, struct stat *st)
{
    int fd = -1;
    int rc = mdb_env_get_fd(store->env, &fd);
    if (rc != MDB_SUCCESS) {
        return map_rc(store, "mdb_env_get_fd", rc);
    }
    if (fstat(fd, st) != 0) {
        return map_rc(store, "fstat data.mdb", errno);
    }
    return CAIRN_OK;
}

int cairn__store_nolock(cairn_store *store)
{
    unsigned flags = 0;
    return mdb_env_get_flags(store->env, &flags) == MDB_SUCCESS &&
           (flags & MDB_NOLOCK) != 0;
}

const char *cairn__store_detail(const cairn_store *store)
{
    return store->detail;
}

int cairn__store_fatal(const cairn_store *store)
{
    return atomic_load(&store->fatal);
}

void cairn__store_map_info(cairn_store *store, uint64_t *map_size,
                           unsigned *growths)
{
    pthread_rwlock_rdlock(&store->maplock);
    *map_size = store->map_size;
    *growths = store->growths;
    pthread_rwlock_unlock(&store->maplock);
}

void cairn__store_env_info(cairn_store *store, uint64_t *page_size,
                           uint64_t *last_txnid, uint64_t *last_page,
                           unsigned *readers)
{
    MDB_envinfo info;
    MDB_stat st;
    *page_size = *last_txnid = *last_page = 0;
    *readers = 0;
    if (mdb_env_info(store->env, &info) == MDB_SUCCESS) {
        *last_txnid = info.me_last_txnid;
        *last_page = info.me_last_pgno;
        *readers = info.me_numreaders;
    }
    if (mdb_env_stat(store->env, &st) == MDB_SUCCESS) {
        *page_size = st.ms_psize;
    }
}

int cairn__store_has(const cairn_store *store, cairn_dbi dbi)
{
    return (unsigned)dbi < CAIRN_DBI_COUNT_ && store->have[dbi];
}

const char *cairn__dbi_name(cairn_dbi dbi)
{
    return (unsigned)dbi < CAIRN_DBI_COUNT_ ? dbi_names[dbi] : "";
}
MDB_env *cairn__store_env(cairn_store *store)
{
    return store->env;
}

cairn_err cairn__store_map_rc(cairn_store *store, const char *what, int rc)
{
    return map_rc(store, what, rc);
}
