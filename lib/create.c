/*
 * create.c - making a journal directory safely.
 *
 * A new journal is built in a private temporary directory inside the
 * target, made durable there, and only then linked into place as
 * DIR/data.mdb (link(2) never replaces an existing file, so two racing
 * creators cannot overwrite each other).  A crash or a full disk at any
 * instant therefore leaves either no journal or a complete, empty one, never
 * a torn data.mdb that every later open would refuse.
 *
 * LMDB maps lock.mdb and writes its reader table through that mapping; on a
 * full file system a page of a sparse lock file cannot be allocated and the
 * process dies of SIGBUS.  The lock file is therefore preallocated (blocks
 * reserved with posix_fallocate) before LMDB opens it.
 */
#include "journal.h"

#include "bytes.h"
#include "crypto.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* LMDB sizes the reader table from the file when it is large enough:
 * 32 KiB holds about 500 reader slots (LMDB's default needs ~8 KiB). */
#define LOCK_FILE_BYTES 32768

static cairn_err fail_errno(char *detail, size_t detail_len, const char *what,
                            const char *path)
{
    int e = errno;
    cairn__fmt(detail, detail_len, "%s %s: %s", what, path, strerror(e));
    return e == ENOMEM ? CAIRN_ENOMEM : CAIRN_EIO;
}

cairn_err cairn__prealloc_lock_file(const char *dir, char *detail,
                                    size_t detail_len)
{
    char path[4096];
    struct stat st;
    int n = snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        cairn__fmt(detail, detail_len, "journal path too long");
        return CAIRN_EINVAL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return fail_errno(detail, detail_len, "open", path);
    }
    cairn_err err = CAIRN_OK;
    if (fstat(fd, &st) != 0) {
        err = fail_errno(detail, detail_len, "fstat", path);
    } else if (st.st_size < LOCK_FILE_BYTES) {
        int rc = posix_fallocate(fd, 0, LOCK_FILE_BYTES);
        if (rc != 0) {
            errno = rc;
            err = fail_errno(detail, detail_len, "reserving space for", path);
        }
    }
    close(fd);
    return err;
}

static cairn_err fsync_path(const char *path, int directory, char *detail,
                            size_t detail_len)
{
    int fd =
        open(path, (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        return fail_errno(detail, detail_len, "open", path);
    }
    cairn_err err = CAIRN_OK;
    if (fsync(fd) != 0) {
        err = fail_errno(detail, detail_len, "fsync", path);
    }
    close(fd);
    return err;
}

static cairn_err write_meta(cairn_txn *txn, void *ctx)
{
    (void)ctx;
    uint8_t id[CAIRN_JOURNAL_ID_BYTES], fmt[4], created[8];
    cairn__random(id, sizeof(id));
    cairn__store32_be(fmt, CAIRN_FORMAT_VERSION);
    cairn__store64_be(created, cairn__wall_ns());
    cairn_err err = cairn__txn_put(txn, CAIRN_DBI_META, "journal_id", 10, id,
                                   sizeof(id), CAIRN_PUT_NOOVERWRITE);
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_META, "format", 6, fmt, sizeof(fmt),
                             0);
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_META, "created_ns", 10, created,
                             sizeof(created), 0);
    }
    return err;
}

/* Build a complete, durable, empty journal in @p tmp. */
static cairn_err build(const char *tmp, char *detail, size_t detail_len)
{
    cairn_store *store = NULL;
    cairn_err err = cairn__prealloc_lock_file(tmp, detail, detail_len);
    if (err == CAIRN_OK) {
        err = cairn__store_open(tmp, 0, 1, &store, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err = cairn__store_write(store, write_meta, NULL);
        if (err != CAIRN_OK) {
            cairn__fmt(detail, detail_len, "%s: %s", tmp,
                       cairn__store_detail(store));
        }
    }
    cairn__store_close(store);
    return err;
}

static void remove_tmp(const char *tmp)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/data.mdb", tmp);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", tmp);
    unlink(path);
    rmdir(tmp);
}

static cairn_err publish(const char *dir, const char *tmp, char *detail,
                         size_t detail_len)
{
    char from[4200], to[4200];
    snprintf(from, sizeof(from), "%s/data.mdb", tmp);
    snprintf(to, sizeof(to), "%s/data.mdb", dir);
    cairn_err err = fsync_path(from, 0, detail, detail_len);
    if (err == CAIRN_OK) {
        err = fsync_path(tmp, 1, detail, detail_len);
    }
    if (err == CAIRN_OK && link(from, to) != 0 && errno != EEXIST) {
        err = fail_errno(detail, detail_len, "link", to);
    }
    if (err == CAIRN_OK) {
        err = fsync_path(dir, 1, detail, detail_len);
    }
    return err;
}

/* Make a new DIR's own directory entry durable: fsync its parent. */
static cairn_err fsync_parent(const char *dir, char *detail, size_t detail_len)
{
    char parent[4096];
    int n = snprintf(parent, sizeof(parent), "%s", dir);
    if (n < 0 || (size_t)n >= sizeof(parent)) {
        return CAIRN_EINVAL;
    }
    while (n > 1 && parent[n - 1] == '/') {
        parent[--n] = '\0';
    }
    char *slash = strrchr(parent, '/');
    if (slash == NULL) {
        snprintf(parent, sizeof(parent), ".");
    } else if (slash == parent) {
        parent[1] = '\0';
    } else {
        *slash = '\0';
    }
    return fsync_path(parent, 1, detail, detail_len);
}

cairn_err cairn__journal_create(const char *dir, char *detail,
                                size_t detail_len)
{
    char tmp[4096];
    struct stat st;
    if (mkdir(dir, 0755) == 0) {
        cairn_err perr = fsync_parent(dir, detail, detail_len);
        if (perr != CAIRN_OK) {
            return perr;
        }
    } else if (errno != EEXIST) {
        return fail_errno(detail, detail_len, "mkdir", dir);
    }
    int n = snprintf(tmp, sizeof(tmp), "%s/.cairn-new-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        cairn__fmt(detail, detail_len, "journal path too long");
        return CAIRN_EINVAL;
    }
    if (mkdtemp(tmp) == NULL) {
        return fail_errno(detail, detail_len, "mkdtemp", tmp);
    }
    cairn_err err = build(tmp, detail, detail_len);
    if (err == CAIRN_OK) {
        err = publish(dir, tmp, detail, detail_len);
    }
    remove_tmp(tmp);
    if (err == CAIRN_OK) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/data.mdb", dir);
        if (stat(path, &st) != 0) {
            err = fail_errno(detail, detail_len, "stat", path);
        }
    }
    return err;
}
