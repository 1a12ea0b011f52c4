/*
 * test_attack_f2.c - the attacks of issue 15 ("Why") against a format-2
 * journal, as someone who can write the journal directory but holds no
 * secret key: forge a run's plan (CREATE record and state), forge one
 * operation's state byte, and optionally make everything the hashes can
 * show consistent again (rebuild the log tree and the state map from the
 * forged data and put the new roots into the head, keeping its
 * signature).  A writer must refuse (CAIRN_ETAMPERED, exit 4) before it
 * writes or runs anything; `cairn verify` must say TAMPERED.
 *
 * Without arguments: cmocka tests of the library's writers.  With
 * arguments it is the forging tool tests/cli/attack_f2.sh uses:
 *   test_attack_f2 forge-plan DIR RUN OLD NEW [rebuild]
 *       replace the text OLD by NEW in RUN's stored plan, re-chain the
 *       run's records (the attacker's rewrite) and replay its state;
 *   test_attack_f2 forge-op DIR RUN OP STATE [rebuild]
 *       set operation OP (index) of RUN's state to STATE (1..6);
 *   test_attack_f2 forge-node DIR LEVEL INDEX
 *       flip one bit of the stored log tree node (LEVEL, INDEX).
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"

#include "format/merkle.h"

/* ---- the forger ------------------------------------------------------- */

typedef struct forge {
    vf_raw raw;
    MDB_dbi tree, smap;
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
    uint64_t run_num;
} forge;

static void forge_open(forge *f, const char *dir, const char *run)
{
    size_t vl;
    vf_raw_open(&f->raw, dir);
    assert_int_equal(mdb_dbi_open(f->raw.txn, "tree", 0, &f->tree), 0);
    assert_int_equal(mdb_dbi_open(f->raw.txn, "smap", 0, &f->smap), 0);
    uint8_t *id = vf_get(&f->raw, VR_META, "journal_id", 10, &vl);
    assert_non_null(id);
    assert_int_equal(vl, CAIRN_JOURNAL_ID_BYTES);
    memcpy(f->journal_id, id, vl);
    free(id);
    uint8_t *num = vf_get(&f->raw, VR_NAMES, run, strlen(run), &vl);
    assert_non_null(num);
    assert_int_equal(vl, 8);
    f->run_num = cairn__load64_be(num);
    free(num);
}

typedef struct put_ctx {
    forge *f;
    MDB_dbi dbi;
} put_ctx;

static cairn_err put_node(void *ctx, unsigned level, uint64_t index,
                          const uint8_t h[CAIRN_HASH_BYTES])
{
    put_ctx *p = ctx;
    uint8_t key[9];
    key[0] = (uint8_t)level;
    cairn__store64_be(key + 1, index);
    MDB_val k = {sizeof(key), key},
            v = {CAIRN_HASH_BYTES, (void *)(uintptr_t)h};
    return mdb_put(p->f->raw.txn, p->dbi, &k, &v, 0) == 0 ? CAIRN_OK
                                                          : CAIRN_ESTORE;
}

/* Rebuild the tree in @p dbi from every value of @p src in key order. */
static void rebuild_tree(forge *f, MDB_dbi src, MDB_dbi dbi,
                         uint8_t root[CAIRN_HASH_BYTES])
{
    put_ctx p = {f, dbi};
    cairn_mt_stream st;
    MDB_cursor *cur;
    MDB_val k, v;
    char why[128];
    assert_int_equal(mdb_drop(f->raw.txn, dbi, 0), 0);
    cairn__mt_stream_init(&st, put_node, &p);
    assert_int_equal(mdb_cursor_open(f->raw.txn, src, &cur), 0);
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        uint8_t leaf[CAIRN_HASH_BYTES];
        cairn__leaf_hash(v.mv_data, v.mv_size, leaf);
        assert_int_equal(cairn__mt_stream_push(&st, leaf, why, sizeof(why)),
                         CAIRN_OK);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    cairn__mt_stream_root(&st, root);
}

/* Replace the base64 root at the start of @p p (44 characters). */
static void put_b64(char *p, const uint8_t root[CAIRN_HASH_BYTES])
{
    char b64[45];
    cairn__b64_encode(root, CAIRN_HASH_BYTES, b64, sizeof(b64));
    memcpy(p, b64, 44);
}

/* The attacker's best: trees consistent with the forged data, the head's
 * roots replaced, its signature line kept (no key to make a new one). */
