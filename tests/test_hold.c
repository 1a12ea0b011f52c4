/*
 * test_hold.c - HOLD and RELEASE (cairn_hold(), cairn_release()): allowed
 * in every run state, refused double holds and releases write nothing,
 * the state and summary carry the hold, a hold or release leaves the
 * run's updated_ns alone (no progress: retention ages and watermarks read
 * it) while its checkpoint carries the record's own time, replay and
 * verify accept the records, the codec is strict about them, and an
 * edited HOLD record is TAMPERED.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"

#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct fixture {
    vf_sample *keys; /* keys only: the sample journal is not used */
    char *dir;
    cairn_journal *j;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char detail[256];
    assert_non_null(f);
    f->keys = vf_sample_new(NULL);
    f->dir = tu_mkdtemp();
    assert_int_equal(cairn_journal_open(f->dir, CAIRN_OPEN_CREATE, &f->j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    cairn_journal_set_signer(f->j, f->keys->a);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cairn_journal_close(f->j);
    tu_rmtree(f->dir);
    vf_sample_free(f->keys);
    free(f);
    return 0;
}

static cairn_summary *status(fixture *f, const char *run)
{
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, run, &s), CAIRN_OK);
    assert_int_equal(cairn_replay_check(f->j, run), CAIRN_OK);
    return s;
}

static uint64_t records(fixture *f, const char *run)
{
    cairn_summary *s = status(f, run);
    uint64_t n = s->records;
    cairn_summary_free(s);
    return n;
}

/* The bytes of data.mdb: a refused call must leave them unchanged. */
static char *data_file(fixture *f, size_t *len)
{
    char *p = tu_path(f->dir, "data.mdb");
    char *d = tu_read_file(p, len);
    free(p);
    return d;
}

#define REFUSED(f, run, call, want)                                            \
    do {                                                                       \
        size_t l0_, l1_;                                                       \
        uint64_t before_ = records(f, run);                                    \
        char *d0_ = data_file(f, &l0_);                                        \
        assert_int_equal((call), (want));                                      \
        assert_true(cairn_journal_errdetail((f)->j)[0] != '\0');               \
        char *d1_ = data_file(f, &l1_);                                        \
        assert_int_equal(l0_, l1_);                                            \
        assert_memory_equal(d0_, d1_, l0_);                                    \
        free(d0_);                                                             \
        free(d1_);                                                             \
        assert_int_equal(records(f, run), before_);                            \
    } while (0)

static void verified(fixture *f, const char *run)
{
    cairn_verify_report r;
    assert_int_equal(cairn_verify_run(f->j, run, f->keys->pk_a, &r), CAIRN_OK);
    if (r.verdict != CAIRN_VERDICT_VERIFIED) {
        print_error("%s: %s (%s)\n", run, cairn_verdict_name(r.verdict),
                    r.reason);
    }
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
}

static void fail_head(fixture *f, const char *run, uint32_t op,
                      cairn_error_class cls)
{
    cairn_receipt r = {.seq = op,
                       .outcome = CAIRN_OUTCOME_FAILED,
                       .error_class = cls,
                       .reason = "exit 1"};
    vf_claim(f->j, run, -1);
    assert_int_equal(cairn_receipt_record(f->j, run, &r, NULL), CAIRN_OK);
}

