/*
 * test_verify.c - verification of honest journals, the verdict rules
 * (pinned key, unsigned runs, unsealed tails), the directory checks and
 * the checkpoint iterator.  Bundles: test_verify_bundle.c.
 */
#include "testutil.h"

#define VF_SHARED_SAMPLE
#include "helpers/verify_fixture.h"

#include <pthread.h>

static void test_verdict_names_and_exit_codes(void **state)
{
    (void)state;
    assert_string_equal(cairn_verdict_name(CAIRN_VERDICT_VERIFIED), "VERIFIED");
    assert_string_equal(cairn_verdict_name(CAIRN_VERDICT_TAMPERED), "TAMPERED");
    assert_string_equal(cairn_verdict_name(CAIRN_VERDICT_INCOMPLETE),
                        "INCOMPLETE");
    assert_string_equal(cairn_verdict_name(CAIRN_VERDICT_ERROR), "ERROR");
    assert_string_equal(cairn_verdict_name((cairn_verdict)42), "UNKNOWN");
    assert_int_equal(cairn_verdict_exit_code(CAIRN_VERDICT_VERIFIED), 0);
    assert_int_equal(cairn_verdict_exit_code(CAIRN_VERDICT_TAMPERED), 4);
    assert_int_equal(cairn_verdict_exit_code(CAIRN_VERDICT_INCOMPLETE), 3);
    assert_int_equal(cairn_verdict_exit_code(CAIRN_VERDICT_ERROR), 6);
    assert_int_equal(cairn_verdict_exit_code((cairn_verdict)42), 6);
}

static void test_honest_run_verifies(void **state)
{
    (void)state;
    cairn_verify_report r = vf_verify(sample->dir, VF_RUN_A, sample->pk_a);
    char fp[80];
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_string_equal(r.run_id, VF_RUN_A);
    assert_int_equal(r.records, VF_A_RECORDS);
    assert_int_equal(r.checkpoints, VF_A_RECORDS);
    /* format 2: the journal head is every checkpoint's signature */
    assert_int_equal(r.signatures_ok, 0);
    assert_int_equal(r.head_sealed, VF_A_RECORDS);
    assert_true(r.journal_head.signature_ok);
    assert_int_equal(r.unsigned_checkpoints, 0);
    assert_int_equal(r.unsealed, 0);
    assert_true(r.key_pinned);
    assert_true(r.run_signed);
    assert_true(r.replay_ok);
    assert_false(r.has_bad);
    assert_memory_equal(r.head, sample->heads[VF_A_RECORDS - 1],
                        CAIRN_HASH_BYTES);
    uint8_t id[CAIRN_KEY_ID_BYTES];
    cairn_signer_key_id(sample->a, id);
    assert_memory_equal(r.key_id, id, CAIRN_KEY_ID_BYTES);
    cairn_pubkey_fingerprint(sample->pk_a, fp, sizeof(fp));
    assert_string_equal(r.fingerprint, fp);
    r = vf_verify(sample->dir, VF_RUN_B, sample->pk_a);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(r.records, 3);
}

static void test_no_key_is_incomplete(void **state)
{
    (void)state;
    cairn_verify_report r = vf_verify(sample->dir, VF_RUN_A, NULL);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_false(r.key_pinned);
    assert_int_equal(r.signatures_ok, 0);
    assert_int_equal(r.checkpoints, VF_A_RECORDS);
    assert_true(r.replay_ok);
    assert_string_equal(r.fingerprint, "");
    assert_non_null(strstr(r.reason, "key not pinned"));
}

/* A run signed by another key than the pinned one is a key mismatch
 * (INCOMPLETE, what minisign reports), not proof of tampering: nothing
 * it signed can be checked, and everything else still is. */
