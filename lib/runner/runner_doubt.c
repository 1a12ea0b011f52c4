/*
 * runner_doubt.c - settle the in-doubt operations a dead runner left
 * behind (pending, claimer gone), never by re-running silently:
 *   probe      exit 0: resolved completed with the probe's outputs;
 *              exit 1: resolved failed (retryable), runs again;
 *              else unknown (then the idempotent rule, if it applies);
 *   idempotent resolved failed (retryable), runs again;
 *   otherwise  the run stops and waits for `cairn resolve`.
 */
#include "runner/runner.h"

#include "base/sys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum probe_answer {
    PROBE_HAPPENED,
    PROBE_NOT_HAPPENED,
    PROBE_UNKNOWN
} probe_answer;

static void doubt_event(cairn_runner *r, uint32_t seq, uint32_t attempt,
                        const cairn_outcome *outcome, const char *reason)
{
    cairn_run_event ev;
    cairn__runner_op_event(r, &ev, CAIRN_EVENT_IN_DOUBT, seq);
    ev.attempt = attempt;
    if (outcome != NULL) {
        ev.has_outcome = 1;
        ev.outcome = *outcome;
        ev.error_class = *outcome == CAIRN_OUTCOME_FAILED
                             ? CAIRN_CLASS_RETRYABLE
                             : CAIRN_CLASS_NONE;
    }
    ev.reason = reason;
    cairn__runner_emit(r, &ev);
}

/* Evidence of a decision: the claim it settles, and the probe's run
 * (its pairs prefixed "probe_"). */
static cairn_err decision_evidence(cairn_runner *r, const cairn_op_view *v,
                                   const char *by, const runner_result *probe,
                                   cairn_kvlist *ev)
{
    cairn_err err = cairn__kv_addf(ev, "decided_by", "%s", by);
    if (err == CAIRN_OK) {
        err = cairn__runner_orphan_evidence(r, v->seq, v->attempt, ev);
    }
    if (err == CAIRN_OK) {
        err = cairn__kv_addf(ev, "in_doubt_attempt", "%u", v->attempt);
    }
    if (err == CAIRN_OK) {
        err = cairn__kv_addf(ev, "claimer_pid", "%u", v->holder_pid);
    }
    for (size_t i = 0; probe != NULL && i < probe->evidence.n; i++) {
        char key[CAIRN_MAX_KV_KEY + 1];
        cairn__fmt(key, sizeof(key), "probe_%s", probe->evidence.v[i].key);
        if (err == CAIRN_OK) {
            err = cairn__kv_addf(ev, key, "%s", probe->evidence.v[i].value);
        }
    }
    return err;
}

static cairn_err resolve(cairn_runner *r, const cairn_op_view *v,
                         cairn_outcome outcome, const char *by,
                         const char *reason, const runner_result *probe)
{
    cairn_kvlist ev = {NULL, 0};
    cairn_err err = decision_evidence(r, v, by, probe, &ev);
    int done = outcome == CAIRN_OUTCOME_COMPLETED;
    if (err == CAIRN_OK) {
        cairn_receipt rc = {
            .seq = v->seq,
            .attempt = v->attempt,
            .op_id = v->id,
            .outcome = outcome,
            .error_class = done ? CAIRN_CLASS_NONE : CAIRN_CLASS_RETRYABLE,
            .reason = reason,
            .outputs = done && probe != NULL ? probe->outputs.v : NULL,
            .n_outputs = done && probe != NULL ? probe->outputs.n : 0,
            .evidence = ev.v,
            .n_evidence = ev.n};
        err = cairn_resolve(r->j, r->run_id, &rc, &r->who);
    }
    cairn__kvlist_free(&ev);
    if (err == CAIRN_OK) {
        doubt_event(r, v->seq, v->attempt, &outcome, reason);
        err = cairn__runner_observe(r, NULL);
    }
    return err;
}

