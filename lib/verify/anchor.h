/*
 * anchor.h - anchors and remembered checkpoints (internal; docs/FORMAT.md
 * sections 18 and 19.6): the pieces anchor.c, remember.c and the
 * version-2 bundle share.
 */
#ifndef CAIRN_ANCHOR_H
#define CAIRN_ANCHOR_H

#include "verify/verify.h"

#include "format/note.h"

/** A saved checkpoint, parsed (cairn__anchor_parse()). */
typedef struct cairn__anchor_note {
    int is_signed;   /**< a signed note (else the text alone) */
    cairn_note note; /**< when signed: views into the input */
    char origin[CAIRN_ORIGIN_MAX];
    uint64_t size;
    uint8_t root[CAIRN_HASH_BYTES];
    uint64_t runs;
    uint8_t state_root[CAIRN_HASH_BYTES];
    uint64_t time_ns;
} cairn__anchor_note;

/** "cairn/journal/<hex id>" of @p id into @p out. */
CAIRN_INTERNAL void
cairn__anchor_origin(const uint8_t id[CAIRN_JOURNAL_ID_BYTES],
                     char out[CAIRN_ORIGIN_MAX]);

/**
 * Strict parse of a saved cairn checkpoint: a C2SP signed note (any
 * number of signature lines) or the text alone, whose text is a tlog
 * checkpoint with exactly cairn's two extension lines.  Signatures are
 * not checked.  The origin is not compared.
 * @return CAIRN_OK; CAIRN_ECORRUPT (detail says which rule, at which byte).
 */
CAIRN_INTERNAL cairn_err cairn__anchor_parse(const char *s, size_t len,
                                             cairn__anchor_note *a,
                                             char *detail, size_t detail_len);

/**
 * The signature of @p a under Ed25519 key @p pk named @p origin (the
 * anchor's own origin): cairn__note_verify() on a signed anchor.
 * @return CAIRN_OK (lines of the key, all valid); CAIRN_EKEYMISMATCH
 *         (unsigned, or no line of the key); CAIRN_ETAMPERED (a line of
 *         the key does not verify).  @p why says which (note.h's words).
 */
CAIRN_INTERNAL cairn_err cairn__anchor_signature(const cairn__anchor_note *a,
                                                 const char *origin,
                                                 const uint8_t pk[32],
                                                 char *why, size_t why_len);

/**
 * An anchor given to a version-2 bundle's export or verification
 * (docs/FORMAT.md section 19.6): cairn__anchor_parse(), and it must be
 * signed.  Nothing is checked against a journal here.
 * @return CAIRN_OK; CAIRN_EINVAL (NULL, malformed or unsigned: detail
 *         says which).
 */
CAIRN_INTERNAL cairn_err cairn__bundle_anchor_parse(const char *text,
                                                    size_t len,
                                                    cairn__anchor_note *out,
                                                    char *detail,
                                                    size_t detail_len);

/**
 * Is @p a a checkpoint of journal @p journal_id signed by Ed25519 key
 * @p pk (NULL: no key) under the name cairn/journal/<hex id>?
 * @return CAIRN_OK; CAIRN_EINVAL (another origin); CAIRN_EKEYMISMATCH
 *         (no signature line of @p pk, or no key); CAIRN_ETAMPERED (a line
 *         of @p pk does not verify).  The detail says which.
 */
CAIRN_INTERNAL cairn_err
cairn__bundle_anchor_check(const cairn__anchor_note *a,
                           const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                           const uint8_t *pk, char *detail, size_t detail_len);

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
