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

#endif
