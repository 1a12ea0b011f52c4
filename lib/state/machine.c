/*
 * machine.c - the run state machine (docs/DESIGN.md section 3).  Pure: every
 * rule is checked before anything changes, so a rejected record leaves the
 * state untouched.
 */
#include "state/facts.h"

#include <stdlib.h>
#include <string.h>

static void free_requires(cairn_op_st *op)
{
    cairn__requires_free(op->requires, op->require_rules, op->n_requires);
    op->requires = NULL;
    op->require_rules = NULL;
    op->n_requires = 0;
}

void cairn__state_free(cairn_state *st)
{
    if (st == NULL) {
        return;
    }
    for (uint32_t i = 0; i < st->n_ops && st->ops != NULL; i++) {
        if (st->loaded != NULL && st->loaded[i / 8] == 0) {
            i |= 7u; /* none of these eight rows is loaded */
            continue;
        }
        if (cairn__state_has_row(st, i)) {
            free_requires(&st->ops[i]);
        }
    }
    free(st->ops);
    free(st->loaded);
    free(st->stopped);
    free(st->pending);
    free(st->dirty);
    memset(st, 0, sizeof(*st));
}

static cairn_err copy_requires(cairn_op_st *dst, char *const *src,
                               const cairn_output_rule *rules, size_t n)
{
    dst->n_requires = 0;
    cairn_err err = cairn__requires_copy(src, rules, n, &dst->requires,
                                         &dst->require_rules);
    if (err == CAIRN_OK) {
        dst->n_requires = n;
    }
    return err;
}

cairn_err cairn__state_copy(const cairn_state *src, cairn_state *dst)
{
    *dst = *src;
    dst->ops = NULL;
    dst->loaded = NULL;
    dst->load_row = NULL; /* the copy outlives the loader's context */
    dst->load_ctx = NULL;
    dst->dirty = NULL;
    dst->n_dirty = dst->dirty_cap = 0;
    dst->n_ops = 0;
    dst->stopped = dst->pending = NULL;
    dst->stopped_cap = dst->pending_cap = 0;
    if (cairn__facts_reserve(dst) != CAIRN_OK) {
        cairn__state_free(dst);
        return CAIRN_ENOMEM;
    }
    if (src->n_stopped > 0) {
        if (cairn__facts_copy_set(&dst->stopped, &dst->stopped_cap,
                                  src->stopped, src->n_stopped) != CAIRN_OK) {
            cairn__state_free(dst);
            return CAIRN_ENOMEM;
        }
    }
    uint32_t np = src->pruned ? 0 : src->op_counts[CAIRN_OP_PENDING];
    if (np > 0 && cairn__facts_copy_set(&dst->pending, &dst->pending_cap,
                                        src->pending, np) != CAIRN_OK) {
        cairn__state_free(dst);
        return CAIRN_ENOMEM;
    }
    if (src->n_dirty > 0 &&
        (cairn__state_dirty_reserve(dst, src->n_dirty) != CAIRN_OK ||
         dst->dirty == NULL)) {
        cairn__state_free(dst);
        return CAIRN_ENOMEM;
    }
    if (src->n_dirty > 0) {
        memcpy(dst->dirty, src->dirty, src->n_dirty * sizeof(uint32_t));
        dst->n_dirty = src->n_dirty;
    }
    if (src->n_ops == 0 || src->ops == NULL) { /* a stub or a summary */
        dst->n_ops = src->n_ops;
        return CAIRN_OK;
    }
    /* A writer's rows: only those the bitmap marks are ever read. */
    dst->ops = src->loaded != NULL
                   ? malloc((size_t)src->n_ops * sizeof(cairn_op_st))
                   : calloc(src->n_ops, sizeof(cairn_op_st));
    if (dst->ops == NULL) {
        cairn__state_free(dst);
        return CAIRN_ENOMEM;
    }
    if (src->loaded != NULL) {
        size_t bytes = ((size_t)src->n_ops + 7) / 8;
        dst->loaded = malloc(bytes);
        if (dst->loaded == NULL) {
            cairn__state_free(dst);
            return CAIRN_ENOMEM;
        }
        memcpy(dst->loaded, src->loaded, bytes);
    }
    for (uint32_t i = 0; i < src->n_ops; i++) {
        dst->n_ops = i;
        if (src->loaded != NULL && src->loaded[i / 8] == 0) {
            i |= 7u; /* none of these eight rows is loaded */
            continue;
        }
        if (!cairn__state_has_row(src, i)) {
            continue;
        }
        dst->ops[i] = src->ops[i];
        cairn_err err =
            copy_requires(&dst->ops[i], src->ops[i].requires,
                          src->ops[i].require_rules, src->ops[i].n_requires);
        dst->n_ops = i + 1;
        if (err != CAIRN_OK) {
            dst->ops[i].requires = NULL;
            dst->ops[i].require_rules = NULL;
            dst->ops[i].n_requires = 0;
            cairn__state_free(dst);
            return err;
        }
    }
    dst->n_ops = src->n_ops;
    return CAIRN_OK;
}

