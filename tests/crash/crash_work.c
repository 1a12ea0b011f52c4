/*
 * crash_work.c - the workload: mixed transitions chosen from each run's
 * summary, every one logged before (I) and after (A with the new record's
 * hash read back, or E) to the ack log.  An OK transition is also checked
 * against what was asked (type, operation, outcome, outputs, evidence):
 * a "success" that stored something else is reported as X.
 */
#include "crash.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 0,1 preflight; 2 stop db; 3 snapshot db (requires artifact, digest);
 * 4 start db; 5 transfer; 6 verify; 7 task; 8 tidy (cleanup). */
static const char plan_fmt[] =
    "{\"cairn_plan\":1,\"plan_id\":\"crash\",\"run_id\":\"%s\","
    "\"operations\":["
    "{\"id\":\"check-space\",\"kind\":\"preflight\"},"
    "{\"id\":\"check-auth\",\"kind\":\"preflight\"},"
    "{\"id\":\"stop-db\",\"kind\":\"stop\",\"target\":\"db\"},"
    "{\"id\":\"snapshot-db\",\"kind\":\"snapshot\",\"target\":\"db\","
    "\"requires\":[\"artifact\",\"digest\"]},"
    "{\"id\":\"start-db\",\"kind\":\"start\",\"target\":\"db\"},"
    "{\"id\":\"transfer\",\"kind\":\"transfer\"},"
    "{\"id\":\"verify\",\"kind\":\"verify\"},"
    "{\"id\":\"rotate\",\"kind\":\"task\"},"
    "{\"id\":\"tidy\",\"kind\":\"cleanup\"}]}";

typedef enum act_type {
    ACT_DONE,
    ACT_ACCEPT,
    ACT_CLAIM,
    ACT_RECEIPT,
    ACT_RESOLVE,
    ACT_RETRY,
    ACT_CANCEL,
    ACT_TIMEOUT
} act_type;

typedef struct act {
    act_type type;
    uint32_t op;
    cairn_claim_kind kind;
    cairn_outcome outcome;
    cairn_error_class cls;
    const char *reason;
    cairn_kv out[2];
    size_t n_out;
    cairn_kv ev[2];
    size_t n_ev;
    char big[3200];
} act;

void cr_ack_line(int fd, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    size_t len = (size_t)n < sizeof(line) - 2 ? (size_t)n : sizeof(line) - 2;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)line[i];
        line[i] = b < 0x20 || b == 0x7f ? '?' : line[i];
    }
    line[len++] = '\n';
    /* One write, so lines from several writers never interleave; a
     * SIGKILL can still tear one at a page boundary of the file, which
     * the parser (crash_acklog.c) refuses as an acknowledgement. */
    (void)!write(fd, line, len);
}

cairn_signer *cr_load_signer(const char *sec)
{
    cairn_signer *s = NULL;
    char detail[256];
    if (cairn_signer_load(sec, NULL, &s, detail, sizeof(detail)) != CAIRN_OK) {
        fprintf(stderr, "crash: %s: %s\n", sec, detail);
        _exit(2);
    }
    return s;
}

/* Length of the UTF-8 sequence at @p s, 0 when it is not valid. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4   ? 4
               : s[0] >= 0xe0                 ? 3
               : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
                                              : 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return n;
}

/* An error detail must be text: a control byte or broken UTF-8 in it
 * means the library formatted memory it never wrote. */
static void check_detail(cr_work *w, const char *run, cairn_err err,
                         const char *detail)
{
    const unsigned char *d = (const unsigned char *)detail;
    for (size_t i = 0; d[i] != '\0'; i++) {
        unsigned char b = d[i];
        size_t n = b >= 0x80 ? utf8_len(d + i) : 1;
        if (n > 1) {
            i += n - 1;
            continue;
        }
        if (b < 0x20 || b == 0x7f || n == 0) {
            cr_ack_line(w->ack_fd,
                        "X [detail-uninit] %s: the detail of %s holds byte "
                        "0x%02x at %zu",
                        run, cairn_errname(err), b, i);
            return;
        }
    }
}

