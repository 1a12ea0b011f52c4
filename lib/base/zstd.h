/*
 * zstd.h - zstd compression for bundles (the one file that includes
 * zstd.h is lib/base/zstd.c): frame detection, bounded decompression of
 * a whole buffer, and a streaming compressor that hands its output to a
 * sink.
 */
#ifndef CAIRN_ZSTD_H
#define CAIRN_ZSTD_H

#include "base/common.h"

#include <stddef.h>
#include <stdint.h>

/** 1 when @p p starts with the zstd frame magic 28 B5 2F FD. */
CAIRN_INTERNAL int cairn__zstd_is_frame(const uint8_t *p, size_t len);

/**
 * Decompress all of @p in (one or more zstd frames) into a malloc'd
 * buffer of at most @p max bytes; never allocates more than @p max + 1
 * bytes of output, whatever the frame header claims.
 * @return CAIRN_OK; CAIRN_ECORRUPT (not zstd, corrupt or cut short: detail
 *         names the offset in the input and zstd's reason); CAIRN_EINVAL
 *         (the output would exceed @p max); CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__zstd_decompress(const uint8_t *in, size_t len,
                                                size_t max, uint8_t **out,
                                                size_t *out_len, char *detail,
                                                size_t detail_len);

/** Receives compressed output; nonzero stops (returned as CAIRN_EIO). */
typedef int (*cairn__zc_sink)(void *ctx, const uint8_t *p, size_t n);

typedef struct cairn__zc cairn__zc;

/** A compressor at @p level (1..19).  @return CAIRN_OK; CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__zc_new(int level, cairn__zc **out);
/** Compress @p n bytes, output to @p sink.  @return CAIRN_OK; CAIRN_EIO
 *  (the sink stopped); CAIRN_ECRYPTO is never returned; CAIRN_EINVAL (a
 *  zstd error). */
CAIRN_INTERNAL cairn_err cairn__zc_put(cairn__zc *z, const void *p, size_t n,
                                       cairn__zc_sink sink, void *ctx);
/** End the frame, flushing everything to @p sink. */
CAIRN_INTERNAL cairn_err cairn__zc_end(cairn__zc *z, cairn__zc_sink sink,
                                       void *ctx);
CAIRN_INTERNAL void cairn__zc_free(cairn__zc *z);

#endif
