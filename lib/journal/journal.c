/*
 * journal.c - open/close a journal directory, the handle's thread
 * synchronisation (cairn_jsync: made and freed with the handle, with the
 * batch settings of group commit, whose protocol is commit/group.c's),
 * and the handle's failure detail.
 */
#include "journal/journal.h"
#include "journal/head.h"
#include "store/xq.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "base/jdir.h"
#include "base/sys.h"
#include "base/wlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define META_FORMAT_KEY "format"
#define META_ID_KEY "journal_id"

cairn_err cairn__jfail(cairn_journal *j, cairn_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(j->detail, sizeof(j->detail), fmt, ap);
    va_end(ap);
    return err;
}

static cairn_err init_conds(cairn_jsync *s)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        return CAIRN_ENOMEM;
    }
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0) {
        rc = pthread_cond_init(&s->queue_cv, &attr);
    }
    pthread_condattr_destroy(&attr);
    return rc == 0 ? CAIRN_OK : CAIRN_ENOMEM;
}

cairn_err cairn__jsync_open(cairn_journal *j)
{
    cairn_jsync *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return CAIRN_ENOMEM;
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return CAIRN_ENOMEM;
    }
    if (pthread_mutex_init(&s->locks_mu, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return CAIRN_ENOMEM;
    }
    if (pthread_mutex_init(&s->names_mu, NULL) != 0) {
        pthread_mutex_destroy(&s->locks_mu);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return CAIRN_ENOMEM;
    }
    if (pthread_mutex_init(&s->head_mu, NULL) != 0) {
        pthread_mutex_destroy(&s->names_mu);
        pthread_mutex_destroy(&s->locks_mu);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return CAIRN_ENOMEM;
    }
    if (init_conds(s) != CAIRN_OK) {
        pthread_mutex_destroy(&s->head_mu);
        pthread_mutex_destroy(&s->names_mu);
        pthread_mutex_destroy(&s->locks_mu);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return CAIRN_ENOMEM;
    }
    s->batch_max = j->opts.batch_max;   /* checked at open */
    s->wait_us = j->opts.batch_wait_us; /* checked at open */
    j->sync = s;
    return CAIRN_OK;
}

void cairn__jsync_close(cairn_journal *j)
{
    cairn_jsync *s = j->sync;
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_slots; i++) {
        free(s->slots[i]);
    }
    free(s->slots);
    for (size_t i = 0; i < CAIRN__NAME_SLOTS; i++) {
        free(s->names[i].run_id);
    }
    pthread_mutex_destroy(&s->head_mu);
    pthread_mutex_destroy(&s->names_mu);
    pthread_cond_destroy(&s->queue_cv);
    pthread_mutex_destroy(&s->locks_mu);
    pthread_mutex_destroy(&s->mu);
    free(s);
    j->sync = NULL;
}

void cairn__publish_detail(cairn_journal *j, const char *text)
{
    pthread_mutex_lock(&j->sync->mu);
    cairn__fmt(j->detail, sizeof(j->detail), "%s", text);
    pthread_mutex_unlock(&j->sync->mu);
}

