/*
 * test_xq.c - commits shared across processes (lib/xq*.c): the queue
 * file, processes and threads writing one journal, a stale preparation
 * built again, a leader that dies before or after its commit holding
 * another process's transition, a transition too big for a slot, a
 * garbage or unopenable queue file, a queue in use by another version,
 * and CAIRN_OPEN_NO_SHARED_COMMIT.  Every journal
 * is verified afterwards.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"
#include "store/xq_int.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static vf_sample *sample;

/* Interposed on LMDB's flush: a slow disk, in the processes that ask. */
static volatile int slow_flush;

int fdatasync(int fd);
int fdatasync(int fd)
{
    if (slow_flush) {
        usleep(60000);
    }
    return (int)syscall(SYS_fdatasync, fd);
}

static int group_setup(void **state)
{
    (void)state;
    sample = vf_sample_new(NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    vf_sample_free(sample);
    return 0;
}

/* Open (creating) @p dir with @p o's tuning and extra @p flags. */
static cairn_err open_with(const char *dir, unsigned flags, unsigned batch_max,
                           unsigned wait_us, cairn_journal **j, char *detail,
                           size_t detail_len)
{
    cairn_journal_opts o = CAIRN_JOURNAL_OPTS_INIT;
    o.flags = CAIRN_OPEN_CREATE | flags;
    o.batch_max = batch_max;
    o.batch_wait_us = wait_us;
    return cairn_journal_open_opts(dir, &o, j, detail, detail_len);
}

static cairn_journal *open_rw(const char *dir)
{
    cairn_journal *j = NULL;
    char detail[512];
    assert_int_equal(
        cairn_journal_open(dir, CAIRN_OPEN_CREATE, &j, detail, sizeof(detail)),
        CAIRN_OK);
    cairn_journal_set_signer(j, sample->a);
    return j;
}

static int verify_all_cb(void *ctx, const cairn_verify_report *r)
{
    uint64_t *records = ctx;
    if (r->verdict != CAIRN_VERDICT_VERIFIED) {
        print_error("%s: %s (%s)\n", r->run_id, r->reason, r->bad_field);
    }
    assert_int_equal(r->verdict, CAIRN_VERDICT_VERIFIED);
    *records += r->records;
    return 0;
}

/* Every run VERIFIED; returns the number of records. */
static uint64_t verify_dir(const char *dir)
{
    cairn_journal *j = NULL;
    cairn_verify_report d;
    char detail[512];
    uint64_t records = 0;
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(
        cairn_verify_all(j, sample->pk_a, 0, verify_all_cb, &records, &d),
        CAIRN_OK);
    assert_int_equal(d.verdict, CAIRN_VERDICT_VERIFIED);
    cairn_journal_close(j);
    return records;
}

/* Claim and complete every operation of @p run (8 ops, one preflight
 * accepted after the two checks).  0 or the first error. */
static cairn_err run_all(cairn_journal *j, const char *run)
{
    static const cairn_kv snap[] = {{"artifact", "a"}, {"digest", "d"}};
    cairn_claim_result cr;
    cairn_err err = CAIRN_OK;
    for (uint32_t op = 0; op < 8 && err == CAIRN_OK; op++) {
        cairn_receipt r = {.seq = op, .outcome = CAIRN_OUTCOME_COMPLETED};
        if (op == 3) {
            r.outputs = snap;
            r.n_outputs = 2;
        }
        if (op == 2) {
            err = cairn_accept_preflight(j, run, "pf", NULL);
        }
        if (err == CAIRN_OK) {
            err = cairn_claim(j, run, op, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr);
        }
        if (err == CAIRN_OK) {
            err = cairn_receipt_record(j, run, &r, NULL);
        }
    }
    return err;
}

static void test_queue_file(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    char *shm = tu_path(dir, "commit.shm");
    struct stat st;
    cairn_journal *j = open_rw(dir);
    assert_non_null(j->xq);
    assert_int_equal(stat(shm, &st), 0);
    assert_true(st.st_size > 16 * 1024 * 1024);
    vf_create(j, "q-1");
    assert_int_equal(run_all(j, "q-1"), CAIRN_OK);
    uint64_t commits = 0, records = 0, stale = 0;
    cairn__xq_counts(j->xq, &commits, &records, &stale);
    assert_int_equal(records, 1 + 2 * 8); /* all but the CREATE */
    cairn_journal_close(j);

    /* Garbage in the file: it is initialised again. */
    tu_write_file(shm, "garbage", 7);
    j = open_rw(dir);
    assert_non_null(j->xq);
    vf_create(j, "q-2");
    assert_int_equal(run_all(j, "q-2"), CAIRN_OK);
    cairn_journal_close(j);

    /* Cannot be opened (a directory in its place): on its own too. */
    assert_int_equal(unlink(shm), 0);
    assert_int_equal(mkdir(shm, 0700), 0);
    j = open_rw(dir);
    assert_null(j->xq);
    vf_create(j, "q-4");
    assert_int_equal(run_all(j, "q-4"), CAIRN_OK);
    cairn_journal_close(j);
    assert_int_equal(rmdir(shm), 0);

    /* Switched off: the handle commits on its own. */
    char detail[512];
    assert_int_equal(open_with(dir, CAIRN_OPEN_NO_SHARED_COMMIT, 0, 0, &j,
                               detail, sizeof(detail)),
                     CAIRN_OK);
    cairn_journal_set_signer(j, sample->a);
    assert_null(j->xq);
    vf_create(j, "q-3");
    assert_int_equal(run_all(j, "q-3"), CAIRN_OK);
    cairn_journal_close(j);
    assert_int_equal(verify_dir(dir), 4 * (1 + 1 + 2 * 8));
    free(shm);
    free(dir);
    tu_rmtree(root);
}

#define PROCS 6
#define RUNS_EACH 3

/* A child: its own handle, its own runs; exit status 0 on success. */
static void child_writer(const char *dir, int k, unsigned batch_max,
                         unsigned wait_us, int out_fd)
{
    cairn_journal *j = NULL;
    char detail[512], run[32];
    if (open_with(dir, 0, batch_max, wait_us, &j, detail, sizeof(detail)) !=
            CAIRN_OK ||
        j->xq == NULL) {
        _exit(2);
    }
    cairn_journal_set_signer(j, sample->a);
    for (int i = 0; i < RUNS_EACH; i++) {
        cairn_plan *plan = NULL;
        char got[CAIRN_MAX_ID + 1];
        snprintf(run, sizeof(run), "p%d-%d", k, i);
        plan = vf_plan(run);
        if (cairn_run_create(j, plan, NULL, got, sizeof(got)) != CAIRN_OK ||
            run_all(j, run) != CAIRN_OK) {
            _exit(3);
        }
        cairn_plan_free(plan);
    }
    uint64_t c[3];
    cairn__xq_counts(j->xq, &c[0], &c[1], &c[2]);
    if (out_fd >= 0 && write(out_fd, c, sizeof(c)) != (ssize_t)sizeof(c)) {
        _exit(4);
    }
    cairn_journal_close(j);
    _exit(0);
}

/* PROCS processes with batch_max @p batch_max (and a 1 ms wait): records
 * and commits led, summed over them. */
static void share(unsigned batch_max, uint64_t *commits, uint64_t *records)
{
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    int p[2];
    pid_t pid[PROCS];
    cairn_journal_close(open_rw(dir));
    assert_int_equal(pipe(p), 0);
    for (int k = 0; k < PROCS; k++) {
        pid[k] = fork();
        assert_true(pid[k] >= 0);
        if (pid[k] == 0) {
            close(p[0]);
            child_writer(dir, k, batch_max, 1000, p[1]);
        }
    }
    close(p[1]);
    for (int k = 0; k < PROCS; k++) {
        int st = 0;
        assert_int_equal(waitpid(pid[k], &st, 0), pid[k]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    uint64_t c[3];
    *commits = *records = 0;
    while (read(p[0], c, sizeof(c)) == (ssize_t)sizeof(c)) {
        *commits += c[0];
        *records += c[1];
    }
    close(p[0]);
    assert_int_equal(verify_dir(dir), PROCS * RUNS_EACH * (2 + 2 * 8));
    free(dir);
    tu_rmtree(root);
}

static void test_processes_share_commits(void **state)
{
    (void)state;
    uint64_t commits, records;
    share(256, &commits, &records);
    /* Every transition but the CREATEs went through the queue, led by
     * one process or another. */
    assert_int_equal(records, PROCS * RUNS_EACH * (1 + 2 * 8));
    assert_true(commits >= 1 && commits <= records);
    print_message("%d processes: %llu records in %llu shared commits\n", PROCS,
                  (unsigned long long)records, (unsigned long long)commits);
    /* The handle's batch size reaches the queue: one record a commit. */
    share(1, &commits, &records);
    assert_int_equal(records, PROCS * RUNS_EACH * (1 + 2 * 8));
    assert_int_equal(commits, records);
}

/* ---- two threads, one run: a preparation made stale by the other's
 * commit is built again, and then fails as the second claim would. */

typedef struct racer {
    cairn_journal *j;
    const char *run;
    pthread_barrier_t *go;
    cairn_err err;
} racer;

static void *race_claim(void *arg)
{
    racer *r = arg;
    cairn_claim_result cr;
    pthread_barrier_wait(r->go);
    r->err = cairn_claim(r->j, r->run, 0, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr);
    return NULL;
}

static void test_stale_built_again(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j"), run[32];
    cairn_journal *j = open_rw(dir);
    pthread_barrier_t go;
    uint64_t commits, records, stale;
    for (int i = 0; i < 30; i++) {
        racer r[2];
        pthread_t th[2];
        snprintf(run, sizeof(run), "race-%d", i);
        vf_create(j, run);
        assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
        for (int k = 0; k < 2; k++) {
            r[k] = (racer){j, run, &go, CAIRN_OK};
            assert_int_equal(pthread_create(&th[k], NULL, race_claim, &r[k]),
                             0);
        }
        for (int k = 0; k < 2; k++) {
            assert_int_equal(pthread_join(th[k], NULL), 0);
        }
        pthread_barrier_destroy(&go);
        /* Exactly one claim of op 0; the other sees it pending. */
        assert_true((r[0].err == CAIRN_OK) != (r[1].err == CAIRN_OK));
        assert_int_equal(r[0].err == CAIRN_OK ? r[1].err : r[0].err,
                         CAIRN_ESTATE);
    }
    cairn__xq_counts(j->xq, &commits, &records, &stale);
    print_message("30 races: %llu records, %llu stale preparations built "
                  "again\n",
                  (unsigned long long)records, (unsigned long long)stale);
    assert_int_equal(records, 30);
    cairn_journal_close(j);
    assert_int_equal(verify_dir(dir), 30 * 2);
    free(dir);
    tu_rmtree(root);
}

/* ---- a leader that dies holding another process's transition ------ */

/* The child leads a batch holding both claims, then dies before or after
 * writing it (the queue's test_die hook).  Returns the child's exit status. */
static int orphan_round(const char *dir, const char *how, int round)
{
    char mine[32], theirs[32];
    int p[2];
    snprintf(mine, sizeof(mine), "parent-%s-%d", how, round);
    snprintf(theirs, sizeof(theirs), "child-%s-%d", how, round);
    cairn_journal *j = open_rw(dir);
    vf_create(j, mine);
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cairn_journal *c = NULL;
        char detail[512], ok = 'r';
        cairn_claim_result cr;
        if (open_with(dir, 0, 0, 100000, &c, detail, sizeof(detail)) !=
                CAIRN_OK ||
            c->xq == NULL) {
            _exit(2);
        }
        c->xq->test_die = strcmp(how, "before") == 0 ? 1 : 2;
        cairn_journal_set_signer(c, sample->a);
        vf_create(c, theirs);
        if (write(p[1], &ok, 1) != 1) {
            _exit(3);
        }
        /* Leads, waits up to 100 ms for more, dies with the batch. */
        cairn_err err =
            cairn_claim(c, theirs, 0, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr);
        _exit(err == CAIRN_OK ? 0 : 1);
    }
    char ok;
    cairn_claim_result cr;
    close(p[1]);
    assert_int_equal(read(p[0], &ok, 1), 1);
    close(p[0]);
    usleep(20000);
    assert_int_equal(
        cairn_claim(j, mine, 0, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr), CAIRN_OK);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    cairn_journal_close(j);
    return WEXITSTATUS(st);
}

static uint64_t run_records(const char *dir, const char *run)
{
    cairn_journal *j = open_rw(dir);
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(j, run, &s), CAIRN_OK);
    uint64_t n = s->records;
    cairn_summary_free(s);
    cairn_journal_close(j);
    return n;
}

/* Run orphan_round until the child really died leading both claims (the
 * parent must queue inside the child's 100 ms wait: retried if not). */
static void orphan_case(const char *how, uint64_t child_records)
{
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j"), run[32];
    int round = 0, st = 0;
    cairn_journal_close(open_rw(dir));
    while (round < 5 && (st = orphan_round(dir, how, round)) != 9) {
        round++;
    }
    assert_int_equal(st, 9);
    snprintf(run, sizeof(run), "parent-%s-%d", how, round);
    assert_int_equal(run_records(dir, run), 2);
    snprintf(run, sizeof(run), "child-%s-%d", how, round);
    assert_int_equal(run_records(dir, run), child_records);
    verify_dir(dir);
    free(dir);
    tu_rmtree(root);
}

static void test_leader_dies_before_commit(void **state)
{
    (void)state;
    orphan_case("before", 1); /* the child's claim never committed */
}

static void test_leader_dies_after_commit(void **state)
{
    (void)state;
    orphan_case("after", 2); /* committed, then the leader died */
}

/* ---- a queue in use by another cairn version (or PID namespace) is left
 * alone: the newcomer commits on its own, the user keeps the queue. */

static void test_in_use_elsewhere(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    cairn_journal *j = open_rw(dir);
    assert_non_null(j->xq);
    j->xq->sh->version = XQ_VERSION + 1; /* as another version made it */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cairn_journal *c = NULL;
        char detail[512];
        if (cairn_journal_open(dir, CAIRN_OPEN_CREATE, &c, detail,
                               sizeof(detail)) != CAIRN_OK) {
            _exit(2);
        }
        cairn_journal_set_signer(c, sample->a);
        if (c->xq != NULL) {
            _exit(3); /* it would have re-initialised a queue in use */
        }
        vf_create(c, "other-1");
        _exit(run_all(c, "other-1") == CAIRN_OK ? 0 : 4);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(j->xq->sh->version, XQ_VERSION + 1); /* untouched */
    j->xq->sh->version = XQ_VERSION;
    vf_create(j, "mine-1");
    assert_int_equal(run_all(j, "mine-1"), CAIRN_OK);
    cairn_journal_close(j);
    assert_int_equal(verify_dir(dir), 2 * (2 + 2 * 8));
    free(dir);
    tu_rmtree(root);
}

/* ---- a leader is alive while its thread lives: a process whose main
 * thread called pthread_exit() shows as a zombie in /proc, and the first
 * version took it for dead, orphaned its slots while it committed them,
 * and failed other processes' transitions that were in fact committed
 * (found in review). */

static const char *exit_dir;

static void *exit_worker(void *arg)
{
    (void)arg;
    child_writer(exit_dir, 0, 0, 0, -1);
    return NULL;
}

static void test_leader_with_exited_main_thread(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    pid_t pid[3];
    cairn_journal_close(open_rw(dir));
    exit_dir = dir;
    for (int k = 0; k < 3; k++) {
        pid[k] = fork();
        assert_true(pid[k] >= 0);
        if (pid[k] == 0 && k == 0) {
            pthread_t t;
            slow_flush = 1; /* this process leads slowly */
            if (pthread_create(&t, NULL, exit_worker, NULL) != 0) {
                _exit(6);
            }
            pthread_exit(NULL); /* the worker's _exit ends the process */
        }
        if (pid[k] == 0) {
            child_writer(dir, k, 0, 0, -1);
        }
    }
    for (int k = 0; k < 3; k++) {
        int st = 0;
        assert_int_equal(waitpid(pid[k], &st, 0), pid[k]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    assert_int_equal(verify_dir(dir), 3 * RUNS_EACH * (2 + 2 * 8));
    free(dir);
    tu_rmtree(root);
}

/* ---- an index entry for the sequence the run state says comes next is
 * damage, answered with CAIRN_ECORRUPT (it was taken for a stale
 * preparation and rebuilt for ever; found in review). */

static void test_index_ahead_of_state(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    cairn_journal *j = open_rw(dir);
    vf_create(j, "ahead-1");
    cairn_journal_close(j);
    vf_raw raw;
    uint8_t key[16], val[8];
    vf_raw_open(&raw, dir);
    vf_key16(key, 1, 1); /* run 1 holds seq 0 only: seq 1 comes next */
    vf_key8(val, 1);
    vf_put(&raw, VR_INDEX, key, sizeof(key), val, sizeof(val));
    vf_raw_close(&raw);
    j = open_rw(dir);
    assert_non_null(j->xq);
    cairn_claim_result cr;
    assert_int_equal(
        cairn_claim(j, "ahead-1", 0, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr),
        CAIRN_ECORRUPT);
    cairn_journal_close(j);
    free(dir);
    tu_rmtree(root);
}

/* ---- too big for a slot: the handle commits it on its own ---------- */

static void test_too_big_for_a_slot(void **state)
{
    (void)state;
    enum { OPS = 1500 };
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    char *json = malloc(OPS * 48 + 256), detail[256], got[CAIRN_MAX_ID + 1];
    size_t n = 0;
    assert_non_null(json);
    n += (size_t)sprintf(json + n, "{\"cairn_plan\":1,\"plan_id\":\"big\","
                                   "\"run_id\":\"big-1\",\"operations\":["
                                   "{\"id\":\"pf\",\"kind\":\"preflight\"}");
    for (int i = 1; i < OPS; i++) {
        n += (size_t)sprintf(json + n,
                             ",{\"id\":\"t%d\",\"kind\":\"transfer\"}", i);
    }
    n += (size_t)sprintf(json + n, "]}");
    cairn_plan *plan = NULL;
    assert_int_equal(cairn_plan_parse(json, n, &plan, detail, sizeof(detail)),
                     CAIRN_OK);
    cairn_journal *j = open_rw(dir);
    assert_int_equal(cairn_run_create(j, plan, NULL, got, sizeof(got)),
                     CAIRN_OK);
    cairn_claim_result cr;
    cairn_receipt rc = {.seq = 0, .outcome = CAIRN_OUTCOME_COMPLETED};
    assert_int_equal(
        cairn_claim(j, "big-1", 0, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr),
        CAIRN_OK);
    assert_int_equal(cairn_receipt_record(j, "big-1", &rc, NULL), CAIRN_OK);
    uint64_t commits, records, stale;
    cairn__xq_counts(j->xq, &commits, &records, &stale);
    /* a claim or receipt sends the run summary and one row (FORMAT.md
     * 23.5), whatever the plan's size: they share slots */
    assert_int_equal(records, 2);
    /* ACCEPT rewrites every blocked row: too big for a slot */
    assert_int_equal(cairn_accept_preflight(j, "big-1", "pf", NULL), CAIRN_OK);
    cairn__xq_counts(j->xq, &commits, &records, &stale);
    assert_int_equal(records, 2);
    cairn_journal_close(j);
    assert_int_equal(verify_dir(dir), 4);
    cairn_plan_free(plan);
    free(json);
    free(dir);
    tu_rmtree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_file),
        cmocka_unit_test(test_processes_share_commits),
        cmocka_unit_test(test_stale_built_again),
        cmocka_unit_test(test_leader_dies_before_commit),
        cmocka_unit_test(test_leader_dies_after_commit),
        cmocka_unit_test(test_in_use_elsewhere),
        cmocka_unit_test(test_leader_with_exited_main_thread),
        cmocka_unit_test(test_index_ahead_of_state),
        cmocka_unit_test(test_too_big_for_a_slot),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
