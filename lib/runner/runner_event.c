/*
 * runner_event.c - what the runner tells its caller: events, run state
 * changes (and the hook run on each), dry runs, and the stop message.
 */
#include "runner/runner.h"

#include "journal/journal.h"
#include "base/sys.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cairn_run_event_name(cairn_run_event_type type)
{
    switch (type) {
    case CAIRN_EVENT_OP_START:
        return "op-start";
    case CAIRN_EVENT_OP_END:
        return "op-end";
    case CAIRN_EVENT_RETRY_WAIT:
        return "retry-wait";
    case CAIRN_EVENT_IN_DOUBT:
        return "in-doubt";
    case CAIRN_EVENT_PREFLIGHT_ACCEPTED:
        return "preflight-accepted";
    case CAIRN_EVENT_CONTAINMENT:
        return "containment";
    case CAIRN_EVENT_CLEANUP:
        return "cleanup";
    case CAIRN_EVENT_HOOK_FAILED:
        return "hook-failed";
    case CAIRN_EVENT_STATE_CHANGE:
        return "state-change";
    case CAIRN_EVENT_DRY_RUN:
        return "dry-run";
    case CAIRN_EVENT_STOPPED:
        return "stopped";
    case CAIRN_EVENT_HEARTBEAT:
        return "heartbeat";
    }
    return "unknown";
}

void cairn__runner_fmt_ns(uint64_t ns, char *out, size_t out_len)
{
    unsigned long long ms = (unsigned long long)(ns / 1000000u);
    if (ms < 1000) {
        cairn__fmt(out, out_len, "%llums", ms);
    } else if (ms < 60000) {
        cairn__fmt(out, out_len, "%llu.%02llus", ms / 1000, ms % 1000 / 10);
    } else if (ms < 3600000) {
        cairn__fmt(out, out_len, "%llum%llus", ms / 60000, ms % 60000 / 1000);
    } else {
        cairn__fmt(out, out_len, "%lluh%llum", ms / 3600000,
                   ms % 3600000 / 60000);
    }
}

void cairn__runner_emit(cairn_runner *r, cairn_run_event *ev)
{
    if (r->opts.on_event == NULL) {
        return;
    }
    ev->run_id = r->run_id;
    ev->total = (uint32_t)r->plan->n_ops;
    ev->elapsed_ns = cairn__mono_ns() - r->start_mono;
    if (ev->reason == NULL) {
        ev->reason = "";
    }
    if (ev->stderr_tail == NULL) {
        ev->stderr_tail = "";
    }
    r->opts.on_event(r->opts.event_ctx, ev);
}

void cairn__runner_op_event(const cairn_runner *r, cairn_run_event *ev,
                            cairn_run_event_type type, uint32_t seq)
{
    const cairn_plan_op *op = &r->plan->ops[seq];
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->has_op = 1;
    ev->seq = seq;
    ev->op_id = op->id;
    ev->kind = op->kind;
    ev->target = op->target != NULL ? op->target : "";
    ev->max_attempts = op->attempts;
    ev->claim_kind = CAIRN_CLAIM_NORMAL;
}

