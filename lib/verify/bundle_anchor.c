/*
 * bundle_anchor.c - anchors for bundles: a checkpoint of the journal kept
 * off the host (as `cairn checkpoint` prints it), parsed strictly as a
 * C2SP signed note whose text is a checkpoint, then checked against a
 * journal id and the pinned Ed25519 key (key name = origin =
 * "cairn/journal/<32 hex journal id>").  Extension lines and signature
 * lines of other keys (witness cosignatures) are allowed and ignored.
 */
#include "verify/verify.h"

#include <string.h>

#define ORIGIN_PREFIX "cairn/journal/"
#define ORIGIN_LEN (sizeof(ORIGIN_PREFIX) - 1 + 2 * CAIRN_JOURNAL_ID_BYTES)

cairn_err cairn__bundle_anchor_parse(const char *text, size_t len,
                                     cairn__bundle_anchor *out, char *detail,
                                     size_t detail_len)
{
    char why[200];
    memset(out, 0, sizeof(*out));
    if (text == NULL) {
        return CAIRN_EINVAL;
    }
    if (cairn__note_parse(text, len, &out->note, why, sizeof(why)) !=
        CAIRN_OK) {
        cairn__fmt(detail, detail_len, "not a signed note: %s", why);
        return CAIRN_EINVAL;
    }
    if (cairn__tlog_checkpoint_parse(out->note.text, out->note.text_len,
                                     &out->cp, why, sizeof(why)) != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "not a checkpoint: %s", why);
        memset(out, 0, sizeof(*out));
        return CAIRN_EINVAL;
    }
    return CAIRN_OK;
}

cairn_err
cairn__bundle_anchor_check(const cairn__bundle_anchor *a,
                           const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                           const uint8_t *pk, char *detail, size_t detail_len)
{
    char origin[ORIGIN_LEN + 1], why[300];
    memcpy(origin, ORIGIN_PREFIX, sizeof(ORIGIN_PREFIX) - 1);
    cairn__hex(journal_id, CAIRN_JOURNAL_ID_BYTES,
               origin + sizeof(ORIGIN_PREFIX) - 1);
    if (a->cp.origin_len != ORIGIN_LEN ||
        memcmp(a->cp.origin, origin, ORIGIN_LEN) != 0) {
        cairn__fmt(detail, detail_len,
                   "the anchor's origin \"%.*s\" is not this journal's (%s)",
                   (int)(a->cp.origin_len > 80 ? 80 : a->cp.origin_len),
                   a->cp.origin, origin);
        return CAIRN_EINVAL;
    }
    if (pk == NULL) {
        cairn__fmt(detail, detail_len,
                   "no pinned key: the anchor's signature is not checked");
        return CAIRN_EKEYMISMATCH;
    }
    cairn_err err =
        cairn__note_verify(&a->note, origin, ORIGIN_LEN, pk, why, sizeof(why));
    if (err == CAIRN_OK) {
        cairn__clear(detail, detail_len);
        return CAIRN_OK;
    }
    if (err == CAIRN_EKEYMISMATCH) {
        cairn__fmt(detail, detail_len,
                   "the anchor is not signed by the pinned key: %s", why);
        return err;
    }
    cairn__fmt(detail, detail_len,
               "the anchor's signature of the pinned key does not verify: %s",
               why);
    return CAIRN_ETAMPERED;
}