static void log_error(cr_work *w, const char *run, cairn_err err)
{
    const char *detail = w->j != NULL ? cairn_journal_errdetail(w->j) : "";
    cr_ack_line(w->ack_fd, "E %s %s %s", run, cairn_errname(err), detail);
    check_detail(w, run, err, detail);
}

cairn_err cr_work_open(cr_work *w)
{
    char detail[512] = "";
    cr_ack_line(w->ack_fd, "I - 0");
    cairn_journal_opts o = CAIRN_JOURNAL_OPTS_INIT;
    o.flags = CAIRN_OPEN_CREATE |
              (w->own_commits ? CAIRN_OPEN_NO_SHARED_COMMIT : 0u);
    o.map_size = w->map_size;
    cairn_err err =
        cairn_journal_open_opts(w->dir, &o, &w->j, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        cr_ack_line(w->ack_fd, "E - %s %s", cairn_errname(err), detail);
        return err;
    }
    cairn_journal_set_signer(w->j, w->signer);
    cr_ack_line(w->ack_fd, "A - 0 -");
    return CAIRN_OK;
}

typedef struct readback {
    const act *want; /* NULL for a create */
    int seen;
    char why[256];
    uint8_t hash[CAIRN_HASH_BYTES];
} readback;

static const cairn_record_type act_rec[] = {
    [ACT_DONE] = 0,
    [ACT_ACCEPT] = CAIRN_REC_ACCEPT,
    [ACT_CLAIM] = CAIRN_REC_CLAIM,
    [ACT_RECEIPT] = CAIRN_REC_RECEIPT,
    [ACT_RESOLVE] = CAIRN_REC_RESOLVE,
    [ACT_RETRY] = CAIRN_REC_RETRY,
    [ACT_CANCEL] = CAIRN_REC_CANCEL,
    [ACT_TIMEOUT] = CAIRN_REC_TIMEOUT,
};

static void compare(readback *rb, const cairn_record_view *v)
{
    const act *a = rb->want;
    if (a == NULL) {
        if (v->type != CAIRN_REC_CREATE) {
            snprintf(rb->why, sizeof(rb->why), "create stored type %d",
                     (int)v->type);
        }
        return;
    }
    int outcome = a->type == ACT_RECEIPT || a->type == ACT_RESOLVE;
    int has_op = a->type == ACT_CLAIM || a->type == ACT_RETRY || outcome;
    if (v->type != act_rec[a->type] || (has_op && v->op != a->op) ||
        (outcome && (v->outcome != a->outcome || v->error_class != a->cls ||
                     v->n_outputs != a->n_out || v->n_evidence != a->n_ev))) {
        snprintf(rb->why, sizeof(rb->why),
                 "stored type %d op %u outcome %d, asked type %d op %u",
                 (int)v->type, v->op, (int)v->outcome, (int)act_rec[a->type],
                 a->op);
        return;
    }
    for (size_t i = 0; outcome && i < a->n_ev; i++) {
        if (strcmp(v->evidence[i].key, a->ev[i].key) != 0 ||
            strcmp(v->evidence[i].value, a->ev[i].value) != 0) {
            snprintf(rb->why, sizeof(rb->why), "evidence %zu differs", i);
        }
    }
    if (a->type == ACT_CLAIM && v->claim_kind != a->kind) {
        snprintf(rb->why, sizeof(rb->why), "claim kind differs");
    }
}

static int readback_fn(void *ctx, const cairn_record_view *v)
{
    readback *rb = ctx;
    rb->seen++;
    memcpy(rb->hash, v->hash, CAIRN_HASH_BYTES);
    compare(rb, v);
    return 1;
}

/* The journal's signed head as this writer sees it after an
 * acknowledgement (H line): whatever the journal becomes after a crash,
 * its tree must extend this one.  Not read (no line) when it cannot be. */
