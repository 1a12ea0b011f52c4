/*
 * test_migrate.c - cairn_journal_migrate() and its crash safety: a process
 * killed (SIGKILL) after the old journal was copied, or after the copy was
 * converted and proven but before it was linked into place, leaves the old
 * journal byte for byte as it was and no journal in NEW; the next
 * migration into the same NEW succeeds and gives the same roots.  Also:
 * the check callback sees a format-1 copy and its refusal makes nothing;
 * NULL arguments; a signer that did not sign the runs.
 *
 * The format-1 journal is tests/vectors/migrate/signed.dump (made by a
 * format-1 cairn), loaded with mdb_load; without mdb_load the tests skip.
 */
#include "testutil.h"

#include "base/bytes.h"
#include "commit/commit.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *vector_path(const char *name)
{
    const char *root = getenv("CAIRN_ROOT");
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/vectors/migrate/%s",
             root != NULL && root[0] != '\0' ? root : ".", name);
    return strdup(path);
}

typedef struct fx {
    char *tmp;
    char *old;
    char *new_dir;
    cairn_signer *signer;
} fx;

static int have_mdb_load(void)
{
    return system("command -v mdb_load >/dev/null 2>&1") == 0;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    char cmd[8192], detail[512];
    assert_non_null(f);
    f->tmp = tu_mkdtemp();
    f->old = tu_path(f->tmp, "old");
    f->new_dir = tu_path(f->tmp, "new");
    char *dump = vector_path("signed.dump");
    char *key = vector_path("a.key");
    assert_int_equal(mkdir(f->old, 0700), 0);
    if (have_mdb_load()) {
        snprintf(cmd, sizeof(cmd), "mdb_load -f '%s' '%s' 2>/dev/null", dump,
                 f->old);
        assert_int_equal(system(cmd), 0);
        snprintf(cmd, sizeof(cmd), "chmod 600 '%s'/*.mdb", f->old);
        assert_int_equal(system(cmd), 0);
    }
    assert_int_equal(
        cairn_signer_load(key, NULL, &f->signer, detail, sizeof(detail)),
        CAIRN_OK);
    free(dump);
    free(key);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    cairn_signer_free(f->signer);
    free(f->old);
    free(f->new_dir);
    tu_rmtree(f->tmp);
    free(f);
    return 0;
}

static char *data_of(const char *dir, size_t *len)
{
    char *p = tu_path(dir, "data.mdb");
    char *bytes = tu_read_file(p, len);
    free(p);
    return bytes;
}

static int exists_in(const char *dir, const char *name)
{
    char *p = tu_path(dir, name);
    struct stat st;
    int r = lstat(p, &st) == 0;
    free(p);
    return r;
}

static void kill_at(void *ctx, int stage)
{
    if (stage == *(const int *)ctx) {
        raise(SIGKILL);
    }
}

