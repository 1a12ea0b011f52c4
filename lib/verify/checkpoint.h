/*
 * checkpoint.h - the journal's current head as a checkpoint, and the
 * consistency of a saved checkpoint with it (internal; docs/FORMAT.md
 * section 18.1; checkpoint.c).
 */
#ifndef CAIRN_CHECKPOINT_H
#define CAIRN_CHECKPOINT_H

#include "verify/verify.h"

/** A read transaction of @p j into *txn (NULL on failure; the detail
 *  says why).  @return CAIRN_OK; the store's error. */
CAIRN_INTERNAL cairn_err cairn__anchor_read(cairn_journal *j, cairn_txn **txn,
                                            char *detail, size_t detail_len);

/** cairn_journal_checkpoint_get() in @p txn.  An empty journal is
 *  CAIRN_ENOTHING with cp->size 0 and cp->root the empty root. */
CAIRN_INTERNAL cairn_err cairn__anchor_head(cairn_journal *j, cairn_txn *txn,
                                            const cairn_pubkey *pinned,
                                            cairn_journal_checkpoint *cp,
                                            char *detail, size_t detail_len);

/**
 * Does the tree of size @p n with root @p root_n extend the one of size
 * @p m with root @p root_m?  A consistency proof built from the stored
 * `tree` nodes of @p txn, checked against both roots (m = n: equal roots;
 * m > n: no).  *ok 1 or 0.
 * @return CAIRN_OK; a storage error.
 */
CAIRN_INTERNAL cairn_err cairn__anchor_consistent(
    cairn_txn *txn, uint64_t m, const uint8_t root_m[CAIRN_HASH_BYTES],
    uint64_t n, const uint8_t root_n[CAIRN_HASH_BYTES], int *ok);

#endif
