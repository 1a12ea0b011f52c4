/*
 * bundle_anchor.h - the anchors of a version-2 bundle (internal;
 * docs/FORMAT.md section 19.6): saved checkpoints (anchor_note.h) that
 * must be signed, checked without a journal at hand (bundle_anchor.c).
 */
#ifndef CAIRN_BUNDLE_ANCHOR_H
#define CAIRN_BUNDLE_ANCHOR_H

#include "verify/anchor_note.h"

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

#endif
