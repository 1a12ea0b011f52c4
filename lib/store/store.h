/*
 * store.h - the LMDB environment behind a journal directory.  Only the
 * files of lib/store include lmdb.h (through store_int.h), and LMDB result
 * codes are mapped in store.c only.
 *
 * Writes go through cairn__store_write(): it begins a write transaction,
 * calls a function that must be re-runnable, and commits.  On MDB_MAP_FULL
 * (from a put or from the commit) the transaction is aborted, the map is
 * doubled and the whole function runs again.  Any other commit failure
 * makes the store sticky-fatal: every later write fails with CAIRN_EFATAL
 * until the store is closed and reopened.
 *
 * Threads: transactions may be begun from several threads at once
 * (MDB_NOTLS; LMDB serialises write transactions).  Every transaction
 * holds the store's map lock shared; growing the map (or adopting a size
 * another process set) takes it exclusively, because LMDB remaps.  So a
 * thread must not keep a read transaction open while it calls
 * cairn__store_write(): a growth would wait for it forever.  The detail
 * text is per store, not per thread.
 */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include "base/common.h"

#include <sys/stat.h>

typedef enum cairn_dbi {
    CAIRN_DBI_META = 0,
    CAIRN_DBI_NAMES = 1,
    CAIRN_DBI_RUNS = 2,
    CAIRN_DBI_RECORDS = 3,
    CAIRN_DBI_INDEX = 4,
    CAIRN_DBI_CHECKPOINTS = 5,
    /* Format 2 (absent in a format-1 journal, cairn__store_has()): */
    CAIRN_DBI_TREE = 6, /**< the log tree's complete nodes */
    CAIRN_DBI_SMAP = 7, /**< the state map's complete nodes */
    /* Made by the first import (cairn__txn_create_imports()); absent until
     * then, and never in a format-1 journal: */
    CAIRN_DBI_IMPORTS = 8, /**< run id -> imported bundle (FORMAT.md 21) */
    /* Format 2, per-operation state rows (FORMAT.md 23): made with the
     * journal (or by cairn migrate); absent in a format-1 journal and in
     * format-2 journals of earlier builds. */
    CAIRN_DBI_OPROWS = 9, /**< run_num || op -> operation row */
    CAIRN_DBI_OTREE = 10, /**< run_num || level || index -> op tree node */
    CAIRN_DBI_COUNT_ = 11
} cairn_dbi;

/** The one database of a store opened by cairn__store_open_kv() (it
 *  takes the slot of "meta", which such a store does not have). */
#define CAIRN_DBI_KV CAIRN_DBI_META

/** The first database a format-1 journal does not have. */
#define CAIRN_DBI_FORMAT2_FIRST CAIRN_DBI_TREE

typedef struct cairn_store cairn_store;
typedef struct cairn_txn cairn_txn;
typedef struct cairn_cursor cairn_cursor;

/** Put flags. */
#define CAIRN_PUT_APPEND 0x1u      /**< key sorts after every key (fast) */
#define CAIRN_PUT_NOOVERWRITE 0x2u /**< fail with CAIRN_EEXIST if present */

/**
 * Open the environment in @p dir.  @p create: create cairn's named
 * databases when missing (only when a journal is being made: otherwise a
 * missing database is CAIRN_ECORRUPT, "not a cairn journal").  @p mode:
 * of data.mdb and lock.mdb when LMDB creates them.
 * Full durability; MDB_NOTLS; max 8 named databases; stale readers cleared.
 * @p map_size: the initial map size in bytes (CAIRN_MAP_SIZE_MIN ..
 * CAIRN_MAP_SIZE_MAX, else CAIRN_EINVAL; 0: CAIRN_MAP_SIZE_DEFAULT), growing
 * by doubling up to CAIRN_MAP_SIZE_MAX.
 */
CAIRN_INTERNAL cairn_err cairn__store_open(const char *dir, int readonly,
                                           int create, mode_t mode,
                                           uint64_t map_size, cairn_store **out,
                                           char *detail, size_t detail_len);
