/*
 * anchor.h - anchors and remembered checkpoints (internal; docs/FORMAT.md
 * section 18): the pieces anchor.c and remember.c share.
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
