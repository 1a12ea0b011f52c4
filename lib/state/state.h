/*
 * state.h - the materialised state of one run and the state machine that
 * moves it.  The machine is pure: no I/O, no clock.  The journal uses it to
 * validate and apply each new record; replay uses the very same function on
 * the stored records, so the two can be compared.
 */
#ifndef CAIRN_STATE_H
#define CAIRN_STATE_H

#include "base/common.h"
#include "plan/plan.h"
#include "format/record.h"
#include "format/merkle.h"

struct cairn_state;
struct cairn_op_st;
/** Read row @p op of @p st's run into @p out (free with
 *  cairn__oprow_free()), proven (a writer's rows, docs/FORMAT.md 23.5).
 *  @return CAIRN_OK or why not (CAIRN_ETAMPERED: the row does not
 *  prove), described in @p detail; @p out then owns nothing. */
typedef cairn_err (*cairn_row_loader)(void *ctx, const struct cairn_state *st,
                                      uint32_t op, struct cairn_op_st *out,
                                      char *detail, size_t detail_len);

typedef struct cairn_op_st {
    char id[CAIRN_MAX_ID + 1];
    cairn_kind kind;
    char target[CAIRN_MAX_ID + 1]; /**< "" when none */
    uint8_t idempotent;
    uint8_t has_probe;
    cairn_op_state state;
    uint32_t attempt;
    cairn_error_class last_class;
    uint64_t updated_ns;
    /** Sequence of the record that completed the op (0: not completed):
     *  the logical clock of completions, for restart detection. */
    uint64_t done_seq;
    /* Claimer of the current or last attempt (CLAIM record). */
    uint32_t holder_pid;
    uint64_t holder_start;
    uint8_t holder_boot[CAIRN_BOOT_ID_BYTES];
    char host[CAIRN_MAX_HOST + 1];
    char **requires;                  /**< output keys a completion needs */
    cairn_output_rule *require_rules; /**< their rules, same order */
    size_t n_requires;
    /** A stop or start op: the lowest op index of a stop or start op
     *  with the same target (docs/FORMAT.md 23.3); CAIRN_NO_ANCHOR for
     *  every other kind.  From the plan; never changes. */
    uint32_t anchor;
} cairn_op_st;

/** cairn_op_st.anchor of an op that is neither a stop nor a start. */
#define CAIRN_NO_ANCHOR UINT32_C(0xFFFFFFFF)

typedef struct cairn_state {
    uint64_t run_num;
    char run_id[CAIRN_MAX_ID + 1];
    char plan_id[CAIRN_MAX_ID + 1];
    uint8_t plan_hash[CAIRN_HASH_BYTES];
    uint8_t signed_run;
    uint8_t key_id[CAIRN_KEY_ID_BYTES];
    char preflight_id[CAIRN_MAX_ID + 1];
    uint8_t accepted;
    uint8_t cancelled;
    uint8_t timed_out;
    uint64_t next_seq;              /**< records so far */
    uint8_t head[CAIRN_HASH_BYTES]; /**< leaf hash of the last record */
    uint64_t last_pos;              /**< position of the last record */
    uint64_t created_ns;
    uint64_t updated_ns;
    uint32_t n_ops;
    cairn_op_st *ops;
    /* The run's incremental facts (docs/FORMAT.md 23.2), kept by the
     * machine as each record applies, so that its rules need no scan of
     * the operations; cairn__state_derive() computes them from the ops. */
    uint32_t preflight_open; /**< preflight ops not completed */
    uint32_t head_op;        /**< lowest ready/pending/failed op; n_ops: none */
    uint32_t done_prefix;    /**< leading ops completed or skipped */
    uint32_t attempted_end;  /**< 1 + highest op with an attempt; 0: none */
    uint32_t n_stopped;      /**< targets that need a restart ... */
    uint32_t *stopped;       /**< ... by anchor op, ascending */
    uint32_t *pending;       /**< the pending ops, ascending: op_counts[3] */
    uint32_t stopped_cap, pending_cap; /**< allocated entries */
    /** Root of the run's op tree (docs/FORMAT.md 23.4): set by
     *  cairn__state_ops_root() or a decoded summary. */
    uint8_t ops_root[CAIRN_HASH_BYTES];
    /** The run was pruned (state flag bit 5): this is its stub.  n_ops is
     *  0 and ops NULL; what status needs is below (docs/FORMAT.md
     *  section 9, "Pruned stub"). */
    uint8_t pruned;
    uint8_t final_state; /**< pruned: cairn_run_state when pruned */
    /** The run's operations, [0] all of them, [s] those in cairn_op_state
     *  s (1..6): kept by the machine for a live run; a pruned stub's are
     *  those when it was pruned. */
    uint32_t op_counts[7];
    /* Hold (HOLD/RELEASE records; docs/FORMAT.md "Run state"): set by a
     * HOLD, cleared by a RELEASE; the rest is "" / 0 when not held. */
    uint8_t held;
    char hold_reason[CAIRN_MAX_HOLD_REASON + 1];
    uint64_t hold_until_ns; /**< 0: until released */
    uint64_t hold_ns;       /**< wall time of the HOLD record */
    char hold_actor[CAIRN_MAX_TEXT + 1];
    /* Rows loaded as needed (a writer, docs/FORMAT.md 23.5; rows.c).
     * loaded NULL: every op of ops[] is there (replay, verify, readers);
     * else bit i of loaded says whether ops[i] is, the others are not to be
     * read, and load_row (NULL: no more can be loaded) fills them. */
    uint8_t *loaded;
    cairn_row_loader load_row;
    void *load_ctx;
    uint64_t rows_loaded; /**< rows load_row filled (tests count them) */
    /* The ops whose rows the machine changed since the list was last
     * cleared (cairn__state_rows_clean()), kept when track_rows is set:
     * what a writer rewrites.  May hold an op twice. */
    uint8_t track_rows;
    uint32_t *dirty;
    uint32_t n_dirty, dirty_cap;
} cairn_state;

