/*
 * test_verify_all.c - cairn_verify_all(): the same verdicts as the
 * separate calls, in run-number order, with any thread count; stopping;
 * bad arguments; runs whose state or name is damaged; a checkpoint moved
 * to another run's record or to no record at all; many runs through the
 * bounded ring and the plan memo.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"

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

#define MAX_SEEN 64

typedef struct seen {
    cairn_verify_report rep[MAX_SEEN];
    size_t n;
    size_t stop_after; /* 0: never stop */
} seen;

static int collect(void *ctx, const cairn_verify_report *run)
{
    seen *s = ctx;
    assert_true(s->n < MAX_SEEN);
    s->rep[s->n++] = *run;
    return s->stop_after != 0 && s->n == s->stop_after;
}

static cairn_journal *open_ro(const char *dir)
{
    cairn_journal *j = NULL;
    char detail[512];
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    return j;
}

/* Verify all of @p dir with @p threads threads into @p s and @p d. */
static void verify_all(const char *dir, unsigned threads, seen *s,
                       cairn_verify_report *d)
{
    cairn_journal *j = open_ro(dir);
    s->n = 0;
    assert_int_equal(cairn_verify_all(j, sample->pk_a, threads, collect, s, d),
                     CAIRN_OK);
    cairn_journal_close(j);
}

static void same_report(const cairn_verify_report *a,
                        const cairn_verify_report *b)
{
    assert_string_equal(a->run_id, b->run_id);
    assert_int_equal(a->verdict, b->verdict);
    assert_int_equal(a->records, b->records);
    assert_int_equal(a->checkpoints, b->checkpoints);
    assert_int_equal(a->signatures_ok, b->signatures_ok);
    assert_int_equal(a->unsealed, b->unsealed);
    assert_int_equal(a->replay_ok, b->replay_ok);
    assert_memory_equal(a->head, b->head, CAIRN_HASH_BYTES);
    assert_string_equal(a->bad_field, b->bad_field);
    assert_string_equal(a->reason, b->reason);
}

static void test_same_as_separate_calls(void **state)
{
    (void)state;
    static const char *const runs[] = {VF_RUN_A, VF_RUN_B};
    static const unsigned threads[] = {1, 2, 3, 8, 0};
    cairn_verify_report d, sep;
    seen s;
    memset(&s, 0, sizeof(s));
    for (size_t t = 0; t < CAIRN_ARRAY_LEN(threads); t++) {
        verify_all(sample->dir, threads[t], &s, &d);
        assert_int_equal(s.n, 2);
        assert_int_equal(d.verdict, CAIRN_VERDICT_VERIFIED);
        sep = vf_verify(sample->dir, NULL, NULL);
        assert_string_equal(d.reason, sep.reason);
        for (size_t i = 0; i < 2; i++) {
            sep = vf_verify(sample->dir, runs[i], sample->pk_a);
            same_report(&s.rep[i], &sep);
        }
    }
    assert_int_equal(s.rep[0].verdict, CAIRN_VERDICT_VERIFIED);
}

static void test_stop_and_bad_arguments(void **state)
{
    (void)state;
    cairn_journal *j = open_ro(sample->dir);
    cairn_verify_report d;
    seen s;
    memset(&s, 0, sizeof(s));
    s.stop_after = 1;
    for (unsigned threads = 1; threads <= 4; threads++) {
        s.n = 0;
        assert_int_equal(cairn_verify_all(j, NULL, threads, collect, &s, &d),
                         CAIRN_OK);
        assert_int_equal(s.n, 1);
        assert_string_equal(s.rep[0].run_id, VF_RUN_A);
        assert_int_equal(s.rep[0].verdict, CAIRN_VERDICT_INCOMPLETE);
        assert_int_equal(d.verdict, CAIRN_VERDICT_VERIFIED);
    }
    memset(&d, 0xff, sizeof(d));
    assert_int_equal(cairn_verify_all(NULL, NULL, 1, collect, &s, &d),
                     CAIRN_EINVAL);
    assert_int_equal(d.verdict, 0);
    assert_int_equal(cairn_verify_all(j, NULL, 1, NULL, &s, &d), CAIRN_EINVAL);
    assert_int_equal(cairn_verify_all(j, NULL, 1, collect, &s, NULL),
                     CAIRN_EINVAL);
    cairn_journal_close(j);
}

