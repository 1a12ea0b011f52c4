/*
 * model.c - the reference model of docs/DESIGN.md section 3 (see model.h).
 * Plain arrays and loops; no clever sharing with lib/.
 */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *const m_keys[M_N_KEYS] = {"artifact", "digest", "size", "note"};

void m_init(m_run *m, const char *run_id, const char *plan_id)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->run_id, sizeof(m->run_id), "%s", run_id);
    snprintf(m->plan_id, sizeof(m->plan_id), "%s", plan_id);
    m->records = 1; /* the CREATE record */
}

void m_add_op(m_run *m, const char *id, cairn_kind kind, const char *target,
              unsigned requires)
{
    if (m->n_ops >= M_MAX_OPS) {
        return;
    }
    m_op *op = &m->ops[m->n_ops++];
    memset(op, 0, sizeof(*op));
    snprintf(op->id, sizeof(op->id), "%s", id);
    snprintf(op->target, sizeof(op->target), "%s", target ? target : "");
    op->kind = kind;
    op->requires = requires;
    /* create run: preflight ops ready, mutating ops blocked */
    op->state =
        kind == CAIRN_KIND_PREFLIGHT ? CAIRN_OP_READY : CAIRN_OP_BLOCKED;
    op->last_class = CAIRN_CLASS_NONE;
}

static int finished(const m_run *m)
{
    return m->cancelled || m->timed_out;
}

int64_t m_head(const m_run *m)
{
    for (uint32_t i = 0; i < m->n_ops; i++) {
        cairn_op_state s = m->ops[i].state;
        if (s == CAIRN_OP_READY || s == CAIRN_OP_PENDING ||
            s == CAIRN_OP_FAILED) {
            return i;
        }
    }
    return -1;
}

/* A stop of T completed and no start of T completed after it (in time:
 * the logical clock of completions).  A skipped start does not count. */
int m_target_needs_restart(const m_run *m, const char *target)
{
    uint64_t last_stop = 0, last_start = 0;
    for (uint32_t i = 0; i < m->n_ops; i++) {
        const m_op *op = &m->ops[i];
        if (op->state != CAIRN_OP_COMPLETED || strcmp(op->target, target)) {
            continue;
        }
        if (m->compat & M_COMPAT_RESTART_PLAN_ORDER) {
            /* the library: the last one in plan order wins */
            last_stop = op->kind == CAIRN_KIND_STOP ? i + 1 : last_stop;
            last_start = op->kind == CAIRN_KIND_START ? i + 1 : last_start;
            continue;
        }
        if (op->kind == CAIRN_KIND_STOP && op->completed_at > last_stop) {
            last_stop = op->completed_at;
        }
        if (op->kind == CAIRN_KIND_START && op->completed_at > last_start) {
            last_start = op->completed_at;
        }
    }
    return last_stop > last_start;
}

/* The head failed terminally, or the run was cancelled or timed out. */
int m_halted(const m_run *m)
{
    if (finished(m)) {
        return 1;
    }
    int64_t h = m_head(m);
    return h >= 0 && m->ops[h].state == CAIRN_OP_FAILED &&
           m->ops[h].last_class == CAIRN_CLASS_TERMINAL;
}

int m_all_done(const m_run *m)
{
    for (uint32_t i = 0; i < m->n_ops; i++) {
        if (m->ops[i].state != CAIRN_OP_COMPLETED &&
            m->ops[i].state != CAIRN_OP_SKIPPED) {
            return 0;
        }
    }
    return 1;
}

int m_in_doubt(const m_op *op)
{
    return op->state == CAIRN_OP_PENDING && op->holder_dead;
}

cairn_err m_accept(m_run *m, const char *preflight_id)
{
    /* Tie-break: the same id again is a no-op even after cancel. */
    if (m->accepted && strcmp(m->preflight_id, preflight_id) == 0) {
        return CAIRN_OK;
    }
    /* Tie-break: an ended run is reported before a different id. */
    if (finished(m)) {
        return CAIRN_EFINISHED;
    }
    if (m->accepted) {
        return CAIRN_EPREFLIGHT_ID;
    }
    for (uint32_t i = 0; i < m->n_ops; i++) {
        if (m->ops[i].kind == CAIRN_KIND_PREFLIGHT &&
            m->ops[i].state != CAIRN_OP_COMPLETED) {
            return CAIRN_EPREFLIGHT_OPEN;
        }
    }
    m->accepted = 1;
    snprintf(m->preflight_id, sizeof(m->preflight_id), "%s", preflight_id);
    for (uint32_t i = 0; i < m->n_ops; i++) {
        if (m->ops[i].state == CAIRN_OP_BLOCKED) {
            m->ops[i].state = CAIRN_OP_READY;
        }
    }
    m->records++;
    return CAIRN_OK;
}

