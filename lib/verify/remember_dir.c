/*
 * remember_dir.c - the directory of remembered checkpoints (see
 * remember_dir.h): hostile-aware opening, bounded whole-file reads,
 * atomic replacement, the lock.
 */
#include "verify/remember_dir.h"

#include "base/crypto.h"
#include "journal/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static cairn_err unsafe(const char *dir, const char *name, const char *why,
                        char *detail, size_t detail_len)
{
    return cairn__fail(detail, detail_len, CAIRN_EUNSAFE,
                       "remembered checkpoints %s%s%s: %s", dir,
                       name[0] != '\0' ? "/" : "", name, why);
}

/* Owned by the caller, not writable by group or others, of @p type. */
static cairn_err check_st(const struct stat *st, mode_t type, const char *dir,
                          const char *name, char *detail, size_t detail_len)
{
    if ((st->st_mode & S_IFMT) != type) {
        return unsafe(dir, name,
                      type == S_IFDIR ? "not a directory"
                                      : "not a regular "
                                        "file",
                      detail, detail_len);
    }
    if (st->st_uid != geteuid()) {
        return unsafe(dir, name, "not owned by the user running cairn", detail,
                      detail_len);
    }
    if ((st->st_mode & 022) != 0) {
        return unsafe(dir, name, "writable by group or others", detail,
                      detail_len);
    }
    return CAIRN_OK;
}

static cairn_err io_fail(const char *dir, const char *name, const char *what,
                         int e, char *detail, size_t detail_len)
{
    return cairn__fail(detail, detail_len, CAIRN_EIO,
                       "remembered checkpoints %s%s%s: %s: %s", dir,
                       name[0] != '\0' ? "/" : "", name, what, strerror(e));
}

/* Make @p dir and its missing parents (0700). */
static void make_dirs(const char *dir)
{
    char buf[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(buf)) {
        return;
    }
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            (void)mkdir(buf, 0700);
            buf[i] = c;
        }
    }
}

cairn_err cairn__remember_dir_open(cairn_journal *j, const char *dir,
                                   int create, cairn__remember_dir *s,
                                   int *exists, char *detail, size_t detail_len)
{
    struct stat st;
    uint8_t digest[CAIRN_HASH_BYTES];
    memset(s, 0, sizeof(*s));
    s->dir = dir;
    s->dfd = -1;
    *exists = 0;
    cairn__hex(j->journal_id, CAIRN_JOURNAL_ID_BYTES, s->id_hex);
    cairn__fmt(s->note_name, sizeof(s->note_name),
               "%s" CAIRN__REMEMBER_NOTE_SUFFIX, s->id_hex);
    if (realpath(j->dir, s->jdir) == NULL) {
        cairn__fmt(s->jdir, sizeof(s->jdir), "%s", j->dir);
    }
    cairn__sha256(s->jdir, strlen(s->jdir), digest);
    memcpy(s->map_name, CAIRN__REMEMBER_MAP_PREFIX,
           sizeof(CAIRN__REMEMBER_MAP_PREFIX) - 1);
    cairn__hex(digest, 16,
               s->map_name + sizeof(CAIRN__REMEMBER_MAP_PREFIX) - 1);
    if (create) {
        make_dirs(dir);
    }
    s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s->dfd < 0) {
        int e = errno;
        if (e == ENOENT && !create) {
            return CAIRN_OK;
        }
        if (e == ELOOP || e == ENOTDIR) {
            return unsafe(dir, "", "a symbolic link or not a directory", detail,
                          detail_len);
        }
        return io_fail(dir, "", "open", e, detail, detail_len);
    }
    *exists = 1;
    if (fstat(s->dfd, &st) != 0) {
        return io_fail(dir, "", "fstat", errno, detail, detail_len);
    }
    return check_st(&st, S_IFDIR, dir, "", detail, detail_len);
}

void cairn__remember_dir_close(cairn__remember_dir *s)
{
    if (s->dfd >= 0) {
        close(s->dfd);
    }
    s->dfd = -1;
}

