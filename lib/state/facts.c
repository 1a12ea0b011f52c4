/*
 * facts.c - a run's incremental facts (docs/FORMAT.md section 23.2): the
 * op counts, the head, the done prefix, the restart targets and the
 * pending ops, kept up to date as each operation changes state, so that
 * the machine's rules read O(1) operations instead of scanning them; and
 * the same facts computed from scratch (cairn__state_derive()).
 */
#include "state/facts.h"

#include <stdlib.h>
#include <string.h>

static int in_head_set(cairn_op_state s)
{
    return s == CAIRN_OP_READY || s == CAIRN_OP_PENDING || s == CAIRN_OP_FAILED;
}

static int is_done(cairn_op_state s)
{
    return s == CAIRN_OP_COMPLETED || s == CAIRN_OP_SKIPPED;
}

/* Room for @p need entries in *arr (capacity *cap). */
static cairn_err reserve(uint32_t **arr, uint32_t *cap, uint32_t need)
{
    if (need <= *cap) {
        return CAIRN_OK;
    }
    uint32_t n = *cap < 4 ? 4 : *cap;
    while (n < need) {
        n = n > UINT32_MAX / 2 ? need : n * 2;
    }
    uint32_t *p = realloc(*arr, (size_t)n * sizeof(uint32_t));
    if (p == NULL) {
        return CAIRN_ENOMEM;
    }
    *arr = p;
    *cap = n;
    return CAIRN_OK;
}

cairn_err cairn__facts_reserve(cairn_state *st)
{
    cairn_err err = reserve(&st->stopped, &st->stopped_cap, st->n_stopped + 1);
    if (err == CAIRN_OK) {
        err = reserve(&st->pending, &st->pending_cap,
                      st->op_counts[CAIRN_OP_PENDING] + 1);
    }
    return err;
}

/* Index of the first entry >= @p v in the ascending @p arr[n]. */
static uint32_t lower_bound(const uint32_t *arr, uint32_t n, uint32_t v)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (arr[mid] < v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

int cairn__facts_has(const uint32_t *arr, uint32_t n, uint32_t v)
{
    uint32_t i = lower_bound(arr, n, v);
    return i < n && arr[i] == v;
}

/* Insert @p v into the ascending @p arr[*n] (room reserved), unless it is
 * there already. */
static void set_insert(uint32_t *arr, uint32_t *n, uint32_t v)
{
    uint32_t i = lower_bound(arr, *n, v);
    if (i < *n && arr[i] == v) {
        return;
    }
    memmove(arr + i + 1, arr + i, (size_t)(*n - i) * sizeof(uint32_t));
    arr[i] = v;
    (*n)++;
}

static void set_remove(uint32_t *arr, uint32_t *n, uint32_t v)
{
    uint32_t i = lower_bound(arr, *n, v);
    if (i < *n && arr[i] == v) {
        memmove(arr + i, arr + i + 1, (size_t)(*n - i - 1) * sizeof(uint32_t));
        (*n)--;
    }
}

/* The first op at or after @p from that is ready, pending or failed. */
static uint32_t scan_head(const cairn_state *st, uint32_t from)
{
    uint32_t i = from;
    while (i < st->n_ops && !in_head_set(st->ops[i].state)) {
        i++;
    }
    return i;
}

static uint32_t scan_done(const cairn_state *st, uint32_t from)
{
    uint32_t i = from;
    while (i < st->n_ops && is_done(st->ops[i].state)) {
        i++;
    }
    return i;
}

void cairn__facts_move(cairn_state *st, uint32_t i, cairn_op_state to)
{
    cairn_op_st *op = &st->ops[i];
    cairn_op_state from = op->state;
    op->state = to;
    cairn__state_dirty_add(st, i);
    /* op_counts[pending] is also the length of the pending list. */
    if (from == CAIRN_OP_PENDING) {
        set_remove(st->pending, &st->op_counts[CAIRN_OP_PENDING], i);
    } else {
        st->op_counts[from]--;
    }
    if (to == CAIRN_OP_PENDING) {
        set_insert(st->pending, &st->op_counts[CAIRN_OP_PENDING], i);
    } else {
        st->op_counts[to]++;
    }
    if (to == CAIRN_OP_COMPLETED) { /* terminal: counted once */
        if (op->kind == CAIRN_KIND_PREFLIGHT) {
            st->preflight_open--;
        } else if (op->kind == CAIRN_KIND_STOP &&
                   op->anchor != CAIRN_NO_ANCHOR) {
            set_insert(st->stopped, &st->n_stopped, op->anchor);
        } else if (op->kind == CAIRN_KIND_START &&
                   op->anchor != CAIRN_NO_ANCHOR) {
            set_remove(st->stopped, &st->n_stopped, op->anchor);
        }
    }
    if (in_head_set(to) && i < st->head_op) {
        st->head_op = i;
    } else if (!in_head_set(to) && i == st->head_op) {
        st->head_op = scan_head(st, i + 1);
    }
    if (is_done(to) && i == st->done_prefix) {
        st->done_prefix = scan_done(st, i + 1);
    }
}

typedef struct target_ref {
    const char *target;
    uint32_t op;
} target_ref;

static int by_target(const void *a, const void *b)
{
    const target_ref *x = a, *y = b;
    int c = strcmp(x->target, y->target);
    if (c != 0) {
        return c;
    }
    return x->op < y->op ? -1 : x->op > y->op;
}

static int has_anchor(cairn_kind kind)
{
    return kind == CAIRN_KIND_STOP || kind == CAIRN_KIND_START;
}

cairn_err cairn__facts_anchors(cairn_state *st)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < st->n_ops; i++) {
        st->ops[i].anchor = CAIRN_NO_ANCHOR;
        n += has_anchor(st->ops[i].kind) && st->ops[i].target[0] != '\0';
    }
    if (n == 0) {
        return CAIRN_OK;
    }
    target_ref *refs = malloc((size_t)n * sizeof(*refs));
    if (refs == NULL) {
        return CAIRN_ENOMEM;
    }
    for (uint32_t i = 0, k = 0; i < st->n_ops; i++) {
        if (has_anchor(st->ops[i].kind) && st->ops[i].target[0] != '\0') {
            refs[k].target = st->ops[i].target;
            refs[k++].op = i;
        }
    }
    qsort(refs, n, sizeof(*refs), by_target);
    for (uint32_t k = 0, first = 0; k < n; k++) {
        if (k == 0 || strcmp(refs[k].target, refs[k - 1].target) != 0) {
            first = refs[k].op;
        }
        st->ops[refs[k].op].anchor = first;
    }
    free(refs);
    return CAIRN_OK;
}

