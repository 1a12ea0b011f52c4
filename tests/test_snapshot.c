/*
 * test_snapshot.c - cairn_journal_open_snapshot(): a consistent private
 * copy of a journal read without its lock.  The copy verifies like the
 * journal and leaves nothing behind; a writer committing during the copy
 * (driven through the copy hook) is tolerated for one commit and makes
 * the copy start again for two; a journal that changes under every copy
 * is an error, never a torn copy; bad sources are refused.
 */
#include "testutil.h"

#define VF_SHARED_SAMPLE
#include "helpers/verify_fixture.h"

#include <dirent.h>
#include <limits.h>

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

static int keep_going(void *ctx, const cairn_verify_report *run)
{
    (void)run;
    (*(int *)ctx)++;
    return 0;
}

/* verify --all on @p j: the directory verdict; the run count in *runs. */
static cairn_verify_report verify_all(cairn_journal *j, int *runs)
{
    cairn_verify_report dir;
    *runs = 0;
    assert_int_equal(
        cairn_verify_all(j, sample->pk_a, 2, keep_going, runs, &dir), CAIRN_OK);
    return dir;
}

static uint64_t last_txn(cairn_journal *j)
{
    cairn_journal_info info;
    assert_int_equal(cairn_journal_info_get(j, &info), CAIRN_OK);
    return info.last_txnid;
}

/* A copy of the sample without lock.mdb, verified through a snapshot:
 * as VERIFIED as the journal, nothing created in the journal directory or
 * left in the temporary one, data.mdb unchanged, writes refused. */
