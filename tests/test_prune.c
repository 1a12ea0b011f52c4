/*
 * test_prune.c - cairn_prune(): the PRUNE record, what goes and what
 * stays, eligibility, refusals that write nothing, verification of pruned
 * journals and the tamper cases of docs/FORMAT.md section 22.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"

#include "base/crypto.h"
#include "commit/commit.h"
#include "format/merkle.h"
#include "journal/head.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* What a refused call must leave unchanged: the record count and the
 * journal's head (meta "head" changes with every commit). */
typedef struct snap {
    uint64_t records, checkpoints;
    uint8_t head[CAIRN_HASH_BYTES];
} snap;

static snap take(pfix *f, const char *run)
{
    snap x;
    cairn_journal_info in;
    memset(&x, 0, sizeof(x));
    assert_int_equal(cairn_journal_info_get(f->j, &in), CAIRN_OK);
    x.records = in.records;
    x.checkpoints = in.checkpoints;
    cairn_summary *s = status_of(f, run);
    memcpy(x.head, s->head, CAIRN_HASH_BYTES);
    cairn_summary_free(s);
    return x;
}

static void assert_same(pfix *f, const char *run, const snap *before)
{
    snap now = take(f, run);
    assert_int_equal(now.records, before->records);
    assert_int_equal(now.checkpoints, before->checkpoints);
    assert_memory_equal(now.head, before->head, CAIRN_HASH_BYTES);
}

#define REFUSED(f, run, call, code)                                            \
    do {                                                                       \
        snap before_ = take((f), (run));                                       \
        assert_int_equal((call), (code));                                      \
        assert_same((f), (run), &before_);                                     \
    } while (0)

static void cancel(pfix *f, const char *run, int timed_out)
{
    cairn_actor_info who = {"bob", "stop"};
    assert_int_equal(cairn_cancel(f->j, run, timed_out, &who), CAIRN_OK);
}

/* One run per terminal state, each pruned, each stub right. */
static void test_prune_each_terminal_state(void **state)
{
    pfix *f = *state;
    run_completed(f, "done");
    run_accepted(f, "failed");
    finish_op(f, "failed", 1, CAIRN_OUTCOME_FAILED, CAIRN_CLASS_TERMINAL);
    run_accepted(f, "cancelled");
    cancel(f, "cancelled", 0);
    create(f, "p", "timedout");
    cancel(f, "timedout", 1);
    static const struct {
        const char *run;
        cairn_run_state want;
        uint64_t records;
    } rows[] = {{"done", CAIRN_RUN_COMPLETED, 6},
                {"failed", CAIRN_RUN_FAILED, 6},
                {"cancelled", CAIRN_RUN_CANCELLED, 5},
                {"timedout", CAIRN_RUN_TIMED_OUT, 2}};
    for (size_t i = 0; i < 4; i++) {
        cairn_summary *s = status_of(f, rows[i].run);
        assert_int_equal(s->state, rows[i].want);
        assert_int_equal(s->records, rows[i].records);
        cairn_summary_free(s);
        prune_ok(f, rows[i].run);
        s = status_of(f, rows[i].run);
        assert_true(s->pruned);
        assert_int_equal(s->state, rows[i].want);
        assert_int_equal(s->records, rows[i].records + 1);
        assert_int_equal(s->total, 2);
        cairn_summary_free(s);
        assert_run_verified(f, rows[i].run);
    }
    assert_all_verified(f);
}

/* Not ended, in doubt, held, pruned already, unknown, bad arguments:
 * refused with the exact code, nothing written. */