static void test_other_pinned_key_is_key_mismatch(void **state)
{
    (void)state;
    char a[17], b[17], want[200];
    uint8_t id[CAIRN_KEY_ID_BYTES];
    cairn_verify_report r = vf_verify(sample->dir, VF_RUN_A, sample->pk_b);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_false(r.has_bad);
    assert_true(r.key_mismatch);
    assert_true(r.key_pinned);
    assert_int_equal(r.signatures_ok, 0);
    assert_int_equal(r.checkpoints, VF_A_RECORDS);
    assert_true(r.replay_ok);
    cairn_signer_key_id(sample->a, id);
    cairn__key_id_text(id, a);
    cairn_signer_key_id(sample->b, id);
    cairn__key_id_text(id, b);
    snprintf(want, sizeof(want),
             "key mismatch: the run is signed by key %s, the pinned key is "
             "%s (its signatures were not checked)",
             a, b);
    assert_non_null(strstr(r.reason, want));
    /* The right key still verifies it, and says nothing of a mismatch. */
    r = vf_verify(sample->dir, VF_RUN_A, sample->pk_a);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_false(r.key_mismatch);
    /* A pinned set {b, a}: the run's own key counts, for the run and for
     * the journal's head. */
    cairn_pubkey *set = NULL, *ka = NULL;
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES];
    cairn_pubkey_key_id(sample->pk_b, id);
    cairn_pubkey_bytes(sample->pk_b, pk);
    assert_int_equal(cairn__pubkey_from_raw(id, pk, &set), CAIRN_OK);
    cairn_pubkey_key_id(sample->pk_a, id);
    cairn_pubkey_bytes(sample->pk_a, pk);
    assert_int_equal(cairn__pubkey_from_raw(id, pk, &ka), CAIRN_OK);
    cairn_pubkey_add(set, ka);
    r = vf_verify(sample->dir, VF_RUN_A, set);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_false(r.key_mismatch);
    assert_int_equal(r.head_sealed, VF_A_RECORDS);
    assert_true(r.journal_head.signature_ok);
    assert_false(r.journal_head.key_mismatch);
    cairn_pubkey_free(set);
}

static void test_unsigned_run_never_verified(void **state)
{
    (void)state;
    cairn_verify_report r = vf_verify(sample->udir, VF_RUN_U, sample->pk_a);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_false(r.run_signed);
    assert_int_equal(r.unsigned_checkpoints, 2);
    assert_int_equal(r.signatures_ok, 0);
    assert_non_null(strstr(r.reason, "unsigned"));
    r = vf_verify(sample->udir, VF_RUN_U, NULL);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
}

static void test_unsealed_tail_is_incomplete(void **state)
{
    (void)state;
    char *dir = vf_copy(sample->dir);
    vf_raw raw;
    uint8_t key[8];
    vf_raw_open(&raw, dir);
    vf_key8(key, vf_pos(&raw, 1, VF_A_RECORDS - 1));
    vf_del(&raw, VR_CPS, key, sizeof(key));
    vf_raw_close(&raw);
    cairn_verify_report r = vf_verify(dir, VF_RUN_A, sample->pk_a);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_int_equal(r.unsealed, 1);
    assert_int_equal(r.checkpoints, VF_A_RECORDS - 1);
    assert_non_null(strstr(r.reason, "unsealed"));
    tu_rmtree(dir);
}

/* A checkpoint in the middle seals nothing the later ones do not: its
 * loss leaves every record sealed through the chain. */
