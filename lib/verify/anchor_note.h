/*
 * anchor_note.h - a saved checkpoint of a journal (internal;
 * docs/FORMAT.md section 18.1) as an anchor, a bundle's anchor
 * (bundle_anchor.h) or a remembered checkpoint holds it: one parser
 * (anchor_note.c).
 */
#ifndef CAIRN_ANCHOR_NOTE_H
#define CAIRN_ANCHOR_NOTE_H

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

#endif
