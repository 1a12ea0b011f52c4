/*
 * commit.h - the commit path (lib/commit/): group commit inside a handle
 * (group.c, group_batch.c), shared commits across processes (xq_commit.c),
 * and the pieces every transition is built from (commit.c).
 */
#ifndef CAIRN_COMMIT_H
#define CAIRN_COMMIT_H

#include "journal/journal.h"

/** A thread waiting in group commit for its requests (group.c): the
 *  leader wakes exactly the threads it has news for. */
typedef struct cairn_waiter {
    pthread_cond_t cv;
} cairn_waiter;

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
