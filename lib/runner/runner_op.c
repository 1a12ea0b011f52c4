/*
 * runner_op.c - one operation: claim (durable), run its command, judge
 * the result, journal the receipt; retries with exponential backoff and
 * jitter for a normal claim, a single attempt for containment and
 * cleanup.
 */
#include "runner/runner.h"

#include "base/crypto.h"
#include "journal/journal.h"
#include "base/sys.h"

#include <string.h>
#include <time.h>

#define NAP_SLICE_NS 20000000ull /* interrupts are read this often */

typedef struct verdict {
    cairn_outcome outcome;
    cairn_error_class cls;
    int deadline; /* killed because the run deadline came */
    uint32_t attempt;
    char reason[1024];
} verdict;

int cairn__runner_interrupted(const cairn_runner *r)
{
    return r->opts.interrupts != NULL && *r->opts.interrupts > 0;
}

int cairn__runner_interrupted_hard(const cairn_runner *r)
{
    return r->opts.interrupts != NULL && *r->opts.interrupts > 1;
}

uint64_t cairn__runner_deadline_left(const cairn_runner *r)
{
    uint64_t d = r->plan->deadline_ns;
    if (d == 0) {
        return UINT64_MAX;
    }
    uint64_t end =
        r->created_ns > UINT64_MAX - d ? UINT64_MAX : r->created_ns + d;
    uint64_t now = cairn__wall_ns();
    return now >= end ? 0 : end - now;
}

static int retry_code(const cairn_plan_op *op, int code)
{
    for (size_t i = 0; i < op->n_retry_exit_codes; i++) {
        if (op->retry_exit_codes[i] == code) {
            return 1;
        }
    }
    return 0;
}

#define FAILED(v, c, ...)                                                      \
    do {                                                                       \
        (v)->outcome = CAIRN_OUTCOME_FAILED;                                   \
        (v)->cls = (c);                                                        \
        cairn__fmt((v)->reason, sizeof((v)->reason), __VA_ARGS__);             \
        return;                                                                \
    } while (0)

/* The outcome of one attempt of @p op (receipt rules of cairn.h). */
static void judge(const cairn_plan_op *op, const runner_result *rr, verdict *v)
{
    const cairn_exec_result *res = &rr->res;
    char took[32], limit[32];
    memset(v, 0, sizeof(*v));
    cairn__runner_fmt_ns(res->duration_ns, took, sizeof(took));
    cairn__runner_fmt_ns(op->timeout_ns, limit, sizeof(limit));
    if (rr->exec_err == CAIRN_ECHILD) {
        FAILED(v, CAIRN_CLASS_TERMINAL, "%s", rr->detail);
    }
    if (rr->exec_err != CAIRN_OK) {
        FAILED(v, CAIRN_CLASS_RETRYABLE,
               "runner could not run the command: "
               "%s: %s",
               cairn_strerror(rr->exec_err), rr->detail);
    }
    if (res->timed_out && rr->deadline_capped) {
        v->deadline = 1;
        FAILED(v, CAIRN_CLASS_RETRYABLE,
               "killed after %s: run deadline "
               "exceeded",
               took);
    }
    if (res->timed_out) {
        FAILED(v, CAIRN_CLASS_RETRYABLE, "timed out after %s (timeout %s)",
               took, limit);
    }
    if (res->interrupted) {
        FAILED(v, CAIRN_CLASS_RETRYABLE,
               "interrupted by signal: the "
               "runner stopped the command after %s",
               took);
    }
    if (res->signaled) {
        FAILED(v, CAIRN_CLASS_RETRYABLE, "killed by signal %d (%s)",
               res->term_signal, strsignal(res->term_signal));
    }
    if (res->exit_code != 0) {
        FAILED(v,
               retry_code(op, res->exit_code) ? CAIRN_CLASS_RETRYABLE
                                              : CAIRN_CLASS_TERMINAL,
               "exit status %d", res->exit_code);
    }
    if (rr->output_bad) {
        FAILED(v, CAIRN_CLASS_TERMINAL, "%s", rr->output_detail);
    }
    char why[640];
    if (cairn__runner_output_problem(op, &rr->outputs, why, sizeof(why)) !=
        NULL) {
        FAILED(v, CAIRN_CLASS_TERMINAL, "exit status 0 but in $CAIRN_OUTPUT %s",
               why);
    }
    v->outcome = CAIRN_OUTCOME_COMPLETED;
    v->cls = CAIRN_CLASS_NONE;
}