/**
 * Open (creating when missing) an LMDB environment in the existing
 * directory @p dir that holds exactly one named database, @p db_name
 * (created when missing), addressed as CAIRN_DBI_KV: a small store that
 * is not a journal (the witness's, lib/witness).  Full durability,
 * MDB_NOTLS, stale readers cleared, the map grows as for a journal.
 * @p mode: of data.mdb and lock.mdb when LMDB creates them.  The caller
 * checks the directory and its files (hostile directories) first.
 * @return CAIRN_OK; CAIRN_EINVAL; CAIRN_EIO; CAIRN_ESTORE; CAIRN_ECORRUPT;
 *         CAIRN_ENOMEM (detail says which).
 */
CAIRN_INTERNAL cairn_err cairn__store_open_kv(const char *dir,
                                              const char *db_name, mode_t mode,
                                              cairn_store **out, char *detail,
                                              size_t detail_len);
/** Did LMDB open the environment without lock.mdb (MDB_NOLOCK, which it
 *  falls back to read-only on a read-only file system)? */
CAIRN_INTERNAL int cairn__store_nolock(cairn_store *store);
/** fstat of the data.mdb descriptor LMDB opened. */
CAIRN_INTERNAL cairn_err cairn__store_data_stat(cairn_store *store,
                                                struct stat *st);
/**
 * Open the LMDB data file @p path (not a directory) read-only with
 * MDB_NOLOCK: no lock file is opened or created and no reader slot is
 * taken.  Only for a private copy that no other process writes (the
 * snapshot of store_snapshot.c): without the lock nothing protects the
 * pages from a writer.
 */
CAIRN_INTERNAL cairn_err cairn__store_open_private(const char *path,
                                                   cairn_store **out,
                                                   char *detail,
                                                   size_t detail_len);

/** cairn__store_open_snapshot() options and results. */
typedef struct cairn__snapshot_opts {
    const char *tmp_dir; /**< where the unnamed copy lives; NULL: /tmp */
    /** Tests only (NULL otherwise): called after each copy of the data
     *  pages, before the meta pages are read again. */
    void (*hook)(void *ctx, unsigned attempt);
    void *hook_ctx;
    unsigned attempts; /**< out: copies made (the last one was kept) */
    uint64_t txnid;    /**< out: the LMDB transaction the copy holds */
} cairn__snapshot_opts;

/** Copies tried before a journal that changes under every copy is given
 *  up (each waits a little longer for the writer). */
#define CAIRN__SNAPSHOT_ATTEMPTS 12u

/** What the two meta pages of an LMDB data file say: the newest one. */
typedef struct cairn__store_meta {
    uint32_t psize;   /**< page size (both pages agree) */
    unsigned current; /**< slot of the newest meta page: 0 or 1 */
    uint64_t txnid;   /**< its transaction id */
    uint64_t last_pg; /**< its last page number */
} cairn__store_meta;

/** The page size that meta page 0 at the start of @p head (@p len bytes
 *  of data.mdb from offset 0) states: a power of two in 512..65536, with
 *  that page a meta page of LMDB's data format 1; 0 when it is not one
 *  (store_snapshot.c; reads no more than the first 152 bytes, none
 *  past @p len). */
CAIRN_INTERNAL uint32_t cairn__store_meta_psize(const uint8_t *head,
                                                size_t len);
/** Decode meta pages 0 and 1 of @p pages (@p len bytes of data.mdb from
 *  offset 0) for page size @p psize and pick the newest (the higher
 *  txnid; page 0 on a tie).  Reads nothing past @p len.
 *  @return 0 with *out filled; -1 (*out zeroed) when @p psize is not a
 *          valid page size, @p len is shorter than two pages, or either
 *          page is not an LMDB meta page of that size and slot. */