/* Read file @p name of the store whole (at most CAIRN__REMEMBER_FILE_MAX bytes)
 * into
 * @p buf; *found 0 when it does not exist. */
cairn_err cairn__remember_dir_read(const cairn__remember_dir *s,
                                   const char *name, char *buf, size_t *len,
                                   int *found, char *detail, size_t detail_len)
{
    struct stat st;
    *found = 0;
    *len = 0;
    int fd =
        openat(s->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            return CAIRN_OK;
        }
        return e == ELOOP
                   ? unsafe(s->dir, name, "a symbolic link", detail, detail_len)
                   : io_fail(s->dir, name, "open", e, detail, detail_len);
    }
    cairn_err err =
        fstat(fd, &st) != 0
            ? io_fail(s->dir, name, "fstat", errno, detail, detail_len)
            : check_st(&st, S_IFREG, s->dir, name, detail, detail_len);
    if (err == CAIRN_OK &&
        (st.st_size <= 0 || st.st_size > CAIRN__REMEMBER_FILE_MAX)) {
        err = cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                          "remembered checkpoint %s/%s: %lld bytes (1..%u)",
                          s->dir, name, (long long)st.st_size,
                          CAIRN__REMEMBER_FILE_MAX);
    }
    while (err == CAIRN_OK && *len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + *len, (size_t)st.st_size - *len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            err = io_fail(s->dir, name, "read", n < 0 ? errno : EIO, detail,
                          detail_len);
        } else {
            *len += (size_t)n;
        }
    }
    close(fd);
    *found = err == CAIRN_OK;
    return err;
}

/* Replace file @p name by @p data: a temporary file, fsync, rename. */
cairn_err cairn__remember_dir_write(const cairn__remember_dir *s,
                                    const char *name, const char *data,
                                    size_t len, char *detail, size_t detail_len)
{
    char tmp[128];
    size_t done = 0;
    cairn__fmt(tmp, sizeof(tmp), "%s.tmp", name);
    (void)unlinkat(s->dfd, tmp, 0);
    int fd = openat(s->dfd, tmp,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return io_fail(s->dir, tmp, "create", errno, detail, detail_len);
    }
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            (void)unlinkat(s->dfd, tmp, 0);
            return io_fail(s->dir, tmp, "write", e, detail, detail_len);
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        (void)unlinkat(s->dfd, tmp, 0);
        return io_fail(s->dir, tmp, "fsync", e, detail, detail_len);
    }
    if (renameat(s->dfd, tmp, s->dfd, name) != 0) {
        int e = errno;
        (void)unlinkat(s->dfd, tmp, 0);
        return io_fail(s->dir, name, "rename", e, detail, detail_len);
    }
    return CAIRN_OK;
}

cairn_err cairn__remember_dir_lock(const cairn__remember_dir *s, int *fd,
                                   char *detail, size_t detail_len)
{
    struct stat st;
    *fd =
        openat(s->dfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (*fd < 0) {
        return errno == ELOOP
                   ? unsafe(s->dir, "lock", "a symbolic link", detail,
                            detail_len)
                   : io_fail(s->dir, "lock", "open", errno, detail, detail_len);
    }
    cairn_err err =
        fstat(*fd, &st) != 0
            ? io_fail(s->dir, "lock", "fstat", errno, detail, detail_len)
            : check_st(&st, S_IFREG, s->dir, "lock", detail, detail_len);
    while (err == CAIRN_OK && flock(*fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            err = io_fail(s->dir, "lock", "flock", errno, detail, detail_len);
        }
    }
    return err;
}

cairn_err cairn__remember_dir_sync(const cairn__remember_dir *s, char *detail,
                                   size_t detail_len)
{
    if (fsync(s->dfd) != 0) {
        return io_fail(s->dir, "", "fsync", errno, detail, detail_len);
    }
    return CAIRN_OK;
}
