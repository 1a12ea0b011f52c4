/*
 * transition.c - cairn__state_apply(): validate one record against a run's
 * state and apply it.  Every check happens before the first change.
 */
#include "state/facts.h"

#include <string.h>

#define FAIL(code, ...)                                                        \
    do {                                                                       \
        cairn__fmt(detail, detail_len, __VA_ARGS__);                           \
        return (code);                                                         \
    } while (0)

static int finished(const cairn_state *st)
{
    return st->cancelled || st->timed_out;
}

static cairn_err check_op(const cairn_state *st, const cairn_record *rec,
                          char *detail, size_t detail_len)
{
    if (rec->op >= st->n_ops) {
        FAIL(CAIRN_ENOOP, "operation %u: the plan has %u operations", rec->op,
             st->n_ops);
    }
    return CAIRN_OK;
}

static cairn_err apply_accept(cairn_state *st, const cairn_record *rec,
                              char *detail, size_t detail_len)
{
    if (finished(st)) {
        FAIL(CAIRN_EFINISHED, "run %s has ended", st->run_id);
    }
    if (st->accepted) {
        FAIL(CAIRN_EPREFLIGHT_ID, "preflight already accepted as \"%s\"",
             st->preflight_id);
    }
    for (uint32_t i = 0; st->preflight_open > 0 && i < st->n_ops; i++) {
        if (st->ops[i].kind == CAIRN_KIND_PREFLIGHT &&
            st->ops[i].state != CAIRN_OP_COMPLETED) {
            FAIL(CAIRN_EPREFLIGHT_OPEN, "operation %u (%s) is %s", i,
                 st->ops[i].id, cairn_op_state_name(st->ops[i].state));
        }
    }
    if (cairn__strlcpy(st->preflight_id, rec->preflight_id,
                       sizeof(st->preflight_id)) != CAIRN_OK) {
        FAIL(CAIRN_EINVAL, "preflight id too long");
    }
    st->accepted = 1;
    for (uint32_t i = 0; i < st->n_ops; i++) {
        if (st->ops[i].state == CAIRN_OP_BLOCKED) {
            cairn__facts_move(st, i, CAIRN_OP_READY);
            st->ops[i].updated_ns = rec->wall_ns;
        }
    }
    return CAIRN_OK;
}

static cairn_err check_normal_claim(const cairn_state *st, uint32_t seq,
                                    char *detail, size_t detail_len)
{
    const cairn_op_st *op = &st->ops[seq];
    if (finished(st)) {
        FAIL(CAIRN_EFINISHED,
             "run %s has ended: only containment and "
             "cleanup claims are accepted",
             st->run_id);
    }
    if (op->state == CAIRN_OP_BLOCKED && !st->accepted) {
        FAIL(CAIRN_EPREFLIGHT,
             "operation %u (%s) is blocked: "
             "preflight-not-accepted",
             seq, op->id);
    }
    if (op->state != CAIRN_OP_READY && op->state != CAIRN_OP_FAILED) {
        FAIL(CAIRN_ESTATE, "operation %u (%s) is %s, not ready or failed", seq,
             op->id, cairn_op_state_name(op->state));
    }
    int64_t head = cairn__state_head(st);
    if (head != (int64_t)seq) {
        FAIL(CAIRN_EORDER,
             "operation %u (%s) is not the head; the head is "
             "%lld",
             seq, op->id, (long long)head);
    }
    return CAIRN_OK;
}

static cairn_err check_special_claim(const cairn_state *st,
                                     const cairn_record *rec, char *detail,
                                     size_t detail_len)
{
    const cairn_op_st *op = &st->ops[rec->op];
    int cleanup = rec->claim_kind == CAIRN_CLAIM_CLEANUP;
    cairn_kind want = cleanup ? CAIRN_KIND_CLEANUP : CAIRN_KIND_START;
    if (op->kind != want) {
        FAIL(CAIRN_ECONTAIN, "operation %u (%s) is a %s operation, not %s",
             rec->op, op->id, cairn_kind_name(op->kind), cairn_kind_name(want));
    }
    if (cleanup && op->state == CAIRN_OP_BLOCKED) {
        FAIL(CAIRN_EPREFLIGHT,
             "operation %u (%s) is blocked: "
             "preflight-not-accepted",
             rec->op, op->id);
    }
    /* A failed containment start or cleanup may be claimed again: after a
     * cancel or timeout nothing else could ever restart the target. */
    if (op->state != CAIRN_OP_READY && op->state != CAIRN_OP_BLOCKED &&
        op->state != CAIRN_OP_FAILED) {
        FAIL(CAIRN_ESTATE, "operation %u (%s) is %s", rec->op, op->id,
             cairn_op_state_name(op->state));
    }
    if (!cairn__state_halted(st)) {
        FAIL(CAIRN_ECONTAIN,
             "%s claims need a terminal failure, a cancel "
             "or a timeout",
             cleanup ? "cleanup" : "containment");
    }
    if (!cleanup && !cairn__state_op_stopped(st, rec->op)) {
        FAIL(CAIRN_ECONTAIN, "target %s has no completed stop to contain",
             op->target);
    }
    return CAIRN_OK;
}