static void test_prune_refusals(void **state)
{
    pfix *f = *state;
    cairn_prune_info in = info_for("keep-last=1");
    cairn_actor_info who = {"alice", NULL};
    cairn_claim_result cr;
    char detail[512];
    create(f, "p", "fresh"); /* running: the preflight is ready */
    REFUSED(f, "fresh", cairn_prune(f->j, "fresh", &in, &who), CAIRN_ESTATE);
    create(f, "p", "awaiting");
    finish_op(f, "awaiting", 0, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    REFUSED(f, "awaiting", cairn_prune(f->j, "awaiting", &in, &who),
            CAIRN_ESTATE);
    assert_int_equal(
        cairn_prune_check(f->j, "awaiting", detail, sizeof(detail)),
        CAIRN_ESTATE);
    assert_non_null(strstr(detail, "awaiting-preflight"));
    run_accepted(f, "attention"); /* a retryable failure */
    finish_op(f, "attention", 1, CAIRN_OUTCOME_FAILED, CAIRN_CLASS_RETRYABLE);
    REFUSED(f, "attention", cairn_prune(f->j, "attention", &in, &who),
            CAIRN_ESTATE);
    run_accepted(f, "pending"); /* claimed by this live process */
    assert_int_equal(
        cairn_claim(f->j, "pending", 1, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr),
        CAIRN_OK);
    REFUSED(f, "pending", cairn_prune(f->j, "pending", &in, &who),
            CAIRN_ESTATE);
    run_accepted(f, "doubt"); /* claimed by a process that is gone */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(0);
    }
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    cairn_holder gone = {(uint32_t)pid, 1};
    assert_int_equal(
        cairn_claim(f->j, "doubt", 1, CAIRN_CLAIM_NORMAL, &gone, NULL, &cr),
        CAIRN_OK);
    cancel(f, "doubt", 0); /* cancelled, but an op is in doubt */
    REFUSED(f, "doubt", cairn_prune(f->j, "doubt", &in, &who), CAIRN_ESTATE);
    assert_int_equal(cairn_prune_check(f->j, "doubt", detail, sizeof(detail)),
                     CAIRN_ESTATE);
    assert_non_null(strstr(detail, "in doubt"));
    run_completed(f, "held");
    cairn_actor_info hw = {"carol", "legal hold"};
    assert_int_equal(cairn_hold(f->j, "held", 0, &hw), CAIRN_OK);
    REFUSED(f, "held", cairn_prune(f->j, "held", &in, &who), CAIRN_EHELD);
    assert_int_equal(cairn_prune_check(f->j, "held", NULL, 0), CAIRN_EHELD);
    assert_int_equal(cairn_release(f->j, "held", &hw), CAIRN_OK);
    prune_ok(f, "held"); /* released: prunable */
    REFUSED(f, "held", cairn_prune(f->j, "held", &in, &who), CAIRN_EPRUNED);
    assert_int_equal(cairn_prune_check(f->j, "held", NULL, 0), CAIRN_EPRUNED);
    assert_int_equal(cairn_prune(f->j, "nosuch", &in, &who), CAIRN_ENORUN);
    run_completed(f, "bad-args");
    cairn_prune_info bad = in;
    bad.rule = "";
    REFUSED(f, "bad-args", cairn_prune(f->j, "bad-args", &bad, &who),
            CAIRN_EINVAL);
    bad = in;
    bad.reason = NULL;
    REFUSED(f, "bad-args", cairn_prune(f->j, "bad-args", &bad, &who),
            CAIRN_EINVAL);
    char longtext[CAIRN_MAX_PRUNE_LOCATION + 2];
    memset(longtext, 'x', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    bad = in;
    bad.location = longtext;
    REFUSED(f, "bad-args", cairn_prune(f->j, "bad-args", &bad, &who),
            CAIRN_EINVAL);
    assert_int_equal(cairn_prune(f->j, "bad-args", NULL, &who), CAIRN_EINVAL);
    assert_int_equal(cairn_prune(NULL, "bad-args", &in, &who), CAIRN_EINVAL);
    /* Another key than the run's: refused, nothing written. */
    cairn_signer *other = NULL;
    char *pub = tu_path(f->root, "o.pub"), *sec = tu_path(f->root, "o.key");
    vf_keygen(pub, sec);
    assert_int_equal(
        cairn_signer_load(sec, NULL, &other, detail, sizeof(detail)), CAIRN_OK);
    cairn_journal_set_signer(f->j, other);
    REFUSED(f, "bad-args", cairn_prune(f->j, "bad-args", &in, &who),
            CAIRN_EKEYMISMATCH);
    cairn_journal_set_signer(f->j, f->signer);
    cairn_signer_free(other);
    free(pub);
    free(sec);
    assert_all_verified(f);
}

/* Every transition on a pruned run: CAIRN_EPRUNED, nothing written. */
static void test_transitions_refuse_pruned(void **state)
{
    pfix *f = *state;
    cairn_claim_result cr;
    cairn_actor_info who = {"bob", "why"};
    run_completed(f, "r");
    prune_ok(f, "r");
    REFUSED(f, "r",
            cairn_claim(f->j, "r", -1, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr),
            CAIRN_EPRUNED);
    REFUSED(f, "r", cairn_retry(f->j, "r", 1, &who), CAIRN_EPRUNED);
    REFUSED(f, "r", cairn_cancel(f->j, "r", 0, &who), CAIRN_EPRUNED);
    REFUSED(f, "r", cairn_accept_preflight(f->j, "r", "pf2", &who),
            CAIRN_EPRUNED);
    REFUSED(f, "r", cairn_hold(f->j, "r", 0, &who), CAIRN_EPRUNED);
    cairn_receipt rc = {.seq = 1, .outcome = CAIRN_OUTCOME_COMPLETED};
    REFUSED(f, "r", cairn_receipt_record(f->j, "r", &rc, &who), CAIRN_EPRUNED);
    /* The log shows the PRUNE record alone, with its tombstone. */
    assert_all_verified(f);
}

typedef struct log_seen {
    size_t n;
    cairn_record_type type;
    uint64_t seq, removed;
} log_seen;

static int log_each(void *ctx, const cairn_record_view *r)
{
    log_seen *l = ctx;
    l->n++;
    l->type = r->type;
    l->seq = r->seq;
    l->removed = r->tombstone != NULL ? r->tombstone->n_records : 0;
    return 0;
}

static void test_log_shows_prune_record(void **state)
{
    pfix *f = *state;
    log_seen l;
    run_completed(f, "r");
    prune_ok(f, "r");
    memset(&l, 0, sizeof(l));
    assert_int_equal(cairn_record_each(f->j, "r", 0, log_each, &l), CAIRN_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.type, CAIRN_REC_PRUNE);
    assert_int_equal(l.seq, 6);
    assert_int_equal(l.removed, 6);
}

/* Runs interleaved record by record; pruning some keeps every other run
 * and the whole journal verified, also after more commits. */
static void test_interleaved_verify_all(void **state)
{
    pfix *f = *state;
    const char *runs[] = {"a", "b", "c", "d"};
    for (size_t i = 0; i < 4; i++) {
        create(f, "p", runs[i]);
    }
    for (size_t i = 0; i < 4; i++) {
        finish_op(f, runs[i], 0, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    }
    for (size_t i = 0; i < 4; i++) {
        accept(f, runs[i]);
    }
    for (size_t i = 0; i < 3; i++) { /* d stays running */
        finish_op(f, runs[i], 1, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    }
    prune_ok(f, "b");
    assert_all_verified(f);
    assert_run_verified(f, "a");
    assert_run_verified(f, "c");
    cairn_tombstone *t = NULL;
    assert_int_equal(cairn_prune_tombstone(f->j, "b", &t), CAIRN_OK);
    assert_int_equal(t->n_records, 6);
    assert_true(t->positions[1] > t->positions[0] + 1); /* interleaved */
    cairn_tombstone_free(t);
    /* More commits after the prune, then another prune. */
    finish_op(f, "d", 1, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    run_completed(f, "e");
    prune_ok(f, "a");
    prune_ok(f, "d");
    assert_all_verified(f);
    assert_run_verified(f, "c"); /* its last record's inclusion proof */
    assert_run_verified(f, "e");
    assert_run_verified(f, "a");
    assert_run_verified(f, "b");
    /* Reopen: the head is read and proven again. */
    pf_close(f);
    pf_open(f);
    assert_all_verified(f);
    run_completed(f, "g"); /* a writer builds on the pruned journal */
    assert_all_verified(f);
    /* The directory check alone hashes the records itself and takes the
     * stored leaf at each pruned position: the same root. */
    cairn_verify_report d;
    assert_int_equal(cairn_verify_directory(f->j, &d), CAIRN_OK);
    if (d.verdict != CAIRN_VERDICT_VERIFIED) {
        fail_msg("verify_directory: %s: %s", cairn_verdict_name(d.verdict),
                 d.reason);
    }
    assert_int_equal(d.pruned_records, 18); /* a, b, d: 6 each */
}

/* status reads the stub alone: it works with every pruned position and
 * even the PRUNE record's bytes out of reach. */
static void test_status_reads_stub_only(void **state)
{
    pfix *f = *state;
    run_completed(f, "r");
    prune_ok(f, "r");
    pf_close(f);
    vf_raw raw;
    uint8_t key[8];
    vf_raw_open(&raw, f->dir);
    vf_key8(key, 7); /* the PRUNE record */
    static const uint8_t junk[] = "not a record at all, garbage bytes here";
    vf_put(&raw, VR_RECORDS, key, sizeof(key), junk, sizeof(junk));
    vf_raw_close(&raw);
    pf_open(f);
    cairn_summary *s = status_of(f, "r");
    assert_true(s->pruned);
    assert_int_equal(s->state, CAIRN_RUN_COMPLETED);
    assert_int_equal(s->records, 7);
    cairn_summary_free(s);
    cairn_verify_report r;
    assert_int_equal(cairn_verify_run(f->j, "r", f->pk, &r), CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
}

/* ---- tampering -------------------------------------------------------- */

/* Two interleaved completed runs "x" (run 1) and "y" (run 2); "x" pruned.
 * Returns with the journal closed. */
static void tamper_setup(pfix *f)
{
    create(f, "p", "x");
    create(f, "p", "y");
    finish_op(f, "x", 0, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    finish_op(f, "y", 0, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    accept(f, "x");
    accept(f, "y");
    finish_op(f, "x", 1, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    finish_op(f, "y", 1, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    prune_ok(f, "x");
    assert_all_verified(f);
    pf_close(f);
}

/* x's pruned positions: 1, 3, 4, 7, 9, 10 (y: 2, 5, 6, 8, 11, 12);
 * its PRUNE record at 13. */
static void assert_tampered(pfix *f, const char *run, const char *field)
{
    char why[1100], got[64];
    pf_open(f);
    cairn_verdict v = verify_all(f, why, sizeof(why), got, sizeof(got));
    if (v != CAIRN_VERDICT_TAMPERED) {
        fail_msg("verify --all: %s: %s", cairn_verdict_name(v), why);
    }
    if (run != NULL) {
        cairn_verify_report r;
        assert_int_equal(cairn_verify_run(f->j, run, f->pk, &r), CAIRN_OK);
        if (r.verdict != CAIRN_VERDICT_TAMPERED ||
            (field != NULL && strcmp(r.bad_field, field) != 0)) {
            fail_msg("verify %s: %s: %s [%s]", run,
                     cairn_verdict_name(r.verdict), r.reason, r.bad_field);
        }
    }
}

static void test_tamper_record_deleted_without_tombstone(void **state)
{
    pfix *f = *state;
    tamper_setup(f);
    vf_raw raw;
    uint8_t key[8], ikey[16], placeholder[8];
    vf_raw_open(&raw, f->dir);
    vf_key8(key, 5); /* y's seq 1 */
    vf_key8(placeholder, 2);
    vf_put(&raw, VR_RECORDS, key, sizeof(key), placeholder, 8);
    vf_key16(ikey, 2, 1);
    vf_del(&raw, VR_INDEX, ikey, sizeof(ikey));
    vf_raw_close(&raw);
    assert_tampered(f, "y", "index");
}

static void test_tamper_record_survives(void **state)
{
    pfix *f = *state;
    /* Keep x's record at position 3 before it is pruned. */
    create(f, "p", "x");
    create(f, "p", "y");
    finish_op(f, "x", 0, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    pf_close(f);
    vf_raw raw;
    uint8_t key[8];
    size_t n = 0;
    vf_raw_open(&raw, f->dir);
    vf_key8(key, 3);
    uint8_t *saved = vf_get(&raw, VR_RECORDS, key, sizeof(key), &n);
    vf_raw_close(&raw);
    assert_non_null(saved);
    pf_open(f);
    finish_op(f, "y", 0, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    accept(f, "x");
    accept(f, "y");
    finish_op(f, "x", 1, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    finish_op(f, "y", 1, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    prune_ok(f, "x");
    pf_close(f);
    vf_raw_open(&raw, f->dir);
    vf_put(&raw, VR_RECORDS, key, sizeof(key), saved, n);
    vf_raw_close(&raw);
    free(saved);
    assert_tampered(f, "x", "pruned");
}

static void test_tamper_position_missing(void **state)
{
    pfix *f = *state;
    tamper_setup(f);
    vf_raw raw;
    uint8_t key[8];
    vf_raw_open(&raw, f->dir);
    vf_key8(key, 4);
    vf_del(&raw, VR_RECORDS, key, sizeof(key));
    vf_raw_close(&raw);
    assert_tampered(f, "x", NULL);
}

static void test_tamper_position_renamed(void **state)
{
    pfix *f = *state;
    tamper_setup(f);
    vf_raw raw;
    uint8_t key[8], placeholder[8];
    vf_raw_open(&raw, f->dir);
    vf_key8(key, 9);
    vf_key8(placeholder, 2); /* claims y's */
    vf_put(&raw, VR_RECORDS, key, sizeof(key), placeholder, 8);
    vf_raw_close(&raw);
    assert_tampered(f, "x", "pruned");
}

static void test_tamper_leaf_changed(void **state)
{
    pfix *f = *state;
    tamper_setup(f);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi tree;
    uint8_t key[9], leaf[CAIRN_HASH_BYTES];
    memset(leaf, 0x5a, sizeof(leaf));
    key[0] = 0;
    cairn__store64_be(key + 1, 3); /* position 4 */
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, f->dir, MDB_NOSYNC, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "tree", 0, &tree), 0);
    MDB_val k = {sizeof(key), key}, v = {sizeof(leaf), leaf};
    assert_int_equal(mdb_put(txn, tree, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_tampered(f, "x", "tree");
    cairn_verify_report r;
    assert_int_equal(cairn_verify_run(f->j, "x", f->pk, &r), CAIRN_OK);
    assert_true(r.has_node);
    assert_int_equal(r.bad_index, 3);
}

static void test_tamper_checkpoint_left(void **state)
{
    pfix *f = *state;
    create(f, "p", "x");
    pf_close(f);
    vf_raw raw;
    uint8_t key[8];
    size_t n = 0;
    vf_raw_open(&raw, f->dir);
    vf_key8(key, 1);
    uint8_t *cp = vf_get(&raw, VR_CPS, key, sizeof(key), &n);
    vf_raw_close(&raw);
    assert_non_null(cp);
    pf_open(f);
    create(f, "p", "y");
    finish_op(f, "x", 0, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    finish_op(f, "y", 0, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    accept(f, "x");
    accept(f, "y");
    finish_op(f, "x", 1, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    finish_op(f, "y", 1, CAIRN_OUTCOME_COMPLETED, CAIRN_CLASS_NONE);
    prune_ok(f, "x");
    pf_close(f);
    vf_raw_open(&raw, f->dir);
    vf_put(&raw, VR_CPS, key, sizeof(key), cp, n);
    vf_raw_close(&raw);
    free(cp);
    assert_tampered(f, "x", "checkpoint.position");
}

static void test_tamper_stub_changed(void **state)
{
    pfix *f = *state;
    tamper_setup(f);
    vf_raw raw;
    uint8_t key[8];
    size_t n = 0;
    vf_raw_open(&raw, f->dir);
    vf_key8(key, 1);
    uint8_t *blob = vf_get(&raw, VR_RUNS, key, sizeof(key), &n);
    assert_non_null(blob);
    /* final_state sits 29 bytes before the end (u8 + 7 x u32). */
    assert_int_equal(blob[n - 29], CAIRN_RUN_COMPLETED);
    blob[n - 29] = CAIRN_RUN_FAILED;
    vf_put(&raw, VR_RUNS, key, sizeof(key), blob, n);
    vf_raw_close(&raw);
    free(blob);
    assert_tampered(f, "x", NULL);
}

/* The machine refuses a PRUNE of a held run, at the record's time: a
 * replay (verify, or the bundle of a pruned run) finds it TAMPERED. */
static void test_prune_of_held_run_refused_by_replay(void **state)
{
    pfix *f = *state;
    run_completed(f, "h");
    cairn_actor_info hw = {"carol", "legal hold"};
    assert_int_equal(cairn_hold(f->j, "h", 0, &hw), CAIRN_OK);
    cairn_txn *txn = NULL;
    cairn_state st;
    char why[256];
    memset(&st, 0, sizeof(st));
    assert_int_equal(cairn__store_read(f->j->store, &txn), CAIRN_OK);
    assert_int_equal(cairn__load_state(f->j, txn, 1, &st, why, sizeof(why)),
                     CAIRN_OK);
    cairn__txn_end(txn);
    assert_true(st.held);
    cairn_record rec;
    cairn__record_init(&rec);
    rec.type = CAIRN_REC_PRUNE;
    rec.run_num = st.run_num;
    rec.seq = st.next_seq;
    rec.wall_ns = st.updated_ns + 1;
    memcpy(rec.prev, st.head, CAIRN_HASH_BYTES);
    cairn__state_prune_facts(&st, &rec);
    uint8_t hash[CAIRN_HASH_BYTES];
    memset(hash, 1, sizeof(hash));
    assert_int_equal(cairn__state_apply(&st, &rec, hash, 99, why, sizeof(why)),
                     CAIRN_EHELD);
    assert_true(st.held);
    assert_false(st.pruned);
    cairn__state_free(&st);
    cairn__record_free(&rec);
}

/* ---- verify-bundle ties the archive to its tombstone ------------------- */

/* Export "r" to root/NAME, prune it with that bundle's hash and size (or,
 * with @p lie, another hash) and return the bundle's path. */
static char *export_and_prune(pfix *f, const char *name, int lie)
{
    char *path = tu_path(f->root, name);
    size_t n = 0;
    assert_int_equal(cairn_export_bundle(f->j, "r", f->signer, path), CAIRN_OK);
    char *bytes = tu_read_file(path, &n);
    cairn_prune_info in = info_for("keep-within=30d");
    cairn__sha256(bytes, n, in.bundle_sha256);
    in.bundle_sha256[0] ^= (uint8_t)(lie ? 1 : 0);
    in.bundle_bytes = n;
    in.location = path;
    free(bytes);
    assert_int_equal(cairn_prune(f->j, "r", &in, NULL), CAIRN_OK);
    return path;
}

static void test_bundle_tied_to_tombstone(void **state)
{
    pfix *f = *state;
    cairn_verify_report r;
    char detail[512];
    run_completed(f, "other");
    run_completed(f, "r");
    char *path = export_and_prune(f, "r.cairn", 0);
    assert_int_equal(cairn_verify_bundle_pruned(f->j, path, f->pk, 0, &r,
                                                detail, sizeof(detail)),
                     CAIRN_OK);
    if (r.verdict != CAIRN_VERDICT_VERIFIED) {
        fail_msg("%s: %s [%s]", cairn_verdict_name(r.verdict), r.reason,
                 r.bad_field);
    }
    assert_true(r.pruned);
    assert_int_equal(r.prune_position, 13);
    assert_non_null(strstr(r.reason, "archived copy of pruned run r "
                                     "(tombstone at position 13"));
    /* A bundle of a run that is not pruned: CAIRN_ESTATE. */
    char *other = tu_path(f->root, "other.cairn");
    assert_int_equal(cairn_export_bundle(f->j, "other", f->signer, other),
                     CAIRN_OK);
    assert_int_equal(cairn_verify_bundle_pruned(f->j, other, f->pk, 0, &r,
                                                detail, sizeof(detail)),
                     CAIRN_ESTATE);
    /* Export refuses a pruned run: its records are gone. */
    char *again = tu_path(f->root, "again.cairn");
    assert_int_equal(cairn_export_bundle(f->j, "r", f->signer, again),
                     CAIRN_EPRUNED);
    free(again);
    free(other);
    free(path);
}

static void test_bundle_tombstone_mismatch(void **state)
{
    pfix *f = *state;
    cairn_verify_report r;
    char detail[512];
    run_completed(f, "r");
    char *path = export_and_prune(f, "r.cairn", 1);
    assert_int_equal(cairn_verify_bundle_pruned(f->j, path, f->pk, 0, &r,
                                                detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "bundle.sha256");
    free(path);
}

/* The archive changed after the prune (a record's position byte): the
 * tombstone's hash no longer matches, whatever else still verifies. */
static void test_bundle_changed_after_prune(void **state)
{
    pfix *f = *state;
    cairn_verify_report r;
    char detail[512];
    run_completed(f, "r");
    char *path = export_and_prune(f, "r.cairn", 0);
    size_t n = 0;
    char *bytes = tu_read_file(path, &n);
    bytes[72 + 7] ^= 0x01; /* record 0's position (run id "r": offset 72) */
    tu_write_file(path, bytes, n);
    free(bytes);
    assert_int_equal(cairn_verify_bundle_pruned(f->j, path, f->pk,
                                                CAIRN_BUNDLE_NO_SIGNATURE, &r,
                                                detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
    free(path);
}

/* ---- crash safety ----------------------------------------------------- */

static void kill_at(void *ctx, int at)
{
    if (at == *(int *)ctx) {
        raise(SIGKILL);
    }
}

/* A child prunes "r" and is killed at stage @p at (0: at a random moment
 * of the whole call); the journal reopens, verifies, and "r" is intact or
 * pruned, never between. */
static void crash_once(pfix *f, int at, unsigned delay_us, int *pruned)
{
    pf_close(f);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cairn_journal *j = NULL;
        char detail[256];
        if (cairn_journal_open(f->dir, 0, &j, detail, sizeof(detail)) !=
            CAIRN_OK) {
            _exit(3);
        }
        cairn_journal_set_signer(j, f->signer);
        cairn_prune_info in = info_for("crash");
        cairn_err err =
            cairn__prune(j, "r", &in, NULL, at ? kill_at : NULL, &at);
        _exit(err == CAIRN_OK ? 0 : 4);
    }
    if (at == 0) {
        usleep(delay_us);
        kill(pid, SIGKILL);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) ||
                (WIFEXITED(status) && WEXITSTATUS(status) == 0));
    pf_open(f);
    assert_all_verified(f);
    cairn_summary *s = status_of(f, "r");
    *pruned = s->pruned;
    assert_int_equal(s->records, s->pruned ? 7 : 6);
    cairn_summary_free(s);
    assert_run_verified(f, "r");
}

static void test_crash_inside_prune(void **state)
{
    pfix *f = *state;
    int pruned = 0;
    run_completed(f, "r");
    run_completed(f, "other");
    for (int at = CAIRN__PRUNE_BUILT; at <= CAIRN__PRUNE_HEAD; at++) {
        crash_once(f, at, 0, &pruned);
        assert_false(pruned); /* killed before the commit: nothing done */
    }
    crash_once(f, CAIRN__PRUNE_COMMITTED, 0, &pruned);
    assert_true(pruned); /* killed after it: everything done */
    assert_run_verified(f, "other");
}

static void test_crash_random_moment(void **state)
{
    pfix *f = *state;
    const char *env = getenv("CAIRN_TEST_SEED");
    unsigned seed =
        env != NULL ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
    int seen[2] = {0, 0};
    printf("seed %u\n", seed);
    srand(seed);
    for (int i = 0; i < 12; i++) {
        int pruned = 0;
        run_completed(f, "r");
        crash_once(f, 0, (unsigned)(rand() % 200000), &pruned);
        seen[pruned]++;
        if (!pruned) { /* nothing was done: a rerun does it all */
            prune_ok(f, "r");
            assert_all_verified(f);
        }
        /* A run id is never reused: the next round gets a new journal. */
        pf_close(f);
        char *dir = f->dir;
        f->dir = tu_path(f->root, "j");
        tu_rmtree(dir);
        pf_open(f);
    }
    printf("killed before the commit %d times, after %d times\n", seen[0],
           seen[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prune_completed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_each_terminal_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prune_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transitions_refuse_pruned, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_shows_prune_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interleaved_verify_all, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_status_reads_stub_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_tamper_record_deleted_without_tombstone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_record_survives, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tamper_position_missing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tamper_position_renamed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tamper_leaf_changed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tamper_checkpoint_left, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tamper_stub_changed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_prune_of_held_run_refused_by_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bundle_tied_to_tombstone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bundle_tombstone_mismatch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bundle_changed_after_prune, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crash_inside_prune, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crash_random_moment, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
