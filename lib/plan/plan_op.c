/*
 * plan_op.c - one operation object of a plan: id, kind, target, commands,
 * timeout, retry policy, required outputs.
 */
#include "plan/plan_json.h"

#include <stdlib.h>
#include <string.h>

static const char *const op_keys[] = {
    "id",      "kind",          "target",   "run",        "probe",
    "timeout", "retry",         "requires", "idempotent", "description",
    "env",     "env_file",      "pass_env", "cwd",        "daemon",
    "ready",   "probe_timeout",
};
static const char *const require_keys[] = {"name", "type", "pattern"};
static const char *const retry_keys[] = {
    "attempts",
    "backoff",
    "max_backoff",
    "exit_codes",
};

static void argv_clear(cairn_argv *argv)
{
    if (argv->v != NULL) {
        for (size_t i = 0; i < argv->n; i++) {
            free(argv->v[i]);
        }
        free(argv->v);
    }
    argv->v = NULL;
    argv->n = 0;
}

void cairn__plan_op_clear(cairn_plan_op *op)
{
    free(op->id);
    free(op->target);
    argv_clear(&op->run);
    argv_clear(&op->probe);
    argv_clear(&op->ready);
    cairn__plan_settings_clear(&op->settings);
    free(op->retry_exit_codes);
    cairn__requires_free(op->requires, op->require_rules, op->n_requires);
    memset(op, 0, sizeof(*op));
}

/* Check every element of an argv array before anything is allocated. */
static cairn_err argv_check(const cairn_plan_diag *d, const json_t *v,
                            const char *path)
{
    char sub[CAIRN_PLAN_PATH_MAX];
    if (!json_is_array(v)) {
        return cairn__plan_type_error(d, path, "an array of strings", v);
    }
    size_t n = json_array_size(v);
    if (n == 0) {
        return cairn__plan_fail(d, path, "must not be empty");
    }
    if (n > CAIRN_PLAN_MAX_ARGV) {
        return cairn__plan_fail(d, path, "more than %d arguments",
                                CAIRN_PLAN_MAX_ARGV);
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(v, i);
        cairn__plan_path_index(sub, path, i);
        if (!json_is_string(s)) {
            return cairn__plan_type_error(d, sub, "a string", s);
        }
        if (json_string_length(s) > CAIRN_MAX_TEXT) {
            return cairn__plan_fail(d, sub, "longer than %d bytes",
                                    CAIRN_MAX_TEXT);
        }
        if (i == 0 && json_string_length(s) == 0) {
            return cairn__plan_fail(d, sub, "program name must not be empty");
        }
    }
    return CAIRN_OK;
}

cairn_err cairn__plan_argv_field(const cairn_plan_diag *d, const json_t *obj,
                                 const char *path, const char *key,
                                 cairn_argv *out)
{
    const json_t *v = json_object_get(obj, key);
    char sub[CAIRN_PLAN_PATH_MAX];
    if (v == NULL) {
        return CAIRN_OK;
    }
    cairn__plan_path_key(sub, path, key);
    cairn_err err = argv_check(d, v, sub);
    if (err != CAIRN_OK) {
        return err;
    }
    size_t n = json_array_size(v);
    out->v = calloc(n + 1, sizeof(char *));
    if (out->v == NULL) {
        return cairn__plan_nomem(d);
    }
    for (; out->n < n; out->n++) {
        out->v[out->n] = strdup(json_string_value(json_array_get(v, out->n)));
        if (out->v[out->n] == NULL) {
            return cairn__plan_nomem(d);
        }
    }
    return CAIRN_OK;
}

static cairn_err exit_codes_field(const cairn_plan_diag *d, const json_t *v,
                                  const char *path, cairn_plan_op *op)
{
    char sub[CAIRN_PLAN_PATH_MAX];
    unsigned char seen[256] = {0};
    if (!json_is_array(v)) {
        return cairn__plan_type_error(d, path, "an array of integers", v);
    }
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n; i++) {
        json_int_t code;
        cairn__plan_path_index(sub, path, i);
        cairn_err err =
            cairn__plan_int_value(d, json_array_get(v, i), sub, 1, 255, &code);
        if (err != CAIRN_OK) {
            return err;
        }
        if (seen[code]) {
            return cairn__plan_fail(
                d, sub, "duplicate exit code %" JSON_INTEGER_FORMAT, code);
        }
        seen[code] = 1;
    }
    /* Unique values in 1..255: n <= 255 here. */
    if (n == 0) {
        return CAIRN_OK;
    }
    op->retry_exit_codes = calloc(n, sizeof(int));
    if (op->retry_exit_codes == NULL) {
        return cairn__plan_nomem(d);
    }
    for (size_t i = 0; i < n; i++) {
        op->retry_exit_codes[i] = (int)json_integer_value(json_array_get(v, i));
    }
    op->n_retry_exit_codes = n;
    return CAIRN_OK;
}

