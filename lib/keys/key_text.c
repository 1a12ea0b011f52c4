/*
 * key_text.c - the text layer shared by key files and .minisig files:
 * line splitting, strict base64 fields, printable checks, detail messages.
 */
#include "keys/key.h"

#include "base/crypto.h"

#include <stdarg.h>
#include <string.h>

cairn_err cairn__key_fail(char *detail, size_t detail_len, const char *name,
                          size_t no, cairn_err code, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (name != NULL && no > 0) {
        cairn__fmt(detail, detail_len, "%s: line %zu: %s", name, no, msg);
    } else if (name != NULL) {
        cairn__fmt(detail, detail_len, "%s: %s", name, msg);
    } else if (no > 0) {
        cairn__fmt(detail, detail_len, "line %zu: %s", no, msg);
    } else {
        cairn__fmt(detail, detail_len, "%s", msg);
    }
    return code;
}

/* Scan one line starting at text[*pos]; on success store it and move *pos
 * past its line end. */
static cairn_err scan_line(const char *text, size_t len, size_t *pos,
                           cairn__line *line, const char *name, char *detail,
                           size_t detail_len)
{
    size_t start = *pos;
    size_t i = start;
    while (i < len && text[i] != '\n') {
        if (text[i] == '\0') {
            return cairn__key_fail(detail, detail_len, name, line->no,
                                   CAIRN_EKEY, "NUL byte at column %zu",
                                   i - start + 1);
        }
        if (text[i] == '\r' && (i + 1 >= len || text[i + 1] != '\n')) {
            return cairn__key_fail(detail, detail_len, name, line->no,
                                   CAIRN_EKEY,
                                   "carriage return not followed by a line "
                                   "feed at column %zu",
                                   i - start + 1);
        }
        i++;
    }
    size_t end = i;
    if (end > start && text[end - 1] == '\r') {
        end--; /* CRLF line end: only reachable when text[i] is '\n' */
    }
    line->p = text + start;
    line->len = end - start;
    *pos = i < len ? i + 1 : i;
    return CAIRN_OK;
}

cairn_err cairn__split_lines(const char *text, size_t len, cairn__line *lines,
                             size_t max, size_t *count, const char *name,
                             char *detail, size_t detail_len)
{
    size_t n = 0;
    size_t pos = 0;
    *count = 0;
    while (pos < len) {
        if (n == max) {
            return cairn__key_fail(detail, detail_len, name, n + 1, CAIRN_EKEY,
                                   "unexpected extra line (at most %zu "
                                   "lines)",
                                   max);
        }
        lines[n].no = n + 1;
        cairn_err err =
            scan_line(text, len, &pos, &lines[n], name, detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
        n++;
    }
    *count = n;
    return CAIRN_OK;
}

int cairn__line_has_prefix(const cairn__line *line, const char *prefix)
{
    size_t n = strlen(prefix);
    return line->len >= n && memcmp(line->p, prefix, n) == 0;
}

static int is_b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Check the alphabet and the padding; count the '=' characters. */
static cairn_err b64_shape(const cairn__line *line, size_t *pad,
                           const char *name, char *detail, size_t detail_len)
{
    size_t npad = 0;
    for (size_t i = 0; i < line->len; i++) {
        unsigned char c = (unsigned char)line->p[i];
        if (c == '=') {
            npad++;
            continue;
        }
        if (!is_b64_char(c)) {
            return cairn__key_fail(
                detail, detail_len, name, line->no, CAIRN_EKEY,
                "invalid base64 character 0x%02x at column %zu", c, i + 1);
        }
        if (npad > 0) {
            return cairn__key_fail(
                detail, detail_len, name, line->no, CAIRN_EKEY,
                "base64 padding '=' before column %zu", i + 1);
        }
    }
    if (npad > 2) {
        return cairn__key_fail(detail, detail_len, name, line->no, CAIRN_EKEY,
                               "too much base64 padding (%zu '=')", npad);
    }
    if (line->len % 4 != 0) {
        return cairn__key_fail(detail, detail_len, name, line->no, CAIRN_EKEY,
                               "base64 length %zu is not a multiple of 4",
                               line->len);
    }
    *pad = npad;
    return CAIRN_OK;
}

cairn_err cairn__b64_field(const cairn__line *line, const char *what,
                           uint8_t *out, size_t outlen, const char *name,
                           char *detail, size_t detail_len)
{
    if (line->len == 0) {
        return cairn__key_fail(detail, detail_len, name, line->no, CAIRN_EKEY,
                               "empty line, expected the base64 %s", what);
    }
    size_t pad = 0;
    cairn_err err = b64_shape(line, &pad, name, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    size_t got = line->len / 4 * 3 - pad;
    if (got != outlen) {
        return cairn__key_fail(detail, detail_len, name, line->no, CAIRN_EKEY,
                               "base64 decodes to %zu bytes, expected %zu "
                               "(%s)",
                               got, outlen, what);
    }
    if (cairn__b64_decode(line->p, line->len, out, outlen) != 0) {
        cairn__memzero(out, outlen);
        return cairn__key_fail(detail, detail_len, name, line->no, CAIRN_EKEY,
                               "non-canonical base64 (nonzero padding bits)");
    }
    return CAIRN_OK;
}

/* Length of the well-formed UTF-8 sequence at p (not a C1 control, not a
 * surrogate, at most U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
    size_t n;
    uint32_t cp;
    uint32_t min;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        cp = p[0] & 0x1fu;
        min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        cp = p[0] & 0x0fu;
        min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        cp = p[0] & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (left < n) {
        return 0;
    }
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0u) != 0x80u) {
            return 0;
        }
        cp = cp << 6 | (p[k] & 0x3fu);
    }
    if (cp < min || cp < 0xa0 || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return n;
}

int cairn__printable(const char *s, size_t len, size_t *bad)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c == '\t' || (c >= 0x20 && c < 0x7f)) {
            i++;
            continue;
        }
        size_t n = c >= 0x80 ? utf8_seq(p + i, len - i) : 0;
        if (n == 0) {
            *bad = i;
            return -1;
        }
        i += n;
    }
    return 0;
}
