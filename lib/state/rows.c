/*
 * rows.c - a writer's rows (docs/FORMAT.md 23.5): a state whose ops are
 * loaded one at a time as the machine needs them (each proven by the
 * caller's loader), which rows a record needs before its first change,
 * and the list of rows the machine changed, which the writer rewrites.
 */
#include "state/facts.h"

#include <stdlib.h>
#include <string.h>

#define FAIL(code, ...)                                                        \
    do {                                                                       \
        cairn__fmt(detail, detail_len, __VA_ARGS__);                           \
        return (code);                                                         \
    } while (0)

cairn_err cairn__state_lazy(cairn_state *st, cairn_row_loader load, void *ctx)
{
    size_t n = st->n_ops > 0 ? st->n_ops : 1;
    /* Not zeroed: only the rows the bitmap marks are ever read, and
     * zeroing the whole array would cost O(n_ops) per transition. */
    cairn_op_st *ops = malloc(n * sizeof(cairn_op_st));
    uint8_t *loaded = calloc((n + 7) / 8, 1);
    if (ops == NULL || loaded == NULL) {
        free(ops);
        free(loaded);
        return CAIRN_ENOMEM;
    }
    free(st->ops);
    free(st->loaded);
    st->ops = ops;
    st->loaded = loaded;
    st->load_row = load;
    st->load_ctx = ctx;
    st->track_rows = 1;
    return CAIRN_OK;
}

void cairn__state_detach(cairn_state *st)
{
    st->load_row = NULL;
    st->load_ctx = NULL;
}

int cairn__state_has_row(const cairn_state *st, uint32_t op)
{
    if (op >= st->n_ops || st->ops == NULL) {
        return 0;
    }
    return st->loaded == NULL ||
           (((unsigned)st->loaded[op / 8] >> (op % 8)) & 1u) != 0;
}

