/*
 * report_model.c - gather what `cairn report` draws from a run's records:
 * the attempts of every operation (claim to receipt or resolution), the
 * in-doubt windows, operator retries, a cancel or timeout, and the
 * downtime of every target.  Only the public API is used.
 *
 * Downtime of a target (one window per stop/start pair of the plan, the
 * stop paired with the next start of the same target): from the CLAIM of
 * the first attempt of the stop operation (journaled just before the stop
 * command started, so the service may go down from then on) to the
 * RECEIPT or RESOLVE record that settled the paired start operation as
 * completed (its command had returned).  A window exists only when the
 * stop completed; while the start has not completed it is open and runs
 * to the run's last record.  Durations use the monotonic clock when both
 * records were written in the same boot, the wall clock otherwise.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

uint64_t rpt_duration(const rpt_point *a, const rpt_point *b)
{
    if (memcmp(a->boot_id, b->boot_id, CAIRN_BOOT_ID_BYTES) == 0) {
        return b->mono_ns >= a->mono_ns ? b->mono_ns - a->mono_ns : 0;
    }
    return b->wall_ns >= a->wall_ns ? b->wall_ns - a->wall_ns : 0;
}

const char *rpt_verdict_label(const cairn_verify_report *r)
{
    switch (r->verdict) {
    case CAIRN_VERDICT_VERIFIED:
        return "VERIFIED";
    case CAIRN_VERDICT_TAMPERED:
        return "TAMPERED";
    case CAIRN_VERDICT_ERROR:
        return "ERROR";
    case CAIRN_VERDICT_INCOMPLETE:
        if (!r->run_signed) {
            return "UNSIGNED";
        }
        return r->key_pinned ? "INCOMPLETE" : "NOT VERIFIED";
    }
    return "ERROR";
}

static char *dup_text(const char *s)
{
    char *copy = strdup(s != NULL ? s : "");
    if (copy == NULL) {
        cli_die_nomem();
    }
    return copy;
}

/* The last RPT_TAIL_MAX bytes of @p s, moved forward to a UTF-8 start. */
static char *dup_tail(const char *s)
{
    size_t len = strlen(s);
    if (len > RPT_TAIL_MAX) {
        s += len - RPT_TAIL_MAX;
        while ((*(const unsigned char *)s & 0xc0u) == 0x80u) {
            s++;
        }
    }
    return dup_text(s);
}

static const char *evidence(const cairn_record_view *r, const char *key)
{
    for (size_t i = 0; i < r->n_evidence; i++) {
        if (r->evidence[i].key != NULL &&
            strcmp(r->evidence[i].key, key) == 0) {
            return r->evidence[i].value;
        }
    }
    return NULL;
}

static void point_of(const cairn_record_view *r, rpt_point *p)
{
    p->wall_ns = r->wall_ns;
    p->mono_ns = r->mono_ns;
    memcpy(p->boot_id, r->boot_id, CAIRN_BOOT_ID_BYTES);
}

static rpt_attempt *add_attempt(rpt_op *op)
{
    if (op->n_attempts == op->cap) {
        size_t cap = op->cap == 0 ? 4 : op->cap * 2;
        rpt_attempt *v = cap > SIZE_MAX / sizeof(*v)
                             ? NULL
                             : realloc(op->attempts, cap * sizeof(*v));
        if (v == NULL) {
            cli_die_nomem();
        }
        op->attempts = v;
        op->cap = cap;
    }
    rpt_attempt *a = &op->attempts[op->n_attempts++];
    memset(a, 0, sizeof(*a));
    return a;
}

/* The attempt a receipt or resolution names: the latest one so numbered
 * that is still open, or NULL. */
static rpt_attempt *find_attempt(rpt_op *op, uint32_t attempt)
{
    for (size_t i = op->n_attempts; i-- > 0;) {
        if (op->attempts[i].attempt == attempt && !op->attempts[i].ended) {
            return &op->attempts[i];
        }
    }
    return NULL;
}

static void status_text(const cairn_record_view *r, rpt_attempt *a)
{
    const char *code = evidence(r, "exit_code");
    const char *sig = evidence(r, "signal");
    const char *timed_out = evidence(r, "timed_out");
    char buf[96] = "";

    if (timed_out != NULL && strcmp(timed_out, "1") == 0) {
        snprintf(buf, sizeof(buf), "timed out");
    } else if (sig != NULL) {
        snprintf(buf, sizeof(buf), "signal %.60s", sig);
    } else if (code != NULL) {
        snprintf(buf, sizeof(buf), "exit %.60s", code);
    }
    a->status_text = dup_text(buf);
}

static void settle(rpt_op *op, const cairn_record_view *r)
{
    rpt_attempt *a = find_attempt(op, r->attempt);
    if (a == NULL) {
        return; /* no claim for it: verification reports such a journal */
    }
    a->ended = 1;
    a->resolved = r->type == CAIRN_REC_RESOLVE;
    point_of(r, &a->end);
    a->outcome = r->outcome;
    a->error_class = r->error_class;
    a->reason = dup_text(r->reason);
    a->actor = dup_text(r->actor);
    status_text(r, a);
    const char *tail = evidence(r, "stderr_tail");
    if (tail != NULL && tail[0] != '\0') {
        a->stderr_tail = dup_tail(tail);
    }
}

