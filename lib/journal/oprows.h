/*
 * oprows.h - format 2's per-operation state rows in LMDB (docs/FORMAT.md
 * section 23): the `oprows` and `otree` databases of one run, written for
 * a new run, updated one row at a time with its op tree path, and read
 * back either one row with an inclusion proof under the summary's
 * ops_root or all of them, checked against it.
 *
 * Nothing read is trusted because it is there: a row is believed only
 * when its leaf and the stored path give the ops_root of a summary the
 * caller proved (section 13.4), and a path is rewritten only after it was
 * checked the same way (cairn__mt_update()).
 */
#ifndef CAIRN_JOURNAL_OPROWS_H
#define CAIRN_JOURNAL_OPROWS_H

#include "state/state.h"
#include "store/store.h"

/** Keys: run_num || op (12 bytes) and run_num || level || index (17). */
#define CAIRN__OPROW_KEY_BYTES 12u
#define CAIRN__OTREE_KEY_BYTES 17u

/**
 * Write every row of the new run @p st (its ops, all of them) and every
 * complete node of its op tree, and set st->ops_root.  The run must have
 * no row or node yet (CAIRN_EEXIST otherwise: nothing is overwritten).
 * @return CAIRN_OK; CAIRN_EEXIST; CAIRN_EINVAL; CAIRN_ENOMEM; storage
 *         errors (the caller aborts its transaction); detail says which.
 */
CAIRN_INTERNAL cairn_err cairn__oprows_put_all(cairn_txn *txn, cairn_state *st,
                                               char *detail, size_t detail_len);

/**
 * Replace row @p op of run @p st (n_ops, ops_root: the proven summary
 * before the change) by @p row: the stored row's leaf and path must give
 * st->ops_root (else CAIRN_ETAMPERED, nothing written); then the row,
 * the leaf and its complete ancestors are written and st->ops_root
 * becomes the new root.
 * @return CAIRN_OK; CAIRN_ETAMPERED; CAIRN_ECORRUPT (a row that does not
 *         decode); CAIRN_EINVAL; CAIRN_ENOMEM; storage errors.
 */
CAIRN_INTERNAL cairn_err cairn__oprows_update(cairn_txn *txn, cairn_state *st,
                                              uint32_t op,
                                              const cairn_op_st *row,
                                              char *detail, size_t detail_len);

/** cairn__oprows_update() with the new row already encoded (@p buf,
 *  @p len bytes, which the caller vouches are a canonical row). */
CAIRN_INTERNAL cairn_err cairn__oprows_update_raw(cairn_txn *txn,
                                                  cairn_state *st, uint32_t op,
                                                  const uint8_t *buf,
                                                  size_t len, char *detail,
                                                  size_t detail_len);

/**
 * Read row @p op of run @p st (n_ops, ops_root from a proven summary)
 * into @p out (free with cairn__oprow_free()) and prove it: its leaf
 * with the inclusion proof read from `otree` must give st->ops_root.
 * O(log n_ops) reads.
 * @return CAIRN_OK; CAIRN_ETAMPERED (missing, or does not prove: detail
 *         names the run and the op); CAIRN_ECORRUPT (does not decode);
 *         CAIRN_EINVAL (op >= n_ops); storage errors.  On failure @p out
 *         owns nothing.
 */
CAIRN_INTERNAL cairn_err cairn__oprows_get(cairn_txn *txn,
                                           const cairn_state *st, uint32_t op,
                                           cairn_op_st *out, char *detail,
                                           size_t detail_len);

/**
 * Read every row of run @p st (a decoded summary: n_ops, ops_root, ops
 * NULL) into st->ops, and check that they give st->ops_root (O(n_ops)).
 * @return CAIRN_OK; CAIRN_ETAMPERED (a row missing, or the root differs);
 *         CAIRN_ECORRUPT; CAIRN_ENOMEM; storage errors.  On failure
 *         st->ops is NULL again.
 */
CAIRN_INTERNAL cairn_err cairn__oprows_get_all(cairn_txn *txn, cairn_state *st,
                                               char *detail, size_t detail_len);

