/*
 * test_group_batch.c - group commit, one batch built by hand with
 * cairn__journal_append_batch(): a request that fails inside a batch (the
 * state machine refuses it, its build refuses, its run does not exist)
 * writes nothing while the others commit in one transaction with one
 * checkpoint per run; a batch where everything fails commits nothing;
 * MAP_FULL during a batch re-runs it with the same outcomes; a run held
 * by another process and a read-only handle refuse before queueing;
 * threads failing at once each get their own request's detail; a commit
 * of N runs makes one signature (the journal head's).
 */
#include "testutil.h"

#include "helpers/group_fixture.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

/* ---- one batch, built by hand -------------------------------------------- */

typedef struct tb {
    uint32_t op;
    int kind; /* 0 claim, 1 receipt completed, 2 receipt failed, 3 refuse,
                 4 refuse naming op */
    const char *reason;
} tb;

static cairn_err build(cairn_journal *j, const cairn_state *st,
                       cairn_record *rec, void *ctx, char *detail,
                       size_t detail_len)
{
    const tb *c = ctx;
    int known = c->op < st->n_ops;
    if (c->kind == 3) {
        (void)j;
        return cairn__fail(detail, detail_len, CAIRN_EREASON,
                           "test: refused by build");
    }
    if (c->kind == 4) {
        return cairn__fail(detail, detail_len, CAIRN_EREASON,
                           "test: refused op %u", c->op);
    }
    rec->op = c->op;
    if (c->kind == 0) {
        rec->type = CAIRN_REC_CLAIM;
        rec->attempt = known ? st->ops[c->op].attempt + 1 : 1;
        rec->claim_kind = CAIRN_CLAIM_NORMAL;
        rec->holder_pid = (uint32_t)getpid();
        return cairn__record_set_str(&rec->host, "test-host");
    }
    rec->type = CAIRN_REC_RECEIPT;
    rec->attempt = known ? st->ops[c->op].attempt : 1;
    rec->outcome =
        c->kind == 1 ? CAIRN_OUTCOME_COMPLETED : CAIRN_OUTCOME_FAILED;
    rec->error_class = c->kind == 1 ? CAIRN_CLASS_NONE : CAIRN_CLASS_RETRYABLE;
    return cairn__record_set_str(&rec->reason, c->reason);
}

static void req(cairn_append_req *r, const char *run, tb *ctx)
{
    memset(r, 0, sizeof(*r));
    r->run_id = run;
    r->build = build;
    r->ctx = ctx;
}

static int count_cp(void *ctx, const cairn_checkpoint_view *cp)
{
    uint64_t *last = ctx;
    last[0]++;
    last[1] = cp->position;
    return 0;
}

