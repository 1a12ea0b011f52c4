/*
 * test_group.c - group commit with threads: transitions from several
 * threads on one handle share write transactions.  Every acknowledged
 * transition is present exactly once, replay equals the materialised state
 * and every run verifies under the pinned key; transitions on one run stay
 * strictly validated in order; MAP_FULL while threads append loses and
 * duplicates nothing; the run lock is shared by the threads of a handle.
 * (Hand-built batches: test_group_batch.c.)
 */
#include "testutil.h"

#include "helpers/group_fixture.h"

#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>

#define THREADS 8
#define TASKS 12

/* ---- workers ------------------------------------------------------------ */

typedef struct worker {
    gfix *f;
    char run[32];
    unsigned tasks;
    size_t reason_len; /* > 0: fail each task once with a long reason */
    pthread_barrier_t *start;
    cairn_err bad; /* first unexpected result */
    int bad_line;
    unsigned acked; /* acknowledged transitions */
    unsigned claimed[64];
} worker;

#define EXPECT(w, call, want)                                                  \
    do {                                                                       \
        cairn_err got_ = (call);                                               \
        if (got_ != (want)) {                                                  \
            (w)->bad = got_ == CAIRN_OK ? CAIRN_ERR_COUNT_ : got_;             \
            (w)->bad_line = __LINE__;                                          \
            return NULL;                                                       \
        }                                                                      \
        (w)->acked += got_ == CAIRN_OK;                                        \
    } while (0)

static cairn_err claim(worker *w, cairn_claim_result *r)
{
    return cairn_claim(w->f->j, w->run, -1, CAIRN_CLAIM_NORMAL, NULL, NULL, r);
}

static cairn_err receipt(worker *w, uint32_t seq, cairn_outcome outcome,
                         const char *reason)
{
    char n[16];
    snprintf(n, sizeof(n), "%u", seq);
    cairn_kv ev[] = {{"seq", n}};
    cairn_receipt r = {.seq = seq,
                       .outcome = outcome,
                       .reason = reason,
                       .evidence = ev,
                       .n_evidence = 1};
    if (outcome == CAIRN_OUTCOME_FAILED) {
        r.error_class = CAIRN_CLASS_RETRYABLE;
    }
    return cairn_receipt_record(w->f->j, w->run, &r, NULL);
}

/* One thread, one run: preflight, accept, then every task. */
static void *own_run(void *arg)
{
    worker *w = arg;
    cairn_claim_result r;
    char *reason = calloc(1, w->reason_len + 1);
    memset(reason, 'r', w->reason_len);
    pthread_barrier_wait(w->start);
    for (uint32_t seq = 0; seq <= w->tasks; seq++) {
        if (w->reason_len > 0 && seq > 0) {
            EXPECT(w, claim(w, &r), CAIRN_OK);
            EXPECT(w, receipt(w, seq, CAIRN_OUTCOME_FAILED, reason), CAIRN_OK);
        }
        EXPECT(w, claim(w, &r), CAIRN_OK);
        if (r.seq != seq) {
            w->bad = CAIRN_EORDER;
            w->bad_line = __LINE__;
            break;
        }
        EXPECT(w, receipt(w, seq, CAIRN_OUTCOME_COMPLETED, NULL), CAIRN_OK);
        if (seq == 0) {
            EXPECT(w, cairn_accept_preflight(w->f->j, w->run, "pf", NULL),
                   CAIRN_OK);
        }
    }
    free(reason);
    return NULL;
}

