/*
 * fuzz_oprow.c - libFuzzer target for format 2's run summary and
 * operation row decoders (docs/FORMAT.md section 23).  Both sit in the
 * journal (`runs`, `oprows`); writers decode them before they prove them
 * and `verify` decodes them on journals it does not trust.
 * Target: cairn__summary_decode and cairn__oprow_decode
 * (lib/state/summary_codec.c), with their encoders, cairn__state_copy and
 * the free functions.  The first input byte chooses: even, the rest is a
 * summary; odd, a row.
 * Invariants: a failed decode returns CAIRN_ECORRUPT (or CAIRN_ENOMEM)
 * with a detail naming "run summary" or "op row" and owns nothing; a
 * successful one re-encodes to exactly the input bytes (canonical), a
 * summary's op counts add up to n_ops (1..CAIRN_MAX_OPS, or a pruned
 * stub's counts), its lists are ascending op numbers below n_ops, and a
 * deep copy encodes to the same bytes.
 */
#include "state/state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_summary(const cairn_state *st)
{
    if (st->pruned) {
        return;
    }
    uint64_t sum = 0;
    for (int s = 1; s < 7; s++) {
        sum += st->op_counts[s];
    }
    if (st->n_ops == 0 || st->n_ops > CAIRN_MAX_OPS || sum != st->n_ops ||
        st->ops != NULL || st->head_op > st->n_ops) {
        abort();
    }
    for (uint32_t i = 0; i < st->n_stopped; i++) {
        if (st->stopped[i] >= st->n_ops ||
            (i > 0 && st->stopped[i] <= st->stopped[i - 1])) {
            abort();
        }
    }
    for (uint32_t i = 0; i < st->op_counts[CAIRN_OP_PENDING]; i++) {
        if (st->pending[i] >= st->n_ops || st->pending[i] < st->head_op) {
            abort();
        }
    }
}

/* A failed decode: CAIRN_ECORRUPT (or CAIRN_ENOMEM), a detail naming
 * @p what, and nothing left owned (@p owns is 0). */
static void failed(cairn_err err, const char *detail, const char *what,
                   int owns)
{
    if ((err != CAIRN_ECORRUPT && err != CAIRN_ENOMEM) ||
        strstr(detail, what) == NULL || owns) {
        abort();
    }
}

/* An encoder's result (@p err, @p out) is exactly the input bytes. */
static void same(cairn_err err, uint8_t *out, size_t out_len,
                 const uint8_t *data, size_t size)
{
    if (err != CAIRN_OK || out_len != size || memcmp(out, data, size) != 0) {
        abort();
    }
    free(out);
}

/* @p st encodes as a summary to exactly the input bytes. */
static void summary_same(const cairn_state *st, const uint8_t *data,
                         size_t size)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    cairn_err err = cairn__summary_encode(st, &out, &out_len);
    same(err, out, out_len, data, size);
}

static void summary(const uint8_t *data, size_t size)
{
    cairn_state st, copy;
    char detail[160] = "";
    cairn_err err =
        cairn__summary_decode(data, size, &st, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        failed(err, detail, "run summary",
               st.stopped != NULL || st.pending != NULL);
        return;
    }
    check_summary(&st);
    summary_same(&st, data, size);
    if (cairn__state_copy(&st, &copy) == CAIRN_OK) {
        summary_same(&copy, data, size);
        cairn__state_free(&copy);
    }
    cairn__state_free(&st);
}

static void row(const uint8_t *data, size_t size)
{
    cairn_op_st op;
    char detail[160] = "";
    uint8_t *out = NULL;
    size_t out_len = 0;
    cairn_err err =
        cairn__oprow_decode(data, size, &op, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        failed(err, detail, "op row", op.requires != NULL);
        return;
    }
    if (op.id[0] == '\0' || op.kind < CAIRN_KIND_PREFLIGHT ||
        op.kind > CAIRN_KIND_CLEANUP || op.state < CAIRN_OP_BLOCKED ||
        op.state > CAIRN_OP_SKIPPED) {
        abort();
    }
    err = cairn__oprow_encode(&op, &out, &out_len);
    same(err, out, out_len, data, size);
    cairn__oprow_free(&op);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    if ((data[0] & 1) == 0) {
        summary(data + 1, size - 1);
    } else {
        row(data + 1, size - 1);
    }
    return 0;
}
