/*
 * test_verify_bundle.c - bundles: export (verified first, never
 * overwriting, refusing other keys and runs that do not verify), offline
 * verification with and without a pinned key, the .minisig, malformed
 * files, and a bundle cut back to an earlier commit.  The round trip,
 * malformed files and the cut-back run on a format-1 copy of the sample
 * (bundle version 1, which must keep verifying); version 2 is
 * test_bundle_v2.c's.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"

static vf_sample *sample;
static char *v1dir; /* the sample as a format-1 journal */

/* meta format 1, no head, no tree or state map: what format 1 wrote. */
static char *format1_copy(const char *dir)
{
    char *copy = vf_copy(dir);
    vf_raw raw;
    MDB_dbi tree, smap;
    uint8_t one[4];
    vf_raw_open(&raw, copy);
    cairn__store32_be(one, 1);
    vf_put(&raw, VR_META, "format", 6, one, sizeof(one));
    vf_del(&raw, VR_META, "head", 4);
    vf_states_to_v1(&raw);
    vf_checkpoints_to_v1(&raw, sample->journal_id, sample->a);
    assert_int_equal(mdb_dbi_open(raw.txn, "tree", 0, &tree), 0);
    assert_int_equal(mdb_dbi_open(raw.txn, "smap", 0, &smap), 0);
    assert_int_equal(mdb_drop(raw.txn, tree, 1), 0);
    assert_int_equal(mdb_drop(raw.txn, smap, 1), 0);
    /* and the per-operation rows' databases (docs/FORMAT.md section 23) */
    assert_int_equal(mdb_dbi_open(raw.txn, "oprows", 0, &tree), 0);
    assert_int_equal(mdb_drop(raw.txn, tree, 1), 0);
    assert_int_equal(mdb_dbi_open(raw.txn, "otree", 0, &smap), 0);
    assert_int_equal(mdb_drop(raw.txn, smap, 1), 0);
    vf_raw_close(&raw);
    return copy;
}

