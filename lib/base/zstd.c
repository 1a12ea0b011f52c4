/*
 * zstd.c - the one file that includes zstd.h: bounded decompression of
 * bundles and a streaming compressor for export --zstd.
 */
#include "base/zstd.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

int cairn__zstd_is_frame(const uint8_t *p, size_t len)
{
    return len >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f &&
           p[3] == 0xfd;
}

/* Grow @p buf (capacity *cap) towards @p max + 1; 0 or -1 (no room). */
static int grow(uint8_t **buf, size_t *cap, size_t max)
{
    size_t want = *cap < 65536 ? 65536 : *cap * 2;
    if (*cap >= max + 1) {
        return -1;
    }
    if (want > max + 1 || want < *cap) {
        want = max + 1;
    }
    uint8_t *n = realloc(*buf, want);
    if (n == NULL) {
        return -2;
    }
    *buf = n;
    *cap = want;
    return 0;
}

cairn_err cairn__zstd_decompress(const uint8_t *in, size_t len, size_t max,
                                 uint8_t **out, size_t *out_len, char *detail,
                                 size_t detail_len)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    cairn_err err = CAIRN_OK;
    *out = NULL;
    *out_len = 0;
    if (max == SIZE_MAX) {
        return CAIRN_EINVAL;
    }
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (d == NULL) {
        return CAIRN_ENOMEM;
    }
    ZSTD_inBuffer ib = {in, len, 0};
    ZSTD_outBuffer ob = {NULL, 0, 0};
    size_t ret = 1;
    while (err == CAIRN_OK && (ib.pos < ib.size || ret != 0)) {
        if (ob.pos == cap) {
            int g = grow(&buf, &cap, max);
            if (g != 0) {
                err = g == -2 ? CAIRN_ENOMEM : CAIRN_EINVAL;
                cairn__fmt(detail, detail_len,
                           "zstd: decompresses to more than %zu bytes", max);
                break;
            }
            ob.dst = buf;
            ob.size = cap;
        }
        size_t before_in = ib.pos, before_out = ob.pos;
        ret = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(ret)) {
            err = CAIRN_ECORRUPT;
            cairn__fmt(detail, detail_len, "offset %zu: zstd: %s", ib.pos,
                       ZSTD_getErrorName(ret));
        } else if (ret != 0 && ib.pos == ib.size && ob.pos < ob.size &&
                   ib.pos == before_in && ob.pos == before_out) {
            err = CAIRN_ECORRUPT;
            cairn__fmt(detail, detail_len,
                       "offset %zu: zstd: the frame is cut short", ib.pos);
        }
    }
    ZSTD_freeDCtx(d);
    if (err == CAIRN_OK && ob.pos > max) {
        err = CAIRN_EINVAL;
        cairn__fmt(detail, detail_len,
                   "zstd: decompresses to more than %zu bytes", max);
    }
    if (err != CAIRN_OK) {
        free(buf);
        return err;
    }
    *out = buf;
    *out_len = ob.pos;
    return CAIRN_OK;
}

struct cairn__zc {
    ZSTD_CCtx *c;
    uint8_t out[65536];
};

cairn_err cairn__zc_new(int level, cairn__zc **out)
{
    *out = NULL;
    cairn__zc *z = calloc(1, sizeof(*z));
    if (z == NULL || (z->c = ZSTD_createCCtx()) == NULL) {
        free(z);
        return CAIRN_ENOMEM;
    }
    if (ZSTD_isError(
            ZSTD_CCtx_setParameter(z->c, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->c, ZSTD_c_checksumFlag, 1))) {
        cairn__zc_free(z);
        return CAIRN_EINVAL;
    }
    *out = z;
    return CAIRN_OK;
}

static cairn_err pump(cairn__zc *z, ZSTD_inBuffer *ib, ZSTD_EndDirective mode,
                      cairn__zc_sink sink, void *ctx)
{
    size_t left;
    do {
        ZSTD_outBuffer ob = {z->out, sizeof(z->out), 0};
        left = ZSTD_compressStream2(z->c, &ob, ib, mode);
        if (ZSTD_isError(left)) {
            return CAIRN_EINVAL;
        }
        if (ob.pos > 0 && sink(ctx, z->out, ob.pos) != 0) {
            return CAIRN_EIO;
        }
    } while (mode == ZSTD_e_end ? left != 0 : ib->pos < ib->size);
    return CAIRN_OK;
}

cairn_err cairn__zc_put(cairn__zc *z, const void *p, size_t n,
                        cairn__zc_sink sink, void *ctx)
{
    ZSTD_inBuffer ib = {p, n, 0};
    return pump(z, &ib, ZSTD_e_continue, sink, ctx);
}

cairn_err cairn__zc_end(cairn__zc *z, cairn__zc_sink sink, void *ctx)
{
    ZSTD_inBuffer ib = {NULL, 0, 0};
    return pump(z, &ib, ZSTD_e_end, sink, ctx);
}

void cairn__zc_free(cairn__zc *z)
{
    if (z != NULL) {
        ZSTD_freeCCtx(z->c);
        free(z);
    }
}
