/*
 * summary.c - the resume summary (docs/DESIGN.md section 3), computed from the
 * materialised state of one run, independent of how many records the
 * journal holds: with every operation (O(operations)), or brief, from the
 * run summary and the few rows it names (O(1 + pending + stopped targets)
 * rows, each proven; docs/FORMAT.md 23.6).
 */
#include "journal/journal.h"
#include "journal/head.h"
#include "journal/oprows.h"

#include "base/bytes.h"

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

/* The operations a summary is made of: every op of the state (seqs
 * NULL: st->ops), or some rows, ascending by op (a brief summary). */
typedef struct op_rows {
    const cairn_state *st;
    const uint32_t *seqs;
    const cairn_op_st *rows;
    size_t n;
} op_rows;

static const cairn_op_st *row_of(const op_rows *r, uint32_t op)
{
    if (r->seqs == NULL) {
        return op < r->st->n_ops ? &r->st->ops[op] : NULL;
    }
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->seqs[mid] < op) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < r->n && r->seqs[lo] == op ? &r->rows[lo] : NULL;
}

/* The targets that need a restart, by their anchor ops (ascending),
 * from the state's incremental facts: O(stopped targets). */
static cairn_err restart_targets(const op_rows *r, cairn_summary *s)
{
    const cairn_state *st = r->st;
    if (st->n_stopped > 0) {
        s->restart_targets = calloc(st->n_stopped, sizeof(char *));
        if (s->restart_targets == NULL) {
            return CAIRN_ENOMEM;
        }
    }
    for (uint32_t k = 0; k < st->n_stopped; k++) {
        const cairn_op_st *op = row_of(r, st->stopped[k]);
        if (op == NULL) {
            return CAIRN_ECORRUPT; /* the summary's own list: cannot be */
        }
        if ((s->restart_targets[k] = strdup(op->target)) == NULL) {
            return CAIRN_ENOMEM;
        }
        s->n_restart_targets = (size_t)k + 1;
    }
    s->restart_required = s->n_restart_targets > 0;
    return CAIRN_OK;
}

/* The view of op @p seq; a pending op whose claimer is gone is in doubt
 * (and listed). */
static void fill_view(cairn_summary *s, cairn_op_view *v, const cairn_op_st *op,
                      uint32_t seq)
{
    v->seq = seq;
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
            s->in_doubt[s->n_in_doubt++] = seq;
        }
    }
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
        fill_view(s, &s->ops[i], op, i);
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

/* A brief summary's ops: the rows read (the next op, the pending ones,
 * the restart anchors); counts and watermarks from the run's facts. */
static cairn_err fill_brief(const op_rows *r, cairn_summary *s)
{
    const cairn_state *st = r->st;
    s->ops = calloc(r->n > 0 ? r->n : 1, sizeof(cairn_op_view));
    s->in_doubt = calloc(r->n > 0 ? r->n : 1, sizeof(uint32_t));
    if (s->ops == NULL || s->in_doubt == NULL) {
        return CAIRN_ENOMEM;
    }
    s->n_ops = r->n;
    s->ops_partial = 1;
    for (size_t k = 0; k < r->n; k++) {
        fill_view(s, &s->ops[k], &r->rows[k], r->seqs[k]);
    }
    for (int i = CAIRN_OP_BLOCKED; i <= CAIRN_OP_SKIPPED; i++) {
        s->counts[i] = st->op_counts[i];
    }
    s->last_contiguous_seq = (int64_t)st->done_prefix - 1;
    s->last_attempted_seq = (int64_t)st->attempted_end - 1;
    return CAIRN_OK;
}

