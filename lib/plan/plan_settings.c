/*
 * plan_settings.c - the settings a plan gives its commands ("env",
 * "env_file", "pass_env", "cwd", at plan level and per operation), the
 * service keys of an operation ("daemon", "ready", "probe_timeout"), and
 * the working directory recorded when a run is created.
 */
#include "plan/plan_json.h"

#include <stdlib.h>
#include <string.h>

static const char *const ready_keys[] = {"run", "timeout", "interval"};

static void strv_free(char **v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

void cairn__plan_settings_clear(cairn_plan_settings *s)
{
    strv_free(s->env_names, s->n_env);
    strv_free(s->env_values, s->n_env);
    strv_free(s->pass_env, s->n_pass_env);
    free(s->env_file);
    free(s->cwd);
    memset(s, 0, sizeof(*s));
}

int cairn__env_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > CAIRN_PLAN_MAX_ENV_NAME ||
        strncmp(name, "CAIRN_", 6) == 0) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int alpha =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!alpha && (i == 0 || c < '0' || c > '9')) {
            return 0;
        }
    }
    return 1;
}

static cairn_err name_check(const cairn_plan_diag *d, const char *name,
                            size_t len, const char *path)
{
    char q[CAIRN_PLAN_QUOTE_MAX];
    if (cairn__env_name_ok(name, len)) {
        return CAIRN_OK;
    }
    cairn__plan_quote(name, q);
    if (len > 0 && strlen(name) != len) {
        return cairn__plan_fail(d, path, "variable name has a NUL byte");
    }
    return cairn__plan_fail(d, path,
                            "invalid variable name \"%s\" (expected "
                            "[A-Za-z_][A-Za-z0-9_]*, at most %d bytes, not "
                            "starting with CAIRN_)",
                            q, CAIRN_PLAN_MAX_ENV_NAME);
}

/* A non-empty path string of at most CAIRN_MAX_TEXT bytes, copied. */
static cairn_err path_field(const cairn_plan_diag *d, const json_t *obj,
                            const char *path, const char *key, char **out)
{
    const json_t *v = json_object_get(obj, key);
    char sub[CAIRN_PLAN_PATH_MAX];
    if (v == NULL) {
        return CAIRN_OK;
    }
    cairn__plan_path_key(sub, path, key);
    if (!json_is_string(v)) {
        return cairn__plan_type_error(d, sub, "a string", v);
    }
    size_t len = json_string_length(v);
    if (len == 0) {
        return cairn__plan_fail(d, sub, "must not be empty");
    }
    if (len > CAIRN_MAX_TEXT || strlen(json_string_value(v)) != len) {
        return cairn__plan_fail(d, sub, "longer than %d bytes or has a NUL",
                                CAIRN_MAX_TEXT);
    }
    *out = strdup(json_string_value(v));
    return *out == NULL ? cairn__plan_nomem(d) : CAIRN_OK;
}

