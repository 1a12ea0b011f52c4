/*
 * bundle_anchor.c - the anchors a version-2 bundle is exported and
 * verified with (docs/FORMAT.md section 19.6): a saved checkpoint as
 * `cairn checkpoint` prints it, parsed by cairn__anchor_parse() and
 * signed, checked against a journal id and one key without a journal at
 * hand (cairn__anchor_origin(), cairn__anchor_signature()).
 */
#include "verify/bundle_anchor.h"

#include <string.h>

cairn_err cairn__bundle_anchor_parse(const char *text, size_t len,
                                     cairn__anchor_note *out, char *detail,
                                     size_t detail_len)
{
    char why[300];
    if (text == NULL) {
        memset(out, 0, sizeof(*out));
        return CAIRN_EINVAL;
    }
    if (cairn__anchor_parse(text, len, out, why, sizeof(why)) != CAIRN_OK) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL, "%s", why);
    }
    if (!out->is_signed) {
        memset(out, 0, sizeof(*out));
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "not a signed note: the checkpoint text alone");
    }
    return CAIRN_OK;
}

cairn_err
cairn__bundle_anchor_check(const cairn__anchor_note *a,
                           const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                           const uint8_t *pk, char *detail, size_t detail_len)
{
    char origin[CAIRN_ORIGIN_MAX], why[300];
    cairn__anchor_origin(journal_id, origin);
    if (strcmp(a->origin, origin) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "the anchor's origin \"%s\" is not this "
                           "journal's (%s)",
                           a->origin, origin);
    }
    if (pk == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EKEYMISMATCH,
                           "no pinned key: the anchor's signature is not "
                           "checked");
    }
    cairn_err err = cairn__anchor_signature(a, origin, pk, why, sizeof(why));
    if (err == CAIRN_OK) {
        cairn__clear(detail, detail_len);
        return CAIRN_OK;
    }
    return cairn__fail(detail, detail_len, err,
                       err == CAIRN_EKEYMISMATCH
                           ? "the anchor is not signed by the pinned key: %s"
                           : "the anchor's signature of the pinned key does "
                             "not verify: %s",
                       why);
}