static cairn_err record(cairn_runner *r, const runner_cmd *cmd,
                        const verdict *v, const runner_result *rr)
{
    int done = v->outcome == CAIRN_OUTCOME_COMPLETED;
    cairn_receipt rc = {.seq = cmd->seq,
                        .attempt = cmd->attempt,
                        .op_id = cmd->op->id,
                        .outcome = v->outcome,
                        .error_class = v->cls,
                        .reason = done ? NULL : v->reason,
                        .outputs = done ? rr->outputs.v : NULL,
                        .n_outputs = done ? rr->outputs.n : 0,
                        .evidence = rr->evidence.v,
                        .n_evidence = rr->evidence.n};
    return cairn_receipt_record(r->j, r->run_id, &rc, &r->who);
}

static void end_event(cairn_runner *r, const runner_cmd *cmd,
                      cairn_claim_kind kind, const verdict *v,
                      const runner_result *rr)
{
    cairn_run_event ev;
    cairn__runner_op_event(r, &ev, CAIRN_EVENT_OP_END, cmd->seq);
    ev.attempt = cmd->attempt;
    ev.claim_kind = kind;
    ev.has_outcome = 1;
    ev.outcome = v->outcome;
    ev.error_class = v->cls;
    ev.reason = v->outcome == CAIRN_OUTCOME_COMPLETED ? "" : v->reason;
    ev.exited = rr->exec_err == CAIRN_OK && rr->res.exited;
    ev.exit_code = rr->res.exit_code;
    ev.signaled = rr->res.signaled;
    ev.term_signal = rr->res.term_signal;
    ev.timed_out = rr->res.timed_out;
    ev.interrupted = rr->res.interrupted;
    ev.duration_ns = rr->res.duration_ns;
    ev.stderr_tail = "";
    for (size_t i = 0; i < rr->evidence.n; i++) {
        if (strcmp(rr->evidence.v[i].key, "stderr_tail") == 0) {
            ev.stderr_tail = rr->evidence.v[i].value;
        }
    }
    cairn__runner_emit(r, &ev);
}

/* Claim, announce, run.  The lock is held from before the claim until
 * the command tree is gone. */
static cairn_err claim_and_run(cairn_runner *r, runner_cmd *cmd,
                               cairn_claim_kind kind, runner_result *rr)
{
    cairn_claim_result cl;
    cairn_err err = cairn__runner_lock_cmd(r, &cmd->lock_fd);
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn_claim(r->j, r->run_id, cmd->seq, kind, NULL, &r->who, &cl);
    if (err == CAIRN_OK) {
        cmd->attempt = cl.attempt;
        cmd->since_ns = cairn__wall_ns();
        cairn__runner_lock_note(r, cmd->lock_fd, cmd, NULL);
        err = cairn__runner_observe(r, NULL);
    }
    if (err == CAIRN_OK) {
        cairn_run_event ev;
        cairn__runner_op_event(r, &ev, CAIRN_EVENT_OP_START, cmd->seq);
        ev.attempt = cmd->attempt;
        ev.claim_kind = kind;
        ev.timeout_ns = cmd->timeout_ns;
        ev.argv = cmd->op->run.v;
        cairn__runner_emit(r, &ev);
        err = cairn__runner_exec(r, cmd, rr);
    }
    cairn__runner_unlock_cmd(cmd->lock_fd);
    cmd->lock_fd = -1;
    return err;
}

/* The runner itself failed after the claim (temporary file, memory):
 * journal a retryable failure so that the operation is not left pending,
 * and keep the first error. */
