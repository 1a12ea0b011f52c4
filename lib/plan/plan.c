/*
 * plan.c - parse and validate JSON plans (docs/DESIGN.md section 6) and compute
 * their canonical bytes and hash (docs/FORMAT.md, "Canonical plan").
 *
 * Parsing is strict: jansson with JSON_REJECT_DUPLICATES and its end-of-input
 * check, then every key and value is checked here; any rejection is
 * CAIRN_EPLAN with "<JSON path>: <what is wrong>".  The result owns copies
 * of everything it keeps; no jansson value outlives a call.
 */
#include "plan/plan_json.h"

#include "base/crypto.h"

#include <stdlib.h>
#include <string.h>

#define CANONICAL_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

static const char *const top_keys[] = {
    "cairn_plan", "plan_id", "run_id",   "deadline", "description",
    "operations", "env",     "env_file", "pass_env", "cwd",
};

void cairn_plan_free(cairn_plan *plan)
{
    if (plan == NULL) {
        return;
    }
    if (plan->ops != NULL) {
        for (size_t i = 0; i < plan->n_ops; i++) {
            cairn__plan_op_clear(&plan->ops[i]);
        }
        free(plan->ops);
    }
    cairn__plan_settings_clear(&plan->settings);
    free(plan->plan_id);
    free(plan->run_id);
    free(plan->canonical);
    free(plan);
}

const char *cairn_plan_id(const cairn_plan *plan)
{
    return plan == NULL ? NULL : plan->plan_id;
}

const char *cairn_plan_run_id(const cairn_plan *plan)
{
    return plan == NULL ? NULL : plan->run_id;
}

size_t cairn_plan_op_count(const cairn_plan *plan)
{
    return plan == NULL ? 0 : plan->n_ops;
}

void cairn_plan_hash(const cairn_plan *plan, uint8_t out[CAIRN_HASH_BYTES])
{
    if (plan == NULL) {
        memset(out, 0, CAIRN_HASH_BYTES);
        return;
    }
    memcpy(out, plan->hash, CAIRN_HASH_BYTES);
}

/* jansson's message with every byte outside printable ASCII as \xHH, so
 * that the detail stays one printable line. */
static void sanitize(const char *in, char *out, size_t out_len)
{
    size_t o = 0;
    for (size_t i = 0; in[i] != '\0' && o + 5 < out_len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            cairn__fmt(out + o, 5, "\\x%02X", c);
            o += 4;
        }
    }
    out[o] = '\0';
}

/* A jansson failure: syntax (with line and column), or out of memory, which
 * jansson reports with an empty text. */
static cairn_err syntax_error(const cairn_plan_diag *d,
                              const json_error_t *jerr, const char *json,
                              size_t len)
{
    if (json_error_code(jerr) == json_error_out_of_memory ||
        jerr->text[0] == '\0') {
        return cairn__plan_nomem(d);
    }
    /* jansson 2.14's lexer reports some allocation failures as syntax
     * errors.  A real syntax error is deterministic: parse once more, and
     * if that succeeds the first failure was memory, not the plan. */
    json_error_t again;
    json_t *root =
        json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &again);
    if (root != NULL) {
        json_decref(root);
        return cairn__plan_nomem(d);
    }
    if (json_error_code(&again) == json_error_out_of_memory) {
        return cairn__plan_nomem(d);
    }
    char text[4 * JSON_ERROR_TEXT_LENGTH + 8];
    sanitize(jerr->text, text, sizeof(text));
    return cairn__plan_fail(d, "$", "line %d column %d: %s", jerr->line,
                            jerr->column, text);
}

