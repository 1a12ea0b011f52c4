/*
 * summary.c - the resume summary (docs/DESIGN.md section 3), computed from the
 * materialised state of one run: O(operations), independent of how many
 * records the journal holds.
 */
#include "journal/journal.h"

#include <stdlib.h>
#include <string.h>

int cairn_hold_active(const cairn_summary *summary, uint64_t now_ns)
{
    return summary != NULL && summary->held &&
           (summary->hold_until_ns == 0 || summary->hold_until_ns > now_ns);
}

void cairn_summary_free(cairn_summary *summary)
{
    if (summary == NULL) {
        return;
    }
    for (size_t i = 0; i < summary->n_restart_targets; i++) {
        free(summary->restart_targets[i]);
    }
    free(summary->restart_targets);
    free(summary->in_doubt);
    free(summary->ops);
    free(summary);
}

/* The targets that need a restart, by their anchor ops (ascending),
 * from the state's incremental facts: O(stopped targets). */
static cairn_err restart_targets(const cairn_state *st, cairn_summary *s)
{
    if (st->n_stopped > 0) {
        s->restart_targets = calloc(st->n_stopped, sizeof(char *));
        if (s->restart_targets == NULL) {
            return CAIRN_ENOMEM;
        }
    }
    for (uint32_t k = 0; k < st->n_stopped; k++) {
        const char *t = st->ops[st->stopped[k]].target;
        if ((s->restart_targets[k] = strdup(t)) == NULL) {
            return CAIRN_ENOMEM;
        }
        s->n_restart_targets = (size_t)k + 1;
    }
    s->restart_required = s->n_restart_targets > 0;
    return CAIRN_OK;
}

static cairn_err fill_ops(const cairn_state *st, cairn_summary *s)
{
    s->ops = calloc(st->n_ops, sizeof(cairn_op_view));
    s->in_doubt = calloc(st->n_ops, sizeof(uint32_t));
    if (s->ops == NULL || s->in_doubt == NULL) {
        return CAIRN_ENOMEM;
    }
    s->n_ops = st->n_ops;
    s->last_contiguous_seq = -1;
    s->last_attempted_seq = -1;
    int contiguous = 1;
    for (uint32_t i = 0; i < st->n_ops; i++) {
        const cairn_op_st *op = &st->ops[i];
        cairn_op_view *v = &s->ops[i];
        v->seq = i;
        memcpy(v->id, op->id, sizeof(v->id));
        memcpy(v->target, op->target, sizeof(v->target));
        v->kind = op->kind;
        v->state = op->state;
        v->attempt = op->attempt;
        v->last_class = op->last_class;
        v->updated_ns = op->updated_ns;
        if (op->state == CAIRN_OP_PENDING) {
            v->holder_pid = op->holder_pid;
            v->in_doubt = !cairn__op_claimer_alive(op);
            if (v->in_doubt) {
                s->in_doubt[s->n_in_doubt++] = i;
            }
        }
        s->counts[op->state]++;
        int done =
            op->state == CAIRN_OP_COMPLETED || op->state == CAIRN_OP_SKIPPED;
        contiguous = contiguous && done;
        if (contiguous) {
            s->last_contiguous_seq = i;
        }
        if (op->attempt > 0) {
            s->last_attempted_seq = i;
        }
    }
    return CAIRN_OK;
}

static void derive(const cairn_state *st, cairn_summary *s)
{
    cairn_next_action finish =
        s->restart_required ? CAIRN_NEXT_RESTART_TARGETS : CAIRN_NEXT_DONE;
    int64_t head = cairn__state_head(st);
    if (st->cancelled || st->timed_out) {
        s->state = st->cancelled ? CAIRN_RUN_CANCELLED : CAIRN_RUN_TIMED_OUT;
        s->stopped_reason =
            st->cancelled ? CAIRN_STOPPED_CANCELLED : CAIRN_STOPPED_TIMED_OUT;
        s->next_action = s->n_in_doubt ? CAIRN_NEXT_RESOLVE_IN_DOUBT : finish;
    } else if (cairn__state_all_done(st)) {
        s->state = CAIRN_RUN_COMPLETED;
        s->stopped_reason = CAIRN_STOPPED_COMPLETE;
        s->next_action = finish;
    } else if (s->n_in_doubt > 0) {
        s->state = CAIRN_RUN_NEEDS_ATTENTION;
        s->stopped_reason = CAIRN_STOPPED_IN_DOUBT;
        s->next_action = CAIRN_NEXT_RESOLVE_IN_DOUBT;
    } else if (head >= 0 && st->ops[head].state == CAIRN_OP_FAILED) {
        int terminal = st->ops[head].last_class == CAIRN_CLASS_TERMINAL;
        s->state = terminal ? CAIRN_RUN_FAILED : CAIRN_RUN_NEEDS_ATTENTION;
        s->stopped_reason = CAIRN_STOPPED_FAILED;
        s->next_action = terminal && s->restart_required
                             ? CAIRN_NEXT_RESTART_TARGETS
                             : CAIRN_NEXT_RETRY_FAILED;
    } else if (!st->accepted && head < 0 && st->preflight_open == 0) {
        s->state = CAIRN_RUN_AWAITING_PREFLIGHT;
        s->stopped_reason = CAIRN_STOPPED_AWAITING_PREFLIGHT;
        s->next_action = CAIRN_NEXT_ACCEPT_PREFLIGHT;
    } else {
        s->state = CAIRN_RUN_RUNNING;
        s->stopped_reason = CAIRN_STOPPED_RUNNING;
        s->next_action = CAIRN_NEXT_RESUME;
    }
    if (head >= 0) {
        s->has_next = 1;
        s->next_seq = (uint32_t)head;
        s->next_state = st->ops[head].state;
        s->next_attempt = st->ops[head].attempt;
    }
}

