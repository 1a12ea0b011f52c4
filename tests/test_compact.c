/*
 * test_compact.c - cairn_journal_compact(): a journal with free pages
 * shrinks to exactly what --dry-run announced, keeps every byte of content
 * (every run still VERIFIED, the LMDB transaction id kept, writable
 * afterwards); a dry run writes nothing; a writable handle, a reader, or a
 * run lock held on data.mdb makes it refuse with CAIRN_ELOCKED and change
 * nothing; writers are refused while it runs; a kill at each of its phases
 * leaves the old or the new journal, which opens and verifies, and the
 * next compaction removes what the killed one left.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"
#include "journal/compact.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

static vf_sample *sample;
static char *base; /* the sample plus churn: a journal with free pages */

#define EXTRA_RUNS 40

static int group_setup(void **state)
{
    (void)state;
    char detail[512], id[32];
    cairn_journal *j = NULL;
    sample = vf_sample_new(NULL);
    base = vf_copy(sample->dir);
    assert_int_equal(cairn_journal_open(base, 0, &j, detail, sizeof(detail)),
                     CAIRN_OK);
    cairn_journal_set_signer(j, sample->a);
    for (int i = 0; i < EXTRA_RUNS; i++) {
        snprintf(id, sizeof(id), "extra-%d", i);
        vf_create(j, id);
        vf_claim(j, id, -1);
        vf_receipt(j, id, 0, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    }
    cairn_journal_close(j);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rmtree(base);
    vf_sample_free(sample);
    return 0;
}

static char *fresh(void)
{
    return vf_copy(base);
}

static char *data_bytes(const char *dir, size_t *n)
{
    char *p = tu_path(dir, "data.mdb");
    char *d = tu_read_file(p, n);
    free(p);
    return d;
}

static int leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    const struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        n += strncmp(e->d_name, CAIRN__COMPACT_TMP_PREFIX,
                     strlen(CAIRN__COMPACT_TMP_PREFIX)) == 0;
    }
    closedir(d);
    return n;
}

static void assert_verified(const char *dir)
{
    cairn_verify_report r = vf_verify(dir, VF_RUN_A, sample->pk_a);
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
    r = vf_verify(dir, VF_RUN_B, sample->pk_a);
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
    r = vf_verify(dir, "extra-39", sample->pk_a);
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
    r = vf_verify(dir, NULL, NULL);
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
}

static uint64_t last_txn(const char *dir)
{
    cairn_journal *j = NULL;
    cairn_journal_info info;
    char detail[512];
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_journal_info_get(j, &info), CAIRN_OK);
    cairn_journal_close(j);
    return info.last_txnid;
}

