/*
 * journal.h - the journal handle and the commit path shared by the
 * transition functions (journal.c coordinates; it does not parse).
 */
#ifndef CAIRN_JOURNAL_H
#define CAIRN_JOURNAL_H

#include "common.h"
#include "key.h"
#include "record.h"
#include "state.h"
#include "store.h"

typedef struct cairn_held_lock {
    uint64_t run_num;
    int fd;
} cairn_held_lock;

struct cairn_journal {
    char *dir;
    cairn_store *store;
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
    const cairn_signer *signer;
    int readonly;
    cairn_held_lock *locks;
    size_t n_locks;
    char detail[1024];
};

/** Record @p err's description on the handle; returns @p err. */
CAIRN_INTERNAL cairn_err cairn__jfail(cairn_journal *j, cairn_err err,
                                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Fill a record's body for a transition.  Called inside the write
 *  transaction with the run's current state; must not write anything. */
typedef cairn_err (*cairn_build_fn)(cairn_journal *j, const cairn_state *st,
                                    cairn_record *rec, void *ctx);

/**
 * Append one record to run @p run_id: take the run lock (unless held),
 * then in one write transaction load the state, check the key binding,
 * let @p build fill the record (it may answer CAIRN_OK with rec->type 0 to
 * mean "nothing to write"), validate and apply it to a copy of the state,
 * and store record, index entry, state and signed checkpoint.
 * @param after  optional: receives a copy of the new state (caller frees).
 */
CAIRN_INTERNAL cairn_err cairn__journal_append(cairn_journal *j,
                                               const char *run_id,
                                               cairn_build_fn build,
                                               void *ctx, cairn_state *after);

/** Look up a run number by id in @p txn; CAIRN_ENORUN when absent. */
CAIRN_INTERNAL cairn_err cairn__lookup_run(cairn_journal *j, cairn_txn *txn,
                                           const char *run_id,
                                           uint64_t *run_num);
/** Load and decode the materialised state of @p run_num. */
CAIRN_INTERNAL cairn_err cairn__load_state(cairn_journal *j, cairn_txn *txn,
                                           uint64_t run_num,
                                           cairn_state *st);
/** The position of record @p seq of @p run_num (*found 0 if absent). */
CAIRN_INTERNAL cairn_err cairn__index_get(cairn_journal *j, cairn_txn *txn,
                                          uint64_t run_num, uint64_t seq,
                                          uint64_t *position, int *found);
/** Encode @p rec, apply it to a copy of @p before (into @p next) and
 *  store record, index entry, state and checkpoint in @p txn. */
CAIRN_INTERNAL cairn_err cairn__commit_record(cairn_journal *j,
                                              cairn_txn *txn,
                                              const cairn_record *rec,
                                              const cairn_state *before,
                                              cairn_state *next);
/** The same for a CREATE record: the state starts from @p plan. */
CAIRN_INTERNAL cairn_err cairn__commit_new_run(cairn_journal *j,
                                               cairn_txn *txn,
                                               const cairn_record *create,
                                               const cairn_plan *plan,
                                               cairn_state *st);
/** Store an encoded record at @p pos with @p next (the state after it). */
CAIRN_INTERNAL cairn_err cairn__commit_write(cairn_journal *j,
                                             cairn_txn *txn,
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
typedef cairn_err (*cairn_walk_fn)(void *ctx, cairn_journal *j,
                                   cairn_txn *txn, uint64_t seq,
                                   uint64_t position);
/** Walk the index of @p run_num from @p from_seq in order; a gap in the
 *  sequence numbers is CAIRN_ECORRUPT. */
CAIRN_INTERNAL cairn_err cairn__walk_run(cairn_journal *j, cairn_txn *txn,
                                         uint64_t run_num, uint64_t from_seq,
                                         cairn_walk_fn fn, void *ctx);
/** Read and decode the record at @p pos (leaf hash into @p hash). */
CAIRN_INTERNAL cairn_err cairn__read_record(cairn_journal *j, cairn_txn *txn,
                                            uint64_t seq, uint64_t pos,
                                            cairn_record *rec,
                                            uint8_t hash[CAIRN_HASH_BYTES]);
/** As cairn__read_record(), also giving the encoded length. */
CAIRN_INTERNAL cairn_err cairn__read_record_len(cairn_journal *j,
                                                cairn_txn *txn, uint64_t seq,
                                                uint64_t pos,
                                                cairn_record *rec,
                                                uint8_t hash[CAIRN_HASH_BYTES],
                                                size_t *len);
/** Called by cairn__rebuild() after each record applied. */
typedef cairn_err (*cairn_rebuild_hook)(void *ctx, cairn_journal *j,
                                        cairn_txn *txn,
                                        const cairn_record *rec,
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
/** Is the claimer of pending op @p op still alive? */
CAIRN_INTERNAL int cairn__op_claimer_alive(const cairn_op_st *op);

#endif
