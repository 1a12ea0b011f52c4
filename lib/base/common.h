/*
 * common.h - internal helpers shared by every libcairn module.
 * Not installed.  Internal symbols use the cairn__ prefix and have hidden
 * visibility.
 */
#ifndef CAIRN_COMMON_H
#define CAIRN_COMMON_H

#include "cairn.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define CAIRN_INTERNAL __attribute__((visibility("hidden")))
#define CAIRN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/** Longest host name stored in a record (bytes). */
#define CAIRN_MAX_HOST 255

/** Format into a caller buffer (may be NULL/0); always NUL-terminates. */
CAIRN_INTERNAL void cairn__fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** cairn__fmt() into a detail buffer, returning @p err: the failure
 *  detail travels in the caller's buffer, as a parameter. */
CAIRN_INTERNAL cairn_err cairn__fail(char *detail, size_t detail_len,
                                     cairn_err err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Empty a detail buffer (NULL or zero-sized: nothing), without the cost
 *  of a format call on success paths. */
static inline void cairn__clear(char *buf, size_t len)
{
    if (buf != NULL && len > 0) {
        buf[0] = '\0';
    }
}

CAIRN_INTERNAL void cairn__vfmt(char *buf, size_t len, const char *fmt,
                                va_list ap)
    __attribute__((format(printf, 3, 0)));

/** Copy a NUL-terminated string into dst[cap]; CAIRN_EINVAL if too long. */
CAIRN_INTERNAL cairn_err cairn__strlcpy(char *dst, const char *src, size_t cap);

/** Overflow-checked size arithmetic: 0 on success, -1 on overflow. */
static inline int cairn__add_size(size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b) {
        return -1;
    }
    *out = a + b;
    return 0;
}
static inline int cairn__mul_size(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b) {
        return -1;
    }
    *out = a * b;
    return 0;
}

/** Lowercase hex of n bytes into out (2n+1 bytes). */
CAIRN_INTERNAL void cairn__hex(const uint8_t *in, size_t n, char *out);
/** Parse exactly 2n hex digits; 0 on success, -1 otherwise. */
CAIRN_INTERNAL int cairn__unhex(const char *in, uint8_t *out, size_t n);

/** Read a whole file of at most max bytes (adds a NUL after the bytes):
 *  the one reader for every file cairn reads whole (keys, plans, bundles,
 *  signatures, lock and /proc files).  The path is opened with O_NONBLOCK
 *  (a FIFO never blocks the open) and must be a regular file (fstat);
 *  its size is checked against max before anything is read, and the read
 *  stops past max when the file grows or reports no size (/proc).
 *  @return CAIRN_OK; CAIRN_EIO (cannot open or read, or not a regular
 *          file: detail names the path and why); CAIRN_EINVAL when larger
 *          than max (detail names the limit); CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__read_file(const char *path, size_t max,
                                          char **out, size_t *out_len,
                                          char *detail, size_t detail_len);

#endif
