/*
 * journal.c - open/close a journal directory, the handle's failure
 * detail, and the lookups the commit path shares.
 */
#include "journal/journal.h"
#include "store/xq.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "base/jdir.h"
#include "base/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define META_FORMAT_KEY "format"
#define META_ID_KEY "journal_id"

cairn_err cairn__jfail(cairn_journal *j, cairn_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(cairn__jdetail(j), CAIRN__DETAIL_MAX, fmt, ap);
    va_end(ap);
    return err;
}

char *cairn__jdetail(cairn_journal *j)
{
    return j->sink != NULL ? j->sink : j->detail;
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
    if (err == CAIRN_OK && (!found || vl != 4)) {
        err = cairn__jfail(j, CAIRN_ECORRUPT,
                           "not a cairn journal: meta "
                           "\"format\" missing or bad");
    } else if (err == CAIRN_OK && cairn__load32_be(v) != CAIRN_FORMAT_VERSION) {
        err = cairn__jfail(j, CAIRN_EVERSION,
                           "journal format %u, this "
                           "cairn reads format %d",
                           cairn__load32_be(v), CAIRN_FORMAT_VERSION);
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_get(txn, CAIRN_DBI_META, META_ID_KEY,
                             strlen(META_ID_KEY), &v, &vl, &found);
        if (err == CAIRN_OK && (!found || vl != CAIRN_JOURNAL_ID_BYTES)) {
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
     CAIRN_OPEN_GROUP_READABLE | CAIRN_OPEN_SNAPSHOT)

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
        err = cairn__journal_create(j->dfd, j->dir, mode, detail, detail_len);
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

static cairn_err open_store(cairn_journal *j, unsigned flags, char *detail,
                            size_t detail_len)
{
    checked_files cf;
    char path[64];
    memset(&cf, 0, sizeof(cf));
    cairn_err err = open_dir(j, flags, detail, detail_len);
    if (err == CAIRN_OK) {
        err = check_files(j, flags, &cf, detail, detail_len);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    /* LMDB opens by path: give it the checked directory itself. */
    cairn__fd_path(j->dfd, j->dir, path, sizeof(path));
    err = cairn__store_open(path, j->readonly, 0,
                            cairn__jdir_file_mode(&j->data_st), &j->store,
                            detail, detail_len);
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
    cairn__snapshot_opts snap = {0};
    return cairn__journal_open(dir, flags, &snap, out, detail, detail_len);
}

cairn_err cairn_journal_open_snapshot(const char *dir, const char *tmp_dir,
                                      cairn_journal **out, char *detail,
                                      size_t detail_len)
{
    cairn__snapshot_opts snap = {.tmp_dir = tmp_dir};
    return cairn__journal_open(dir, CAIRN_OPEN_SNAPSHOT, &snap, out, detail,
                               detail_len);
}

cairn_err cairn__journal_open(const char *dir, unsigned flags,
                              cairn__snapshot_opts *snap, cairn_journal **out,
                              char *detail, size_t detail_len)
{
    if (out == NULL) {
        return CAIRN_EINVAL;
    }
    *out = NULL;
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
    cairn_err err = (flags & CAIRN_OPEN_SNAPSHOT)
                        ? cairn__store_open_snapshot(dir, snap, &j->store,
                                                     detail, detail_len)
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
    if (!j->readonly) {
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
}

cairn_err cairn__lookup_run(cairn_journal *j, cairn_txn *txn,
                            const char *run_id, uint64_t *run_num)
{
    const uint8_t *v;
    size_t vl;
    int found;
    *run_num = 0;
    size_t n = strlen(run_id);
    if (n == 0 || n > CAIRN_MAX_ID) {
        return cairn__jfail(j, CAIRN_ENORUN, "no run \"%.*s\"",
                            (int)(n > 64 ? 64 : n), run_id);
    }
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_NAMES, run_id, n, &v, &vl, &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (!found) {
        return cairn__jfail(j, CAIRN_ENORUN, "no run \"%s\"", run_id);
    }
    if (vl != 8) {
        return cairn__jfail(j, CAIRN_ECORRUPT, "run \"%s\": bad name entry",
                            run_id);
    }
    *run_num = cairn__load64_be(v);
    return CAIRN_OK;
}

cairn_err cairn__load_state(cairn_journal *j, cairn_txn *txn, uint64_t run_num,
                            cairn_state *st)
{
    uint8_t key[8];
    const uint8_t *v;
    size_t vl;
    int found;
    char why[256];
    cairn__store64_be(key, run_num);
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_RUNS, key, sizeof(key), &v, &vl, &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (!found) {
        return cairn__jfail(j, CAIRN_ECORRUPT, "run %llu: state missing",
                            (unsigned long long)run_num);
    }
    err = cairn__state_decode(v, vl, st, why, sizeof(why));
    if (err == CAIRN_OK && st->run_num != run_num) {
        cairn__state_free(st);
        cairn__fmt(why, sizeof(why), "state names run %llu",
                   (unsigned long long)st->run_num);
        err = CAIRN_ECORRUPT;
    }
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "run %llu: %s", (unsigned long long)run_num,
                            why);
    }
    return CAIRN_OK;
}

cairn_err cairn__index_get(cairn_journal *j, cairn_txn *txn, uint64_t run_num,
                           uint64_t seq, uint64_t *position, int *found)
{
    uint8_t key[16];
    const uint8_t *v;
    size_t vl;
    cairn__store64_be(key, run_num);
    cairn__store64_be(key + 8, seq);
    *position = 0;
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_INDEX, key, sizeof(key), &v, &vl, found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (*found) {
        if (vl != 8) {
            return cairn__jfail(
                j, CAIRN_ECORRUPT, "run %llu seq %llu: bad index entry",
                (unsigned long long)run_num, (unsigned long long)seq);
        }
        *position = cairn__load64_be(v);
    }
    return CAIRN_OK;
}

int cairn__op_claimer_alive(const cairn_op_st *op)
{
    return cairn__proc_alive(op->holder_pid, op->holder_start, op->holder_boot,
                             op->host);
}