static void log_head(cr_work *w)
{
    cairn_journal_checkpoint cp;
    char detail[256], hex[2 * CAIRN_HASH_BYTES + 1];
    if (cairn_journal_checkpoint_get(w->j, NULL, &cp, detail,
                                     sizeof(detail)) != CAIRN_OK) {
        return;
    }
    for (size_t i = 0; i < CAIRN_HASH_BYTES; i++) {
        snprintf(hex + 2 * i, 3, "%02x", cp.root[i]);
    }
    cr_ack_line(w->ack_fd, "H %llu %s", (unsigned long long)cp.size, hex);
}

/* After an OK call: the run must hold exactly one more record, the one
 * asked for; log its hash as acknowledged. */
static void acknowledge(cr_work *w, const char *run, uint64_t before,
                        const act *a)
{
    cairn_summary *s = NULL;
    cairn_err err = cairn_status(w->j, run, &s);
    if (err != CAIRN_OK) {
        cr_ack_line(w->ack_fd, "E %s %s after OK: %s", run, cairn_errname(err),
                    cairn_journal_errdetail(w->j));
        return;
    }
    uint64_t n = s->records;
    cairn_summary_free(s);
    if (n != before + 1) {
        cr_ack_line(w->ack_fd, "X %s: OK but %llu records, expected %llu", run,
                    (unsigned long long)n, (unsigned long long)(before + 1));
        return;
    }
    readback rb = {a, 0, "", {0}};
    err = cairn_record_each(w->j, run, before, readback_fn, &rb);
    if (err != CAIRN_OK || rb.seen != 1) {
        cr_ack_line(w->ack_fd, "E %s %s reading back seq %llu", run,
                    cairn_errname(err), (unsigned long long)before);
        return;
    }
    if (rb.why[0] != '\0') {
        cr_ack_line(w->ack_fd, "X %s seq %llu: %s", run,
                    (unsigned long long)before, rb.why);
        return;
    }
    char hex[2 * CAIRN_HASH_BYTES + 1];
    for (size_t i = 0; i < CAIRN_HASH_BYTES; i++) {
        snprintf(hex + 2 * i, 3, "%02x", rb.hash[i]);
    }
    cr_ack_line(w->ack_fd, "A %s %llu %s", run, (unsigned long long)before,
                hex);
    log_head(w);
}

cairn_err cr_work_create(cr_work *w, const char *run_id)
{
    char json[2048], detail[256], out[CAIRN_MAX_ID + 1];
    cairn_plan *plan = NULL;
    snprintf(json, sizeof(json), plan_fmt, run_id);
    cairn_err err =
        cairn_plan_parse(json, strlen(json), &plan, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        cr_ack_line(w->ack_fd, "E %s %s plan: %s", run_id, cairn_errname(err),
                    detail);
        return err;
    }
    cairn_actor_info who = {"crash", NULL};
    cr_ack_line(w->ack_fd, "I %s 1", run_id);
    err = cairn_run_create(w->j, plan, &who, out, sizeof(out));
    cairn_plan_free(plan);
    if (err != CAIRN_OK) {
        log_error(w, run_id, err);
        return err;
    }
    acknowledge(w, run_id, 0, NULL);
    return CAIRN_OK;
}

static int halted(const cairn_summary *s)
{
    return s->state == CAIRN_RUN_FAILED || s->state == CAIRN_RUN_CANCELLED ||
           s->state == CAIRN_RUN_TIMED_OUT;
}

static int needs_restart(const cairn_summary *s, const char *target)
{
    for (size_t i = 0; i < s->n_restart_targets; i++) {
        if (strcmp(s->restart_targets[i], target) == 0) {
            return 1;
        }
    }
    return 0;
}