static cairn_err retry_limits(const cairn_plan_diag *d, const json_t *r,
                              const char *path, cairn_plan_op *op)
{
    const char *backoff_text = "1s";
    const char *max_text = NULL;
    char sub[CAIRN_PLAN_PATH_MAX];
    cairn_err err = cairn__plan_duration_field(d, r, path, "backoff",
                                               &op->backoff_ns, &backoff_text);
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn__plan_duration_field(d, r, path, "max_backoff",
                                     &op->max_backoff_ns, &max_text);
    if (err != CAIRN_OK) {
        return err;
    }
    if (max_text == NULL) {
        /* Default 60 s, but never below the first delay. */
        if (op->max_backoff_ns < op->backoff_ns) {
            op->max_backoff_ns = op->backoff_ns;
        }
        return CAIRN_OK;
    }
    if (op->max_backoff_ns < op->backoff_ns) {
        char q1[CAIRN_PLAN_QUOTE_MAX];
        char q2[CAIRN_PLAN_QUOTE_MAX];
        cairn__plan_quote(max_text, q1);
        cairn__plan_quote(backoff_text, q2);
        cairn__plan_path_key(sub, path, "max_backoff");
        return cairn__plan_fail(d, sub, "\"%s\" is less than backoff \"%s\"",
                                q1, q2);
    }
    return CAIRN_OK;
}

static cairn_err retry_field(const cairn_plan_diag *d, const json_t *obj,
                             const char *path, cairn_plan_op *op)
{
    const json_t *r = json_object_get(obj, "retry");
    const json_t *v;
    char sub[CAIRN_PLAN_PATH_MAX];
    char leaf[CAIRN_PLAN_PATH_MAX];
    if (r == NULL) {
        return CAIRN_OK;
    }
    cairn__plan_path_key(sub, path, "retry");
    if (!json_is_object(r)) {
        return cairn__plan_type_error(d, sub, "an object", r);
    }
    cairn_err err = cairn__plan_check_keys(d, r, sub, retry_keys,
                                           CAIRN_ARRAY_LEN(retry_keys));
    if (err != CAIRN_OK) {
        return err;
    }
    v = json_object_get(r, "attempts");
    if (v != NULL) {
        json_int_t attempts;
        cairn__plan_path_key(leaf, sub, "attempts");
        err = cairn__plan_int_value(d, v, leaf, 1, CAIRN_PLAN_MAX_ATTEMPTS,
                                    &attempts);
        if (err != CAIRN_OK) {
            return err;
        }
        op->attempts = (uint32_t)attempts;
    }
    err = retry_limits(d, r, sub, op);
    if (err != CAIRN_OK) {
        return err;
    }
    v = json_object_get(r, "exit_codes");
    if (v == NULL) {
        return CAIRN_OK;
    }
    cairn__plan_path_key(leaf, sub, "exit_codes");
    return exit_codes_field(d, v, leaf, op);
}

static cairn_err output_key_check(const cairn_plan_diag *d, const json_t *v,
                                  const char *path)
{
    if (!json_is_string(v)) {
        return cairn__plan_type_error(d, path, "a string", v);
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0) {
        return cairn__plan_fail(d, path, "output key must not be empty");
    }
    if (len > CAIRN_MAX_KV_KEY) {
        return cairn__plan_fail(d, path,
                                "output key is longer than %d characters",
                                CAIRN_MAX_KV_KEY);
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok) {
            char what[16];
            cairn__plan_describe_char(c, what);
            return cairn__plan_fail(
                d, path, "output key has an invalid character %s at offset %zu",
                what, i);
        }
    }
    return CAIRN_OK;
}

/* The name of a "requires" entry: the string itself, or the "name" member
 * of an object (NULL when it has none; the check reports it). */