static cairn_err env_check(const cairn_plan_diag *d, const json_t *v,
                           const char *path)
{
    char sub[CAIRN_PLAN_PATH_MAX];
    const char *name;
    const json_t *value;
    if (!json_is_object(v)) {
        return cairn__plan_type_error(d, path, "an object of strings", v);
    }
    if (json_object_size(v) > CAIRN_PLAN_MAX_ENV) {
        return cairn__plan_fail(d, path, "more than %d variables",
                                CAIRN_PLAN_MAX_ENV);
    }
    json_object_foreach((json_t *)(uintptr_t)v, name, value)
    {
        cairn__plan_path_key(sub, path, name);
        cairn_err err = name_check(d, name, strlen(name), sub);
        if (err != CAIRN_OK) {
            return err;
        }
        if (!json_is_string(value)) {
            return cairn__plan_type_error(d, sub, "a string", value);
        }
        size_t len = json_string_length(value);
        if (len > CAIRN_MAX_TEXT || strlen(json_string_value(value)) != len) {
            return cairn__plan_fail(d, sub,
                                    "value longer than %d bytes or has a NUL",
                                    CAIRN_MAX_TEXT);
        }
    }
    return CAIRN_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static cairn_err env_field(const cairn_plan_diag *d, const json_t *obj,
                           const char *path, cairn_plan_settings *s)
{
    const json_t *v = json_object_get(obj, "env");
    char sub[CAIRN_PLAN_PATH_MAX];
    if (v == NULL) {
        return CAIRN_OK;
    }
    cairn__plan_path_key(sub, path, "env");
    cairn_err err = env_check(d, v, sub);
    size_t n = json_object_size(v);
    if (err != CAIRN_OK || n == 0) {
        return err;
    }
    s->env_names = calloc(n, sizeof(char *));
    s->env_values = calloc(n, sizeof(char *));
    if (s->env_names == NULL || s->env_values == NULL) {
        return cairn__plan_nomem(d);
    }
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)(uintptr_t)v, name, value)
    {
        s->env_names[s->n_env] = strdup(name);
        s->env_values[s->n_env] = strdup(json_string_value(value));
        s->n_env++;
        if (s->env_names[s->n_env - 1] == NULL ||
            s->env_values[s->n_env - 1] == NULL) {
            return cairn__plan_nomem(d);
        }
    }
    /* Sort names and values together: an order independent of jansson. */
    for (size_t i = 1; i < s->n_env; i++) {
        for (size_t k = i;
             k > 0 && name_cmp(&s->env_names[k - 1], &s->env_names[k]) > 0;
             k--) {
            char *t = s->env_names[k];
            s->env_names[k] = s->env_names[k - 1];
            s->env_names[k - 1] = t;
            t = s->env_values[k];
            s->env_values[k] = s->env_values[k - 1];
            s->env_values[k - 1] = t;
        }
    }
    return CAIRN_OK;
}

