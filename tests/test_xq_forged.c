/*
 * test_xq_forged.c - a forged commit.shm (issue 12, case 4): a queue
 * whose header is valid for this boot but whose mutexes are "held" by a
 * live foreign thread, whose leader is a dead process and whose slots are
 * TAKEN, whose free slots are "held".  Nobody using it: a writer makes it
 * new and proceeds through the shared queue.  Somebody holding it open: a
 * writer does not join it (its lock cannot be taken within the bound, or
 * what it holds is inconsistent) and commits on its own.
 * Either way it never hangs; each writer runs in a child with a generous
 * alarm that turns a hang into a failure.  Every journal is verified.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"
#include "store/xq_int.h"

#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>

/* Far above any bound of the code under test: only a hang trips it. */
#define HANG_S 300

static vf_sample *sample;

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

/* Claim and complete every operation of @p run.  0 or the first error. */
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

static int verify_cb(void *ctx, const cairn_verify_report *r)
{
    (*(uint64_t *)ctx)++;
    assert_int_equal(r->verdict, CAIRN_VERDICT_VERIFIED);
    return 0;
}

/* Every run VERIFIED; returns the number of runs. */
static uint64_t verify_dir(const char *dir)
{
    cairn_journal *j = NULL;
    cairn_verify_report d;
    char detail[512];
    uint64_t runs = 0;
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_verify_all(j, sample->pk_a, 0, verify_cb, &runs, &d),
                     CAIRN_OK);
    assert_int_equal(d.verdict, CAIRN_VERDICT_VERIFIED);
    cairn_journal_close(j);
    return runs;
}

/* A pid that no process has (a child that was reaped). */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(0);
    }
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return pid;
}

/* A robust mutex that says thread 1 (init, alive for good) holds it. */
static void held_by_init(pthread_mutex_t *m)
{
    m->__data.__lock = 1;
    m->__data.__owner = 1;
}

/* Forge @p dir's commit.shm in place (its header stays valid); with
 * @p mutex_ok its mutex is left free (only the leader and slots lie). */
static void forge(const char *dir, int mutex_ok)
{
    char *path = tu_path(dir, "commit.shm");
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    xq_shared *sh =
        mmap(NULL, XQ_FILE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(sh != MAP_FAILED);
    assert_memory_equal(sh->magic, XQ_MAGIC, 8);
    if (!mutex_ok) {
        held_by_init(&sh->mu);
    }
    held_by_init(&sh->lead_mu);
    sh->leader = (int32_t)dead_pid();
    for (unsigned i = 0; i < XQ_SLOTS; i++) {
        sh->slot[i].state = i < 8 ? S_TAKEN : S_FREE;
        sh->slot[i].owner = sh->leader;
        held_by_init(&sh->slot[i].life);
    }
    assert_int_equal(munmap(sh, XQ_FILE_BYTES), 0);
    close(fd);
    free(path);
}

/* In a child: open @p dir, write run @p run; exit 0 when it committed
 * (through the shared queue when @p joined, else on its own). */
static void writer(const char *dir, const char *run, int joined)
{
    cairn_journal *j = NULL;
    char detail[512];
    alarm(HANG_S);
    if (cairn_journal_open(dir, 0, &j, detail, sizeof(detail)) != CAIRN_OK) {
        _exit(2);
    }
    if ((j->xq != NULL) != joined) {
        _exit(3);
    }
    cairn_journal_set_signer(j, sample->a);
    vf_create(j, run);
    if (run_all(j, run) != CAIRN_OK) {
        _exit(4);
    }
    cairn_journal_close(j);
    _exit(0);
}

static void expect_writer(const char *dir, const char *run, int joined)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        writer(dir, run, joined);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st)) {
        fail_msg("writer killed by signal %d (a hang?)", WTERMSIG(st));
    }
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static char *new_journal(char **root)
{
    cairn_journal *j = NULL;
    char detail[512];
    *root = tu_mkdtemp();
    char *dir = tu_path(*root, "j");
    assert_int_equal(
        cairn_journal_open(dir, CAIRN_OPEN_CREATE, &j, detail, sizeof(detail)),
        CAIRN_OK);
    assert_non_null(j->xq);
    cairn_journal_close(j);
    return dir;
}

static void test_forged_unused(void **state)
{
    (void)state;
    char *root = NULL, *dir = new_journal(&root);
    forge(dir, 0);
    expect_writer(dir, "f-1", 1); /* made new, and used */
    forge(dir, 1);
    expect_writer(dir, "f-2", 1);
    assert_int_equal(verify_dir(dir), 2);
    free(dir);
    tu_rmtree(root);
}

/* With a process holding the forged queue open, a writer neither joins
 * nor waits for good: it commits on its own. */
static void in_use(int mutex_ok)
{
    char *root = NULL, *dir = new_journal(&root);
    forge(dir, mutex_ok);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t holder = fork();
    assert_true(holder >= 0);
    if (holder == 0) { /* keeps the forged queue "in use" */
        char *path = tu_path(dir, "commit.shm");
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        char c = 'r';
        if (fd < 0 || flock(fd, LOCK_SH) != 0 || write(p[1], &c, 1) != 1) {
            _exit(2);
        }
        alarm(HANG_S);
        pause();
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(p[0], &c, 1), 1);
    expect_writer(dir, "u-1", 0); /* not joined: committed on its own */
    kill(holder, SIGKILL);
    assert_int_equal(waitpid(holder, NULL, 0), holder);
    close(p[0]);
    close(p[1]);
    expect_writer(dir, "u-2", 1); /* nobody uses it now: made new */
    assert_int_equal(verify_dir(dir), 2);
    free(dir);
    tu_rmtree(root);
}

static void test_forged_in_use(void **state)
{
    (void)state;
    in_use(0); /* its mutex held for good: not taken within the bound */
}

static void test_forged_in_use_mutex_free(void **state)
{
    (void)state;
    in_use(1); /* the mutex is free, the leader and slots lie */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_unused),
        cmocka_unit_test(test_forged_in_use),
        cmocka_unit_test(test_forged_in_use_mutex_free),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
