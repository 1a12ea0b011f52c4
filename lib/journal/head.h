/*
 * head.h - the journal-wide head of format 2 (docs/FORMAT.md section 13):
 * one checkpoint over the log tree (every record, in position order) and
 * the state map (every run's state blob), rewritten by every commit and
 * signed once.  This file reads and proves it; the commit path writes it
 * (commit/head_write.c).
 *
 * Nothing read from the journal directory is trusted because it is there:
 * a head is believed only when it parses strictly, names this journal,
 * counts exactly the records and runs LMDB holds and, in a signed journal
 * read by a handle with a signer, carries a valid signature of the
 * signer's key.  A run's state blob is believed only with an inclusion
 * proof in the state map whose root that head holds.
 */
#ifndef CAIRN_HEAD_H
#define CAIRN_HEAD_H

#include "journal/journal.h"

/** meta key of the head. */
#define CAIRN__HEAD_KEY "head"
/** Longest head accepted (a five-line body and one signature line). */
#define CAIRN__HEAD_MAX 1024u
/** Origin prefix; the journal id follows in lowercase hex. */
#define CAIRN__ORIGIN_PREFIX "cairn/journal/"
#define CAIRN__ORIGIN_MAX (sizeof(CAIRN__ORIGIN_PREFIX) + 32u)

/** A proven head. */
typedef struct cairn_head {
    uint64_t size;                  /**< records (log tree leaves) */
    uint8_t root[CAIRN_HASH_BYTES]; /**< log tree root */
    uint64_t runs;                  /**< runs (state map leaves) */
    uint8_t state_root[CAIRN_HASH_BYTES];
    uint64_t time_ns; /**< wall time of the commit that wrote it */
    int present;      /**< 0: no head yet (an empty journal) */
    int is_signed;    /**< it carries a signature line */
    int proven;       /**< the signature was checked with the signer's key */
    /** Signed, but not by the handle's signer (readers go on unproven;
     *  writers refuse, commit/head_write.c): who signed it. */
    int foreign;
    char foreign_why[320];
} cairn_head;

/** The origin of @p j ("cairn/journal/<hex id>") into @p out. */
CAIRN_INTERNAL void cairn__head_origin(const cairn_journal *j,
                                       char out[CAIRN__ORIGIN_MAX]);

/**
 * Read meta "head" in @p txn and prove it (see the top of this file).  A
 * journal without a head must hold no record and no run: its head is
 * then the empty one (present 0).  The signature is checked when the
 * handle has a signer (an unchanged head is checked once per handle);
 * without one, only the hashes can be.
 * A head signed by another key than the signer's is not an error here
 * (h->foreign): a reader goes on with what it cannot authenticate, as
 * without a key; a writer refuses to extend it.
 * @return CAIRN_OK; CAIRN_ETAMPERED (detail says what does not match, or
 *         the signer's signature is bad); CAIRN_EVERSION (a format-1
 *         journal); storage errors.
 */
CAIRN_INTERNAL cairn_err cairn__head_load(cairn_journal *j, cairn_txn *txn,
                                          cairn_head *h, char *detail,
                                          size_t detail_len);

/** Remember that the head whose bytes are @p v (@p vl) carries a valid
 *  signature of the handle's signer (its own, or one it checked), so
 *  that cairn__head_load() does not check it again; forget() drops that
 *  (a new signer, or a head that must be checked afresh). */
CAIRN_INTERNAL void cairn__head_remember(cairn_journal *j, const uint8_t *v,
                                         size_t vl);
CAIRN_INTERNAL void cairn__head_forget(cairn_journal *j);

/** Node storage of a tree in a transaction: the cairn_mt_get / cairn_mt_put
 *  of format/merkle.h over database @p dbi (CAIRN_DBI_TREE or
 *  CAIRN_DBI_SMAP; key u8 level || u64 index, value 32 bytes). */
typedef struct cairn_nodes {
    cairn_txn *txn;
    cairn_dbi dbi;
} cairn_nodes;
CAIRN_INTERNAL cairn_err cairn__nodes_get(void *ctx, unsigned level,
                                          uint64_t index,
                                          uint8_t out[CAIRN_HASH_BYTES]);
CAIRN_INTERNAL cairn_err cairn__nodes_put(void *ctx, unsigned level,
                                          uint64_t index,
                                          const uint8_t h[CAIRN_HASH_BYTES]);

/** The state map leaf of a state blob: SHA-256(0x00 || blob). */
CAIRN_INTERNAL void cairn__state_leaf(const uint8_t *blob, size_t len,
                                      uint8_t out[CAIRN_HASH_BYTES]);

/**
 * Prove that @p leaf is the state map leaf of run @p run_num under @p h
 * (an inclusion proof from the stored nodes, O(log runs)).
 * @return CAIRN_OK; CAIRN_ETAMPERED; storage errors.
 */
CAIRN_INTERNAL cairn_err
cairn__head_prove_state(cairn_txn *txn, const cairn_head *h, uint64_t run_num,
                        const uint8_t *leaf, char *detail, size_t detail_len);

#endif