static void hook_failed(cairn_runner *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void hook_failed(cairn_runner *r, const char *fmt, ...)
{
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    cairn_run_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = CAIRN_EVENT_HOOK_FAILED;
    ev.reason = reason;
    cairn__runner_emit(r, &ev);
}

/* Run the hook; its failure is an event, never an error of the run. */
static void run_hook(cairn_runner *r, const cairn_summary *s)
{
    char detail[768];
    cairn_hook_info info;
    memset(&info, 0, sizeof(info));
    info.transition = "runner";
    info.actor = r->who.actor;
    info.timeout_ns = r->opts.hook_timeout_ns;
    info.interrupts = r->opts.interrupts;
    info.shutdown_ns = r->opts.shutdown_timeout_ns;
    if (cairn__hook_exec(r->opts.hook, r->jdir, s, &info, r->opts.kill_grace_ns,
                         detail, sizeof(detail)) != CAIRN_OK) {
        hook_failed(r, "hook: %s", detail);
    }
}

cairn_err cairn__runner_observe(cairn_runner *r, cairn_summary **out)
{
    cairn_summary *s = NULL;
    if (out != NULL) {
        *out = NULL;
    }
    cairn_err err = cairn_status_opts(r->j, r->run_id, CAIRN_STATUS_BRIEF, &s);
    if (err != CAIRN_OK) {
        return err;
    }
    /* Every preflight operation completed and the runner accepts the
     * preflight next: that awaiting-preflight moment is not a state the
     * run stops in, so events and hooks go running -> running. */
    int passing = s->state == CAIRN_RUN_AWAITING_PREFLIGHT &&
                  !r->opts.manual_accept && !cairn__runner_interrupted(r) &&
                  cairn__runner_deadline_left(r) != 0;
    /* A change of the restart flag (a stop completed: a service is down)
     * or of the in-doubt count is a state change the hook must see. */
    if (passing) {
        /* not reported */
    } else if (!r->seen || s->state != r->last_state ||
               s->stopped_reason != r->last_reason ||
               s->next_action != r->last_next ||
               s->restart_required != r->last_restart ||
               s->n_in_doubt != r->last_in_doubt) {
        r->seen = 1;
        r->last_state = s->state;
        r->last_reason = s->stopped_reason;
        r->last_next = s->next_action;
        r->last_restart = s->restart_required;
        r->last_in_doubt = s->n_in_doubt;
        cairn_run_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = CAIRN_EVENT_STATE_CHANGE;
        ev.summary = s;
        cairn__runner_emit(r, &ev);
        if (r->opts.hook != NULL) {
            run_hook(r, s);
        }
    }
    if (out != NULL) {
        *out = s;
    } else {
        cairn_summary_free(s);
    }
    return CAIRN_OK;
}

cairn_err cairn__runner_stopped(cairn_runner *r, cairn_err err, const char *fmt,
                                ...)
{
    char reason[CAIRN__DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    cairn_summary *s = NULL;
    if (cairn_status_opts(r->j, r->run_id, CAIRN_STATUS_BRIEF, &s) !=
        CAIRN_OK) {
        s = NULL;
    }
    cairn_run_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = CAIRN_EVENT_STOPPED;
    ev.reason = reason;
    ev.summary = s;
    cairn__runner_emit(r, &ev);
    cairn_summary_free(s);
    /* Last, so that nothing above can replace the message. */
    cairn__publish_detail(r->j, reason);
    return err;
}

/* The retry/probe/idempotent facts of @p op, for a dry-run line. */
static void describe(const cairn_plan_op *op, char *out, size_t cap)
{
    char b[32], m[32];
    size_t used = 0;
    out[0] = '\0';
    if (op->attempts > 1) {
        cairn__runner_fmt_ns(op->backoff_ns, b, sizeof(b));
        cairn__runner_fmt_ns(op->max_backoff_ns, m, sizeof(m));
        cairn__fmt(out, cap, "%u attempts, backoff %s (max %s)", op->attempts,
                   b, m);
        used = strlen(out);
        for (size_t i = 0; i < op->n_retry_exit_codes; i++) {
            cairn__fmt(out + used, cap - used, "%s%d",
                       i ? "," : ", retry exit codes ",
                       op->retry_exit_codes[i]);
            used += strlen(out + used);
        }
    }
    if (op->probe.n > 0) {
        cairn__fmt(out + used, cap - used, "%sprobe", used ? "; " : "");
        used += strlen(out + used);
    }
    if (op->idempotent) {
        cairn__fmt(out + used, cap - used, "%sidempotent", used ? "; " : "");
        used += strlen(out + used);
    }
    for (size_t i = 0; i < op->n_requires; i++) {
        const cairn_output_rule *rule =
            op->require_rules != NULL ? &op->require_rules[i] : NULL;
        cairn__fmt(
            out + used, cap - used, "%s%s%s%s%s",
            i ? "," : (used ? "; requires " : "requires "), op->requires[i],
            rule != NULL && rule->type != CAIRN_OUTPUT_NONEMPTY ? ":" : "",
            rule != NULL && rule->type != CAIRN_OUTPUT_NONEMPTY
                ? cairn__output_type_name(rule->type)
                : "",
            rule != NULL && rule->pattern != NULL ? "~pattern" : "");
        used += strlen(out + used);
    }
}

void cairn__runner_dry_run(cairn_runner *r)
{
    for (uint32_t i = 0; i < r->plan->n_ops; i++) {
        const cairn_plan_op *op = &r->plan->ops[i];
        char facts[1024];
        cairn_run_event ev;
        cairn__runner_op_event(r, &ev, CAIRN_EVENT_DRY_RUN, i);
        describe(op, facts, sizeof(facts));
        ev.argv = op->run.v;
        ev.timeout_ns = op->timeout_ns;
        ev.wait_ns = op->attempts > 1 ? op->backoff_ns : 0;
        ev.reason = facts;
        cairn__runner_emit(r, &ev);
    }
}