static void test_shrinks_and_keeps_content(void **state)
{
    (void)state;
    char *dir = fresh(), detail[1024];
    size_t n0, n1;
    char *before = data_bytes(dir, &n0);
    uint64_t txn = last_txn(dir);
    cairn_compact_result dry, r;
    assert_int_equal(cairn_journal_compact(dir, CAIRN_COMPACT_DRY_RUN, &dry,
                                           detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(dry.size_before, n0);
    assert_true(dry.size_after < dry.size_before);
    char *same = data_bytes(dir, &n1); /* the dry run wrote nothing */
    assert_int_equal(n1, n0);
    assert_memory_equal(same, before, n0);
    free(same);
    assert_int_equal(cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(r.size_before, n0);
    assert_int_equal(r.size_after, dry.size_after);
    assert_int_equal(r.txnid, txn);
    free(data_bytes(dir, &n1));
    assert_int_equal(n1, r.size_after);
    assert_true(n1 < n0);
    assert_int_equal(leftovers(dir), 0);
    assert_int_equal(last_txn(dir), txn);
    assert_verified(dir);
    /* Writable afterwards: lock.mdb and the copy agree. */
    cairn_journal *j = NULL;
    assert_int_equal(cairn_journal_open(dir, 0, &j, detail, sizeof(detail)),
                     CAIRN_OK);
    cairn_journal_set_signer(j, sample->a);
    vf_create(j, "after");
    cairn_journal_close(j);
    assert_int_equal(last_txn(dir), txn + 1);
    cairn_verify_report v = vf_verify(dir, "after", sample->pk_a);
    assert_int_equal(v.verdict, CAIRN_VERDICT_VERIFIED);
    /* Compacted again right away: nothing left to free. */
    assert_int_equal(cairn_journal_compact(dir, CAIRN_COMPACT_DRY_RUN, &dry,
                                           detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(r.size_after, dry.size_after);
    assert_verified(dir);
    free(before);
    tu_rmtree(dir);
}

/* A compaction refused by whatever holds the journal changes nothing. */
static void assert_refused(const char *dir, const char *why)
{
    char detail[1024];
    size_t n0, n1;
    char *before = data_bytes(dir, &n0);
    cairn_compact_result r;
    assert_int_equal(cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)),
                     CAIRN_ELOCKED);
    if (strstr(detail, why) == NULL) {
        print_error("detail \"%s\" lacks \"%s\"\n", detail, why);
    }
    assert_non_null(strstr(detail, why));
    assert_int_equal(r.size_before, 0);
    char *after = data_bytes(dir, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    assert_int_equal(leftovers(dir), 0);
    free(before);
    free(after);
}

static void test_refused_while_writer_open(void **state)
{
    (void)state;
    char *dir = fresh(), detail[1024], pid[32];
    cairn_journal *j = NULL;
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_NO_SHARED_COMMIT, &j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
    assert_refused(dir, pid);
    cairn_journal_close(j);
    cairn_compact_result r;
    assert_int_equal(cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)),
                     CAIRN_OK);
    tu_rmtree(dir);
}

/* A reader of this process, then of another one. */
static void test_refused_while_reader_open(void **state)
{
    (void)state;
    char *dir = fresh(), detail[1024], pid[32];
    cairn_journal *j = NULL;
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
    assert_refused(dir, pid);
    cairn_journal_close(j);
    int ready[2], hold[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        char b = 0;
        close(ready[0]);
        close(hold[1]);
        if (cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                               sizeof(detail)) != CAIRN_OK ||
            write(ready[1], &b, 1) != 1 || read(hold[0], &b, 1) < 0) {
            _exit(1);
        }
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    char b;
    assert_int_equal(read(ready[0], &b, 1), 1);
    snprintf(pid, sizeof(pid), "pid %d", (int)child);
    assert_refused(dir, pid);
    close(hold[1]); /* the child ends, its reader with it */
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]);
    cairn_compact_result r;
    assert_int_equal(cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_verified(dir);
    tu_rmtree(dir);
}

/* A run lock (a byte of data.mdb, base/lock.c) a command inherited. */
static void test_refused_while_run_lock_held(void **state)
{
    (void)state;
    char *dir = fresh(), *data = tu_path(dir, "data.mdb");
    int fd = open(data, O_RDWR);
    assert_true(fd >= 0);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    fl.l_start = (off_t)((uint64_t)1 << 62) + 3;
    fl.l_len = 1;
    assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
    assert_refused(dir, "run lock");
    close(fd);
    free(data);
    tu_rmtree(dir);
}

typedef struct probe {
    const char *dir;
    cairn_err writer, reader;
    char detail[1024];
} probe;

/* While the compaction holds the journal: a writer is refused at once. */
static void open_during(void *ctx, cairn__compact_phase phase)
{
    probe *p = ctx;
    cairn_journal *j = NULL;
    if (phase != CAIRN__COMPACT_SYNCED) {
        return;
    }
    p->writer = cairn_journal_open(p->dir, 0, &j, p->detail, sizeof(p->detail));
    cairn_journal_close(j);
}

static void test_writer_refused_during(void **state)
{
    (void)state;
    char *dir = fresh(), detail[1024], pid[32];
    probe p = {.dir = dir, .writer = CAIRN_OK};
    cairn_compact_result r;
    assert_int_equal(cairn__journal_compact(dir, 0, open_during, &p, &r, detail,
                                            sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(p.writer, CAIRN_ELOCKED);
    snprintf(pid, sizeof(pid), "compacted by pid %d", (int)getpid());
    assert_non_null(strstr(p.detail, pid));
    assert_verified(dir);
    tu_rmtree(dir);
}

static void kill_at(void *ctx, cairn__compact_phase phase)
{
    if (phase == *(const cairn__compact_phase *)ctx) {
        raise(SIGKILL);
    }
}

/* Kill a compaction at each phase: the journal left opens, verifies, and
 * is the old one before the rename, the compacted one after. */
static void test_killed_at_each_phase(void **state)
{
    (void)state;
    for (int ph = 0; ph < CAIRN__COMPACT_PHASES; ph++) {
        char *dir = fresh(), detail[1024];
        size_t n0, n1;
        free(data_bytes(dir, &n0));
        cairn_compact_result r;
        cairn__compact_phase at = (cairn__compact_phase)ph;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            (void)cairn__journal_compact(dir, 0, kill_at, &at, &r, detail,
                                         sizeof(detail));
            _exit(0);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        free(data_bytes(dir, &n1));
        if (ph < CAIRN__COMPACT_RENAMED) {
            assert_int_equal(n1, n0);
        } else {
            assert_true(n1 < n0);
        }
        assert_verified(dir);
        /* The next compaction runs and removes the killed one's file. */
        assert_int_equal(
            cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)),
            CAIRN_OK);
        assert_int_equal(leftovers(dir), 0);
        assert_verified(dir);
        tu_rmtree(dir);
    }
}

static void test_bad_input(void **state)
{
    (void)state;
    char detail[1024];
    cairn_compact_result r;
    char *dir = tu_mkdtemp(), *nowhere = tu_path(dir, "none");
    assert_int_equal(cairn_journal_compact(NULL, 0, &r, detail, sizeof(detail)),
                     CAIRN_EINVAL);
    assert_int_equal(
        cairn_journal_compact(dir, 0x80, &r, detail, sizeof(detail)),
        CAIRN_EINVAL);
    assert_int_equal(
        cairn_journal_compact(dir, 0, NULL, detail, sizeof(detail)),
        CAIRN_EINVAL);
    assert_int_equal(cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)),
                     CAIRN_EIO);
    assert_non_null(strstr(detail, "no journal here"));
    assert_int_equal(
        cairn_journal_compact(nowhere, 0, &r, detail, sizeof(detail)),
        CAIRN_EIO);
    free(nowhere);
    tu_rmtree(dir);
}

/* writers.lock as a symbolic link: refused by writers and by compact,
 * never followed. */
static void test_writers_lock_symlink(void **state)
{
    (void)state;
    char *dir = fresh(), detail[1024];
    char *link = tu_path(dir, "writers.lock"), *target = tu_path(dir, "t");
    assert_int_equal(symlink(target, link), 0);
    cairn_journal *j = NULL;
    assert_int_equal(cairn_journal_open(dir, 0, &j, detail, sizeof(detail)),
                     CAIRN_EUNSAFE);
    cairn_compact_result r;
    assert_int_equal(cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)),
                     CAIRN_EUNSAFE);
    assert_int_equal(access(target, F_OK), -1);
    free(link);
    free(target);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shrinks_and_keeps_content),
        cmocka_unit_test(test_refused_while_writer_open),
        cmocka_unit_test(test_refused_while_reader_open),
        cmocka_unit_test(test_refused_while_run_lock_held),
        cmocka_unit_test(test_writer_refused_during),
        cmocka_unit_test(test_killed_at_each_phase),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_writers_lock_symlink),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
