/*
 * verify_all.c - cairn_verify_all(): the directory check and every run of
 * a journal, spread over threads.
 *
 * The runs database is read in run-number order, one entry per short
 * read transaction (so that no reader stays open for the whole
 * verification of a live journal).  A worker claims the next run under
 * the mutex, verifies it in a read transaction of its own
 * with the mutex released, and stores the report in a ring of WINDOW
 * slots per thread; reports leave the ring, in claim order, through the
 * caller's callback.  A worker does not claim a run more than the ring
 * holds ahead of the oldest undelivered one, so memory is bounded however
 * many runs there are.  One worker also takes the directory check, which
 * proves that every checkpoint sits at a position of the run it names:
 * that is what lets each run seek to its own checkpoints
 * (VRUN_DIR_CHECKED) instead of scanning the journal's.  In format 2 the
 * run checks also compare each record's leaf hash with the log tree's
 * stored leaf, and the directory check builds the tree from those stored
 * leaves: every record is hashed once, by its run's check (the index is
 * a bijection, so every record belongs to exactly one run).
 */
#include "verify/verify.h"

#include "base/bytes.h"
#include "journal/journal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW 4u /* ring slots per thread */

typedef struct slot {
    int ready;
    cairn_verify_report rep;
} slot;

typedef struct vall {
    cairn_journal *j;
    const cairn_pubkey *pinned;
    cairn_verify_each_fn each;
    void *ctx;
    cairn_verify_report *dir;
    pthread_mutex_t mu;
    pthread_cond_t room;   /* a slot was delivered */
    uint8_t last_key[511]; /* the runs key claimed last */
    size_t last_len;
    int list_started, list_done, dir_taken, stop;
    uint64_t claimed, delivered;
    slot *ring;
    size_t ring_len;
    cairn_err err; /* the first failure that is not a verdict */
    char err_detail[CAIRN__DETAIL_MAX];
} vall;

/* Record the first hard failure and stop everyone.  Under a->mu. */
static void fail(vall *a, cairn_err err, const char *detail)
{
    if (a->err == CAIRN_OK) {
        a->err = err;
        cairn__fmt(a->err_detail, sizeof(a->err_detail), "%s", detail);
    }
    a->stop = 1;
    pthread_cond_broadcast(&a->room);
}

/* The run id of a state blob (offset 10, str16; docs/FORMAT.md section
 * 9), or 0 when the blob is too malformed to name its run. */
static int state_run_id(const uint8_t *v, size_t vl, char *out)
{
    if (vl < 12 || (v[0] != 1 && v[0] != 2)) { /* section 9 or 23.2 */
        return 0;
    }
    size_t n = (size_t)v[10] << 8 | v[11];
    if (n == 0 || n > CAIRN_MAX_ID || n > vl - 12 ||
        memchr(v + 12, '\0', n) != NULL) {
        return 0;
    }
    memcpy(out, v + 12, n);
    out[n] = '\0';
    return 1;
}

/* LMDB's default key order: memcmp, then the shorter first. */
static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : al < bl ? -1 : al > bl ? 1 : 0;
}

/* The runs-database entry after the last one claimed, in a short read
 * transaction of its own (no reader stays open for the whole verification
 * of a live journal).  Under a->mu. */
static cairn_err next_entry(vall *a, char *run_id, uint64_t *run_num,
                            int *found)
{
    cairn_txn *txn = NULL;
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    cairn_err err = cairn__store_read(a->j->store, &txn);
    if (err == CAIRN_OK) {
        err = cairn__cursor_open(txn, CAIRN_DBI_RUNS, &cur);
    }
    if (err == CAIRN_OK) {
        err = cairn__cursor_seek(cur, a->list_started ? a->last_key : NULL,
                                 a->last_len, &k, &kl, &v, &vl, found);
    }
    if (err == CAIRN_OK && *found && a->list_started && kl == a->last_len &&
        memcmp(k, a->last_key, kl) == 0) {
        err = cairn__cursor_next(cur, &k, &kl, &v, &vl, found);
    }
    if (err == CAIRN_OK && *found &&
        (kl > sizeof(a->last_key) ||
         (a->list_started && key_cmp(k, kl, a->last_key, a->last_len) <= 0))) {
        /* Keys at most 511 bytes, each above the last: a damaged B-tree
         * can answer otherwise, and the listing must still end. */
        err = CAIRN_ECORRUPT;
    }
    if (err == CAIRN_OK && *found) {
        memcpy(a->last_key, k, kl);
        a->last_len = kl;
        a->list_started = 1;
        *run_num = kl == 8 ? cairn__load64_be(k) : 0;
        if (!state_run_id(v, vl, run_id)) {
            run_id[0] = '\0';
        }
    }
    cairn__cursor_close(cur);
    cairn__txn_end(txn);
    return err;
}

