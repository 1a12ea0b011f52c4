/*
 * common.c - small internal helpers: formatting, hex, whole-file reads.
 */
#include "base/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cairn__vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
    if (buf == NULL || len == 0) {
        return;
    }
    int n = vsnprintf(buf, len, fmt, ap);
    if (n < 0) {
        buf[0] = '\0';
    }
}

void cairn__fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(buf, len, fmt, ap);
    va_end(ap);
}

cairn_err cairn__fail(char *detail, size_t detail_len, cairn_err err,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(detail, detail_len, fmt, ap);
    va_end(ap);
    return err;
}

cairn_err cairn__strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);
    if (n >= cap) {
        return CAIRN_EINVAL;
    }
    memcpy(dst, src, n + 1);
    return CAIRN_OK;
}

void cairn__hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int cairn__unhex(const char *in, uint8_t *out, size_t n)
{
    if (strlen(in) != 2 * n) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(in[2 * i]);
        int lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* What a file that is not a regular file is, for messages. */
static const char *file_type_name(mode_t mode)
{
    if (S_ISDIR(mode)) {
        return "a directory";
    }
    if (S_ISFIFO(mode)) {
        return "a FIFO";
    }
    if (S_ISCHR(mode)) {
        return "a character device";
    }
    if (S_ISBLK(mode)) {
        return "a block device";
    }
    if (S_ISSOCK(mode)) {
        return "a socket";
    }
    return "not a regular file";
}

/* Read until end of file or past @p max; the buffer grows from @p hint. */
static cairn_err read_bounded(int fd, const char *path, size_t max, size_t hint,
                              char **out, size_t *out_len, char *detail,
                              size_t detail_len)
{
    size_t cap = hint < 4096 ? 4096 : hint, len = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        return CAIRN_ENOMEM;
    }
    for (;;) {
        if (len == cap) {
            if (cap > max) {
                break;
            }
            size_t ncap = cap > max / 2 ? max + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (nb == NULL) {
                free(buf);
                return CAIRN_ENOMEM;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            cairn__fmt(detail, detail_len, "%s: %s", path, strerror(errno));
            free(buf);
            return CAIRN_EIO;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    if (len > max) {
        cairn__fmt(detail, detail_len, "%s: larger than %zu bytes", path, max);
        free(buf);
        return CAIRN_EINVAL;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return CAIRN_OK;
}

cairn_err cairn__read_file(const char *path, size_t max, char **out,
                           size_t *out_len, char *detail, size_t detail_len)
{
    struct stat st;
    *out = NULL;
    *out_len = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        cairn__fmt(detail, detail_len, "%s: %s", path, strerror(errno));
        return CAIRN_EIO;
    }
    if (fstat(fd, &st) != 0) {
        cairn__fmt(detail, detail_len, "%s: %s", path, strerror(errno));
        close(fd);
        return CAIRN_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        cairn__fmt(detail, detail_len, "%s: %s, not a regular file", path,
                   file_type_name(st.st_mode));
        close(fd);
        return CAIRN_EIO;
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > (uintmax_t)max) {
        cairn__fmt(detail, detail_len, "%s: larger than %zu bytes", path, max);
        close(fd);
        return CAIRN_EINVAL;
    }
    /* Files in /proc say 0 bytes: the reader still stops past max. */
    cairn_err err = read_bounded(fd, path, max, (size_t)st.st_size + 1, out,
                                 out_len, detail, detail_len);
    close(fd);
    return err;
}