static cairn_stopped_reason pruned_reason(cairn_run_state state)
{
    switch (state) {
    case CAIRN_RUN_CANCELLED:
        return CAIRN_STOPPED_CANCELLED;
    case CAIRN_RUN_TIMED_OUT:
        return CAIRN_STOPPED_TIMED_OUT;
    case CAIRN_RUN_FAILED:
        return CAIRN_STOPPED_FAILED;
    case CAIRN_RUN_COMPLETED:
    case CAIRN_RUN_AWAITING_PREFLIGHT:
    case CAIRN_RUN_RUNNING:
    case CAIRN_RUN_NEEDS_ATTENTION:
        break;
    }
    return CAIRN_STOPPED_COMPLETE;
}

cairn_err cairn__summary_from_state(const cairn_state *st, cairn_summary **out)
{
    *out = NULL;
    cairn_summary *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return CAIRN_ENOMEM;
    }
    memcpy(s->run_id, st->run_id, sizeof(s->run_id));
    memcpy(s->plan_id, st->plan_id, sizeof(s->plan_id));
    memcpy(s->plan_hash, st->plan_hash, CAIRN_HASH_BYTES);
    memcpy(s->preflight_id, st->preflight_id, sizeof(s->preflight_id));
    s->preflight_accepted = st->accepted;
    s->total = st->n_ops;
    s->records = st->next_seq;
    memcpy(s->head, st->head, CAIRN_HASH_BYTES);
    s->signed_run = st->signed_run;
    memcpy(s->key_id, st->key_id, CAIRN_KEY_ID_BYTES);
    s->created_ns = st->created_ns;
    s->updated_ns = st->updated_ns;
    if (st->pruned) { /* the stub: counts only, nothing is next */
        s->pruned = 1;
        s->prune_position = st->last_pos;
        s->state = (cairn_run_state)st->final_state;
        s->total = st->op_counts[0];
        memcpy(s->counts, st->op_counts, sizeof(s->counts));
        s->counts[0] = 0;
        s->last_contiguous_seq = s->last_attempted_seq = -1;
        s->stopped_reason = pruned_reason(s->state);
        s->next_action = CAIRN_NEXT_DONE;
        *out = s;
        return CAIRN_OK;
    }
    s->held = st->held;
    memcpy(s->hold_reason, st->hold_reason, sizeof(s->hold_reason));
    memcpy(s->hold_actor, st->hold_actor, sizeof(s->hold_actor));
    s->hold_until_ns = st->hold_until_ns;
    s->hold_ns = st->hold_ns;
    cairn_err err = fill_ops(st, s);
    if (err == CAIRN_OK) {
        err = restart_targets(st, s);
    }
    if (err != CAIRN_OK) {
        cairn_summary_free(s);
        return err;
    }
    derive(st, s);
    *out = s;
    return CAIRN_OK;
}

cairn_err cairn_status(cairn_journal *journal, const char *run_id,
                       cairn_summary **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (journal == NULL || run_id == NULL || out == NULL) {
        return CAIRN_EINVAL;
    }
    cairn_txn *txn = NULL;
    cairn_err err = cairn__store_read(journal->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(journal, err, "%s",
                            cairn__store_detail(journal->store));
    }
    uint64_t run_num;
    cairn_state st;
    memset(&st, 0, sizeof(st));
    err = cairn__lookup_run(journal, txn, run_id, &run_num);
    if (err == CAIRN_OK) {
        err = cairn__load_state(journal, txn, run_num, &st, journal->detail,
                                sizeof(journal->detail));
    }
    cairn__txn_end(txn);
    if (err == CAIRN_OK) {
        err = cairn__summary_from_state(&st, out);
    }
    cairn__state_free(&st);
    if (err == CAIRN_EIMPORTED) {
        journal->detail[0] = '\0';
        err = cairn__import_status(journal, run_id, out);
    }
    return err;
}