static void test_failing_request_in_batch(void **state)
{
    gfix *f = *state;
    create_run(f, "b1", 3, 1);
    create_run(f, "b2", 3, 1);
    create_run(f, "b3", 3, 1);
    cairn_journal_info before = info(f);
    tb c0 = {0, 0, NULL}, c5 = {5, 0, NULL}, r0 = {0, 1, NULL};
    tb refuse = {0, 3, NULL}, c1 = {1, 0, NULL};
    cairn_append_req q[8];
    req(&q[0], "b1", &c0);     /* ok */
    req(&q[1], "b2", &c5);     /* no operation 5: the machine refuses */
    req(&q[2], "b1", &r0);     /* ok: sees q[0] in the batch */
    req(&q[3], "b3", &c0);     /* ok */
    req(&q[4], "b1", &c0);     /* op 0 is completed now */
    req(&q[5], "b2", &refuse); /* the build refuses */
    req(&q[6], "b1", &c1);     /* ok */
    req(&q[7], "nope", &c0);   /* no such run */
    assert_int_equal(cairn__journal_append_batch(f->j, q, 8), CAIRN_ENOOP);
    const cairn_err want[8] = {CAIRN_OK, CAIRN_ENOOP,  CAIRN_OK,
                               CAIRN_OK, CAIRN_ESTATE, CAIRN_EREASON,
                               CAIRN_OK, CAIRN_ENORUN};
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(q[i].err, want[i]);
        assert_int_equal(q[i].wrote, want[i] == CAIRN_OK);
        assert_true((want[i] == CAIRN_OK) == (q[i].detail[0] == '\0'));
    }
    assert_non_null(strstr(q[1].detail, "operation 5"));
    assert_string_equal(q[5].detail, "test: refused by build");
    assert_non_null(strstr(q[7].detail, "no run \"nope\""));
    assert_non_null(strstr(cairn_journal_errdetail(f->j), "operation 5"));
    cairn_journal_info after = info(f);
    assert_int_equal(after.last_txnid - before.last_txnid, 1); /* 1 commit */
    assert_int_equal(after.records - before.records, 4);
    /* one checkpoint per run touched: b1 (3 records) and b3 */
    assert_int_equal(after.checkpoints - before.checkpoints, 2);
    seen *s1 = records_of(f, "b1"), *s2 = records_of(f, "b2");
    assert_int_equal(s1->n, 4);
    assert_int_equal(s2->n, 1);
    uint64_t cp[2] = {0, 0};
    assert_int_equal(cairn_checkpoint_each(f->j, "b1", count_cp, cp), CAIRN_OK);
    assert_int_equal(cp[0], 2);               /* create's, and this batch's */
    assert_int_equal(cp[1], s1->position[3]); /* at b1's last record */
    free(s1);
    free(s2);
    assert_verified(f, "b1");
    assert_verified(f, "b2");
    assert_verified(f, "b3");
    assert_int_equal(f->j->n_locks, 0);

    /* A batch where every request fails writes and commits nothing. */
    tb c9 = {9, 0, NULL};
    req(&q[0], "b2", &c9);
    req(&q[1], "b3", &refuse);
    assert_int_equal(cairn__journal_append_batch(f->j, q, 2), CAIRN_ENOOP);
    assert_int_equal(q[1].err, CAIRN_EREASON);
    cairn_journal_info none = info(f);
    assert_int_equal(none.last_txnid, after.last_txnid);
    assert_int_equal(none.records, after.records);
}

/* Every checkpoint of @p run is sealed by the journal head (format 2,
 * docs/FORMAT.md section 25): no signature of its own. */
static int only_head_sealed(void *ctx, const cairn_checkpoint_view *cp)
{
    uint64_t *n = ctx;
    uint8_t zero[CAIRN_SIGNATURE_BYTES] = {0};
    assert_true(cp->head_sealed);
    assert_false(cp->is_signed);
    assert_memory_equal(cp->signature, zero, CAIRN_SIGNATURE_BYTES);
    (*n)++;
    return 0;
}

/* One commit of N runs signs once: the journal head.  The per-run
 * checkpoints it writes (one per run) carry no signature, and every run
 * still verifies under the pinned key.  So does a single transition. */
static void test_one_signature_per_commit(void **state)
{
    gfix *f = *state;
    enum { N = 16 };
    char names[N][16];
    tb c0 = {0, 0, NULL};
    cairn_append_req q[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "s%d", i);
        create_run(f, names[i], 1, 1);
        req(&q[i], names[i], &c0);
    }
    cairn_journal_info before = info(f);
    uint64_t signed_before = cairn__signer_count(f->signer);
    assert_int_equal(cairn__journal_append_batch(f->j, q, N), CAIRN_OK);
    cairn_journal_info after = info(f);
    assert_int_equal(after.last_txnid - before.last_txnid, 1); /* 1 commit */
    assert_int_equal(after.checkpoints - before.checkpoints, N);
    assert_int_equal(cairn__signer_count(f->signer) - signed_before, 1);
    for (int i = 0; i < N; i++) {
        uint64_t n = 0;
        assert_int_equal(
            cairn_checkpoint_each(f->j, names[i], only_head_sealed, &n),
            CAIRN_OK);
        assert_int_equal(n, 2); /* the create's and the batch's */
        assert_verified(f, names[i]);
    }
    /* Run creation and a single transition (shared commit or the
     * handle's own): one each. */
    cairn_claim_result r;
    signed_before = cairn__signer_count(f->signer);
    create_run(f, "single", 1, 1);
    assert_int_equal(cairn__signer_count(f->signer) - signed_before, 1);
    assert_int_equal(
        cairn_claim(f->j, "single", -1, CAIRN_CLAIM_NORMAL, NULL, NULL, &r),
        CAIRN_OK);
    assert_int_equal(cairn__signer_count(f->signer) - signed_before, 2);
    assert_verified(f, "single");
}