static void test_middle_checkpoint_loss_still_sealed(void **state)
{
    (void)state;
    char *dir = vf_copy(sample->dir);
    vf_raw raw;
    uint8_t key[8];
    vf_raw_open(&raw, dir);
    vf_key8(key, vf_pos(&raw, 1, 5));
    vf_del(&raw, VR_CPS, key, sizeof(key));
    vf_raw_close(&raw);
    cairn_verify_report r = vf_verify(dir, VF_RUN_A, sample->pk_a);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(r.checkpoints, VF_A_RECORDS - 1);
    r = vf_verify(dir, NULL, NULL);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    tu_rmtree(dir);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    cairn_verify_report r;
    cairn_journal *j = NULL;
    char detail[256];
    assert_int_equal(cairn_journal_open(sample->dir, CAIRN_OPEN_READONLY, &j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_verify_run(NULL, VF_RUN_A, NULL, &r), CAIRN_EINVAL);
    assert_int_equal(cairn_verify_run(j, NULL, NULL, &r), CAIRN_EINVAL);
    assert_int_equal(cairn_verify_run(j, VF_RUN_A, NULL, NULL), CAIRN_EINVAL);
    assert_int_equal(cairn_verify_directory(NULL, &r), CAIRN_EINVAL);
    assert_int_equal(cairn_verify_directory(j, NULL), CAIRN_EINVAL);
    assert_int_equal(cairn_verify_run(j, "no-such-run", sample->pk_a, &r),
                     CAIRN_ENORUN);
    assert_non_null(strstr(cairn_journal_errdetail(j), "no-such-run"));
    assert_int_equal(cairn_verify_run(j, "", sample->pk_a, &r), CAIRN_ENORUN);
    assert_int_equal(cairn_export_bundle(j, VF_RUN_A, NULL, "/tmp/x"),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_export_bundle(j, VF_RUN_A, sample->a, ""),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_verify_bundle(NULL, NULL, &r, NULL, 0),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_verify_bundle("x", NULL, NULL, NULL, 0),
                     CAIRN_EINVAL);
    cairn_journal_close(j);
}

static void test_directory_honest(void **state)
{
    (void)state;
    cairn_verify_report r = vf_verify(sample->dir, NULL, NULL);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(r.records, VF_A_RECORDS + 3);
    assert_int_equal(r.checkpoints, VF_A_RECORDS + 3);
    assert_non_null(strstr(r.reason, "2 runs"));
}

/* Tamper with a copy through @p fn, then check the directory verdict. */
static cairn_verify_report dir_after(void (*fn)(vf_raw *raw))
{
    char *dir = vf_copy(sample->dir);
    vf_raw raw;
    vf_raw_open(&raw, dir);
    fn(&raw);
    vf_raw_close(&raw);
    cairn_verify_report r = vf_verify(dir, NULL, NULL);
    tu_rmtree(dir);
    return r;
}

static void extra_index(vf_raw *raw)
{
    uint8_t key[16], val[8];
    vf_key16(key, 1, 99);
    vf_key8(val, 1);
    vf_put(raw, VR_INDEX, key, sizeof(key), val, sizeof(val));
}

static void stray_checkpoint(vf_raw *raw)
{
    uint8_t key[8];
    size_t vl;
    vf_key8(key, vf_pos(raw, 1, 3));
    uint8_t *cp = vf_get(raw, VR_CPS, key, sizeof(key), &vl);
    vf_key8(key, 1000);
    vf_put(raw, VR_CPS, key, sizeof(key), cp, vl);
    free(cp);
}

static void record_gap(vf_raw *raw)
{
    uint8_t key[8];
    vf_key8(key, 5);
    vf_del(raw, VR_RECORDS, key, sizeof(key));
}

static void name_swapped(vf_raw *raw)
{
    uint8_t val[8];
    vf_key8(val, 1);
    vf_put(raw, VR_NAMES, VF_RUN_B, strlen(VF_RUN_B), val, sizeof(val));
}

static void checkpoint_moved(vf_raw *raw)
{
    uint8_t key[8];
    size_t vl;
    vf_key8(key, vf_pos(raw, 1, 3));
    uint8_t *cp = vf_get(raw, VR_CPS, key, sizeof(key), &vl);
    vf_key8(key, vf_pos(raw, 2, 1));
    vf_put(raw, VR_CPS, key, sizeof(key), cp, vl);
    free(cp);
}

static void test_directory_tampered(void **state)
{
    (void)state;
    cairn_verify_report r = dir_after(extra_index);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "index");
    r = dir_after(stray_checkpoint);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "checkpoints.position");
    assert_int_equal(r.bad_seq, 1000);
    r = dir_after(record_gap);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "records.position");
    assert_int_equal(r.bad_seq, 5);
    r = dir_after(name_swapped);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "names");
    r = dir_after(checkpoint_moved);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "checkpoints");
}

static int count_runs(void *ctx, const cairn_verify_report *run)
{
    (void)run;
    (*(uint64_t *)ctx)++;
    return 0;
}

static void extra_named_db(vf_raw *raw)
{
    MDB_dbi dbi;
    MDB_val k = {4, (void *)(uintptr_t) "evil"},
            v = {3, (void *)(uintptr_t) "yes"};
    assert_int_equal(mdb_dbi_open(raw->txn, "attacker", MDB_CREATE, &dbi), 0);
    assert_int_equal(mdb_put(raw->txn, dbi, &k, &v, 0), 0);
}

