/*
 * verify_all.c - cairn_verify_all(): the directory check and every run of
 * a journal, spread over threads.
 *
 * The runs database is read, in run-number order, through one shared
 * cursor (a read-only transaction may pass between threads under
 * MDB_NOTLS; the mutex keeps it to one at a time).  A worker claims the
 * next run under the mutex, verifies it in a read transaction of its own
 * with the mutex released, and stores the report in a ring of WINDOW
 * slots per thread; reports leave the ring, in claim order, through the
 * caller's callback.  A worker does not claim a run more than the ring
 * holds ahead of the oldest undelivered one, so memory is bounded however
 * many runs there are.  One worker also takes the directory check, which
 * proves that every checkpoint sits at a position of the run it names:
 * that is what lets each run seek to its own checkpoints
 * (VRUN_DIR_CHECKED) instead of scanning the journal's.
 */
#include "verify.h"

#include "bytes.h"
#include "journal.h"

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
    pthread_cond_t room; /* a slot was delivered */
    cairn_txn *list_txn; /* the shared run listing */
    cairn_cursor *list;
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
    if (vl < 12 || v[0] != 1) {
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

/* Claim the next run: its id in @p run_id (or "" with a TAMPERED report
 * already in @p rep when its state does not name it).  Under a->mu.
 * @return 1 claimed, 0 no more runs (or a failure was recorded). */
static int claim(vall *a, char *run_id, cairn_verify_report *rep)
{
    const uint8_t *k, *v;
    size_t kl, vl;
    int found = 0;
    cairn_err err;
    if (!a->list_started) {
        a->list_started = 1;
        err = cairn__cursor_seek(a->list, NULL, 0, &k, &kl, &v, &vl, &found);
    } else {
        err = cairn__cursor_next(a->list, &k, &kl, &v, &vl, &found);
    }
    if (err != CAIRN_OK) {
        char text[256];
        cairn__fmt(text, sizeof(text), "listing runs: %s (%s)",
                   cairn_strerror(err), cairn_errname(err));
        fail(a, err, text);
        return 0;
    }
    if (!found) {
        a->list_done = 1;
        return 0;
    }
    run_id[0] = '\0';
    if (!state_run_id(v, vl, run_id)) {
        char num[32];
        uint64_t n = kl == 8 ? cairn__load64_be(k) : 0;
        cairn__fmt(num, sizeof(num), "run number %llu", (unsigned long long)n);
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
    err = cairn__verify_run_txn(a->j, txn, run_id, a->pinned, VRUN_DIR_CHECKED,
                                memo, rep, NULL);
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
    cairn_err err = cairn_verify_directory(a->j, a->dir);
    pthread_mutex_lock(&a->mu);
    if (err != CAIRN_OK) {
        fail(a, err, "verifying the directory");
    }
}

static void *worker(void *arg)
{
    vall *a = arg;
    char run_id[CAIRN_MAX_ID + 1];
    cairn_plan_memo memo = {NULL, 0, NULL};
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
    err = cairn__store_read(journal->store, &a.list_txn);
    if (err == CAIRN_OK) {
        err = cairn__cursor_open(a.list_txn, CAIRN_DBI_RUNS, &a.list);
    }
    if (err == CAIRN_OK) {
        run_workers(&a, n);
        err = a.err;
    } else {
        cairn__fmt(a.err_detail, sizeof(a.err_detail), "listing runs: %s (%s)",
                   cairn_strerror(err), cairn_errname(err));
    }
    cairn__cursor_close(a.list);
    cairn__txn_end(a.list_txn);
    pthread_cond_destroy(&a.room);
    pthread_mutex_destroy(&a.mu);
    free(a.ring);
    if (err != CAIRN_OK && err != CAIRN_ENOMEM) {
        return cairn__jfail(journal, err, "%s", a.err_detail);
    }
    return err;
}