static cairn_err abandon(cairn_runner *r, const runner_cmd *cmd, cairn_err why)
{
    char reason[1200];
    cairn__fmt(reason, sizeof(reason),
               "runner error, the command's "
               "outcome was not captured: %s: %s",
               cairn_strerror(why), cairn_journal_errdetail(r->j));
    cairn_receipt rc = {.seq = cmd->seq,
                        .attempt = cmd->attempt,
                        .op_id = cmd->op->id,
                        .outcome = CAIRN_OUTCOME_FAILED,
                        .error_class = CAIRN_CLASS_RETRYABLE,
                        .reason = reason};
    if (cairn_receipt_record(r->j, r->run_id, &rc, &r->who) == CAIRN_OK) {
        cairn__jfail(r->j, why, "%s", reason);
    }
    return why;
}

/* A daemon operation: record what it left behind; a completed start
 * must then pass its readiness check.  Errors are the runner's own. */
static cairn_err daemon_after(cairn_runner *r, const runner_cmd *cmd,
                              runner_result *rr, verdict *v)
{
    if (!cairn__runner_cmd_daemon(cmd) || rr->exec_err != CAIRN_OK) {
        return CAIRN_OK;
    }
    cairn_err err = cairn__runner_daemon_record(r, rr->res.pid, &rr->evidence);
    if (err != CAIRN_OK || v->outcome != CAIRN_OUTCOME_COMPLETED ||
        cmd->op->ready.n == 0) {
        return err == CAIRN_OK
                   ? CAIRN_OK
                   : cairn__jfail(r->j, err, "runner: %s", cairn_strerror(err));
    }
    int ready = 0;
    char why[800];
    err = cairn__runner_ready(r, cmd, &ready, why, sizeof(why));
    if (err == CAIRN_OK) {
        err = cairn__kv_addf(&rr->evidence, "ready", "%d", ready);
    }
    if (err != CAIRN_OK) {
        return cairn__jfail(r->j, err, "runner: %s", cairn_strerror(err));
    }
    if (!ready) {
        v->outcome = CAIRN_OUTCOME_FAILED;
        v->cls = CAIRN_CLASS_RETRYABLE;
        cairn__fmt(v->reason, sizeof(v->reason), "%s", why);
    }
    return CAIRN_OK;
}

/* One attempt.  *stop is set when it could not start (deadline, signal). */
static cairn_err attempt(cairn_runner *r, uint32_t seq, cairn_claim_kind kind,
                         verdict *v, runner_stop *stop)
{
    runner_cmd cmd = {&r->plan->ops[seq], seq, 0, 0, 0, 0, -1, 0, 0};
    uint64_t left = kind == CAIRN_CLAIM_NORMAL ? cairn__runner_deadline_left(r)
                                               : UINT64_MAX;
    /* Containment and cleanup still run after a first signal (within
     * the shutdown timeout: exec ends each command by then); a second
     * signal stops them. */
    if (kind == CAIRN_CLAIM_NORMAL ? cairn__runner_interrupted(r)
                                   : cairn__runner_interrupted_hard(r)) {
        *stop = RUNNER_STOP_INTERRUPTED;
        return CAIRN_OK;
    }
    if (left == 0) {
        cairn__fmt(r->why, sizeof(r->why),
                   "the run deadline passed before "
                   "operation %u (%s) could start",
                   seq, cmd.op->id);
        *stop = RUNNER_STOP_DEADLINE;
        return CAIRN_OK;
    }
    cmd.timeout_ns = cmd.op->timeout_ns;
    if (left != UINT64_MAX && (cmd.timeout_ns == 0 || left < cmd.timeout_ns)) {
        cmd.timeout_ns = left;
        cmd.deadline_capped = 1;
    }
    runner_result rr;
    memset(&rr, 0, sizeof(rr));
    cairn__runner_reap_adopted(r);
    cairn_err err = claim_and_run(r, &cmd, kind, &rr);
    if (err != CAIRN_OK) {
        return cmd.attempt != 0 ? abandon(r, &cmd, err) : err;
    }
    judge(cmd.op, &rr, v);
    v->attempt = cmd.attempt;
    err = daemon_after(r, &cmd, &rr, v);
    if (err != CAIRN_OK) {
        cairn__runner_result_free(&rr);
        return abandon(r, &cmd, err);
    }
    err = record(r, &cmd, v, &rr);
    if (err == CAIRN_OK) {
        end_event(r, &cmd, kind, v, &rr);
        err = cairn__runner_observe(r, NULL);
    }
    cairn__runner_result_free(&rr);
    return err;
}