static const char *require_name(const json_t *v)
{
    if (json_is_object(v)) {
        v = json_object_get(v, "name");
    }
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One typed entry {"name": K, "type": T, "pattern": P}; fills @p rule
 * (pattern not copied: it points into the JSON value). */
static cairn_err require_object(const cairn_plan_diag *d, const json_t *v,
                                const char *path, cairn_output_rule *rule)
{
    const json_t *name;
    const json_t *t;
    const json_t *p;
    char sub[CAIRN_PLAN_PATH_MAX];
    char q[CAIRN_PLAN_QUOTE_MAX];
    char why[192];
    cairn_err err = cairn__plan_check_keys(d, v, path, require_keys,
                                           CAIRN_ARRAY_LEN(require_keys));
    if (err == CAIRN_OK) {
        err = cairn__plan_member(d, v, path, "name", 1, &name);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__plan_path_key(sub, path, "name");
    err = output_key_check(d, name, sub);
    t = json_object_get(v, "type");
    cairn__plan_path_key(sub, path, "type");
    if (err == CAIRN_OK && t != NULL && !json_is_string(t)) {
        return cairn__plan_type_error(d, sub, "a string", t);
    }
    if (err == CAIRN_OK && t != NULL &&
        cairn__output_type_parse(json_string_value(t), &rule->type) != 0) {
        cairn__plan_quote(json_string_value(t), q);
        return cairn__plan_fail(d, sub,
                                "unknown output type \"%s\" (expected "
                                "nonempty, any or sha256)",
                                q);
    }
    p = json_object_get(v, "pattern");
    if (err != CAIRN_OK || p == NULL) {
        return err;
    }
    cairn__plan_path_key(sub, path, "pattern");
    if (!json_is_string(p)) {
        return cairn__plan_type_error(d, sub, "a string", p);
    }
    if (strlen(json_string_value(p)) != json_string_length(p) ||
        cairn__output_pattern_check(json_string_value(p), why, sizeof(why)) !=
            0) {
        cairn__plan_quote(json_string_value(p), q);
        return cairn__plan_fail(
            d, sub, "invalid regular expression \"%s\": %s", q,
            json_string_length(p) == strlen(json_string_value(p))
                ? why
                : "has a NUL byte");
    }
    rule->pattern = (char *)(uintptr_t)json_string_value(p);
    return CAIRN_OK;
}

/* Entry @p i: a string (an output key, type nonempty) or an object. */
static cairn_err require_entry(const cairn_plan_diag *d, const json_t *v,
                               const char *path, cairn_output_rule *rule)
{
    rule->type = CAIRN_OUTPUT_NONEMPTY;
    rule->pattern = NULL;
    if (json_is_object(v)) {
        return require_object(d, v, path, rule);
    }
    if (!json_is_string(v)) {
        return cairn__plan_type_error(
            d, path, "a string or an object {\"name\", \"type\", \"pattern\"}",
            v);
    }
    return output_key_check(d, v, path);
}

/* Every entry of the "requires" array @p v into names[] (views into the
 * JSON) and rules[] (patterns too), refusing duplicate names. */
static cairn_err requires_scan(const cairn_plan_diag *d, const json_t *v,
                               const char *path, const char **names,
                               cairn_output_rule *rules)
{
    char sub[CAIRN_PLAN_PATH_MAX];
    char q[CAIRN_PLAN_QUOTE_MAX];
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        cairn__plan_path_index(sub, path, i);
        cairn_err err = require_entry(d, e, sub, &rules[i]);
        if (err != CAIRN_OK) {
            return err;
        }
        names[i] = require_name(e);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(names[i], names[j]) == 0) {
                cairn__plan_quote(names[i], q);
                return cairn__plan_fail(d, sub, "duplicate output key \"%s\"",
                                        q);
            }
        }
    }
    return CAIRN_OK;
}

static cairn_err requires_field(const cairn_plan_diag *d, const json_t *obj,
                                const char *path, cairn_plan_op *op)
{
    const json_t *v = json_object_get(obj, "requires");
    char sub[CAIRN_PLAN_PATH_MAX];
    if (v == NULL) {
        return CAIRN_OK;
    }
    cairn__plan_path_key(sub, path, "requires");
    if (!json_is_array(v)) {
        return cairn__plan_type_error(d, sub, "an array", v);
    }
    size_t n = json_array_size(v);
    if (n > CAIRN_MAX_KV) {
        return cairn__plan_fail(d, sub, "more than %d keys", CAIRN_MAX_KV);
    }
    if (n == 0) {
        return CAIRN_OK;
    }
    const char **names = calloc(n, sizeof(char *));
    cairn_output_rule *rules = calloc(n, sizeof(cairn_output_rule));
    cairn_err err = names == NULL || rules == NULL
                        ? cairn__plan_nomem(d)
                        : requires_scan(d, v, sub, names, rules);
    if (err == CAIRN_OK &&
        cairn__requires_copy((char *const *)(uintptr_t)names, rules, n,
                             &op->requires, &op->require_rules) != CAIRN_OK) {
        err = cairn__plan_nomem(d);
    }
    if (err == CAIRN_OK) {
        op->n_requires = n;
    }
    free(names);
    free(rules);
    return err;
}

