/*
 * test_compact_rebuild.c - compaction rebuilds the databases
 * (store/store_rebuild.c): after most runs of a journal were pruned,
 * `compact` brings data.mdb down to about the pages the kept entries need
 * (a bound computed from the entries themselves, which LMDB's compacting
 * copy, keeping the half-empty leaf pages, stays far above); the dry run
 * announces that exact size; every run, pruned or kept, still verifies
 * under `verify --all`.  A rebuild is deterministic, keeps the same
 * content when it commits in many small transactions, and copies
 * databases cairn does not know (sorted duplicates, plain entries of the
 * main database) as they are.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"
#include "store/store.h"

#define RUNS 48
#define KEPT 4
#define TASKS 6

static char *root, *pruned, *pub_path, *sec_path;
static cairn_signer *signer;
static cairn_pubkey *pubkey;

static const char task_plan_head[] =
    "{\"cairn_plan\":1,\"plan_id\":\"nightly\",\"run_id\":\"%s\","
    "\"operations\":[{\"id\":\"check\",\"kind\":\"preflight\"}";

static void run_completed(cairn_journal *j, const char *run)
{
    char json[2048], detail[256], out[CAIRN_MAX_ID + 1];
    size_t n = (size_t)snprintf(json, sizeof(json), task_plan_head, run);
    for (int t = 0; t < TASKS; t++) {
        n += (size_t)snprintf(json + n, sizeof(json) - n,
                              ",{\"id\":\"copy-%d\",\"kind\":\"task\"}", t);
    }
    snprintf(json + n, sizeof(json) - n, "]}");
    cairn_plan *plan = NULL;
    assert_int_equal(
        cairn_plan_parse(json, strlen(json), &plan, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(cairn_run_create(j, plan, NULL, out, sizeof(out)),
                     CAIRN_OK);
    cairn_plan_free(plan);
    cairn_actor_info who = {"ops", "checks passed"};
    for (uint32_t op = 0; op <= TASKS; op++) {
        vf_claim(j, run, op);
        vf_receipt(j, run, op, CAIRN_OUTCOME_COMPLETED, NULL, 0);
        if (op == 0) {
            assert_int_equal(cairn_accept_preflight(j, run, "pf", &who),
                             CAIRN_OK);
        }
    }
}

static void prune_run(cairn_journal *j, const char *run)
{
    cairn_prune_info in;
    memset(&in, 0, sizeof(in));
    in.rule = "keep-last 4";
    in.reason = "retention";
    in.policy = "--keep-last 4";
    memset(in.bundle_sha256, 0xab, CAIRN_HASH_BYTES);
    in.bundle_bytes = 4096;
    in.location = "/archive/run.cairn";
    cairn_actor_info who = {"ops", NULL};
    assert_int_equal(cairn_prune(j, run, &in, &who), CAIRN_OK);
}

/* A journal of RUNS completed runs, all but the last KEPT pruned. */
static int group_setup(void **state)
{
    (void)state;
    char run[32];
    root = tu_mkdtemp();
    pruned = tu_path(root, "j");
    pub_path = tu_path(root, "k.pub");
    sec_path = tu_path(root, "k.key");
    vf_keygen(pub_path, sec_path);
    signer = vf_signer_load(sec_path);
    pubkey = vf_pubkey_load(pub_path);
    cairn_journal *j = vf_open(pruned, CAIRN_OPEN_CREATE, signer);
    for (int i = 0; i < RUNS; i++) {
        snprintf(run, sizeof(run), "nightly-%03d", i);
        run_completed(j, run);
    }
    for (int i = 0; i < RUNS - KEPT; i++) {
        snprintf(run, sizeof(run), "nightly-%03d", i);
        prune_run(j, run);
    }
    cairn_journal_close(j);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cairn_signer_free(signer);
    cairn_pubkey_free(pubkey);
    free(pruned);
    free(pub_path);
    free(sec_path);
    tu_rmtree(root);
    return 0;
}

