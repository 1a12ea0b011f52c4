/*
 * journal.h - the journal handle: opening and closing it (journal.c), the
 * lookups and run locks its users share (lookup.c, runlock.c), and the
 * readers (replay.c, rebuild.c, summary.c, info.c).  The commit path is
 * commit/commit.h's.
 */
#ifndef CAIRN_JOURNAL_H
#define CAIRN_JOURNAL_H

#include "base/common.h"
#include "keys/key.h"
#include "format/record.h"
#include "state/state.h"
#include "store/store.h"

#include <pthread.h>
#include <sys/stat.h>
#include <sys/types.h>

/** Size of a failure description (the handle's and each request's). */
#define CAIRN__DETAIL_MAX 1024

/** A run writer lock held by the handle (runlock.c).  It is released when
 *  no transition relies on it and cairn_run_lock() did not pin it. */
typedef struct cairn_held_lock {
    uint64_t run_num;
    int fd;
    unsigned users; /**< transitions in flight relying on it */
    int pinned;     /**< taken by cairn_run_lock() */
} cairn_held_lock;

/** A group-commit request (commit/commit.h); the handle's queue links
 *  them. */
typedef struct cairn_append_req cairn_append_req;

/** A thread's copy of the handle's detail (cairn_journal_errdetail). */
typedef struct cairn_detail_slot {
    pthread_t thread;
    char text[CAIRN__DETAIL_MAX];
} cairn_detail_slot;

/** Run id -> run number, remembered by the handle (names never change
 *  and runs are never removed, so an entry stays true). */
typedef struct cairn_name_entry {
    char *run_id; /**< NULL: free */
    uint64_t run_num;
} cairn_name_entry;

#define CAIRN__NAME_SLOTS 1024u

/**
 * What threads sharing a handle synchronise on (journal.c; the group-commit
 * queue's protocol is commit/group.c's).  mu guards the queue, the leader
 * flag, the handle's detail when a transition publishes its failure, and
 * the detail slots; locks_mu guards the run lock table; names_mu the
 * name cache.  No two of them are ever held at once.  A waiting thread
 * sleeps on its own cairn_waiter: when a batch is decided the leader
 * wakes the owners of its requests and the owner of the next queued one.
 */
typedef struct cairn_jsync {
    pthread_mutex_t mu;
    pthread_cond_t queue_cv; /**< the queue grew (bounded wait) */
    pthread_mutex_t locks_mu;
    cairn_append_req *head, *tail; /**< FIFO of waiting requests */
    size_t queued;
    int committing;     /**< a leader is running a batch */
    int leader_waiting; /**< the leader waits for a fuller batch */
    unsigned batch_max; /**< requests per write transaction */
    unsigned wait_us;   /**< bounded wait for a fuller batch (0: none) */
    cairn_detail_slot **slots;
    size_t n_slots;
    /** The last head the handle proved under its signer's key (head.c):
     *  an unchanged head is not verified again.  Under head_mu. */
    pthread_mutex_t head_mu;
    uint8_t head_seen[CAIRN_HASH_BYTES]; /**< SHA-256 of the head's bytes */
    int head_seen_ok;
    pthread_mutex_t names_mu; /**< guards names */
    cairn_name_entry names[CAIRN__NAME_SLOTS];
    size_t n_names;
} cairn_jsync;

struct cairn_journal {
    char *dir;
    int dfd; /**< the journal directory, opened and checked */
    /** data.mdb, read-write, for the run locks' byte locks (lock.c);
     *  writable handles only, else -1.  Closed after the environment. */
    int data_fd;
    /** DIR/writers.lock, flocked shared for the handle's life (writable
     *  handles; else -1): `cairn compact` runs only when nobody holds it
     *  (base/wlock.h).  Closed after the environment. */
    int writers_fd;
    struct stat dir_st;  /**< its fstat at open */
    struct stat data_st; /**< data.mdb's (modes of new files, jdir.h) */
    unsigned warnings;   /**< CAIRN_LOOSE_* found at open */
    char warn_detail[512];
    cairn_store *store;
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
    uint32_t format; /**< meta "format": 1 (read-only here) or 2 */
    const cairn_signer *signer;