static cairn_err kind_field(const cairn_plan_diag *d, const json_t *obj,
                            const char *path, cairn_plan_op *op)
{
    const json_t *v;
    char sub[CAIRN_PLAN_PATH_MAX];
    char q[CAIRN_PLAN_QUOTE_MAX];
    cairn_err err = cairn__plan_member(d, obj, path, "kind", 1, &v);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__plan_path_key(sub, path, "kind");
    if (!json_is_string(v)) {
        return cairn__plan_type_error(d, sub, "a string", v);
    }
    op->kind = cairn__kind_parse(json_string_value(v));
    if (op->kind == 0) {
        cairn__plan_quote(json_string_value(v), q);
        return cairn__plan_fail(d, sub,
                                "unknown kind \"%s\" (expected preflight, "
                                "stop, start, snapshot, transfer, verify, "
                                "restore, finalize, task or cleanup)",
                                q);
    }
    return CAIRN_OK;
}

/* id, kind, target; stop and start need a target. */
static cairn_err op_identity(const cairn_plan_diag *d, const json_t *obj,
                             const char *path, cairn_plan_op *op)
{
    cairn_err err = cairn__plan_id_field(d, obj, path, "id", 1, &op->id);
    if (err == CAIRN_OK) {
        err = kind_field(d, obj, path, op);
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_id_field(d, obj, path, "target", 0, &op->target);
    }
    if (err == CAIRN_OK && op->target == NULL &&
        (op->kind == CAIRN_KIND_STOP || op->kind == CAIRN_KIND_START)) {
        err = cairn__plan_fail(d, path,
                               "missing required key \"target\" (required "
                               "for %s)",
                               cairn_kind_name(op->kind));
    }
    return err;
}

static cairn_err idempotent_field(const cairn_plan_diag *d, const json_t *obj,
                                  const char *path, cairn_plan_op *op)
{
    const json_t *v = json_object_get(obj, "idempotent");
    char sub[CAIRN_PLAN_PATH_MAX];
    if (v == NULL) {
        return CAIRN_OK;
    }
    if (!json_is_boolean(v)) {
        cairn__plan_path_key(sub, path, "idempotent");
        return cairn__plan_type_error(d, sub, "a boolean", v);
    }
    op->idempotent = json_is_true(v);
    return CAIRN_OK;
}

cairn_err cairn__plan_parse_op(const cairn_plan_diag *d, const json_t *v,
                               size_t index, cairn_plan_op *op)
{
    char path[CAIRN_PLAN_PATH_MAX];
    cairn__plan_path_index(path, "$.operations", index);
    op->attempts = CAIRN_PLAN_DEFAULT_ATTEMPTS;
    op->backoff_ns = CAIRN_PLAN_DEFAULT_BACKOFF_NS;
    op->max_backoff_ns = CAIRN_PLAN_DEFAULT_MAX_BACKOFF_NS;
    if (!json_is_object(v)) {
        return cairn__plan_type_error(d, path, "an object", v);
    }
    cairn_err err =
        cairn__plan_check_keys(d, v, path, op_keys, CAIRN_ARRAY_LEN(op_keys));
    if (err == CAIRN_OK) {
        err = op_identity(d, v, path, op);
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_argv_field(d, v, path, "run", &op->run);
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_argv_field(d, v, path, "probe", &op->probe);
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_duration_field(d, v, path, "timeout", &op->timeout_ns,
                                         NULL);
    }
    if (err == CAIRN_OK) {
        err = retry_field(d, v, path, op);
    }
    if (err == CAIRN_OK) {
        err = requires_field(d, v, path, op);
    }
    if (err == CAIRN_OK) {
        err = idempotent_field(d, v, path, op);
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_text_field(d, v, path, "description");
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_settings_parse(d, v, path, &op->settings);
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_service_fields(d, v, path, op);
    }
    return err;
}
