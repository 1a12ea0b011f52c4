/*
 * commit.h - the commit path (lib/commit/): group commit inside a handle
 * (group.c, group_batch.c), shared commits across processes (xq_commit.c),
 * and the pieces every transition is built from (commit.c).
 */
#ifndef CAIRN_COMMIT_H
#define CAIRN_COMMIT_H

#include "commit/head_write.h"
#include "journal/journal.h"

/** A thread waiting in group commit for its requests (group.c): the
 *  leader wakes exactly the threads it has news for. */
typedef struct cairn_waiter {
    pthread_cond_t cv;
} cairn_waiter;

/** Fill a record's body for a transition, given the run's current state
 *  (empty for a new run); must not write anything.  A failure is
 *  described in @p detail (left empty, the error's name stands).
 *  Callers of one handle may build in several threads at once. */
typedef cairn_err (*cairn_build_fn)(cairn_journal *j, const cairn_state *st,
                                    cairn_record *rec, void *ctx, char *detail,
                                    size_t detail_len);

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
 * record and index entry), then the new state and one checkpoint per run
 * touched (sealed by the journal head the commit signs once, docs/FORMAT.md
 * section 25).  A request that fails gets its own error and writes
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

/** Run one write transaction over the @p n requests linked from @p first
 *  (group_batch.c; the leader only).  Sets each request's err, detail,
 *  wrote and after. */
CAIRN_INTERNAL void cairn__batch_commit(cairn_journal *j,
                                        cairn_append_req *first, size_t n);
/** A transition built on a run's state (cairn__transition_build()). */
typedef struct cairn_transition {
    cairn_record rec; /**< stamped, built (prev: the head it was built on) */
    uint8_t *bytes;   /**< its encoding; NULL: nothing to write */
    size_t len;
    uint8_t hash[CAIRN_HASH_BYTES]; /**< its leaf hash */
} cairn_transition;

/**
 * Build request @p r's next transition of run r->run_num on @p st, the
 * one sequence every commit path uses: check the key binding, stamp the
 * record (seq st->next_seq, prev st->head), let r->build fill it, encode
 * it, leaf-hash it, and apply it to @p st as the record at position
 * @p pos.  With @p plan (a new run) @p st is empty: no key check, seq 0,
 * prev left to r->build, and @p st is started from @p plan instead.
 * r->build answering CAIRN_OK with rec.type 0 means nothing to write:
 * t->bytes is NULL and @p st unchanged.  @p st changes only on success.
 * @return CAIRN_OK (free @p t with cairn__transition_free()); else the
 *         failure, described in r->detail, and nothing left in @p t.
 */
CAIRN_INTERNAL cairn_err cairn__transition_build(
    cairn_journal *j, cairn_state *st, cairn_append_req *r,
    const cairn_plan *plan, uint64_t pos, cairn_transition *t);
CAIRN_INTERNAL void cairn__transition_free(cairn_transition *t);

/** Points in cairn__journal_migrate() a test may stop at. */
enum {
    CAIRN__MIGRATE_COPIED = 1,   /**< the old journal copied, unchecked */
    CAIRN__MIGRATE_CONVERTED = 2 /**< converted and proven, not published */
};
typedef void (*cairn__migrate_hook)(void *ctx, int stage);
/** cairn_journal_migrate() (migrate.c) calling @p hook (NULL: none) at
 *  each CAIRN__MIGRATE_* stage (tests kill the process there). */
CAIRN_INTERNAL cairn_err cairn__journal_migrate(
    const char *old_dir, const char *new_dir, const cairn_migrate_opts *opts,
    cairn__migrate_hook hook, void *hook_ctx, cairn_migrate_result *out,
    char *detail, size_t detail_len);

/** Points in cairn__prune() a test may stop at (the first three inside
 *  the write transaction, before it commits). */
