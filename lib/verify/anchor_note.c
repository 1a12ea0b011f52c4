/*
 * anchor_note.c - a saved checkpoint of a journal (docs/FORMAT.md section
 * 18.1), as an anchor, a bundle's anchor or a remembered checkpoint holds
 * it: its origin, the strict parse of its text, its signature.
 */
#include "verify/anchor_note.h"

#include "base/bytes.h"
#include "journal/head.h"

#include <string.h>

#define B64_HASH_LEN 44u

void cairn__anchor_origin(const uint8_t id[CAIRN_JOURNAL_ID_BYTES],
                          char out[CAIRN_ORIGIN_MAX])
{
    size_t n = sizeof(CAIRN__ORIGIN_PREFIX) - 1;
    memcpy(out, CAIRN__ORIGIN_PREFIX, n);
    cairn__hex(id, CAIRN_JOURNAL_ID_BYTES, out + n);
}

/* ---- parsing a saved checkpoint ---------------------------------------- */

/* Strict decimal: 1..19 digits, no leading zero but "0", < 2^63. */
static int parse_dec(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 19 || (len > 1 && s[0] == '0')) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (CAIRN_TLOG_MAX_SIZE - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int parse_state(const char *s, size_t len, cairn__anchor_note *a)
{
    static const char tag[] = "cairn-state ";
    size_t tl = sizeof(tag) - 1;
    if (len < tl + 2 + B64_HASH_LEN || memcmp(s, tag, tl) != 0) {
        return -1;
    }
    size_t dl = len - tl - 1 - B64_HASH_LEN;
    if (s[tl + dl] != ' ' || parse_dec(s + tl, dl, &a->runs) != 0 ||
        cairn__b64_decode(s + tl + dl + 1, B64_HASH_LEN, a->state_root,
                          CAIRN_HASH_BYTES) != 0) {
        return -1;
    }
    return 0;
}

static int parse_time(const char *s, size_t len, cairn__anchor_note *a)
{
    static const char tag[] = "cairn-time ";
    size_t tl = sizeof(tag) - 1;
    if (len <= tl || memcmp(s, tag, tl) != 0) {
        return -1;
    }
    return parse_dec(s + tl, len - tl, &a->time_ns);
}

cairn_err cairn__anchor_parse(const char *s, size_t len, cairn__anchor_note *a,
                              char *detail, size_t detail_len)
{
    cairn_tlog_checkpoint cp;
    const char *text = s, *line;
    size_t text_len = len, ll, pos = 0;
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
    if (cp.n_ext != 2 ||
        !cairn__tlog_checkpoint_next_ext(&cp, &pos, &line, &ll) ||
        parse_state(line, ll, a) != 0 ||
        !cairn__tlog_checkpoint_next_ext(&cp, &pos, &line, &ll) ||
        parse_time(line, ll, a) != 0) {
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