static void forge_rebuild(forge *f)
{
    uint8_t root[CAIRN_HASH_BYTES], sroot[CAIRN_HASH_BYTES];
    size_t len;
    rebuild_tree(f, f->raw.db[VR_RECORDS], f->tree, root);
    rebuild_tree(f, f->raw.db[VR_RUNS], f->smap, sroot);
    char *h = (char *)vf_get(&f->raw, VR_META, "head", 4, &len);
    assert_non_null(h);
    char *line = memchr(h, '\n', len);
    assert_non_null(line);
    line = memchr(line + 1, '\n', len - (size_t)(line + 1 - h));
    assert_non_null(line);
    put_b64(line + 1, root); /* line 3: the log root */
    char *st = memchr(line + 1, '\n', len - (size_t)(line + 1 - h));
    assert_non_null(st);
    char *sp = memchr(st + 13, ' ', 24); /* "cairn-state <R> " */
    assert_non_null(sp);
    put_b64(sp + 1, sroot);
    vf_put(&f->raw, VR_META, "head", 4, h, len);
    free(h);
}

/* Replace @p old by @p new in the run's stored plan, re-chain the run
 * and replay its state (unsigned checkpoints are not rewritten). */
static void forge_plan(const char *dir, const char *run, const char *old,
                       const char *new, int rebuild)
{
    forge f;
    vf_run r;
    char why[512];
    forge_open(&f, dir, run);
    vf_load_run(&f.raw, f.run_num, &r);
    cairn_record *create = &r.r[0].rec;
    char *at = strstr(create->plan_json, old);
    assert_non_null(at);
    size_t n = create->plan_len - strlen(old) + strlen(new);
    char *json = malloc(n + 1);
    assert_non_null(json);
    size_t head = (size_t)(at - create->plan_json);
    memcpy(json, create->plan_json, head);
    memcpy(json + head, new, strlen(new));
    strcpy(json + head + strlen(new), at + strlen(old));
    cairn_plan *plan = NULL;
    cairn_err perr =
        cairn__plan_from_canonical(json, n, &plan, why, sizeof(why));
    if (perr != CAIRN_OK) {
        fprintf(stderr, "forged plan: %s: %s\n", why, json);
    }
    assert_int_equal(perr, CAIRN_OK);
    assert_int_equal(cairn__record_set_str(&create->plan_json, json), CAIRN_OK);
    create->plan_len = n;
    memcpy(create->plan_hash, plan->hash, CAIRN_HASH_BYTES);
    cairn_plan_free(plan);
    free(json);
    vf_rewrite o = {f.journal_id, NULL, r.n, 0, 1};
    vf_store_run(&f.raw, &r, &o);
    vf_free_run(&r);
    if (rebuild) {
        forge_rebuild(&f);
    }
    vf_raw_close(&f.raw);
}

/* Re-seal every checkpoint of the run (format 2: sealed by the journal
 * head, docs/FORMAT.md section 25) to the re-chained records: anyone can,
 * since none of them carries a signature of its own. */
static void forge_reseal(forge *f, const vf_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        uint8_t key[8];
        size_t vl, rl;
        cairn_checkpoint cp;
        vf_key8(key, r->r[i].pos);
        uint8_t *v = vf_get(&f->raw, VR_CPS, key, sizeof(key), &vl);
        if (v == NULL) {
            continue;
        }
        assert_int_equal(cairn__checkpoint_decode(v, vl, &cp, NULL, 0),
                         CAIRN_OK);
        assert_true(cp.head_sealed);
        uint8_t *rec = vf_get(&f->raw, VR_RECORDS, key, sizeof(key), &rl);
        assert_non_null(rec);
        cairn__leaf_hash(rec, rl, cp.head);
        cp.wall_ns = r->r[i].rec.wall_ns;
        cairn__checkpoint_encode(&cp, v);
        vf_put(&f->raw, VR_CPS, key, sizeof(key), v, vl);
        free(rec);
        free(v);
    }
}

/* Edit the reason of the run's receipt (seq 2), re-chain, re-seal its
 * checkpoints and replay its state: every per-run check holds. */
static void forge_receipt(const char *dir, const char *run, int rebuild)
{
    forge f;
    vf_run r;
    forge_open(&f, dir, run);
    vf_load_run(&f.raw, f.run_num, &r);
    assert_int_equal(r.r[2].rec.type, CAIRN_REC_RECEIPT);
    assert_int_equal(
        cairn__record_set_str(&r.r[2].rec.reason, "forged: all fine"),
        CAIRN_OK);
    vf_rewrite o = {f.journal_id, NULL, r.n, 0, 1};
    vf_store_run(&f.raw, &r, &o);
    forge_reseal(&f, &r);
    vf_free_run(&r);
    if (rebuild) {
        forge_rebuild(&f);
    }
    vf_raw_close(&f.raw);
}

