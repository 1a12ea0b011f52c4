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
 * A journal is only made in a directory that is empty or holds nothing but
 * cairn's own files (a directory with something else in it is not ours to
 * take).  Everything is done relative to directory descriptors, without
 * following symbolic links; LMDB, which opens by path, is given
 * /proc/thread-self/fd/N of the checked directory.
 *
 * LMDB maps lock.mdb and writes its reader table through that mapping; on a
 * full file system a page of a sparse lock file cannot be allocated and the
 * process dies of SIGBUS.  The lock file is therefore preallocated (blocks
 * reserved with posix_fallocate) before LMDB opens it.
 */
#include "store/store.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "base/jdir.h"
#include "base/sys.h"

#include <dirent.h>
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
#define TMP_PREFIX ".cairn-new-"

static cairn_err fail_errno(char *detail, size_t detail_len, const char *what,
                            const char *path)
{
    int e = errno;
    cairn__fmt(detail, detail_len, "%s %s: %s", what, path, strerror(e));
    return e == ENOMEM ? CAIRN_ENOMEM : CAIRN_EIO;
}

void cairn__fd_path(int fd, const char *fallback, char *out, size_t cap)
{
    struct stat st;
    /* thread-self: /proc/self is unusable once the main thread exited */
    cairn__fmt(out, cap, "/proc/thread-self/fd/%d", fd);
    if (stat(out, &st) != 0) {
        cairn__fmt(out, cap, "%s", fallback); /* no /proc: by name */
    }
}

cairn_err cairn__prealloc_lock_file(int dfd, const char *dir, mode_t mode,
                                    struct stat *st, char *detail,
                                    size_t detail_len)
{
    int fd = -1;
    cairn_err err =
        cairn__jdir_openat(dfd, dir, "lock.mdb", O_RDWR | O_CREAT, mode, 0, &fd,
                           st, NULL, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    if (st->st_size < LOCK_FILE_BYTES) {
        int rc = posix_fallocate(fd, 0, LOCK_FILE_BYTES);
        if (rc != 0) {
            char path[4200];
            cairn__fmt(path, sizeof(path), "%s/lock.mdb", dir);
            errno = rc;
            err = fail_errno(detail, detail_len, "reserving space for", path);
        }
    }
    /* Closing drops this process's fcntl locks on the file: only ever
     * done before LMDB opens it. */
    close(fd);
    return err;
}

static cairn_err fsync_at(int dfd, const char *name, const char *what,
                          char *detail, size_t detail_len)
{
    int fd = name == NULL
                 ? dfd
                 : openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return fail_errno(detail, detail_len, "open", what);
    }
    cairn_err err = CAIRN_OK;
    if (fsync(fd) != 0) {
        err = fail_errno(detail, detail_len, "fsync", what);
    }
    if (fd != dfd) {
        close(fd);
    }
    return err;
}