/* Claim the next run: its id in @p run_id (or "" with a TAMPERED report
 * already in @p rep when its state does not name it).  Under a->mu.
 * @return 1 claimed, 0 no more runs (or a failure was recorded). */
static int claim(vall *a, char *run_id, cairn_verify_report *rep)
{
    uint64_t run_num = 0;
    int found = 0;
    cairn_err err = next_entry(a, run_id, &run_num, &found);
    if (err != CAIRN_OK) {
        char text[256];
        cairn__fmt(text, sizeof(text), "listing runs: %s (%s)",
                   err == CAIRN_ECORRUPT
                       ? "the runs database is damaged (a key out of order)"
                       : cairn_strerror(err),
                   cairn_errname(err));
        fail(a, err, text);
        return 0;
    }
    if (!found) {
        a->list_done = 1;
        return 0;
    }
    if (run_id[0] == '\0') {
        char num[32];
        cairn__fmt(num, sizeof(num), "run number %llu",
                   (unsigned long long)run_num);
        cairn__report_init(rep, num, a->pinned);
        cairn__report_tampered(rep, 0, 0, "state", "a run state", "",
                               "the state stored under %s does not name its "
                               "run",
                               num);
    }
    return 1;
}

/* Verify one claimed run into @p rep, mutex released. */
static cairn_err verify_one(vall *a, const char *run_id, cairn_plan_memo *memo,
                            cairn_verify_report *rep)
{
    cairn_txn *txn = NULL;
    cairn__report_init(rep, run_id, a->pinned);
    cairn_err err = cairn__store_read(a->j->store, &txn);
    if (err != CAIRN_OK) {
        if (err != CAIRN_ENOMEM) {
            cairn__report_error(rep,
                                "journal unreadable: beginning a read "
                                "transaction: %s (%s)",
                                cairn_strerror(err), cairn_errname(err));
        }
        return err == CAIRN_ENOMEM ? err : CAIRN_OK;
    }
    err = cairn__verify_run_txn(a->j, txn, run_id, a->pinned, VRUN_ALL, memo,
                                rep, NULL);
    cairn__txn_end(txn);
    if (err == CAIRN_ENORUN) {
        cairn__report_init(rep, run_id, a->pinned);
        cairn__report_tampered(rep, 0, 0, "names", "", "",
                               "the run has a state but its name does not "
                               "lead to it");
        err = CAIRN_OK;
    }
    return err;
}

/* Hand the ready reports at the front of the ring to the callback, in
 * claim order.  Under a->mu. */
static void deliver(vall *a)
{
    for (;;) {
        slot *s = &a->ring[a->delivered % a->ring_len];
        if (a->delivered == a->claimed || !s->ready) {
            return;
        }
        s->ready = 0;
        a->delivered++;
        pthread_cond_broadcast(&a->room);
        if (!a->stop && a->each(a->ctx, &s->rep) != 0) {
            a->stop = 1; /* the caller asked to stop: not a failure */
            pthread_cond_broadcast(&a->room);
        }
    }
}

static void take_directory(vall *a)
{
    a->dir_taken = 1;
    pthread_mutex_unlock(&a->mu);
    cairn_err err = cairn__verify_dir(a->j, a->pinned, 1, a->dir);
    pthread_mutex_lock(&a->mu);
    if (err != CAIRN_OK) {
        fail(a, err, "verifying the directory");
    }
}

static void *worker(void *arg)
{
    vall *a = arg;
    char run_id[CAIRN_MAX_ID + 1];
    cairn_plan_memo memo = {NULL, 0, NULL, {NULL, 0, NULL}};
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        if (!a->dir_taken) {
            take_directory(a);
            continue;
        }
        if (a->list_done) {
            break;
        }
        if (a->claimed - a->delivered >= a->ring_len) {
            pthread_cond_wait(&a->room, &a->mu);
            continue;
        }
        slot *s = &a->ring[a->claimed % a->ring_len];
        if (!claim(a, run_id, &s->rep)) {
            continue;
        }
        a->claimed++;
        cairn_err err = CAIRN_OK;
        if (run_id[0] != '\0') {
            pthread_mutex_unlock(&a->mu);
            err = verify_one(a, run_id, &memo, &s->rep);
            pthread_mutex_lock(&a->mu);
        }
        if (err != CAIRN_OK) {
            char text[CAIRN_MAX_ID + 64];
            cairn__fmt(text, sizeof(text), "verifying run %s: %s", run_id,
                       cairn_strerror(err));
            fail(a, err, text);
        }
        s->ready = 1;
        deliver(a);
    }
    pthread_mutex_unlock(&a->mu);
    cairn__plan_memo_free(&memo);
    return NULL;
}