static cairn_err version_field(const cairn_plan_diag *d, const json_t *root,
                               cairn_plan *plan)
{
    const json_t *v;
    cairn_err err = cairn__plan_member(d, root, "$", "cairn_plan", 1, &v);
    if (err != CAIRN_OK) {
        return err;
    }
    if (!json_is_integer(v)) {
        return cairn__plan_type_error(d, "$.cairn_plan", "an integer", v);
    }
    if (json_integer_value(v) != 1) {
        return cairn__plan_fail(d, "$.cairn_plan",
                                "unsupported plan format %" JSON_INTEGER_FORMAT
                                " (expected 1)",
                                json_integer_value(v));
    }
    plan->version = 1;
    return CAIRN_OK;
}

static cairn_err operations_field(const cairn_plan_diag *d, const json_t *root,
                                  cairn_plan *plan)
{
    const json_t *v;
    cairn_err err = cairn__plan_member(d, root, "$", "operations", 1, &v);
    if (err != CAIRN_OK) {
        return err;
    }
    if (!json_is_array(v)) {
        return cairn__plan_type_error(d, "$.operations", "an array", v);
    }
    size_t n = json_array_size(v);
    if (n == 0) {
        return cairn__plan_fail(d, "$.operations",
                                "must contain at least one operation");
    }
    if (n > CAIRN_MAX_OPS) {
        return cairn__plan_fail(d, "$.operations", "more than %u operations",
                                CAIRN_MAX_OPS);
    }
    plan->ops = calloc(n, sizeof(cairn_plan_op));
    if (plan->ops == NULL) {
        return cairn__plan_nomem(d);
    }
    plan->n_ops = n;
    for (size_t i = 0; i < n && err == CAIRN_OK; i++) {
        err = cairn__plan_parse_op(d, json_array_get(v, i), i, &plan->ops[i]);
    }
    return err;
}

/* Every rule of docs/DESIGN.md section 6, in a fixed order so that a plan with
 * several faults always reports the same one. */
static cairn_err plan_fill(const cairn_plan_diag *d, const json_t *root,
                           cairn_plan *plan)
{
    if (!json_is_object(root)) {
        return cairn__plan_type_error(d, "$", "an object", root);
    }
    cairn_err err = version_field(d, root, plan);
    if (err == CAIRN_OK) {
        err = cairn__plan_check_keys(d, root, "$", top_keys,
                                     CAIRN_ARRAY_LEN(top_keys));
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_id_field(d, root, "$", "plan_id", 1, &plan->plan_id);
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_id_field(d, root, "$", "run_id", 0, &plan->run_id);
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_duration_field(d, root, "$", "deadline",
                                         &plan->deadline_ns, NULL);
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_text_field(d, root, "$", "description");
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_settings_parse(d, root, "$", &plan->settings);
    }
    if (err == CAIRN_OK) {
        err = operations_field(d, root, plan);
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_check_order(d, plan);
    }
    return err;
}

/* Canonical bytes: run_id removed, then compact, sorted, ASCII-only. */
static cairn_err canonicalize(const cairn_plan_diag *d, json_t *root,
                              cairn_plan *plan)
{
    (void)json_object_del(root, "run_id");
    size_t n = json_dumpb(root, NULL, 0, CANONICAL_FLAGS);
    if (n == 0) {
        return cairn__plan_nomem(d);
    }
    if (n > CAIRN_MAX_PLAN_BYTES) {
        return cairn__plan_fail(d, "$",
                                "canonical form is larger than %u bytes",
                                CAIRN_MAX_PLAN_BYTES);
    }
    char *buf = malloc(n + 1);
    if (buf == NULL) {
        return cairn__plan_nomem(d);
    }
    if (json_dumpb(root, buf, n, CANONICAL_FLAGS) != n) {
        free(buf);
        return cairn__plan_nomem(d);
    }
    buf[n] = '\0';
    plan->canonical = buf;
    plan->canonical_len = n;
    cairn__sha256(buf, n, plan->hash);
    return CAIRN_OK;
}

/* The bytes of a CREATE record must already be canonical: no run_id, and
 * re-serializing them gives the same bytes (so hash == SHA-256(input)). */