static void run_workers(worker *w, size_t n, void *(*fn)(void *))
{
    pthread_t t[THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (size_t i = 0; i < n; i++) {
        w[i].start = &start;
        assert_int_equal(pthread_create(&t[i], NULL, fn, &w[i]), 0);
    }
    for (size_t i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
    pthread_barrier_destroy(&start);
    for (size_t i = 0; i < n; i++) {
        if (w[i].bad != CAIRN_OK) {
            fail_msg("thread %zu: %s at line %d (%s)", i,
                     cairn_errname(w[i].bad), w[i].bad_line,
                     cairn_journal_errdetail(w[i].f->j));
        }
    }
}

static void test_threads_on_their_own_runs(void **state)
{
    gfix *f = *state;
    worker w[THREADS];
    memset(w, 0, sizeof(w));
    for (size_t i = 0; i < THREADS; i++) {
        w[i].f = f;
        w[i].tasks = TASKS;
        snprintf(w[i].run, sizeof(w[i].run), "own-%zu", i);
        create_run(f, w[i].run, 1, TASKS);
    }
    cairn_journal_info before = info(f);
    run_workers(w, THREADS, own_run);
    cairn_journal_info after = info(f);
    uint64_t recs = after.records - before.records;
    uint64_t commits = after.last_txnid - before.last_txnid;
    assert_int_equal(recs, THREADS * (3 + 2 * TASKS));
    for (size_t i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].acked, 3 + 2 * TASKS);
        assert_pattern(f, w[i].run, TASKS);
        assert_verified(f, w[i].run);
    }
    /* Batching happened: fewer commits than records. */
    assert_true(commits < recs);
    assert_true(after.checkpoints - before.checkpoints <= recs);
    assert_int_equal(f->j->n_locks, 0);
}

/* Batches of at most two requests: most threads wait while their requests
 * are still queued behind other batches, and each must be woken to lead
 * or to return (no lost wake-up: every worker finishes). */
static void test_small_batches_with_threads(void **state)
{
    gfix *f = *state;
    cairn_journal_close(f->j);
    f->opts.batch_max = 2;
    open_journal(f);
    assert_int_equal(f->j->sync->batch_max, 2);
    worker w[THREADS];
    memset(w, 0, sizeof(w));
    for (size_t i = 0; i < THREADS; i++) {
        w[i].f = f;
        w[i].tasks = TASKS;
        snprintf(w[i].run, sizeof(w[i].run), "small-%zu", i);
        create_run(f, w[i].run, 1, TASKS);
    }
    cairn_journal_info before = info(f);
    run_workers(w, THREADS, own_run);
    cairn_journal_info after = info(f);
    uint64_t recs = after.records - before.records;
    assert_int_equal(recs, THREADS * (3 + 2 * TASKS));
    assert_true(after.last_txnid - before.last_txnid >= recs / 2);
    for (size_t i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].acked, 3 + 2 * TASKS);
        assert_pattern(f, w[i].run, TASKS);
        assert_verified(f, w[i].run);
    }
    assert_int_equal(f->j->n_locks, 0);
}

/* Many threads race on the head of one run: each claim either wins or
 * is refused (ESTATE: another thread's claim is pending). */
static void *same_run(void *arg)
{
    worker *w = arg;
    cairn_claim_result r;
    pthread_barrier_wait(w->start);
    for (;;) {
        cairn_err err = claim(w, &r);
        if (err == CAIRN_ENOTHING) {
            break;
        }
        if (err == CAIRN_ESTATE) {
            sched_yield();
            continue;
        }
        EXPECT(w, err, CAIRN_OK);
        if (r.seq >= 64 || r.attempt != 1) {
            w->bad = CAIRN_EATTEMPT;
            w->bad_line = __LINE__;
            return NULL;
        }
        w->claimed[r.seq]++;
        EXPECT(w, receipt(w, r.seq, CAIRN_OUTCOME_COMPLETED, NULL), CAIRN_OK);
    }
    return NULL;
}

static void test_threads_on_one_run(void **state)
{
    gfix *f = *state;
    const unsigned tasks = 40;
    worker w[THREADS];
    memset(w, 0, sizeof(w));
    create_run(f, "shared", 1, tasks);
    worker main_w = {.f = f};
    snprintf(main_w.run, sizeof(main_w.run), "shared");
    cairn_claim_result r;
    assert_int_equal(claim(&main_w, &r), CAIRN_OK);
    assert_int_equal(receipt(&main_w, 0, CAIRN_OUTCOME_COMPLETED, NULL),
                     CAIRN_OK);
    assert_int_equal(cairn_accept_preflight(f->j, "shared", "pf", NULL),
                     CAIRN_OK);
    for (size_t i = 0; i < THREADS; i++) {
        w[i].f = f;
        snprintf(w[i].run, sizeof(w[i].run), "shared");
    }
    cairn_journal_info before = info(f);
    run_workers(w, THREADS, same_run);
    cairn_journal_info after = info(f);
    unsigned total = 0;
    for (uint32_t seq = 1; seq <= tasks; seq++) {
        unsigned n = 0;
        for (size_t i = 0; i < THREADS; i++) {
            n += w[i].claimed[seq];
        }
        assert_int_equal(n, 1); /* each task claimed exactly once */
        total += n;
    }
    assert_int_equal(total, tasks);
    assert_int_equal(after.records - before.records, 2 * tasks);
    assert_true(after.checkpoints - before.checkpoints <= 2 * tasks);
    assert_pattern(f, "shared", tasks);
    assert_verified(f, "shared");
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, "shared", &s), CAIRN_OK);
    assert_int_equal(s->state, CAIRN_RUN_COMPLETED);
    cairn_summary_free(s);
    assert_int_equal(f->j->n_locks, 0);
}