/* May a cleanup claim take @p op by its state alone? */
static int cleanup_state_ok(const m_run *m, const m_op *op)
{
    return op->state == CAIRN_OP_READY || op->state == CAIRN_OP_FAILED ||
           ((m->compat & M_COMPAT_CLEANUP_BLOCKED) &&
            op->state == CAIRN_OP_BLOCKED);
}

static int64_t pick_special(const m_run *m, cairn_claim_kind kind)
{
    for (uint32_t i = 0; i < m->n_ops; i++) {
        const m_op *op = &m->ops[i];
        if (kind == CAIRN_CLAIM_CLEANUP && op->kind == CAIRN_KIND_CLEANUP &&
            cleanup_state_ok(m, op)) {
            return i;
        }
        if (kind == CAIRN_CLAIM_CONTAINMENT && op->kind == CAIRN_KIND_START &&
            (op->state == CAIRN_OP_READY || op->state == CAIRN_OP_BLOCKED ||
             op->state == CAIRN_OP_FAILED) &&
            m_target_needs_restart(m, op->target)) {
            return i;
        }
    }
    return -1;
}

static cairn_err check_normal(const m_run *m, uint32_t seq)
{
    const m_op *op = &m->ops[seq];
    /* Tie-break order (lib/state/transition.c check_normal_claim): ended run,
     * then the preflight gate, then the op's state, then the head rule. */
    if (finished(m)) {
        return CAIRN_EFINISHED;
    }
    if (op->state == CAIRN_OP_BLOCKED && !m->accepted) {
        return CAIRN_EPREFLIGHT;
    }
    if (op->state != CAIRN_OP_READY && op->state != CAIRN_OP_FAILED) {
        return CAIRN_ESTATE;
    }
    if (m_head(m) != (int64_t)seq) {
        return CAIRN_EORDER;
    }
    return CAIRN_OK;
}

static cairn_err check_special(const m_run *m, uint32_t seq,
                               cairn_claim_kind kind)
{
    const m_op *op = &m->ops[seq];
    int cleanup = kind == CAIRN_CLAIM_CLEANUP;
    /* Tie-break order (check_special_claim): kind, state, halted, then the
     * target's stop. */
    if (op->kind != (cleanup ? CAIRN_KIND_CLEANUP : CAIRN_KIND_START)) {
        return CAIRN_ECONTAIN;
    }
    if (cleanup && op->state == CAIRN_OP_BLOCKED && !cleanup_state_ok(m, op)) {
        return CAIRN_EPREFLIGHT; /* mutating op, preflight not accepted */
    }
    /* A failed containment start or cleanup may be claimed again. */
    if (op->state != CAIRN_OP_READY && op->state != CAIRN_OP_BLOCKED &&
        op->state != CAIRN_OP_FAILED) {
        return CAIRN_ESTATE;
    }
    if (!m_halted(m)) {
        return CAIRN_ECONTAIN;
    }
    if (!cleanup && !m_target_needs_restart(m, op->target)) {
        return CAIRN_ECONTAIN;
    }
    return CAIRN_OK;
}

