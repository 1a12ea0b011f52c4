/*
 * plan_json.c - typed access to plan JSON values, with rejections that name
 * the JSON path ("$.operations[3].retry.attempts: ...").
 */
#include "plan/plan_json.h"

#include "base/duration.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE_CUT 64

cairn_err cairn__plan_fail(const cairn_plan_diag *d, const char *path,
                           const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cairn__fmt(d->detail, d->detail_len, "%s: %s", path, msg);
    return CAIRN_EPLAN;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "an unknown value";
}

cairn_err cairn__plan_type_error(const cairn_plan_diag *d, const char *path,
                                 const char *want, const json_t *v)
{
    return cairn__plan_fail(d, path, "expected %s, got %s", want, type_name(v));
}

cairn_err cairn__plan_nomem(const cairn_plan_diag *d)
{
    cairn__fmt(d->detail, d->detail_len, "plan: out of memory");
    return CAIRN_ENOMEM;
}

/* Append @p n bytes of @p s at out[*at], truncating as snprintf would
 * into CAIRN_PLAN_PATH_MAX bytes.  Paths are built for every member of a
 * plan, so this avoids a format call per member. */
static void path_put(char *out, size_t *at, const char *s, size_t n)
{
    size_t room = CAIRN_PLAN_PATH_MAX - 1 - *at;
    if (n > room) {
        n = room;
    }
    memmove(out + *at, s, n);
    *at += n;
    out[*at] = '\0';
}

void cairn__plan_path_key(char *out, const char *parent, const char *key)
{
    size_t at = 0;
    path_put(out, &at, parent, strlen(parent));
    path_put(out, &at, ".", 1);
    path_put(out, &at, key, strlen(key));
}

void cairn__plan_path_index(char *out, const char *parent, size_t index)
{
    char digits[24];
    size_t n = sizeof(digits), at = 0;
    digits[--n] = ']';
    do {
        digits[--n] = (char)('0' + index % 10);
        index /= 10;
    } while (index > 0);
    digits[--n] = '[';
    path_put(out, &at, parent, strlen(parent));
    path_put(out, &at, digits + n, sizeof(digits) - n);
}

void cairn__plan_quote(const char *s, char *out)
{
    size_t o = 0;
    size_t i = 0;
    for (; s[i] != '\0' && i < QUOTE_CUT; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, 5, "\\x%02X", c);
            o += 4;
        }
    }
    if (s[i] != '\0') {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

cairn_err cairn__plan_check_keys(const cairn_plan_diag *d, const json_t *obj,
                                 const char *path, const char *const *allowed,
                                 size_t n)
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)(uintptr_t)obj, key, value)
    {
        size_t i = 0;
        while (i < n && strcmp(key, allowed[i]) != 0) {
            i++;
        }
        if (i == n) {
            char q[CAIRN_PLAN_QUOTE_MAX];
            cairn__plan_quote(key, q);
            return cairn__plan_fail(d, path, "unknown key \"%s\"", q);
        }
    }
    return CAIRN_OK;
}

cairn_err cairn__plan_member(const cairn_plan_diag *d, const json_t *obj,
                             const char *path, const char *key, int required,
                             const json_t **out)
{
    *out = json_object_get(obj, key);
    if (*out == NULL && required) {
        return cairn__plan_fail(d, path, "missing required key \"%s\"", key);
    }
    return CAIRN_OK;
}

static int id_char(char c, int first)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9')) {
        return 1;
    }
    return !first && c != '\0' && strchr("._:@+-", c) != NULL;
}

void cairn__plan_describe_char(char c, char out[16])
{
    unsigned char u = (unsigned char)c;
    if (u > 0x20 && u < 0x7f && u != '\'') {
        snprintf(out, 16, "'%c'", c);
    } else {
        snprintf(out, 16, "0x%02X", u);
    }
}