static void derive(const op_rows *r, cairn_summary *s)
{
    const cairn_state *st = r->st;
    cairn_next_action finish =
        s->restart_required ? CAIRN_NEXT_RESTART_TARGETS : CAIRN_NEXT_DONE;
    int64_t head = cairn__state_head(st);
    const cairn_op_st *hop = head >= 0 ? row_of(r, (uint32_t)head) : NULL;
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
    } else if (hop != NULL && hop->state == CAIRN_OP_FAILED) {
        int terminal = hop->last_class == CAIRN_CLASS_TERMINAL;
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
    if (hop != NULL) {
        s->has_next = 1;
        s->next_seq = (uint32_t)head;
        s->next_state = hop->state;
        s->next_attempt = hop->attempt;
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

/* The summary of @p r's state, its ops from @p r (every op, or a brief
 * summary's rows). */
static cairn_err summary_build(const op_rows *r, cairn_summary **out)
{
    const cairn_state *st = r->st;
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
    cairn_err err = r->seqs == NULL ? fill_ops(st, s) : fill_brief(r, s);
    if (err == CAIRN_OK) {
        err = restart_targets(r, s);
    }
    if (err != CAIRN_OK) {
        cairn_summary_free(s);
        return err;
    }
    derive(r, s);
    *out = s;
    return CAIRN_OK;
}

cairn_err cairn__summary_from_state(const cairn_state *st, cairn_summary **out)
{
    op_rows all = {st, NULL, NULL, 0};
    return summary_build(&all, out);
}

const cairn_op_view *cairn_summary_op(const cairn_summary *summary,
                                      uint32_t seq)
{
    if (summary == NULL || summary->ops == NULL) {
        return NULL;
    }
    if (!summary->ops_partial) {
        return seq < summary->n_ops ? &summary->ops[seq] : NULL;
    }
    size_t lo = 0, hi = summary->n_ops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (summary->ops[mid].seq < seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < summary->n_ops && summary->ops[lo].seq == seq
               ? &summary->ops[lo]
               : NULL;
}

/* ---- a brief summary: the run summary and a few rows --------------- */

typedef struct brief {
    uint32_t *seqs;
    cairn_op_st *rows;
    size_t n;
} brief;

static void brief_free(brief *b)
{
    for (size_t k = 0; k < b->n; k++) {
        cairn__oprow_free(&b->rows[k]);
    }
    free(b->rows);
    free(b->seqs);
    memset(b, 0, sizeof(*b));
}

static int by_op(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The rows a brief summary shows, each proven under st->ops_root: the
 * head, the pending ops and the anchors of the targets to restart. */
static cairn_err brief_rows(cairn_journal *j, cairn_txn *txn,
                            const cairn_state *st, brief *b)
{
    uint32_t n_pending = st->op_counts[CAIRN_OP_PENDING];
    size_t cap = 1 + (size_t)n_pending + st->n_stopped, n = 0;
    b->seqs = malloc(cap * sizeof(uint32_t));
    b->rows = calloc(cap, sizeof(cairn_op_st));
    if (b->seqs == NULL || b->rows == NULL) {
        return CAIRN_ENOMEM;
    }
    if (st->head_op < st->n_ops) {
        b->seqs[n++] = st->head_op;
    }
    for (uint32_t k = 0; k < n_pending; k++) {
        b->seqs[n++] = st->pending[k];
    }
    for (uint32_t k = 0; k < st->n_stopped; k++) {
        b->seqs[n++] = st->stopped[k];
    }
    qsort(b->seqs, n, sizeof(uint32_t), by_op);
    size_t u = 0;
    for (size_t k = 0; k < n; k++) {
        if (u == 0 || b->seqs[u - 1] != b->seqs[k]) {
            b->seqs[u++] = b->seqs[k];
        }
    }
    for (size_t k = 0; k < u; k++) {
        cairn_err err = cairn__oprows_get(txn, st, b->seqs[k], &b->rows[k],
                                          j->detail, sizeof(j->detail));
        if (err != CAIRN_OK) {
            return err;
        }
        b->n = k + 1;
    }
    return CAIRN_OK;
}

/* The stored state of @p run_num, proven under the head: a run summary
 * (version 2) is decoded alone (*whole 0, st->ops NULL); any other state
 * whole, as cairn__load_state() does (*whole 1). */
static cairn_err load_summary(cairn_journal *j, cairn_txn *txn,
                              uint64_t run_num, cairn_state *st, int *whole)
{
    *whole = 1;
    if (j->format < 2) {
        return cairn__load_state(j, txn, run_num, st, j->detail,
                                 sizeof(j->detail));
    }
    cairn_head h;
    uint8_t key[8], leaf[CAIRN_HASH_BYTES];
    const uint8_t *v;
    size_t vl;
    int found;
    char why[256];
    cairn_err err = cairn__head_load(j, txn, &h, j->detail, sizeof(j->detail));
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__store64_be(key, run_num);
    err =
        cairn__txn_get(txn, CAIRN_DBI_RUNS, key, sizeof(key), &v, &vl, &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (!found || vl == 0 || v[0] != 2) { /* as the whole state says */
        return cairn__load_state_at(j, txn, &h, run_num, st, NULL, j->detail,
                                    sizeof(j->detail));
    }
    cairn__state_leaf(v, vl, leaf);
    err = cairn__head_prove_state(txn, &h, run_num, leaf, j->detail,
                                  sizeof(j->detail));
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn__summary_decode(v, vl, st, why, sizeof(why));
    if (err == CAIRN_OK && st->run_num != run_num) {
        cairn__state_free(st);
        cairn__fmt(why, sizeof(why), "state names run %llu",
                   (unsigned long long)st->run_num);
        err = CAIRN_ECORRUPT;
    }
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "run %llu: %s", (unsigned long long)run_num,
                            cairn__why_unprefixed(why, run_num));
    }
    *whole = st->pruned;
    return CAIRN_OK;
}

/* The brief summary of @p run_num (read in @p txn). */
static cairn_err status_brief(cairn_journal *j, cairn_txn *txn,
                              uint64_t run_num, cairn_summary **out)
{
    cairn_state st;
    brief b;
    int whole = 1;
    memset(&st, 0, sizeof(st));
    memset(&b, 0, sizeof(b));
    cairn_err err = load_summary(j, txn, run_num, &st, &whole);
    if (err == CAIRN_OK && !whole) {
        err = brief_rows(j, txn, &st, &b);
    }
    if (err == CAIRN_OK) {
        op_rows r = {&st, whole ? NULL : b.seqs, b.rows, b.n};
        err = summary_build(&r, out);
    }
    brief_free(&b);
    cairn__state_free(&st);
    return err;
}

cairn_err cairn_status_opts(cairn_journal *journal, const char *run_id,
                            unsigned flags, cairn_summary **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (journal == NULL || run_id == NULL || out == NULL ||
        (flags & ~CAIRN_STATUS_BRIEF) != 0) {
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
    if (err == CAIRN_OK && (flags & CAIRN_STATUS_BRIEF) != 0) {
        err = status_brief(journal, txn, run_num, out);
    } else if (err == CAIRN_OK) {
        err = cairn__load_state(journal, txn, run_num, &st, journal->detail,
                                sizeof(journal->detail));
        if (err == CAIRN_OK) {
            err = cairn__summary_from_state(&st, out);
        }
    }
    cairn__txn_end(txn);
    cairn__state_free(&st);
    if (err == CAIRN_EIMPORTED) {
        journal->detail[0] = '\0';
        err = cairn__import_status(journal, run_id, out);
    }
    return err;
}

cairn_err cairn_status(cairn_journal *journal, const char *run_id,
                       cairn_summary **out)
{
    return cairn_status_opts(journal, run_id, 0, out);
}
