/*
 * test_prune.c - cairn_prune(): the PRUNE record, what goes and what
 * stays, eligibility, refusals that write nothing, verification of pruned
 * journals and the tamper cases of docs/FORMAT.md section 22.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"

#include "format/merkle.h"
#include "journal/head.h"

/* A plan of a preflight check (op 0) and a task (op 1). */
static const char plan_fmt[] =
    "{\"cairn_plan\":1,\"plan_id\":\"%s\",\"run_id\":\"%s\","
    "\"operations\":[{\"id\":\"check\",\"kind\":\"preflight\"},"
    "{\"id\":\"task\",\"kind\":\"task\"}]}";

typedef struct pfix {
    char *root, *dir, *pub, *sec;
    cairn_signer *signer;
    cairn_pubkey *pk;
    cairn_journal *j;
} pfix;

static void pf_open(pfix *f)
{
    char detail[256];
    assert_int_equal(cairn_journal_open(f->dir, CAIRN_OPEN_CREATE, &f->j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    cairn_journal_set_signer(f->j, f->signer);
}

static void pf_close(pfix *f)
{
    cairn_journal_close(f->j);
    f->j = NULL;
}

static int setup(void **state)
{
    pfix *f = calloc(1, sizeof(*f));
    char detail[256];
    assert_non_null(f);
    f->root = tu_mkdtemp();
    f->dir = tu_path(f->root, "j");
    f->pub = tu_path(f->root, "k.pub");
    f->sec = tu_path(f->root, "k.key");
    vf_keygen(f->pub, f->sec);
    assert_int_equal(
        cairn_signer_load(f->sec, NULL, &f->signer, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(cairn_pubkey_load(f->pub, &f->pk, detail, sizeof(detail)),
                     CAIRN_OK);
    pf_open(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    pfix *f = *state;
    pf_close(f);
    cairn_signer_free(f->signer);
    cairn_pubkey_free(f->pk);
    free(f->dir);
    free(f->pub);
    free(f->sec);
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static void create(pfix *f, const char *plan_id, const char *run_id)
{
    char json[1024], detail[256], out[CAIRN_MAX_ID + 1];
    cairn_plan *plan = NULL;
    snprintf(json, sizeof(json), plan_fmt, plan_id, run_id);
    assert_int_equal(
        cairn_plan_parse(json, strlen(json), &plan, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(cairn_run_create(f->j, plan, NULL, out, sizeof(out)),
                     CAIRN_OK);
    cairn_plan_free(plan);
}

static void finish_op(pfix *f, const char *run, uint32_t op,
                      cairn_outcome outcome, cairn_error_class cls)
{
    cairn_claim_result r;
    assert_int_equal(
        cairn_claim(f->j, run, op, CAIRN_CLAIM_NORMAL, NULL, NULL, &r),
        CAIRN_OK);
    cairn_receipt rc = {.seq = op, .outcome = outcome, .error_class = cls};
    if (outcome != CAIRN_OUTCOME_COMPLETED) {
        rc.reason = "exit 1";
    }
    assert_int_equal(cairn_receipt_record(f->j, run, &rc, NULL), CAIRN_OK);
}

static void accept(pfix *f, const char *run)
{
    cairn_actor_info who = {"alice", "checks passed"};
    assert_int_equal(cairn_accept_preflight(f->j, run, "pf", &who), CAIRN_OK);
}

/* A run with its preflight done and accepted: 4 records. */
static void run_accepted(pfix *f, const char *run)
{
    create(f, "p", run);
    finish_op(f, run, 0, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    accept(f, run);
}

/* A completed run: 6 records. */
static void run_completed(pfix *f, const char *run)
{
    run_accepted(f, run);
    finish_op(f, run, 1, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
}

static cairn_prune_info info_for(const char *rule)
{
    cairn_prune_info in;
    memset(&in, 0, sizeof(in));
    in.rule = rule;
    in.reason = "retention";
    in.policy = "--keep-last 1";
    memset(in.bundle_sha256, 0xab, CAIRN_HASH_BYTES);
    in.bundle_bytes = 1234;
    in.location = "/archive/run.cairn";
    return in;
}

static void prune_ok(pfix *f, const char *run)
{
    cairn_prune_info in = info_for("keep-last=1");
    cairn_actor_info who = {"alice", NULL};
    assert_int_equal(cairn_prune_check(f->j, run, NULL, 0), CAIRN_OK);
    assert_int_equal(cairn_prune(f->j, run, &in, &who), CAIRN_OK);
}

static cairn_summary *status_of(pfix *f, const char *run)
{
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, run, &s), CAIRN_OK);
    return s;
}

/* verify --all: every run's verdict and the directory's. */
typedef struct all_runs {
    size_t n, bad;
    cairn_verdict worst;
    char first_bad[1024];
} all_runs;

static int each_run(void *ctx, const cairn_verify_report *r)
{
    all_runs *a = ctx;
    a->n++;
    if (r->verdict != CAIRN_VERDICT_VERIFIED) {
        if (a->bad++ == 0) {
            snprintf(a->first_bad, sizeof(a->first_bad), "%s: %s [%s]",
                     r->run_id, r->reason, r->bad_field);
        }
        if (r->verdict == CAIRN_VERDICT_TAMPERED) {
            a->worst = CAIRN_VERDICT_TAMPERED;
        }
    }
    return 0;
}

/* The verdict of verify --all (the directory report's, or the worst run's)
 * with @p why the first reason found. */
static cairn_verdict verify_all(pfix *f, char *why, size_t cap, char *field,
                                size_t field_cap)
{
    all_runs a;
    cairn_verify_report d;
    memset(&a, 0, sizeof(a));
    assert_int_equal(cairn_verify_all(f->j, f->pk, 2, each_run, &a, &d),
                     CAIRN_OK);
    if (d.verdict != CAIRN_VERDICT_VERIFIED) {
        snprintf(why, cap, "dir: %s", d.reason);
        snprintf(field, field_cap, "%s", d.bad_field);
        return d.verdict;
    }
    snprintf(why, cap, "%s", a.first_bad);
    field[0] = '\0';
    return a.bad == 0
               ? CAIRN_VERDICT_VERIFIED
               : (a.worst == CAIRN_VERDICT_TAMPERED ? CAIRN_VERDICT_TAMPERED
                                                    : CAIRN_VERDICT_INCOMPLETE);
}

static void assert_all_verified(pfix *f)
{
    char why[1100], field[64];
    cairn_verdict v = verify_all(f, why, sizeof(why), field, sizeof(field));
    if (v != CAIRN_VERDICT_VERIFIED) {
        fail_msg("verify --all: %s: %s", cairn_verdict_name(v), why);
    }
}

static void assert_run_verified(pfix *f, const char *run)
{
    cairn_verify_report r;
    assert_int_equal(cairn_verify_run(f->j, run, f->pk, &r), CAIRN_OK);
    if (r.verdict != CAIRN_VERDICT_VERIFIED) {
        fail_msg("verify %s: %s: %s [%s]", run, cairn_verdict_name(r.verdict),
                 r.reason, r.bad_field);
    }
}

static void test_prune_completed(void **state)
{
    pfix *f = *state;
    run_completed(f, "r1");
    cairn_summary *before = status_of(f, "r1");
    assert_int_equal(before->records, 6);
    prune_ok(f, "r1");
    cairn_summary *s = status_of(f, "r1");
    assert_true(s->pruned);
    assert_int_equal(s->state, CAIRN_RUN_COMPLETED);
    assert_int_equal(s->records, 7);
    assert_int_equal(s->total, 2);
    assert_int_equal(s->counts[CAIRN_OP_COMPLETED], 2);
    assert_int_equal(s->prune_position, 7);
    assert_int_equal(s->n_ops, 0);
    cairn_tombstone *t = NULL;
    assert_int_equal(cairn_prune_tombstone(f->j, "r1", &t), CAIRN_OK);
    assert_string_equal(t->rule, "keep-last=1");
    assert_string_equal(t->actor, "alice");
    assert_string_equal(t->location, "/archive/run.cairn");
    assert_int_equal(t->n_records, 6);
    assert_int_equal(t->positions[0], 1);
    assert_int_equal(t->positions[5], 6);
    assert_int_equal(t->position, 7);
    assert_int_equal(t->final_state, CAIRN_RUN_COMPLETED);
    assert_memory_equal(t->run_head, before->head, CAIRN_HASH_BYTES);
    assert_memory_equal(t->leaf, s->head, CAIRN_HASH_BYTES);
    cairn_tombstone_free(t);
    cairn_summary_free(before);
    cairn_summary_free(s);
    assert_run_verified(f, "r1");
    assert_all_verified(f);
    cairn_verify_report r;
    assert_int_equal(cairn_verify_run(f->j, "r1", f->pk, &r), CAIRN_OK);
    assert_true(r.pruned);
    assert_int_equal(r.prune_position, 7);
    assert_int_equal(r.pruned_records, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prune_completed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
