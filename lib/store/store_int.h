/*
 * store_int.h - what the store's own files share beyond store.h: the
 * LMDB environment of a store, read transactions on it, and the one
 * mapping of LMDB codes (store.c).  Only lib/store files include it: it
 * includes lmdb.h.
 */
#ifndef CAIRN_STORE_INT_H
#define CAIRN_STORE_INT_H

#include "store/store.h"

#include <lmdb.h>

/** The store's LMDB environment. */
CAIRN_INTERNAL MDB_env *cairn__store_env(cairn_store *store);
/** Begin a read transaction on @p store holding its map lock shared: an
 *  LMDB code; on success end it with cairn__store_end_read_raw(). */
CAIRN_INTERNAL int cairn__store_begin_read_raw(cairn_store *store,
                                               MDB_txn **txn);
/** End a transaction begun by cairn__store_begin_read_raw(). */
CAIRN_INTERNAL void cairn__store_end_read_raw(cairn_store *store, MDB_txn *txn);
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