static void extra_main_key(vf_raw *raw)
{
    MDB_dbi dbi;
    MDB_val k = {4, (void *)(uintptr_t) "n\x01te"},
            v = {2, (void *)(uintptr_t) "hi"};
    assert_int_equal(mdb_dbi_open(raw->txn, NULL, 0, &dbi), 0);
    assert_int_equal(mdb_put(raw->txn, dbi, &k, &v, 0), 0);
}

static void extra_meta_key(vf_raw *raw)
{
    vf_put(raw, VR_META, "owner", 5, "mallory", 7);
}

static void created_resized(vf_raw *raw)
{
    vf_put(raw, VR_META, "created_ns", 10, "\0\0\0\0", 4);
}

static void created_missing(vf_raw *raw)
{
    vf_del(raw, VR_META, "created_ns", 10);
}

static void created_changed(vf_raw *raw)
{
    uint8_t v[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    vf_put(raw, VR_META, "created_ns", 10, v, sizeof(v));
}

/* Content no other check reads is reported, never silently ignored: an
 * extra named database, an extra key in LMDB's main database or in meta.
 * created_ns is covered by no signature: changing it keeps VERIFIED, and
 * the report says it is unsigned. */
static void test_directory_unknown_content(void **state)
{
    (void)state;
    cairn_verify_report r = dir_after(extra_named_db);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "main");
    assert_string_equal(r.found, "attacker");
    assert_non_null(strstr(r.reason, "cairn never writes"));
    r = dir_after(extra_main_key);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "main");
    assert_string_equal(r.found, "n\\x01te");
    r = dir_after(extra_meta_key);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "meta");
    assert_string_equal(r.found, "owner");
    r = dir_after(created_resized);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "meta");
    assert_non_null(strstr(r.reason, "\"created_ns\" is 4 bytes, not 8"));
    r = dir_after(created_missing);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "meta");
    assert_non_null(strstr(r.reason, "\"created_ns\" is missing"));
    r = dir_after(created_changed);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_non_null(strstr(r.reason, "created_ns"));
    assert_non_null(strstr(r.reason, "not covered by any signature"));
    /* cairn_verify_all (verify --all): every run still verifies, and the
     * directory report carries the verdict. */
    char *dir = vf_copy(sample->dir), detail[256];
    cairn_journal *j = NULL;
    vf_raw raw;
    uint64_t runs = 0;
    vf_raw_open(&raw, dir);
    extra_meta_key(&raw);
    vf_raw_close(&raw);
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(
        cairn_verify_all(j, sample->pk_a, 2, count_runs, &runs, &r), CAIRN_OK);
    assert_int_equal(runs, 2);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "meta");
    cairn_journal_close(j);
    tu_rmtree(dir);
}

static int count_cp(void *ctx, const cairn_checkpoint_view *cp)
{
    uint64_t *n = ctx;
    assert_int_equal(cp->seq, *n);
    assert_false(cp->is_signed);
    assert_true(cp->head_sealed); /* format 2: the head signs it */
    assert_true(cp->position > 0);
    (*n)++;
    return 0;
}

static int stop_cp(void *ctx, const cairn_checkpoint_view *cp)
{
    (void)cp;
    (*(uint64_t *)ctx)++;
    return 1;
}

