/*
 * journal.h - the journal handle and the commit path shared by the
 * transition functions (journal.c coordinates; it does not parse).
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

/** A run writer lock held by the handle (commit.c).  It is released when
 *  no transition relies on it and cairn_run_lock() did not pin it. */
typedef struct cairn_held_lock {
    uint64_t run_num;
    int fd;
    unsigned users; /**< transitions in flight relying on it */
    int pinned;     /**< taken by cairn_run_lock() */
} cairn_held_lock;

typedef struct cairn_append_req cairn_append_req;

/** A thread waiting in group commit for its requests (group.c): the
 *  leader wakes exactly the threads it has news for. */
typedef struct cairn_waiter {
    pthread_cond_t cv;
} cairn_waiter;

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
 * What threads sharing a handle synchronise on (group.c).  mu guards the
 * queue, the leader flag, the handle's detail while transitions run, and
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
    pthread_mutex_t names_mu; /**< guards names */
    /** Held while a thread builds records with j->sink pointing at its
     *  request (shared-commit preparation, xq_commit.c, and the leader
     *  of an in-process batch). */
    pthread_mutex_t prep_mu;
    cairn_name_entry names[CAIRN__NAME_SLOTS];
    size_t n_names;
} cairn_jsync;

struct cairn_journal {
    char *dir;
    int dfd; /**< the journal directory, opened and checked */
    /** data.mdb, read-write, for the run locks' byte locks (lock.c);
     *  writable handles only, else -1.  Closed after the environment. */
    int data_fd;
    struct stat dir_st;  /**< its fstat at open */
    struct stat data_st; /**< data.mdb's (modes of new files, jdir.h) */
    unsigned warnings;   /**< CAIRN_LOOSE_* found at open */
    char warn_detail[512];
    cairn_store *store;
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
    const cairn_signer *signer;
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
    /** While a leader runs a batch, cairn__jfail() writes here (the
     *  request being processed); otherwise NULL.  Leader only. */
    char *sink;
    char detail[CAIRN__DETAIL_MAX];
};

/** cairn_journal_open() with the snapshot options @p snap (used, and
 *  filled, only with CAIRN_OPEN_SNAPSHOT; tests pass a copy hook). */
CAIRN_INTERNAL cairn_err cairn__journal_open(const char *dir, unsigned flags,
                                             cairn__snapshot_opts *snap,
                                             cairn_journal **out, char *detail,
                                             size_t detail_len);