    /** The options it was opened with, every default filled in (flags,
     *  map_size, batch_max, batch_wait_us; tmp_dir NULL). */
    cairn_journal_opts opts;
    int readonly;
    int have_boot_id; /**< boot_id was read at open (it cannot change) */
    uint8_t boot_id[CAIRN_BOOT_ID_BYTES];
    /** The opening process and its /proc start time, read once at open
     *  (writable handles; a living process's start time cannot change).
     *  have_self_start 0: not known, look it up on each claim. */
    pid_t self_pid;
    int have_self_start;
    uint64_t self_start;
    cairn_held_lock *locks; /**< under sync->locks_mu */
    size_t n_locks;
    cairn_jsync *sync;
    struct cairn_xq *xq; /**< shared commit queue (xq.h), or NULL */
    /** The last failure of a call on the handle (cairn__jfail(), or a
     *  transition's detail published under sync->mu).  The commit path
     *  never writes here while it runs: its failures travel in the
     *  request's own buffer. */
    char detail[CAIRN__DETAIL_MAX];
};

/** The size of the first version of cairn_journal_opts (the smallest
 *  opts->size accepted). */
#define CAIRN__OPTS_V1_SIZE                                                    \
    (offsetof(cairn_journal_opts, tmp_dir) + sizeof(const char *))

/** cairn_journal_open_opts() (@p opts NULL: defaults) with the snapshot
 *  options @p snap (used, and filled, only with CAIRN_OPEN_SNAPSHOT; its
 *  tmp_dir is used, opts->tmp_dir is not; tests pass a copy hook). */
CAIRN_INTERNAL cairn_err cairn__journal_open(const char *dir,
                                             const cairn_journal_opts *opts,
                                             cairn__snapshot_opts *snap,
                                             cairn_journal **out, char *detail,
                                             size_t detail_len);

/** Open @p j->dir's directory and files with the owner checks and the
 *  store on them (journal_files.c): the open of a handle that is not a
 *  snapshot; @p flags: the open's CAIRN_OPEN_* flags. */
CAIRN_INTERNAL cairn_err cairn__journal_open_store(cairn_journal *j,
                                                   unsigned flags, char *detail,
                                                   size_t detail_len);