cairn_err cairn__state_need(cairn_state *st, uint32_t op, char *detail,
                            size_t detail_len)
{
    if (cairn__state_has_row(st, op)) {
        return CAIRN_OK;
    }
    if (op >= st->n_ops || st->ops == NULL || st->load_row == NULL) {
        FAIL(CAIRN_EINVAL, "run %s: the row of operation %u is not loaded",
             st->run_id, op);
    }
    cairn_op_st row;
    cairn_err err =
        st->load_row(st->load_ctx, st, op, &row, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    st->ops[op] = row;
    st->loaded[op / 8] |= (uint8_t)(1u << (op % 8));
    st->rows_loaded++;
    return CAIRN_OK;
}

cairn_err cairn__state_need_all(cairn_state *st, char *detail,
                                size_t detail_len)
{
    for (uint32_t i = 0; st->loaded != NULL && i < st->n_ops; i++) {
        cairn_err err = cairn__state_need(st, i, detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    return CAIRN_OK;
}

static int in_head_set(cairn_op_state s)
{
    return s == CAIRN_OP_READY || s == CAIRN_OP_PENDING || s == CAIRN_OP_FAILED;
}

static int is_done(cairn_op_state s)
{
    return s == CAIRN_OP_COMPLETED || s == CAIRN_OP_SKIPPED;
}

/* The rows from @p from on that the head (@p head 1) or the done prefix
 * (0) moves across, and the one it stops at: facts.c's scans. */
static cairn_err need_scan(cairn_state *st, uint32_t from, int head,
                           char *detail, size_t detail_len)
{
    for (uint32_t i = from; i < st->n_ops; i++) {
        cairn_err err = cairn__state_need(st, i, detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
        cairn_op_state s = st->ops[i].state;
        if (head ? in_head_set(s) : !is_done(s)) {
            break;
        }
    }
    return CAIRN_OK;
}

/* A RECEIPT or RESOLVE of op @p op: the op, and the rows the head and
 * the done prefix move across when it completes or is skipped. */
static cairn_err need_outcome(cairn_state *st, uint32_t op,
                              cairn_outcome outcome, char *detail,
                              size_t detail_len)
{
    cairn_err err = cairn__state_need(st, op, detail, detail_len);
    if (err != CAIRN_OK || outcome == CAIRN_OUTCOME_FAILED) {
        return err;
    }
    if (op == st->head_op) {
        err = need_scan(st, op + 1, 1, detail, detail_len);
    }
    if (err == CAIRN_OK && op == st->done_prefix) {
        err = need_scan(st, op + 1, 0, detail, detail_len);
    }
    return err;
}

cairn_err cairn__state_prefetch(cairn_state *st, const cairn_record *rec,
                                char *detail, size_t detail_len)
{
    if (st->loaded == NULL || st->pruned) {
        return CAIRN_OK; /* every row is there */
    }
    int has_op = rec->op < st->n_ops;
    cairn_err err = CAIRN_OK;
    switch (rec->type) {
    case CAIRN_REC_CLAIM: /* the op; the head: is the run halted? */
        err = has_op ? cairn__state_need(st, rec->op, detail, detail_len)
                     : CAIRN_OK;
        if (err == CAIRN_OK && st->head_op < st->n_ops) {
            err = cairn__state_need(st, st->head_op, detail, detail_len);
        }
        return err;
    case CAIRN_REC_RECEIPT:
    case CAIRN_REC_RESOLVE:
        return has_op
                   ? need_outcome(st, rec->op, rec->outcome, detail, detail_len)
                   : CAIRN_OK;
    case CAIRN_REC_RETRY:
        return has_op ? cairn__state_need(st, rec->op, detail, detail_len)
                      : CAIRN_OK;
    case CAIRN_REC_ACCEPT: /* every row, unless it is refused anyway */
        if (st->accepted || st->cancelled || st->timed_out) {
            return CAIRN_OK;
        }
        return cairn__state_need_all(st, detail, detail_len);
    case CAIRN_REC_PRUNE: /* its facts are the run's, and every row goes */
        return cairn__state_need_all(st, detail, detail_len);
    case CAIRN_REC_CREATE:
    case CAIRN_REC_CANCEL:
    case CAIRN_REC_TIMEOUT:
    case CAIRN_REC_HOLD:
    case CAIRN_REC_RELEASE:
    case CAIRN_REC_ROTATE:
        return CAIRN_OK;
    }
    return CAIRN_OK;
}

cairn_err cairn__state_dirty_reserve(cairn_state *st, uint32_t more)
{
    if (!st->track_rows || st->n_dirty + (uint64_t)more <= st->dirty_cap) {
        return CAIRN_OK;
    }
    uint64_t want = (uint64_t)st->n_dirty + more;
    uint64_t cap = st->dirty_cap < 4 ? 4 : st->dirty_cap;
    while (cap < want) {
        cap *= 2;
    }
    if (cap > UINT32_MAX) {
        return CAIRN_ENOMEM;
    }
    uint32_t *p = realloc(st->dirty, (size_t)cap * sizeof(uint32_t));
    if (p == NULL) {
        return CAIRN_ENOMEM;
    }
    st->dirty = p;
    st->dirty_cap = (uint32_t)cap;
    return CAIRN_OK;
}

void cairn__state_dirty_add(cairn_state *st, uint32_t op)
{
    if (!st->track_rows || st->dirty == NULL || st->n_dirty >= st->dirty_cap) {
        return;
    }
    if (st->n_dirty > 0 && st->dirty[st->n_dirty - 1] == op) {
        return; /* the common repeat: the same op again */
    }
    st->dirty[st->n_dirty++] = op;
}

static int by_value(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void cairn__state_dirty_sort(cairn_state *st)
{
    if (st->n_dirty < 2) {
        return;
    }
    qsort(st->dirty, st->n_dirty, sizeof(uint32_t), by_value);
    uint32_t k = 1;
    for (uint32_t i = 1; i < st->n_dirty; i++) {
        if (st->dirty[i] != st->dirty[k - 1]) {
            st->dirty[k++] = st->dirty[i];
        }
    }
    st->n_dirty = k;
}

void cairn__state_rows_clean(cairn_state *st)
{
    st->n_dirty = 0;
}