/* Tamper with a copy through @p fn, then verify all of it. */
static void all_after(void (*fn)(vf_raw *raw), unsigned threads, seen *s,
                      cairn_verify_report *d)
{
    char *dir = vf_copy(sample->dir);
    vf_raw raw;
    vf_raw_open(&raw, dir);
    fn(&raw);
    vf_raw_close(&raw);
    verify_all(dir, threads, s, d);
    tu_rmtree(dir);
}

/* Run-a's checkpoint of seq 3 copied onto run-b's record of seq 1. */
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

/* Run-a's checkpoint of seq 3 copied to a position with no record. */
static void checkpoint_stray(vf_raw *raw)
{
    uint8_t key[8];
    size_t vl;
    vf_key8(key, vf_pos(raw, 1, 3));
    uint8_t *cp = vf_get(raw, VR_CPS, key, sizeof(key), &vl);
    vf_key8(key, 1000);
    vf_put(raw, VR_CPS, key, sizeof(key), cp, vl);
    free(cp);
}

static void name_dropped(vf_raw *raw)
{
    vf_del(raw, VR_NAMES, VF_RUN_B, strlen(VF_RUN_B));
}

static void state_garbled(vf_raw *raw)
{
    uint8_t key[8], junk[3] = {9, 9, 9};
    vf_key8(key, 2);
    vf_put(raw, VR_RUNS, key, sizeof(key), junk, sizeof(junk));
}

static void test_moved_and_stray_checkpoints(void **state)
{
    (void)state;
    cairn_verify_report d;
    seen s;
    memset(&s, 0, sizeof(s));
    for (unsigned threads = 1; threads <= 2; threads++) {
        all_after(checkpoint_moved, threads, &s, &d);
        assert_int_equal(s.n, 2);
        assert_int_equal(s.rep[0].verdict, CAIRN_VERDICT_VERIFIED);
        assert_int_equal(s.rep[1].verdict, CAIRN_VERDICT_TAMPERED);
        assert_string_equal(s.rep[1].bad_field, "checkpoint.run_num");
        assert_int_equal(d.verdict, CAIRN_VERDICT_TAMPERED);
        assert_string_equal(d.bad_field, "checkpoints");

        /* Seals no record: the run reports cannot see it, the directory
         * report does, so the verdict of the whole is still TAMPERED. */
        all_after(checkpoint_stray, threads, &s, &d);
        assert_int_equal(s.n, 2);
        assert_int_equal(s.rep[0].verdict, CAIRN_VERDICT_VERIFIED);
        assert_int_equal(d.verdict, CAIRN_VERDICT_TAMPERED);
        assert_string_equal(d.bad_field, "checkpoints.position");
        assert_int_equal(d.bad_seq, 1000);
    }
}

/* A runs key that is no run number (it sorts after every run: 00 00 01
 * is above 00 00 00 ...). */
static void runs_key_short(vf_raw *raw)
{
    uint8_t key[3] = {0, 0, 1}, junk[1] = {1};
    vf_put(raw, VR_RUNS, key, sizeof(key), junk, sizeof(junk));
}

