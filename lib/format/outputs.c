/*
 * outputs.c - parse the "key=value" lines a command writes to the file
 * named by $CAIRN_OUTPUT.  Strict and bounded: see outputs.h.
 */
#include "format/outputs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Longest part of an offending key quoted in a detail message. */
#define OUTPUTS_QUOTE_MAX 40

static void free_const(const char *p)
{
    free((void *)(uintptr_t)p);
}

void cairn__kvlist_free(cairn_kvlist *list)
{
    if (list == NULL) {
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        free_const(list->v[i].key);
        free_const(list->v[i].value);
    }
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

static int key_char_ok(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* Quote at most OUTPUTS_QUOTE_MAX bytes of s, escaping anything that is
 * not printable ASCII as \xNN, into out[cap]. */
static void quote_bytes(const char *s, size_t n, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    size_t shown = n < OUTPUTS_QUOTE_MAX ? n : OUTPUTS_QUOTE_MAX;
    for (size_t i = 0; i < shown && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = digits[c >> 4];
            out[o++] = digits[c & 15];
        }
    }
    if (shown < n && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Checks one line [line, line+n) that is not empty; on success sets
 * *key_len (the value starts at line + *key_len + 1). */
static cairn_err check_line(const char *line, size_t n, size_t lineno,
                            size_t *key_len, char *detail, size_t detail_len)
{
    if (memchr(line, '\0', n) != NULL) {
        cairn__fmt(detail, detail_len, "line %zu: NUL byte", lineno);
        return CAIRN_EINVAL;
    }
    const char *eq = memchr(line, '=', n);
    if (eq == NULL) {
        cairn__fmt(detail, detail_len, "line %zu: missing '='", lineno);
        return CAIRN_EINVAL;
    }
    size_t klen = (size_t)(eq - line);
    if (klen > CAIRN_MAX_KV_KEY) {
        cairn__fmt(detail, detail_len, "line %zu: key longer than %d bytes",
                   lineno, CAIRN_MAX_KV_KEY);
        return CAIRN_EINVAL;
    }
    int ok = klen > 0;
    for (size_t i = 0; ok && i < klen; i++) {
        ok = key_char_ok((unsigned char)line[i]);
    }
    if (!ok) {
        char q[4 * OUTPUTS_QUOTE_MAX + 8];
        quote_bytes(line, klen, q, sizeof q);
        cairn__fmt(detail, detail_len, "line %zu: bad key \"%s\"", lineno, q);
        return CAIRN_EINVAL;
    }
    if (n - klen - 1 > CAIRN_MAX_KV_VALUE) {
        cairn__fmt(detail, detail_len, "line %zu: value longer than %d bytes",
                   lineno, CAIRN_MAX_KV_VALUE);
        return CAIRN_EINVAL;
    }
    *key_len = klen;
    return CAIRN_OK;
}

static int has_key(const cairn_kvlist *list, const char *key, size_t klen)
{
    for (size_t i = 0; i < list->n; i++) {
        const char *k = list->v[i].key;
        if (strlen(k) == klen && memcmp(k, key, klen) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Appends a copy of the pair; the array grows by doubling up to
 * CAIRN_MAX_KV entries. */
static cairn_err append_pair(cairn_kvlist *list, size_t *cap, const char *line,
                             size_t n, size_t klen)
{
    if (list->n == *cap) {
        size_t ncap = *cap == 0 ? 8 : *cap * 2;
        if (ncap > CAIRN_MAX_KV) {
            ncap = CAIRN_MAX_KV;
        }
        size_t bytes;
        if (cairn__mul_size(ncap, sizeof(cairn_kv), &bytes) != 0) {
            return CAIRN_ENOMEM;
        }
        cairn_kv *nv = realloc(list->v, bytes);
        if (nv == NULL) {
            return CAIRN_ENOMEM;
        }
        list->v = nv;
        *cap = ncap;
    }
    char *key = dup_bytes(line, klen);
    char *value = dup_bytes(line + klen + 1, n - klen - 1);
    if (key == NULL || value == NULL) {
        free(key);
        free(value);
        return CAIRN_ENOMEM;
    }
    list->v[list->n].key = key;
    list->v[list->n].value = value;
    list->n++;
    return CAIRN_OK;
}

/* Handles one non-empty line: validate, reject duplicates and the pair
 * past the limit, append. */
static cairn_err parse_line(cairn_kvlist *list, size_t *cap, const char *line,
                            size_t n, size_t lineno, char *detail,
                            size_t detail_len)
{
    size_t klen = 0;
    cairn_err e = check_line(line, n, lineno, &klen, detail, detail_len);
    if (e != CAIRN_OK) {
        return e;
    }
    if (has_key(list, line, klen)) {
        cairn__fmt(detail, detail_len, "line %zu: duplicate key \"%.*s\"",
                   lineno, (int)klen, line);
        return CAIRN_EINVAL;
    }
    if (list->n >= CAIRN_MAX_KV) {
        cairn__fmt(detail, detail_len, "more than %d pairs", CAIRN_MAX_KV);
        return CAIRN_EINVAL;
    }
    e = append_pair(list, cap, line, n, klen);
    if (e != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "line %zu: out of memory", lineno);
    }
    return e;
}

cairn_err cairn__outputs_parse(const char *buf, size_t len, cairn_kvlist *out,
                               char *detail, size_t detail_len)
{
    cairn__clear(detail, detail_len);
    if (out == NULL) {
        cairn__fmt(detail, detail_len, "out is NULL");
        return CAIRN_EINVAL;
    }
    out->v = NULL;
    out->n = 0;
    if (buf == NULL && len > 0) {
        cairn__fmt(detail, detail_len, "buf is NULL");
        return CAIRN_EINVAL;
    }
    cairn_kvlist list = {NULL, 0};
    size_t cap = 0;
    size_t pos = 0;
    size_t lineno = 0;
    while (pos < len) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;
        lineno++;
        pos += n + (nl != NULL ? 1 : 0);
        if (n == 0) {
            continue;
        }
        cairn_err e =
            parse_line(&list, &cap, line, n, lineno, detail, detail_len);
        if (e != CAIRN_OK) {
            cairn__kvlist_free(&list);
            return e;
        }
    }
    *out = list;
    return CAIRN_OK;
}
