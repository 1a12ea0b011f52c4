/*
 * fuzz_state.c - libFuzzer target for the run-state decoder.  A run's
 * state blob sits in the journal's `runs` database; `verify`, `replay` and
 * every writer decode it, and `verify` does so on journals it does not
 * trust.
 * Target: cairn__state_decode (lib/state/state_codec.c), with
 * cairn__state_encode, cairn__state_copy and cairn__state_free.
 * Invariants: a failed decode returns CAIRN_ECORRUPT (or CAIRN_ENOMEM)
 * with a detail naming "run state" and leaves an empty state; a successful
 * decode gives 1..CAIRN_MAX_OPS operations with in-range kinds, states and
 * classes (a pruned stub: none, and op counts that add up to 1..CAIRN_MAX_OPS),
 * and re-encodes to exactly the input bytes (the encoding is canonical), and so
 * does a deep copy of it.
 */
#include "state/state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_bytes(const cairn_state *st, const uint8_t *data, size_t size)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (cairn__state_encode(st, &out, &out_len) != CAIRN_OK ||
        out_len != size || memcmp(out, data, size) != 0) {
        abort();
    }
    free(out);
}

static void check_ops(const cairn_state *st)
{
    if (st->pruned) { /* a stub: no ops, counts that add up */
        uint64_t sum = 0;
        for (int i = 1; i < 7; i++) {
            sum += st->op_counts[i];
        }
        if (st->n_ops != 0 || st->ops != NULL || sum != st->op_counts[0] ||
            sum == 0 || sum > CAIRN_MAX_OPS) {
            abort();
        }
        return;
    }
    if (st->n_ops == 0 || st->n_ops > CAIRN_MAX_OPS || st->ops == NULL) {
        abort();
    }
    for (uint32_t i = 0; i < st->n_ops; i++) {
        const cairn_op_st *op = &st->ops[i];
        if (op->id[0] == '\0' || op->kind < CAIRN_KIND_PREFLIGHT ||
            op->kind > CAIRN_KIND_CLEANUP || op->state < CAIRN_OP_BLOCKED ||
            op->state > CAIRN_OP_SKIPPED || op->n_requires > CAIRN_MAX_KV ||
            (op->n_requires > 0 && op->requires == NULL)) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_state st;
    char detail[160];
    detail[0] = '\0';
    cairn_err err =
        cairn__state_decode(data, size, &st, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        if ((err != CAIRN_ECORRUPT && err != CAIRN_ENOMEM) ||
            strstr(detail, "run state") == NULL || st.ops != NULL ||
            st.n_ops != 0) {
            abort();
        }
        return 0;
    }
    check_ops(&st);
    same_bytes(&st, data, size);
    cairn_state copy;
    if (cairn__state_copy(&st, &copy) == CAIRN_OK) {
        same_bytes(&copy, data, size);
        cairn__state_free(&copy);
    }
    cairn__state_free(&st);
    return 0;
}
