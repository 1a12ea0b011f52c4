/*
 * wlock.c - the journal-wide writer exclusion (wlock.h).
 */
#include "base/wlock.h"
#include "base/jdir.h"
#include "base/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The pid a compaction wrote into the file ("" when none). */
static void holder_note(int fd, char *out, size_t cap)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    out[0] = '\0';
    if (n <= 0) {
        return;
    }
    buf[n] = '\0';
    char *end = NULL;
    long long pid = strtoll(buf, &end, 10);
    if (pid > 0 && end != buf && (*end == '\n' || *end == '\0')) {
        cairn__fmt(out, cap, "pid %lld", pid);
    }
}

static void write_note(int fd)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld\n", (long long)getpid());
    if (ftruncate(fd, 0) != 0 || n <= 0 ||
        pwrite(fd, buf, (size_t)n, 0) != (ssize_t)n) {
        /* advisory text only */
    }
}

static cairn_err refused(int fd, const struct stat *st, const char *dir,
                         int exclusive, char *detail, size_t detail_len)
{
    char who[64];
    if (exclusive) {
        long long pid = -1;
        if (cairn__flock_holder(st, &pid) == 1 && pid > 0) {
            cairn__fmt(who, sizeof(who), "pid %lld", pid);
        } else {
            cairn__fmt(who, sizeof(who), "another process");
        }
        cairn__fmt(detail, detail_len,
                   "%s: journal in use by %s (a writer holds %s)", dir, who,
                   CAIRN__WRITERS_LOCK);
    } else {
        holder_note(fd, who, sizeof(who));
        cairn__fmt(detail, detail_len,
                   "%s: journal is being compacted by %s (it holds %s "
                   "exclusively); retry when it finishes",
                   dir, who[0] ? who : "another process", CAIRN__WRITERS_LOCK);
    }
    return CAIRN_ELOCKED;
}

cairn_err cairn__writers_lock(int dfd, const char *dir, mode_t mode,
                              int exclusive, int *fd, char *detail,
                              size_t detail_len)
{
    struct stat st;
    int lfd = -1;
    *fd = -1;
    cairn_err err =
        cairn__jdir_openat(dfd, dir, CAIRN__WRITERS_LOCK, O_RDWR | O_CREAT,
                           mode, 0, &lfd, &st, NULL, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    int op = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
    while (flock(lfd, op) != 0) {
        if (errno == EINTR) {
            continue;
        }
        if (errno == EWOULDBLOCK) {
            err = refused(lfd, &st, dir, exclusive, detail, detail_len);
        } else {
            cairn__fmt(detail, detail_len, "%s/%s: flock: %s", dir,
                       CAIRN__WRITERS_LOCK, strerror(errno));
            err = CAIRN_EIO;
        }
        close(lfd);
        return err;
    }
    if (exclusive) {
        write_note(lfd);
    }
    *fd = lfd;
    return CAIRN_OK;
}

cairn_err cairn__writers_relock(int fd, const char *dir, int exclusive,
                                char *detail, size_t detail_len)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_EIO, "%s/%s: no lock", dir,
                           CAIRN__WRITERS_LOCK);
    }
    int op = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
    while (flock(fd, op) != 0) {
        if (errno == EINTR) {
            continue;
        }
        if (errno == EWOULDBLOCK) {
            (void)refused(fd, &st, dir, exclusive, detail, detail_len);
            /* The conversion may have dropped ours: take it back. */
            while (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EINTR) {
            }
            return CAIRN_ELOCKED;
        }
        return cairn__fail(detail, detail_len, CAIRN_EIO, "%s/%s: flock: %s",
                           dir, CAIRN__WRITERS_LOCK, strerror(errno));
    }
    return CAIRN_OK;
}

void cairn__writers_unlock(int fd, int exclusive)
{
    if (fd < 0) {
        return;
    }
    if (exclusive && ftruncate(fd, 0) != 0) {
        /* advisory text only */
    }
    close(fd); /* the last descriptor: the flock goes */
}
