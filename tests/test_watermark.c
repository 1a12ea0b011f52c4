/*
 * test_watermark.c - cairn_watermark_get(): the newest run of a plan that
 * claimed an operation and the newest completed one; runs that attempted
 * nothing, runs of other plans and the excluded run are left out; bad
 * arguments are refused.  (Completed runs and the runner's CAIRN_PREV_*
 * are in tests/cli/watermark.sh.)
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"

static void test_watermark(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), detail[512], out[CAIRN_MAX_ID + 1];
    cairn_journal *j = NULL;
    cairn_watermark w;
    assert_int_equal(
        cairn_journal_open(dir, CAIRN_OPEN_CREATE, &j, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(cairn_watermark_get(j, "pg", NULL, &w), CAIRN_OK);
    assert_false(w.has_attempted);
    assert_false(w.has_completed);
    assert_int_equal(w.last_contiguous_seq, -1);
    assert_int_equal(w.last_attempted_seq, -1);
    assert_int_equal(w.runs, 0);

    vf_create(j, "r1");
    vf_claim(j, "r1", -1);
    vf_receipt(j, "r1", 0, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    vf_claim(j, "r1", -1);
    vf_create(j, "r2"); /* attempts nothing */
    /* Another plan's run, newer, that attempted something. */
    static const char other[] =
        "{\"cairn_plan\":1,\"plan_id\":\"other\",\"run_id\":\"o1\","
        "\"operations\":[{\"id\":\"x\",\"kind\":\"preflight\"}]}";
    cairn_plan *plan = NULL;
    assert_int_equal(
        cairn_plan_parse(other, strlen(other), &plan, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(cairn_run_create(j, plan, NULL, out, sizeof(out)),
                     CAIRN_OK);
    cairn_plan_free(plan);
    vf_claim(j, "o1", -1);

    assert_int_equal(cairn_watermark_get(j, "pg", NULL, &w), CAIRN_OK);
    assert_true(w.has_attempted);
    assert_string_equal(w.attempted_run_id, "r1");
    assert_int_equal(w.attempted_state,
                     CAIRN_RUN_RUNNING); /* a claim pending */
    assert_int_equal(w.last_contiguous_seq, 0);
    assert_string_equal(w.last_contiguous_id, "check-space");
    assert_int_equal(w.last_attempted_seq, 1);
    assert_string_equal(w.last_attempted_id, "check-auth");
    assert_false(w.has_completed);
    assert_int_equal(w.runs, 2); /* r2 and r1: the plan has no other */

    /* r1 left out: nothing of plan pg attempted anything. */
    assert_int_equal(cairn_watermark_get(j, "pg", "r1", &w), CAIRN_OK);
    assert_false(w.has_attempted);
    assert_int_equal(w.last_attempted_seq, -1);
    assert_string_equal(w.last_attempted_id, "");

    assert_int_equal(cairn_watermark_get(j, "other", NULL, &w), CAIRN_OK);
    assert_string_equal(w.attempted_run_id, "o1");
    assert_int_equal(w.last_contiguous_seq, -1);
    assert_string_equal(w.last_contiguous_id, "");
    assert_int_equal(w.last_attempted_seq, 0);

    assert_int_equal(cairn_watermark_get(NULL, "pg", NULL, &w), CAIRN_EINVAL);
    assert_int_equal(cairn_watermark_get(j, "", NULL, &w), CAIRN_EINVAL);
    assert_int_equal(cairn_watermark_get(j, NULL, NULL, &w), CAIRN_EINVAL);
    assert_int_equal(cairn_watermark_get(j, "pg", NULL, NULL), CAIRN_EINVAL);
    cairn_journal_close(j);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watermark),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
