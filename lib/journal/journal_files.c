/*
 * journal_files.c - open a journal's directory and its files for LMDB:
 * the directory (made first for CAIRN_OPEN_CREATE), data.mdb (a journal
 * made in it when it has none and may) and lock.mdb checked before LMDB
 * opens them by name and checked again after, files others can write
 * noted or (strict) refused, and the writers' lock taken (base/wlock.h).
 */
#include "journal/journal.h"

#include "base/jdir.h"
#include "base/sys.h"
#include "base/wlock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

/* Note (or, strict, refuse) a file others can write. */
static cairn_err loose(cairn_journal *j, unsigned flags, const struct stat *st,
                       int is_dir, const char *name, char *detail,
                       size_t detail_len)
{
    j->warnings |= cairn__jdir_loose(st, is_dir, j->dir, name, j->warn_detail,
                                     sizeof(j->warn_detail));
    if (j->warnings != 0 && (flags & CAIRN_OPEN_STRICT) != 0) {
        cairn__fmt(detail, detail_len, "%s; refused (strict)", j->warn_detail);
        return CAIRN_EUNSAFE;
    }
    return CAIRN_OK;
}

/* The identities LMDB is about to open, checked (jdir.h). */
typedef struct checked_files {
    struct stat data, lock;
    int have_lock;
} checked_files;

/* Open the directory (making it first for CAIRN_OPEN_CREATE) and check
 * it; make a journal in it when it has none and may. */
