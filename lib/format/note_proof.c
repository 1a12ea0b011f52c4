/*
 * note_proof.c - tlog checkpoint bodies (c2sp.org/tlog-checkpoint) and
 * tlog proofs (c2sp.org/tlog-proof): encoders and strict parsers.
 */
#include "format/note.h"
#include "format/merkle.h"

#include "base/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse s[0..len) as a decimal of at most 2^63 - 1 without a leading
 * zero (but "0"): 0, or -1. */
int cairn__tlog_decimal_parse(const char *s, size_t len, uint64_t *v)
{
    if (len == 0 || len > 19 || (s[0] == '0' && len > 1)) {
        return -1;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        uint64_t d = (uint64_t)(s[i] - '0');
        if (x > (CAIRN_TLOG_MAX_SIZE - d) / 10) {
            return -1;
        }
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

static void wr_u64(cairn_wr *w, uint64_t v)
{
    char num[24];
    cairn__fmt(num, sizeof(num), "%llu", (unsigned long long)v);
    cairn__wr_bytes(w, num, strlen(num));
}

/* Length of the line at s[off] (without its '\n'), or SIZE_MAX when no
 * '\n' follows in s[off..len). */
static size_t line_len(const char *s, size_t off, size_t len)
{
    const char *nl = off < len ? memchr(s + off, '\n', len - off) : NULL;
    return nl == NULL ? SIZE_MAX : (size_t)(nl - (s + off));
}

/* Extension lines: each non-empty, '\n'-terminated; their count. */
static int ext_count(const char *ext, size_t len, size_t *n)
{
    size_t count = 0;
    for (size_t off = 0; off < len; count++) {
        size_t l = line_len(ext, off, len);
        if (l == 0 || l == SIZE_MAX) {
            return -1;
        }
        off += l + 1;
    }
    *n = count;
    return 0;
}

cairn_err cairn__tlog_checkpoint_encode(cairn_wr *w,
                                        const cairn_tlog_checkpoint *cp)
{
    size_t n_ext = 0;
    if (w == NULL || cp == NULL || cp->origin == NULL || cp->origin_len == 0 ||
        cp->size > CAIRN_TLOG_MAX_SIZE ||
        memchr(cp->origin, '\n', cp->origin_len) != NULL ||
        cairn__note_chars_check(cp->origin, cp->origin_len, 0, NULL, 0) !=
            CAIRN_OK ||
        (cp->ext == NULL && cp->ext_len > 0) ||
        ext_count(cp->ext, cp->ext_len, &n_ext) != 0 || n_ext != cp->n_ext ||
        cairn__note_chars_check(cp->ext, cp->ext_len, 0, NULL, 0) != CAIRN_OK ||
        cp->origin_len + cp->ext_len > CAIRN_NOTE_MAX_TEXT - 66) {
        return CAIRN_EINVAL;
    }
    cairn__wr_bytes(w, cp->origin, cp->origin_len);
    cairn__wr_u8(w, '\n');
    wr_u64(w, cp->size);
    cairn__wr_u8(w, '\n');
    cairn__note_wr_b64(w, cp->root, 32);
    cairn__wr_u8(w, '\n');
    cairn__wr_bytes(w, cp->ext, cp->ext_len);
    return cairn__wr_status(w);
}

static cairn_err bad(char *detail, size_t detail_len, size_t at,
                     const char *what)
{
    return cairn__fail(detail, detail_len, CAIRN_ECORRUPT, "byte %zu: %s", at,
                       what);
}

static cairn_err checkpoint_lines(const char *t, size_t len,
                                  cairn_tlog_checkpoint *out, char *detail,
                                  size_t detail_len)
{
    size_t l = line_len(t, 0, len);
    if (l == 0) {
        return bad(detail, detail_len, 0, "empty origin line");
    }
    out->origin = t;
    out->origin_len = l;
    size_t off = l + 1;
    l = line_len(t, off, len);
    if (l == SIZE_MAX) {
        return bad(detail, detail_len, off, "missing tree size line");
    }
    if (cairn__tlog_decimal_parse(t + off, l, &out->size) != 0) {
        return bad(detail, detail_len, off,
                   "tree size is not a decimal of at most 2^63 - 1 without "
                   "leading zeros");
    }
    off += l + 1;
    l = line_len(t, off, len);
    if (l == SIZE_MAX) {
        return bad(detail, detail_len, off, "missing root hash line");
    }
    if (l != 44 || cairn__note_b64_decode(t + off, 44, out->root, 32) != 0) {
        return bad(detail, detail_len, off,
                   "root hash is not canonical base64 of 32 bytes");
    }
    off += l + 1;
    out->ext = t + off;
    out->ext_len = len - off;
    for (; off < len; out->n_ext++) {
        l = line_len(t, off, len);
        if (l == 0) {
            return bad(detail, detail_len, off, "empty extension line");
        }
        off += l + 1;
    }
    return CAIRN_OK;
}

cairn_err cairn__tlog_checkpoint_parse(const char *text, size_t len,
                                       cairn_tlog_checkpoint *out, char *detail,
                                       size_t detail_len)
{
    if (out == NULL || (text == NULL && len > 0)) {
        return CAIRN_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    cairn_err err = cairn__note_text_check(text, len, detail, detail_len);
    if (err == CAIRN_OK) {
        err = checkpoint_lines(text, len, out, detail, detail_len);
    }
    if (err != CAIRN_OK) {
        memset(out, 0, sizeof(*out));
        return err;
    }
    cairn__clear(detail, detail_len);
    return CAIRN_OK;
}

int cairn__tlog_checkpoint_next_ext(const cairn_tlog_checkpoint *cp,
                                    size_t *pos, const char **line,
                                    size_t *line_len_out)
{
    if (cp == NULL || pos == NULL || *pos >= cp->ext_len) {
        return 0;
    }
    size_t l = line_len(cp->ext, *pos, cp->ext_len);
    if (l == SIZE_MAX) {
        return 0;
    }
    *line = cp->ext + *pos;
    *line_len_out = l;
    *pos += l + 1;
    return 1;
}

/* "cairn-state <runs> <base64 root>" */
static int cairn_state_line(const char *s, size_t len, uint64_t *runs,
                            uint8_t root[32])
{
    static const char tag[] = "cairn-state ";
    const size_t tl = sizeof(tag) - 1, b64 = 44;
    if (len < tl + 2 + b64 || memcmp(s, tag, tl) != 0) {
        return -1;
    }
    size_t dl = len - tl - 1 - b64;
    if (s[tl + dl] != ' ' || cairn__tlog_decimal_parse(s + tl, dl, runs) != 0 ||
        cairn__b64_decode(s + tl + dl + 1, b64, root, 32) != 0) {
        return -1;
    }
    return 0;
}

/* "cairn-time <wall ns>" */
static int cairn_time_line(const char *s, size_t len, uint64_t *time_ns)
{
    static const char tag[] = "cairn-time ";
    const size_t tl = sizeof(tag) - 1;
    if (len <= tl || memcmp(s, tag, tl) != 0) {
        return -1;
    }
    return cairn__tlog_decimal_parse(s + tl, len - tl, time_ns);
}

size_t cairn__tlog_cairn_ext_parse(const cairn_tlog_checkpoint *cp,
                                   uint64_t *runs, uint8_t state_root[32],
                                   uint64_t *time_ns)
{
    const char *line;
    size_t ll, pos = 0;
    if (!cairn__tlog_checkpoint_next_ext(cp, &pos, &line, &ll) ||
        cairn_state_line(line, ll, runs, state_root) != 0) {
        return 1;
    }
    if (!cairn__tlog_checkpoint_next_ext(cp, &pos, &line, &ll) ||
        cairn_time_line(line, ll, time_ns) != 0) {
        return 2;
    }
    return cp->n_ext > 2 ? 3 : 0;
}

cairn_err cairn__tlog_proof_encode(cairn_wr *w, const uint8_t *extra,
                                   size_t extra_len, uint64_t index,
                                   const uint8_t (*hashes)[32], size_t n_hashes,
                                   const char *note, size_t note_len)
{
    if (w == NULL || (extra == NULL && extra_len > 0) ||
        extra_len > CAIRN_NOTE_MAX_TEXT || index > CAIRN_TLOG_MAX_SIZE ||
        n_hashes > CAIRN_TLOG_PROOF_MAX_HASHES ||
        (hashes == NULL && n_hashes > 0) || note == NULL) {
        return CAIRN_EINVAL;
    }
    cairn__wr_bytes(w, CAIRN_TLOG_PROOF_HEADER "\n",
                    sizeof(CAIRN_TLOG_PROOF_HEADER));
    if (extra_len > 0) {
        cairn__wr_bytes(w, "extra ", 6);
        cairn__note_wr_b64(w, extra, extra_len);
        cairn__wr_u8(w, '\n');
    }
    cairn__wr_bytes(w, "index ", 6);
    wr_u64(w, index);
    cairn__wr_u8(w, '\n');
    for (size_t i = 0; i < n_hashes; i++) {
        cairn__note_wr_b64(w, hashes[i], 32);
        cairn__wr_u8(w, '\n');
    }
    cairn__wr_u8(w, '\n');
    cairn__wr_bytes(w, note, note_len);
    return cairn__wr_status(w);
}

/* Rewrite a "byte N: ..." detail of a nested parse as "byte base+N: ...". */
static cairn_err rebase(cairn_err err, char *detail, size_t detail_len,
                        size_t base)
{
    if (detail == NULL || detail_len == 0 || strncmp(detail, "byte ", 5) != 0) {
        return err;
    }
    char *end = NULL;
    unsigned long long at = strtoull(detail + 5, &end, 10);
    char rest[200];
    cairn__fmt(rest, sizeof(rest), "%s", end);
    cairn__fmt(detail, detail_len, "byte %llu%s", at + (unsigned long long)base,
               rest);
    return err;
}

/* The header, extra, index and hash lines; *off is where the note
 * starts. */
static cairn_err proof_head(const char *s, size_t len, cairn_tlog_proof *out,
                            size_t *off_out, char *detail, size_t detail_len)
{
    size_t l = line_len(s, 0, len);
    if (l != sizeof(CAIRN_TLOG_PROOF_HEADER) - 1 ||
        memcmp(s, CAIRN_TLOG_PROOF_HEADER, l) != 0) {
        return bad(detail, detail_len, 0,
                   "first line is not " CAIRN_TLOG_PROOF_HEADER);
    }
    size_t off = l + 1;
    l = line_len(s, off, len);
    if (l != SIZE_MAX && l >= 6 && memcmp(s + off, "extra ", 6) == 0) {
        size_t n = cairn__note_b64_len(s + off + 6, l - 6);
        uint8_t *tmp = n <= CAIRN_NOTE_MAX_TEXT ? malloc(n) : NULL;
        int ok = tmp != NULL && n > 0 &&
                 cairn__note_b64_decode(s + off + 6, l - 6, tmp, n) == 0;
        free(tmp);
        if (!ok) {
            return bad(detail, detail_len, off + 6,
                       "extra data is not canonical non-empty base64 (at "
                       "most 65536 bytes)");
        }
        out->extra_b64 = s + off + 6;
        out->extra_b64_len = l - 6;
        out->extra_len = n;
        off += l + 1;
        l = line_len(s, off, len);
    }
    if (l == SIZE_MAX || l < 6 || memcmp(s + off, "index ", 6) != 0 ||
        cairn__tlog_decimal_parse(s + off + 6, l - 6, &out->index) != 0) {
        return bad(detail, detail_len, off,
                   "expected \"index N\" (decimal, no leading zeros, at "
                   "most 2^63 - 1)");
    }
    off += l + 1;
    for (;;) {
        l = line_len(s, off, len);
        if (l == SIZE_MAX) {
            return bad(detail, detail_len, off,
                       "missing blank line before the checkpoint");
        }
        if (l == 0) {
            break;
        }
        if (out->n_hashes == CAIRN_TLOG_PROOF_MAX_HASHES) {
            return bad(detail, detail_len, off, "more than 63 proof hashes");
        }
        if (l != 44 || cairn__note_b64_decode(
                           s + off, 44, out->hashes[out->n_hashes], 32) != 0) {
            return bad(detail, detail_len, off,
                       "proof hash is not canonical base64 of 32 bytes");
        }
        out->n_hashes++;
        off += l + 1;
    }
    *off_out = off + 1;
    return CAIRN_OK;
}

static cairn_err proof_body(const char *s, size_t len, cairn_tlog_proof *out,
                            char *detail, size_t detail_len)
{
    size_t off = 0;
    cairn_err err = proof_head(s, len, out, &off, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    out->note = s + off;
    out->note_len = len - off;
    err = cairn__note_parse(out->note, out->note_len, &out->parsed, detail,
                            detail_len);
    if (err != CAIRN_OK) {
        return rebase(err, detail, detail_len, off);
    }
    err = cairn__tlog_checkpoint_parse(out->parsed.text, out->parsed.text_len,
                                       &out->checkpoint, detail, detail_len);
    if (err != CAIRN_OK) {
        return rebase(err, detail, detail_len, off);
    }
    if (out->index >= out->checkpoint.size) {
        return bad(detail, detail_len, off,
                   "index is not below the checkpoint's tree size");
    }
    size_t want = cairn__mt_inclusion_len(out->index, out->checkpoint.size);
    if (out->n_hashes != want) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte %zu: %zu proof hashes where index %llu in "
                           "a tree of %llu needs %zu",
                           off, out->n_hashes, (unsigned long long)out->index,
                           (unsigned long long)out->checkpoint.size, want);
    }
    return CAIRN_OK;
}

cairn_err cairn__tlog_proof_parse(const char *s, size_t len,
                                  cairn_tlog_proof *out, char *detail,
                                  size_t detail_len)
{
    if (out == NULL || (s == NULL && len > 0)) {
        return CAIRN_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    cairn_err err = proof_body(s, len, out, detail, detail_len);
    if (err != CAIRN_OK) {
        memset(out, 0, sizeof(*out));
        return err;
    }
    cairn__clear(detail, detail_len);
    return CAIRN_OK;
}