/* Sleep @p ns unless a signal comes first (returns 1 then). */
static int nap(const cairn_runner *r, uint64_t ns)
{
    uint64_t end = cairn__mono_ns() + ns;
    for (;;) {
        if (cairn__runner_interrupted(r)) {
            return 1;
        }
        uint64_t now = cairn__mono_ns();
        if (now >= end) {
            return 0;
        }
        uint64_t slice = end - now < NAP_SLICE_NS ? end - now : NAP_SLICE_NS;
        struct timespec ts = {(time_t)(slice / 1000000000ull),
                              (long)(slice % 1000000000ull)};
        nanosleep(&ts, NULL); /* EINTR: look at the counter again */
    }
}

/* backoff * 2^(n-1), at most max_backoff, then 50..100 % of it. */
static uint64_t backoff(const cairn_plan_op *op, uint32_t n)
{
    uint64_t d = op->backoff_ns, cap = op->max_backoff_ns;
    for (uint32_t i = 1; i < n && d < cap; i++) {
        d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
    }
    if (d > cap) {
        d = cap;
    }
    uint32_t rnd = 0;
    cairn__random(&rnd, sizeof(rnd));
    uint64_t pct = 50 + rnd % 51;
    return d / 100 * pct + d % 100 * pct / 100;
}

static cairn_err wait_retry(cairn_runner *r, uint32_t seq, uint32_t n,
                            uint32_t next_attempt, runner_stop *stop)
{
    uint64_t d = backoff(&r->plan->ops[seq], n);
    uint64_t left = cairn__runner_deadline_left(r);
    cairn_run_event ev;
    cairn__runner_op_event(r, &ev, CAIRN_EVENT_RETRY_WAIT, seq);
    ev.attempt = next_attempt;
    ev.wait_ns = d;
    ev.reason = r->why;
    cairn__runner_emit(r, &ev);
    if (nap(r, d < left ? d : left)) {
        *stop = RUNNER_STOP_INTERRUPTED;
    }
    return CAIRN_OK;
}

cairn_err cairn__runner_op(cairn_runner *r, uint32_t seq, cairn_claim_kind kind,
                           runner_stop *stop)
{
    const cairn_plan_op *op = &r->plan->ops[seq];
    uint32_t budget =
        kind == CAIRN_CLAIM_NORMAL && op->attempts > 0 ? op->attempts : 1;
    *stop = RUNNER_GO;
    for (uint32_t n = 1;; n++) {
        verdict v;
        cairn_err err = attempt(r, seq, kind, &v, stop);
        if (err != CAIRN_OK || *stop != RUNNER_GO) {
            return err;
        }
        if (v.outcome == CAIRN_OUTCOME_COMPLETED) {
            return CAIRN_OK;
        }
        cairn__fmt(r->why, sizeof(r->why), "operation %u (%s) failed: %s", seq,
                   op->id, v.reason);
        if (v.deadline) {
            *stop = RUNNER_STOP_DEADLINE;
        } else if (kind == CAIRN_CLAIM_NORMAL
                       ? cairn__runner_interrupted(r)
                       : cairn__runner_interrupted_hard(r)) {
            *stop = RUNNER_STOP_INTERRUPTED;
        } else if (v.cls == CAIRN_CLASS_TERMINAL) {
            *stop = RUNNER_STOP_TERMINAL;
        } else if (n >= budget) {
            *stop = RUNNER_STOP_EXHAUSTED;
        } else {
            err = wait_retry(r, seq, n, v.attempt + 1, stop);
        }
        if (err != CAIRN_OK || *stop != RUNNER_GO) {
            return err;
        }
    }
}
