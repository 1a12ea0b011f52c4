/*
 * fuzz_plan.c - Target: cairn_plan_parse() on arbitrary bytes, then
 * cairn__plan_from_canonical() on the canonical bytes of every accepted
 * plan.  Aborts when a rejection is not a one-line "$..." detail, when
 * the hash is not SHA-256 of the canonical bytes, when the canonical bytes
 * do not parse back to identical canonical bytes and hash, or when a
 * parsed plan breaks an invariant the rest of libcairn relies on
 * (including typed "requires" entries: known types, patterns that
 * compile).
 */
#include "base/crypto.h"
#include "plan/plan.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_detail(cairn_err err, const char *detail)
{
    if (err != CAIRN_EPLAN && err != CAIRN_ENOMEM) {
        abort();
    }
    if (err == CAIRN_EPLAN && detail[0] != '$') {
        abort();
    }
    for (const char *p = detail; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
            abort();
        }
    }
}

static void check_argv(const cairn_argv *argv)
{
    if (argv->n > 0 && (argv->v == NULL || argv->v[argv->n] != NULL ||
                        argv->v[0][0] == '\0')) {
        abort();
    }
}

/* Every required output has a rule of a known type, and every pattern
 * kept compiles (it was compiled when the plan was read). */
static void check_requires(const cairn_plan_op *op)
{
    if (op->n_requires > 0 &&
        (op->requires == NULL || op->require_rules == NULL)) {
        abort();
    }
    for (size_t i = 0; i < op->n_requires; i++) {
        const cairn_output_rule *r = &op->require_rules[i];
        if (op->requires[i][0] == '\0' ||
            (unsigned)r->type > (unsigned)CAIRN_OUTPUT_TYPE_LAST ||
            (r->pattern != NULL &&
             cairn__output_pattern_check(r->pattern, NULL, 0) != 0)) {
            abort();
        }
    }
}

static void check_invariants(const cairn_plan *plan)
{
    if (plan->n_ops == 0 || plan->n_ops > CAIRN_MAX_OPS ||
        plan->plan_id == NULL || plan->canonical_len > CAIRN_MAX_PLAN_BYTES ||
        plan->canonical[plan->canonical_len] != '\0') {
        abort();
    }
    for (size_t i = 0; i < plan->n_ops; i++) {
        const cairn_plan_op *op = &plan->ops[i];
        if (op->id == NULL || op->attempts < 1 || op->attempts > 100 ||
            op->backoff_ns == 0 || op->max_backoff_ns < op->backoff_ns ||
            op->n_retry_exit_codes > 255 || op->n_requires > CAIRN_MAX_KV) {
            abort();
        }
        if ((op->kind == CAIRN_KIND_STOP || op->kind == CAIRN_KIND_START) &&
            op->target == NULL) {
            abort();
        }
        if (i > 0 && !cairn__kind_mutating(op->kind) &&
            cairn__kind_mutating(plan->ops[i - 1].kind)) {
            abort(); /* a preflight after a mutating operation */
        }
        check_argv(&op->run);
        check_argv(&op->probe);
        check_requires(op);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_plan *plan = NULL;
    char detail[1024] = "";
    cairn_err err = cairn_plan_parse((const char *)data, size, &plan, detail,
                                     sizeof(detail));
    if (err != CAIRN_OK) {
        if (plan != NULL) {
            abort();
        }
        check_detail(err, detail);
        return 0;
    }
    check_invariants(plan);
    uint8_t hash[CAIRN_HASH_BYTES];
    cairn__sha256(plan->canonical, plan->canonical_len, hash);
    if (memcmp(hash, plan->hash, CAIRN_HASH_BYTES) != 0) {
        abort();
    }
    cairn_plan *again = NULL;
    err = cairn__plan_from_canonical(plan->canonical, plan->canonical_len,
                                     &again, detail, sizeof(detail));
    if (err == CAIRN_ENOMEM) {
        cairn_plan_free(plan);
        return 0;
    }
    if (err != CAIRN_OK || again->canonical_len != plan->canonical_len ||
        memcmp(again->canonical, plan->canonical, plan->canonical_len) != 0 ||
        memcmp(again->hash, plan->hash, CAIRN_HASH_BYTES) != 0 ||
        again->run_id != NULL || again->n_ops != plan->n_ops) {
        abort();
    }
    cairn_plan_free(again);
    cairn_plan_free(plan);
    return 0;
}