cairn_err m_claim(m_run *m, int64_t op, cairn_claim_kind kind, int dead,
                  uint32_t pid, uint32_t *seq_out)
{
    int64_t seq = op;
    *seq_out = 0;
    if (seq < 0 && kind == CAIRN_CLAIM_NORMAL) {
        seq = m_head(m);
        if (seq < 0) {
            /* Tie-break: an ended run without a head says "ended". */
            return finished(m) ? CAIRN_EFINISHED : CAIRN_ENOTHING;
        }
    } else if (seq < 0) {
        seq = pick_special(m, kind);
        if (seq < 0) {
            return CAIRN_ECONTAIN;
        }
    }
    if (seq >= (int64_t)m->n_ops) {
        return CAIRN_ENOOP;
    }
    cairn_err err = kind == CAIRN_CLAIM_NORMAL
                        ? check_normal(m, (uint32_t)seq)
                        : check_special(m, (uint32_t)seq, kind);
    if (err != CAIRN_OK) {
        return err;
    }
    m_op *o = &m->ops[seq];
    o->state = CAIRN_OP_PENDING;
    o->attempt++;
    o->holder_dead = dead;
    o->holder_pid = pid;
    m->records++;
    *seq_out = (uint32_t)seq;
    return CAIRN_OK;
}

static cairn_err check_outcome(const m_op *op, const m_receipt *r)
{
    switch (r->outcome) {
    case CAIRN_OUTCOME_COMPLETED:
        if (r->error_class != CAIRN_CLASS_NONE) {
            return CAIRN_EINVAL;
        }
        if ((op->requires & r->outputs) != op->requires) {
            return CAIRN_EOUTPUT;
        }
        return CAIRN_OK;
    case CAIRN_OUTCOME_FAILED:
        if (!r->has_reason || r->error_class == CAIRN_CLASS_NONE) {
            return CAIRN_EREASON;
        }
        return CAIRN_OK;
    case CAIRN_OUTCOME_SKIPPED:
        /* Tie-break: the missing reason, then the preflight rule, then
         * the stray error class. */
        if (!r->has_reason) {
            return CAIRN_EREASON;
        }
        if (op->kind == CAIRN_KIND_PREFLIGHT) {
            return CAIRN_ESTATE;
        }
        if (r->error_class != CAIRN_CLASS_NONE) {
            return CAIRN_EINVAL;
        }
        return CAIRN_OK;
    }
    return CAIRN_EINVAL;
}

/* Checks made before the record is built (lib/commit/ops_op.c): the op exists,
 * its id, and for a resolution that it is pending and in doubt. */
static cairn_err check_target(const m_run *m, const m_receipt *r, int resolve)
{
    if (r->seq >= m->n_ops) {
        return CAIRN_ENOOP;
    }
    const m_op *op = &m->ops[r->seq];
    if (r->op_id == 2) {
        return CAIRN_EOPID;
    }
    if (resolve && op->state != CAIRN_OP_PENDING) {
        return CAIRN_ENOTPENDING;
    }
    if (resolve && !op->holder_dead) {
        return CAIRN_ENOTINDOUBT;
    }
    return CAIRN_OK;
}

cairn_err m_outcome(m_run *m, const m_receipt *r, int resolve)
{
    if (r->outcome != CAIRN_OUTCOME_COMPLETED &&
        r->outcome != CAIRN_OUTCOME_FAILED &&
        r->outcome != CAIRN_OUTCOME_SKIPPED) {
        return CAIRN_EINVAL;
    }
    /* Tie-break order: op, op id, in-doubt, malformed outputs, never
     * claimed, not pending, attempt, reason, outcome rules. */
    cairn_err err = check_target(m, r, resolve);
    if (err != CAIRN_OK) {
        return err;
    }
    m_op *op = &m->ops[r->seq];
    if (r->bad_kv) {
        return CAIRN_EINVAL;
    }
    uint32_t attempt = r->attempt != 0 ? r->attempt : op->attempt;
    if (attempt == 0 || op->state != CAIRN_OP_PENDING) {
        return CAIRN_ENOTPENDING;
    }
    if (attempt != op->attempt) {
        return CAIRN_EATTEMPT;
    }
    if (resolve && !r->has_reason) {
        return CAIRN_EREASON;
    }
    err = check_outcome(op, r);
    if (err != CAIRN_OK) {
        return err;
    }
    op->state = (cairn_op_state)r->outcome;
    op->last_class = r->error_class;
    if (op->state == CAIRN_OP_COMPLETED) {
        op->completed_at = ++m->clock;
    }
    m->records++;
    return CAIRN_OK;
}