static void test_checkpoint_each(void **state)
{
    (void)state;
    cairn_journal *j = NULL;
    char detail[256];
    uint64_t n = 0;
    assert_int_equal(cairn_journal_open(sample->dir, CAIRN_OPEN_READONLY, &j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_checkpoint_each(j, VF_RUN_A, count_cp, &n),
                     CAIRN_OK);
    assert_int_equal(n, VF_A_RECORDS);
    n = 0;
    assert_int_equal(cairn_checkpoint_each(j, VF_RUN_A, stop_cp, &n), CAIRN_OK);
    assert_int_equal(n, 1);
    assert_int_equal(cairn_checkpoint_each(j, "nope", stop_cp, &n),
                     CAIRN_ENORUN);
    assert_int_equal(cairn_checkpoint_each(j, VF_RUN_A, NULL, &n),
                     CAIRN_EINVAL);
    cairn_journal_close(j);
}

/* ---- group commit: runs written from several threads share commits (one
 * checkpoint per run per commit); a record without its own checkpoint is
 * covered by test_middle_checkpoint_loss_still_sealed. */

#define GC_RUNS 4

typedef struct gc_arg {
    cairn_journal *j;
    char run[32];
    int failed;
} gc_arg;

static void *gc_writer(void *varg)
{
    gc_arg *a = varg;
    static const cairn_kv snap[] = {{"artifact", "a"}, {"digest", "d"}};
    cairn_claim_result cr;
    for (uint32_t op = 0; op < 8 && !a->failed; op++) {
        cairn_receipt r = {.seq = op, .outcome = CAIRN_OUTCOME_COMPLETED};
        if (op == 3) {
            r.outputs = snap;
            r.n_outputs = 2;
        }
        if (op == 2 &&
            cairn_accept_preflight(a->j, a->run, "pf", NULL) != CAIRN_OK) {
            a->failed = 1;
        }
        a->failed |= cairn_claim(a->j, a->run, op, CAIRN_CLAIM_NORMAL, NULL,
                                 NULL, &cr) != CAIRN_OK;
        a->failed |= cairn_receipt_record(a->j, a->run, &r, NULL) != CAIRN_OK;
    }
    return NULL;
}

static void test_group_commit_verifies(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j"), detail[256];
    cairn_journal *j = NULL;
    gc_arg args[GC_RUNS];
    pthread_t th[GC_RUNS];
    uint64_t records = 0, checkpoints = 0;
    cairn_journal_opts o = CAIRN_JOURNAL_OPTS_INIT;
    o.flags = CAIRN_OPEN_CREATE;
    o.batch_wait_us = 2000;
    assert_int_equal(
        cairn_journal_open_opts(dir, &o, &j, detail, sizeof(detail)), CAIRN_OK);
    cairn_journal_set_signer(j, sample->a);
    for (int i = 0; i < GC_RUNS; i++) {
        args[i].j = j;
        args[i].failed = 0;
        snprintf(args[i].run, sizeof(args[i].run), "gc-%d", i);
        vf_create(j, args[i].run);
    }
    for (int i = 0; i < GC_RUNS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, gc_writer, &args[i]), 0);
    }
    for (int i = 0; i < GC_RUNS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_false(args[i].failed);
    }
    for (int i = 0; i < GC_RUNS; i++) {
        cairn_verify_report r;
        assert_int_equal(cairn_verify_run(j, args[i].run, sample->pk_a, &r),
                         CAIRN_OK);
        vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
        assert_int_equal(r.records, 1 + 1 + 2 * 8);
        assert_int_equal(r.unsealed, 0);
        assert_true(r.checkpoints >= 1 && r.checkpoints <= r.records);
        records += r.records;
        checkpoints += r.checkpoints;
    }
    cairn_verify_report d;
    assert_int_equal(cairn_verify_directory(j, &d), CAIRN_OK);
    vf_assert_verdict(&d, CAIRN_VERDICT_VERIFIED);
    print_message(
        "group commit: %llu records, %llu checkpoints, all VERIFIED\n",
        (unsigned long long)records, (unsigned long long)checkpoints);
    cairn_journal_close(j);
    free(dir);
    tu_rmtree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict_names_and_exit_codes),
        cmocka_unit_test(test_honest_run_verifies),
        cmocka_unit_test(test_no_key_is_incomplete),
        cmocka_unit_test(test_other_pinned_key_is_key_mismatch),
        cmocka_unit_test(test_unsigned_run_never_verified),
        cmocka_unit_test(test_unsealed_tail_is_incomplete),
        cmocka_unit_test(test_middle_checkpoint_loss_still_sealed),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_directory_honest),
        cmocka_unit_test(test_directory_tampered),
        cmocka_unit_test(test_directory_unknown_content),
        cmocka_unit_test(test_checkpoint_each),
        cmocka_unit_test(test_group_commit_verifies),
    };
    return cmocka_run_group_tests(tests, vf_group_setup, vf_group_teardown);
}
