/*
 * witness_store.c - the witness's own LMDB environment, opened the way a
 * journal is (docs/SECURITY.md section 6): the directory and its files
 * are checked for type, owner and mode relative to a directory
 * descriptor, never through a symbolic link, and LMDB is given the
 * checked directory itself.
 */
#include "witness/witness.h"

#include "base/jdir.h"
#include "base/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Refuse anything others may write. */
static cairn_err tight(const struct stat *st, int is_dir, const char *dir,
                       const char *name, char *detail, size_t detail_len)
{
    char why[512] = "";
    if (cairn__jdir_loose(st, is_dir, dir, name, why, sizeof(why)) == 0) {
        return CAIRN_OK;
    }
    return cairn__fail(detail, detail_len, CAIRN_EUNSAFE,
                       "%s; a witness store must be writable by its owner "
                       "only",
                       why);
}

/* data.mdb: checked when present, else created empty (LMDB initialises
 * an empty file); its identity in *st. */
static cairn_err check_data(int dfd, const char *dir, struct stat *st,
                            char *detail, size_t detail_len)
{
    int exists = 0;
    cairn_err err = cairn__jdir_stat(dfd, dir, "data.mdb", 0, st, &exists,
                                     detail, detail_len);
    if (err == CAIRN_OK && !exists) {
        int fd = -1;
        err =
            cairn__jdir_openat(dfd, dir, "data.mdb", O_RDWR | O_CREAT | O_EXCL,
                               0600, 0, &fd, st, NULL, detail, detail_len);
        if (fd >= 0) {
            close(fd);
        }
    }
    if (err == CAIRN_OK) {
        err = tight(st, 0, dir, "data.mdb", detail, detail_len);
    }
    return err;
}

static cairn_err open_checked(int dfd, const char *dir, cairn_store **store,
                              char *detail, size_t detail_len)
{
    struct stat data, lock;
    cairn_err err = check_data(dfd, dir, &data, detail, detail_len);
    if (err == CAIRN_OK) {
        err = cairn__prealloc_lock_file(dfd, dir, 0600, &lock, detail,
                                        detail_len);
    }
    if (err == CAIRN_OK) {
        err = tight(&lock, 0, dir, "lock.mdb", detail, detail_len);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    char path[64];
    cairn__fd_path(dfd, dir, path, sizeof(path));
    char why[1024] = "";
    err = cairn__store_open_kv(path, CAIRN__WITNESS_DB, 0600, store, why,
                               sizeof(why));
    if (err != CAIRN_OK) {
        size_t n = strlen(path);
        const char *rest = strncmp(why, path, n) == 0 ? why + n : why;
        return cairn__fail(detail, detail_len, err, "%s%s%s", dir,
                           rest == why ? ": " : "", rest);
    }
    struct stat now;
    if (cairn__store_data_stat(*store, &now) != CAIRN_OK ||
        now.st_dev != data.st_dev || now.st_ino != data.st_ino ||
        cairn__jdir_mapped(lock.st_dev, lock.st_ino) == 0) {
        cairn__store_close(*store);
        *store = NULL;
        return cairn__fail(detail, detail_len, CAIRN_EUNSAFE,
                           "%s: data.mdb or lock.mdb replaced while it was "
                           "being opened; refusing",
                           dir);
    }
    return CAIRN_OK;
}

cairn_err cairn__witness_store_open(const char *dir, cairn_store **store,
                                    char *detail, size_t detail_len)
{
    *store = NULL;
    if (dir == NULL || dir[0] == '\0') {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "no witness store directory");
    }
    cairn_err err = cairn__journal_mkdir(dir, 0700, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    int dfd = -1;
    struct stat st;
    err = cairn__jdir_open(dir, &dfd, &st, detail, detail_len);
    if (err == CAIRN_OK) {
        err = tight(&st, 1, dir, NULL, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err = open_checked(dfd, dir, store, detail, detail_len);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    return err;
}