CAIRN_INTERNAL int cairn__store_meta_pick(const uint8_t *pages, size_t len,
                                          uint32_t psize,
                                          cairn__store_meta *out);

/** Open DIR/data.mdb for reading only (no links followed, a regular
 *  file): CAIRN_OK with *fd; CAIRN_EIO (missing, unreadable, not a
 *  regular file); CAIRN_EINVAL (path too long); detail says which. */
CAIRN_INTERNAL cairn_err cairn__store_open_data(const char *dir, int *fd,
                                                char *detail,
                                                size_t detail_len);
/** cairn_journal_check_pages() on @p len bytes of a data.mdb in memory
 *  (store_pages.c; fuzzing); reads nothing past @p len. */
CAIRN_INTERNAL cairn_err cairn__store_check_pages_mem(const uint8_t *data,
                                                      size_t len, char *detail,
                                                      size_t detail_len);

/**
 * Open a consistent private copy of the environment in @p dir without its
 * lock (store_snapshot.c).  data.mdb is read, never written; lock.mdb is
 * not opened.  The copy is an unnamed file in opts->tmp_dir (O_TMPFILE,
 * or a name unlinked at once) that disappears with the store.
 *
 * Consistency: the newest meta page (transaction T) is read, every page
 * up to T's last page is copied, then the meta pages are read again.  An
 * LMDB writer reuses a page that T references only from transaction T+3
 * on (pages freed by T+1 are reused by T+3 at the earliest, as no
 * reader slot protects anything older), and T+3 begins only after T+2
 * committed.  So when the newest meta is still at most T+1 after the
 * copy, every page of T was copied as T committed it; the copy's two
 * meta pages are then both set to T's, so that LMDB opens exactly T.
 * Otherwise the copy is made again (CAIRN__SNAPSHOT_ATTEMPTS times).
 * @return CAIRN_OK; CAIRN_EIO (no data.mdb, unreadable, not a regular
 *         file, temporary file or copy failed: detail says which);
 *         CAIRN_ECORRUPT (not an LMDB data file this build reads);
 *         CAIRN_ESTORE (the journal changed under every copy, or LMDB
 *         refused the copy); CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__store_open_snapshot(const char *dir,
                                                    cairn__snapshot_opts *opts,
                                                    cairn_store **out,
                                                    char *detail,
                                                    size_t detail_len);
CAIRN_INTERNAL void cairn__store_close(cairn_store *store);
/** The description of the store's last failure. */
CAIRN_INTERNAL const char *cairn__store_detail(const cairn_store *store);
CAIRN_INTERNAL int cairn__store_fatal(const cairn_store *store);
/** Current map size in bytes and number of map growths so far. */
CAIRN_INTERNAL void cairn__store_map_info(cairn_store *store,
                                          uint64_t *map_size,
                                          unsigned *growths);
/** Facts for `cairn info`: page size, last txn id, pages used, readers. */
CAIRN_INTERNAL void cairn__store_env_info(cairn_store *store,
                                          uint64_t *page_size,
                                          uint64_t *last_txnid,
                                          uint64_t *last_page,
                                          unsigned *readers);

/** Begin a read-only snapshot. */
CAIRN_INTERNAL cairn_err cairn__store_read(cairn_store *store, cairn_txn **out);
/** End a read transaction (NULL-safe). */
CAIRN_INTERNAL void cairn__txn_end(cairn_txn *txn);
/** Flush the data file now (mdb_env_sync, forced): what another process
 *  committed but did not flush before it died becomes durable. */
CAIRN_INTERNAL cairn_err cairn__store_sync(cairn_store *store);

typedef cairn_err (*cairn_write_fn)(cairn_txn *txn, void *ctx);
/**
 * Run @p fn in a write transaction and commit it durably.  If @p fn
 * returns an error the transaction is aborted and nothing is written.
 * @return @p fn's error; CAIRN_EFATAL (sticky); CAIRN_ESTORE; CAIRN_EIO;
 *         CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__store_write(cairn_store *store,
                                            cairn_write_fn fn, void *ctx);

/** Get a value: *found = 0 when absent.  The value is a view valid until
 *  the transaction ends or the next put. */
