/*
 * lock.c - per-run writer locks: flock(2) on locks/run-<n>.lock, released
 * by the kernel when the holder dies, with holder info inside the file.
 *
 * Every lock file is opened relative to the journal directory's
 * descriptor without following symbolic links, checked (a regular file of
 * ours) and, once locked, compared with what its path names now: a lock
 * file removed or replaced after it was opened (rm, a tmpfiles rule)
 * protects nothing, so the lock is taken again on the file the path
 * names.
 *
 * A lock file can still be removed while it is held, and the next writer
 * would then lock a new file.  The run lock is therefore first an
 * open-file-description lock (F_OFD_SETLK) on one byte of data.mdb per
 * run, far past its end: data.mdb is never removed while the journal
 * lives, the lock goes with the holder's descriptor (not the process, so
 * no close() elsewhere drops it) and the kernel releases it when the
 * holder dies.  The file lock and its holder text remain for humans.
 */
#include "base/jdir.h"
#include "base/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often a lock file may be found replaced before giving up. */
#define LOCK_RETRIES 100

static void run_lock_name(uint64_t run_num, char *out, size_t cap)
{
    cairn__fmt(out, cap, "run-%llu.lock", (unsigned long long)run_num);
}

void cairn__lock_text(int dfd, const char *dir, const char *name, char *out,
                      size_t out_len)
{
    char sub[4200], text[1024], why[64];
    int ldfd = -1, fd = -1;
    cairn__clear(out, out_len);
    cairn__fmt(sub, sizeof(sub), "%s/locks", dir);
    if (cairn__jdir_openat(dfd, dir, "locks", O_RDONLY, 0, 1, &ldfd, NULL, NULL,
                           why, sizeof(why)) != CAIRN_OK) {
        return;
    }
    if (cairn__jdir_openat(ldfd, sub, name, O_RDONLY, 0, 0, &fd, NULL, NULL,
                           why, sizeof(why)) == CAIRN_OK) {
        ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
        if (n > 0) {
            size_t len = (size_t)n;
            while (len > 0 && text[len - 1] == '\n') {
                len--;
            }
            for (size_t i = 0; i < len; i++) {
                text[i] = text[i] == '\n' ? ' ' : text[i];
            }
            cairn__escape_text(text, len, out, out_len);
        }
        close(fd);
    }
    close(ldfd);
}

void cairn__run_lock_holder(int dfd, const char *dir, uint64_t run_num,
                            char *out, size_t out_len)
{
    char name[64];
    run_lock_name(run_num, name, sizeof(name));
    cairn__lock_text(dfd, dir, name, out, out_len);
}

static void write_holder(int fd)
{
    char host[CAIRN_MAX_HOST + 1], boot_hex[33], text[512];
    uint8_t boot[CAIRN_BOOT_ID_BYTES];
    uint64_t start = 0;
    cairn__hostname(host);
    if (cairn__boot_id(boot) != CAIRN_OK) {
        memset(boot, 0, sizeof(boot));
    }
    cairn__hex(boot, sizeof(boot), boot_hex);
    (void)cairn__proc_start_time(getpid(), &start);
    int n = snprintf(text, sizeof(text),
                     "pid=%d start=%llu boot=%s host=%s since_ns=%llu\n",
                     (int)getpid(), (unsigned long long)start, boot_hex, host,
                     (unsigned long long)cairn__wall_ns());
    if (n > 0 && (size_t)n < sizeof(text) && ftruncate(fd, 0) == 0) {
        /* Holder info is advisory text for humans; the lock is flock. */
        ssize_t w = pwrite(fd, text, (size_t)n, 0);
        (void)w;
    }
}

/* Open @p name in @p ldfd and lock it without waiting.  1: locked;
 * 0: the path no longer names the locked file (try again); -1: failed
 * (*err set, detail written). */
static int lock_once(int ldfd, const char *sub, const char *name, mode_t mode,
                     int *fd_out, cairn_err *err, char *detail,
                     size_t detail_len)
{
    struct stat held, now;
    int fd = -1;
    *err = cairn__jdir_openat(ldfd, sub, name, O_RDWR | O_CREAT, mode, 0, &fd,
                              &held, NULL, detail, detail_len);
    if (*err != CAIRN_OK) {
        return -1;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EINTR) {
            continue;
        }
        close(fd);
        if (e == EWOULDBLOCK) {
            *err = CAIRN_ELOCKED;
            return -1;
        }
        cairn__fmt(detail, detail_len, "%s/%s: flock: %s", sub, name,
                   strerror(e));
        *err = CAIRN_EIO;
        return -1;
    }
    if (fstatat(ldfd, name, &now, AT_SYMLINK_NOFOLLOW) != 0 ||
        now.st_dev != held.st_dev || now.st_ino != held.st_ino) {
        close(fd); /* removed or replaced: the lock guards nothing */
        return 0;
    }
    *fd_out = fd;
    return 1;
}