static cairn_err init_op(cairn_op_st *op, const cairn_plan_op *p)
{
    memset(op, 0, sizeof(*op));
    if (cairn__strlcpy(op->id, p->id, sizeof(op->id)) != CAIRN_OK ||
        cairn__strlcpy(op->target, p->target ? p->target : "",
                       sizeof(op->target)) != CAIRN_OK) {
        return CAIRN_ECORRUPT;
    }
    op->kind = p->kind;
    op->idempotent = p->idempotent ? 1 : 0;
    op->has_probe = p->probe.n > 0 ? 1 : 0;
    op->state =
        cairn__kind_mutating(p->kind) ? CAIRN_OP_BLOCKED : CAIRN_OP_READY;
    op->last_class = CAIRN_CLASS_NONE;
    return copy_requires(op, p->requires, p->require_rules, p->n_requires);
}

cairn_err cairn__state_init(cairn_state *st, const cairn_plan *plan,
                            const cairn_record *create,
                            const uint8_t hash[CAIRN_HASH_BYTES],
                            uint64_t position, char *detail, size_t detail_len)
{
    memset(st, 0, sizeof(*st));
    if (create->type != CAIRN_REC_CREATE || create->seq != 0 ||
        plan->n_ops == 0 || plan->n_ops > CAIRN_MAX_OPS) {
        cairn__fmt(detail, detail_len, "seq %llu: not a run's first record",
                   (unsigned long long)create->seq);
        return CAIRN_ECORRUPT;
    }
    if (memcmp(plan->hash, create->plan_hash, CAIRN_HASH_BYTES) != 0 ||
        strcmp(plan->plan_id, create->plan_id) != 0) {
        cairn__fmt(detail, detail_len, "seq 0: plan hash or id differs");
        return CAIRN_EPLAN_MISMATCH;
    }
    st->ops = calloc(plan->n_ops, sizeof(cairn_op_st));
    if (st->ops == NULL) {
        return CAIRN_ENOMEM;
    }
    for (size_t i = 0; i < plan->n_ops; i++) {
        cairn_err err = init_op(&st->ops[i], &plan->ops[i]);
        st->n_ops = (uint32_t)(i + 1);
        if (err != CAIRN_OK) {
            cairn__state_free(st);
            return err;
        }
        st->ops[i].updated_ns = create->wall_ns;
    }
    st->run_num = create->run_num;
    if (cairn__strlcpy(st->run_id, create->run_id, sizeof(st->run_id)) ||
        cairn__strlcpy(st->plan_id, create->plan_id, sizeof(st->plan_id))) {
        cairn__state_free(st);
        return CAIRN_ECORRUPT;
    }
    memcpy(st->plan_hash, create->plan_hash, CAIRN_HASH_BYTES);
    st->signed_run = create->signed_run;
    memcpy(st->key_id, create->key_id, CAIRN_KEY_ID_BYTES);
    st->next_seq = 1;
    memcpy(st->head, hash, CAIRN_HASH_BYTES);
    st->last_pos = position;
    st->created_ns = st->updated_ns = create->wall_ns;
    if (cairn__state_derive(st) != CAIRN_OK) {
        cairn__state_free(st);
        return CAIRN_ENOMEM;
    }
    return CAIRN_OK;
}

int64_t cairn__state_head(const cairn_state *st)
{
    return st->head_op < st->n_ops ? (int64_t)st->head_op : -1;
}

int cairn__state_op_stopped(const cairn_state *st, uint32_t op)
{
    if (op >= st->n_ops || st->ops[op].anchor == CAIRN_NO_ANCHOR) {
        return 0;
    }
    return cairn__facts_has(st->stopped, st->n_stopped, st->ops[op].anchor);
}

int cairn__state_halted(const cairn_state *st)
{
    if (st->cancelled || st->timed_out) {
        return 1;
    }
    int64_t head = cairn__state_head(st);
    return head >= 0 && st->ops[head].state == CAIRN_OP_FAILED &&
           st->ops[head].last_class == CAIRN_CLASS_TERMINAL;
}

int cairn__state_all_done(const cairn_state *st)
{
    return (uint64_t)st->op_counts[CAIRN_OP_COMPLETED] +
               st->op_counts[CAIRN_OP_SKIPPED] ==
           st->n_ops;
}