/* Set operation @p op of the run's state to @p state. */
static void forge_op(const char *dir, const char *run, uint32_t op,
                     cairn_op_state state, int rebuild)
{
    forge f;
    cairn_state st;
    forge_open(&f, dir, run);
    vf_get_state(&f.raw, f.run_num, &st);
    assert_true(op < st.n_ops);
    st.ops[op].state = state; /* row, op tree and summary made to agree */
    vf_put_state(&f.raw, &st);
    cairn__state_free(&st);
    if (rebuild) {
        forge_rebuild(&f);
    }
    vf_raw_close(&f.raw);
}

/* Flip one bit of stored node (@p level, @p index) of the log tree. */
static void forge_node(const char *dir, unsigned level, uint64_t index)
{
    forge f;
    uint8_t key[9], h[CAIRN_HASH_BYTES];
    MDB_val k = {sizeof(key), key}, v;
    vf_raw_open(&f.raw, dir);
    assert_int_equal(mdb_dbi_open(f.raw.txn, "tree", 0, &f.tree), 0);
    key[0] = (uint8_t)level;
    cairn__store64_be(key + 1, index);
    assert_int_equal(mdb_get(f.raw.txn, f.tree, &k, &v), 0);
    assert_int_equal(v.mv_size, CAIRN_HASH_BYTES);
    memcpy(h, v.mv_data, CAIRN_HASH_BYTES);
    h[0] ^= 1;
    v.mv_data = h;
    assert_int_equal(mdb_put(f.raw.txn, f.tree, &k, &v, 0), 0);
    vf_raw_close(&f.raw);
}

static int tool(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "forge-node") == 0) {
        forge_node(argv[2], (unsigned)strtoul(argv[3], NULL, 10),
                   strtoull(argv[4], NULL, 10));
        return 0;
    }
    if (argc >= 6 && strcmp(argv[1], "forge-plan") == 0) {
        forge_plan(argv[2], argv[3], argv[4], argv[5],
                   argc > 6 && strcmp(argv[6], "rebuild") == 0);
        return 0;
    }
    if (argc >= 6 && strcmp(argv[1], "forge-op") == 0) {
        forge_op(argv[2], argv[3], (uint32_t)strtoul(argv[4], NULL, 10),
                 (cairn_op_state)strtoul(argv[5], NULL, 10),
                 argc > 6 && strcmp(argv[6], "rebuild") == 0);
        return 0;
    }
    fprintf(stderr, "usage: test_attack_f2 forge-plan DIR RUN OLD NEW "
                    "[rebuild] | forge-op DIR RUN OP STATE [rebuild] | "
                    "forge-node DIR LEVEL INDEX\n");
    return 2;
}

/* ---- library tests ---------------------------------------------------- */

typedef struct fx {
    char *root, *dir, *pub, *sec;
    cairn_signer *signer;
} fx;

static fx F;

static int group_setup(void **state)
{
    char detail[256];
    (void)state;
    F.root = tu_mkdtemp();
    F.dir = tu_path(F.root, "j");
    F.pub = tu_path(F.root, "a.pub");
    F.sec = tu_path(F.root, "a.key");
    vf_keygen(F.pub, F.sec);
    assert_int_equal(
        cairn_signer_load(F.sec, NULL, &F.signer, detail, sizeof(detail)),
        CAIRN_OK);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cairn_signer_free(F.signer);
    free(F.dir);
    free(F.pub);
    free(F.sec);
    tu_rmtree(F.root);
    return 0;
}

/* A fresh signed journal: run-a claimed op 0 (check-space) and completed
 * it, then claimed op 1: op 1 pending. */
