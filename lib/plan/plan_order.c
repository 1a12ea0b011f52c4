/*
 * plan_order.c - rules that span operations: unique operation ids, no
 * mutating operation before the last preflight, and per target a stop/start
 * alternation that starts with stop and ends with start.
 *
 * Ids and targets are checked by sorting (key, position) pairs, so a plan of
 * CAIRN_MAX_OPS operations costs O(n log n).  When several operations break
 * a rule, the one earliest in the plan is reported.
 */
#include "plan/plan_json.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    const char *key;
    size_t index;
} entry;

/* A broken stop/start rule, reported at operation `at`. */
typedef enum pairing_fault {
    FAULT_NONE = 0,
    FAULT_START_WITHOUT_STOP,
    FAULT_STOP_TWICE,
    FAULT_STOP_NEVER_STARTED
} pairing_fault;

typedef struct violation {
    pairing_fault fault;
    size_t at;
    size_t other;
} violation;

static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a;
    const entry *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0) {
        return c;
    }
    return (x->index > y->index) - (x->index < y->index);
}

static cairn_err check_unique_ids(const cairn_plan_diag *d,
                                  const cairn_plan *plan, entry *e)
{
    size_t n = plan->n_ops;
    size_t dup = SIZE_MAX;
    size_t first = 0;
    for (size_t i = 0; i < n; i++) {
        e[i].key = plan->ops[i].id;
        e[i].index = i;
    }
    qsort(e, n, sizeof(*e), entry_cmp);
    size_t group = 0;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(e[i].key, e[group].key) != 0) {
            group = i;
        } else if (i == group + 1 && e[i].index < dup) {
            dup = e[i].index;
            first = e[group].index;
        }
    }
    if (dup == SIZE_MAX) {
        return CAIRN_OK;
    }
    char op_path[CAIRN_PLAN_PATH_MAX];
    char path[CAIRN_PLAN_PATH_MAX];
    char q[CAIRN_PLAN_QUOTE_MAX];
    cairn__plan_path_index(op_path, "$.operations", dup);
    cairn__plan_path_key(path, op_path, "id");
    cairn__plan_quote(plan->ops[dup].id, q);
    return cairn__plan_fail(d, path,
                            "duplicate operation id \"%s\" (first at "
                            "$.operations[%zu])",
                            q, first);
}

static cairn_err check_preflight_first(const cairn_plan_diag *d,
                                       const cairn_plan *plan)
{
    size_t last_preflight = SIZE_MAX;
    size_t first_mutating = SIZE_MAX;
    for (size_t i = 0; i < plan->n_ops; i++) {
        if (!cairn__kind_mutating(plan->ops[i].kind)) {
            last_preflight = i;
        } else if (first_mutating == SIZE_MAX) {
            first_mutating = i;
        }
    }
    if (last_preflight == SIZE_MAX || first_mutating == SIZE_MAX ||
        first_mutating > last_preflight) {
        return CAIRN_OK;
    }
    char path[CAIRN_PLAN_PATH_MAX];
    cairn__plan_path_index(path, "$.operations", first_mutating);
    return cairn__plan_fail(d, path,
                            "mutating operation (%s) before the last "
                            "preflight operation $.operations[%zu]",
                            cairn_kind_name(plan->ops[first_mutating].kind),
                            last_preflight);
}

/* Walk the stop/start operations of one target, in plan order. */
static violation check_group(const cairn_plan *plan, const entry *e, size_t n)
{
    violation v = {FAULT_NONE, 0, 0};
    size_t stopped_by = SIZE_MAX;
    for (size_t j = 0; j < n; j++) {
        size_t at = e[j].index;
        if (plan->ops[at].kind == CAIRN_KIND_STOP) {
            if (stopped_by != SIZE_MAX) {
                v = (violation){FAULT_STOP_TWICE, at, stopped_by};
                return v;
            }
            stopped_by = at;
        } else if (stopped_by == SIZE_MAX) {
            v = (violation){FAULT_START_WITHOUT_STOP, at, 0};
            return v;
        } else {
            stopped_by = SIZE_MAX;
        }
    }
    if (stopped_by != SIZE_MAX) {
        v = (violation){FAULT_STOP_NEVER_STARTED, stopped_by, 0};
    }
    return v;
}

static cairn_err report_pairing(const cairn_plan_diag *d,
                                const cairn_plan *plan, violation v)
{
    char path[CAIRN_PLAN_PATH_MAX];
    char q[CAIRN_PLAN_QUOTE_MAX];
    if (v.fault == FAULT_NONE) {
        return CAIRN_OK;
    }
    cairn__plan_path_index(path, "$.operations", v.at);
    cairn__plan_quote(plan->ops[v.at].target, q);
    switch (v.fault) {
    case FAULT_START_WITHOUT_STOP:
        return cairn__plan_fail(
            d, path, "start of target \"%s\" without an earlier stop", q);
    case FAULT_STOP_TWICE:
        return cairn__plan_fail(d, path,
                                "stop of target \"%s\", which is already "
                                "stopped by $.operations[%zu]",
                                q, v.other);
    case FAULT_STOP_NEVER_STARTED:
        return cairn__plan_fail(
            d, path, "stop of target \"%s\" is never followed by a start", q);
    case FAULT_NONE:
        break;
    }
    return CAIRN_OK;
}

static cairn_err check_pairing(const cairn_plan_diag *d, const cairn_plan *plan,
                               entry *e)
{
    size_t m = 0;
    for (size_t i = 0; i < plan->n_ops; i++) {
        const cairn_plan_op *op = &plan->ops[i];
        if (op->kind == CAIRN_KIND_STOP || op->kind == CAIRN_KIND_START) {
            e[m].key = op->target;
            e[m].index = i;
            m++;
        }
    }
    qsort(e, m, sizeof(*e), entry_cmp);
    violation worst = {FAULT_NONE, SIZE_MAX, 0};
    size_t group = 0;
    for (size_t i = 1; i <= m; i++) {
        if (i < m && strcmp(e[i].key, e[group].key) == 0) {
            continue;
        }
        violation v = check_group(plan, e + group, i - group);
        if (v.fault != FAULT_NONE && v.at < worst.at) {
            worst = v;
        }
        group = i;
    }
    return report_pairing(d, plan, worst);
}

cairn_err cairn__plan_check_order(const cairn_plan_diag *d,
                                  const cairn_plan *plan)
{
    size_t bytes;
    if (plan->n_ops == 0) {
        return CAIRN_OK;
    }
    if (cairn__mul_size(plan->n_ops, sizeof(entry), &bytes) != 0) {
        return cairn__plan_nomem(d);
    }
    entry *e = malloc(bytes);
    if (e == NULL) {
        return cairn__plan_nomem(d);
    }
    cairn_err err = check_unique_ids(d, plan, e);
    if (err == CAIRN_OK) {
        err = check_preflight_first(d, plan);
    }
    if (err == CAIRN_OK) {
        err = check_pairing(d, plan, e);
    }
    free(e);
    return err;
}