/** Record @p err's description on the handle; returns @p err. */
CAIRN_INTERNAL cairn_err cairn__jfail(cairn_journal *j, cairn_err err,
                                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Create / destroy the handle's thread synchronisation.
 *  Batch size and bounded wait from j->opts (batch_max, batch_wait_us). */
CAIRN_INTERNAL cairn_err cairn__jsync_open(cairn_journal *j);
CAIRN_INTERNAL void cairn__jsync_close(cairn_journal *j);
/** Copy @p text into the handle's detail under sync->mu. */
CAIRN_INTERNAL void cairn__publish_detail(cairn_journal *j, const char *text);
/** Look up @p run_id (lookup.c): in the handle's name cache, else in a read
 *  transaction of its own (then cached); failures are described in
 *  @p detail (the handle's detail is not touched).  Thread-safe. */
CAIRN_INTERNAL cairn_err cairn__lookup_outside(cairn_journal *j,
                                               const char *run_id,
                                               uint64_t *run_num, char *detail,
                                               size_t detail_len);

/** Take a reference on run @p run_num's writer lock (runlock.c), opening
 *  it when the
 *  handle does not hold it yet; @p pin: for cairn_run_lock().  Thread-
 *  safe.  Failure (CAIRN_ELOCKED, CAIRN_EIO, CAIRN_ENOMEM) in @p detail. */
CAIRN_INTERNAL cairn_err cairn__run_lock_get(cairn_journal *j, uint64_t run_num,
                                             int pin, char *detail,
                                             size_t detail_len);
/** Drop a reference (or the pin); the lock is released when neither is
 *  left.  Thread-safe. */
CAIRN_INTERNAL void cairn__run_lock_put(cairn_journal *j, uint64_t run_num,
                                        int unpin);
/** Does the handle hold run @p run_num's lock pinned by cairn_run_lock()?
 *  Thread-safe. */
CAIRN_INTERNAL int cairn__run_lock_pinned(cairn_journal *j, uint64_t run_num);

/** Look up a run number by id in @p txn (lookup.c); CAIRN_ENORUN when
 *  absent. */
CAIRN_INTERNAL cairn_err cairn__lookup_run(cairn_journal *j, cairn_txn *txn,
                                           const char *run_id,
                                           uint64_t *run_num);
/** Load and decode the materialised state of @p run_num (lookup.c);
 *  failure described in @p detail.  In a format-2 journal the state is
 *  first proven (cairn__load_state_at() under the head cairn__head_load()
 *  gives), so a forged state is CAIRN_ETAMPERED. */
CAIRN_INTERNAL cairn_err cairn__load_state(cairn_journal *j, cairn_txn *txn,
                                           uint64_t run_num, cairn_state *st,
                                           char *detail, size_t detail_len);
/** Is @p st (loaded as run @p run_num, found by the name @p run_id)
 *  really that run?  @p names is unsigned, the state proven: a name
 *  re-pointed to another run is CAIRN_ETAMPERED, described in @p detail. */
CAIRN_INTERNAL cairn_err cairn__state_is_run(const cairn_state *st,
                                             const char *run_id,
                                             uint64_t run_num, char *detail,
                                             size_t detail_len);
struct cairn_head;
/** cairn__load_state() under the proven head @p h (NULL: a format-1
 *  journal, nothing to prove): the blob must be the state map's leaf of
 *  the run (head.h); @p leaf (may be NULL) receives that leaf. */
CAIRN_INTERNAL cairn_err cairn__load_state_at(cairn_journal *j, cairn_txn *txn,
                                              const struct cairn_head *h,
                                              uint64_t run_num, cairn_state *st,
                                              uint8_t *leaf, char *detail,
                                              size_t detail_len);
/** @p why without a leading "run <run_num>: " (the row readers name the
 *  run already; a caller that names it too would say it twice). */
CAIRN_INTERNAL const char *cairn__why_unprefixed(const char *why,
                                                 uint64_t run_num);
/** cairn__load_state_at() for a writer (docs/FORMAT.md 23.5): the
 *  summary is proven, its rows are loaded later, one at a time and each
 *  proven, as the machine needs them (cairn__runstate_decode_lazy(); they
 *  are read in @p txn: cairn__state_detach() before it ends). */
CAIRN_INTERNAL cairn_err cairn__load_state_lazy(
    cairn_journal *j, cairn_txn *txn, const struct cairn_head *h,
    uint64_t run_num, cairn_state *st, uint8_t *leaf, char *detail,
    size_t detail_len);
/** The position of record @p seq of @p run_num (*found 0 if absent). */
CAIRN_INTERNAL cairn_err cairn__index_get(cairn_journal *j, cairn_txn *txn,
                                          uint64_t run_num, uint64_t seq,
                                          uint64_t *position, int *found);

/** The public tombstone of PRUNE record @p rec (leaf hash @p leaf, at
 *  @p position) (prune_read.c).  @return CAIRN_OK; CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__tombstone_from_record(
    const cairn_record *rec, const uint8_t leaf[CAIRN_HASH_BYTES],
    uint64_t position, cairn_tombstone **out);

/* ---- Imported runs (imports.c, docs/FORMAT.md section 21) ---------- */

struct cairn_import_value;
/** Is @p run_id (@p n bytes) an imported run of @p txn?  0 also when the
 *  journal has no `imports` database or on a read error. */
CAIRN_INTERNAL int cairn__import_has(cairn_journal *j, cairn_txn *txn,
                                     const char *run_id, size_t n);
/** Load and decode the import of @p run_id: its value (views into LMDB
 *  memory, valid until @p txn ends; free with cairn__import_value_free())
 *  and, when @p st is not NULL, its stored run state.
 *  @return CAIRN_OK; CAIRN_ENORUN (not imported); CAIRN_ECORRUPT (the
 *  value or the state does not decode, described in @p detail); a store
 *  error. */
CAIRN_INTERNAL cairn_err cairn__import_load(cairn_journal *j, cairn_txn *txn,
                                            const char *run_id,
                                            struct cairn_import_value *v,
                                            cairn_state *st, char *detail,
                                            size_t detail_len);
/** Fill a record view from a decoded record at position @p pos (views
 *  into @p r; replay.c). */
CAIRN_INTERNAL void cairn__record_view_fill(cairn_record_view *w,
                                            const cairn_record *r,
                                            uint64_t pos);
/** cairn_record_each() for an imported run (imports.c). */
CAIRN_INTERNAL cairn_err cairn__import_record_each(
    cairn_journal *j, const char *run_id, uint64_t from_seq,
    int (*fn)(void *ctx, const cairn_record_view *record), void *ctx);
/** cairn_status() for an imported run (imports.c). */
CAIRN_INTERNAL cairn_err cairn__import_status(cairn_journal *j,
                                              const char *run_id,
                                              cairn_summary **out);

/** Summary of a state (summary.c). */
CAIRN_INTERNAL cairn_err cairn__summary_from_state(const cairn_state *st,
                                                   cairn_summary **out);

/** Called for each record of a run by cairn__walk_run(); returning
 *  CAIRN_EINTR stops the walk without an error. */
typedef cairn_err (*cairn_walk_fn)(void *ctx, cairn_journal *j, cairn_txn *txn,
                                   uint64_t seq, uint64_t position);
/** Walk the index of @p run_num from @p from_seq in order; a gap in the
 *  sequence numbers is CAIRN_ECORRUPT. */
CAIRN_INTERNAL cairn_err cairn__walk_run(cairn_journal *j, cairn_txn *txn,
                                         uint64_t run_num, uint64_t from_seq,
                                         cairn_walk_fn fn, void *ctx);
/** cairn__walk_run() of the run named @p run_id, in its own read
 *  transaction (CAIRN_ENORUN when there is no such run). */
CAIRN_INTERNAL cairn_err cairn__walk_run_id(cairn_journal *j,
                                            const char *run_id,
                                            uint64_t from_seq, cairn_walk_fn fn,
                                            void *ctx);
/** Read and decode the record at @p pos (leaf hash into @p hash). */
CAIRN_INTERNAL cairn_err cairn__read_record(cairn_journal *j, cairn_txn *txn,
                                            uint64_t seq, uint64_t pos,
                                            cairn_record *rec,
                                            uint8_t hash[CAIRN_HASH_BYTES]);
/** As cairn__read_record(), also giving the encoded length. */
CAIRN_INTERNAL cairn_err cairn__read_record_len(cairn_journal *j,
                                                cairn_txn *txn, uint64_t seq,
                                                uint64_t pos, cairn_record *rec,
                                                uint8_t hash[CAIRN_HASH_BYTES],
                                                size_t *len);
/** Called by cairn__rebuild() after each record applied. */
typedef cairn_err (*cairn_rebuild_hook)(void *ctx, cairn_journal *j,
                                        cairn_txn *txn, const cairn_record *rec,
                                        const uint8_t hash[CAIRN_HASH_BYTES],
                                        uint64_t position);
/** Replay run @p run_num from its records into @p out (ECORRUPT with the
 *  first bad sequence in the handle's detail). */
CAIRN_INTERNAL cairn_err cairn__rebuild(cairn_journal *j, cairn_txn *txn,
                                        uint64_t run_num, cairn_state *out,
                                        cairn_rebuild_hook hook,
                                        void *hook_ctx);
/** CAIRN_ECORRUPT (with detail) unless the two states encode alike. */
CAIRN_INTERNAL cairn_err cairn__compare_state(cairn_journal *j,
                                              const cairn_state *replayed,
                                              const cairn_state *stored);
/** The holder note of locks/run-N.lock, as lock.c writes it. */
typedef struct cairn__holder_note {
    uint32_t pid;
    uint64_t start, since;
    uint8_t boot[CAIRN_BOOT_ID_BYTES];
    char host[CAIRN_MAX_HOST + 1];
} cairn__holder_note;
/** Parse the NUL-terminated note @p text (holder.c), strictly: exactly
 *  the one line lock.c writes ("pid=P start=S boot=<32 hex> host=H
 *  since_ns=N\n", pid 1..INT32_MAX, H printable ASCII without spaces, at
 *  most CAIRN_MAX_HOST bytes).  Reads no byte past the NUL.  0 with *n
 *  filled; -1 malformed (*n zeroed or partly filled: do not use). */
CAIRN_INTERNAL int cairn__holder_note_parse(const char *text,
                                            cairn__holder_note *n);
/** Is the claimer of pending op @p op still alive? */
CAIRN_INTERNAL int cairn__op_claimer_alive(const cairn_op_st *op);

#endif
