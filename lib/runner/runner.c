/*
 * runner.c - the thin runner's entry points (cairn_run_plan,
 * cairn_run_resume) and the loop that drives a run: preflight acceptance,
 * the head operation, the deadline, containment and cleanup after a
 * failure, and the reasons to stop.  One operation's attempts are
 * runner_op.c; in-doubt settlement is runner_doubt.c.
 */
#include "runner/runner.h"

#include "journal/journal.h"
#include "base/sys.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cairn__runner_init(cairn_runner *r, cairn_journal *j,
                        const cairn_runner_opts *opts)
{
    memset(r, 0, sizeof(*r));
    r->j = j;
    if (opts != NULL) {
        r->opts = *opts;
    }
    if (r->opts.shutdown_timeout_ns == 0) {
        r->opts.shutdown_timeout_ns = RUNNER_SHUTDOWN_DEFAULT;
    }
    if (r->opts.kill_grace_ns == 0) {
        r->opts.kill_grace_ns = RUNNER_GRACE_DEFAULT;
    }
    if (r->opts.heartbeat_ns == 0) {
        r->opts.heartbeat_ns = RUNNER_HEARTBEAT_DEFAULT;
    }
    if (r->opts.hook_timeout_ns == 0) {
        r->opts.hook_timeout_ns = RUNNER_HOOK_TIMEOUT_DEFAULT;
    }
    if (r->opts.hook != NULL && r->opts.hook[0] == '\0') {
        r->opts.hook = NULL;
    }
    r->who.actor = r->opts.actor != NULL && r->opts.actor[0] != '\0'
                       ? r->opts.actor
                       : RUNNER_ACTOR_DEFAULT;
    r->start_mono = cairn__mono_ns();
    r->tmp_fd = -1;
    if (j != NULL) {
        char *here = j->dir[0] == '/' ? NULL : getcwd(NULL, 0);
        cairn__fmt(r->jdir, sizeof(r->jdir), "%s%s%s", here != NULL ? here : "",
                   here != NULL ? "/" : "", j->dir);
        free(here);
    }
}

/* The runner needs a command for every operation. */
cairn_err cairn__runner_check_commands(cairn_runner *r)
{
    for (size_t i = 0; i < r->plan->n_ops; i++) {
        if (r->plan->ops[i].run.n == 0) {
            if (r->j == NULL) {
                return CAIRN_EPLAN;
            }
            return cairn__jfail(r->j, CAIRN_EPLAN,
                                "operations[%zu] (%s): no \"run\" command: "
                                "the runner needs one for every operation",
                                i, r->plan->ops[i].id);
        }
    }
    return CAIRN_OK;
}

/* ---- taking the run ------------------------------------------------- */

static cairn_err find_run_num(cairn_runner *r)
{
    cairn_txn *txn = NULL;
    cairn_err err = cairn__store_read(r->j->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(r->j, err, "%s", cairn__store_detail(r->j->store));
    }
    err = cairn__lookup_run(r->j, txn, r->run_id, &r->run_num);
    cairn__txn_end(txn);
    if (err == CAIRN_OK) {
        cairn__fmt(r->cmd_lock, sizeof(r->cmd_lock), "%s/locks/run-%llu.cmd",
                   r->j->dir, (unsigned long long)r->run_num);
    }
    return err;
}

/* A pending operation whose claimer lives belongs to someone else. */
static cairn_err check_live_claims(cairn_runner *r, const cairn_summary *s)
{
    for (size_t i = 0; i < s->n_ops; i++) {
        const cairn_op_view *v = &s->ops[i];
        if (v->state == CAIRN_OP_PENDING && !v->in_doubt) {
            return cairn__jfail(r->j, CAIRN_ELOCKED,
                                "operation %u (%s) of run %s is pending "
                                "and its claimer (pid %u) is alive: another "
                                "runner or tool is executing it",
                                v->seq, v->id, r->run_id, v->holder_pid);
        }
    }
    return CAIRN_OK;
}

/* Writer lock for the whole call, no command tree of a dead runner
 * alive, no live claimer; *out receives the summary. */