cairn_err cairn__plan_id_value(const cairn_plan_diag *d, const json_t *v,
                               const char *path, char **out)
{
    *out = NULL;
    if (!json_is_string(v)) {
        return cairn__plan_type_error(d, path, "a string", v);
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    char what[16];
    if (len == 0) {
        return cairn__plan_fail(d, path, "id must not be empty");
    }
    if (len > CAIRN_MAX_ID) {
        return cairn__plan_fail(d, path, "id is longer than %d characters",
                                CAIRN_MAX_ID);
    }
    if (!id_char(s[0], 1)) {
        cairn__plan_describe_char(s[0], what);
        return cairn__plan_fail(
            d, path, "id must start with a letter or a digit, not %s", what);
    }
    for (size_t i = 1; i < len; i++) {
        if (!id_char(s[i], 0)) {
            cairn__plan_describe_char(s[i], what);
            return cairn__plan_fail(
                d, path, "id has an invalid character %s at offset %zu", what,
                i);
        }
    }
    *out = strdup(s);
    return *out == NULL ? cairn__plan_nomem(d) : CAIRN_OK;
}

cairn_err cairn__plan_id_field(const cairn_plan_diag *d, const json_t *obj,
                               const char *path, const char *key, int required,
                               char **out)
{
    const json_t *v;
    char sub[CAIRN_PLAN_PATH_MAX];
    *out = NULL;
    cairn_err err = cairn__plan_member(d, obj, path, key, required, &v);
    if (err != CAIRN_OK || v == NULL) {
        return err;
    }
    cairn__plan_path_key(sub, path, key);
    return cairn__plan_id_value(d, v, sub, out);
}

cairn_err cairn__plan_text_field(const cairn_plan_diag *d, const json_t *obj,
                                 const char *path, const char *key)
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
    if (json_string_length(v) > CAIRN_MAX_TEXT) {
        return cairn__plan_fail(d, sub, "longer than %d bytes", CAIRN_MAX_TEXT);
    }
    return CAIRN_OK;
}

cairn_err cairn__plan_duration_field(const cairn_plan_diag *d,
                                     const json_t *obj, const char *path,
                                     const char *key, uint64_t *ns,
                                     const char **text)
{
    const json_t *v = json_object_get(obj, key);
    char sub[CAIRN_PLAN_PATH_MAX];
    char why[CAIRN_DURATION_WHY_MAX];
    char q[CAIRN_PLAN_QUOTE_MAX];
    if (v == NULL) {
        return CAIRN_OK;
    }
    cairn__plan_path_key(sub, path, key);
    if (!json_is_string(v)) {
        return cairn__plan_type_error(d, sub, "a duration string", v);
    }
    const char *s = json_string_value(v);
    uint64_t value;
    if (cairn__duration_check(s, 0, &value, why, sizeof(why)) != 0) {
        cairn__plan_quote(s, q);
        return cairn__plan_fail(d, sub, "invalid duration \"%s\": %s", q, why);
    }
    *ns = value;
    if (text != NULL) {
        *text = s;
    }
    return CAIRN_OK;
}

cairn_err cairn__plan_int_value(const cairn_plan_diag *d, const json_t *v,
                                const char *path, json_int_t min,
                                json_int_t max, json_int_t *out)
{
    if (!json_is_integer(v)) {
        return cairn__plan_type_error(d, path, "an integer", v);
    }
    json_int_t n = json_integer_value(v);
    if (n < min || n > max) {
        return cairn__plan_fail(d, path,
                                "must be between %" JSON_INTEGER_FORMAT
                                " and %" JSON_INTEGER_FORMAT
                                ", got %" JSON_INTEGER_FORMAT,
                                min, max, n);
    }
    *out = n;
    return CAIRN_OK;
}

int cairn__kind_mutating(cairn_kind kind)
{
    return kind != CAIRN_KIND_PREFLIGHT;
}

cairn_kind cairn__kind_parse(const char *word)
{
    if (word == NULL) {
        return (cairn_kind)0;
    }
    for (int k = CAIRN_KIND_PREFLIGHT; k <= CAIRN_KIND_CLEANUP; k++) {
        if (strcmp(word, cairn_kind_name((cairn_kind)k)) == 0) {
            return (cairn_kind)k;
        }
    }
    return (cairn_kind)0;
}
