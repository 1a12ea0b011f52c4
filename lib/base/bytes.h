/*
 * bytes.h - endian helpers, one bounded reader and one bounded writer.
 *
 * Every decoder in libcairn reads through cairn_rd: each getter checks the
 * remaining length first and does not advance on failure.  Every encoder
 * writes through cairn_wr, a growable buffer with a hard maximum.
 */
#ifndef CAIRN_BYTES_H
#define CAIRN_BYTES_H

#include "base/common.h"

#include <stdint.h>
#include <string.h>

static inline uint16_t cairn__load16_be(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}
static inline uint32_t cairn__load32_be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}
static inline uint64_t cairn__load64_be(const uint8_t *p)
{
    return (uint64_t)cairn__load32_be(p) << 32 | cairn__load32_be(p + 4);
}
static inline void cairn__store16_be(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void cairn__store32_be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void cairn__store64_be(uint8_t *p, uint64_t v)
{
    cairn__store32_be(p, (uint32_t)(v >> 32));
    cairn__store32_be(p + 4, (uint32_t)v);
}
static inline uint64_t cairn__load64_le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}
static inline void cairn__store64_le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/** Bounded reader over a borrowed buffer. */
typedef struct cairn_rd {
    const uint8_t *p;
    size_t len;
    size_t off;
} cairn_rd;

static inline void cairn__rd_init(cairn_rd *r, const void *p, size_t len)
{
    r->p = (const uint8_t *)p;
    r->len = len;
    r->off = 0;
}
static inline size_t cairn__rd_left(const cairn_rd *r)
{
    return r->len - r->off;
}
/* Each returns 0 on success, -1 (without advancing) when too short. */
CAIRN_INTERNAL int cairn__rd_u8(cairn_rd *r, uint8_t *v);
CAIRN_INTERNAL int cairn__rd_u16(cairn_rd *r, uint16_t *v);
CAIRN_INTERNAL int cairn__rd_u32(cairn_rd *r, uint32_t *v);
CAIRN_INTERNAL int cairn__rd_u64(cairn_rd *r, uint64_t *v);
CAIRN_INTERNAL int cairn__rd_bytes(cairn_rd *r, void *out, size_t n);
/** Borrow n bytes in place. */
CAIRN_INTERNAL int cairn__rd_view(cairn_rd *r, size_t n, const uint8_t **out);

/** Growable writer with a hard maximum size. */
typedef struct cairn_wr {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t max;
    int failed; /**< sticky: CAIRN_ENOMEM or CAIRN_EINVAL (over max) */
} cairn_wr;

CAIRN_INTERNAL void cairn__wr_init(cairn_wr *w, size_t max);
CAIRN_INTERNAL void cairn__wr_free(cairn_wr *w);
/** Make room for about @p n more bytes up front (clamped to the maximum);
 *  a hint that saves regrowing, never a failure by itself except
 *  CAIRN_ENOMEM. */
CAIRN_INTERNAL void cairn__wr_reserve(cairn_wr *w, size_t n);
/** cairn__wr_bytes() when the buffer must grow first (or has failed). */
CAIRN_INTERNAL void cairn__wr_put_slow(cairn_wr *w, const void *p, size_t n);

/** Append @p n bytes (sticky failure past the maximum or on ENOMEM). */
static inline void cairn__wr_bytes(cairn_wr *w, const void *p, size_t n)
{
    /* len <= cap and len <= max hold after every successful write. */
    if (w->failed == 0 && n <= w->cap - w->len && n <= w->max - w->len) {
        if (n > 0) {
            memcpy(w->p + w->len, p, n);
        }
        w->len += n;
        return;
    }
    cairn__wr_put_slow(w, p, n);
}
static inline void cairn__wr_u8(cairn_wr *w, uint8_t v)
{
    cairn__wr_bytes(w, &v, 1);
}
static inline void cairn__wr_u16(cairn_wr *w, uint16_t v)
{
    uint8_t b[2];
    cairn__store16_be(b, v);
    cairn__wr_bytes(w, b, 2);
}
static inline void cairn__wr_u32(cairn_wr *w, uint32_t v)
{
    uint8_t b[4];
    cairn__store32_be(b, v);
    cairn__wr_bytes(w, b, 4);
}
static inline void cairn__wr_u64(cairn_wr *w, uint64_t v)
{
    uint8_t b[8];
    cairn__store64_be(b, v);
    cairn__wr_bytes(w, b, 8);
}
/** 0 when every write fitted, else the cairn_err of the first failure. */
CAIRN_INTERNAL cairn_err cairn__wr_status(const cairn_wr *w);
/** End an encoding: when every write fitted, hand the bytes written to the
 *  caller (*@p out, @p *out_len; the caller frees *@p out; NULL when
 *  nothing was written) and return CAIRN_OK; else free them, set *@p out
 *  to NULL and *@p out_len to 0, and return cairn__wr_status(). */
CAIRN_INTERNAL cairn_err cairn__wr_take(cairn_wr *w, uint8_t **out,
                                        size_t *out_len);

#endif
