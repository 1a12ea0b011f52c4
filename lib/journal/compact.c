/*
 * compact.c - cairn_journal_compact(): return a journal's free and
 * half-empty pages to the file system by rebuilding its databases into a
 * fresh file (store/store_rebuild.c), replacing data.mdb only by a copy
 * that was synced and compared with it.  Why each step is safe is in
 * docs/DURABILITY.md, "Compaction"; in short:
 *
 * 1. writers.lock exclusively (base/wlock.h): no writable handle is open
 *    and none opens until the end, so data.mdb does not change; no run
 *    lock (a byte lock of data.mdb a runner's command may have inherited)
 *    is held on it either.
 * 2. data.mdb is read through a private environment without lock.mdb
 *    (nobody writes it), and rebuilt, entry by entry in key order, into
 *    a fresh environment in DIR/.cairn-compact-<random>, a regular file
 *    of ours.
 * 3. The copy's meta pages get the journal's transaction id, so that
 *    lock.mdb's newest id names the copy's newest transaction; then fsync.
 * 4. The copy is opened and compared, every key and value of every
 *    database, with data.mdb.
 * 5. Under the open gate (the directory's flock, which every cairn open
 *    holds across mdb_env_open), with no process holding lock.mdb (LMDB's
 *    shared fcntl lock of every open environment): renameat over
 *    data.mdb, fsync of the directory.  The next opener finds lock.mdb
 *    unheld and rebuilds its table from the new file.
 */
#include "journal/compact.h"
#include "journal/journal.h"

#include "base/crypto.h"
#include "base/jdir.h"
#include "base/sys.h"
#include "base/wlock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long the swap waits for another process's open (the gate). */
#define GATE_WAIT_MS 60000u

/* Everything a compaction holds, released by finish(). */
typedef struct compaction {
    const char *dir;
    int dfd, wfd, data_fd, tmp_fd, gate_fd;
    struct stat data_st;
    char tmp[64]; /* the temporary's name, "" when there is none */
    cairn_store *src, *copy;
    cairn__compact_hook hook;
    void *hook_ctx;
} compaction;

static cairn_err fail_errno(char *detail, size_t detail_len, const char *what,
                            const char *dir, const char *name)
{
    cairn__fmt(detail, detail_len, "%s/%s: %s: %s", dir, name, what,
               strerror(errno));
    return CAIRN_EIO;
}

static void phase(compaction *c, cairn__compact_phase p)
{
    if (c->hook != NULL) {
        c->hook(c->hook_ctx, p);
    }
}

/* Remove what killed compactions left behind: regular files of ours named
 * CAIRN__COMPACT_TMP_PREFIX* (they never were data.mdb). */
static void remove_leftovers(compaction *c)
{
    int fd = dup(c->dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    const struct dirent *e;
    size_t n = strlen(CAIRN__COMPACT_TMP_PREFIX);
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (strncmp(e->d_name, CAIRN__COMPACT_TMP_PREFIX, n) == 0 &&
            fstatat(c->dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
            (void)unlinkat(c->dfd, e->d_name, 0);
        }
    }
    closedir(d); /* closes the dup, not dfd */
}

/* A byte lock on data.mdb is a run lock (base/lock.c): held by a runner or
 * a command it started, which would lose it to the new file. */
static cairn_err check_run_locks(compaction *c, char *detail, size_t detail_len)
{
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(c->data_fd, F_OFD_GETLK, &fl) != 0) {
        return fail_errno(detail, detail_len, "F_OFD_GETLK", c->dir,
                          "data.mdb");
    }
    if (fl.l_type != F_UNLCK) {
        cairn__fmt(detail, detail_len,
                   "%s: journal in use: a run lock on data.mdb is held (by a "
                   "runner, or a command it started, still alive)",
                   c->dir);
        return CAIRN_ELOCKED;
    }
    return CAIRN_OK;
}