/** Does @p st's hold count at wall time @p now_ns: held, and no until
 *  time or one later than @p now_ns?  (Retention refuses a run whose hold
 *  counts, CAIRN_EHELD.) */
CAIRN_INTERNAL int cairn__state_hold_active(const cairn_state *st,
                                            uint64_t now_ns);

/** Free what a state owns (NULL-safe); the struct stays usable as empty. */
CAIRN_INTERNAL void cairn__state_free(cairn_state *st);
/** Deep copy. */
CAIRN_INTERNAL cairn_err cairn__state_copy(const cairn_state *src,
                                           cairn_state *dst);

/**
 * Build the state a CREATE record starts: preflight ops ready, mutating
 * ops blocked.  @p create must be a CREATE record with seq 0; the plan is
 * its canonical plan, already parsed.  @p hash is the record's leaf hash.
 */
CAIRN_INTERNAL cairn_err cairn__state_init(cairn_state *st,
                                           const cairn_plan *plan,
                                           const cairn_record *create,
                                           const uint8_t hash[CAIRN_HASH_BYTES],
                                           uint64_t position, char *detail,
                                           size_t detail_len);

/**
 * Validate @p rec against @p st and apply it.  On any error @p st is left
 * unchanged.  Checks the chain position (seq, prev) and every rule of
 * docs/DESIGN.md section 3.  In-doubt liveness is not the machine's business:
 * the journal checks it before building a RESOLVE record.
 * @return CAIRN_OK or the transition's error code (CAIRN_EORDER ...);
 *         CAIRN_ECORRUPT when the record could never have been written
 *         (wrong seq/prev/attempt, CREATE after seq 0).
 */
CAIRN_INTERNAL cairn_err
cairn__state_apply(cairn_state *st, const cairn_record *rec,
                   const uint8_t hash[CAIRN_HASH_BYTES], uint64_t position,
                   char *detail, size_t detail_len);

/**
 * Validate a RECEIPT or RESOLVE record against @p st without applying it:
 * the checks of cairn__state_apply() for it, in the same order.  A
 * completed outcome must carry every output its operation requires, each
 * obeying its rule.  The machine itself (@p writing 0, which is also what
 * replay uses) checks only the rules a plan spells out (a type other than
 * "nonempty", or a pattern); the default rule of a bare name, a non-empty
 * value, is checked with @p writing 1, by the writer before it appends the
 * record, so that a journal written before that rule existed still
 * replays (docs/FORMAT.md "Run state").
 * @return CAIRN_OK or the error cairn__state_apply() would give;
 *         CAIRN_EOUTPUT names the operation, the output and the rule.
 */
CAIRN_INTERNAL cairn_err cairn__state_check_outcome(const cairn_state *st,
                                                    const cairn_record *rec,
                                                    int writing, char *detail,
                                                    size_t detail_len);

/**
 * Compute the incremental facts (op_counts, preflight_open, head_op,
 * done_prefix, attempted_end, stopped, pending) and every op's anchor
 * from the operations alone: what the machine keeps incrementally, from
 * scratch (a decoded section 9 blob; tests compare the two).
 * @return CAIRN_OK; CAIRN_ENOMEM (the facts are then unchanged).
 */