static void record_op(rpt_run *run, const cairn_record_view *r)
{
    if (r->op >= run->s->n_ops) {
        return; /* not an operation of the plan: verification says so */
    }
    rpt_op *op = &run->ops[r->op];
    switch (r->type) {
    case CAIRN_REC_CLAIM: {
        rpt_attempt *a = add_attempt(op);
        a->attempt = r->attempt;
        a->claim_kind = r->claim_kind;
        point_of(r, &a->start);
        return;
    }
    case CAIRN_REC_RECEIPT:
    case CAIRN_REC_RESOLVE:
        settle(op, r);
        return;
    case CAIRN_REC_RETRY:
        op->operator_retries++;
        return;
    case CAIRN_REC_CREATE:
    case CAIRN_REC_ACCEPT:
    case CAIRN_REC_CANCEL:
    case CAIRN_REC_TIMEOUT:
    case CAIRN_REC_PRUNE:
    case CAIRN_REC_HOLD:
    case CAIRN_REC_RELEASE:
    case CAIRN_REC_ROTATE:
        return;
    }
}

static int each_record(void *ctx, const cairn_record_view *r)
{
    rpt_run *run = ctx;

    if (run->records == 0) {
        point_of(r, &run->first);
    }
    /* A hold or release is about retention, often long after the run
     * ended: it does not stretch the run's span. */
    if (r->type != CAIRN_REC_HOLD && r->type != CAIRN_REC_RELEASE) {
        point_of(r, &run->last);
    }
    run->records++;
    switch (r->type) {
    case CAIRN_REC_CLAIM:
    case CAIRN_REC_RECEIPT:
    case CAIRN_REC_RESOLVE:
    case CAIRN_REC_RETRY:
        record_op(run, r);
        break;
    case CAIRN_REC_CANCEL:
    case CAIRN_REC_TIMEOUT:
        if (!run->ended_by_record) {
            run->ended_by_record = 1;
            run->end_type = r->type;
            point_of(r, &run->end_at);
            run->end_reason = dup_text(r->reason);
        }
        break;
    case CAIRN_REC_CREATE:
    case CAIRN_REC_ACCEPT:
    case CAIRN_REC_PRUNE:
    case CAIRN_REC_HOLD:
    case CAIRN_REC_RELEASE:
    case CAIRN_REC_ROTATE:
        break;
    }
    return 0;
}

/* The first attempt of @p op settled as completed, or NULL. */
static const rpt_attempt *completion(const rpt_op *op)
{
    for (size_t i = 0; i < op->n_attempts; i++) {
        const rpt_attempt *a = &op->attempts[i];
        if (a->ended && a->outcome == CAIRN_OUTCOME_COMPLETED) {
            return a;
        }
    }
    return NULL;
}

/* The start that follows stop @p stop for the same target, or -1. */
static int64_t paired_start(const cairn_summary *s, uint32_t stop)
{
    for (size_t i = (size_t)stop + 1; i < s->n_ops; i++) {
        const cairn_op_view *v = &s->ops[i];
        if (strcmp(v->target, s->ops[stop].target) != 0) {
            continue;
        }
        if (v->kind == CAIRN_KIND_START) {
            return (int64_t)i;
        }
        if (v->kind == CAIRN_KIND_STOP) {
            return -1;
        }
    }
    return -1;
}

static void downtime(rpt_run *run)
{
    const cairn_summary *s = run->s;

    run->downtimes = calloc(s->n_ops == 0 ? 1 : s->n_ops, sizeof(rpt_downtime));
    if (run->downtimes == NULL) {
        cli_die_nomem();
    }
    for (uint32_t i = 0; i < s->n_ops; i++) {
        const rpt_op *stop = &run->ops[i];
        if (s->ops[i].kind != CAIRN_KIND_STOP || stop->n_attempts == 0 ||
            completion(stop) == NULL) {
            continue;
        }
        rpt_downtime *d = &run->downtimes[run->n_downtimes++];
        int64_t start = paired_start(s, i);
        const rpt_attempt *up =
            start >= 0 ? completion(&run->ops[start]) : NULL;
        d->target = s->ops[i].target;
        d->stop_seq = i;
        d->start_seq = start >= 0 ? (uint32_t)start : i;
        d->from = stop->attempts[0].start;
        d->open = up == NULL;
        d->to = up != NULL ? up->end : run->last;
        d->ns = rpt_duration(&d->from, &d->to);
    }
}

void rpt_run_load(cli_ctx *ctx, const char *run_id, const cairn_pubkey *key,
                  rpt_run *run)
{
    cairn_err err;

    memset(run, 0, sizeof(*run));
    err = cairn_status(ctx->journal, run_id, &run->s);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run_id);
    }
    run->ops = calloc(run->s->n_ops == 0 ? 1 : run->s->n_ops, sizeof(rpt_op));
    if (run->ops == NULL) {
        cli_die_nomem();
    }
    for (size_t i = 0; i < run->s->n_ops; i++) {
        run->ops[i].view = &run->s->ops[i];
    }
    err = cairn_record_each(ctx->journal, run_id, 0, each_record, run);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run_id);
    }
    downtime(run);
    err = cairn_verify_run(ctx->journal, run_id, key, &run->verify);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run_id);
    }
}

void rpt_run_free(rpt_run *run)
{
    if (run == NULL) {
        return;
    }
    for (size_t i = 0; run->s != NULL && i < run->s->n_ops; i++) {
        rpt_op *op = &run->ops[i];
        for (size_t k = 0; k < op->n_attempts; k++) {
            free(op->attempts[k].reason);
            free(op->attempts[k].actor);
            free(op->attempts[k].status_text);
            free(op->attempts[k].stderr_tail);
        }
        free(op->attempts);
    }
    free(run->ops);
    free(run->downtimes);
    free(run->end_reason);
    cairn_summary_free(run->s);
    memset(run, 0, sizeof(*run));
}
