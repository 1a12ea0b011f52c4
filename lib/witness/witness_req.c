/*
 * witness_req.c - the bytes of the witness: the tlog-witness
 * add-checkpoint request body (parsed strictly, bounded, every failure
 * named by its byte offset) and the value of a witness store record.
 */
#include "witness/witness.h"

#include "base/bytes.h"

#include <stdlib.h>
#include <string.h>

#define OLD_PREFIX "old "

/* The end of the line starting at @p i (the offset of its '\n'), or
 * @p len when there is none. */
static size_t line_end(const char *s, size_t len, size_t i)
{
    const char *nl = memchr(s + i, '\n', len - i);
    return nl == NULL ? len : (size_t)(nl - s);
}

static cairn_err bad(cairn_witness_req *out, char *detail, size_t detail_len,
                     size_t at, const char *what)
{
    memset(out, 0, sizeof(*out));
    return cairn__fail(detail, detail_len, CAIRN_EINVAL, "byte %zu: %s", at,
                       what);
}

/* The "old" line and the proof lines up to the blank line; *at is then
 * the offset of the note. */
static cairn_err parse_head(const char *s, size_t len, cairn_witness_req *out,
                            size_t *at, char *detail, size_t detail_len)
{
    size_t plen = sizeof(OLD_PREFIX) - 1;
    if (len < plen || memcmp(s, OLD_PREFIX, plen) != 0) {
        return bad(out, detail, detail_len, 0,
                   "the request must start with "
                   "\"old <size>\"");
    }
    size_t e = line_end(s, len, plen);
    if (e == len) {
        return bad(out, detail, detail_len, len, "the \"old\" line has no end");
    }
    if (cairn__tlog_decimal_parse(s + plen, e - plen, &out->old_size) != 0) {
        return bad(out, detail, detail_len, plen,
                   "the old size is not a decimal number without leading "
                   "zero, at most 2^63 - 1");
    }
    size_t i = e + 1;
    for (;;) {
        if (i >= len) {
            return bad(out, detail, detail_len, i,
                       "no blank line before the checkpoint");
        }
        if (s[i] == '\n') {
            *at = i + 1;
            return CAIRN_OK;
        }
        e = line_end(s, len, i);
        if (e == len || e - i != 44) {
            return bad(out, detail, detail_len, i,
                       "expected a proof hash (44 characters of base64) or "
                       "a blank line");
        }
        if (out->n_proof == CAIRN__WITNESS_MAX_PROOF) {
            return bad(out, detail, detail_len, i,
                       "more than 63 consistency proof lines");
        }
        if (cairn__note_b64_decode(s + i, 44, out->proof[out->n_proof], 32) !=
            0) {
            return bad(out, detail, detail_len, i,
                       "a proof hash is not canonical base64 of 32 bytes");
        }
        out->n_proof++;
        i = e + 1;
    }
}

/* Re-base a "byte N: ..." detail of a parser that saw s[at..] only. */
static void rebase(char *detail, size_t detail_len, size_t at)
{
    if (detail == NULL || strncmp(detail, "byte ", 5) != 0) {
        return;
    }
    char *end = NULL;
    unsigned long long n = strtoull(detail + 5, &end, 10);
    if (end == NULL || end == detail + 5) {
        return;
    }
    char rest[512];
    cairn__fmt(rest, sizeof(rest), "%s", end);
    cairn__fmt(detail, detail_len, "byte %llu%s", n + (unsigned long long)at,
               rest);
}

cairn_err cairn__witness_req_parse(const char *s, size_t len,
                                   cairn_witness_req *out, char *detail,
                                   size_t detail_len)
{
    if (out == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL, "no output");
    }
    memset(out, 0, sizeof(*out));
    if (s == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL, "no request");
    }
    if (len > CAIRN__WITNESS_REQ_MAX) {
        return bad(out, detail, detail_len, CAIRN__WITNESS_REQ_MAX,
                   "the request is longer than a request can be");
    }
    size_t at = 0;
    cairn_err err = parse_head(s, len, out, &at, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn__note_parse(s + at, len - at, &out->parsed, detail, detail_len);
    if (err == CAIRN_OK) {
        err =
            cairn__tlog_checkpoint_parse(out->parsed.text, out->parsed.text_len,
                                         &out->cp, detail, detail_len);
    }
    if (err != CAIRN_OK) {
        rebase(detail, detail_len, at);
        memset(out, 0, sizeof(*out));
        return CAIRN_EINVAL;
    }
    out->note = s + at;
    out->note_len = len - at;
    out->note_offset = at;
    return CAIRN_OK;
}

/* ---------------------------------------------------------------- */
/* Store records                                                    */

/* version(1) size(8) root(32) time(8) key id(4) key(32) note length(4) */
#define REC_FIXED (1u + 8u + 32u + 8u + 4u + 32u + 4u)

cairn_err cairn__witness_rec_encode(cairn_wr *w, const cairn_witness_rec *rec)
{
    if (rec->note_len == 0 || rec->note_len > CAIRN_NOTE_MAX_BYTES) {
        return CAIRN_EINVAL;
    }
    cairn__wr_u8(w, CAIRN__WITNESS_REC_VERSION);
    cairn__wr_u64(w, rec->size);
    cairn__wr_bytes(w, rec->root, 32);
    cairn__wr_u64(w, rec->time);
    cairn__wr_u32(w, rec->log_key_id);
    cairn__wr_bytes(w, rec->log_pk, 32);
    cairn__wr_u32(w, (uint32_t)rec->note_len);
    cairn__wr_bytes(w, rec->note, rec->note_len);
    return cairn__wr_status(w);
}

cairn_err cairn__witness_rec_decode(const uint8_t *v, size_t vl,
                                    cairn_witness_rec *rec, char *detail,
                                    size_t detail_len)
{
    memset(rec, 0, sizeof(*rec));
    if (vl < REC_FIXED) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "witness record of %zu bytes: shorter than %u", vl,
                           REC_FIXED);
    }
    if (v[0] != CAIRN__WITNESS_REC_VERSION) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "witness record version %u, not %u", v[0],
                           CAIRN__WITNESS_REC_VERSION);
    }
    rec->size = cairn__load64_be(v + 1);
    memcpy(rec->root, v + 9, 32);
    rec->time = cairn__load64_be(v + 41);
    rec->log_key_id = cairn__load32_be(v + 49);
    memcpy(rec->log_pk, v + 53, 32);
    uint32_t n = cairn__load32_be(v + 85);
    if (rec->size > CAIRN_TLOG_MAX_SIZE || rec->time > CAIRN_TLOG_MAX_SIZE) {
        memset(rec, 0, sizeof(*rec));
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "witness record: size or time over 2^63 - 1");
    }
    if (n == 0 || n > CAIRN_NOTE_MAX_BYTES || vl - REC_FIXED != n) {
        memset(rec, 0, sizeof(*rec));
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "witness record: note of %u bytes in a value of "
                           "%zu bytes",
                           (unsigned)n, vl);
    }
    rec->note = v + REC_FIXED;
    rec->note_len = n;
    return CAIRN_OK;
}