static void fill_evidence(cr_work *w, act *a)
{
    a->ev[0].key = "exit_code";
    a->ev[0].value = a->outcome == CAIRN_OUTCOME_FAILED ? "1" : "0";
    a->n_ev = 1;
    if (w->big && cr_below(&w->rng, 4) == 0) {
        /* Large values go to LMDB overflow pages (crash.md 1.5). */
        size_t n = 100 + cr_below(&w->rng, sizeof(a->big) - 101);
        for (size_t i = 0; i < n; i++) {
            a->big[i] = (char)('a' + cr_below(&w->rng, 26));
        }
        a->big[n] = '\0';
        a->ev[1].key = "stdout_tail";
        a->ev[1].value = a->big;
        a->n_ev = 2;
    }
}

/* An outcome for a pending operation (receipt or resolution). */
static void pick_outcome(cr_work *w, const cairn_op_view *op, act *a,
                         act_type type)
{
    uint64_t r = cr_below(&w->rng, 100);
    a->type = type;
    a->op = op->seq;
    a->outcome = CAIRN_OUTCOME_COMPLETED;
    a->cls = CAIRN_CLASS_NONE;
    a->reason = type == ACT_RESOLVE ? "operator checked" : NULL;
    if (r >= 70 && r < 86) {
        a->outcome = CAIRN_OUTCOME_FAILED;
        a->cls = CAIRN_CLASS_RETRYABLE;
        a->reason = "exit 1";
    } else if (r >= 86 && r < 94 && op->kind != CAIRN_KIND_PREFLIGHT) {
        a->outcome = CAIRN_OUTCOME_SKIPPED;
        a->reason = "not needed";
    } else if (r >= 94 && r < 97) {
        a->outcome = CAIRN_OUTCOME_FAILED;
        a->cls = CAIRN_CLASS_TERMINAL;
        a->reason = "disk gone";
    }
    if (a->outcome == CAIRN_OUTCOME_COMPLETED &&
        op->kind == CAIRN_KIND_SNAPSHOT) {
        a->out[0] = (cairn_kv){"artifact", "/backup/db.tar"};
        a->out[1] = (cairn_kv){"digest", "0123abcd"};
        a->n_out = 2;
    }
    fill_evidence(w, a);
}

static int decide_halted(const cairn_summary *s, act *a)
{
    for (size_t i = 0; i < s->n_ops; i++) {
        const cairn_op_view *op = &s->ops[i];
        int open = op->state == CAIRN_OP_READY || op->state == CAIRN_OP_BLOCKED;
        if (open && op->kind == CAIRN_KIND_START &&
            needs_restart(s, op->target)) {
            a->type = ACT_CLAIM;
            a->op = op->seq;
            a->kind = CAIRN_CLAIM_CONTAINMENT;
            return 1;
        }
    }
    for (size_t i = 0; i < s->n_ops; i++) {
        const cairn_op_view *op = &s->ops[i];
        /* docs/DESIGN.md section 3.2: cleanup takes a ready cleanup op
         * (a blocked one waits for the preflight). */
        if (op->state == CAIRN_OP_READY && op->kind == CAIRN_KIND_CLEANUP) {
            a->type = ACT_CLAIM;
            a->op = op->seq;
            a->kind = CAIRN_CLAIM_CLEANUP;
            return 1;
        }
    }
    return 0;
}

static void decide_running(cr_work *w, const cairn_summary *s, act *a)
{
    int preflight_done = 1;
    for (size_t i = 0; i < s->n_ops; i++) {
        if (s->ops[i].kind == CAIRN_KIND_PREFLIGHT &&
            s->ops[i].state != CAIRN_OP_COMPLETED) {
            preflight_done = 0;
        }
    }
    if (!s->preflight_accepted && preflight_done) {
        a->type = ACT_ACCEPT;
        return;
    }
    if (!s->has_next) {
        return;
    }
    a->op = s->next_seq;
    if (s->next_state == CAIRN_OP_FAILED) {
        a->type = ACT_RETRY;
        a->reason = "try again";
    } else if (s->next_state == CAIRN_OP_READY) {
        uint64_t r = cr_below(&w->rng, 200);
        a->type = r < 3 ? ACT_CANCEL : r < 5 ? ACT_TIMEOUT : ACT_CLAIM;
        a->kind = CAIRN_CLAIM_NORMAL;
        a->reason = r < 5 ? "operator stop" : NULL;
    }
}