static cairn_err pass_env_field(const cairn_plan_diag *d, const json_t *obj,
                                const char *path, cairn_plan_settings *s)
{
    const json_t *v = json_object_get(obj, "pass_env");
    char sub[CAIRN_PLAN_PATH_MAX], leaf[CAIRN_PLAN_PATH_MAX];
    if (v == NULL) {
        return CAIRN_OK;
    }
    cairn__plan_path_key(sub, path, "pass_env");
    if (!json_is_array(v)) {
        return cairn__plan_type_error(d, sub, "an array of strings", v);
    }
    size_t n = json_array_size(v);
    if (n > CAIRN_PLAN_MAX_PASS_ENV) {
        return cairn__plan_fail(d, sub, "more than %d names",
                                CAIRN_PLAN_MAX_PASS_ENV);
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        cairn__plan_path_index(leaf, sub, i);
        if (!json_is_string(e)) {
            return cairn__plan_type_error(d, leaf, "a string", e);
        }
        cairn_err err =
            name_check(d, json_string_value(e), json_string_length(e), leaf);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    if (n == 0) {
        return CAIRN_OK;
    }
    s->pass_env = calloc(n, sizeof(char *));
    if (s->pass_env == NULL) {
        return cairn__plan_nomem(d);
    }
    for (; s->n_pass_env < n; s->n_pass_env++) {
        const json_t *e = json_array_get(v, s->n_pass_env);
        s->pass_env[s->n_pass_env] = strdup(json_string_value(e));
        if (s->pass_env[s->n_pass_env] == NULL) {
            return cairn__plan_nomem(d);
        }
    }
    return CAIRN_OK;
}

cairn_err cairn__plan_settings_parse(const cairn_plan_diag *d,
                                     const json_t *obj, const char *path,
                                     cairn_plan_settings *s)
{
    cairn_err err = env_field(d, obj, path, s);
    if (err == CAIRN_OK) {
        err = pass_env_field(d, obj, path, s);
    }
    if (err == CAIRN_OK) {
        err = path_field(d, obj, path, "env_file", &s->env_file);
    }
    if (err == CAIRN_OK) {
        err = path_field(d, obj, path, "cwd", &s->cwd);
    }
    return err;
}

static cairn_err ready_field(const cairn_plan_diag *d, const json_t *obj,
                             const char *path, cairn_plan_op *op)
{
    const json_t *r = json_object_get(obj, "ready");
    char sub[CAIRN_PLAN_PATH_MAX];
    if (r == NULL) {
        return CAIRN_OK;
    }
    cairn__plan_path_key(sub, path, "ready");
    if (!json_is_object(r)) {
        return cairn__plan_type_error(d, sub, "an object", r);
    }
    cairn_err err = cairn__plan_check_keys(d, r, sub, ready_keys,
                                           CAIRN_ARRAY_LEN(ready_keys));
    if (err == CAIRN_OK && json_object_get(r, "run") == NULL) {
        err = cairn__plan_fail(d, sub, "missing required key \"run\"");
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_argv_field(d, r, sub, "run", &op->ready);
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_duration_field(d, r, sub, "timeout",
                                         &op->ready_timeout_ns, NULL);
    }
    if (err == CAIRN_OK) {
        err = cairn__plan_duration_field(d, r, sub, "interval",
                                         &op->ready_interval_ns, NULL);
    }
    if (err == CAIRN_OK && !op->daemon) {
        err = cairn__plan_fail(d, sub,
                               "a readiness check needs \"daemon\": true "
                               "(the default only for kind start)");
    }
    return err;
}

cairn_err cairn__plan_service_fields(const cairn_plan_diag *d,
                                     const json_t *obj, const char *path,
                                     cairn_plan_op *op)
{
    const json_t *v = json_object_get(obj, "daemon");
    char sub[CAIRN_PLAN_PATH_MAX];
    op->daemon = op->kind == CAIRN_KIND_START;
    op->ready_timeout_ns = CAIRN_PLAN_READY_TIMEOUT_DEFAULT;
    op->ready_interval_ns = CAIRN_PLAN_READY_INTERVAL_DEFAULT;
    op->probe_timeout_ns = CAIRN_PLAN_PROBE_TIMEOUT_DEFAULT;
    if (v != NULL) {
        if (!json_is_boolean(v)) {
            cairn__plan_path_key(sub, path, "daemon");
            return cairn__plan_type_error(d, sub, "a boolean", v);
        }
        op->daemon = json_is_true(v);
    }
    cairn_err err = ready_field(d, obj, path, op);
    if (err == CAIRN_OK) {
        err = cairn__plan_duration_field(d, obj, path, "probe_timeout",
                                         &op->probe_timeout_ns, NULL);
    }
    return err;
}

/* "<base>/<rel>" into a malloc'd string; NULL when out of memory. */
static char *join(const char *base, const char *rel)
{
    size_t bl = strlen(base), rl = strlen(rel);
    int slash = bl > 0 && base[bl - 1] == '/';
    char *out = malloc(bl + rl + 2);
    if (out != NULL) {
        memcpy(out, base, bl);
        if (!slash) {
            out[bl++] = '/';
        }
        memcpy(out + bl, rel, rl + 1);
    }
    return out;
}

cairn_err cairn__plan_record_cwd(const cairn_plan_diag *d, json_t *root,
                                 cairn_plan *plan, const char *base_dir)
{
    const char *cwd = plan->settings.cwd;
    char *abs;
    if (cwd != NULL && cwd[0] == '/') {
        return CAIRN_OK;
    }
    abs = cwd == NULL ? strdup(base_dir) : join(base_dir, cwd);
    if (abs == NULL) {
        return cairn__plan_nomem(d);
    }
    if (strlen(abs) > CAIRN_MAX_TEXT) {
        free(abs);
        return cairn__plan_fail(d, "$.cwd",
                                "longer than %d bytes once made absolute",
                                CAIRN_MAX_TEXT);
    }
    json_t *s = json_string(abs);
    if (s == NULL || json_object_set_new(root, "cwd", s) != 0) {
        free(abs);
        return cairn__plan_nomem(d);
    }
    free(plan->settings.cwd);
    plan->settings.cwd = abs;
    return CAIRN_OK;
}
