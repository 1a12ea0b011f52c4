/* test_export_flags.c - cairn_export_bundle_flags(): CAIRN_EXPORT_RUN_ONLY
 * verifies a run from its own records and checkpoints (what `cairn
 * salvage` falls back to when the journal's checkpoints cannot all be
 * read), and what that check does not see: a checkpoint elsewhere that
 * names the run but seals none of its records. */
#include "testutil.h"

#include "helpers/verify_fixture.h"

static vf_sample *sample;

static int setup(void **state)
{
    (void)state;
    sample = vf_sample_new(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vf_sample_free(sample);
    return 0;
}

static cairn_err export_flags(const char *dir, const char *path, unsigned flags)
{
    cairn_journal *j = NULL;
    char detail[256];
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    cairn_err err =
        cairn_export_bundle_flags(j, VF_RUN_A, sample->a, path, flags);
    cairn_journal_close(j);
    return err;
}

/* A copy of run-a's checkpoint of seq 3 at a position past the end. */
static void stray_checkpoint(const char *dir)
{
    vf_raw raw;
    uint8_t key[8];
    size_t vl;
    vf_raw_open(&raw, dir);
    vf_key8(key, vf_pos(&raw, 1, 3));
    uint8_t *cp = vf_get(&raw, VR_CPS, key, sizeof(key), &vl);
    vf_key8(key, 1000);
    vf_put(&raw, VR_CPS, key, sizeof(key), cp, vl);
    free(cp);
    vf_raw_close(&raw);
}

static void test_run_only_exports_a_verified_bundle(void **state)
{
    (void)state;
    char *path = tu_path(sample->root, "a-run-only.cairn");
    cairn_verify_report r;
    char detail[256];
    assert_int_equal(export_flags(sample->dir, path, CAIRN_EXPORT_RUN_ONLY),
                     CAIRN_OK);
    assert_int_equal(
        cairn_verify_bundle(path, sample->pk_a, &r, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(r.records, VF_A_RECORDS);
    free(path);
}

static void test_run_only_does_not_scan_other_checkpoints(void **state)
{
    (void)state;
    char *dir = vf_copy(sample->dir);
    char *full = tu_path(dir, "full.cairn"), *only = tu_path(dir, "only.cairn");
    stray_checkpoint(dir);
    /* The full check finds the stray checkpoint naming run-a ... */
    assert_int_equal(export_flags(dir, full, 0), CAIRN_ETAMPERED);
    assert_int_equal(access(full, F_OK), -1);
    /* ... the run-only check reads run-a's own checkpoints only. */
    assert_int_equal(export_flags(dir, only, CAIRN_EXPORT_RUN_ONLY), CAIRN_OK);
    assert_int_equal(access(only, F_OK), 0);
    free(full);
    free(only);
    tu_rmtree(dir);
}

static void test_unknown_flag(void **state)
{
    (void)state;
    char *path = tu_path(sample->root, "bad-flag.cairn");
    assert_int_equal(export_flags(sample->dir, path, 0x80u), CAIRN_EINVAL);
    assert_int_equal(access(path, F_OK), -1);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_only_exports_a_verified_bundle),
        cmocka_unit_test(test_run_only_does_not_scan_other_checkpoints),
        cmocka_unit_test(test_unknown_flag),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