/* Run the probe of @p v's operation; *answer and a description. */
static cairn_err probe(cairn_runner *r, const cairn_op_view *v,
                       runner_result *rr, probe_answer *answer, char *what,
                       size_t what_len)
{
    const cairn_plan_op *op = &r->plan->ops[v->seq];
    runner_cmd cmd = {op, v->seq, v->attempt, 1, op->probe_timeout_ns,
                      0,  -1,     0,          0};
    *answer = PROBE_UNKNOWN;
    doubt_event(r, v->seq, v->attempt, NULL, "running the probe");
    cairn_err err = cairn__runner_lock_cmd(r, &cmd.lock_fd);
    if (err == CAIRN_OK) {
        cmd.since_ns = cairn__wall_ns();
        cairn__runner_lock_note(r, cmd.lock_fd, &cmd, NULL);
        err = cairn__runner_exec(r, &cmd, rr);
        cairn__runner_unlock_cmd(cmd.lock_fd);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    const cairn_exec_result *res = &rr->res;
    if (rr->exec_err != CAIRN_OK) {
        cairn__fmt(what, what_len, "probe could not run: %s", rr->detail);
    } else if (res->timed_out || res->interrupted || !res->exited) {
        cairn__fmt(what, what_len, "probe %s",
                   res->timed_out     ? "timed out"
                   : res->interrupted ? "was interrupted"
                                      : "was killed by a signal");
    } else if (res->exit_code == 0 && rr->output_bad) {
        cairn__fmt(what, what_len, "probe exit 0 but %s", rr->output_detail);
    } else if (res->exit_code == 0) {
        *answer = PROBE_HAPPENED;
        cairn__fmt(what, what_len, "probe: effect happened (exit 0)");
    } else if (res->exit_code == 1) {
        *answer = PROBE_NOT_HAPPENED;
        cairn__fmt(what, what_len, "probe: effect did not happen");
    } else {
        cairn__fmt(what, what_len, "probe could not tell (exit status %d)",
                   res->exit_code);
    }
    return CAIRN_OK;
}

/* Settle one in-doubt operation by its probe.  *settled when resolved;
 * otherwise @p why says what the probe could not tell. */
static cairn_err by_probe(cairn_runner *r, const cairn_op_view *v, int *settled,
                          char *why, size_t why_len)
{
    runner_result rr;
    probe_answer answer;
    memset(&rr, 0, sizeof(rr));
    cairn_err err = probe(r, v, &rr, &answer, why, why_len);
    const cairn_plan_op *op = &r->plan->ops[v->seq];
    char problem[640];
    if (err == CAIRN_OK && answer == PROBE_HAPPENED &&
        cairn__runner_output_problem(op, &rr.outputs, problem,
                                     sizeof(problem)) != NULL) {
        cairn__fmt(why, why_len, "probe says the effect happened but its %s",
                   problem);
        answer = PROBE_UNKNOWN;
    }
    if (err == CAIRN_OK && answer != PROBE_UNKNOWN) {
        err = resolve(r, v,
                      answer == PROBE_HAPPENED ? CAIRN_OUTCOME_COMPLETED
                                               : CAIRN_OUTCOME_FAILED,
                      "probe", why, &rr);
        *settled = err == CAIRN_OK;
    }
    cairn__runner_result_free(&rr);
    return err;
}

static cairn_err settle_one(cairn_runner *r, const cairn_op_view *v,
                            int can_rerun, runner_stop *stop)
{
    const cairn_plan_op *op = &r->plan->ops[v->seq];
    char why[700] = "no probe, not idempotent";
    int settled = 0;
    cairn_err err = CAIRN_OK;
    if (op->probe.n > 0) {
        if (cairn__runner_interrupted(r)) {
            *stop = RUNNER_STOP_INTERRUPTED;
            return CAIRN_OK;
        }
        err = by_probe(r, v, &settled, why, sizeof(why));
        if (err != CAIRN_OK || settled) {
            return err;
        }
    }
    if (op->idempotent && can_rerun) {
        return resolve(r, v, CAIRN_OUTCOME_FAILED, "idempotent",
                       "in-doubt after runner crash; idempotent: running "
                       "again",
                       NULL);
    }
    if (op->idempotent) {
        cairn__fmt(why + strlen(why), sizeof(why) - strlen(why),
                   "; idempotent, but the run has ended and it cannot be "
                   "claimed again");
    }
    cairn__fmt(r->why, sizeof(r->why),
               "operation %u (%s) is in doubt: its runner (pid %u) died "
               "after claiming attempt %u and whether it took effect is "
               "unknown (%s); check it, then run `cairn resolve %s --op %u "
               "--outcome completed|failed|skipped --reason TEXT` and "
               "resume",
               v->seq, v->id, v->holder_pid, v->attempt, why, r->run_id,
               v->seq);
    doubt_event(r, v->seq, v->attempt, NULL, r->why);
    *stop = RUNNER_STOP_ATTENTION;
    return err;
}

cairn_err cairn__runner_settle(cairn_runner *r, const cairn_summary *s,
                               runner_stop *stop)
{
    int halted =
        s->state == CAIRN_RUN_CANCELLED || s->state == CAIRN_RUN_TIMED_OUT ||
        (s->has_next && s->next_state == CAIRN_OP_FAILED &&
         cairn_summary_op(s, s->next_seq) != NULL &&
         cairn_summary_op(s, s->next_seq)->last_class == CAIRN_CLASS_TERMINAL);
    *stop = RUNNER_GO;
    for (size_t i = 0; i < s->n_in_doubt; i++) {
        const cairn_op_view *v = cairn_summary_op(s, s->in_doubt[i]);
        if (v == NULL) {
            continue; /* a summary names every op in doubt */
        }
        /* Containment and cleanup claims are single-shot, and so is
         * anything after the run ended: only a probe can settle those. */
        int can_rerun = !halted && v->seq == s->next_seq;
        cairn_err err = settle_one(r, v, can_rerun, stop);
        if (err != CAIRN_OK || *stop != RUNNER_GO) {
            return err;
        }
    }
    return CAIRN_OK;
}
