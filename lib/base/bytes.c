/*
 * bytes.c - the bounded reader and writer every codec goes through.
 */
#include "base/bytes.h"

#include <stdlib.h>

int cairn__rd_u8(cairn_rd *r, uint8_t *v)
{
    if (cairn__rd_left(r) < 1) {
        return -1;
    }
    *v = r->p[r->off];
    r->off += 1;
    return 0;
}

int cairn__rd_u16(cairn_rd *r, uint16_t *v)
{
    if (cairn__rd_left(r) < 2) {
        return -1;
    }
    *v = cairn__load16_be(r->p + r->off);
    r->off += 2;
    return 0;
}

int cairn__rd_u32(cairn_rd *r, uint32_t *v)
{
    if (cairn__rd_left(r) < 4) {
        return -1;
    }
    *v = cairn__load32_be(r->p + r->off);
    r->off += 4;
    return 0;
}

int cairn__rd_u64(cairn_rd *r, uint64_t *v)
{
    if (cairn__rd_left(r) < 8) {
        return -1;
    }
    *v = cairn__load64_be(r->p + r->off);
    r->off += 8;
    return 0;
}

int cairn__rd_bytes(cairn_rd *r, void *out, size_t n)
{
    if (cairn__rd_left(r) < n) {
        return -1;
    }
    if (n > 0) {
        memcpy(out, r->p + r->off, n);
    }
    r->off += n;
    return 0;
}

int cairn__rd_view(cairn_rd *r, size_t n, const uint8_t **out)
{
    if (cairn__rd_left(r) < n) {
        return -1;
    }
    *out = r->p + r->off;
    r->off += n;
    return 0;
}

void cairn__wr_init(cairn_wr *w, size_t max)
{
    w->p = NULL;
    w->len = 0;
    w->cap = 0;
    w->max = max;
    w->failed = 0;
}

void cairn__wr_free(cairn_wr *w)
{
    free(w->p);
    w->p = NULL;
    w->len = w->cap = 0;
}

static int reserve(cairn_wr *w, size_t n)
{
    if (w->failed) {
        return -1;
    }
    size_t need;
    if (cairn__add_size(w->len, n, &need) != 0 || need > w->max) {
        w->failed = CAIRN_EINVAL;
        return -1;
    }
    if (need <= w->cap) {
        return 0;
    }
    size_t ncap = w->cap ? w->cap : 256;
    while (ncap < need) {
        ncap = ncap > w->max / 2 ? w->max : ncap * 2;
    }
    uint8_t *np = realloc(w->p, ncap);
    if (np == NULL) {
        w->failed = CAIRN_ENOMEM;
        return -1;
    }
    w->p = np;
    w->cap = ncap;
    return 0;
}

void cairn__wr_put_slow(cairn_wr *w, const void *p, size_t n)
{
    if (reserve(w, n) != 0) {
        return;
    }
    if (n > 0) {
        memcpy(w->p + w->len, p, n);
    }
    w->len += n;
}

void cairn__wr_reserve(cairn_wr *w, size_t n)
{
    if (w->failed || n <= w->cap - w->len) {
        return;
    }
    size_t room = w->max - w->len; /* len <= max */
    if (n > room) {
        n = room;
    }
    if (n > 0) {
        (void)reserve(w, n);
    }
}

cairn_err cairn__wr_status(const cairn_wr *w)
{
    return (cairn_err)w->failed;
}

cairn_err cairn__wr_take(cairn_wr *w, uint8_t **out, size_t *out_len)
{
    cairn_err err = cairn__wr_status(w);
    if (err != CAIRN_OK) {
        cairn__wr_free(w);
        *out = NULL;
        *out_len = 0;
        return err;
    }
    *out = w->p;
    *out_len = w->len;
    return CAIRN_OK;
}