static cairn_err write_meta(cairn_txn *txn, void *ctx)
{
    (void)ctx;
    uint8_t id[CAIRN_JOURNAL_ID_BYTES], fmt[4], created[8];
    cairn__random(id, sizeof(id));
    cairn__store32_be(fmt, CAIRN_JOURNAL_FORMAT);
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

/* Build a complete, durable, empty journal in the directory open as
 * @p tfd (@p tmp names it). */
static cairn_err build(int tfd, const char *tmp, mode_t mode, uint64_t map_size,
                       char *detail, size_t detail_len)
{
    cairn_store *store = NULL;
    struct stat st;
    char path[64];
    cairn_err err =
        cairn__prealloc_lock_file(tfd, tmp, mode, &st, detail, detail_len);
    cairn__fd_path(tfd, tmp, path, sizeof(path));
    if (err == CAIRN_OK) {
        err = cairn__store_open(path, 0, 1, mode, map_size, &store, detail,
                                detail_len);
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

/* @p exclusive: an existing DIR/data.mdb is CAIRN_EEXIST (else another
 * creator won the race, and its empty journal is as good as ours). */
static cairn_err publish(int dfd, const char *dir, int tfd, const char *tmp,
                         int exclusive, char *detail, size_t detail_len)
{
    cairn_err err = fsync_at(tfd, "data.mdb", tmp, detail, detail_len);
    if (err == CAIRN_OK) {
        err = fsync_at(tfd, NULL, tmp, detail, detail_len);
    }
    if (err == CAIRN_OK && linkat(tfd, "data.mdb", dfd, "data.mdb", 0) != 0) {
        if (errno != EEXIST) {
            err = fail_errno(detail, detail_len, "link data.mdb in", dir);
        } else if (exclusive) {
            cairn__fmt(detail, detail_len,
                       "%s/data.mdb: a journal appeared there meanwhile", dir);
            err = CAIRN_EEXIST;
        }
    }
    if (err == CAIRN_OK) {
        err = fsync_at(dfd, NULL, dir, detail, detail_len);
    }
    return err;
}

/* Is every entry of the directory one cairn makes?  Else CAIRN_ECORRUPT
 * naming the first other one. */
static cairn_err only_ours(int dfd, const char *dir, char *detail,
                           size_t detail_len)
{
    static const char *const ours[] = {
        ".", "..", "lock.mdb", "locks", "commit.shm", "tmp", "writers.lock"};
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return fail_errno(detail, detail_len, "read", dir);
    }
    cairn_err err = CAIRN_OK;
    const struct dirent *e;
    while (err == CAIRN_OK && (e = readdir(d)) != NULL) {
        int known = strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 ||
                    strncmp(e->d_name, CAIRN__COMPACT_TMP_PREFIX,
                            strlen(CAIRN__COMPACT_TMP_PREFIX)) == 0;
        for (size_t i = 0; !known && i < CAIRN_ARRAY_LEN(ours); i++) {
            known = strcmp(e->d_name, ours[i]) == 0;
        }
        if (!known) {
            char name[256];
            cairn__escape_text(e->d_name, strlen(e->d_name), name,
                               sizeof(name));
            cairn__fmt(detail, detail_len,
                       "%s: not a cairn journal (no data.mdb) and not empty "
                       "(\"%s\"); a journal is only created in an empty "
                       "directory",
                       dir, name);
            err = CAIRN_ECORRUPT;
        }
    }
    closedir(d); /* closes the dup, not dfd */
    return err;
}

/* A fresh private directory TMP_PREFIX<random> in @p dfd. */
static cairn_err make_tmp(int dfd, const char *dir, char *name, size_t cap,
                          int *tfd, char *detail, size_t detail_len)
{
    for (int i = 0; i < 100; i++) {
        uint8_t r[6];
        char hex[13];
        cairn__random(r, sizeof(r));
        cairn__hex(r, sizeof(r), hex);
        cairn__fmt(name, cap, "%s%s", TMP_PREFIX, hex);
        if (mkdirat(dfd, name, 0700) == 0) {
            return cairn__jdir_openat(dfd, dir, name, O_RDONLY, 0, 1, tfd, NULL,
                                      NULL, detail, detail_len);
        }
        if (errno != EEXIST) {
            return fail_errno(detail, detail_len, "mkdir in", dir);
        }
    }
    cairn__fmt(detail, detail_len, "%s: no free temporary name", dir);
    return CAIRN_EIO;
}

/* The files a journal directory may hold while it is being built (a
 * journal opened there for writing may have made the lock file, the
 * shared commit queue, the writers' lock and the run lock directory),
 * removed after publishing.  Keep in step with only_ours(). */
static void remove_tmp(int dfd, const char *name, int tfd)
{
    static const char *const files[] = {"data.mdb", "lock.mdb", "commit.shm",
                                        "writers.lock"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(files); i++) {
        (void)unlinkat(tfd, files[i], 0);
    }
    (void)unlinkat(tfd, "locks", AT_REMOVEDIR);
    (void)unlinkat(tfd, "tmp", AT_REMOVEDIR);
    close(tfd);
    (void)unlinkat(dfd, name, AT_REMOVEDIR);
}

cairn_err cairn__journal_build(int dfd, const char *dir, int exclusive,
                               cairn_fill_fn fill, void *ctx, char *detail,
                               size_t detail_len)
{
    char name[64], tmp[4200];
    int tfd = -1;
    cairn_err err = only_ours(dfd, dir, detail, detail_len);
    if (err == CAIRN_OK) {
        err = make_tmp(dfd, dir, name, sizeof(name), &tfd, detail, detail_len);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__fmt(tmp, sizeof(tmp), "%s/%s", dir, name);
    err = fill(ctx, tfd, tmp, detail, detail_len);
    if (err == CAIRN_OK) {
        err = publish(dfd, dir, tfd, tmp, exclusive, detail, detail_len);
    }
    remove_tmp(dfd, name, tfd);
    return err;
}

typedef struct empty_ctx {
    mode_t mode;
    uint64_t map_size;
} empty_ctx;

static cairn_err build_empty(void *ctx, int tfd, const char *tmp, char *detail,
                             size_t detail_len)
{
    const empty_ctx *e = ctx;
    return build(tfd, tmp, e->mode, e->map_size, detail, detail_len);
}

cairn_err cairn__journal_create(int dfd, const char *dir, mode_t file_mode,
                                uint64_t map_size, char *detail,
                                size_t detail_len)
{
    empty_ctx e = {file_mode, map_size};
    return cairn__journal_build(dfd, dir, 0, build_empty, &e, detail,
                                detail_len);
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
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return fail_errno(detail, detail_len, "open", parent);
    }
    cairn_err err = fsync_at(fd, NULL, parent, detail, detail_len);
    close(fd);
    return err;
}

cairn_err cairn__journal_mkdir(const char *dir, mode_t mode, char *detail,
                               size_t detail_len)
{
    if (mkdir(dir, mode) == 0) {
        return fsync_parent(dir, detail, detail_len);
    }
    if (errno != EEXIST) {
        return fail_errno(detail, detail_len, "mkdir", dir);
    }
    return CAIRN_OK;
}