cairn_err m_retry(m_run *m, uint32_t op, int has_reason)
{
    if (op >= m->n_ops) {
        return CAIRN_ENOOP;
    }
    /* Tie-break: an ended run before the op's state, before the reason. */
    if (finished(m)) {
        return CAIRN_EFINISHED;
    }
    if (m->ops[op].state != CAIRN_OP_FAILED) {
        return CAIRN_ENOTFAILED;
    }
    if (!has_reason) {
        return CAIRN_EREASON;
    }
    m->ops[op].state = CAIRN_OP_READY;
    m->records++;
    return CAIRN_OK;
}

cairn_err m_cancel(m_run *m, int timed_out)
{
    if (finished(m) || m_all_done(m)) {
        return CAIRN_EFINISHED;
    }
    if (timed_out) {
        m->timed_out = 1;
    } else {
        m->cancelled = 1;
    }
    m->records++;
    return CAIRN_OK;
}

static void derive_state(const m_run *m, m_summary *s)
{
    cairn_next_action finish =
        s->restart_required ? CAIRN_NEXT_RESTART_TARGETS : CAIRN_NEXT_DONE;
    int64_t h = m_head(m);
    int all_pf = 1;
    for (uint32_t i = 0; i < m->n_ops; i++) {
        if (m->ops[i].kind == CAIRN_KIND_PREFLIGHT &&
            m->ops[i].state != CAIRN_OP_COMPLETED) {
            all_pf = 0;
        }
    }
    if (finished(m)) {
        s->state = m->cancelled ? CAIRN_RUN_CANCELLED : CAIRN_RUN_TIMED_OUT;
        s->stopped_reason =
            m->cancelled ? CAIRN_STOPPED_CANCELLED : CAIRN_STOPPED_TIMED_OUT;
        s->next_action = s->n_in_doubt ? CAIRN_NEXT_RESOLVE_IN_DOUBT : finish;
    } else if (m_all_done(m)) {
        s->state = CAIRN_RUN_COMPLETED;
        s->stopped_reason = CAIRN_STOPPED_COMPLETE;
        s->next_action = finish;
    } else if (s->n_in_doubt > 0) {
        s->state = CAIRN_RUN_NEEDS_ATTENTION;
        s->stopped_reason = CAIRN_STOPPED_IN_DOUBT;
        s->next_action = CAIRN_NEXT_RESOLVE_IN_DOUBT;
    } else if (h >= 0 && m->ops[h].state == CAIRN_OP_FAILED) {
        /* failed: terminal, nothing left to retry; a retryable failure
         * waits for an operator (needs-attention). */
        int terminal = m->ops[h].last_class == CAIRN_CLASS_TERMINAL;
        s->state = terminal ? CAIRN_RUN_FAILED : CAIRN_RUN_NEEDS_ATTENTION;
        s->stopped_reason = CAIRN_STOPPED_FAILED;
        s->next_action = terminal && s->restart_required
                             ? CAIRN_NEXT_RESTART_TARGETS
                             : CAIRN_NEXT_RETRY_FAILED;
    } else if (!m->accepted && h < 0 && all_pf) {
        s->state = CAIRN_RUN_AWAITING_PREFLIGHT;
        s->stopped_reason = CAIRN_STOPPED_AWAITING_PREFLIGHT;
        s->next_action = CAIRN_NEXT_ACCEPT_PREFLIGHT;
    } else {
        s->state = CAIRN_RUN_RUNNING;
        s->stopped_reason = CAIRN_STOPPED_RUNNING;
        s->next_action = CAIRN_NEXT_RESUME;
    }
}

void m_summarize(const m_run *m, m_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->last_contiguous_seq = -1;
    s->last_attempted_seq = -1;
    int prefix = 1;
    for (uint32_t i = 0; i < m->n_ops; i++) {
        const m_op *op = &m->ops[i];
        s->counts[op->state]++;
        prefix = prefix && (op->state == CAIRN_OP_COMPLETED ||
                            op->state == CAIRN_OP_SKIPPED);
        if (prefix) {
            s->last_contiguous_seq = i;
        }
        if (op->attempt > 0) {
            s->last_attempted_seq = i;
        }
        if (m_in_doubt(op)) {
            s->n_in_doubt++;
        }
        if (op->kind == CAIRN_KIND_STOP && op->target[0] != '\0' &&
            m_target_needs_restart(m, op->target)) {
            s->restart_required = 1;
        }
    }
    derive_state(m, s);
}