static void test_damaged_names_and_states(void **state)
{
    (void)state;
    cairn_verify_report d;
    seen s;
    memset(&s, 0, sizeof(s));
    for (unsigned threads = 1; threads <= 2; threads++) {
        all_after(name_dropped, threads, &s, &d);
        assert_int_equal(s.n, 2);
        assert_string_equal(s.rep[1].run_id, VF_RUN_B);
        assert_int_equal(s.rep[1].verdict, CAIRN_VERDICT_TAMPERED);
        assert_string_equal(s.rep[1].bad_field, "names");
        assert_non_null(strstr(s.rep[1].reason, "its name does not lead"));
        assert_int_equal(d.verdict, CAIRN_VERDICT_TAMPERED);

        all_after(state_garbled, threads, &s, &d);
        assert_int_equal(s.n, 2);
        assert_string_equal(s.rep[1].run_id, "run number 2");
        assert_int_equal(s.rep[1].verdict, CAIRN_VERDICT_TAMPERED);
        assert_string_equal(s.rep[1].bad_field, "state");
        assert_int_equal(d.verdict, CAIRN_VERDICT_TAMPERED);

        all_after(runs_key_short, threads, &s, &d);
        assert_int_equal(s.n, 3);
        assert_string_equal(s.rep[0].run_id, VF_RUN_A);
        assert_int_equal(s.rep[0].verdict, CAIRN_VERDICT_VERIFIED);
        assert_string_equal(s.rep[2].run_id, "run number 0");
        assert_int_equal(s.rep[2].verdict, CAIRN_VERDICT_TAMPERED);
        assert_string_equal(s.rep[2].bad_field, "state");
        assert_int_equal(d.verdict, CAIRN_VERDICT_TAMPERED);
    }
}

/* A run of a one-operation plan whose plan id is @p plan_id. */
static void create_small(cairn_journal *j, const char *run_id,
                         const char *plan_id)
{
    char json[256], out[CAIRN_MAX_ID + 1], detail[256];
    cairn_plan *plan = NULL;
    snprintf(json, sizeof(json),
             "{\"cairn_plan\":1,\"plan_id\":\"%s\",\"run_id\":\"%s\","
             "\"operations\":[{\"id\":\"t\",\"kind\":\"transfer\"}]}",
             plan_id, run_id);
    assert_int_equal(
        cairn_plan_parse(json, strlen(json), &plan, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(cairn_run_create(j, plan, NULL, out, sizeof(out)),
                     CAIRN_OK);
    cairn_plan_free(plan);
}

/* More runs than the ring holds (4 slots per thread), three plans
 * interleaved (so a thread's plan memo is both hit and replaced), every
 * thread count: all delivered once, in run-number order, VERIFIED. */
static void test_many_runs_in_order(void **state)
{
    (void)state;
    enum { RUNS = 40 };
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j"), detail[256];
    char run[32];
    cairn_journal *j = NULL;
    cairn_verify_report d;
    seen s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(
        cairn_journal_open(dir, CAIRN_OPEN_CREATE, &j, detail, sizeof(detail)),
        CAIRN_OK);
    cairn_journal_set_signer(j, sample->a);
    for (int i = 0; i < RUNS; i++) {
        snprintf(run, sizeof(run), "many-%02d", i);
        if (i % 4 == 1) {
            create_small(j, run, i % 8 == 1 ? "p1" : "p2");
        } else {
            vf_create(j, run);
        }
        if (i % 3 == 0 && i % 4 != 1) {
            vf_claim(j, run, 0);
        }
    }
    cairn_journal_close(j);
    for (unsigned threads = 1; threads <= 5; threads++) {
        verify_all(dir, threads, &s, &d);
        assert_int_equal(s.n, RUNS);
        assert_int_equal(d.verdict, CAIRN_VERDICT_VERIFIED);
        for (int i = 0; i < RUNS; i++) {
            snprintf(run, sizeof(run), "many-%02d", i);
            assert_string_equal(s.rep[i].run_id, run);
            assert_int_equal(s.rep[i].verdict, CAIRN_VERDICT_VERIFIED);
            assert_int_equal(s.rep[i].records,
                             i % 3 == 0 && i % 4 != 1 ? 2 : 1);
        }
    }
    free(dir);
    tu_rmtree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_separate_calls),
        cmocka_unit_test(test_stop_and_bad_arguments),
        cmocka_unit_test(test_moved_and_stray_checkpoints),
        cmocka_unit_test(test_damaged_names_and_states),
        cmocka_unit_test(test_many_runs_in_order),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