CAIRN_INTERNAL cairn_err cairn__txn_get(cairn_txn *txn, cairn_dbi dbi,
                                        const void *key, size_t key_len,
                                        const uint8_t **val, size_t *val_len,
                                        int *found);
CAIRN_INTERNAL cairn_err cairn__txn_put(cairn_txn *txn, cairn_dbi dbi,
                                        const void *key, size_t key_len,
                                        const void *val, size_t val_len,
                                        unsigned flags);
/** Delete a key; *found (may be NULL) = 0 when it was absent (not an
 *  error). */
CAIRN_INTERNAL cairn_err cairn__txn_del(cairn_txn *txn, cairn_dbi dbi,
                                        const void *key, size_t key_len,
                                        int *found);
/** The last key of a database (*found = 0 when empty). */
CAIRN_INTERNAL cairn_err cairn__txn_last_key(cairn_txn *txn, cairn_dbi dbi,
                                             const uint8_t **key,
                                             size_t *key_len, int *found);

/** Number of entries in a database (O(1): mdb_stat). */
CAIRN_INTERNAL cairn_err cairn__txn_count(cairn_txn *txn, cairn_dbi dbi,
                                          uint64_t *count);

CAIRN_INTERNAL cairn_err cairn__cursor_open(cairn_txn *txn, cairn_dbi dbi,
                                            cairn_cursor **out);
/** A cursor on LMDB's main (unnamed) database, whose keys are the names
 *  of the named databases: the directory check lists them. */
CAIRN_INTERNAL cairn_err cairn__cursor_open_main(cairn_txn *txn,
                                                 cairn_cursor **out);
/** The name of @p dbi, a key of the main database ("" if out of range). */
CAIRN_INTERNAL const char *cairn__dbi_name(cairn_dbi dbi);
/** Create database CAIRN_DBI_IMPORTS in write transaction @p txn (if
 *  missing) and remember it; a failed commit forgets it again
 *  (cairn__store_forget_imports()).  @return CAIRN_OK; a store error. */
CAIRN_INTERNAL cairn_err cairn__txn_create_imports(cairn_txn *txn);
/** After the write transaction of cairn__txn_create_imports() failed:
 *  the handle of a database it created is gone with it. */
CAIRN_INTERNAL void cairn__store_forget_imports(cairn_store *store,
                                                int had_before);
/** Does the environment have database @p dbi?  The databases of format 2
 *  (CAIRN_DBI_FORMAT2_FIRST and later) may be missing: a format-1
 *  journal has none of them; every other one is always there. */
CAIRN_INTERNAL int cairn__store_has(const cairn_store *store, cairn_dbi dbi);
CAIRN_INTERNAL void cairn__cursor_close(cairn_cursor *cur);
/** Position at the first key >= @p key (NULL: the first key) and return
 *  it; *found = 0 at the end. */
CAIRN_INTERNAL cairn_err cairn__cursor_seek(cairn_cursor *cur, const void *key,
                                            size_t key_len, const uint8_t **k,
                                            size_t *kl, const uint8_t **v,
                                            size_t *vl, int *found);
/** The value under exactly @p key, as cairn__txn_get() answers (MDB_SET_KEY
 *  through the cursor, which stays there): LMDB first looks in the leaf
 *  page the cursor is on, so nearly ascending keys cost little more than
 *  steps, and a damaged page is found by the same checks as a lookup's
 *  (an error, never LMDB's assertion in a step to a sibling page). */
CAIRN_INTERNAL cairn_err cairn__cursor_find(cairn_cursor *cur, const void *key,
                                            size_t key_len, const uint8_t **v,
                                            size_t *vl, int *found);
CAIRN_INTERNAL cairn_err cairn__cursor_next(cairn_cursor *cur,
                                            const uint8_t **k, size_t *kl,
                                            const uint8_t **v, size_t *vl,
                                            int *found);

