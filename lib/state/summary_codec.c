/*
 * summary_codec.c - format 2's run summary (the `runs` value, state
 * version 2) and operation rows (the `oprows` values), and the root of a
 * run's op tree (docs/FORMAT.md section 23).  Canonical encodings; strict,
 * bounded decoding through the reader the section 9 codec uses.
 */
#include "state/codec_int.h"

#include "format/merkle.h"
#include "format/record.h"

#include <stdlib.h>
#include <string.h>

#define SUMMARY_VERSION 2

static void put_set(cairn_wr *w, const uint32_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        cairn__wr_u32(w, v[i]);
    }
}

cairn_err cairn__summary_encode(const cairn_state *st, uint8_t **out,
                                size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    cairn_wr w;
    cairn__wr_init(&w, CAIRN__STATE_MAX_BYTES);
    cairn__sc_put_header(&w, st, SUMMARY_VERSION);
    if (!st->pruned) {
        cairn__wr_u32(&w, st->n_ops);
        for (int s = 1; s < 7; s++) {
            cairn__wr_u32(&w, st->op_counts[s]);
        }
        cairn__wr_u32(&w, st->preflight_open);
        cairn__wr_u32(&w, st->head_op);
        cairn__wr_u32(&w, st->done_prefix);
        cairn__wr_u32(&w, st->attempted_end);
        cairn__wr_bytes(&w, st->ops_root, CAIRN_HASH_BYTES);
        cairn__wr_u32(&w, st->n_stopped);
        put_set(&w, st->stopped, st->n_stopped);
        put_set(&w, st->pending, st->op_counts[CAIRN_OP_PENDING]);
    }
    cairn__sc_put_hold(&w, st);
    return cairn__wr_take(&w, out, out_len);
}

/* @p n strictly ascending u32 below @p limit into a new *@p out (with
 * room for one more: the machine inserts). */
static cairn_err get_set(cairn__sc_dec *d, const char *field, uint32_t n,
                         uint32_t limit, uint32_t **out, uint32_t *cap)
{
    if ((uint64_t)n * 4 > cairn__rd_left(&d->r)) {
        return cairn__sc_bad(d, field, "truncated");
    }
    *out = malloc(((size_t)n + 1) * sizeof(uint32_t));
    if (*out == NULL) {
        cairn__fmt(d->detail, d->detail_len, "%s: out of memory", d->what);
        return CAIRN_ENOMEM;
    }
    *cap = n + 1;
    for (uint32_t i = 0; i < n; i++) {
        if (cairn__rd_u32(&d->r, &(*out)[i]) != 0 || (*out)[i] >= limit ||
            (i > 0 && (*out)[i] <= (*out)[i - 1])) {
            return cairn__sc_bad(d, field, "not ascending op numbers");
        }
    }
    return CAIRN_OK;
}

/* The facts after n_ops (section 23.2). */
static cairn_err get_facts(cairn__sc_dec *d, cairn_state *st)
{
    uint64_t sum = 0;
    uint32_t n = st->n_ops;
    st->op_counts[0] = n;
    for (int s = 1; s < 7; s++) {
        if (cairn__rd_u32(&d->r, &st->op_counts[s]) != 0) {
            return cairn__sc_bad(d, "op_counts", "truncated");
        }
        sum += st->op_counts[s];
    }
    if (sum != n) {
        return cairn__sc_bad(d, "op_counts", "do not add up to n_ops");
    }
    if (cairn__rd_u32(&d->r, &st->preflight_open) != 0 ||
        cairn__rd_u32(&d->r, &st->head_op) != 0 ||
        cairn__rd_u32(&d->r, &st->done_prefix) != 0 ||
        cairn__rd_u32(&d->r, &st->attempted_end) != 0 ||
        cairn__rd_bytes(&d->r, st->ops_root, CAIRN_HASH_BYTES) != 0 ||
        cairn__rd_u32(&d->r, &st->n_stopped) != 0) {
        return cairn__sc_bad(d, "summary", "truncated");
    }
    if (st->preflight_open > n || st->head_op > n || st->done_prefix > n ||
        st->attempted_end > n || st->done_prefix > st->head_op ||
        st->n_stopped > n) {
        return cairn__sc_bad(d, "summary", "an op number out of range");
    }
    cairn_err err =
        get_set(d, "stopped", st->n_stopped, n, &st->stopped, &st->stopped_cap);
    if (err == CAIRN_OK) {
        err = get_set(d, "pending", st->op_counts[CAIRN_OP_PENDING], n,
                      &st->pending, &st->pending_cap);
    }
    if (err == CAIRN_OK && st->op_counts[CAIRN_OP_PENDING] > 0 &&
        st->pending[0] < st->head_op) {
        err = cairn__sc_bad(d, "pending", "an op before the head");
    }
    return err;
}