cairn_err cairn__runner_take(cairn_runner *r, cairn_summary **out)
{
    *out = NULL;
    cairn_err err = find_run_num(r);
    if (err != CAIRN_OK) {
        return err;
    }
    r->had_lock |= cairn__run_lock_pinned(r->j, r->run_num);
    err = cairn_run_lock(r->j, r->run_id);
    if (err == CAIRN_ELOCKED) {
        char held[CAIRN__DETAIL_MAX];
        cairn__fmt(held, sizeof(held), "%s", cairn_journal_errdetail(r->j));
        return cairn__jfail(r->j, err, "another runner holds run %s (%s)",
                            r->run_id, held);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    int fd = -1;
    err = cairn__runner_lock_cmd(r, &fd);
    cairn__runner_unlock_cmd(fd);
    if (err == CAIRN_OK) {
        err = cairn__runner_tmp_open(r);
    }
    if (err == CAIRN_OK) {
        cairn__runner_orphan_read(r);
        cairn__runner_sweep_outputs(r);
        err = cairn_status_opts(r->j, r->run_id, CAIRN_STATUS_BRIEF, out);
    }
    if (err == CAIRN_OK) {
        r->created_ns = (*out)->created_ns;
        err = check_live_claims(r, *out);
    }
    if (err != CAIRN_OK) {
        cairn_summary_free(*out);
        *out = NULL;
        cairn__runner_release(r);
    }
    return err;
}

void cairn__runner_release(cairn_runner *r)
{
    cairn__runner_orphan_done(r);
    cairn__runner_tmp_close(r);
    if (!r->had_lock) {
        cairn_run_unlock(r->j, r->run_id);
    }
}

/* ---- steps ------------------------------------------------------------ */

static cairn_err accept_preflight(cairn_runner *r)
{
    char id[CAIRN_MAX_ID + 1];
    cairn__fmt(id, sizeof(id), "auto-%.*s", CAIRN_MAX_ID - 5, r->run_id);
    cairn_actor_info who = {r->who.actor, "all preflight operations completed"};
    cairn_err err = cairn_accept_preflight(r->j, r->run_id, id, &who);
    if (err == CAIRN_OK) {
        cairn_run_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = CAIRN_EVENT_PREFLIGHT_ACCEPTED;
        ev.reason = id;
        cairn__runner_emit(r, &ev);
    }
    return err;
}

static cairn_err time_out(cairn_runner *r)
{
    char d[32], reason[128];
    cairn__runner_fmt_ns(r->plan->deadline_ns, d, sizeof(d));
    cairn__fmt(reason, sizeof(reason), "run deadline of %s exceeded", d);
    if (r->why[0] == '\0') {
        cairn__fmt(r->why, sizeof(r->why), "%s", reason);
    }
    cairn_actor_info who = {r->who.actor, reason};
    return cairn_cancel(r->j, r->run_id, 1, &who);
}

/* The next containment start (a start of a stopped target) or cleanup
 * operation that may be claimed, or -1. */
static int64_t next_special(const cairn_summary *s, cairn_claim_kind kind)
{
    for (size_t i = 0; i < s->n_ops; i++) {
        const cairn_op_view *v = &s->ops[i];
        if (v->state != CAIRN_OP_READY && v->state != CAIRN_OP_BLOCKED) {
            continue;
        }
        if (kind == CAIRN_CLAIM_CLEANUP && v->kind == CAIRN_KIND_CLEANUP) {
            return (int64_t)i;
        }
        for (size_t t = 0;
             kind == CAIRN_CLAIM_CONTAINMENT && v->kind == CAIRN_KIND_START &&
             t < s->n_restart_targets;
             t++) {
            if (strcmp(s->restart_targets[t], v->target) == 0) {
                return (int64_t)i;
            }
        }
    }
    return -1;
}

/* Containment, then cleanup: one attempt each, a failure does not stop
 * the others.  Only a signal (or a journal error) stops them. */
static cairn_err contain_and_clean(cairn_runner *r, runner_stop *stop)
{
    static const cairn_claim_kind kinds[2] = {CAIRN_CLAIM_CONTAINMENT,
                                              CAIRN_CLAIM_CLEANUP};
    *stop = RUNNER_GO;
    for (size_t k = 0; k < 2; k++) {
        for (;;) {
            cairn_summary *s = NULL;
            cairn_err err = cairn_status(r->j, r->run_id, &s);
            int64_t seq = err == CAIRN_OK ? next_special(s, kinds[k]) : -1;
            cairn_summary_free(s);
            if (err != CAIRN_OK || seq < 0) {
                if (err != CAIRN_OK) {
                    return err;
                }
                break;
            }
            if (cairn__runner_interrupted_hard(r)) {
                *stop = RUNNER_STOP_INTERRUPTED;
                return CAIRN_OK;
            }
            cairn_run_event ev;
            int contain = kinds[k] == CAIRN_CLAIM_CONTAINMENT;
            cairn__runner_op_event(
                r, &ev, contain ? CAIRN_EVENT_CONTAINMENT : CAIRN_EVENT_CLEANUP,
                (uint32_t)seq);
            ev.claim_kind = kinds[k];
            ev.reason = contain ? "starting a stopped target after the "
                                  "run halted"
                                : "cleanup after the run halted";
            cairn__runner_emit(r, &ev);
            runner_stop st;
            err = cairn__runner_op(r, (uint32_t)seq, kinds[k], &st);
            if (err != CAIRN_OK || st == RUNNER_STOP_INTERRUPTED) {
                *stop = st;
                return err;
            }
        }
    }
    return CAIRN_OK;
}

static const char *still_stopped(const cairn_summary *s, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < s->n_restart_targets; i++) {
        cairn__fmt(out + used, cap - used, "%s%s",
                   i ? ", " : "; still stopped (restart them): ",
                   s->restart_targets[i]);
        used += strlen(out + used);
    }
    return out;
}