/* Migration from format 1 (commit/migrate.c). */

/** Copy the environment, as one read transaction sees it, into the file
 *  open for writing as @p fd (mdb_env_copyfd2, no compaction); the caller
 *  fsyncs and closes @p fd.  Works on a read-only store.
 *  @return CAIRN_OK; CAIRN_EIO; CAIRN_ESTORE (detail says which). */
CAIRN_INTERNAL cairn_err cairn__store_copy_fd(cairn_store *store, int fd);
/**
 * In the write transaction @p txn, create format 2's databases ("tree",
 * "smap", "oprows", "otree") and make them usable through the store
 * (cairn__store_has()). A database that exists already must be empty.  Only for
 * a store nobody else uses (a private migration copy).  When @p txn aborts,
 * LMDB closes the new handles: call it again in the next transaction (as
 * cairn__store_write()'s rerun does) or close the store.
 * @return CAIRN_OK; CAIRN_ECORRUPT (one of them exists and is not empty);
 *         storage errors.
 */
CAIRN_INTERNAL cairn_err cairn__txn_create_format2(cairn_txn *txn);

/* Compaction (store_copy.c, store_rebuild.c, store_snapshot.c; the procedure
 * is journal/compact.c's). */

/** Name prefix of the private temporary file a compaction writes in the
 *  journal directory (a leftover of a killed one is removed by the next). */
#define CAIRN__COMPACT_TMP_PREFIX ".cairn-compact-"

/** The size of data.mdb now (*file_bytes) and the page size.
 *  @return CAIRN_OK; CAIRN_ESTORE; CAIRN_EIO. */
CAIRN_INTERNAL cairn_err cairn__store_space(cairn_store *store,
                                            uint64_t *file_bytes,
                                            uint64_t *page_size);
/** Bytes of keys and values a rebuild puts into one write transaction of
 *  its copy: LMDB holds a transaction's pages in memory until it
 *  commits, so this bounds the memory a rebuild takes. */
#define CAIRN__REBUILD_TXN_BYTES ((uint64_t)32 << 20)

/** cairn__store_rebuild() options. */
typedef struct cairn__rebuild_opts {
    uint64_t txn_bytes; /**< 0: CAIRN__REBUILD_TXN_BYTES (tests: less) */
    /** Tests only (NULL otherwise): called after each named database is
     *  copied, before the last commit (a crash test kills there). */
    void (*hook)(void *ctx);
    void *hook_ctx;
} cairn__rebuild_opts;

/**
 * Rebuild the environment's newest transaction into @p fd, an empty
 * regular file open for reading and writing (store_rebuild.c): a fresh
 * LMDB environment (MDB_NOLOCK, opened through /proc/thread-self/fd/N, so
 * the file is never looked up by name) holding every database of @p store
 * with its flags, each filled entry by entry in key order with MDB_APPEND
 * (sorted duplicates with MDB_APPENDDUP), so that its leaf pages are full;
 * plain entries of the main database are copied as well.  The pages of
 * the source's free list and the half-empty pages deletions left are not
 * carried over.  Not synced (the caller fsyncs @p fd); its meta pages
 * hold the copy's own transaction ids (one per CAIRN__REBUILD_TXN_BYTES
 * or part of it: see cairn__store_file_set_txnid()).  Deterministic: the same
 * content gives the same file.  @p opts may be NULL (the defaults).
 * @param bytes  out: the size of the file written.
 * @return CAIRN_OK; CAIRN_EINVAL (@p fd not an empty regular file);
 *         CAIRN_EIO (a write failed, the file system is full);
 *         CAIRN_ECORRUPT (the source cannot be read); CAIRN_ESTORE;
 *         CAIRN_ENOMEM (detail says which, naming the database).
 */
CAIRN_INTERNAL cairn_err cairn__store_rebuild(cairn_store *store, int fd,
                                              const cairn__rebuild_opts *opts,
                                              uint64_t *bytes, char *detail,
                                              size_t detail_len);