static cairn_err apply_claim(cairn_state *st, const cairn_record *rec,
                             char *detail, size_t detail_len)
{
    cairn_err err = check_op(st, rec, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    switch (rec->claim_kind) {
    case CAIRN_CLAIM_NORMAL:
        err = check_normal_claim(st, rec->op, detail, detail_len);
        break;
    case CAIRN_CLAIM_CONTAINMENT:
    case CAIRN_CLAIM_CLEANUP:
        err = check_special_claim(st, rec, detail, detail_len);
        break;
    }
    if (err != CAIRN_OK) {
        return err;
    }
    cairn_op_st *op = &st->ops[rec->op];
    if (rec->attempt != op->attempt + 1) {
        FAIL(CAIRN_ECORRUPT, "seq %llu: claim attempt %u, expected %u",
             (unsigned long long)rec->seq, rec->attempt, op->attempt + 1);
    }
    if (cairn__strlcpy(op->host, rec->host, sizeof(op->host)) != CAIRN_OK) {
        FAIL(CAIRN_EINVAL, "host name too long");
    }
    cairn__facts_move(st, rec->op, CAIRN_OP_PENDING);
    if (rec->op >= st->attempted_end) {
        st->attempted_end = rec->op + 1;
    }
    op->attempt = rec->attempt;
    op->holder_pid = rec->holder_pid;
    op->holder_start = rec->holder_start;
    memcpy(op->holder_boot, rec->boot_id, CAIRN_BOOT_ID_BYTES);
    op->updated_ns = rec->wall_ns;
    return CAIRN_OK;
}

/* The value of output @p key, or NULL when absent. */
static const char *output_value(const cairn_kvlist *outputs, const char *key)
{
    for (size_t i = 0; i < outputs->n; i++) {
        if (strcmp(outputs->v[i].key, key) == 0) {
            return outputs->v[i].value;
        }
    }
    return NULL;
}

/* Every output the operation requires is present and obeys its rule; the
 * default rule (non-empty) only when @p writing (state.h). */
static cairn_err check_outputs(const cairn_op_st *op, uint32_t seq,
                               const cairn_kvlist *outputs, int writing,
                               char *detail, size_t detail_len)
{
    char why[512];
    for (size_t i = 0; i < op->n_requires; i++) {
        const cairn_output_rule *rule =
            op->require_rules != NULL ? &op->require_rules[i] : NULL;
        const char *value = output_value(outputs, op->requires[i]);
        if (value == NULL) {
            FAIL(CAIRN_EOUTPUT, "operation %u (%s) requires output \"%s\"", seq,
                 op->id, op->requires[i]);
        }
        if ((writing || !cairn__output_rule_default(rule)) &&
            cairn__output_check(rule, value, why, sizeof(why)) != 0) {
            FAIL(CAIRN_EOUTPUT, "operation %u (%s): required output \"%s\" %s",
                 seq, op->id, op->requires[i], why);
        }
    }
    return CAIRN_OK;
}

static cairn_err check_outcome(const cairn_op_st *op, const cairn_record *rec,
                               int writing, char *detail, size_t detail_len)
{
    switch (rec->outcome) {
    case CAIRN_OUTCOME_COMPLETED:
        if (rec->error_class != CAIRN_CLASS_NONE) {
            FAIL(CAIRN_EINVAL, "a completed outcome has no error class");
        }
        return check_outputs(op, rec->op, &rec->outputs, writing, detail,
                             detail_len);
    case CAIRN_OUTCOME_FAILED:
        if (rec->reason[0] == '\0' || rec->error_class == CAIRN_CLASS_NONE) {
            FAIL(CAIRN_EREASON, "a failure needs a reason and an error "
                                "class (retryable or terminal)");
        }
        return CAIRN_OK;
    case CAIRN_OUTCOME_SKIPPED:
        if (rec->reason[0] == '\0') {
            FAIL(CAIRN_EREASON, "skipping needs a reason");
        }
        if (op->kind == CAIRN_KIND_PREFLIGHT) {
            FAIL(CAIRN_ESTATE,
                 "operation %u (%s): preflight operations "
                 "cannot be skipped",
                 rec->op, op->id);
        }
        if (rec->error_class != CAIRN_CLASS_NONE) {
            FAIL(CAIRN_EINVAL, "a skipped outcome has no error class");
        }
        return CAIRN_OK;
    }
    FAIL(CAIRN_EINVAL, "unknown outcome %d", (int)rec->outcome);
}

cairn_err cairn__state_check_outcome(const cairn_state *st,
                                     const cairn_record *rec, int writing,
                                     char *detail, size_t detail_len)
{
    cairn_err err = check_op(st, rec, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    const cairn_op_st *op = &st->ops[rec->op];
    if (op->state != CAIRN_OP_PENDING) {
        FAIL(CAIRN_ENOTPENDING, "operation %u (%s) is %s, not pending", rec->op,
             op->id, cairn_op_state_name(op->state));
    }
    if (rec->attempt != op->attempt) {
        FAIL(CAIRN_EATTEMPT,
             "operation %u (%s): attempt %u is current, "
             "not %u",
             rec->op, op->id, op->attempt, rec->attempt);
    }
    if (rec->type == CAIRN_REC_RESOLVE && rec->reason[0] == '\0') {
        FAIL(CAIRN_EREASON, "resolving needs a reason");
    }
    return check_outcome(op, rec, writing, detail, detail_len);
}

static cairn_err apply_outcome(cairn_state *st, const cairn_record *rec,
                               char *detail, size_t detail_len)
{
    cairn_err err = cairn__state_check_outcome(st, rec, 0, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn_op_st *op = &st->ops[rec->op];
    op->last_class = rec->error_class;
    op->updated_ns = rec->wall_ns;
    op->done_seq = rec->outcome == CAIRN_OUTCOME_COMPLETED ? rec->seq : 0;
    cairn__facts_move(st, rec->op, (cairn_op_state)rec->outcome);
    return CAIRN_OK;
}

static cairn_err apply_retry(cairn_state *st, const cairn_record *rec,
                             char *detail, size_t detail_len)
{
    cairn_err err = check_op(st, rec, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn_op_st *op = &st->ops[rec->op];
    if (finished(st)) {
        FAIL(CAIRN_EFINISHED, "run %s has ended", st->run_id);
    }
    if (op->state != CAIRN_OP_FAILED) {
        FAIL(CAIRN_ENOTFAILED, "operation %u (%s) is %s, not failed", rec->op,
             op->id, cairn_op_state_name(op->state));
    }
    if (rec->reason[0] == '\0') {
        FAIL(CAIRN_EREASON, "a retry needs a reason");
    }
    cairn__facts_move(st, rec->op, CAIRN_OP_READY);
    op->updated_ns = rec->wall_ns;
    return CAIRN_OK;
}

static cairn_err apply_end(cairn_state *st, const cairn_record *rec,
                           char *detail, size_t detail_len)
{
    if (finished(st)) {
        FAIL(CAIRN_EFINISHED, "run %s was already %s", st->run_id,
             st->cancelled ? "cancelled" : "timed out");
    }
    if (cairn__state_all_done(st)) {
        FAIL(CAIRN_EFINISHED, "run %s is complete", st->run_id);
    }
    if (rec->type == CAIRN_REC_CANCEL) {
        st->cancelled = 1;
    } else {
        st->timed_out = 1;
    }
    return CAIRN_OK;
}

int cairn__state_hold_active(const cairn_state *st, uint64_t now_ns)
{
    return st->held && (st->hold_until_ns == 0 || st->hold_until_ns > now_ns);
}

/* HOLD and RELEASE: allowed in every run state (retention, not
 * progress); a HOLD needs no hold that still counts at the record's own
 * time, a RELEASE a hold (expired or not). */
static cairn_err apply_hold(cairn_state *st, const cairn_record *rec,
                            char *detail, size_t detail_len)
{
    if (rec->reason[0] == '\0') {
        FAIL(CAIRN_EREASON, "a %s needs a reason",
             cairn_record_type_name(rec->type));
    }
    if (rec->type == CAIRN_REC_RELEASE) {
        if (!st->held) {
            FAIL(CAIRN_ESTATE, "run %s is not held", st->run_id);
        }
        st->held = 0;
        st->hold_reason[0] = '\0';
        st->hold_actor[0] = '\0';
        st->hold_until_ns = 0;
        st->hold_ns = 0;
        return CAIRN_OK;
    }
    if (cairn__state_hold_active(st, rec->wall_ns)) {
        FAIL(CAIRN_ESTATE, "run %s is already held: %s", st->run_id,
             st->hold_reason);
    }
    if (rec->until_ns != 0 && rec->until_ns <= rec->wall_ns) {
        FAIL(CAIRN_EINVAL,
             "hold until %llu is not after the record's time "
             "%llu",
             (unsigned long long)rec->until_ns,
             (unsigned long long)rec->wall_ns);
    }
    if (strlen(rec->reason) > CAIRN_MAX_HOLD_REASON ||
        strlen(rec->actor) > CAIRN_MAX_TEXT) {
        FAIL(CAIRN_EINVAL, "hold reason or actor too long");
    }
    memcpy(st->hold_reason, rec->reason, strlen(rec->reason) + 1);
    memcpy(st->hold_actor, rec->actor, strlen(rec->actor) + 1);
    st->held = 1;
    st->hold_until_ns = rec->until_ns;
    st->hold_ns = rec->wall_ns;
    return CAIRN_OK;
}

static cairn_err dispatch(cairn_state *st, const cairn_record *rec,
                          char *detail, size_t detail_len)
{
    switch (rec->type) {
    case CAIRN_REC_CREATE:
        FAIL(CAIRN_ECORRUPT, "seq %llu: a second create record",
             (unsigned long long)rec->seq);
    case CAIRN_REC_ACCEPT:
        return apply_accept(st, rec, detail, detail_len);
    case CAIRN_REC_CLAIM:
        return apply_claim(st, rec, detail, detail_len);
    case CAIRN_REC_RECEIPT:
    case CAIRN_REC_RESOLVE:
        return apply_outcome(st, rec, detail, detail_len);
    case CAIRN_REC_RETRY:
        return apply_retry(st, rec, detail, detail_len);
    case CAIRN_REC_CANCEL:
    case CAIRN_REC_TIMEOUT:
        return apply_end(st, rec, detail, detail_len);
    case CAIRN_REC_PRUNE:
        break; /* cairn__state_apply() hands it over whole */
    case CAIRN_REC_ROTATE:
        break; /* a journal record, never a run's: corrupt here */
    case CAIRN_REC_HOLD:
    case CAIRN_REC_RELEASE:
        return apply_hold(st, rec, detail, detail_len);
    }
    FAIL(CAIRN_ECORRUPT, "seq %llu: unknown record type %d",
         (unsigned long long)rec->seq, (int)rec->type);
}

cairn_err cairn__state_apply(cairn_state *st, const cairn_record *rec,
                             const uint8_t hash[CAIRN_HASH_BYTES],
                             uint64_t position, char *detail, size_t detail_len)
{
    if (st->pruned) {
        FAIL(CAIRN_EPRUNED,
             "run %s was pruned: only its tombstone remains (seq %llu)",
             st->run_id, (unsigned long long)(st->next_seq - 1));
    }
    if (rec->run_num != st->run_num || rec->seq != st->next_seq) {
        FAIL(CAIRN_ECORRUPT,
             "record run %llu seq %llu where run %llu seq "
             "%llu was expected",
             (unsigned long long)rec->run_num, (unsigned long long)rec->seq,
             (unsigned long long)st->run_num, (unsigned long long)st->next_seq);
    }
    if (memcmp(rec->prev, st->head, CAIRN_HASH_BYTES) != 0) {
        FAIL(CAIRN_ECORRUPT,
             "seq %llu: prev does not match the hash of "
             "seq %llu",
             (unsigned long long)rec->seq,
             (unsigned long long)(st->next_seq - 1));
    }
    if (rec->type == CAIRN_REC_PRUNE) {
        return cairn__state_apply_prune(st, rec, hash, position, detail,
                                        detail_len);
    }
    /* Every rule is checked before the one field it changes, and the
     * dispatch functions change nothing before their last check, so a
     * failure leaves the state as it was.  The facts' room is made first,
     * so that no change can fail. */
    cairn_err err = cairn__facts_reserve(st);
    if (err == CAIRN_OK) {
        uint32_t more = rec->type == CAIRN_REC_ACCEPT
                            ? st->op_counts[CAIRN_OP_BLOCKED] + 1u
                            : 1u;
        err = cairn__state_dirty_reserve(st, more);
    }
    if (err != CAIRN_OK) {
        FAIL(err, "run %s: out of memory", st->run_id);
    }
    /* A writer's rows: every row the record needs is loaded (and proven
     * by the loader) before anything changes. */
    err = cairn__state_prefetch(st, rec, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    err = dispatch(st, rec, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    st->next_seq = rec->seq + 1;
    memcpy(st->head, hash, CAIRN_HASH_BYTES);
    st->last_pos = position;
    /* A hold is no progress: age rules and watermarks read updated_ns. */
    if (rec->type != CAIRN_REC_HOLD && rec->type != CAIRN_REC_RELEASE) {
        st->updated_ns = rec->wall_ns;
    }
    return CAIRN_OK;
}
