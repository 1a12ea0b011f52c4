/*
 * head_write.h - the end of every format-2 commit (head_write.c): the
 * trees extended and the new head put.  Used by every commit path
 * (commit.h includes it) and by migration.
 */
#ifndef CAIRN_HEAD_WRITE_H
#define CAIRN_HEAD_WRITE_H

#include "journal/journal.h"

/** A run whose state a format-2 commit wrote: its state map leaf before
 *  (proven when its state was loaded) and after. */
typedef struct cairn_run_leaf {
    uint64_t run_num;
    uint8_t old_leaf[CAIRN_HASH_BYTES]; /**< unused when is_new */
    uint8_t new_leaf[CAIRN_HASH_BYTES];
    int is_new; /**< created by this commit: appended to the map */
} cairn_run_leaf;

/**
 * Put the head of a log tree of @p size records with root @p root and a
 * state map of @p runs runs with root @p state_root in @p txn (meta
 * "head"), stamped with the wall time and, when @p sign, signed with the
 * handle's signer (the handle then counts it as proven).  Builds on
 * nothing stored: the caller computed both roots.
 * @return CAIRN_OK; CAIRN_EINVAL (@p sign without a signer); storage or
 *         signing errors; each described in @p detail.
 */
CAIRN_INTERNAL cairn_err
cairn__head_put(cairn_journal *j, cairn_txn *txn, int sign, uint64_t size,
                const uint8_t root[CAIRN_HASH_BYTES], uint64_t runs,
                const uint8_t state_root[CAIRN_HASH_BYTES], char *detail,
                size_t detail_len);

struct cairn_head;
/**
 * End a format-2 commit (head_write.c): append the leaf hashes of the
 * commit's @p n_leaves records (in position order) to the log tree, move
 * the state map leaves of @p runs, and put the new head in @p txn, signed
 * when the journal is.  @p old is the head proven at the start of the
 * transaction (cairn__head_load()).
 * @return CAIRN_OK; CAIRN_EKEYMISMATCH (the handle's key, or lack of one,
 *         does not match the journal's signedness); CAIRN_ETAMPERED (a
 *         stored node does not prove); storage or signing errors; each
 *         described in @p detail.
 */
CAIRN_INTERNAL cairn_err cairn__head_write(
    cairn_journal *j, cairn_txn *txn, const struct cairn_head *old,
    const uint8_t (*leaves)[CAIRN_HASH_BYTES], size_t n_leaves,
    const cairn_run_leaf *runs, size_t n_runs, char *detail, size_t detail_len);

#endif