cairn_err cairn__lock_file(int dfd, const char *dir,
                           const struct stat *mode_ref, const char *name,
                           int *fd_out, char *detail, size_t detail_len)
{
    char sub[4200];
    int ldfd = -1;
    *fd_out = -1;
    cairn_err err =
        cairn__jdir_subdir(dfd, dir, "locks", cairn__jdir_dir_mode(mode_ref),
                           &ldfd, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__fmt(sub, sizeof(sub), "%s/locks", dir);
    int got = 0;
    for (int i = 0; got == 0 && i < LOCK_RETRIES; i++) {
        got = lock_once(ldfd, sub, name, cairn__jdir_file_mode(mode_ref),
                        fd_out, &err, detail, detail_len);
    }
    close(ldfd);
    if (got == 0) {
        cairn__fmt(detail, detail_len,
                   "%s/%s: replaced each time it was locked; refusing", sub,
                   name);
        return CAIRN_EUNSAFE;
    }
    return got == 1 ? CAIRN_OK : err;
}

/* The value of "key=" in the holder line @p text (up to a space), or "". */
static void holder_field(const char *text, const char *key, char *out,
                         size_t cap)
{
    const char *p = text;
    size_t klen = strlen(key);
    cairn__clear(out, cap);
    while ((p = strstr(p, key)) != NULL) {
        if (p == text || p[-1] == ' ') {
            size_t n = strcspn(p + klen, " ");
            if (n < cap) {
                memcpy(out, p + klen, n);
                out[n] = '\0';
            }
            return;
        }
        p += klen;
    }
}

void cairn__run_lock_describe(const char *text, char *out, size_t cap)
{
    char pid[32], host[CAIRN_MAX_HOST * 4 + 1], since[32], when[64];
    holder_field(text, "pid=", pid, sizeof(pid));
    holder_field(text, "host=", host, sizeof(host));
    holder_field(text, "since_ns=", since, sizeof(since));
    if (pid[0] == '\0' || since[0] == '\0') {
        cairn__fmt(out, cap, "%s", text);
        return;
    }
    cairn__fmt_since(strtoull(since, NULL, 10), when, sizeof(when));
    cairn__fmt(out, cap, "pid %s on host %s since %s", pid,
               host[0] ? host : "?", when);
}

/* F_OFD_SETLK of run @p run_num's byte of data.mdb: 0, or an errno. */
static int data_lock(int data_fd, uint64_t run_num, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start =
        (off_t)(((uint64_t)1 << 62) + (run_num & (((uint64_t)1 << 61) - 1)));
    fl.l_len = 1;
    while (fcntl(data_fd, F_OFD_SETLK, &fl) != 0) {
        if (errno != EINTR) {
            return errno;
        }
    }
    return 0;
}

cairn_err cairn__run_lock(int dfd, const char *dir, const struct stat *mode_ref,
                          int data_fd, uint64_t run_num, int *fd_out,
                          char *detail, size_t detail_len)
{
    char name[64];
    cairn_err err = CAIRN_OK;
    *fd_out = -1;
    run_lock_name(run_num, name, sizeof(name));
    int rc = data_fd >= 0 ? data_lock(data_fd, run_num, F_WRLCK) : 0;
    if (rc == EAGAIN || rc == EACCES) {
        err = CAIRN_ELOCKED;
    } else if (rc != 0) {
        cairn__fmt(detail, detail_len, "%s/data.mdb: run lock: %s", dir,
                   strerror(rc));
        return CAIRN_EIO;
    } else {
        err = cairn__lock_file(dfd, dir, mode_ref, name, fd_out, detail,
                               detail_len);
        if (err != CAIRN_OK && data_fd >= 0) {
            (void)data_lock(data_fd, run_num, F_UNLCK);
        }
    }
    if (err == CAIRN_ELOCKED) {
        char holder[512], readable[600];
        cairn__run_lock_holder(dfd, dir, run_num, holder, sizeof(holder));
        cairn__run_lock_describe(holder, readable, sizeof(readable));
        cairn__fmt(detail, detail_len, "held by %s",
                   readable[0] ? readable : "another process");
    } else if (err == CAIRN_OK) {
        write_holder(*fd_out);
    }
    return err;
}

void cairn__run_unlock(int data_fd, uint64_t run_num, int fd)
{
    if (fd >= 0) {
        /* A released run has no holder: an empty note.  A note left
         * behind is the mark of a writer that died holding the run
         * (cairn_run_activity: abandoned). */
        if (ftruncate(fd, 0) != 0) {
            /* advisory text only */
        }
        close(fd); /* closing the last descriptor releases the flock */
    }
    if (data_fd >= 0) {
        (void)data_lock(data_fd, run_num, F_UNLCK);
    }
}

int cairn__run_lock_probe(int dfd, int data_fd, uint64_t run_num)
{
    int fd = data_fd;
    if (fd < 0) {
        fd = openat(dfd, "data.mdb",
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            return -1;
        }
    }
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start =
        (off_t)(((uint64_t)1 << 62) + (run_num & (((uint64_t)1 << 61) - 1)));
    fl.l_len = 1;
    int rc = fcntl(fd, F_OFD_GETLK, &fl);
    if (fd != data_fd) {
        close(fd);
    }
    if (rc != 0) {
        return -1;
    }
    return fl.l_type != F_UNLCK;
}

cairn_err cairn__run_lock_note(int dfd, const char *dir, uint64_t run_num,
                               char *text, size_t cap, struct stat *st,
                               int *exists)
{
    char sub[4200], name[64], why[64];
    int ldfd = -1, fd = -1, err_no = 0;
    cairn__clear(text, cap);
    *exists = 0;
    run_lock_name(run_num, name, sizeof(name));
    cairn__fmt(sub, sizeof(sub), "%s/locks", dir);
    cairn_err err = cairn__jdir_openat(dfd, dir, "locks", O_RDONLY, 0, 1, &ldfd,
                                       NULL, &err_no, why, sizeof(why));
    if (err != CAIRN_OK) {
        return err_no == ENOENT ? CAIRN_OK : err;
    }
    err = cairn__jdir_openat(ldfd, sub, name, O_RDONLY, 0, 0, &fd, st, &err_no,
                             why, sizeof(why));
    close(ldfd);
    if (err != CAIRN_OK) {
        return err_no == ENOENT ? CAIRN_OK : err;
    }
    *exists = 1;
    ssize_t n = pread(fd, text, cap - 1, 0);
    close(fd);
    if (n < 0) {
        return CAIRN_EIO;
    }
    text[n] = '\0';
    return CAIRN_OK;
}