/* ---- the plan of a model ------------------------------------------------- */

static int put(char *json, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char *json, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(json + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len) {
        return -1;
    }
    *len += (size_t)n;
    return 0;
}

int m_plan_json(const m_run *m, char *json, size_t cap)
{
    size_t len = 0;
    int err = put(json, cap, &len,
                  "{\"cairn_plan\":1,\"plan_id\":\"%s\",\"run_id\":\"%s\","
                  "\"operations\":[",
                  m->plan_id, m->run_id);
    for (uint32_t i = 0; i < m->n_ops && err == 0; i++) {
        const m_op *op = &m->ops[i];
        err = put(json, cap, &len, "%s{\"id\":\"%s\",\"kind\":\"%s\"",
                  i ? "," : "", op->id, cairn_kind_name(op->kind));
        if (err == 0 && op->target[0] != '\0') {
            err = put(json, cap, &len, ",\"target\":\"%s\"", op->target);
        }
        for (unsigned k = 0, c = 0; k < M_N_KEYS && err == 0; k++) {
            if (op->requires & (1u << k)) {
                err = put(json, cap, &len, "%s\"%s\"",
                          c++ ? "," : ",\"requires\":[", m_keys[k]);
            }
        }
        if (err == 0) {
            err = put(json, cap, &len, "%s}", op->requires ? "]" : "");
        }
    }
    return err != 0 ? -1 : put(json, cap, &len, "]}");
}

/* ---- comparing the library with the model -------------------------------- */

#define M_DIFF(...)                                                            \
    do {                                                                       \
        snprintf(why, why_len, __VA_ARGS__);                                   \
        return 1;                                                              \
    } while (0)

#define M_DIFF_INT(what, got, want)                                            \
    do {                                                                       \
        if ((long long)(got) != (long long)(want)) {                           \
            M_DIFF("%s: library %lld, model %lld", what, (long long)(got),     \
                   (long long)(want));                                         \
        }                                                                      \
    } while (0)

static int compare_op(const m_op *op, const cairn_op_view *v, uint32_t seq,
                      char *why, size_t why_len)
{
    char w[48];
    snprintf(w, sizeof(w), "op %u state", seq);
    M_DIFF_INT(w, v->state, op->state);
    snprintf(w, sizeof(w), "op %u attempt", seq);
    M_DIFF_INT(w, v->attempt, op->attempt);
    snprintf(w, sizeof(w), "op %u last_class", seq);
    M_DIFF_INT(w, v->last_class, op->last_class);
    snprintf(w, sizeof(w), "op %u in_doubt", seq);
    M_DIFF_INT(w, v->in_doubt, m_in_doubt(op));
    snprintf(w, sizeof(w), "op %u holder_pid", seq);
    M_DIFF_INT(w, v->holder_pid,
               op->state == CAIRN_OP_PENDING ? op->holder_pid : 0);
    snprintf(w, sizeof(w), "op %u seq/kind", seq);
    M_DIFF_INT(w, v->seq * 100u + (unsigned)v->kind,
               seq * 100u + (unsigned)op->kind);
    if (strcmp(v->id, op->id) != 0 || strcmp(v->target, op->target) != 0) {
        M_DIFF("op %u: library %s/%s, model %s/%s", seq, v->id, v->target,
               op->id, op->target);
    }
    if (v->updated_ns == 0) {
        M_DIFF("op %u: updated_ns is 0", seq);
    }
    return 0;
}

/* restart_targets: each target (first stop of it in plan order) that
 * needs a restart, exactly once, in any order. */
static int compare_targets(const m_run *m, const cairn_summary *s, char *why,
                           size_t why_len)
{
    size_t want = 0;
    for (uint32_t i = 0; i < m->n_ops; i++) {
        const m_op *op = &m->ops[i];
        int first = op->kind == CAIRN_KIND_STOP && op->target[0] != '\0';
        for (uint32_t k = 0; first && k < i; k++) {
            first = !(m->ops[k].kind == CAIRN_KIND_STOP &&
                      strcmp(m->ops[k].target, op->target) == 0);
        }
        if (!first || !m_target_needs_restart(m, op->target)) {
            continue;
        }
        want++;
        size_t found = 0;
        for (size_t k = 0; k < s->n_restart_targets; k++) {
            found += strcmp(s->restart_targets[k], op->target) == 0;
        }
        if (found != 1) {
            M_DIFF("restart target %s listed %zu times", op->target, found);
        }
    }
    M_DIFF_INT("n_restart_targets", s->n_restart_targets, want);
    return 0;
}