CAIRN_INTERNAL cairn_err cairn__state_derive(cairn_state *st);

/** The head: lowest sequence among ready, pending, failed; -1 if none. */
CAIRN_INTERNAL int64_t cairn__state_head(const cairn_state *st);
/** Does the target of stop-or-start op @p op need a restart: a stop of
 *  it completed and no start of it completed after that stop (in
 *  completion order, by the sequence of the completing records; a
 *  skipped start does not count)?  0 for an op of another kind.  O(log
 *  stopped targets). */
CAIRN_INTERNAL int cairn__state_op_stopped(const cairn_state *st, uint32_t op);
/** A terminal failure stops the run: the head failed with class terminal,
 *  or the run was cancelled or timed out. */
CAIRN_INTERNAL int cairn__state_halted(const cairn_state *st);
/** All operations completed or skipped. */
CAIRN_INTERNAL int cairn__state_all_done(const cairn_state *st);

/**
 * The stub of a pruned run, derived from its PRUNE record @p rec alone
 * (leaf hash @p hash, stored at @p position): run number, seq + 1
 * records, head @p hash, last position @p position, updated at the
 * record's wall time, the rest from the record's body.  Replay and the
 * writer use it, so the stored stub must equal it.
 */
CAIRN_INTERNAL void cairn__state_stub(const cairn_record *rec,
                                      const uint8_t hash[CAIRN_HASH_BYTES],
                                      uint64_t position, cairn_state *st);
/** The derived state of a run (docs/DESIGN.md section 3) as the summary
 *  computes it, for a run with no pending operation (a pending op makes
 *  it RUNNING here; liveness is the summary's business).  A pruned stub
 *  gives its final state. */
CAIRN_INTERNAL cairn_run_state cairn__state_run_state(const cairn_state *st);
/** The state flags bits 0..3 (docs/FORMAT.md section 9) of @p st. */
CAIRN_INTERNAL uint8_t cairn__state_flags(const cairn_state *st);
/**
 * May the run be pruned at wall time @p now_ns?  Not pruned already
 * (CAIRN_EPRUNED), no hold that counts at @p now_ns (CAIRN_EHELD), no
 * operation pending (CAIRN_ESTATE), ended: completed, failed, cancelled
 * or timed out (CAIRN_ESTATE), at most CAIRN_MAX_PRUNE_RECORDS records
 * (CAIRN_ESTATE).  A PRUNE record is checked at its own wall time.
 */
CAIRN_INTERNAL cairn_err cairn__state_prunable(const cairn_state *st,
                                               uint64_t now_ns, char *detail,
                                               size_t detail_len);
/** Fill the run facts of a PRUNE record (plan hash, key id, state flags,
 *  created_ns, final state, op counts) from @p st; the strings (run_id,
 *  plan_id, preflight_id) are the caller's to set. */
CAIRN_INTERNAL void cairn__state_prune_facts(const cairn_state *st,
                                             cairn_record *rec);
/**
 * Apply PRUNE record @p rec (seq and prev already checked): the run must
 * be prunable and the record's facts must be the run's; then @p st
 * becomes the stub (cairn__state_stub()).  Unchanged on failure.
 */
CAIRN_INTERNAL cairn_err
cairn__state_apply_prune(cairn_state *st, const cairn_record *rec,
                         const uint8_t hash[CAIRN_HASH_BYTES],
                         uint64_t position, char *detail, size_t detail_len);
/** Canonical encoding of the state (docs/FORMAT.md "Run state");
 *  CAIRN_EINVAL for a writer's state without every row. */
CAIRN_INTERNAL cairn_err cairn__state_encode(const cairn_state *st,
                                             uint8_t **out, size_t *out_len);
CAIRN_INTERNAL cairn_err cairn__state_decode(const uint8_t *buf, size_t len,
                                             cairn_state *st, char *detail,
                                             size_t detail_len);

/* Rows loaded as needed and the rows changed (rows.c). */

/** Make @p st, a decoded summary (ops NULL), load its rows as needed
 *  through @p load (with @p ctx) and track the rows it changes.
 *  @return CAIRN_OK; CAIRN_ENOMEM (@p st unchanged). */
CAIRN_INTERNAL cairn_err cairn__state_lazy(cairn_state *st,
                                           cairn_row_loader load, void *ctx);