/* The run has halted (terminal failure, timeout, cancel): containment
 * and cleanup it still owes, then the final word. */
static cairn_err finish(cairn_runner *r, int ended_before)
{
    char why[sizeof(r->why)];
    memcpy(why, r->why, sizeof(why)); /* the halt, not a later failure */
    runner_stop stop;
    cairn_err err = contain_and_clean(r, &stop);
    memcpy(r->why, why, sizeof(why));
    cairn_summary *s = NULL;
    if (err == CAIRN_OK) {
        err = cairn__runner_observe(r, &s);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    char stopped[600];
    still_stopped(s, stopped, sizeof(stopped));
    cairn_run_state state = s->state;
    uint32_t head = s->next_seq;
    cairn_summary_free(s);
    if (stop == RUNNER_STOP_INTERRUPTED) {
        return cairn__runner_stopped(
            r, CAIRN_EINTR,
            "interrupted by signal before containment and cleanup were "
            "done; resume to finish them%s",
            stopped);
    }
    if (r->halt == RUNNER_STOP_INTERRUPTED) {
        return cairn__runner_stopped(r, CAIRN_EINTR,
                                     "interrupted by signal with stopped "
                                     "targets: run ended; containment and "
                                     "cleanup done%s",
                                     stopped);
    }
    if (r->halt == RUNNER_STOP_EXHAUSTED) {
        return cairn__runner_stopped(r, CAIRN_EFAILED,
                                     "%s; no attempts left: run ended with "
                                     "stopped targets; containment and "
                                     "cleanup done%s",
                                     r->why, stopped);
    }
    if (ended_before || state == CAIRN_RUN_CANCELLED) {
        return cairn__runner_stopped(r, CAIRN_EFINISHED,
                                     "run %s has ended (%s)%s", r->run_id,
                                     cairn_run_state_name(state), stopped);
    }
    if (r->why[0] == '\0') {
        cairn__fmt(r->why, sizeof(r->why),
                   "operation %u (%s) failed terminally", head,
                   r->plan->ops[head].id);
    }
    return cairn__runner_stopped(r, CAIRN_EFAILED,
                                 "%s; containment and cleanup done%s", r->why,
                                 stopped);
}

/* ---- the loop ----------------------------------------------------------- */

/* The runner stops (attempts used up, a signal) while targets are
 * stopped: end the run (a cancel naming why) so that containment may
 * restart them and cleanup run; finish() then reports @p stop.  *ended
 * is 0 when no target is down (nothing done). */
static cairn_err end_for_containment(cairn_runner *r, runner_stop stop,
                                     int *ended)
{
    cairn_summary *s = NULL;
    *ended = 0;
    cairn_err err = cairn_status_opts(r->j, r->run_id, CAIRN_STATUS_BRIEF, &s);
    if (err != CAIRN_OK) {
        return err;
    }
    char down[600];
    size_t used = 0;
    down[0] = '\0';
    for (size_t i = 0; i < s->n_restart_targets; i++) {
        cairn__fmt(down + used, sizeof(down) - used, "%s%s", i ? ", " : "",
                   s->restart_targets[i]);
        used += strlen(down + used);
    }
    cairn_summary_free(s);
    if (used == 0) {
        return CAIRN_OK;
    }
    char reason[CAIRN_MAX_TEXT];
    cairn__fmt(reason, sizeof(reason),
               "%s with stopped targets (%s): run ended so that containment "
               "restarts them",
               stop == RUNNER_STOP_INTERRUPTED ? "interrupted by signal"
                                               : "no attempts left",
               down);
    cairn_actor_info who = {r->who.actor, reason};
    err = cairn_cancel(r->j, r->run_id, 0, &who);
    if (err == CAIRN_OK) {
        *ended = 1;
        r->halt = stop;
    }
    return err;
}

/* What the outcome of one head operation means for the loop. */
cairn_err cairn__runner_after(cairn_runner *r, runner_stop stop, int *go_on)
{
    *go_on = 1;
    if (stop == RUNNER_STOP_EXHAUSTED || stop == RUNNER_STOP_INTERRUPTED) {
        int ended;
        cairn_err err = end_for_containment(r, stop, &ended);
        if (err != CAIRN_OK || ended) {
            return err; /* the loop sees the cancel: finish() */
        }
    }
    switch (stop) {
    case RUNNER_GO:
    case RUNNER_STOP_TERMINAL: /* the loop sees the halt */
        return CAIRN_OK;
    case RUNNER_STOP_DEADLINE:
        return time_out(r);
    case RUNNER_STOP_EXHAUSTED:
        *go_on = 0;
        return cairn__runner_stopped(
            r, CAIRN_EATTENTION,
            "%s; no attempts left: fix the cause, then resume (`cairn "
            "resume %s`) to try again",
            r->why, r->run_id);
    case RUNNER_STOP_INTERRUPTED:
        *go_on = 0;
        return cairn__runner_stopped(
            r, CAIRN_EINTR,
            "interrupted by signal; outcome journaled; continue with "
            "`cairn resume %s`",
            r->run_id);
    case RUNNER_STOP_ATTENTION:
        *go_on = 0;
        return cairn__runner_stopped(r, CAIRN_EATTENTION, "%s", r->why);
    }
    return CAIRN_OK;
}

/* One turn of the loop on a run that has not halted.  *done when the
 * call is over (the return value is then its result). */
static cairn_err turn(cairn_runner *r, const cairn_summary *s, int *done)
{
    *done = 1;
    if (s->n_in_doubt > 0) {
        return cairn__runner_stopped(r, CAIRN_EATTENTION,
                                     "operation %u is in doubt: resume to "
                                     "settle it",
                                     s->in_doubt[0]);
    }
    if (cairn__runner_interrupted(r)) {
        int go_on;
        cairn_err err = cairn__runner_after(r, RUNNER_STOP_INTERRUPTED, &go_on);
        *done = err != CAIRN_OK || !go_on;
        return err;
    }
    if (cairn__runner_deadline_left(r) == 0) {
        *done = 0;
        return time_out(r);
    }
    if (s->state == CAIRN_RUN_AWAITING_PREFLIGHT) {
        if (r->opts.manual_accept) {
            return cairn__runner_stopped(
                r, CAIRN_EATTENTION,
                "every preflight operation completed; the preflight awaits "
                "an operator: `cairn accept-preflight %s --id ID`, then "
                "`cairn resume %s`",
                r->run_id, r->run_id);
        }
        *done = 0;
        return accept_preflight(r);
    }
    if (!s->has_next) {
        return cairn__runner_stopped(r, CAIRN_EATTENTION,
                                     "no operation can run (state %s)",
                                     cairn_run_state_name(s->state));
    }
    if (r->opts.max_steps != 0 && r->steps >= r->opts.max_steps) {
        return cairn__runner_stopped(r, CAIRN_OK,
                                     "stopped after %u operations (max "
                                     "steps); continue with `cairn resume "
                                     "%s`",
                                     r->steps, r->run_id);
    }
    runner_stop stop;
    r->steps++;
    cairn_err err = cairn__runner_op(r, s->next_seq, CAIRN_CLAIM_NORMAL, &stop);
    int go_on = 0;
    if (err == CAIRN_OK) {
        err = cairn__runner_after(r, stop, &go_on);
    }
    *done = err != CAIRN_OK || !go_on;
    return err;
}

cairn_err cairn__runner_drive(cairn_runner *r, int ended_before)
{
    cairn_summary *first = NULL;
    /* A plan without preflight operations is accepted before anyone sees
     * a transient awaiting-preflight state. */
    if (!r->opts.manual_accept &&
        cairn_status_opts(r->j, r->run_id, CAIRN_STATUS_BRIEF, &first) ==
            CAIRN_OK &&
        first->state == CAIRN_RUN_AWAITING_PREFLIGHT) {
        cairn_err err = accept_preflight(r);
        if (err != CAIRN_OK) {
            cairn_summary_free(first);
            return err;
        }
    }
    cairn_summary_free(first);
    for (;;) {
        cairn_summary *s = NULL;
        cairn_err err = cairn__runner_observe(r, &s);
        if (err != CAIRN_OK) {
            return err;
        }
        cairn_run_state state = s->state;
        int done = 1;
        switch (state) {
        case CAIRN_RUN_COMPLETED:
            err = CAIRN_OK;
            break;
        case CAIRN_RUN_FAILED:
        case CAIRN_RUN_TIMED_OUT:
        case CAIRN_RUN_CANCELLED:
            break;
        case CAIRN_RUN_AWAITING_PREFLIGHT:
        case CAIRN_RUN_RUNNING:
        case CAIRN_RUN_NEEDS_ATTENTION:
            err = turn(r, s, &done);
            break;
        }
        cairn_summary_free(s);
        if (state == CAIRN_RUN_FAILED || state == CAIRN_RUN_TIMED_OUT ||
            state == CAIRN_RUN_CANCELLED) {
            return finish(r, ended_before);
        }
        if (done || err != CAIRN_OK) {
            return err;
        }
    }
}

/* ---- entry points ------------------------------------------------------- */

cairn_err cairn_run_plan(cairn_journal *journal, const cairn_plan *plan,
                         const cairn_runner_opts *opts, char *run_id_out,
                         size_t run_id_len)
{
    if (run_id_out == NULL || run_id_len < CAIRN_MAX_ID + 1 || plan == NULL ||
        (journal == NULL && (opts == NULL || !opts->dry_run))) {
        return CAIRN_EINVAL;
    }
    run_id_out[0] = '\0';
    cairn_runner r;
    cairn__runner_init(&r, journal, opts);
    r.plan = plan;
    if (plan->run_id != NULL) {
        cairn__fmt(r.run_id, sizeof(r.run_id), "%s", plan->run_id);
    }
    cairn_summary *s = NULL;
    if (journal != NULL && plan->run_id != NULL &&
        cairn_status_opts(journal, plan->run_id, CAIRN_STATUS_BRIEF, &s) ==
            CAIRN_OK) {
        cairn_summary_free(s);
        return cairn__jfail(journal, CAIRN_EEXIST,
                            "run %s exists: use cairn resume %s", plan->run_id,
                            plan->run_id);
    }
    cairn_err err = cairn__runner_check_commands(&r);
    if (err != CAIRN_OK || r.opts.dry_run) {
        if (r.opts.dry_run) {
            cairn__runner_dry_run(&r);
            memcpy(run_id_out, r.run_id, sizeof(r.run_id));
        }
        return err;
    }
    /* A tmp/ that is not private is refused before the run exists. */
    err = cairn__runner_tmp_open(&r);
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn_run_create(journal, plan, &r.who, r.run_id, sizeof(r.run_id));
    if (err != CAIRN_OK) {
        cairn__runner_tmp_close(&r);
    }
    if (err == CAIRN_EEXIST) {
        return cairn__jfail(journal, err,
                            "run %s exists: use cairn resume "
                            "%s",
                            r.run_id, r.run_id);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    memcpy(run_id_out, r.run_id, sizeof(r.run_id));
    err = cairn__runner_take(&r, &s);
    cairn_summary_free(s);
    if (err == CAIRN_OK) {
        err = cairn__runner_drive(&r, 0);
        cairn__runner_release(&r);
    }
    return err;
}