/* The stopped targets from scratch: for each anchor, is the completed
 * stop-or-start of the target with the highest done_seq a stop?  Uses
 * @p last[n_ops] (zeroed) as scratch: last[anchor] = 1 + that op. */
static void derive_stopped(cairn_state *st, uint32_t *last)
{
    for (uint32_t i = 0; i < st->n_ops; i++) {
        const cairn_op_st *op = &st->ops[i];
        if (op->anchor == CAIRN_NO_ANCHOR || op->state != CAIRN_OP_COMPLETED) {
            continue;
        }
        uint32_t l = last[op->anchor];
        if (l == 0 || st->ops[l - 1].done_seq < op->done_seq) {
            last[op->anchor] = i + 1;
        }
    }
    st->n_stopped = 0;
    for (uint32_t a = 0; a < st->n_ops; a++) {
        if (last[a] != 0 && st->ops[last[a] - 1].kind == CAIRN_KIND_STOP) {
            st->stopped[st->n_stopped++] = a;
        }
    }
}

cairn_err cairn__state_derive(cairn_state *st)
{
    if (st->pruned || st->n_ops == 0) {
        return CAIRN_OK;
    }
    uint32_t *last = calloc(st->n_ops, sizeof(uint32_t));
    uint32_t *stopped = malloc((size_t)st->n_ops * sizeof(uint32_t));
    uint32_t *pending = malloc((size_t)st->n_ops * sizeof(uint32_t));
    cairn_err err = last != NULL && stopped != NULL && pending != NULL
                        ? cairn__facts_anchors(st)
                        : CAIRN_ENOMEM;
    if (err != CAIRN_OK) {
        free(last);
        free(stopped);
        free(pending);
        return err;
    }
    free(st->stopped);
    free(st->pending);
    st->stopped = stopped;
    st->pending = pending;
    st->stopped_cap = st->pending_cap = st->n_ops;
    memset(st->op_counts, 0, sizeof(st->op_counts));
    st->op_counts[0] = st->n_ops;
    st->preflight_open = 0;
    st->attempted_end = 0;
    for (uint32_t i = 0; i < st->n_ops; i++) {
        const cairn_op_st *op = &st->ops[i];
        if (op->state == CAIRN_OP_PENDING) {
            st->pending[st->op_counts[CAIRN_OP_PENDING]] = i;
        }
        st->op_counts[op->state]++;
        st->preflight_open +=
            op->kind == CAIRN_KIND_PREFLIGHT && op->state != CAIRN_OP_COMPLETED;
        if (op->attempt > 0) {
            st->attempted_end = i + 1;
        }
    }
    st->head_op = scan_head(st, 0);
    st->done_prefix = scan_done(st, 0);
    derive_stopped(st, last);
    free(last);
    return CAIRN_OK;
}

int cairn__facts_equal(const cairn_state *a, const cairn_state *b)
{
    return a->n_ops == b->n_ops &&
           memcmp(a->op_counts, b->op_counts, sizeof(a->op_counts)) == 0 &&
           a->preflight_open == b->preflight_open && a->head_op == b->head_op &&
           a->done_prefix == b->done_prefix &&
           a->attempted_end == b->attempted_end &&
           a->n_stopped == b->n_stopped &&
           (a->n_stopped == 0 ||
            memcmp(a->stopped, b->stopped,
                   (size_t)a->n_stopped * sizeof(uint32_t)) == 0) &&
           (a->op_counts[CAIRN_OP_PENDING] == 0 ||
            memcmp(a->pending, b->pending,
                   (size_t)a->op_counts[CAIRN_OP_PENDING] * sizeof(uint32_t)) ==
                0);
}

cairn_err cairn__facts_copy_set(uint32_t **arr, uint32_t *cap,
                                const uint32_t *src, uint32_t n)
{
    cairn_err err = reserve(arr, cap, n + 1);
    if (err == CAIRN_OK) {
        memcpy(*arr, src, (size_t)n * sizeof(uint32_t));
    }
    return err;
}
