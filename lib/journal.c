/*
 * journal.c - open/close a journal directory, the handle's failure
 * detail, and the lookups the commit path shares.
 */
#include "journal.h"
#include "xq.h"

#include "bytes.h"
#include "crypto.h"
#include "sys.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define META_FORMAT_KEY "format"
#define META_ID_KEY "journal_id"
#define META_CREATED_KEY "created_ns"

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

static cairn_err init_meta(cairn_txn *txn, void *ctx)
{
    cairn_journal *j = ctx;
    const uint8_t *v;
    size_t vl;
    int found;
    cairn_err err = cairn__txn_get(txn, CAIRN_DBI_META, META_ID_KEY,
                                   strlen(META_ID_KEY), &v, &vl, &found);
    if (err != CAIRN_OK || found) {
        return err;
    }
    uint8_t fmt[4], created[8];
    cairn__random(j->journal_id, sizeof(j->journal_id));
    cairn__store32_be(fmt, CAIRN_FORMAT_VERSION);
    cairn__store64_be(created, cairn__wall_ns());
    err = cairn__txn_put(txn, CAIRN_DBI_META, META_ID_KEY, strlen(META_ID_KEY),
                         j->journal_id, sizeof(j->journal_id),
                         CAIRN_PUT_NOOVERWRITE);
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_META, META_FORMAT_KEY,
                             strlen(META_FORMAT_KEY), fmt, sizeof(fmt), 0);
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_META, META_CREATED_KEY,
                             strlen(META_CREATED_KEY), created, sizeof(created),
                             0);
    }
    return err;
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

static cairn_err check_dir(const char *dir, unsigned flags, char *detail,
                           size_t detail_len)
{
    char path[4096];
    struct stat st;
    int n = snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        cairn__fmt(detail, detail_len, "journal path too long");
        return CAIRN_EINVAL;
    }
    if (stat(path, &st) == 0) {
        return CAIRN_OK;
    }
    if (errno == ENOENT && (flags & CAIRN_OPEN_CREATE) != 0 &&
        (flags & CAIRN_OPEN_READONLY) == 0) {
        return cairn__journal_create(dir, detail, detail_len);
    }
    cairn__fmt(detail, detail_len, "%s: no journal here (%s)", dir,
               errno == ENOENT ? "no data.mdb" : strerror(errno));
    return CAIRN_EIO;
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
    if (dir == NULL || dir[0] == '\0' ||
        (flags & ~(CAIRN_OPEN_READONLY | CAIRN_OPEN_CREATE |
                   CAIRN_OPEN_SNAPSHOT)) != 0 ||
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
    cairn_err err = check_dir(dir, flags, detail, detail_len);
    if (err == CAIRN_OK && (flags & CAIRN_OPEN_READONLY) == 0) {
        err = cairn__prealloc_lock_file(dir, detail, detail_len);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    cairn_journal *j = calloc(1, sizeof(*j));
    if (j == NULL || (j->dir = strdup(dir)) == NULL ||
        cairn__jsync_open(j) != CAIRN_OK) {
        if (j != NULL) {
            free(j->dir);
        }
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
    if (flags & CAIRN_OPEN_SNAPSHOT) {
        err = cairn__store_open_snapshot(dir, snap, &j->store, detail,
                                         detail_len);
    } else {
        err = cairn__store_open(dir, j->readonly, !j->readonly, &j->store,
                                detail, detail_len);
    }
    if (err == CAIRN_OK && !j->readonly) {
        err = cairn__store_write(j->store, init_meta, j);
        if (err != CAIRN_OK) {
            cairn__fmt(detail, detail_len, "%s: %s", dir,
                       cairn__store_detail(j->store));
        }
    }
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
        /* Without the shared queue the handle commits on its own. */
        char why[256];
        (void)cairn__xq_open(dir, j->sync->batch_max, j->sync->wait_us, &j->xq,
                             why, sizeof(why));
    }
    *out = j;
    return CAIRN_OK;
}

void cairn_journal_close(cairn_journal *journal)
{
    if (journal == NULL) {
        return;
    }
    for (size_t i = 0; i < journal->n_locks; i++) {
        cairn__run_unlock(journal->locks[i].fd);
    }
    free(journal->locks);
    cairn__xq_close(journal->xq);
    cairn__jsync_close(journal);
    cairn__store_close(journal->store);
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