static unsigned thread_count(unsigned threads)
{
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 1 ? 1u : (unsigned)(n > 64 ? 64 : n);
    }
    return threads > CAIRN_VERIFY_MAX_THREADS ? CAIRN_VERIFY_MAX_THREADS
                                              : threads;
}

/* Run the workers: the caller's thread and @p n - 1 more (fewer when a
 * thread cannot be started: the work is shared, not lost). */
static void run_workers(vall *a, unsigned n)
{
    pthread_t tid[CAIRN_VERIFY_MAX_THREADS];
    unsigned started = 0;
    for (unsigned i = 1; i < n; i++) {
        if (pthread_create(&tid[started], NULL, worker, a) != 0) {
            break;
        }
        started++;
    }
    (void)worker(a);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
    }
}

static cairn_err start(vall *a, unsigned n)
{
    a->ring_len = (size_t)n * WINDOW;
    a->ring = calloc(a->ring_len, sizeof(*a->ring));
    if (a->ring == NULL) {
        return CAIRN_ENOMEM;
    }
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a->ring);
        return CAIRN_ENOMEM;
    }
    if (pthread_cond_init(&a->room, NULL) != 0) {
        pthread_mutex_destroy(&a->mu);
        free(a->ring);
        return CAIRN_ENOMEM;
    }
    return CAIRN_OK;
}

/* After the runs: every imported run (docs/FORMAT.md section 21), in the
 * order of their ids, each re-verified from its stored bundle. */
static cairn_err verify_imports(vall *a)
{
    cairn_store *store = a->j->store;
    if (!cairn__store_has(store, CAIRN_DBI_IMPORTS)) {
        return CAIRN_OK;
    }
    cairn_txn *txn = NULL;
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found = 0;
    cairn_err err = cairn__store_read(store, &txn);
    if (err == CAIRN_OK) {
        err = cairn__cursor_open(txn, CAIRN_DBI_IMPORTS, &cur);
    }
    if (err == CAIRN_OK) {
        err = cairn__cursor_seek(cur, NULL, 0, &k, &kl, &v, &vl, &found);
    }
    while (err == CAIRN_OK && found) {
        char id[CAIRN_MAX_ID + 1];
        cairn_verify_report rep;
        if (kl == 0 || kl > CAIRN_MAX_ID || memchr(k, 0, kl) != NULL) {
            cairn__report_init(&rep, "(malformed import key)", a->pinned);
            cairn__report_tampered(&rep, 0, 0, "imports", NULL, NULL,
                                   "the imports database holds a key that "
                                   "is no run id");
        } else {
            memcpy(id, k, kl);
            id[kl] = '\0';
            err = cairn__verify_import(a->j, txn, id, a->pinned, &rep);
        }
        if (err == CAIRN_OK && a->each(a->ctx, &rep)) {
            break;
        }
        if (err == CAIRN_OK) {
            err = cairn__cursor_next(cur, &k, &kl, &v, &vl, &found);
        }
    }
    if (err != CAIRN_OK) {
        cairn__fmt(a->err_detail, sizeof(a->err_detail), "imports: %s",
                   cairn__store_detail(store));
    }
    cairn__cursor_close(cur);
    cairn__txn_end(txn);
    return err;
}

cairn_err cairn_verify_all(cairn_journal *journal, const cairn_pubkey *pinned,
                           unsigned threads, cairn_verify_each_fn each,
                           void *ctx, cairn_verify_report *dir)
{
    if (dir != NULL) {
        memset(dir, 0, sizeof(*dir));
    }
    if (journal == NULL || each == NULL || dir == NULL) {
        return CAIRN_EINVAL;
    }
    vall a;
    memset(&a, 0, sizeof(a));
    a.j = journal;
    a.pinned = pinned;
    a.each = each;
    a.ctx = ctx;
    a.dir = dir;
    unsigned n = thread_count(threads);
    cairn_err err = start(&a, n);
    if (err != CAIRN_OK) {
        return err;
    }
    run_workers(&a, n);
    if (a.err == CAIRN_OK && !a.stop) {
        a.err = verify_imports(&a);
    }
    err = a.err;
    pthread_cond_destroy(&a.room);
    pthread_mutex_destroy(&a.mu);
    free(a.ring);
    if (err != CAIRN_OK && err != CAIRN_ENOMEM) {
        return cairn__jfail(journal, err, "%s", a.err_detail);
    }
    return err;
}