static void test_snapshot_honest(void **state)
{
    (void)state;
    char *dir = vf_copy(sample->dir), *tmp = tu_mkdtemp(), detail[512];
    char *data = tu_path(dir, "data.mdb");
    size_t n0, n1;
    char *before = tu_read_file(data, &n0);
    cairn_journal *j = NULL;
    uint8_t id[CAIRN_JOURNAL_ID_BYTES];
    cairn_verify_report r;
    int runs;
    assert_int_equal(
        cairn_journal_open_snapshot(dir, tmp, &j, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(entries(tmp), 0); /* the copy has no name */
    cairn_journal_id(j, id);
    assert_memory_equal(id, sample->journal_id, sizeof(id));
    assert_int_equal(cairn_verify_run(j, VF_RUN_A, sample->pk_a, &r), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(r.records, VF_A_RECORDS);
    r = verify_all(j, &runs);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(runs, 2);
    cairn_plan *plan = vf_plan("never");
    char out[CAIRN_MAX_ID + 1];
    assert_int_not_equal(cairn_run_create(j, plan, NULL, out, sizeof(out)),
                         CAIRN_OK);
    cairn_plan_free(plan);
    cairn_journal_close(j);
    assert_int_equal(entries(dir), 1); /* still data.mdb alone */
    assert_int_equal(entries(tmp), 0);
    char *after = tu_read_file(data, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    /* The flag form (copy in /tmp), and flags that do not go with it. */
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_SNAPSHOT, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_verify_run(j, VF_RUN_A, sample->pk_a, &r), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    cairn_journal_close(j);
    assert_int_equal(cairn_journal_open(dir,
                                        CAIRN_OPEN_SNAPSHOT | CAIRN_OPEN_CREATE,
                                        &j, detail, sizeof(detail)),
                     CAIRN_EINVAL);
    assert_null(j);
    free(before);
    free(after);
    free(data);
    tu_rmtree(tmp);
    tu_rmtree(dir);
}

/* The copy hook commits through a writer handle on the same journal. */
typedef struct writer {
    cairn_journal *j;
    unsigned commits;      /* commits per copy */
    unsigned on_attempts;  /* on copies 1..on_attempts */
    unsigned made;         /* runs created so far */
    unsigned seen_attempt; /* the last attempt the hook saw */
} writer;

static void commit_during_copy(void *ctx, unsigned attempt)
{
    writer *w = ctx;
    char id[32];
    w->seen_attempt = attempt;
    if (attempt > w->on_attempts) {
        return;
    }
    for (unsigned i = 0; i < w->commits; i++) {
        uint64_t t = last_txn(w->j);
        snprintf(id, sizeof(id), "late-%u", w->made++);
        vf_create(w->j, id); /* one LMDB transaction */
        assert_int_equal(last_txn(w->j), t + 1);
    }
}

static cairn_err open_with(const char *dir, writer *w, cairn_journal **out,
                           cairn__snapshot_opts *o, char *detail,
                           size_t detail_len)
{
    cairn_journal_opts jo = CAIRN_JOURNAL_OPTS_INIT;
    jo.flags = CAIRN_OPEN_SNAPSHOT;
    memset(o, 0, sizeof(*o));
    o->hook = commit_during_copy;
    o->hook_ctx = w;
    return cairn__journal_open(dir, &jo, o, out, detail, detail_len);
}

static void test_snapshot_concurrent_commits(void **state)
{
    (void)state;
    char *dir = vf_copy(sample->dir), detail[512];
    cairn_journal *snap = NULL;
    cairn__snapshot_opts o;
    cairn_verify_report r;
    writer w = {0};
    int runs;
    assert_int_equal(cairn_journal_open(dir, 0, &w.j, detail, sizeof(detail)),
                     CAIRN_OK);
    cairn_journal_set_signer(w.j, sample->a);
    uint64_t t0 = last_txn(w.j);
    /* One commit during the copy: the copy holds the journal before it. */
    w.commits = 1;
    w.on_attempts = 1;
    assert_int_equal(open_with(dir, &w, &snap, &o, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(o.attempts, 1);
    assert_int_equal(o.txnid, t0);
    assert_int_equal(last_txn(snap), t0);
    assert_int_equal(cairn_verify_run(snap, "late-0", NULL, &r), CAIRN_ENORUN);
    r = verify_all(snap, &runs);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(runs, 2);
    cairn_journal_close(snap);
    /* Two commits during the first copy: a page of the copied
     * transaction may have been reused, so it is copied again. */
    w.commits = 2;
    assert_int_equal(open_with(dir, &w, &snap, &o, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(o.attempts, 2);
    assert_int_equal(o.txnid, t0 + 3);
    r = verify_all(snap, &runs);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(runs, 5);
    assert_int_equal(cairn_verify_run(snap, "late-2", sample->pk_a, &r),
                     CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    cairn_journal_close(snap);
    /* Two commits during every copy: an error, never a torn copy. */
    w.on_attempts = UINT_MAX;
    assert_int_equal(open_with(dir, &w, &snap, &o, detail, sizeof(detail)),
                     CAIRN_ESTORE);
    assert_null(snap);
    assert_int_equal(o.attempts, CAIRN__SNAPSHOT_ATTEMPTS);
    assert_int_equal(w.seen_attempt, CAIRN__SNAPSHOT_ATTEMPTS);
    assert_non_null(strstr(detail, "changed under each of 12 copies"));
    cairn_journal_close(w.j);
    tu_rmtree(dir);
}

static void test_snapshot_refusals(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *data = tu_path(dir, "data.mdb"), detail[512];
    cairn_journal *j = NULL;
    assert_int_equal(
        cairn_journal_open_snapshot(dir, NULL, &j, detail, sizeof(detail)),
        CAIRN_EIO);
    assert_null(j);
    assert_non_null(strstr(detail, "no journal here"));
    /* Not LMDB; a FIFO (must not block); LMDB with a broken meta page. */
    tu_write_file(data, "not lmdb at all", 15);
    assert_int_equal(
        cairn_journal_open_snapshot(dir, NULL, &j, detail, sizeof(detail)),
        CAIRN_ECORRUPT);
    assert_non_null(strstr(detail, "not an LMDB data file"));
    unlink(data);
    assert_int_equal(mkfifo(data, 0600), 0);
    alarm(60);
    assert_int_equal(
        cairn_journal_open_snapshot(dir, NULL, &j, detail, sizeof(detail)),
        CAIRN_EIO);
    alarm(0);
    assert_non_null(strstr(detail, "not a regular file"));
    unlink(data);
    char *copy = vf_copy(sample->dir), *cdata = tu_path(copy, "data.mdb");
    size_t n;
    uint8_t *bytes = (uint8_t *)tu_read_file(cdata, &n);
    uint32_t psize;
    memcpy(&psize, bytes + 40, sizeof(psize));
    assert_true(psize >= 4096 && n > 2 * (size_t)psize);
    memset(bytes + psize + 16, 0, 4); /* meta page 1's magic */
    tu_write_file(cdata, bytes, n);
    assert_int_equal(
        cairn_journal_open_snapshot(copy, NULL, &j, detail, sizeof(detail)),
        CAIRN_ECORRUPT);
    assert_non_null(strstr(detail, "meta pages are not LMDB meta pages"));
    /* Shorter than its two meta pages; cut short of its last page. */
    memcpy(bytes + psize + 16, bytes + 16, 4);
    tu_write_file(cdata, bytes, psize);
    assert_int_equal(
        cairn_journal_open_snapshot(copy, NULL, &j, detail, sizeof(detail)),
        CAIRN_ECORRUPT);
    assert_non_null(strstr(detail, "meta pages are not LMDB meta pages"));
    tu_write_file(cdata, bytes, 3 * (size_t)psize);
    assert_int_equal(
        cairn_journal_open_snapshot(copy, NULL, &j, detail, sizeof(detail)),
        CAIRN_ECORRUPT);
    assert_non_null(strstr(detail, "its meta page"));
    tu_write_file(cdata, bytes, n);
    /* Nowhere to put the copy. */
    assert_int_equal(cairn_journal_open_snapshot(copy, "/nonexistent/tmp", &j,
                                                 detail, sizeof(detail)),
                     CAIRN_EIO);
    assert_non_null(strstr(detail, "temporary file in /nonexistent/tmp"));
    assert_int_equal(
        cairn_journal_open_snapshot(copy, NULL, &j, detail, sizeof(detail)),
        CAIRN_OK);
    cairn_journal_close(j);
    free(bytes);
    free(cdata);
    tu_rmtree(copy);
    free(data);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_honest),
        cmocka_unit_test(test_snapshot_concurrent_commits),
        cmocka_unit_test(test_snapshot_refusals),
    };
    return cmocka_run_group_tests(tests, vf_group_setup, vf_group_teardown);
}
