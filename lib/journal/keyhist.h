/*
 * keyhist.h - a journal's key history (docs/FORMAT.md section 24): the
 * ROTATE records, run number 0, each signed by the key it retires and by
 * the key it names, chained among themselves and covered by the log tree
 * like every record.  keyhist.c reads and checks them; the commit path
 * writes one (commit/rotate.c); the verifier decides with them which key
 * had to sign a head of size N and a checkpoint at position p.
 *
 * The history is a list of keys K0, K1, ... Kn: K0 signed everything
 * before the first rotation, Ki (i >= 1) everything from the position of
 * rotation i (its own record included: the head of that commit is
 * already Ki's) up to the next one.  A journal that never rotated has an
 * empty history: its key is the one its head names.
 */
#ifndef CAIRN_KEYHIST_H
#define CAIRN_KEYHIST_H

#include "base/common.h"
#include "format/record.h"
#include "store/store.h"

/** Most rotations a journal may hold (a bound for the reader's memory). */
#define CAIRN__MAX_ROTATIONS 4096u

/** One key of the history. */
typedef struct cairn_key_entry {
    /** First position (= head size) at which the key is in force: 0 for
     *  K0, the ROTATE record's position for the others. */
    uint64_t from;
    uint8_t key_id[CAIRN_KEY_ID_BYTES];
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES];
    /** Leaf hash of the ROTATE record that named it (zero for K0). */
    uint8_t leaf[CAIRN_HASH_BYTES];
} cairn_key_entry;

/** The checked history: n == 0 (never rotated) or rotations + 1 keys. */
typedef struct cairn_keyhist {
    size_t n;
    size_t cap; /**< entries allocated */
    cairn_key_entry *keys;
} cairn_keyhist;

/**
 * Read and check every ROTATE record of the journal (index entries of
 * run 0, in sequence order) in @p txn: each decodes, is a ROTATE of run 0
 * with the next sequence, names @p journal_id, chains (seq 0's prev is
 * the keys genesis, then the previous rotation's leaf hash), stands at the
 * position its from_size names, later than the one before, retires the
 * key the previous one named (id and public key), and both signatures
 * verify.  Nothing here says that any key is trusted: the caller decides
 * that (a pinned key in the chain, or the signer of the head).
 * @param bad_pos  receives the position of the first bad record (0: none).
 * @return CAIRN_OK (@p kh filled; free with cairn__keyhist_free());
 *         CAIRN_ETAMPERED (@p detail names the rotation and the field);
 *         CAIRN_ENOMEM; a store error (@p detail empty).
 */
CAIRN_INTERNAL cairn_err cairn__keyhist_load(
    cairn_txn *txn, const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
    cairn_keyhist *kh, uint64_t *bad_pos, char *detail, size_t detail_len);
CAIRN_INTERNAL void cairn__keyhist_free(cairn_keyhist *kh);

/**
 * Check the encoded record @p v (@p vl bytes) at position @p pos as the
 * next rotation of @p kh (rotation number kh->n - 1, or 0 when @p kh is
 * empty) by the rules of cairn__keyhist_load() - decoding, sequence,
 * journal id, prev chain from the keys genesis, from_size, order, the key
 * it retires, both signatures - and append the key it names.  What a
 * bundle's key history (docs/FORMAT.md section 26) is read with.  Start
 * from a zeroed @p kh; free it with cairn__keyhist_free().
 * @return CAIRN_OK; CAIRN_ETAMPERED (@p detail names the rotation and the
 *         field; @p kh unchanged); CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__keyhist_push(
    const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES], cairn_keyhist *kh,
    uint64_t pos, const uint8_t *v, size_t vl, char *detail, size_t detail_len);

/** The key in force at position (or head size) @p pos, or NULL when the
 *  history is empty. */
CAIRN_INTERNAL const cairn_key_entry *cairn__keyhist_at(const cairn_keyhist *kh,
                                                        uint64_t pos);

/** The member of the history whose key id is @p key_id and whose public
 *  key is @p pk (@p pk NULL: any), or NULL. */
CAIRN_INTERNAL const cairn_key_entry *
cairn__keyhist_find(const cairn_keyhist *kh,
                    const uint8_t key_id[CAIRN_KEY_ID_BYTES],
                    const uint8_t *pk);

/** Is position @p pos a ROTATE record's?  (Its from.) */
CAIRN_INTERNAL int cairn__keyhist_is_rotation(const cairn_keyhist *kh,
                                              uint64_t pos);

#endif