static uint64_t file_size(const char *dir)
{
    struct stat st;
    char *p = tu_path(dir, "data.mdb");
    assert_int_equal(stat(p, &st), 0);
    free(p);
    return (uint64_t)st.st_size;
}

/* LMDB 0.9's leaf layout: a node is an 8-byte header, the key and the
 * value, or an overflow page number when the node would exceed nodemax;
 * each node has a 2-byte slot; a page has a 16-byte header. */
typedef struct db_need {
    uint64_t leaf_bytes, overflow_pages;
} db_need;

static void add_entry(db_need *n, size_t psize, size_t kl, size_t vl)
{
    size_t nodemax = (((psize - 16) / 2) & ~(size_t)1) - 2;
    size_t node = 8 + kl + vl;
    if (node > nodemax) {
        node = 8 + kl + 8;
        n->overflow_pages += (16 + vl + psize - 1) / psize;
    }
    n->leaf_bytes += ((node + 1) & ~(size_t)1) + 2;
}

/* The size a packed copy of the journal in @p dir may have: per database
 * its leaf nodes on pages filled to 5/6 at least, its overflow pages, and
 * two pages more (a branch page, the last leaf); the main database's page
 * and the two meta pages. */
static uint64_t packed_bound(const char *dir, uint64_t *need_bytes)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *main_cur = NULL;
    MDB_dbi main_dbi;
    MDB_stat st;
    MDB_val k, v;
    char *path = tu_path(dir, "data.mdb");
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(
        mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0600),
        0);
    free(path);
    assert_int_equal(mdb_env_stat(env, &st), 0);
    size_t psize = st.ms_psize;
    uint64_t pages = 2 + 1;
    *need_bytes = 0;
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &main_dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, main_dbi, &main_cur), 0);
    int rc = mdb_cursor_get(main_cur, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(main_cur, &k, &v, MDB_NEXT)) {
        char name[64];
        MDB_dbi dbi;
        MDB_cursor *cur = NULL;
        db_need n = {0, 0};
        snprintf(name, sizeof(name), "%.*s", (int)k.mv_size,
                 (const char *)k.mv_data);
        assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
        assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
        MDB_val ek, ev;
        int r2 = mdb_cursor_get(cur, &ek, &ev, MDB_FIRST);
        for (; r2 == 0; r2 = mdb_cursor_get(cur, &ek, &ev, MDB_NEXT)) {
            add_entry(&n, psize, ek.mv_size, ev.mv_size);
        }
        assert_int_equal(r2, MDB_NOTFOUND);
        mdb_cursor_close(cur);
        uint64_t leaf_pages =
            (n.leaf_bytes * 6 / 5 + psize - 17) / (psize - 16);
        pages += leaf_pages + n.overflow_pages + 2;
        *need_bytes += n.leaf_bytes + n.overflow_pages * psize;
    }
    assert_int_equal(rc, MDB_NOTFOUND);
    mdb_cursor_close(main_cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return pages * psize;
}

/* The size of LMDB's compacting copy (MDB_CP_COMPACT: free pages left
 * out, every other page copied as it is) of the journal in @p dir: what
 * compaction wrote before it rebuilt the databases. */
static uint64_t cp_compact_size(const char *dir)
{
    MDB_env *env = NULL;
    char *path = tu_path(dir, "data.mdb"), *out = tu_path(dir, "cp.mdb");
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(
        mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0600),
        0);
    int fd = open(out, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(mdb_env_copyfd2(env, fd, MDB_CP_COMPACT), 0);
    mdb_env_close(env);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    close(fd);
    assert_int_equal(unlink(out), 0);
    free(path);
    free(out);
    return (uint64_t)st.st_size;
}

static int each_verified(void *ctx, const cairn_verify_report *r)
{
    size_t *n = ctx;
    if (r->verdict != CAIRN_VERDICT_VERIFIED) {
        fail_msg("verify %s: %s: %s [%s]", r->run_id,
                 cairn_verdict_name(r->verdict), r->reason, r->bad_field);
    }
    (*n)++;
    return 0;
}