static void through_preflight(fixture *f, const char *run)
{
    cairn_actor_info who = {"alice", "checks passed"};
    vf_claim(f->j, run, -1);
    vf_receipt(f->j, run, 0, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    vf_claim(f->j, run, -1);
    vf_receipt(f->j, run, 1, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    assert_int_equal(cairn_accept_preflight(f->j, run, "pf-1", &who), CAIRN_OK);
}

static void complete_all(fixture *f, const char *run)
{
    static const cairn_kv snap[] = {{"artifact", "/b/db.tar"},
                                    {"digest", "abc"}};
    through_preflight(f, run);
    for (uint32_t i = 2; i < 8; i++) {
        vf_claim(f->j, run, -1);
        vf_receipt(f->j, run, i, CAIRN_OUTCOME_COMPLETED, i == 3 ? snap : NULL,
                   i == 3 ? 2 : 0);
    }
}

/* Bring run @p run to state @p want. */
static void reach(fixture *f, const char *run, cairn_run_state want)
{
    cairn_actor_info who = {"ops", "window over"};
    vf_create(f->j, run);
    switch (want) {
    case CAIRN_RUN_AWAITING_PREFLIGHT:
        vf_claim(f->j, run, -1);
        vf_receipt(f->j, run, 0, CAIRN_OUTCOME_COMPLETED, NULL, 0);
        vf_claim(f->j, run, -1);
        vf_receipt(f->j, run, 1, CAIRN_OUTCOME_COMPLETED, NULL, 0);
        break;
    case CAIRN_RUN_RUNNING:
        through_preflight(f, run);
        break;
    case CAIRN_RUN_COMPLETED:
        complete_all(f, run);
        break;
    case CAIRN_RUN_FAILED:
        through_preflight(f, run);
        fail_head(f, run, 2, CAIRN_CLASS_TERMINAL);
        break;
    case CAIRN_RUN_NEEDS_ATTENTION:
        through_preflight(f, run);
        fail_head(f, run, 2, CAIRN_CLASS_RETRYABLE);
        break;
    case CAIRN_RUN_TIMED_OUT:
    case CAIRN_RUN_CANCELLED:
        through_preflight(f, run);
        assert_int_equal(
            cairn_cancel(f->j, run, want == CAIRN_RUN_TIMED_OUT, &who),
            CAIRN_OK);
        break;
    }
    cairn_summary *s = status(f, run);
    assert_int_equal(s->state, want);
    cairn_summary_free(s);
}

static void test_hold_release_every_state(void **state)
{
    fixture *f = *state;
    static const cairn_run_state states[] = {
        CAIRN_RUN_AWAITING_PREFLIGHT, CAIRN_RUN_RUNNING,
        CAIRN_RUN_COMPLETED,          CAIRN_RUN_FAILED,
        CAIRN_RUN_NEEDS_ATTENTION,    CAIRN_RUN_TIMED_OUT,
        CAIRN_RUN_CANCELLED};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        char run[32];
        snprintf(run, sizeof(run), "run-%zu", i);
        reach(f, run, states[i]);
        uint64_t n = records(f, run);
        cairn_summary *s = status(f, run);
        uint64_t updated = s->updated_ns;
        cairn_summary_free(s);
        /* The hold comes later than the run's last record. */
        while (now_ns() <= updated + 1000000) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        cairn_actor_info who = {"carol", "legal hold 2026-17"};
        assert_int_equal(cairn_hold(f->j, run, 0, &who), CAIRN_OK);
        s = status(f, run);
        assert_int_equal(s->updated_ns, updated); /* no progress */
        assert_true(s->hold_ns > updated);
        assert_int_equal(s->state, states[i]); /* a hold changes no state */
        assert_true(s->held);
        assert_string_equal(s->hold_reason, "legal hold 2026-17");
        assert_string_equal(s->hold_actor, "carol");
        assert_int_equal(s->hold_until_ns, 0);
        assert_true(s->hold_ns > 0);
        assert_int_equal(s->records, n + 1);
        assert_true(cairn_hold_active(s, now_ns()));
        cairn_summary_free(s);
        verified(f, run);

        cairn_actor_info again = {"dave", "second hold"};
        REFUSED(f, run, cairn_hold(f->j, run, 0, &again), CAIRN_ESTATE);

        cairn_actor_info rel = {"carol", "case closed"};
        assert_int_equal(cairn_release(f->j, run, &rel), CAIRN_OK);
        s = status(f, run);
        assert_int_equal(s->updated_ns, updated);
        assert_int_equal(s->state, states[i]);
        assert_false(s->held);
        assert_string_equal(s->hold_reason, "");
        assert_false(cairn_hold_active(s, now_ns()));
        assert_int_equal(s->records, n + 2);
        cairn_summary_free(s);
        verified(f, run);
        REFUSED(f, run, cairn_release(f->j, run, &rel), CAIRN_ESTATE);

        /* Held again after a release. */
        assert_int_equal(cairn_hold(f->j, run, 0, &who), CAIRN_OK);
        verified(f, run);
    }
}

static void test_hold_arguments(void **state)
{
    fixture *f = *state;
    reach(f, "r", CAIRN_RUN_RUNNING);
    cairn_actor_info none = {"x", NULL}, empty = {"x", ""};
    REFUSED(f, "r", cairn_hold(f->j, "r", 0, NULL), CAIRN_EREASON);
    REFUSED(f, "r", cairn_hold(f->j, "r", 0, &none), CAIRN_EREASON);
    REFUSED(f, "r", cairn_hold(f->j, "r", 0, &empty), CAIRN_EREASON);
    char big[CAIRN_MAX_HOLD_REASON + 2];
    memset(big, 'r', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cairn_actor_info toolong = {"x", big};
    REFUSED(f, "r", cairn_hold(f->j, "r", 0, &toolong), CAIRN_EINVAL);
    /* An until time in the past. */
    cairn_actor_info who = {"x", "keep"};
    REFUSED(f, "r", cairn_hold(f->j, "r", 1000, &who), CAIRN_EINVAL);
    assert_int_equal(cairn_hold(f->j, "no-such-run", 0, &who), CAIRN_ENORUN);
    assert_int_equal(cairn_hold(NULL, "r", 0, &who), CAIRN_EINVAL);
    assert_int_equal(cairn_release(f->j, NULL, &who), CAIRN_EINVAL);
    REFUSED(f, "r", cairn_release(f->j, "r", &who), CAIRN_ESTATE);
    /* The limit itself is fine. */
    big[CAIRN_MAX_HOLD_REASON] = '\0';
    uint64_t until = now_ns() + 3600ull * 1000000000ull;
    assert_int_equal(cairn_hold(f->j, "r", until, &toolong), CAIRN_OK);
    cairn_summary *s = status(f, "r");
    assert_int_equal(strlen(s->hold_reason), CAIRN_MAX_HOLD_REASON);
    assert_int_equal(s->hold_until_ns, until);
    assert_true(cairn_hold_active(s, until - 1));
    assert_false(cairn_hold_active(s, until));
    assert_false(cairn_hold_active(NULL, 0));
    cairn_summary_free(s);
    REFUSED(f, "r", cairn_release(f->j, "r", &none), CAIRN_EREASON);
    verified(f, "r");
}

/* A hold whose until time passed no longer counts: a new HOLD replaces
 * it, and RELEASE still lifts it. */
static void test_hold_expired(void **state)
{
    fixture *f = *state;
    reach(f, "r", CAIRN_RUN_COMPLETED);
    cairn_actor_info who = {"x", "short hold"};
    /* 3 s ahead: cairn_hold refuses an until time already past when it
     * commits, which 2 ms was on a loaded machine */
    uint64_t until = now_ns() + 3000000000ull;
    assert_int_equal(cairn_hold(f->j, "r", until, &who), CAIRN_OK);
    while (now_ns() <= until + 1000000) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    cairn_summary *s = status(f, "r");
    assert_true(s->held);
    assert_false(cairn_hold_active(s, now_ns()));
    cairn_summary_free(s);
    cairn_actor_info again = {"y", "long hold"};
    assert_int_equal(cairn_hold(f->j, "r", 0, &again), CAIRN_OK);
    s = status(f, "r");
    assert_string_equal(s->hold_reason, "long hold");
    assert_string_equal(s->hold_actor, "y");
    assert_int_equal(s->hold_until_ns, 0);
    cairn_summary_free(s);
    verified(f, "r");
}

/* A held run still runs: holds are about retention only. */
static void test_held_run_continues(void **state)
{
    fixture *f = *state;
    reach(f, "r", CAIRN_RUN_AWAITING_PREFLIGHT);
    cairn_actor_info who = {"x", "keep"};
    assert_int_equal(cairn_hold(f->j, "r", 0, &who), CAIRN_OK);
    cairn_actor_info acc = {"alice", "ok"};
    assert_int_equal(cairn_accept_preflight(f->j, "r", "pf-1", &acc), CAIRN_OK);
    vf_claim(f->j, "r", -1);
    cairn_summary *s = status(f, "r");
    assert_true(s->held);
    assert_int_equal(s->state, CAIRN_RUN_RUNNING);
    cairn_summary_free(s);
    verified(f, "r");
}

static int log_types(void *ctx, const cairn_record_view *r)
{
    char *out = ctx;
    strcat(out, cairn_record_type_name(r->type));
    strcat(out,
           r->type == CAIRN_REC_HOLD && r->until_ns != 0 ? "+until," : ",");
    return 0;
}

static void test_hold_records_in_log(void **state)
{
    fixture *f = *state;
    vf_create(f->j, "r");
    cairn_actor_info who = {"x", "keep"};
    assert_int_equal(
        cairn_hold(f->j, "r", now_ns() + 3600ull * 1000000000ull, &who),
        CAIRN_OK);
    assert_int_equal(cairn_release(f->j, "r", &who), CAIRN_OK);
    char types[256] = "";
    assert_int_equal(cairn_record_each(f->j, "r", 0, log_types, types),
                     CAIRN_OK);
    assert_string_equal(types, "create,hold+until,release,");
    assert_string_equal(cairn_record_type_name(CAIRN_REC_HOLD), "hold");
    assert_string_equal(cairn_record_type_name(CAIRN_REC_RELEASE), "release");
    assert_string_equal(cairn_errname(CAIRN_EHELD), "CAIRN_EHELD");
    assert_string_equal(cairn_errname(CAIRN_EIMPORTED), "CAIRN_EIMPORTED");
    assert_int_equal(cairn_exit_code(CAIRN_EHELD), 2);
    assert_int_equal(cairn_exit_code(CAIRN_EIMPORTED), 2);
}

/* ---- codec ---------------------------------------------------------- */

static void hold_record(cairn_record *rec, cairn_record_type type,
                        const char *reason, uint64_t until)
{
    cairn__record_init(rec);
    rec->version = CAIRN_FORMAT_VERSION;
    rec->type = type;
    rec->run_num = 3;
    rec->seq = 9;
    rec->wall_ns = 1764000000000000000ull;
    assert_int_equal(cairn__record_set_str(&rec->actor, "carol"), CAIRN_OK);
    assert_int_equal(cairn__record_set_str(&rec->reason, reason), CAIRN_OK);
    rec->until_ns = until;
}

static void test_codec(void **state)
{
    (void)state;
    char why[256];
    cairn_record rec, back;
    uint8_t *buf = NULL;
    size_t len = 0;
    /* HOLD: reason | until round-trips byte for byte. */
    hold_record(&rec, CAIRN_REC_HOLD, "legal", 77);
    assert_int_equal(cairn__record_encode(&rec, &buf, &len, why, sizeof(why)),
                     CAIRN_OK);
    /* header 90 + actor 5, body: 2 + 5 + 8 */
    assert_int_equal(len, 95 + 15);
    assert_int_equal(buf[1], 9);
    assert_int_equal(buf[len - 1], 77);
    assert_int_equal(cairn__record_decode(buf, len, &back, why, sizeof(why)),
                     CAIRN_OK);
    assert_int_equal(back.type, CAIRN_REC_HOLD);
    assert_string_equal(back.reason, "legal");
    assert_int_equal(back.until_ns, 77);
    cairn__record_free(&back);
    /* A byte more or less is corrupt. */
    buf[94] = 14; /* body_len low byte: 15 -> 14 */
    assert_int_equal(
        cairn__record_decode(buf, len - 1, &back, why, sizeof(why)),
        CAIRN_ECORRUPT);
    /* An empty reason: patch the reason length to 0 and the body. */
    free(buf);
    cairn__record_free(&rec);

    hold_record(&rec, CAIRN_REC_RELEASE, "done", 0);
    assert_int_equal(cairn__record_encode(&rec, &buf, &len, why, sizeof(why)),
                     CAIRN_OK);
    assert_int_equal(len, 95 + 6);
    assert_int_equal(buf[1], 10);
    assert_int_equal(cairn__record_decode(buf, len, &back, why, sizeof(why)),
                     CAIRN_OK);
    assert_string_equal(back.reason, "done");
    cairn__record_free(&back);
    /* reason length 0: body is then 2 bytes and must say so. */
    uint8_t empty[97];
    memcpy(empty, buf, 95);
    empty[91] = 0;
    empty[92] = 0;
    empty[93] = 0;
    empty[94] = 2;
    empty[95] = 0;
    empty[96] = 0;
    assert_int_equal(
        cairn__record_decode(empty, sizeof(empty), &back, why, sizeof(why)),
        CAIRN_ECORRUPT);
    assert_non_null(strstr(why, "reason: empty"));
    /* type 11 is unknown here. */
    buf[1] = 11;
    assert_int_equal(cairn__record_decode(buf, len, &back, why, sizeof(why)),
                     CAIRN_ECORRUPT);
    free(buf);
    cairn__record_free(&rec);

    /* The encoder refuses an empty or too long reason. */
    hold_record(&rec, CAIRN_REC_HOLD, "", 0);
    assert_int_equal(cairn__record_encode(&rec, &buf, &len, why, sizeof(why)),
                     CAIRN_EINVAL);
    cairn__record_free(&rec);
    char big[CAIRN_MAX_HOLD_REASON + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    hold_record(&rec, CAIRN_REC_RELEASE, big, 0);
    assert_int_equal(cairn__record_encode(&rec, &buf, &len, why, sizeof(why)),
                     CAIRN_EINVAL);
    cairn__record_free(&rec);
}

/* The run summary (FORMAT.md 23.2) of a held run round-trips; the hold
 * block is there only with flag bit 4. */
static void test_state_codec(void **state)
{
    fixture *f = *state;
    reach(f, "r", CAIRN_RUN_RUNNING);
    cairn_actor_info who = {"carol", "keep"};
    assert_int_equal(cairn_hold(f->j, "r", 0, &who), CAIRN_OK);
    cairn_journal_close(f->j);
    f->j = NULL;
    vf_raw raw;
    vf_raw_open(&raw, f->dir);
    uint8_t key[8];
    size_t vl;
    vf_key8(key, 1);
    uint8_t *v = vf_get(&raw, VR_RUNS, key, sizeof(key), &vl);
    assert_int_equal(v[1] & 0x10, 0x10);
    cairn_state st;
    char why[256];
    assert_int_equal(cairn__summary_decode(v, vl, &st, why, sizeof(why)),
                     CAIRN_OK);
    assert_true(st.held);
    assert_string_equal(st.hold_reason, "keep");
    assert_string_equal(st.hold_actor, "carol");
    uint8_t *again = NULL;
    size_t al = 0;
    assert_int_equal(cairn__summary_encode(&st, &again, &al), CAIRN_OK);
    assert_int_equal(al, vl);
    assert_memory_equal(again, v, vl);
    free(again);
    cairn__state_free(&st);
    /* The hold block ends with: str16 reason "keep" | u64 until | u64
     * since | str16 actor "carol". */
    assert_int_equal(vl > 2 + 4 + 8 + 8 + 2 + 5, 1);
    assert_memory_equal(v + vl - 7,
                        "\x00\x05"
                        "carol",
                        7);
    /* Bit 4 without the block, or the block without bit 4: corrupt. */
    v[1] = (uint8_t)(v[1] & ~0x10);
    assert_int_equal(cairn__summary_decode(v, vl, &st, why, sizeof(why)),
                     CAIRN_ECORRUPT);
    v[1] = (uint8_t)(v[1] | 0x10);
    assert_int_equal(cairn__summary_decode(v, vl - (2 + 4 + 8 + 8 + 2 + 5), &st,
                                           why, sizeof(why)),
                     CAIRN_ECORRUPT);
    v[1] = (uint8_t)(v[1] | 0x20); /* bit 5: not defined here */
    assert_int_equal(cairn__summary_decode(v, vl, &st, why, sizeof(why)),
                     CAIRN_ECORRUPT);
    free(v);
    vf_raw_close(&raw);
    char detail[256];
    assert_int_equal(
        cairn_journal_open(f->dir, 0, &f->j, detail, sizeof(detail)), CAIRN_OK);
}

/* ---- tampering -------------------------------------------------------- */

static void edit_hold_reason(vf_raw *raw, size_t seq)
{
    vf_run run;
    vf_load_run(raw, 1, &run);
    assert_true(seq < run.n);
    assert_int_equal(run.r[seq].rec.type, CAIRN_REC_HOLD);
    assert_int_equal(cairn__record_set_str(&run.r[seq].rec.reason, "nothing"),
                     CAIRN_OK);
    vf_rewrite o = {NULL, NULL, SIZE_MAX, 0, 1};
    uint8_t jid[CAIRN_JOURNAL_ID_BYTES];
    size_t vl;
    uint8_t *v = vf_get(raw, VR_META, "journal_id", 10, &vl);
    memcpy(jid, v, sizeof(jid));
    free(v);
    o.journal_id = jid;
    vf_store_run(raw, &run, &o);
    vf_free_run(&run);
}

static void test_tampered_hold(void **state)
{
    fixture *f = *state;
    reach(f, "r", CAIRN_RUN_COMPLETED);
    uint64_t seq = records(f, "r");
    cairn_actor_info who = {"carol", "legal hold"};
    assert_int_equal(cairn_hold(f->j, "r", 0, &who), CAIRN_OK);
    verified(f, "r");
    cairn_journal_close(f->j);
    f->j = NULL;
    char *copy = vf_copy(f->dir);
    vf_raw raw;
    vf_raw_open(&raw, copy);
    edit_hold_reason(&raw, (size_t)seq);
    vf_raw_close(&raw);
    cairn_verify_report r = vf_verify(copy, "r", f->keys->pk_a);
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
    assert_int_equal(cairn_verdict_exit_code(r.verdict), 4);
    assert_true(r.has_bad);
    assert_int_equal(r.bad_seq, seq);
    tu_rmtree(copy);
    char detail[256];
    assert_int_equal(
        cairn_journal_open(f->dir, 0, &f->j, detail, sizeof(detail)), CAIRN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hold_release_every_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hold_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_run_continues, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hold_records_in_log, setup,
                                        teardown),
        cmocka_unit_test(test_codec),
        cmocka_unit_test_setup_teardown(test_state_codec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_hold, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
