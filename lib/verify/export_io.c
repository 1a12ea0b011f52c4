/*
 * export_io.c - durable creation of export files: a hashing buffered
 * writer, exclusive temporary files, and publishing them under their
 * final name without ever replacing an existing file.
 */
#include "verify/verify.h"

#include "base/zstd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cairn__bout_init(cairn__bout *o, int fd, uint8_t *buf, size_t cap)
{
    memset(o, 0, sizeof(*o));
    o->fd = fd;
    o->buf = buf;
    o->cap = cap;
    cairn__blake2b512_init(&o->hash);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return w < 0 ? errno : EIO;
        }
        p += (size_t)w;
        n -= (size_t)w;
    }
    return 0;
}

static void flush(cairn__bout *o)
{
    if (o->err == 0 && o->n > 0) {
        o->err = write_all(o->fd, o->buf, o->n);
    }
    o->n = 0;
}

/* Bytes for the file: hashed, buffered, written. */
static void file_put(cairn__bout *o, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (o->err != 0) {
        return;
    }
    if (n > CAIRN__BUNDLE_MAX_BYTES - o->total) {
        o->err = -1;
        return;
    }
    o->total += n;
    cairn__blake2b512_update(&o->hash, b, n);
    while (n > 0) {
        size_t room = o->cap - o->n, k = n < room ? n : room;
        memcpy(o->buf + o->n, b, k);
        o->n += k;
        b += k;
        n -= k;
        if (o->n == o->cap) {
            flush(o);
        }
    }
}

static int zc_sink(void *ctx, const uint8_t *p, size_t n)
{
    cairn__bout *o = ctx;
    file_put(o, p, n);
    return o->err != 0;
}

cairn_err cairn__bout_zstd(cairn__bout *o)
{
    return cairn__zc_new(CAIRN__BUNDLE_ZSTD_LEVEL, &o->zc);
}

void cairn__bout_put(cairn__bout *o, const void *p, size_t n)
{
    if (o->err != 0) {
        return;
    }
    if (n > CAIRN__BUNDLE_MAX_BYTES - o->raw) {
        o->err = -1;
        return;
    }
    o->raw += n;
    if (o->zc == NULL) {
        file_put(o, p, n);
    } else if (cairn__zc_put(o->zc, p, n, zc_sink, o) != CAIRN_OK &&
               o->err == 0) {
        o->err = EIO;
    }
}

cairn_err cairn__bout_finish(cairn__bout *o, uint8_t hash[64], char *detail,
                             size_t detail_len)
{
    if (o->zc != NULL) {
        if (o->err == 0 && cairn__zc_end(o->zc, zc_sink, o) != CAIRN_OK &&
            o->err == 0) {
            o->err = EIO;
        }
        cairn__zc_free(o->zc);
        o->zc = NULL;
    }
    flush(o);
    if (o->err == 0 && fsync(o->fd) != 0) {
        o->err = errno;
    }
    if (close(o->fd) != 0 && o->err == 0) {
        o->err = errno;
    }
    o->fd = -1;
    cairn__blake2b512_final(&o->hash, hash);
    if (o->err == -1) {
        cairn__fmt(detail, detail_len, "the bundle would exceed 1 GiB");
        return CAIRN_EINVAL;
    }
    if (o->err != 0) {
        cairn__fmt(detail, detail_len, "writing: %s", strerror(o->err));
        return CAIRN_EIO;
    }
    return CAIRN_OK;
}

cairn_err cairn__temp_create(const char *path, char **tmp_out, int *fd_out,
                             char *detail, size_t detail_len)
{
    uint8_t rnd[8];
    char hex[17];
    size_t n = strlen(path) + sizeof(".tmp-") + sizeof(hex);
    *tmp_out = NULL;
    *fd_out = -1;
    char *tmp = malloc(n);
    if (tmp == NULL) {
        return CAIRN_ENOMEM;
    }
    cairn__random(rnd, sizeof(rnd));
    cairn__hex(rnd, sizeof(rnd), hex);
    snprintf(tmp, n, "%s.tmp-%s", path, hex);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        cairn__fmt(detail, detail_len, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return CAIRN_EIO;
    }
    *tmp_out = tmp;
    *fd_out = fd;
    return CAIRN_OK;
}

/* fsync the directory holding @p path. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL
                    ? strdup(".")
                    : strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (dir == NULL) {
        return ENOMEM;
    }
    int rc = 0, fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        rc = errno;
    }
    if (fd >= 0) {
        close(fd);
    }
    free(dir);
    return rc;
}

cairn_err cairn__temp_publish(const char *tmp, const char *path, char *detail,
                              size_t detail_len)
{
    int rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
        /* No RENAME_NOREPLACE here: link(2) also refuses to replace. */
        rc = link(tmp, path);
        if (rc == 0) {
            (void)unlink(tmp);
        }
    }
    if (rc != 0) {
        int e = errno;
        cairn__fmt(detail, detail_len, "%s: %s", path, strerror(e));
        (void)unlink(tmp);
        return e == EEXIST ? CAIRN_EEXIST : CAIRN_EIO;
    }
    rc = sync_dir(path);
    if (rc != 0) {
        cairn__fmt(detail, detail_len, "%s: syncing its directory: %s", path,
                   strerror(rc));
        return CAIRN_EIO;
    }
    return CAIRN_OK;
}

cairn_err cairn__file_write_new(const char *path, const void *data, size_t len,
                                char *detail, size_t detail_len)
{
    char *tmp = NULL;
    int fd = -1;
    uint8_t buf[4096], hash[64];
    cairn__bout o;
    cairn_err err = cairn__temp_create(path, &tmp, &fd, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__bout_init(&o, fd, buf, sizeof(buf));
    cairn__bout_put(&o, data, len);
    err = cairn__bout_finish(&o, hash, detail, detail_len);
    if (err == CAIRN_OK) {
        err = cairn__temp_publish(tmp, path, detail, detail_len);
    } else {
        (void)unlink(tmp);
    }
    free(tmp);
    return err;
}