static char *sample(char **dir_out)
{
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    cairn_journal *j = NULL;
    char detail[256];
    assert_int_equal(
        cairn_journal_open(dir, CAIRN_OPEN_CREATE, &j, detail, sizeof(detail)),
        CAIRN_OK);
    cairn_journal_set_signer(j, F.signer);
    vf_create(j, VF_RUN_A);
    vf_claim(j, VF_RUN_A, 0);
    vf_receipt(j, VF_RUN_A, 0, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    vf_claim(j, VF_RUN_A, 1);
    cairn_journal_close(j);
    *dir_out = dir;
    return root; /* tu_rmtree() frees it */
}

static uint64_t file_sum(const char *dir)
{
    char *p = tu_path(dir, "data.mdb");
    size_t n;
    char *data = tu_read_file(p, &n);
    uint8_t h[CAIRN_HASH_BYTES];
    cairn__sha256(data, n, h);
    free(data);
    free(p);
    return cairn__load64_be(h);
}

/* Claiming after the forgery: refused, nothing written. */
static void expect_claim_refused(const char *dir, int64_t op)
{
    cairn_journal *j = NULL;
    cairn_claim_result res;
    char detail[256];
    uint64_t before = file_sum(dir);
    assert_int_equal(cairn_journal_open(dir, 0, &j, detail, sizeof(detail)),
                     CAIRN_OK);
    cairn_journal_set_signer(j, F.signer);
    cairn_err err =
        cairn_claim(j, VF_RUN_A, op, CAIRN_CLAIM_NORMAL, NULL, NULL, &res);
    if (err != CAIRN_ETAMPERED) {
        print_error("claim: %s: %s\n", cairn_errname(err),
                    cairn_journal_errdetail(j));
    }
    assert_int_equal(err, CAIRN_ETAMPERED);
    cairn_journal_close(j);
    assert_true(file_sum(dir) == before);
    /* and verify says so */
    cairn_pubkey *pk = NULL;
    cairn_verify_report rep;
    assert_int_equal(cairn_pubkey_load(F.pub, &pk, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn__verify_dir(j, pk, 0, &rep), CAIRN_OK);
    if (rep.verdict != CAIRN_VERDICT_TAMPERED) {
        print_error("verify: %s: %s\n", cairn_verdict_name(rep.verdict),
                    rep.reason);
    }
    assert_int_equal(rep.verdict, CAIRN_VERDICT_TAMPERED);
    cairn_journal_close(j);
    cairn_pubkey_free(pk);
}

/* Op 0 (completed) forged back to ready, so that it would run again. */
static void test_forged_op_state(void **state)
{
    (void)state;
    for (int rebuild = 0; rebuild <= 1; rebuild++) {
        char *dir, *root = sample(&dir);
        forge_op(dir, VF_RUN_A, 0, CAIRN_OP_READY, rebuild);
        expect_claim_refused(dir, 0);
        free(dir);
        tu_rmtree(root);
    }
}

/* The plan rewritten (another target): refused before any claim. */
static void test_forged_plan(void **state)
{
    (void)state;
    for (int rebuild = 0; rebuild <= 1; rebuild++) {
        char *dir, *root = sample(&dir);
        forge_plan(dir, VF_RUN_A, "\"id\":\"tidy\"", "\"id\":\"tidz\"",
                   rebuild);
        expect_claim_refused(dir, 2);
        free(dir);
        tu_rmtree(root);
    }
}

/* A gap in the positions (record 1 moved after the last one): the count
 * still matches the head, the keys do not; a writer would append leaves
 * one place off.  Refused. */
static void test_positions_with_a_gap(void **state)
{
    (void)state;
    char *dir, *root = sample(&dir);
    vf_raw raw;
    uint8_t key[8], last[8];
    size_t vl;
    vf_raw_open(&raw, dir);
    vf_key8(key, 1);
    vf_key8(last, 5);
    uint8_t *v = vf_get(&raw, VR_RECORDS, key, sizeof(key), &vl); /* a copy */
    assert_non_null(v);
    vf_del(&raw, VR_RECORDS, key, sizeof(key));
    vf_put(&raw, VR_RECORDS, last, sizeof(last), v, vl);
    free(v);
    vf_raw_close(&raw);
    expect_claim_refused(dir, 2);
    free(dir);
    tu_rmtree(root);
}

/* An edited record under checkpoints that carry no signature of their
 * own, re-chained and re-sealed (and, with rebuild, the trees and the
 * head's roots made to agree, its signature line kept): the signed head
 * no longer covers the run, so verify says TAMPERED with or without the
 * key where hashes show it, and is never VERIFIED; a writer refuses. */
static void test_edited_record_resealed(void **state)
{
    (void)state;
    static const char *const field[2] = {"state-map", "head"};
    char detail[256];
    cairn_pubkey *pk = NULL;
    assert_int_equal(cairn_pubkey_load(F.pub, &pk, detail, sizeof(detail)),
                     CAIRN_OK);
    for (int rebuild = 0; rebuild <= 1; rebuild++) {
        char *dir, *root = sample(&dir);
        forge_receipt(dir, VF_RUN_A, rebuild);
        cairn_verify_report r = vf_verify(dir, VF_RUN_A, pk);
        if (r.verdict != CAIRN_VERDICT_TAMPERED) {
            print_error("rebuild %d: %s: %s\n", rebuild,
                        cairn_verdict_name(r.verdict), r.reason);
        }
        assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
        assert_string_equal(r.bad_field, field[rebuild]);
        r = vf_verify(dir, VF_RUN_A, NULL);
        assert_int_equal(r.verdict, rebuild ? CAIRN_VERDICT_INCOMPLETE
                                            : CAIRN_VERDICT_TAMPERED);
        expect_claim_refused(dir, 2);
        free(dir);
        tu_rmtree(root);
    }
    cairn_pubkey_free(pk);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        return tool(argc, argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_op_state),
        cmocka_unit_test(test_forged_plan),
        cmocka_unit_test(test_positions_with_a_gap),
        cmocka_unit_test(test_edited_record_resealed),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