/* The map starts at 64 KiB and one batch needs about a megabyte: the
 * batch is run again after each growth, outcomes recomputed. */
static void test_map_full_in_one_batch(void **state)
{
    gfix *f = *state;
    cairn_journal_close(f->j);
    tu_rmtree(tu_path(f->root, "j"));
    f->opts.map_size = 65536;
    f->opts.batch_max = 1024;
    open_journal(f);
    create_run(f, "m1", 1, 1);
    create_run(f, "m2", 1, 1);
    cairn_journal_info before = info(f);
    enum { CYCLES = 100 };
    static cairn_append_req q[4 * CYCLES + 1];
    char *reason = calloc(1, 4001);
    memset(reason, 'x', 4000);
    tb c0 = {0, 0, NULL}, fail0 = {0, 2, reason}, c7 = {7, 0, NULL};
    size_t n = 0;
    for (size_t i = 0; i < CYCLES; i++) {
        req(&q[n++], "m1", &c0);
        req(&q[n++], "m1", &fail0);
        req(&q[n++], "m2", &c0);
        req(&q[n++], "m2", &fail0);
        if (i == CYCLES / 2) {
            req(&q[n++], "m2", &c7); /* refused in every attempt */
        }
    }
    assert_int_equal(cairn__journal_append_batch(f->j, q, n), CAIRN_ENOOP);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(q[i].err, q[i].ctx == &c7 ? CAIRN_ENOOP : CAIRN_OK);
    }
    cairn_journal_info after = info(f);
    assert_true(after.map_size >= 4 * before.map_size);
    assert_int_equal(after.last_txnid - before.last_txnid, 1);
    assert_int_equal(after.records - before.records, 4 * CYCLES);
    assert_int_equal(after.checkpoints - before.checkpoints, 2);
    seen *s = records_of(f, "m2");
    assert_int_equal(s->n, 1 + 2 * CYCLES);
    for (size_t i = 1; i < s->n; i++) {
        assert_int_equal(s->type[i],
                         i % 2 ? CAIRN_REC_CLAIM : CAIRN_REC_RECEIPT);
        assert_int_equal(s->attempt[i], (uint32_t)((i + 1) / 2));
    }
    free(s);
    assert_verified(f, "m1");
    assert_verified(f, "m2");
    cairn_verify_report rep;
    assert_int_equal(cairn_verify_directory(f->j, &rep), CAIRN_OK);
    assert_int_equal(rep.verdict, CAIRN_VERDICT_VERIFIED);
    free(reason);
}

/* A transition while another process holds the run is refused before it
 * is queued; a read-only handle refuses every request. */