enum {
    CAIRN__PRUNE_BUILT = 1,    /**< records checked, PRUNE record built */
    CAIRN__PRUNE_REMOVED = 2,  /**< the run's records replaced, index and
                                    checkpoints deleted */
    CAIRN__PRUNE_HEAD = 3,     /**< PRUNE record, stub, head written */
    CAIRN__PRUNE_COMMITTED = 4 /**< the transaction committed */
};
typedef void (*cairn__prune_hook)(void *ctx, int stage);
/** cairn_prune() (prune.c) calling @p hook (NULL: none) at each
 *  CAIRN__PRUNE_* stage (tests kill the process there). */
CAIRN_INTERNAL cairn_err cairn__prune(cairn_journal *journal,
                                      const char *run_id,
                                      const cairn_prune_info *info,
                                      const cairn_actor_info *who,
                                      cairn__prune_hook hook, void *hook_ctx);

/** The position the next record of @p txn (of @p store) gets: last key
 *  + 1.  Failure in @p detail. */
CAIRN_INTERNAL cairn_err cairn__next_position(cairn_store *store,
                                              cairn_txn *txn, uint64_t *pos,
                                              char *detail, size_t detail_len);
/** The checkpoint of @p st's last record, whose wall time is @p wall_ns
 *  (the record's, not st->updated_ns, which a HOLD or RELEASE leaves
 *  alone): when the handle has a signer, head-sealed in format 2 (flag
 *  bit 1 and the signer's key id, no signature: the commit's signed
 *  journal head covers it, docs/FORMAT.md section 25) and signed in
 *  format 1.  It does not depend on the record's position.
 *  @return CAIRN_OK; CAIRN_EINVAL (run id unusable); a signing error. */
CAIRN_INTERNAL cairn_err
cairn__make_checkpoint(const cairn_journal *j, const cairn_state *st,
                       uint64_t wall_ns, uint8_t out[CAIRN_CHECKPOINT_BYTES]);
/** Store the checkpoint of @p st's last record (wall time @p wall_ns;
 *  made by cairn__make_checkpoint()) at position @p pos, with
 *  MDB_APPEND.  A signing failure is described in @p detail; a storage
 *  failure is not (the store has it). */
CAIRN_INTERNAL cairn_err cairn__put_checkpoint(cairn_journal *j, cairn_txn *txn,
                                               const cairn_state *st,
                                               uint64_t wall_ns, uint64_t pos,
                                               char *detail, size_t detail_len);
/** Store transition @p t at position @p pos (record, index entry) with
 *  @p next, the run's state after it, and its checkpoint: its summary,
 *  rows and op tree (cairn__runstate_put(); @p prev the stored state
 *  before, NULL for a new run), the summary's state map leaf into
 *  @p state_leaf.  Failure in @p detail. */
CAIRN_INTERNAL cairn_err cairn__commit_write(
    cairn_journal *j, cairn_txn *txn, const cairn_transition *t, uint64_t pos,
    const cairn_state *prev, cairn_state *next,
    uint8_t state_leaf[CAIRN_HASH_BYTES], char *detail, size_t detail_len);
/** Build the CREATE record of request @p r (r->run_num is the new run's
 *  number, r->build fills the record) with cairn__transition_build(),
 *  start the run's state @p st from @p plan, and store record, index
 *  entry, state and checkpoint in @p txn.  Failure in r->detail. */
CAIRN_INTERNAL cairn_err cairn__commit_new_run(cairn_journal *j, cairn_txn *txn,
                                               cairn_append_req *r,
                                               const cairn_plan *plan,
                                               cairn_state *st);

/**
 * Prepare and commit request @p r (prepared by group.c: run number and
 * lock reference taken) through the shared queue (xq_commit.c, store/xq.h).
 * Sets r->err, r->detail, r->wrote and r->after.
 * @return 1 when decided here; 0 when the request does not fit a slot
 *         (the caller commits it on its own, nothing was written).
 */
CAIRN_INTERNAL int cairn__xq_append(cairn_journal *j, cairn_append_req *r);

/** The /proc start time of process @p pid (0 when unreadable): the
 *  handle's copy for its own process, else read from /proc. */
CAIRN_INTERNAL uint64_t cairn__holder_start(const cairn_journal *j, pid_t pid);

#endif