/**
 * Decode the `runs` value @p v (@p vl bytes) into @p st, whatever its
 * version: section 9's whole blob (version 1: format-1 journals,
 * imports) or a run summary (version 2, section 23.2), whose rows are
 * then read from `oprows` and checked against its ops_root (O(n_ops);
 * a pruned stub has none).
 * @return CAIRN_OK; CAIRN_ECORRUPT (does not decode); CAIRN_ETAMPERED
 *         (a row missing or the rows give another root); CAIRN_ENOMEM;
 *         storage errors.  On failure @p st is empty.
 */
CAIRN_INTERNAL cairn_err cairn__runstate_decode(cairn_txn *txn,
                                                const uint8_t *v, size_t vl,
                                                cairn_state *st, char *detail,
                                                size_t detail_len);

/**
 * cairn__runstate_decode() for a writer (docs/FORMAT.md 23.5): a
 * summary's rows are not read now but as the machine needs them
 * (cairn__state_need()), each proven under the summary's ops_root with
 * its op tree path (cairn__oprows_get() in @p txn, which must outlive
 * the loading: cairn__state_detach() before it ends), and the rows the
 * machine changes are tracked (st->dirty).  Section 9's blob is decoded
 * whole, as by cairn__runstate_decode().  O(1) rows read.
 * @return as cairn__runstate_decode().
 */
CAIRN_INTERNAL cairn_err cairn__runstate_decode_lazy(cairn_txn *txn,
                                                     const uint8_t *v,
                                                     size_t vl, cairn_state *st,
                                                     char *detail,
                                                     size_t detail_len);

/**
 * Write the rows the machine changed in @p st (st->dirty; st->ops_root
 * the root of the stored rows, proven by the caller), each after its
 * stored path proves (cairn__oprows_update()); st->ops_root becomes the
 * new root and the list is cleared.  O(changed rows x log n_ops).
 * @return as cairn__oprows_update(); CAIRN_EINVAL (a changed row is not
 *         loaded).  On failure rows may be half written: the caller
 *         aborts its transaction.
 */
CAIRN_INTERNAL cairn_err cairn__runstate_put_rows(cairn_txn *txn,
                                                  cairn_state *st, char *detail,
                                                  size_t detail_len);

/**
 * The root of @p st's op tree once the rows it changed (st->dirty) are
 * written, computed from the stored paths in @p txn (each proven under
 * st->ops_root) without writing anything: O(changed rows x log n_ops);
 * with more than a few changed rows and every row loaded, from the rows
 * (O(n_ops)).
 * @return CAIRN_OK; CAIRN_ETAMPERED (a path does not prove);
 *         CAIRN_EINVAL (a changed row is not loaded); CAIRN_ENOMEM;
 *         storage errors.
 */
CAIRN_INTERNAL cairn_err cairn__oprows_root_after(
    cairn_txn *txn, cairn_state *st, uint8_t root[CAIRN_HASH_BYTES],
    char *detail, size_t detail_len);

/**
 * Store @p next as its run's version-2 state: the rows first, then the
 * summary in `runs`, and @p leaf (may be NULL) gets its state map leaf,
 * SHA-256(0x00 || summary).  @p prev NULL: a new run, every row and its
 * whole op tree (cairn__oprows_put_all()).  Else @p prev gives the
 * run's stored run_num, n_ops and pruned flag (it may be @p next
 * itself; its rows are not read): the rows @p next changed are written
 * (cairn__runstate_put_rows(); next->ops_root, the stored summary's
 * until then, proven by the caller, becomes the new root), or, for a
 * run stored as section 9's blob, every row of @p next (all loaded).
 * @p next pruned (its stub): every row and node of @p prev's n_ops is
 * deleted.
 * @return CAIRN_OK; CAIRN_ETAMPERED; CAIRN_EEXIST; CAIRN_EINVAL;
 *         CAIRN_ENOMEM; storage errors (the caller aborts its
 *         transaction).
 */
CAIRN_INTERNAL cairn_err cairn__runstate_put(cairn_txn *txn,
                                             const cairn_state *prev,
                                             cairn_state *next,
                                             uint8_t leaf[CAIRN_HASH_BYTES],
                                             char *detail, size_t detail_len);

/** Do rows @p a and @p b hold the same dynamic state (23.3)? */
CAIRN_INTERNAL int cairn__oprow_same(const cairn_op_st *a,
                                     const cairn_op_st *b);

#endif