/** Load no more rows (the loader's context ends): a row not loaded yet
 *  is then CAIRN_EINVAL. */
CAIRN_INTERNAL void cairn__state_detach(cairn_state *st);
/** Is row @p op in st->ops? */
CAIRN_INTERNAL int cairn__state_has_row(const cairn_state *st, uint32_t op);
/** Make sure row @p op (< n_ops) is in st->ops, loading it when it is
 *  not.  @return CAIRN_OK; the loader's error (CAIRN_ETAMPERED ...);
 *  CAIRN_EINVAL (not loaded and no loader, or @p op out of range);
 *  described in @p detail. */
CAIRN_INTERNAL cairn_err cairn__state_need(cairn_state *st, uint32_t op,
                                           char *detail, size_t detail_len);
/** cairn__state_need() of every row, O(n_ops). */
CAIRN_INTERNAL cairn_err cairn__state_need_all(cairn_state *st, char *detail,
                                               size_t detail_len);
/** Load every row record @p rec needs (docs/FORMAT.md 23.5, "Rows
 *  needed"), including those the head and the done prefix would move
 *  across, so that applying it reads no other.  @return as
 *  cairn__state_need(). */
CAIRN_INTERNAL cairn_err cairn__state_prefetch(cairn_state *st,
                                               const cairn_record *rec,
                                               char *detail, size_t detail_len);
/** Room for @p more entries in the changed-rows list.
 *  @return CAIRN_OK; CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__state_dirty_reserve(cairn_state *st,
                                                    uint32_t more);
/** Note that row @p op changed (room reserved; nothing unless
 *  st->track_rows). */
CAIRN_INTERNAL void cairn__state_dirty_add(cairn_state *st, uint32_t op);
/** Sort the changed-rows list and drop repeats. */
CAIRN_INTERNAL void cairn__state_dirty_sort(cairn_state *st);
/** Forget the changed rows (they were written). */
CAIRN_INTERNAL void cairn__state_rows_clean(cairn_state *st);

/* Format 2: the run summary and the operation rows (docs/FORMAT.md
 * section 23; summary_codec.c). */

/** Canonical encoding of @p st's summary (`runs` value, state version 2):
 *  section 9's fields up to updated_ns, then the incremental facts and
 *  st->ops_root (set it first: cairn__state_ops_root()); a pruned stub as
 *  in section 9.  @return CAIRN_OK; CAIRN_EINVAL; CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__summary_encode(const cairn_state *st,
                                               uint8_t **out, size_t *out_len);
/** Decode a summary: @p st gets every field but the ops (n_ops set, ops
 *  NULL), its facts and ops_root.  @return CAIRN_OK; CAIRN_ECORRUPT
 *  (detail "run summary offset N: field: why"); CAIRN_ENOMEM.  On
 *  failure @p st is empty. */
CAIRN_INTERNAL cairn_err cairn__summary_decode(const uint8_t *buf, size_t len,
                                               cairn_state *st, char *detail,
                                               size_t detail_len);
/** Canonical encoding of one operation row (`oprows` value, 23.3). */
CAIRN_INTERNAL cairn_err cairn__oprow_encode(const cairn_op_st *op,
                                             uint8_t **out, size_t *out_len);
/** Decode one row into @p op (free with cairn__oprow_free()).
 *  @return CAIRN_OK; CAIRN_ECORRUPT (detail "op row offset N: ...");
 *  CAIRN_ENOMEM.  On failure @p op is zeroed and owns nothing. */
CAIRN_INTERNAL cairn_err cairn__oprow_decode(const uint8_t *buf, size_t len,
                                             cairn_op_st *op, char *detail,
                                             size_t detail_len);
/** Free what a decoded row owns (its requires); NULL-safe. */
CAIRN_INTERNAL void cairn__oprow_free(cairn_op_st *op);
/** The op tree leaf of @p op: SHA-256(0x00 || its row).
 *  @return CAIRN_OK; CAIRN_EINVAL; CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__oprow_leaf(const cairn_op_st *op,
                                           uint8_t leaf[CAIRN_HASH_BYTES]);
/** Compute st->ops_root from the ops (O(n_ops)); @p on_node (may be
 *  NULL) is told each complete node of the op tree, as
 *  cairn__mt_stream_push() tells them.  @return CAIRN_OK; CAIRN_EINVAL
 *  (a writer's state without every row); an error of the encoder or of
 *  @p on_node. */
CAIRN_INTERNAL cairn_err cairn__state_ops_root(cairn_state *st,
                                               cairn_mt_put on_node, void *ctx);

#endif