static void decide(cr_work *w, const cairn_summary *s, act *a)
{
    memset(a, 0, sizeof(*a));
    a->type = ACT_DONE;
    for (size_t i = 0; i < s->n_ops; i++) {
        if (s->ops[i].in_doubt) {
            pick_outcome(w, &s->ops[i], a, ACT_RESOLVE);
            return;
        }
    }
    for (size_t i = 0; i < s->n_ops; i++) {
        if (s->ops[i].state == CAIRN_OP_PENDING) {
            pick_outcome(w, &s->ops[i], a, ACT_RECEIPT);
            return;
        }
    }
    if (halted(s)) {
        (void)decide_halted(s, a);
        return;
    }
    if (s->state != CAIRN_RUN_COMPLETED) {
        decide_running(w, s, a);
    }
}

static cairn_err perform(cr_work *w, const char *run, const act *a)
{
    cairn_actor_info who = {"crash", a->reason};
    cairn_receipt r = {.seq = a->op,
                       .outcome = a->outcome,
                       .error_class = a->cls,
                       .reason = a->reason,
                       .outputs = a->out,
                       .n_outputs = a->n_out,
                       .evidence = a->ev,
                       .n_evidence = a->n_ev};
    cairn_claim_result cr;
    switch (a->type) {
    case ACT_ACCEPT:
        return cairn_accept_preflight(w->j, run, "pf-1", &who);
    case ACT_CLAIM:
        return cairn_claim(w->j, run, a->op, a->kind, NULL, &who, &cr);
    case ACT_RECEIPT:
        return cairn_receipt_record(w->j, run, &r, &who);
    case ACT_RESOLVE:
        return cairn_resolve(w->j, run, &r, &who);
    case ACT_RETRY:
        return cairn_retry(w->j, run, a->op, &who);
    case ACT_CANCEL:
        return cairn_cancel(w->j, run, 0, &who);
    case ACT_TIMEOUT:
        return cairn_cancel(w->j, run, 1, &who);
    case ACT_DONE:
        break;
    }
    return CAIRN_OK;
}

int cr_work_can_step(cr_work *w, const char *run_id)
{
    cairn_summary *s = NULL;
    act *a = malloc(sizeof(*a));
    int can = 0;
    if (a != NULL && cairn_status(w->j, run_id, &s) == CAIRN_OK) {
        decide(w, s, a);
        can = a->type != ACT_DONE;
    }
    cairn_summary_free(s);
    free(a);
    return can;
}

cairn_err cr_work_step(cr_work *w, const char *run_id, int *done)
{
    cairn_summary *s = NULL;
    *done = 0;
    cairn_err err = cairn_status(w->j, run_id, &s);
    if (err == CAIRN_ENORUN) {
        return cr_work_create(w, run_id);
    }
    if (err != CAIRN_OK) {
        log_error(w, run_id, err);
        return err;
    }
    act *a = malloc(sizeof(*a));
    if (a == NULL) {
        cairn_summary_free(s);
        return CAIRN_ENOMEM;
    }
    decide(w, s, a);
    uint64_t before = s->records;
    cairn_summary_free(s);
    if (a->type == ACT_DONE) {
        *done = 1;
        free(a);
        return CAIRN_OK;
    }
    cr_ack_line(w->ack_fd, "I %s %llu", run_id,
                (unsigned long long)(before + 1));
    err = perform(w, run_id, a);
    if (err == CAIRN_OK) {
        acknowledge(w, run_id, before, a);
    } else {
        log_error(w, run_id, err);
    }
    free(a);
    return err;
}