static cairn_err check_canonical_input(const cairn_plan_diag *d,
                                       const cairn_plan *plan, const char *json,
                                       size_t len)
{
    if (plan->run_id != NULL) {
        return cairn__plan_fail(
            d, "$", "\"run_id\" is not allowed in a canonical plan");
    }
    if (plan->canonical_len != len || memcmp(plan->canonical, json, len) != 0) {
        return cairn__plan_fail(d, "$",
                                "not in canonical form (compact, sorted "
                                "keys, ASCII only)");
    }
    return CAIRN_OK;
}

static cairn_err plan_build(const char *json, size_t len, int from_canonical,
                            const char *base_dir, cairn_plan **out,
                            char *detail, size_t detail_len)
{
    const cairn_plan_diag diag = {detail, detail_len};
    const cairn_plan_diag *d = &diag;
    cairn__clear(detail, detail_len);
    if (out == NULL || json == NULL) {
        cairn__fmt(detail, detail_len, "plan: NULL argument");
        return CAIRN_EINVAL;
    }
    *out = NULL;
    if (base_dir != NULL && base_dir[0] != '/') {
        cairn__fmt(detail, detail_len, "plan: base directory is not absolute");
        return CAIRN_EINVAL;
    }
    if (len > CAIRN_MAX_PLAN_BYTES) {
        return cairn__plan_fail(d, "$", "plan is larger than %u bytes",
                                CAIRN_MAX_PLAN_BYTES);
    }
    json_error_t jerr;
    json_t *root =
        json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        return syntax_error(d, &jerr, json, len);
    }
    cairn_plan *plan = calloc(1, sizeof(*plan));
    cairn_err err = plan == NULL ? cairn__plan_nomem(d) : CAIRN_OK;
    if (err == CAIRN_OK) {
        err = plan_fill(d, root, plan);
    }
    if (err == CAIRN_OK && base_dir != NULL) {
        err = cairn__plan_record_cwd(d, root, plan, base_dir);
    }
    if (err == CAIRN_OK) {
        err = canonicalize(d, root, plan);
    }
    if (err == CAIRN_OK && from_canonical) {
        err = check_canonical_input(d, plan, json, len);
    }
    json_decref(root);
    if (err != CAIRN_OK) {
        cairn_plan_free(plan);
        return err;
    }
    *out = plan;
    return CAIRN_OK;
}

cairn_err cairn_plan_parse(const char *json, size_t len, cairn_plan **out,
                           char *detail, size_t detail_len)
{
    return plan_build(json, len, 0, NULL, out, detail, detail_len);
}

cairn_err cairn_plan_parse_at(const char *json, size_t len,
                              const char *base_dir, cairn_plan **out,
                              char *detail, size_t detail_len)
{
    return plan_build(json, len, 0, base_dir, out, detail, detail_len);
}

cairn_err cairn__plan_from_canonical(const char *json, size_t len,
                                     cairn_plan **out, char *detail,
                                     size_t detail_len)
{
    return plan_build(json, len, 1, NULL, out, detail, detail_len);
}

cairn_err cairn_plan_load(const char *path, cairn_plan **out, char *detail,
                          size_t detail_len)
{
    return cairn_plan_load_at(path, NULL, out, detail, detail_len);
}

cairn_err cairn_plan_load_at(const char *path, const char *base_dir,
                             cairn_plan **out, char *detail, size_t detail_len)
{
    char *text;
    size_t len;
    if (out == NULL || path == NULL) {
        cairn__fmt(detail, detail_len, "plan: NULL argument");
        return CAIRN_EINVAL;
    }
    *out = NULL;
    cairn_err err = cairn__read_file(path, CAIRN_MAX_PLAN_BYTES, &text, &len,
                                     detail, detail_len);
    if (err == CAIRN_EINVAL) {
        cairn__fmt(detail, detail_len, "$: plan is larger than %u bytes",
                   CAIRN_MAX_PLAN_BYTES);
        return CAIRN_EPLAN;
    }
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn_plan_parse_at(text, len, base_dir, out, detail, detail_len);
    free(text);
    return err;
}