static cairn_err read_meta(cairn_journal *j)
{
    cairn_txn *txn = NULL;
    cairn_err err = cairn__store_read(j->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    const uint8_t *v;
    size_t vl;
    int found;
    err = cairn__txn_get(txn, CAIRN_DBI_META, META_FORMAT_KEY,
                         strlen(META_FORMAT_KEY), &v, &vl, &found);
    if (err != CAIRN_OK) {
        err = cairn__jfail(j, err, "meta: %s", cairn__store_detail(j->store));
    } else if (!found || vl != 4) {
        err = cairn__jfail(j, CAIRN_ECORRUPT,
                           "not a cairn journal: meta "
                           "\"format\" missing or bad");
    } else if (err == CAIRN_OK &&
               (cairn__load32_be(v) < CAIRN_JOURNAL_FORMAT_MIN ||
                cairn__load32_be(v) > CAIRN_JOURNAL_FORMAT)) {
        err = cairn__jfail(j, CAIRN_EVERSION,
                           "journal format %u, this "
                           "cairn reads formats %d to %d",
                           cairn__load32_be(v), CAIRN_JOURNAL_FORMAT_MIN,
                           CAIRN_JOURNAL_FORMAT);
    } else if (err == CAIRN_OK) {
        j->format = cairn__load32_be(v);
        if (j->format >= 2 && (!cairn__store_has(j->store, CAIRN_DBI_TREE) ||
                               !cairn__store_has(j->store, CAIRN_DBI_SMAP))) {
            err = cairn__jfail(j, CAIRN_ECORRUPT,
                               "journal format %u without its \"tree\" and "
                               "\"smap\" databases",
                               j->format);
        }
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_get(txn, CAIRN_DBI_META, META_ID_KEY,
                             strlen(META_ID_KEY), &v, &vl, &found);
        if (err != CAIRN_OK) {
            err =
                cairn__jfail(j, err, "meta: %s", cairn__store_detail(j->store));
        } else if (!found || vl != CAIRN_JOURNAL_ID_BYTES) {
            err = cairn__jfail(j, CAIRN_ECORRUPT,
                               "meta \"journal_id\" "
                               "missing or bad");
        } else if (err == CAIRN_OK) {
            memcpy(j->journal_id, v, CAIRN_JOURNAL_ID_BYTES);
        }
    }
    cairn__txn_end(txn);
    return err;
}

#define OPEN_FLAGS                                                             \
    (CAIRN_OPEN_READONLY | CAIRN_OPEN_CREATE | CAIRN_OPEN_STRICT |             \
     CAIRN_OPEN_GROUP_READABLE | CAIRN_OPEN_SNAPSHOT |                         \
     CAIRN_OPEN_NO_SHARED_COMMIT)

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

static cairn_err open_store(cairn_journal *j, unsigned flags, char *detail,
                            size_t detail_len)
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

cairn_err cairn_journal_open(const char *dir, unsigned flags,
                             cairn_journal **out, char *detail,
                             size_t detail_len)
{
    cairn_journal_opts opts = CAIRN_JOURNAL_OPTS_INIT;
    opts.flags = flags;
    return cairn_journal_open_opts(dir, &opts, out, detail, detail_len);
}

cairn_err cairn_journal_open_snapshot(const char *dir, const char *tmp_dir,
                                      cairn_journal **out, char *detail,
                                      size_t detail_len)
{
    cairn_journal_opts opts = CAIRN_JOURNAL_OPTS_INIT;
    opts.flags = CAIRN_OPEN_SNAPSHOT;
    opts.tmp_dir = tmp_dir;
    return cairn_journal_open_opts(dir, &opts, out, detail, detail_len);
}

cairn_err cairn_journal_open_opts(const char *dir,
                                  const cairn_journal_opts *opts,
                                  cairn_journal **out, char *detail,
                                  size_t detail_len)
{
    cairn__snapshot_opts snap = {0};
    if (opts != NULL && opts->size >= CAIRN__OPTS_V1_SIZE &&
        opts->size <= sizeof(*opts)) {
        snap.tmp_dir = opts->tmp_dir;
    }
    return cairn__journal_open(dir, opts, &snap, out, detail, detail_len);
}

/* @p in as this library's struct with every default filled in, or
 * CAIRN_EINVAL naming what is wrong. */
static cairn_err resolve_opts(const cairn_journal_opts *in,
                              cairn_journal_opts *o, char *detail,
                              size_t detail_len)
{
    memset(o, 0, sizeof(*o));
    if (in != NULL) {
        if (in->size < CAIRN__OPTS_V1_SIZE || in->size > sizeof(*o)) {
            cairn__fmt(detail, detail_len,
                       "cairn_journal_opts: size %zu (this library knows "
                       "%zu..%zu)",
                       in->size, (size_t)CAIRN__OPTS_V1_SIZE, sizeof(*o));
            return CAIRN_EINVAL;
        }
        memcpy(o, in, in->size);
    }
    o->size = sizeof(*o);
    o->tmp_dir = NULL; /* the snapshot's, passed on by the caller */
    if (o->map_size == 0) {
        o->map_size = CAIRN_MAP_SIZE_DEFAULT;
    } else if (o->map_size < CAIRN_MAP_SIZE_MIN ||
               o->map_size > CAIRN_MAP_SIZE_MAX) {
        cairn__fmt(detail, detail_len,
                   "map_size %llu: not a size in bytes from %llu to %llu",
                   (unsigned long long)o->map_size,
                   (unsigned long long)CAIRN_MAP_SIZE_MIN,
                   (unsigned long long)CAIRN_MAP_SIZE_MAX);
        return CAIRN_EINVAL;
    }
    if (o->batch_max == 0) {
        o->batch_max = CAIRN_BATCH_MAX_DEFAULT;
    } else if (o->batch_max > CAIRN_BATCH_MAX_LIMIT) {
        cairn__fmt(detail, detail_len, "batch_max %u: not from 1 to %u",
                   o->batch_max, CAIRN_BATCH_MAX_LIMIT);
        return CAIRN_EINVAL;
    }
    if (o->batch_wait_us > CAIRN_BATCH_WAIT_US_MAX) {
        cairn__fmt(detail, detail_len, "batch_wait_us %u: not from 0 to %u",
                   o->batch_wait_us, CAIRN_BATCH_WAIT_US_MAX);
        return CAIRN_EINVAL;
    }
    return CAIRN_OK;
}

cairn_err cairn__journal_open(const char *dir, const cairn_journal_opts *opts,
                              cairn__snapshot_opts *snap, cairn_journal **out,
                              char *detail, size_t detail_len)
{
    if (out == NULL) {
        return CAIRN_EINVAL;
    }
    *out = NULL;
    cairn_journal_opts o;
    cairn_err err = resolve_opts(opts, &o, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    unsigned flags = o.flags;
    if (dir == NULL || dir[0] == '\0' || (flags & ~OPEN_FLAGS) != 0 ||
        ((flags & CAIRN_OPEN_SNAPSHOT) && (flags & CAIRN_OPEN_CREATE))) {
        cairn__fmt(detail, detail_len, "bad directory or flags");
        return CAIRN_EINVAL;
    }
    if (flags & CAIRN_OPEN_SNAPSHOT) {
        flags |= CAIRN_OPEN_READONLY;
    }
    if (cairn__crypto_init() != CAIRN_OK) {
        return CAIRN_ECRYPTO;
    }
    /* Before any file is opened: no journal file may land on fd 0-2. */
    if (cairn__guard_std_fds() != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "cannot open /dev/null on fd 0-2");
        return CAIRN_EIO;
    }
    cairn_journal *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return CAIRN_ENOMEM;
    }
    j->dfd = -1;
    j->data_fd = -1;
    j->writers_fd = -1;
    j->opts = o;
    if ((j->dir = strdup(dir)) == NULL || cairn__jsync_open(j) != CAIRN_OK) {
        free(j->dir);
        free(j);
        return CAIRN_ENOMEM;
    }
    j->readonly = (flags & CAIRN_OPEN_READONLY) != 0;
    j->have_boot_id = cairn__boot_id(j->boot_id) == CAIRN_OK;
    if (!j->readonly) {
        j->self_pid = getpid();
        j->have_self_start =
            cairn__proc_start_time(j->self_pid, &j->self_start) == CAIRN_OK;
    }
    /* A snapshot is a private copy read without the journal's lock, for
     * readers who are not its owner: the owner checks do not apply. */
    err = (flags & CAIRN_OPEN_SNAPSHOT)
              ? cairn__store_open_snapshot(dir, snap, &j->store, detail,
                                           detail_len)
              : open_store(j, flags, detail, detail_len);
    if (err == CAIRN_OK) {
        err = read_meta(j);
        if (err != CAIRN_OK) {
            cairn__fmt(detail, detail_len, "%s: %s", dir, j->detail);
        }
    }
    if (err != CAIRN_OK) {
        cairn_journal_close(j);
        return err;
    }
    if (!j->readonly && (flags & CAIRN_OPEN_NO_SHARED_COMMIT) == 0) {
        /* Without the shared queue the handle commits on its own; but a
         * commit.shm that is a symbolic link or not ours is refused. */
        char why[CAIRN__DETAIL_MAX];
        err = cairn__xq_open(j->dfd, dir, &j->data_st, j->sync->batch_max,
                             j->sync->wait_us, &j->xq, why, sizeof(why));
        if (err == CAIRN_EUNSAFE) {
            cairn__fmt(detail, detail_len, "%s", why);
            cairn_journal_close(j);
            return err;
        }
    }
    *out = j;
    return CAIRN_OK;
}