/* Threads append long records while the map keeps growing. */
static void test_map_full_with_threads(void **state)
{
    gfix *f = *state;
    cairn_journal_close(f->j);
    tu_rmtree(tu_path(f->root, "j"));
    f->opts.map_size = 65536;
    open_journal(f);
    worker w[THREADS];
    memset(w, 0, sizeof(w));
    for (size_t i = 0; i < THREADS; i++) {
        w[i].f = f;
        w[i].tasks = 6;
        w[i].reason_len = 3000;
        snprintf(w[i].run, sizeof(w[i].run), "grow-%zu", i);
        create_run(f, w[i].run, 1, 6);
    }
    cairn_journal_info before = info(f);
    run_workers(w, THREADS, own_run);
    cairn_journal_info after = info(f);
    assert_true(after.map_size > before.map_size);
    assert_int_equal(after.records - before.records, THREADS * (3 + 4 * 6));
    for (size_t i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].acked, 3 + 4 * 6);
        seen *s = records_of(f, w[i].run);
        assert_int_equal(s->n, 4 + 4 * 6);
        free(s);
        assert_verified(f, w[i].run);
    }
    cairn_verify_report rep;
    assert_int_equal(cairn_verify_directory(f->j, &rep), CAIRN_OK);
    assert_int_equal(rep.verdict, CAIRN_VERDICT_VERIFIED);
}

/* ---- run locks shared by threads ------------------------------------------
 */

/* In a child process: what cairn_run_lock() says about @p run. */
static cairn_err lock_from_child(gfix *f, const char *run)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cairn_journal *j = NULL;
        char detail[256];
        cairn_err err =
            cairn_journal_open(f->dir, 0, &j, detail, sizeof(detail));
        if (err == CAIRN_OK) {
            err = cairn_run_lock(j, run);
        }
        cairn_journal_close(j);
        _exit((int)err);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return (cairn_err)WEXITSTATUS(status);
}

static void test_lock_shared_by_threads(void **state)
{
    gfix *f = *state;
    worker w[4];
    memset(w, 0, sizeof(w));
    create_run(f, "locked", 1, 2 * 4);
    assert_int_equal(cairn_run_lock(f->j, "locked"), CAIRN_OK);
    for (size_t i = 0; i < 4; i++) {
        w[i].f = f;
        snprintf(w[i].run, sizeof(w[i].run), "locked");
    }
    worker main_w = {.f = f};
    snprintf(main_w.run, sizeof(main_w.run), "locked");
    cairn_claim_result r;
    assert_int_equal(claim(&main_w, &r), CAIRN_OK);
    assert_int_equal(receipt(&main_w, 0, CAIRN_OUTCOME_COMPLETED, NULL),
                     CAIRN_OK);
    assert_int_equal(cairn_accept_preflight(f->j, "locked", "pf", NULL),
                     CAIRN_OK);
    run_workers(w, 4, same_run);
    /* The threads' transitions did not drop the pinned lock. */
    assert_int_equal(f->j->n_locks, 1);
    assert_int_equal(lock_from_child(f, "locked"), CAIRN_ELOCKED);
    cairn_run_unlock(f->j, "locked");
    assert_int_equal(f->j->n_locks, 0);
    assert_int_equal(lock_from_child(f, "locked"), CAIRN_OK);
    assert_verified(f, "locked");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_threads_on_their_own_runs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_small_batches_with_threads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_threads_on_one_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_map_full_with_threads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lock_shared_by_threads, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