static int compare_lists(const m_run *m, const cairn_summary *s, char *why,
                         size_t why_len)
{
    size_t k = 0;
    for (uint32_t i = 0; i < m->n_ops; i++) {
        if (m_in_doubt(&m->ops[i])) {
            if (k >= s->n_in_doubt || s->in_doubt[k] != i) {
                M_DIFF("in_doubt[%zu] should be %u", k, i);
            }
            k++;
        }
    }
    M_DIFF_INT("n_in_doubt", s->n_in_doubt, k);
    if (compare_targets(m, s, why, why_len) != 0) {
        return 1;
    }
    M_DIFF_INT("n_ops", s->n_ops, m->n_ops);
    for (uint32_t i = 0; i < m->n_ops; i++) {
        if (compare_op(&m->ops[i], &s->ops[i], i, why, why_len) != 0) {
            return 1;
        }
    }
    return 0;
}

int m_compare(const m_run *m, const cairn_summary *s, char *why, size_t why_len)
{
    m_summary ms;
    m_summarize(m, &ms);
    if (strcmp(s->run_id, m->run_id) != 0 ||
        strcmp(s->plan_id, m->plan_id) != 0 ||
        strcmp(s->preflight_id, m->preflight_id) != 0) {
        M_DIFF("ids: library %s/%s/\"%s\", model %s/%s/\"%s\"", s->run_id,
               s->plan_id, s->preflight_id, m->run_id, m->plan_id,
               m->preflight_id);
    }
    M_DIFF_INT("preflight_accepted", s->preflight_accepted, m->accepted);
    M_DIFF_INT("state", s->state, ms.state);
    M_DIFF_INT("stopped_reason", s->stopped_reason, ms.stopped_reason);
    M_DIFF_INT("next_action", s->next_action, ms.next_action);
    M_DIFF_INT("total", s->total, m->n_ops);
    for (int k = 0; k < 7; k++) {
        M_DIFF_INT(k ? cairn_op_state_name((cairn_op_state)k) : "counts[0]",
                   s->counts[k], ms.counts[k]);
    }
    int64_t h = m_head(m);
    M_DIFF_INT("has_next", s->has_next, h >= 0);
    if (h >= 0) {
        M_DIFF_INT("next_seq", s->next_seq, h);
        M_DIFF_INT("next_state", s->next_state, m->ops[h].state);
        M_DIFF_INT("next_attempt", s->next_attempt, m->ops[h].attempt);
    }
    M_DIFF_INT("restart_required", s->restart_required, ms.restart_required);
    M_DIFF_INT("last_contiguous_seq", s->last_contiguous_seq,
               ms.last_contiguous_seq);
    M_DIFF_INT("last_attempted_seq", s->last_attempted_seq,
               ms.last_attempted_seq);
    M_DIFF_INT("records", s->records, m->records);
    if (s->created_ns == 0 || s->updated_ns < s->created_ns) {
        M_DIFF("created_ns %llu, updated_ns %llu",
               (unsigned long long)s->created_ns,
               (unsigned long long)s->updated_ns);
    }
    return compare_lists(m, s, why, why_len);
}

/* ---- probes: does the library still deviate from docs/DESIGN.md? --------- */

static cairn_err probe_create(cairn_journal *j, const char *json, char *run)
{
    cairn_plan *plan = NULL;
    char detail[256];
    cairn_err err =
        cairn_plan_parse(json, strlen(json), &plan, detail, sizeof(detail));
    if (err == CAIRN_OK) {
        err = cairn_run_create(j, plan, NULL, run, CAIRN_MAX_ID + 1);
    }
    cairn_plan_free(plan);
    return err;
}

static cairn_err probe_receipt(cairn_journal *j, const char *run, uint32_t op,
                               cairn_outcome outcome)
{
    cairn_receipt r = {.seq = op,
                       .outcome = outcome,
                       .error_class = outcome == CAIRN_OUTCOME_FAILED
                                          ? CAIRN_CLASS_TERMINAL
                                          : CAIRN_CLASS_NONE,
                       .reason = "probe"};
    return cairn_receipt_record(j, run, &r, NULL);
}