unsigned cairn_journal_warnings(const cairn_journal *journal, char *detail,
                                size_t detail_len)
{
    cairn__clear(detail, detail_len);
    if (journal == NULL) {
        return 0;
    }
    if (journal->warnings != 0) {
        cairn__fmt(detail, detail_len, "%s", journal->warn_detail);
    }
    return journal->warnings;
}

void cairn_journal_close(cairn_journal *journal)
{
    if (journal == NULL) {
        return;
    }
    for (size_t i = 0; i < journal->n_locks; i++) {
        cairn__run_unlock(journal->data_fd, journal->locks[i].run_num,
                          journal->locks[i].fd);
    }
    free(journal->locks);
    cairn__xq_close(journal->xq);
    cairn__jsync_close(journal);
    cairn__store_close(journal->store);
    /* Only after LMDB let go of the environment (jdir.h). */
    if (journal->data_fd >= 0) {
        close(journal->data_fd);
    }
    cairn__writers_unlock(journal->writers_fd, 0);
    if (journal->dfd >= 0) {
        close(journal->dfd);
    }
    free(journal->dir);
    free(journal);
}

/* The calling thread's slot (created on first use); NULL when out of
 * memory or when too many threads asked.  Under sync->mu. */
static cairn_detail_slot *thread_slot(cairn_jsync *s)
{
    pthread_t self = pthread_self();
    for (size_t i = 0; i < s->n_slots; i++) {
        if (pthread_equal(s->slots[i]->thread, self)) {
            return s->slots[i];
        }
    }
    if (s->n_slots >= 1024) {
        return NULL;
    }
    cairn_detail_slot **n =
        realloc(s->slots, (s->n_slots + 1) * sizeof(*s->slots));
    if (n == NULL) {
        return NULL;
    }
    s->slots = n;
    cairn_detail_slot *slot = calloc(1, sizeof(*slot));
    if (slot == NULL) {
        return NULL;
    }
    slot->thread = self;
    s->slots[s->n_slots++] = slot;
    return slot;
}

const char *cairn_journal_errdetail(const cairn_journal *journal)
{
    if (journal == NULL) {
        return "";
    }
    /* A copy for the calling thread, taken under the lock that threads
     * publishing a transition's failure hold. */
    cairn_jsync *s = journal->sync;
    pthread_mutex_lock(&s->mu);
    cairn_detail_slot *slot = thread_slot(s);
    if (slot != NULL) {
        memcpy(slot->text, journal->detail, sizeof(slot->text));
    }
    pthread_mutex_unlock(&s->mu);
    return slot != NULL ? slot->text : journal->detail;
}

void cairn_journal_id(const cairn_journal *journal,
                      uint8_t out[CAIRN_JOURNAL_ID_BYTES])
{
    memcpy(out, journal->journal_id, CAIRN_JOURNAL_ID_BYTES);
}

void cairn_journal_set_signer(cairn_journal *journal,
                              const cairn_signer *signer)
{
    journal->signer = signer;
    cairn__head_forget(journal); /* trust was under the old key */
}

int cairn__op_claimer_alive(const cairn_op_st *op)
{
    return cairn__proc_alive(op->holder_pid, op->holder_start, op->holder_boot,
                             op->host);
}