/** Record @p err's description on the handle; returns @p err. */
CAIRN_INTERNAL cairn_err cairn__jfail(cairn_journal *j, cairn_err err,
                                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Fill a record's body for a transition.  Called inside the write
 *  transaction with the run's current state; must not write anything. */
typedef cairn_err (*cairn_build_fn)(cairn_journal *j, const cairn_state *st,
                                    cairn_record *rec, void *ctx);

/**
 * One transition waiting for group commit.  The caller fills the inputs;
 * the journal fills the rest.  It must stay valid until the call that
 * submitted it returns.
 */
struct cairn_append_req {
    const char *run_id;   /**< in */
    cairn_build_fn build; /**< in */
    void *ctx;            /**< in: for build */
    cairn_state *after;   /**< in, optional: receives the state after the
                               request (caller frees) */
    cairn_err err;        /**< out: this request's result */
    int wrote;            /**< out: a record was written */
    char detail[CAIRN__DETAIL_MAX]; /**< out: why, when err != CAIRN_OK */
    uint64_t run_num;               /**< journal's: from the run's name */
    int locked;             /**< journal's: holds a run lock reference */
    int done;               /**< journal's: decided (under sync->mu) */
    cairn_waiter *waiter;   /**< journal's: the submitting thread's */
    cairn_append_req *next; /**< journal's: queue link */
};

/**
 * Append one record to run @p run_id (group commit, group.c): look the
 * run up and take its lock (unless the handle holds it) in the calling
 * thread, then queue the request.  The first waiting thread becomes the
 * leader: it takes up to sync->batch_max queued requests and runs ONE
 * write transaction over them in queue order (load the state, from the
 * batch's cache when an earlier request touched the run; check the key
 * binding; let @p build fill the record, which may answer CAIRN_OK with
 * rec->type 0 to mean "nothing to write"; validate and apply it; store
 * record and index entry), then the new state and one signed checkpoint
 * per run touched.  A request that fails gets its own error and writes
 * nothing; the others proceed.  Every caller returns after the commit
 * that holds its record.  A commit failure fails every request of the
 * batch (and the handle becomes sticky-fatal).
 * @param after  optional: receives a copy of the new state (caller frees).
 */
CAIRN_INTERNAL cairn_err cairn__journal_append(cairn_journal *j,
                                               const char *run_id,
                                               cairn_build_fn build, void *ctx,
                                               cairn_state *after);

/**
 * Submit @p n requests from one thread, queued together in this order,
 * and wait until every one is decided (they may share one commit, or be
 * spread over several when n exceeds the batch size).  Each request gets
 * its own err and detail.
 * @return CAIRN_OK when every request succeeded, else the first failed
 *         request's error (its detail becomes the handle's).
 */
CAIRN_INTERNAL cairn_err cairn__journal_append_batch(cairn_journal *j,
                                                     cairn_append_req *reqs,
                                                     size_t n);

/** Create / destroy the handle's thread synchronisation (group.c).
 *  Batch size from $CAIRN_BATCH_MAX (1..4096, default 256), bounded
 *  wait from $CAIRN_BATCH_WAIT_US (0..100000, default 0). */
CAIRN_INTERNAL cairn_err cairn__jsync_open(cairn_journal *j);
CAIRN_INTERNAL void cairn__jsync_close(cairn_journal *j);
/** Copy @p text into the handle's detail under sync->mu. */
CAIRN_INTERNAL void cairn__publish_detail(cairn_journal *j, const char *text);
/** Look up @p run_id: in the handle's name cache, else in a read
 *  transaction of its own (then cached); failures are described in
 *  @p detail (the handle's detail is not touched).  Thread-safe. */
CAIRN_INTERNAL cairn_err cairn__lookup_outside(cairn_journal *j,
                                               const char *run_id,
                                               uint64_t *run_num, char *detail,
                                               size_t detail_len);
/** The buffer cairn__jfail() currently writes to. */
CAIRN_INTERNAL char *cairn__jdetail(cairn_journal *j);

/** Take a reference on run @p run_num's writer lock, opening it when the
 *  handle does not hold it yet; @p pin: for cairn_run_lock().  Thread-
 *  safe.  Failure (CAIRN_ELOCKED, CAIRN_EIO, CAIRN_ENOMEM) in @p detail. */
CAIRN_INTERNAL cairn_err cairn__run_lock_get(cairn_journal *j, uint64_t run_num,
                                             int pin, char *detail,
                                             size_t detail_len);
/** Drop a reference (or the pin); the lock is released when neither is
 *  left.  Thread-safe. */
CAIRN_INTERNAL void cairn__run_lock_put(cairn_journal *j, uint64_t run_num,
                                        int unpin);

/** Run one write transaction over the @p n requests linked from @p first
 *  (group_batch.c; the leader only).  Sets each request's err, detail,
 *  wrote and after. */
CAIRN_INTERNAL void cairn__batch_commit(cairn_journal *j,
                                        cairn_append_req *first, size_t n);
/** CAIRN_EKEYMISMATCH unless the handle's signer matches the run's key
 *  binding. */
CAIRN_INTERNAL cairn_err cairn__check_key(cairn_journal *j,
                                          const cairn_state *st);
/** The position the next record of @p txn gets (last key + 1). */
CAIRN_INTERNAL cairn_err cairn__next_position(cairn_journal *j, cairn_txn *txn,
                                              uint64_t *pos);
/** The checkpoint of @p st's last record, signed when the handle has a
 *  signer (it does not depend on the record's position).
 *  @return CAIRN_OK; CAIRN_EINVAL (run id unusable); a signing error. */
CAIRN_INTERNAL cairn_err
cairn__make_checkpoint(const cairn_journal *j, const cairn_state *st,
                       uint8_t out[CAIRN_CHECKPOINT_BYTES]);
/** Store the checkpoint of @p st's last record (signed when the handle
 *  has a signer) at position @p pos, with MDB_APPEND. */
CAIRN_INTERNAL cairn_err cairn__put_checkpoint(cairn_journal *j, cairn_txn *txn,
                                               const cairn_state *st,
                                               uint64_t pos);

/** Look up a run number by id in @p txn; CAIRN_ENORUN when absent. */
CAIRN_INTERNAL cairn_err cairn__lookup_run(cairn_journal *j, cairn_txn *txn,
                                           const char *run_id,
                                           uint64_t *run_num);
/** Load and decode the materialised state of @p run_num. */
CAIRN_INTERNAL cairn_err cairn__load_state(cairn_journal *j, cairn_txn *txn,
                                           uint64_t run_num, cairn_state *st);
/** The position of record @p seq of @p run_num (*found 0 if absent). */
CAIRN_INTERNAL cairn_err cairn__index_get(cairn_journal *j, cairn_txn *txn,
                                          uint64_t run_num, uint64_t seq,
                                          uint64_t *position, int *found);
/** Encode a CREATE record, start the run's state from @p plan, and store
 *  record, index entry, state and checkpoint in @p txn. */
CAIRN_INTERNAL cairn_err cairn__commit_new_run(cairn_journal *j, cairn_txn *txn,
                                               const cairn_record *create,
                                               const cairn_plan *plan,
                                               cairn_state *st);
/** Store an encoded record at @p pos with @p next (the state after it). */
CAIRN_INTERNAL cairn_err cairn__commit_write(cairn_journal *j, cairn_txn *txn,
                                             const uint8_t *bytes, size_t len,
                                             uint64_t pos,
                                             const cairn_state *next);
/** Fill version, run, seq, clocks, boot id and prev (from @p st, or left
 *  zero when @p st is NULL). */
CAIRN_INTERNAL cairn_err cairn__stamp(cairn_journal *j, const cairn_state *st,
                                      cairn_record *rec, uint64_t run_num,
                                      uint64_t seq);
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
/** The /proc start time of process @p pid (0 when unreadable): the
 *  handle's copy for its own process, else read from /proc. */
CAIRN_INTERNAL uint64_t cairn__holder_start(const cairn_journal *j, pid_t pid);
/** Is the claimer of pending op @p op still alive? */
CAIRN_INTERNAL int cairn__op_claimer_alive(const cairn_op_st *op);

#endif