static void test_refused_before_queueing(void **state)
{
    gfix *f = *state;
    create_run(f, "held", 1, 1);
    tb c0 = {0, 0, NULL};
    cairn_append_req q[2];
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cairn_journal *j = NULL;
        char detail[256], c = 0;
        close(pipefd[0]);
        if (cairn_journal_open(f->dir, 0, &j, detail, sizeof(detail)) !=
                CAIRN_OK ||
            cairn_run_lock(j, "held") != CAIRN_OK) {
            _exit(1);
        }
        ssize_t wr = write(pipefd[1], &c, 1);
        (void)wr;
        sleep(30); /* killed by the parent */
        _exit(0);
    }
    close(pipefd[1]);
    char c;
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    close(pipefd[0]);
    cairn_journal_info before = info(f);
    req(&q[0], "held", &c0);
    assert_int_equal(cairn__journal_append_batch(f->j, q, 1), CAIRN_ELOCKED);
    assert_non_null(strstr(q[0].detail, "run lock: held by pid "));
    assert_non_null(strstr(cairn_journal_errdetail(f->j), "run lock"));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(info(f).records, before.records);
    assert_int_equal(f->j->n_locks, 0);

    cairn_journal_close(f->j);
    char detail[256];
    assert_int_equal(cairn_journal_open(f->dir, CAIRN_OPEN_READONLY, &f->j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    req(&q[0], "held", &c0);
    req(&q[1], "held", &c0);
    assert_int_equal(cairn__journal_append_batch(f->j, q, 2), CAIRN_EINVAL);
    assert_int_equal(q[1].err, CAIRN_EINVAL);
    assert_string_equal(q[0].detail, "journal opened read-only");
    cairn_claim_result r;
    assert_int_equal(
        cairn_claim(f->j, "held", -1, CAIRN_CLAIM_NORMAL, NULL, NULL, &r),
        CAIRN_EINVAL);
    assert_string_equal(cairn_journal_errdetail(f->j),
                        "journal opened read-only");
}

/* ---- failure details under concurrency ------------------------------------
 */

#define DT_THREADS 4
#define DT_ROUNDS 40

typedef struct dt_worker {
    gfix *f;
    char run[16];
    unsigned id;
    pthread_barrier_t *start;
    int bad; /* round of the first wrong answer + 1, or 0 */
    char got[CAIRN__DETAIL_MAX];
} dt_worker;

/* Each request's detail names its own op, never another thread's. */
static int dt_check(dt_worker *w, const cairn_append_req *q, const tb *c,
                    int round)
{
    char want[64];
    snprintf(want, sizeof(want), "test: refused op %u", c->op);
    if (q->err != CAIRN_EREASON || strcmp(q->detail, want) != 0) {
        w->bad = round + 1;
        snprintf(w->got, sizeof(w->got), "%s: %s", cairn_errname(q->err),
                 q->detail);
        return 0;
    }
    return 1;
}

/* Lone requests (the shared queue's preparation) and pairs (an
 * in-process batch), every one refused by its build. */
static void *dt_run(void *arg)
{
    dt_worker *w = arg;
    pthread_barrier_wait(w->start);
    for (int k = 0; k < DT_ROUNDS && w->bad == 0; k++) {
        tb c[2] = {{w->id * 1000u + (unsigned)k, 4, NULL},
                   {w->id * 1000u + 500u + (unsigned)k, 4, NULL}};
        cairn_append_req q[2];
        size_t n = (size_t)(k % 2) + 1;
        for (size_t i = 0; i < n; i++) {
            req(&q[i], w->run, &c[i]);
        }
        cairn_err err = cairn__journal_append_batch(w->f->j, q, n);
        if (err != CAIRN_EREASON) {
            w->bad = k + 1;
            snprintf(w->got, sizeof(w->got), "batch: %s", cairn_errname(err));
            break;
        }
        for (size_t i = 0; i < n && dt_check(w, &q[i], &c[i], k); i++) {
        }
    }
    return NULL;
}

static void test_details_of_concurrent_failures(void **state)
{
    gfix *f = *state;
    dt_worker w[DT_THREADS];
    pthread_t t[DT_THREADS];
    pthread_barrier_t start;
    cairn_journal_info before;
    memset(w, 0, sizeof(w));
    for (unsigned i = 0; i < DT_THREADS; i++) {
        w[i].f = f;
        w[i].id = i + 1;
        snprintf(w[i].run, sizeof(w[i].run), "dt%u", i);
        create_run(f, w[i].run, 1, 1);
    }
    before = info(f);
    pthread_barrier_init(&start, NULL, DT_THREADS);
    for (unsigned i = 0; i < DT_THREADS; i++) {
        w[i].start = &start;
        assert_int_equal(pthread_create(&t[i], NULL, dt_run, &w[i]), 0);
    }
    for (unsigned i = 0; i < DT_THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    pthread_barrier_destroy(&start);
    for (unsigned i = 0; i < DT_THREADS; i++) {
        if (w[i].bad != 0) {
            fail_msg("thread %u, round %d: %s", i, w[i].bad - 1, w[i].got);
        }
    }
    /* Nothing was written. */
    assert_int_equal(info(f).records, before.records);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failing_request_in_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_map_full_in_one_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refused_before_queueing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_details_of_concurrent_failures,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_signature_per_commit, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