static int group_setup(void **state)
{
    (void)state;
    sample = vf_sample_new(NULL);
    v1dir = format1_copy(sample->dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rmtree(v1dir);
    vf_sample_free(sample);
    return 0;
}

static char *bundle_path(const char *name)
{
    return tu_path(sample->root, name);
}

static cairn_err export_from(const char *dir, const char *run,
                             const cairn_signer *signer, const char *path)
{
    cairn_journal *j = NULL;
    char detail[256];
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    cairn_err err = cairn_export_bundle(j, run, signer, path);
    if (err != CAIRN_OK) {
        assert_true(cairn_journal_errdetail(j)[0] != '\0');
    }
    cairn_journal_close(j);
    return err;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static char *sig_of(const char *path)
{
    size_t n = strlen(path) + 9;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%s.minisig", path);
    return s;
}

static void test_bundle_roundtrip(void **state)
{
    (void)state;
    char *path = bundle_path("a.bundle"), *sig = sig_of(path);
    char detail[256], tc[CAIRN__TRUSTED_COMMENT_MAX + 1], want[400];
    cairn_verify_report r;
    assert_int_equal(export_from(v1dir, VF_RUN_A, sample->a, path), CAIRN_OK);
    assert_true(exists(path) && exists(sig));
    assert_int_equal(
        cairn_verify_bundle(path, sample->pk_a, &r, detail, sizeof(detail)),
        CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_string_equal(r.run_id, VF_RUN_A);
    assert_int_equal(r.records, VF_A_RECORDS);
    assert_int_equal(r.checkpoints, VF_A_RECORDS);
    assert_int_equal(r.signatures_ok, VF_A_RECORDS);
    assert_true(r.replay_ok);
    assert_memory_equal(r.head, sample->heads[VF_A_RECORDS - 1],
                        CAIRN_HASH_BYTES);
    assert_non_null(strstr(r.reason, ".minisig verified"));
    /* The .minisig is a plain minisign signature with our comment. */
    size_t bl, sl;
    char *b = tu_read_file(path, &bl), *s = tu_read_file(sig, &sl);
    assert_memory_equal(b, CAIRN__BUNDLE_MAGIC, 8);
    assert_int_equal(b[8], CAIRN__BUNDLE_VERSION); /* format 1: version 1 */
    assert_int_equal(r.format, 0);
    assert_false(r.journal_head.present);
    assert_int_equal(cairn__minisig_verify(sample->pk_a, b, bl, s, sl, tc,
                                           sizeof(tc), detail, sizeof(detail)),
                     CAIRN_OK);
    cairn__bundle_comment(VF_RUN_A, VF_A_RECORDS,
                          sample->heads[VF_A_RECORDS - 1], sample->journal_id,
                          want, sizeof(want));
    assert_string_equal(tc, want);
    free(b);
    free(s);
    /* No key: incomplete; another key: a key mismatch, incomplete. */
    assert_int_equal(
        cairn_verify_bundle(path, NULL, &r, detail, sizeof(detail)), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_non_null(strstr(r.reason, "key not pinned"));
    assert_int_equal(
        cairn_verify_bundle(path, sample->pk_b, &r, detail, sizeof(detail)),
        CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_true(r.key_mismatch);
    assert_false(r.has_bad);
    assert_non_null(strstr(r.reason, "key mismatch"));
    assert_non_null(strstr(r.reason, ".minisig not checked (key mismatch)"));
    /* Several pinned keys: the one the bundle names counts, in any
     * order. */
    {
        cairn_pubkey *set = NULL, *a = NULL;
        uint8_t id[CAIRN_KEY_ID_BYTES], pk[CAIRN_PUBLIC_KEY_BYTES];
        cairn_pubkey_key_id(sample->pk_b, id);
        cairn_pubkey_bytes(sample->pk_b, pk);
        assert_int_equal(cairn__pubkey_from_raw(id, pk, &set), CAIRN_OK);
        cairn_pubkey_key_id(sample->pk_a, id);
        cairn_pubkey_bytes(sample->pk_a, pk);
        assert_int_equal(cairn__pubkey_from_raw(id, pk, &a), CAIRN_OK);
        cairn_pubkey_add(set, a);
        assert_int_equal(
            cairn_verify_bundle(path, set, &r, detail, sizeof(detail)),
            CAIRN_OK);
        vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
        assert_false(r.key_mismatch);
        assert_non_null(strstr(r.reason, ".minisig verified"));
        cairn_pubkey_free(set);
    }
    /* Never overwritten; no .tlog-proof for version 1. */
    char *tp = tu_path(sample->root, "a.bundle.tlog-proof");
    assert_false(exists(tp));
    free(tp);
    assert_int_equal(export_from(v1dir, VF_RUN_A, sample->a, path),
                     CAIRN_EEXIST);
    free(path);
    free(sig);
}

static void test_bundle_refusals(void **state)
{
    (void)state;
    char *path = bundle_path("r.bundle"), *sig = sig_of(path);
    tu_write_file(sig, "x", 1);
    assert_int_equal(export_from(sample->dir, VF_RUN_A, sample->a, path),
                     CAIRN_EEXIST);
    assert_false(exists(path));
    unlink(sig);
    assert_int_equal(export_from(sample->dir, VF_RUN_A, sample->b, path),
                     CAIRN_EKEYMISMATCH);
    assert_int_equal(export_from(sample->udir, VF_RUN_U, sample->a, path),
                     CAIRN_EKEYMISMATCH);
    assert_int_equal(export_from(sample->dir, "nope", sample->a, path),
                     CAIRN_ENORUN);
    assert_false(exists(path) || exists(sig));
    /* A tampered run and an unsealed run are not exported. */
    char *dir = vf_copy(sample->dir);
    vf_raw raw;
    vf_run run;
    uint8_t key[8];
    vf_raw_open(&raw, dir);
    vf_load_run(&raw, 1, &run);
    assert_int_equal(cairn__record_set_str(&run.r[7].rec.reason, "exit 0"),
                     CAIRN_OK);
    vf_rewrite o = {sample->journal_id, NULL, SIZE_MAX, 0, 1};
    vf_store_run(&raw, &run, &o);
    vf_free_run(&run);
    vf_raw_close(&raw);
    assert_int_equal(export_from(dir, VF_RUN_A, sample->a, path),
                     CAIRN_ETAMPERED);
    vf_raw_open(&raw, dir);
    vf_key8(key, vf_pos(&raw, 2, 2));
    vf_del(&raw, VR_CPS, key, sizeof(key));
    vf_raw_close(&raw);
    assert_int_equal(export_from(dir, VF_RUN_B, sample->a, path),
                     CAIRN_EINCOMPLETE);
    assert_false(exists(path) || exists(sig));
    tu_rmtree(dir);
    free(path);
    free(sig);
}

static cairn_err verify_bytes(const char *name, const void *data, size_t n,
                              cairn_verify_report *r)
{
    char *path = bundle_path(name), detail[256];
    tu_write_file(path, data, n);
    cairn_err err =
        cairn_verify_bundle(path, sample->pk_a, r, detail, sizeof(detail));
    if (err == CAIRN_EBUNDLE) {
        assert_true(detail[0] != '\0');
    }
    unlink(path);
    free(path);
    return err;
}

static void test_bundle_malformed(void **state)
{
    (void)state;
    char *path = bundle_path("m.bundle"), detail[256];
    cairn_verify_report r;
    assert_int_equal(export_from(v1dir, VF_RUN_B, sample->a, path), CAIRN_OK);
    size_t n;
    char *b = tu_read_file(path, &n);
    /* No .minisig next to it: fail closed (the bytes are fine). */
    assert_int_equal(verify_bytes("m1", b, n, &r), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_non_null(strstr(r.reason, "detached signature not checked"));
    assert_int_equal(verify_bytes("m2", "hello", 5, &r), CAIRN_EBUNDLE);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "bundle");
    assert_int_equal(verify_bytes("m3", b, n - 1, &r), CAIRN_EBUNDLE);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    char *longer = malloc(n + 1);
    memcpy(longer, b, n);
    longer[n] = 0;
    assert_int_equal(verify_bytes("m4", longer, n + 1, &r), CAIRN_EBUNDLE);
    assert_int_equal(verify_bytes("m5", b, 0, &r), CAIRN_EBUNDLE);
    longer[8] = 3; /* version */
    assert_int_equal(verify_bytes("m6", longer, n, &r), CAIRN_EBUNDLE);
    free(longer);
    free(b);
    char *missing = bundle_path("missing.bundle");
    assert_int_equal(
        cairn_verify_bundle(missing, sample->pk_a, &r, detail, sizeof(detail)),
        CAIRN_EIO);
    vf_assert_verdict(&r, CAIRN_VERDICT_ERROR);
    free(missing);
    free(path);
}

/* The first @p keep records and checkpoints of a bundle, re-framed: what
 * an attacker cutting a bundle back to an earlier commit writes. */
static uint8_t *cut_bundle(const uint8_t *b, size_t n, uint32_t keep,
                           size_t *out_len)
{
    size_t off = 25, w;
    uint16_t idlen = cairn__load16_be(b + off);
    off += 2u + (size_t)idlen + 8u + 32u;
    uint8_t *out = malloc(n);
    assert_non_null(out);
    memcpy(out, b, off);
    cairn__store32_be(out + off, keep);
    uint32_t total = cairn__load32_be(b + off);
    off += 4;
    w = off;
    for (uint32_t i = 0; i < total; i++) {
        uint32_t len = cairn__load32_be(b + off + 8);
        if (i < keep) {
            memcpy(out + w, b + off, 12 + len);
            w += 12 + len;
        }
        off += 12 + len;
    }
    off += 4; /* checkpoint count */
    cairn__store32_be(out + w, keep);
    w += 4;
    memcpy(out + w, b + off, (size_t)keep * (8 + CAIRN_CHECKPOINT_BYTES));
    w += (size_t)keep * (8 + CAIRN_CHECKPOINT_BYTES);
    *out_len = w;
    return out;
}

static void test_bundle_cut_back(void **state)
{
    (void)state;
    char *path = bundle_path("cut.bundle"), *sig = sig_of(path);
    char *cut = bundle_path("cut2.bundle"), *cut_sig = sig_of(cut);
    char detail[256];
    cairn_verify_report r;
    size_t n, sl, cl;
    assert_int_equal(export_from(v1dir, VF_RUN_A, sample->a, path), CAIRN_OK);
    uint8_t *b = (uint8_t *)tu_read_file(path, &n);
    char *s = tu_read_file(sig, &sl);
    uint8_t *c = cut_bundle(b, n, 9, &cl);
    tu_write_file(cut, c, cl);
    /* The records alone of a cut at a commit boundary look honest: only
     * with CAIRN_BUNDLE_NO_SIGNATURE may that be VERIFIED ... */
    assert_int_equal(cairn_verify_bundle_flags(cut, sample->pk_a,
                                               CAIRN_BUNDLE_NO_SIGNATURE, &r,
                                               detail, sizeof(detail)),
                     CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_non_null(strstr(r.reason, "not checked (--no-signature)"));
    assert_int_equal(r.records, 9);
    assert_memory_equal(r.head, sample->heads[8], CAIRN_HASH_BYTES);
    /* ... without its .minisig it fails closed ... */
    assert_int_equal(
        cairn_verify_bundle(cut, sample->pk_a, &r, detail, sizeof(detail)),
        CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_non_null(strstr(detail, "No such file"));
    /* ... and with the original .minisig next to it, it is caught. */
    tu_write_file(cut_sig, s, sl);
    assert_int_equal(
        cairn_verify_bundle(cut, sample->pk_a, &r, detail, sizeof(detail)),
        CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "minisig");
    free(b);
    free(s);
    free(c);
    free(path);
    free(sig);
    free(cut);
    free(cut_sig);
}

/* FILE.minisig missing, a directory, a FIFO (no writer: the open must not
 * wait) or unreadable: never VERIFIED, detail says why; a FIFO as the
 * bundle, the public key, the secret key or the plan is refused without
 * blocking. */
static void test_bundle_signature_fail_closed(void **state)
{
    (void)state;
    char *path = bundle_path("fc.bundle"), *sig = sig_of(path);
    char detail[256];
    cairn_verify_report r;
    cairn_pubkey *pk = NULL;
    alarm(60); /* a blocking open fails the test instead of hanging it */
    assert_int_equal(export_from(sample->dir, VF_RUN_A, sample->a, path),
                     CAIRN_OK);
    assert_int_equal(
        cairn_verify_bundle(path, sample->pk_a, &r, detail, sizeof(detail)),
        CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_string_equal(detail, "");
    assert_int_equal(unlink(sig), 0);
    assert_int_equal(
        cairn_verify_bundle(path, sample->pk_a, &r, detail, sizeof(detail)),
        CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_non_null(strstr(detail, "No such file"));
    assert_int_equal(mkdir(sig, 0700), 0);
    assert_int_equal(
        cairn_verify_bundle(path, sample->pk_a, &r, detail, sizeof(detail)),
        CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_non_null(strstr(detail, "a directory, not a regular file"));
    assert_non_null(strstr(r.reason, "a directory, not a regular file"));
    assert_int_equal(rmdir(sig), 0);
    assert_int_equal(mkfifo(sig, 0600), 0);
    assert_int_equal(
        cairn_verify_bundle(path, sample->pk_a, &r, detail, sizeof(detail)),
        CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_non_null(strstr(detail, "a FIFO, not a regular file"));
    /* --no-signature: not read at all, and the reason says so. */
    assert_int_equal(cairn_verify_bundle_flags(path, sample->pk_a,
                                               CAIRN_BUNDLE_NO_SIGNATURE, &r,
                                               detail, sizeof(detail)),
                     CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_string_equal(detail, "");
    assert_non_null(strstr(r.reason, ".minisig) not checked"));
    assert_int_equal(cairn_verify_bundle_flags(path, sample->pk_a, 2, &r,
                                               detail, sizeof(detail)),
                     CAIRN_EINVAL);
    /* A FIFO as the bundle and as the public key. */
    assert_int_equal(
        cairn_verify_bundle(sig, sample->pk_a, &r, detail, sizeof(detail)),
        CAIRN_EIO);
    vf_assert_verdict(&r, CAIRN_VERDICT_ERROR);
    assert_non_null(strstr(detail, "a FIFO, not a regular file"));
    assert_int_equal(cairn_pubkey_load(sig, &pk, detail, sizeof(detail)),
                     CAIRN_EIO);
    assert_null(pk);
    assert_non_null(strstr(detail, "a FIFO, not a regular file"));
    /* The same reader serves the secret key and the plan. */
    cairn_signer *signer = NULL;
    assert_int_equal(
        cairn_signer_load(sig, NULL, &signer, detail, sizeof(detail)),
        CAIRN_EIO);
    assert_null(signer);
    assert_non_null(strstr(detail, "a FIFO, not a regular file"));
    cairn_plan *plan = NULL;
    assert_int_equal(cairn_plan_load(sig, &plan, detail, sizeof(detail)),
                     CAIRN_EIO);
    assert_null(plan);
    assert_non_null(strstr(detail, "a FIFO, not a regular file"));
    assert_int_equal(unlink(sig), 0);
    /* Unreadable (root reads anything: only as another user). */
    if (geteuid() != 0) {
        tu_write_file(sig, "x", 1);
        assert_int_equal(chmod(sig, 0), 0);
        assert_int_equal(
            cairn_verify_bundle(path, sample->pk_a, &r, detail, sizeof(detail)),
            CAIRN_OK);
        vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
        assert_non_null(strstr(detail, "Permission denied"));
        assert_int_equal(unlink(sig), 0);
    }
    alarm(0);
    free(path);
    free(sig);
}

/* A bundle over the limit is refused by its size, before any read: a
 * sparse 2 GiB file, and a character device. */
static void test_bundle_size_bound(void **state)
{
    (void)state;
    char *path = bundle_path("huge.bundle"), detail[256];
    cairn_verify_report r;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)2 << 30), 0);
    close(fd);
    assert_int_equal(
        cairn_verify_bundle(path, sample->pk_a, &r, detail, sizeof(detail)),
        CAIRN_EBUNDLE);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_non_null(strstr(detail, "larger than 1 GiB"));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(cairn_verify_bundle("/dev/zero", sample->pk_a, &r, detail,
                                         sizeof(detail)),
                     CAIRN_EIO);
    vf_assert_verdict(&r, CAIRN_VERDICT_ERROR);
    assert_non_null(strstr(detail, "a character device, not a regular file"));
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_roundtrip),
        cmocka_unit_test(test_bundle_refusals),
        cmocka_unit_test(test_bundle_malformed),
        cmocka_unit_test(test_bundle_cut_back),
        cmocka_unit_test(test_bundle_signature_fail_closed),
        cmocka_unit_test(test_bundle_size_bound),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