/**
 * Do @p a and @p b hold the same content?  The main database's keys (the
 * names of the named databases) must be the same, and every key and value
 * of every named database equal, in order.
 * @return CAIRN_OK; CAIRN_ECORRUPT (they differ: detail names the
 *         database and the entry); storage errors.
 */
CAIRN_INTERNAL cairn_err cairn__store_same_content(cairn_store *a,
                                                   cairn_store *b, char *detail,
                                                   size_t detail_len);
/**
 * Give both meta pages of the LMDB data file @p fd (a private copy nobody
 * has open) transaction id @p txnid, with the content of its newest meta
 * page (store_snapshot.c).  A rebuilt copy starts again at transaction
 * 1; after this it continues the journal's numbering, so that a lock.mdb
 * written for the old file names the copy's newest transaction.
 * @return CAIRN_OK; CAIRN_ECORRUPT (not an LMDB data file this build
 *         reads); CAIRN_EIO.
 */
CAIRN_INTERNAL cairn_err cairn__store_file_set_txnid(int fd, uint64_t txnid,
                                                     char *detail,
                                                     size_t detail_len);

/* create.c: making a journal directory and its files. */

/** Create a new journal in the directory open as @p dfd (named @p dir)
 *  atomically (create.c): refuse a directory holding anything but
 *  cairn's own files (CAIRN_ECORRUPT), build the journal (its files
 *  @p file_mode) in a private temporary directory inside it, make it
 *  durable, link data.mdb into place (never replacing one), fsync the
 *  directory.  @p map_size: as for cairn__store_open(). */
CAIRN_INTERNAL cairn_err cairn__journal_create(int dfd, const char *dir,
                                               mode_t file_mode,
                                               uint64_t map_size, char *detail,
                                               size_t detail_len);
/** Fills the private directory open as @p tfd (named @p tmp) with a
 *  complete journal: data.mdb, durable once the function returns (the
 *  caller fsyncs it and the directory before publishing). */
typedef cairn_err (*cairn_fill_fn)(void *ctx, int tfd, const char *tmp,
                                   char *detail, size_t detail_len);
/** cairn__journal_create() with what goes into the private directory
 *  made by @p fill; @p exclusive: an existing DIR/data.mdb when it is
 *  linked into place is CAIRN_EEXIST (else it is kept, and that is
 *  success: a racing creator made the same empty journal).  The private
 *  directory and what it holds is removed whatever happens, except after
 *  a crash: then a stale TMP_PREFIX directory stays, which every later
 *  create ignores. */
CAIRN_INTERNAL cairn_err cairn__journal_build(int dfd, const char *dir,
                                              int exclusive, cairn_fill_fn fill,
                                              void *ctx, char *detail,
                                              size_t detail_len);
/** mkdir(@p dir, @p mode) and fsync its parent; an existing one is fine. */
CAIRN_INTERNAL cairn_err cairn__journal_mkdir(const char *dir, mode_t mode,
                                              char *detail, size_t detail_len);
/** Reserve the blocks of lock.mdb in the directory open as @p dfd
 *  (created with @p mode, never through a symbolic link, checked as ours;
 *  its fstat in @p st) so LMDB's mapping of it cannot fault on a full file
 *  system (create.c).  Opens and closes the file: only before LMDB opens
 *  the environment (closing drops the process's fcntl locks on it). */
CAIRN_INTERNAL cairn_err cairn__prealloc_lock_file(int dfd, const char *dir,
                                                   mode_t mode, struct stat *st,
                                                   char *detail,
                                                   size_t detail_len);
/** A path for LMDB that names the directory open as @p fd itself
 *  (/proc/thread-self/fd/N), or @p fallback without /proc. */
CAIRN_INTERNAL void cairn__fd_path(int fd, const char *fallback, char *out,
                                   size_t cap);
#endif