cairn_err cairn__summary_decode(const uint8_t *buf, size_t len, cairn_state *st,
                                char *detail, size_t detail_len)
{
    cairn__sc_dec d = {
        .detail = detail, .detail_len = detail_len, .what = "run summary"};
    memset(st, 0, sizeof(*st));
    cairn__rd_init(&d.r, buf, len);
    cairn_err err = cairn__sc_get_header(&d, st, SUMMARY_VERSION);
    if (err == CAIRN_OK && !st->pruned) {
        err = get_facts(&d, st);
    }
    if (err == CAIRN_OK && st->held) {
        err = cairn__sc_get_hold(&d, st);
    }
    if (err == CAIRN_OK && cairn__rd_left(&d.r) != 0) {
        err = cairn__sc_bad(&d, "end", "trailing bytes");
    }
    if (err != CAIRN_OK) {
        cairn__state_free(st);
    }
    return err;
}

cairn_err cairn__oprow_encode(const cairn_op_st *op, uint8_t **out,
                              size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    cairn_wr w;
    cairn__wr_init(&w, CAIRN__STATE_MAX_BYTES);
    cairn__sc_put_op(&w, op, 1);
    return cairn__wr_take(&w, out, out_len);
}

void cairn__oprow_free(cairn_op_st *op)
{
    if (op != NULL) {
        cairn__requires_free(op->requires, op->require_rules, op->n_requires);
        op->requires = NULL;
        op->require_rules = NULL;
        op->n_requires = 0;
    }
}

static int anchored(cairn_kind kind)
{
    return kind == CAIRN_KIND_STOP || kind == CAIRN_KIND_START;
}

cairn_err cairn__oprow_decode(const uint8_t *buf, size_t len, cairn_op_st *op,
                              char *detail, size_t detail_len)
{
    cairn__sc_dec d = {
        .detail = detail, .detail_len = detail_len, .what = "op row"};
    memset(op, 0, sizeof(*op));
    cairn__rd_init(&d.r, buf, len);
    cairn_err err = cairn__sc_get_op(&d, op, 1);
    if (err == CAIRN_OK &&
        anchored(op->kind) != (op->anchor != CAIRN_NO_ANCHOR)) {
        err = cairn__sc_bad(&d, "anchor", "does not fit the op's kind");
    }
    if (err == CAIRN_OK && cairn__rd_left(&d.r) != 0) {
        err = cairn__sc_bad(&d, "end", "trailing bytes");
    }
    if (err != CAIRN_OK) {
        cairn__oprow_free(op);
        memset(op, 0, sizeof(*op));
    }
    return err;
}

cairn_err cairn__oprow_leaf(const cairn_op_st *op,
                            uint8_t leaf[CAIRN_HASH_BYTES])
{
    uint8_t *row = NULL;
    size_t row_len = 0;
    cairn_err err = cairn__oprow_encode(op, &row, &row_len);
    if (err == CAIRN_OK) {
        cairn__leaf_hash(row, row_len, leaf);
    }
    free(row);
    return err;
}

cairn_err cairn__state_ops_root(cairn_state *st, cairn_mt_put on_node,
                                void *ctx)
{
    cairn_mt_stream ms;
    uint8_t leaf[CAIRN_HASH_BYTES];
    char why[128];
    cairn__mt_stream_init(&ms, on_node, ctx);
    for (uint32_t i = 0; i < st->n_ops; i++) {
        cairn_err err = cairn__state_has_row(st, i)
                            ? cairn__oprow_leaf(&st->ops[i], leaf)
                            : CAIRN_EINVAL; /* a writer's, not every row */
        if (err == CAIRN_OK) {
            err = cairn__mt_stream_push(&ms, leaf, why, sizeof(why));
        }
        if (err != CAIRN_OK) {
            return err;
        }
    }
    cairn__mt_stream_root(&ms, st->ops_root);
    return CAIRN_OK;
}