/* verify --all with the key: every run, pruned or kept, and the
 * directory. */
static void assert_all_verified(const char *dir)
{
    cairn_journal *j = NULL;
    cairn_verify_report d;
    size_t n = 0;
    j = vf_open(dir, CAIRN_OPEN_READONLY, NULL);
    assert_int_equal(cairn_verify_all(j, pubkey, 2, each_verified, &n, &d),
                     CAIRN_OK);
    cairn_journal_close(j);
    if (d.verdict != CAIRN_VERDICT_VERIFIED) {
        fail_msg("verify --all: directory: %s", d.reason);
    }
    assert_int_equal(n, RUNS);
}

static void test_pruned_journal_shrinks_to_its_entries(void **state)
{
    (void)state;
    char *dir = vf_copy(pruned), detail[1024];
    uint64_t need = 0, before = file_size(dir);
    uint64_t bound = packed_bound(dir, &need);
    uint64_t cp = cp_compact_size(dir);
    cairn_compact_result dry, r;
    assert_int_equal(cairn_journal_compact(dir, CAIRN_COMPACT_DRY_RUN, &dry,
                                           detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(dry.size_before, before);
    assert_int_equal(file_size(dir), before); /* the dry run wrote nothing */
    assert_int_equal(cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(r.size_after, dry.size_after);
    assert_int_equal(file_size(dir), r.size_after);
    print_message("pruned journal: %llu bytes, MDB_CP_COMPACT %llu, "
                  "compacted %llu, entries need %llu, bound %llu\n",
                  (unsigned long long)before, (unsigned long long)cp,
                  (unsigned long long)r.size_after, (unsigned long long)need,
                  (unsigned long long)bound);
    /* The bound tells the two apart: the compacting copy keeps the pages
     * the prune left half empty. */
    assert_true(cp > bound);
    if (r.size_after > bound) {
        fail_msg("compacted to %llu bytes, more than the %llu the kept "
                 "entries need on packed pages",
                 (unsigned long long)r.size_after, (unsigned long long)bound);
    }
    assert_all_verified(dir);
    /* Compacting the compacted journal changes nothing. */
    assert_int_equal(cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(r.size_after, r.size_before);
    tu_rmtree(dir);
}

/* An empty private file in @p dir for a rebuild. */
static int scratch(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    return fd;
}

static char *fd_bytes(int fd, size_t *n)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    *n = (size_t)st.st_size;
    char *b = malloc(*n + 1);
    assert_non_null(b);
    assert_int_equal(pread(fd, b, *n, 0), (ssize_t)*n);
    return b;
}

static cairn_store *open_fd(int fd)
{
    char path[64], detail[512];
    cairn_store *s = NULL;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    assert_int_equal(
        cairn__store_open_private(path, &s, detail, sizeof(detail)), CAIRN_OK);
    return s;
}

/* The same content gives the same file (what makes the dry run's figure
 * exact); committing every few entries keeps the content, and the free
 * list those commits leave stays small. */
static void test_rebuild_is_deterministic_in_any_txn_size(void **state)
{
    (void)state;
    char *dir = vf_copy(pruned), detail[1024];
    char *data = tu_path(dir, "data.mdb");
    cairn_store *src = NULL;
    assert_int_equal(
        cairn__store_open_private(data, &src, detail, sizeof(detail)),
        CAIRN_OK);
    int a = scratch(dir), b = scratch(dir), c = scratch(dir);
    uint64_t na = 0, nb = 0, nc = 0, need = 0;
    assert_int_equal(
        cairn__store_rebuild(src, a, NULL, &na, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(
        cairn__store_rebuild(src, b, NULL, &nb, detail, sizeof(detail)),
        CAIRN_OK);
    size_t la, lb;
    char *ba = fd_bytes(a, &la), *bb = fd_bytes(b, &lb);
    assert_int_equal(la, na);
    assert_int_equal(lb, nb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    /* The rebuilt file holds the same content; so does one written in
     * write transactions of 2 KiB of entries each. */
    cairn_store *copy = open_fd(a);
    assert_int_equal(
        cairn__store_same_content(src, copy, detail, sizeof(detail)), CAIRN_OK);
    cairn__store_close(copy);
    cairn__rebuild_opts small = {.txn_bytes = 2048};
    assert_int_equal(
        cairn__store_rebuild(src, c, &small, &nc, detail, sizeof(detail)),
        CAIRN_OK);
    copy = open_fd(c);
    assert_int_equal(
        cairn__store_same_content(src, copy, detail, sizeof(detail)), CAIRN_OK);
    cairn__store_close(copy);
    print_message("rebuilt: %llu bytes in one transaction, %llu in 2 KiB "
                  "ones\n",
                  (unsigned long long)na, (unsigned long long)nc);
    assert_true(nc >= na);
    assert_true(nc <= packed_bound(dir, &need));
    /* A file that is not empty is refused. */
    assert_int_equal(
        cairn__store_rebuild(src, a, NULL, &nb, detail, sizeof(detail)),
        CAIRN_EINVAL);
    assert_int_equal(nb, 0);
    cairn__store_close(src);
    close(a);
    close(b);
    close(c);
    free(ba);
    free(bb);
    free(data);
    tu_rmtree(dir);
}

/* Databases cairn does not make are copied as they are: sorted
 * duplicates, reversed keys, plain entries of the main database. */
static void test_foreign_databases_copied(void **state)
{
    (void)state;
    char *dir = vf_copy(pruned), detail[1024];
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dups, rev, main_dbi;
    static const char *const vals[] = {"a", "bb", "ccc"};
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_set_mapsize(env, (size_t)1 << 28), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(
        mdb_dbi_open(txn, "x-dups", MDB_CREATE | MDB_DUPSORT, &dups), 0);
    assert_int_equal(
        mdb_dbi_open(txn, "x-rev", MDB_CREATE | MDB_REVERSEKEY, &rev), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &main_dbi), 0);
    for (int k = 0; k < 300; k++) {
        char key[16];
        snprintf(key, sizeof(key), "key-%03d", k);
        MDB_val mk = {strlen(key), key};
        for (int i = 0; i < 3; i++) {
            MDB_val mv = {strlen(vals[i]), (void *)(uintptr_t)vals[i]};
            assert_int_equal(mdb_put(txn, dups, &mk, &mv, 0), 0);
        }
        MDB_val rv = {sizeof(k), &k};
        assert_int_equal(mdb_put(txn, rev, &mk, &rv, 0), 0);
    }
    char plain_key[] = "z-plain", plain_val[] = "value";
    MDB_val pk = {7, plain_key}, pv = {5, plain_val};
    assert_int_equal(mdb_put(txn, main_dbi, &pk, &pv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    /* compact compares every entry of every database before it replaces
     * data.mdb: success means the copy holds them all. */
    cairn_compact_result dry, r;
    assert_int_equal(cairn_journal_compact(dir, CAIRN_COMPACT_DRY_RUN, &dry,
                                           detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(r.size_after, dry.size_after);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "x-dups", 0, &dups), 0);
    unsigned flags = 0;
    assert_int_equal(mdb_dbi_flags(txn, dups, &flags), 0);
    assert_true(flags & MDB_DUPSORT);
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, dups, &st), 0);
    assert_int_equal(st.ms_entries, 900);
    assert_int_equal(mdb_dbi_open(txn, "x-rev", 0, &rev), 0);
    assert_int_equal(mdb_dbi_flags(txn, rev, &flags), 0);
    assert_true(flags & MDB_REVERSEKEY);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &main_dbi), 0);
    MDB_val got;
    assert_int_equal(mdb_get(txn, main_dbi, &pk, &got), 0);
    assert_int_equal(got.mv_size, 5);
    assert_memory_equal(got.mv_data, "value", 5);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pruned_journal_shrinks_to_its_entries),
        cmocka_unit_test(test_rebuild_is_deterministic_in_any_txn_size),
        cmocka_unit_test(test_foreign_databases_copied),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
