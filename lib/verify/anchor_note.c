/*
 * anchor_note.c - a saved checkpoint of a journal (docs/FORMAT.md section
 * 18.1), as an anchor, a bundle's anchor or a remembered checkpoint holds
 * it: its origin, the strict parse of its text, its signature.
 */
#include "verify/anchor_note.h"

#include "base/bytes.h"
#include "journal/head.h"

#include <string.h>

void cairn__anchor_origin(const uint8_t id[CAIRN_JOURNAL_ID_BYTES],
                          char out[CAIRN_ORIGIN_MAX])
{
    size_t n = sizeof(CAIRN__ORIGIN_PREFIX) - 1;
    memcpy(out, CAIRN__ORIGIN_PREFIX, n);
    cairn__hex(id, CAIRN_JOURNAL_ID_BYTES, out + n);
}

/* ---- parsing a saved checkpoint ---------------------------------------- */

cairn_err cairn__anchor_parse(const char *s, size_t len, cairn__anchor_note *a,
                              char *detail, size_t detail_len)
{
    cairn_tlog_checkpoint cp;
    const char *text = s;
    size_t text_len = len;
    char why[256];
    memset(a, 0, sizeof(*a));
    if (s == NULL || len == 0) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT, "empty");
    }
    if (memmem(s, len, "\n\n", 2) != NULL) {
        if (cairn__note_parse(s, len, &a->note, why, sizeof(why)) != CAIRN_OK) {
            return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                               "not a signed note: %s", why);
        }
        a->is_signed = 1;
        text = a->note.text;
        text_len = a->note.text_len;
    }
    if (cairn__tlog_checkpoint_parse(text, text_len, &cp, why, sizeof(why)) !=
        CAIRN_OK) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "not a checkpoint: %s", why);
    }
    if (cp.origin_len >= CAIRN_ORIGIN_MAX) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "origin of %zu bytes is no cairn journal's",
                           cp.origin_len);
    }
    memcpy(a->origin, cp.origin, cp.origin_len);
    a->origin[cp.origin_len] = '\0';
    a->size = cp.size;
    memcpy(a->root, cp.root, CAIRN_HASH_BYTES);
    if (cairn__tlog_cairn_ext_parse(&cp, &a->runs, a->state_root,
                                    &a->time_ns) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "the extension lines are not exactly "
                           "\"cairn-state <R> <root>\" and \"cairn-time "
                           "<ns>\": not a cairn journal's checkpoint");
    }
    return CAIRN_OK;
}

cairn_err cairn__anchor_signature(const cairn__anchor_note *a,
                                  const char *origin, const uint8_t pk[32],
                                  char *why, size_t why_len)
{
    if (!a->is_signed) {
        return cairn__fail(why, why_len, CAIRN_EKEYMISMATCH, "unsigned");
    }
    cairn_err err =
        cairn__note_verify(&a->note, origin, strlen(origin), pk, why, why_len);
    return err == CAIRN_OK || err == CAIRN_EKEYMISMATCH ? err : CAIRN_ETAMPERED;
}