/* Migrate in a child that SIGKILLs itself at @p stage. */
static void migrate_killed(const fx *f, int stage)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cairn_migrate_opts opts;
        cairn_migrate_result res;
        char detail[512];
        memset(&opts, 0, sizeof(opts));
        opts.signer = f->signer;
        (void)cairn__journal_migrate(f->old, f->new_dir, &opts, kill_at, &stage,
                                     &res, detail, sizeof(detail));
        _exit(0); /* not killed: the test fails below */
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void migrate_ok(const fx *f, cairn_migrate_result *res)
{
    cairn_migrate_opts opts;
    char detail[512];
    memset(&opts, 0, sizeof(opts));
    opts.signer = f->signer;
    cairn_err err = cairn_journal_migrate(f->old, f->new_dir, &opts, res,
                                          detail, sizeof(detail));
    if (err != CAIRN_OK) {
        print_error("migrate: %s: %s\n", cairn_errname(err), detail);
    }
    assert_int_equal(err, CAIRN_OK);
    assert_int_equal(res->records, 17);
    assert_int_equal(res->runs, 3);
    assert_true(res->is_signed);
    /* every run is a summary now, with its rows (FORMAT.md 23.1) */
    cairn_journal *j = NULL;
    cairn_txn *txn = NULL;
    uint64_t rows = 0;
    assert_int_equal(cairn_journal_open(f->new_dir, CAIRN_OPEN_READONLY, &j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn__store_read(j->store, &txn), CAIRN_OK);
    for (uint64_t run = 1; run <= 3; run++) {
        uint8_t key[8];
        const uint8_t *v;
        size_t vl;
        int found = 0;
        cairn__store64_be(key, run);
        assert_int_equal(cairn__txn_get(txn, CAIRN_DBI_RUNS, key, sizeof(key),
                                        &v, &vl, &found),
                         CAIRN_OK);
        assert_true(found && vl > 0);
        assert_int_equal(v[0], 2);
    }
    assert_int_equal(cairn__txn_count(txn, CAIRN_DBI_OPROWS, &rows), CAIRN_OK);
    assert_true(rows > 0);
    cairn__txn_end(txn);
    cairn_journal_close(j);
}

/* A journal opened after a kill at @p stage: OLD unchanged, NEW without
 * a journal; then a clean migration succeeds, as the killed one would. */
static void kill_then_retry(void **state, int stage)
{
    fx *f = *state;
    if (!have_mdb_load()) {
        skip();
    }
    size_t before_len, after_len;
    char *before = data_of(f->old, &before_len);
    migrate_killed(f, stage);
    char *after = data_of(f->old, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    assert_false(exists_in(f->new_dir, "data.mdb"));

    cairn_journal *j = NULL;
    char detail[512];
    assert_int_not_equal(cairn_journal_open(f->new_dir, CAIRN_OPEN_READONLY, &j,
                                            detail, sizeof(detail)),
                         CAIRN_OK);
    assert_null(j);
    assert_int_equal(cairn_journal_open(f->old, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    cairn_journal_info info;
    assert_int_equal(cairn_journal_info_get(j, &info), CAIRN_OK);
    assert_int_equal(info.format, 1);
    cairn_journal_close(j);

    cairn_migrate_result res;
    migrate_ok(f, &res);
    assert_true(exists_in(f->new_dir, "data.mdb"));
    assert_int_equal(cairn_journal_open(f->new_dir, CAIRN_OPEN_READONLY, &j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_journal_info_get(j, &info), CAIRN_OK);
    assert_int_equal(info.format, 2);
    assert_int_equal(info.records, 17);
    cairn_journal_close(j);
    free(before);
    free(after);
}

static void test_kill_after_copy(void **state)
{
    kill_then_retry(state, CAIRN__MIGRATE_COPIED);
}

static void test_kill_before_publish(void **state)
{
    kill_then_retry(state, CAIRN__MIGRATE_CONVERTED);
}

typedef struct seen {
    uint32_t format;
    uint64_t records;
} seen;

static cairn_err refuse_check(void *ctx, cairn_journal *copy, char *detail,
                              size_t detail_len)
{
    seen *s = ctx;
    cairn_journal_info info;
    assert_int_equal(cairn_journal_info_get(copy, &info), CAIRN_OK);
    s->format = info.format;
    s->records = info.records;
    snprintf(detail, detail_len, "refused by the test");
    return CAIRN_ETAMPERED;
}

/* The check sees the format-1 copy; its error is returned and nothing
 * is made (not even NEW, which did not exist). */
static void test_check_refuses(void **state)
{
    fx *f = *state;
    if (!have_mdb_load()) {
        skip();
    }
    seen s = {0, 0};
    cairn_migrate_opts opts;
    cairn_migrate_result res;
    char detail[512];
    memset(&opts, 0, sizeof(opts));
    opts.signer = f->signer;
    opts.check = refuse_check;
    opts.check_ctx = &s;
    assert_int_equal(cairn_journal_migrate(f->old, f->new_dir, &opts, &res,
                                           detail, sizeof(detail)),
                     CAIRN_ETAMPERED);
    assert_string_equal(detail, "refused by the test");
    assert_int_equal(s.format, 1);
    assert_int_equal(s.records, 17);
    assert_int_equal(res.records, 0);
    struct stat st;
    assert_int_equal(stat(f->new_dir, &st), -1);
}

/* Runs signed by a.key: no signer, or another signer, is refused. */
static void test_signer_must_match(void **state)
{
    fx *f = *state;
    if (!have_mdb_load()) {
        skip();
    }
    cairn_migrate_opts opts;
    cairn_migrate_result res;
    char detail[512];
    memset(&opts, 0, sizeof(opts));
    assert_int_equal(cairn_journal_migrate(f->old, f->new_dir, &opts, &res,
                                           detail, sizeof(detail)),
                     CAIRN_EKEYMISMATCH);
    assert_non_null(
        strstr(detail, "run m-1 is signed by key AD641777F1B0448B"));
    char *key = vector_path("b.key");
    cairn_signer *b = NULL;
    assert_int_equal(cairn_signer_load(key, NULL, &b, detail, sizeof(detail)),
                     CAIRN_OK);
    opts.signer = b;
    assert_int_equal(cairn_journal_migrate(f->old, f->new_dir, &opts, &res,
                                           detail, sizeof(detail)),
                     CAIRN_EKEYMISMATCH);
    assert_non_null(
        strstr(detail, "not by the migrating key 06B27D85E06C41DB"));
    assert_false(exists_in(f->new_dir, "data.mdb"));
    cairn_signer_free(b);
    free(key);
    assert_int_equal(cairn_journal_migrate(NULL, f->new_dir, &opts, &res,
                                           detail, sizeof(detail)),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_journal_migrate(f->old, f->new_dir, NULL, &res,
                                           detail, sizeof(detail)),
                     CAIRN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill_after_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_before_publish, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_check_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signer_must_match, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