static cairn_err open_dir(cairn_journal *j, unsigned flags, char *detail,
                          size_t detail_len)
{
    int writable = (flags & CAIRN_OPEN_READONLY) == 0;
    int create = writable && (flags & CAIRN_OPEN_CREATE) != 0;
    if (create) {
        mode_t mode = (flags & CAIRN_OPEN_GROUP_READABLE) != 0 ? 0750 : 0700;
        cairn_err err = cairn__journal_mkdir(j->dir, mode, detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    cairn_err err =
        cairn__jdir_open(j->dir, &j->dfd, &j->dir_st, detail, detail_len);
    if (err == CAIRN_EIO && errno == ENOENT) {
        cairn__fmt(detail, detail_len, "%s: no journal here (%s)", j->dir,
                   strerror(ENOENT));
    }
    if (err != CAIRN_OK) {
        return err;
    }
    return loose(j, flags, &j->dir_st, 1, NULL, detail, detail_len);
}

/* Check data.mdb and lock.mdb just before LMDB opens them by name. */
static cairn_err check_files(cairn_journal *j, unsigned flags,
                             checked_files *cf, char *detail, size_t detail_len)
{
    int writable = (flags & CAIRN_OPEN_READONLY) == 0, exists = 0;
    cairn_err err = cairn__jdir_stat(j->dfd, j->dir, "data.mdb", 0, &cf->data,
                                     &exists, detail, detail_len);
    if (err == CAIRN_OK && !exists) {
        if (!writable || (flags & CAIRN_OPEN_CREATE) == 0) {
            cairn__fmt(detail, detail_len, "%s: no journal here (no data.mdb)",
                       j->dir);
            return CAIRN_EIO;
        }
        mode_t mode = (flags & CAIRN_OPEN_GROUP_READABLE) != 0 ? 0640 : 0600;
        err = cairn__journal_create(j->dfd, j->dir, mode, j->opts.map_size,
                                    detail, detail_len);
        if (err == CAIRN_OK) {
            err = cairn__jdir_stat(j->dfd, j->dir, "data.mdb", 0, &cf->data,
                                   &exists, detail, detail_len);
        }
        if (err == CAIRN_OK && !exists) {
            cairn__fmt(detail, detail_len, "%s/data.mdb: vanished", j->dir);
            err = CAIRN_EIO;
        }
    }
    err = err == CAIRN_OK
              ? loose(j, flags, &cf->data, 0, "data.mdb", detail, detail_len)
              : err;
    if (err != CAIRN_OK) {
        return err;
    }
    j->data_st = cf->data;
    if (writable) {
        err = cairn__prealloc_lock_file(j->dfd, j->dir,
                                        cairn__jdir_file_mode(&cf->data),
                                        &cf->lock, detail, detail_len);
        cf->have_lock = err == CAIRN_OK;
    } else {
        err = cairn__jdir_stat(j->dfd, j->dir, "lock.mdb", 0, &cf->lock,
                               &cf->have_lock, detail, detail_len);
    }
    if (err == CAIRN_OK && cf->have_lock) {
        err = loose(j, flags, &cf->lock, 0, "lock.mdb", detail, detail_len);
    }
    return err;
}

/* After LMDB opened the environment by name: are the files it holds the
 * ones that were checked?  (Nothing here opens either file: closing a
 * descriptor of lock.mdb would drop LMDB's fcntl locks.) */
static cairn_err check_opened(cairn_journal *j, checked_files *cf, char *detail,
                              size_t detail_len)
{
    struct stat now;
    int exists = 0;
    if (cairn__store_data_stat(j->store, &now) != CAIRN_OK ||
        now.st_dev != cf->data.st_dev || now.st_ino != cf->data.st_ino) {
        cairn__fmt(detail, detail_len,
                   "%s/data.mdb: replaced while it was being opened; refusing",
                   j->dir);
        return CAIRN_EUNSAFE;
    }
    if (cairn__store_nolock(j->store)) {
        return CAIRN_OK; /* LMDB did not open lock.mdb (read-only fs) */
    }
    if (!cf->have_lock) { /* LMDB created it: check what is there now */
        cairn_err err =
            cairn__jdir_stat(j->dfd, j->dir, "lock.mdb", 0, &cf->lock, &exists,
                             detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
        cf->have_lock = exists;
    }
    if (!cf->have_lock ||
        cairn__jdir_mapped(cf->lock.st_dev, cf->lock.st_ino) == 0) {
        cairn__fmt(detail, detail_len,
                   "%s/lock.mdb: replaced while it was being opened; refusing",
                   j->dir);
        return CAIRN_EUNSAFE;
    }
    return CAIRN_OK;
}

static cairn_err writers_lock(cairn_journal *j, unsigned flags, char *detail,
                              size_t detail_len)
{
    mode_t mode = (flags & CAIRN_OPEN_GROUP_READABLE) != 0 ? 0640 : 0600;
    return cairn__writers_lock(j->dfd, j->dir, mode, 0, &j->writers_fd, detail,
                               detail_len);
}

cairn_err cairn__journal_open_store(cairn_journal *j, unsigned flags,
                                    char *detail, size_t detail_len)
{
    checked_files cf;
    char path[64];
    memset(&cf, 0, sizeof(cf));
    cairn_err err = open_dir(j, flags, detail, detail_len);
    if (err == CAIRN_OK && !j->readonly) {
        /* Before data.mdb is checked and LMDB opens it, so that no
         * compaction replaces it under a writer (base/wlock.h); only in a
         * journal (data.mdb there), not in a directory being refused. */
        int exists = 0;
        err = cairn__jdir_stat(j->dfd, j->dir, "data.mdb", 0, &cf.data, &exists,
                               detail, detail_len);
        if (err == CAIRN_OK && exists) {
            err = writers_lock(j, flags, detail, detail_len);
        }
    }
    if (err == CAIRN_OK) {
        err = check_files(j, flags, &cf, detail, detail_len);
    }
    if (err == CAIRN_OK && !j->readonly && j->writers_fd < 0) {
        err = writers_lock(j, flags, detail, detail_len); /* just created */
    }
    if (err != CAIRN_OK) {
        return err;
    }
    /* LMDB opens by path: give it the checked directory itself. */
    cairn__fd_path(j->dfd, j->dir, path, sizeof(path));
    err = cairn__store_open(path, j->readonly, 0,
                            cairn__jdir_file_mode(&j->data_st),
                            j->opts.map_size, &j->store, detail, detail_len);
    if (err != CAIRN_OK) {
        /* The detail names /proc/thread-self/fd/N: name the directory instead.
         */
        char why[CAIRN__DETAIL_MAX];
        size_t n = strlen(path);
        const char *rest =
            detail != NULL && strncmp(detail, path, n) == 0 ? detail + n : NULL;
        if (rest != NULL) {
            cairn__fmt(why, sizeof(why), "%s%s", j->dir, rest);
            cairn__fmt(detail, detail_len, "%s", why);
        }
        return err;
    }
    err = check_opened(j, &cf, detail, detail_len);
    if (err == CAIRN_OK && !j->readonly) {
        /* Kept until after LMDB closes: never an open+close of data.mdb
         * while the environment is open. */
        struct stat st;
        err = cairn__jdir_openat(j->dfd, j->dir, "data.mdb", O_RDWR, 0, 0,
                                 &j->data_fd, &st, NULL, detail, detail_len);
        if (err == CAIRN_OK &&
            (st.st_dev != cf.data.st_dev || st.st_ino != cf.data.st_ino)) {
            cairn__fmt(detail, detail_len,
                       "%s/data.mdb: replaced while it was being opened; "
                       "refusing",
                       j->dir);
            err = CAIRN_EUNSAFE;
        }
    }
    return err;
}