/* Exclude writers, open data.mdb and its private environment. */
static cairn_err lock_and_open(compaction *c, char *detail, size_t detail_len)
{
    int exists = 0;
    cairn_err err = cairn__jdir_stat(c->dfd, c->dir, "data.mdb", 0, &c->data_st,
                                     &exists, detail, detail_len);
    if (err == CAIRN_OK && !exists) {
        cairn__fmt(detail, detail_len, "%s: no journal here (no data.mdb)",
                   c->dir);
        return CAIRN_EIO;
    }
    if (err == CAIRN_OK) {
        err = cairn__writers_lock(c->dfd, c->dir,
                                  cairn__jdir_file_mode(&c->data_st), 1,
                                  &c->wfd, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err = cairn__jdir_openat(c->dfd, c->dir, "data.mdb", O_RDONLY, 0, 0,
                                 &c->data_fd, &c->data_st, NULL, detail,
                                 detail_len);
    }
    if (err == CAIRN_OK) {
        err = check_run_locks(c, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        char path[64];
        cairn__fd_path(c->data_fd, "", path, sizeof(path));
        err = cairn__store_open_private(path, &c->src, detail, detail_len);
    }
    return err;
}

/* A new private temporary file in the journal directory, data.mdb's mode. */
static cairn_err make_tmp(compaction *c, char *detail, size_t detail_len)
{
    mode_t mode = c->data_st.st_mode & 0777;
    for (int i = 0; i < 100; i++) {
        uint8_t r[6];
        char hex[13];
        cairn__random(r, sizeof(r));
        cairn__hex(r, sizeof(r), hex);
        cairn__fmt(c->tmp, sizeof(c->tmp), "%s%s", CAIRN__COMPACT_TMP_PREFIX,
                   hex);
        c->tmp_fd =
            openat(c->dfd, c->tmp,
                   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (c->tmp_fd >= 0) {
            if (fchmod(c->tmp_fd, mode) != 0) { /* the umask is not ours */
                return fail_errno(detail, detail_len, "fchmod", c->dir, c->tmp);
            }
            return CAIRN_OK;
        }
        if (errno != EEXIST) {
            c->tmp[0] = '\0';
            return fail_errno(detail, detail_len, "create", c->dir,
                              CAIRN__COMPACT_TMP_PREFIX "*");
        }
    }
    c->tmp[0] = '\0';
    cairn__fmt(detail, detail_len, "%s: no free temporary name", c->dir);
    return CAIRN_EIO;
}

static void rebuilt_one(void *ctx)
{
    phase(ctx, CAIRN__COMPACT_REBUILDING);
}

/* Rebuild, renumber, sync, reopen and compare. */
static cairn_err copy_and_check(compaction *c, uint64_t txnid, char *detail,
                                size_t detail_len)
{
    uint64_t bytes = 0;
    char why[512];
    cairn_err err = make_tmp(c, detail, detail_len);
    if (err == CAIRN_OK) {
        cairn__rebuild_opts opts = {.hook = rebuilt_one, .hook_ctx = c};
        err = cairn__store_rebuild(c->src, c->tmp_fd, &opts, &bytes, why,
                                   sizeof(why));
        if (err != CAIRN_OK) {
            cairn__fmt(detail, detail_len, "%s/%s: %s", c->dir, c->tmp, why);
        }
    }
    if (err != CAIRN_OK) {
        return err;
    }
    phase(c, CAIRN__COMPACT_COPIED);
    err = cairn__store_file_set_txnid(c->tmp_fd, txnid, detail, detail_len);
    if (err == CAIRN_OK && fsync(c->tmp_fd) != 0) {
        err = fail_errno(detail, detail_len, "fsync", c->dir, c->tmp);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    phase(c, CAIRN__COMPACT_SYNCED);
    char path[64];
    cairn__fd_path(c->tmp_fd, "", path, sizeof(path));
    err = cairn__store_open_private(path, &c->copy, detail, detail_len);
    uint64_t psize, copy_txnid = 0, last_page;
    unsigned readers;
    if (err == CAIRN_OK) {
        cairn__store_env_info(c->copy, &psize, &copy_txnid, &last_page,
                              &readers);
        err = cairn__store_same_content(c->src, c->copy, detail, detail_len);
    }
    if (err == CAIRN_OK && copy_txnid != txnid) {
        cairn__fmt(detail, detail_len,
                   "the copy holds transaction %llu, the journal %llu",
                   (unsigned long long)copy_txnid, (unsigned long long)txnid);
        err = CAIRN_ECORRUPT;
    }
    return err;
}

/* The open gate (store/store_guard.c): the directory's flock, which every cairn
 * open holds across mdb_env_open().  Polled, never waited on forever. */
static cairn_err gate_enter(compaction *c, char *detail, size_t detail_len)
{
    c->gate_fd = openat(c->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->gate_fd < 0) {
        return fail_errno(detail, detail_len, "open", c->dir, ".");
    }
    for (unsigned waited = 0; flock(c->gate_fd, LOCK_EX | LOCK_NB) != 0;) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            return fail_errno(detail, detail_len, "flock", c->dir, ".");
        }
        if (waited >= GATE_WAIT_MS) {
            cairn__fmt(detail, detail_len,
                       "%s: another process has been opening this journal "
                       "for %u s (it holds the directory's flock)",
                       c->dir, GATE_WAIT_MS / 1000);
            return CAIRN_ELOCKED;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
        waited += 20;
    }
    return CAIRN_OK;
}

/* Under the gate: does any process have the environment open?  Each holds
 * LMDB's shared fcntl lock on byte 0 of lock.mdb for the environment's
 * life.  (Only asked, never taken: this process holds no fcntl lock of
 * lock.mdb, so closing the descriptor drops nothing.) */
static cairn_err check_openers(compaction *c, char *detail, size_t detail_len)
{
    int fd = -1, err_no = 0;
    char why[256];
    struct stat st;
    cairn_err err = cairn__jdir_openat(c->dfd, c->dir, "lock.mdb", O_RDONLY, 0,
                                       0, &fd, &st, &err_no, why, sizeof(why));
    if (err == CAIRN_EIO && err_no == ENOENT) {
        return CAIRN_OK; /* no lock file: nobody has it open */
    }
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s", why);
        return err;
    }
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_len = 1;
    int rc = fcntl(fd, F_GETLK, &fl);
    close(fd);
    /* F_GETLK never reports the calling process's own locks. */
    if (cairn__jdir_mapped(st.st_dev, st.st_ino) == 1) {
        cairn__fmt(detail, detail_len,
                   "%s: journal in use by pid %lld (this process has it "
                   "open: close every handle first)",
                   c->dir, (long long)getpid());
        return CAIRN_ELOCKED;
    }
    if (rc != 0) {
        return fail_errno(detail, detail_len, "F_GETLK", c->dir, "lock.mdb");
    }
    if (fl.l_type != F_UNLCK) {
        cairn__fmt(detail, detail_len,
                   "%s: journal in use by pid %lld (it has the journal open; "
                   "compaction needs every process to close it)",
                   c->dir, (long long)fl.l_pid);
        return CAIRN_ELOCKED;
    }
    return CAIRN_OK;
}

/* Replace data.mdb by the checked copy and make that durable. */
static cairn_err swap(compaction *c, char *detail, size_t detail_len)
{
    cairn_err err = gate_enter(c, detail, detail_len);
    if (err == CAIRN_OK) {
        err = check_openers(c, detail, detail_len);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    if (renameat(c->dfd, c->tmp, c->dfd, "data.mdb") != 0) {
        return fail_errno(detail, detail_len, "rename over data.mdb", c->dir,
                          c->tmp);
    }
    c->tmp[0] = '\0'; /* it is data.mdb now */
    phase(c, CAIRN__COMPACT_RENAMED);
    if (fsync(c->dfd) != 0) {
        return fail_errno(detail, detail_len, "fsync", c->dir, ".");
    }
    phase(c, CAIRN__COMPACT_DONE);
    return CAIRN_OK;
}

static void finish(compaction *c)
{
    cairn__store_close(c->copy);
    cairn__store_close(c->src);
    if (c->tmp_fd >= 0) {
        close(c->tmp_fd);
    }
    if (c->tmp[0] != '\0') {
        (void)unlinkat(c->dfd, c->tmp, 0);
    }
    if (c->data_fd >= 0) {
        close(c->data_fd);
    }
    if (c->gate_fd >= 0) {
        close(c->gate_fd); /* after the rename: the next opener may come */
    }
    cairn__writers_unlock(c->wfd, 1);
    if (c->dfd >= 0) {
        close(c->dfd);
    }
}

/* The dry run's scratch file: unnamed, in the journal directory (on the
 * file system a compaction writes to), else a private name unlinked at
 * once; in /tmp when the directory may not be written (a read-only
 * journal).  The rebuilt size does not depend on where it is written. */
static cairn_err scratch_file(compaction *c, char *detail, size_t detail_len)
{
    c->tmp_fd = openat(c->dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (c->tmp_fd >= 0) {
        return CAIRN_OK;
    }
    int no_write = errno == EACCES || errno == EROFS || errno == EPERM;
    if (!no_write) {
        c->data_st.st_mode = S_IFREG | 0600;
        cairn_err err = make_tmp(c, detail, detail_len);
        if (c->tmp[0] != '\0') {
            (void)unlinkat(c->dfd, c->tmp, 0);
            c->tmp[0] = '\0';
        }
        return err;
    }
    c->tmp_fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (c->tmp_fd < 0) {
        return fail_errno(detail, detail_len,
                          "scratch file (the directory is not writable, and "
                          "neither is /tmp)",
                          c->dir, ".");
    }
    return CAIRN_OK;
}

/* Rebuild into a scratch file and measure it: the exact size a
 * compaction of the same content writes. */
static cairn_err dry_run(compaction *c, cairn_compact_result *out, char *detail,
                         size_t detail_len)
{
    cairn_journal *j = NULL;
    char why[512];
    uint64_t used = 0;
    cairn_err err =
        cairn_journal_open(c->dir, CAIRN_OPEN_READONLY, &j, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn__store_space(j->store, &out->size_before, &out->page_size);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s: %s", c->dir,
                   cairn__store_detail(j->store));
    }
    if (err == CAIRN_OK) {
        err = scratch_file(c, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err = cairn__store_rebuild(j->store, c->tmp_fd, NULL, &used, why,
                                   sizeof(why));
        if (err != CAIRN_OK) {
            cairn__fmt(detail, detail_len, "%s: dry run: %s", c->dir, why);
        }
    }
    cairn_journal_close(j);
    out->size_after = used;
    return err;
}

static cairn_err run(compaction *c, cairn_compact_result *out, char *detail,
                     size_t detail_len)
{
    cairn_err err = lock_and_open(c, detail, detail_len);
    uint64_t psize = 0, txnid = 0, last_page = 0;
    unsigned readers = 0;
    if (err == CAIRN_OK) {
        remove_leftovers(c);
        cairn__store_env_info(c->src, &psize, &txnid, &last_page, &readers);
        err = cairn__store_space(c->src, &out->size_before, &out->page_size);
        if (err != CAIRN_OK) {
            cairn__fmt(detail, detail_len, "%s: %s", c->dir,
                       cairn__store_detail(c->src));
        }
    }
    if (err != CAIRN_OK) {
        return err;
    }
    phase(c, CAIRN__COMPACT_LOCKED);
    err = copy_and_check(c, txnid, detail, detail_len);
    struct stat st;
    if (err == CAIRN_OK && fstat(c->tmp_fd, &st) != 0) {
        err = fail_errno(detail, detail_len, "fstat", c->dir, c->tmp);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    phase(c, CAIRN__COMPACT_VERIFIED);
    err = swap(c, detail, detail_len);
    if (err == CAIRN_OK) {
        out->size_after = (uint64_t)st.st_size;
        out->txnid = txnid;
    }
    return err;
}

cairn_err cairn__journal_compact(const char *dir, unsigned flags,
                                 cairn__compact_hook hook, void *hook_ctx,
                                 cairn_compact_result *out, char *detail,
                                 size_t detail_len)
{
    cairn__clear(detail, detail_len);
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (dir == NULL || dir[0] == '\0' || out == NULL ||
        (flags & ~CAIRN_COMPACT_DRY_RUN) != 0) {
        cairn__fmt(detail, detail_len, "bad directory, result or flags");
        return CAIRN_EINVAL;
    }
    if (cairn__crypto_init() != CAIRN_OK) {
        return CAIRN_ECRYPTO;
    }
    if (cairn__guard_std_fds() != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "cannot open /dev/null on fd 0-2");
        return CAIRN_EIO;
    }
    compaction c = {.dir = dir,
                    .dfd = -1,
                    .wfd = -1,
                    .data_fd = -1,
                    .tmp_fd = -1,
                    .gate_fd = -1,
                    .hook = hook,
                    .hook_ctx = hook_ctx};
    struct stat dst;
    cairn_err err = cairn__jdir_open(dir, &c.dfd, &dst, detail, detail_len);
    if (err == CAIRN_OK && (flags & CAIRN_COMPACT_DRY_RUN)) {
        err = dry_run(&c, out, detail, detail_len);
    } else if (err == CAIRN_OK) {
        err = run(&c, out, detail, detail_len);
    }
    finish(&c);
    if (err != CAIRN_OK) {
        memset(out, 0, sizeof(*out));
    }
    return err;
}

cairn_err cairn_journal_compact(const char *dir, unsigned flags,
                                cairn_compact_result *out, char *detail,
                                size_t detail_len)
{
    return cairn__journal_compact(dir, flags, NULL, NULL, out, detail,
                                  detail_len);
}
