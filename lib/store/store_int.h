/*
 * store_int.h - what the store's own files share beyond store.h: the
 * handles' structures, the LMDB environment of a store, transactions on
 * it, the guards of store_guard.c and the one mapping of LMDB codes
 * (store.c).  Only lib/store files include it: it includes lmdb.h.
 */
#ifndef CAIRN_STORE_INT_H
#define CAIRN_STORE_INT_H

#include "store/store.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

/* The handles store.h declares opaque. */
struct cairn_store {
    MDB_env *env;
    MDB_dbi dbi[CAIRN_DBI_COUNT_];
    int have[CAIRN_DBI_COUNT_]; /* the database exists */
    int readonly;
    int private_copy; /* MDB_NOLOCK on a private copy (no lock file) */
    char kv_name[32]; /* cairn__store_open_kv(): its one database, or "" */
    atomic_int fatal;
    /* Threads of one process share the map: every transaction holds
     * maplock shared; changing the map size (grow, adopting another
     * process's size) holds it exclusively, since LMDB remaps then. */
    pthread_rwlock_t maplock;
    int maplock_ready;
    uint64_t map_size; /* under maplock */
    unsigned growths;  /* under maplock */
    char detail[512];
};

struct cairn_txn {
    cairn_store *store;
    MDB_txn *txn;
    int map_full; /* a put hit MDB_MAP_FULL: grow and rerun */
};

struct cairn_cursor {
    MDB_cursor *cur;
    cairn_store *store; /* for error mapping and details */
};

/** The store's LMDB environment. */
CAIRN_INTERNAL MDB_env *cairn__store_env(cairn_store *store);
/** Begin a transaction (@p flags: 0 or MDB_RDONLY) on @p store holding its
 *  map lock shared, adopting a map size another process set: an LMDB
 *  code; on success the caller releases the lock when the transaction
 *  ends (store_txn.c). */
CAIRN_INTERNAL int cairn__store_begin(cairn_store *store, unsigned flags,
                                      MDB_txn **txn);
/** Begin a read transaction on @p store holding its map lock shared: an
 *  LMDB code; on success end it with cairn__store_end_read_raw(). */
CAIRN_INTERNAL int cairn__store_begin_read_raw(cairn_store *store,
                                               MDB_txn **txn);
/** End a transaction begun by cairn__store_begin_read_raw(). */
CAIRN_INTERNAL void cairn__store_end_read_raw(cairn_store *store, MDB_txn *txn);
/** The open gate (store_guard.c): an exclusive flock on the journal
 *  directory @p dir, waited for at most 60 s.  The descriptor to close
 *  after mdb_env_open(); -2 when this user may not read the directory
 *  (no gate); -1 with the store's detail set on any other failure. */
CAIRN_INTERNAL int cairn__store_gate_enter(cairn_store *s, const char *dir);
/** The write check (store_guard.c): CAIRN_OK when the write transaction
 *  @p txn follows the newest meta page of data.mdb, else CAIRN_EFATAL
 *  (the store turns sticky-fatal) or LMDB's error mapped. */
CAIRN_INTERNAL cairn_err cairn__store_check_write_base(cairn_store *store,
                                                       MDB_txn *txn);
/** The store's mapping of LMDB and errno codes (store.c's map_rc): the
 *  cairn_err for @p rc, and "@p what: LMDB's text" in the store's detail
 *  when @p rc is not MDB_SUCCESS. */
CAIRN_INTERNAL cairn_err cairn__store_map_rc(cairn_store *store,
                                             const char *what, int rc);
/** Open the named database @p name (a key of the main database) in
 *  @p txn: MDB_SUCCESS, MDB_INCOMPATIBLE when the key is plain data (or
 *  no usable name), or LMDB's error. */
CAIRN_INTERNAL int cairn__store_open_named(MDB_txn *txn, const MDB_val *name,
                                           MDB_dbi *dbi);

#endif