/* Plan: 0 check (preflight), 1 work (task), 2 tidy (cleanup).  The run is
 * cancelled before its preflight is accepted; then a cleanup claim of the
 * still blocked op 2. */
cairn_err m_probe_cleanup_blocked(cairn_journal *j)
{
    static const char json[] =
        "{\"cairn_plan\":1,\"plan_id\":\"probe\",\"run_id\":\"probe-cleanup\","
        "\"operations\":[{\"id\":\"check\",\"kind\":\"preflight\"},"
        "{\"id\":\"work\",\"kind\":\"task\"},"
        "{\"id\":\"tidy\",\"kind\":\"cleanup\"}]}";
    char run[CAIRN_MAX_ID + 1];
    cairn_err err = probe_create(j, json, run);
    if (err == CAIRN_OK) {
        err = cairn_cancel(j, run, 0, NULL);
    }
    if (err != CAIRN_OK) {
        return CAIRN_ERR_COUNT_; /* the probe itself went wrong */
    }
    return cairn_claim(j, run, 2, CAIRN_CLAIM_CLEANUP, NULL, NULL, NULL);
}

/* Plan: 0 stop-a db, 1 start-a db, 2 stop-b db, 3 start-b db (no
 * preflight).  stop-a completes, start-a fails terminally, a containment
 * claim picks a start of db (the library takes start-b, op 3, since
 * start-a is failed) and completes it; start-a is retried and completes;
 * stop-b completes.  db is stopped now. */
cairn_err m_probe_restart_order(cairn_journal *j, cairn_summary **out)
{
    static const char json[] =
        "{\"cairn_plan\":1,\"plan_id\":\"probe\",\"run_id\":\"probe-restart\","
        "\"operations\":["
        "{\"id\":\"stop-a\",\"kind\":\"stop\",\"target\":\"db\"},"
        "{\"id\":\"start-a\",\"kind\":\"start\",\"target\":\"db\"},"
        "{\"id\":\"stop-b\",\"kind\":\"stop\",\"target\":\"db\"},"
        "{\"id\":\"start-b\",\"kind\":\"start\",\"target\":\"db\"}]}";
    char run[CAIRN_MAX_ID + 1];
    cairn_claim_result c;
    cairn_actor_info who = {"probe", "retry"};
    *out = NULL;
    cairn_err err = probe_create(j, json, run);
    err = err ? err : cairn_accept_preflight(j, run, "pf", NULL);
    err = err ? err : cairn_claim(j, run, 0, 0, NULL, NULL, NULL);
    err = err ? err : probe_receipt(j, run, 0, CAIRN_OUTCOME_COMPLETED);
    err = err ? err : cairn_claim(j, run, 1, 0, NULL, NULL, NULL);
    err = err ? err : probe_receipt(j, run, 1, CAIRN_OUTCOME_FAILED);
    err = err ? err
              : cairn_claim(j, run, 3, CAIRN_CLAIM_CONTAINMENT, NULL, NULL, &c);
    err = err ? err : probe_receipt(j, run, c.seq, CAIRN_OUTCOME_COMPLETED);
    err = err ? err : cairn_retry(j, run, 1, &who);
    for (uint32_t op = 1; op <= 3 && err == CAIRN_OK; op++) {
        if (op != c.seq) {
            err = cairn_claim(j, run, op, 0, NULL, NULL, NULL);
            err =
                err ? err : probe_receipt(j, run, op, CAIRN_OUTCOME_COMPLETED);
        }
    }
    return err ? err : cairn_status(j, run, out);
}

unsigned m_detect_compat(cairn_journal *j)
{
    unsigned bits = 0;
    cairn_summary *s = NULL;
    if (m_probe_cleanup_blocked(j) == CAIRN_OK) {
        bits |= M_COMPAT_CLEANUP_BLOCKED;
    }
    if (m_probe_restart_order(j, &s) == CAIRN_OK && !s->restart_required) {
        bits |= M_COMPAT_RESTART_PLAN_ORDER;
    }
    cairn_summary_free(s);
    return bits;
}
