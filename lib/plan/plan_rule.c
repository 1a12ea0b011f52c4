/*
 * plan_rule.c - the rules a required output's value obeys (a "requires"
 * entry of a plan: a type, "nonempty" by default, and an optional POSIX
 * extended regular expression that must match the whole value).  Used by
 * the plan parser (patterns compile at parse time), by the state machine
 * (a completed receipt is checked when written and on every replay) and by
 * the runner (a command's outputs are checked before the receipt).
 */
#include "plan/plan.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#define SHA256_HEX 64
#define SHA256_PREFIX "sha256:"
#define VALUE_CUT 64
/* glibc's regcomp copies a bounded repetition's operand once per count,
 * so nested bounds multiply: "((a{1,100}){1,100}){1,100}" needs gigabytes.
 * Patterns are held to a bound of at most 255 (POSIX's minimum
 * RE_DUP_MAX) and to an expanded size of at most PATTERN_MAX_COST atoms. */
#define PATTERN_MAX_BOUND 255
#define PATTERN_MAX_COST 4096u
#define PATTERN_MAX_DEPTH 32

const char *cairn__output_type_name(cairn_output_type type)
{
    switch (type) {
    case CAIRN_OUTPUT_NONEMPTY:
        return "nonempty";
    case CAIRN_OUTPUT_ANY:
        return "any";
    case CAIRN_OUTPUT_SHA256:
        return "sha256";
    }
    return "unknown";
}

int cairn__output_type_parse(const char *name, cairn_output_type *out)
{
    for (int t = 0; t <= (int)CAIRN_OUTPUT_TYPE_LAST; t++) {
        if (strcmp(name, cairn__output_type_name((cairn_output_type)t)) == 0) {
            *out = (cairn_output_type)t;
            return 0;
        }
    }
    return -1;
}

int cairn__output_rule_default(const cairn_output_rule *rule)
{
    return rule == NULL ||
           (rule->type == CAIRN_OUTPUT_NONEMPTY && rule->pattern == NULL);
}

/* Skip a bracket expression starting at p[*i] == '['; *i ends on its
 * closing ']' (or the end: regcomp reports that). */
static void skip_bracket(const char *p, size_t *i)
{
    size_t k = *i + 1;
    if (p[k] == '^') {
        k++;
    }
    if (p[k] == ']') {
        k++;
    }
    while (p[k] != '\0' && p[k] != ']') {
        if (p[k] == '[' &&
            (p[k + 1] == ':' || p[k + 1] == '.' || p[k + 1] == '=')) {
            char end = p[k + 1];
            k += 2;
            while (p[k] != '\0' && !(p[k] == end && p[k + 1] == ']')) {
                k++;
            }
            k += p[k] != '\0' ? 2 : 0;
        } else {
            k++;
        }
    }
    *i = p[k] == '\0' ? k - 1 : k;
}

/* A bound "{m}", "{m,}", "{m,n}" or "{,n}" (glibc: m = 0) at p[*i]: its
 * largest count (m + 1 for "{m,}"), *i on its '}'; 0 when this is no
 * bound or "{0}" (regcomp decides). */
static unsigned long bound_count(const char *p, size_t *i)
{
    char *end;
    size_t k = *i + 1;
    unsigned long m = 0;
    if (p[k] >= '0' && p[k] <= '9') {
        m = strtoul(p + k, &end, 10);
        k = (size_t)(end - p);
    } else if (p[k] != ',') {
        return 0;
    }
    unsigned long n = m;
    if (p[k] == ',') {
        k++;
        n = m + 1;
        if (p[k] >= '0' && p[k] <= '9') {
            n = strtoul(p + k, &end, 10);
            k = (size_t)(end - p);
        }
    }
    if (p[k] != '}') {
        return 0;
    }
    *i = k;
    return n > m ? n : m;
}

static int too_costly(char *why, size_t why_len)
{
    cairn__fmt(why, why_len, "nested repetitions expand to more than %u atoms",
               PATTERN_MAX_COST);
    return 0;
}

/* The count a repetition operator at p[*i] copies its operand (glibc
 * expands "x+" to "xx*" and "x{m,n}" to n copies); 1 for '*' and '?'; 0
 * when p[*i] is no repetition operator.  *i ends on the operator's last
 * byte; *bad is set when a bound is above PATTERN_MAX_BOUND. */
static unsigned long repeat_count(const char *p, size_t *i, int *bad)
{
    switch (p[*i]) {
    case '*':
    case '?':
        return 1;
    case '+':
        return 2;
    case '{': {
        size_t k = *i;
        unsigned long n = bound_count(p, &k);
        if (n == 0) {
            return 0;
        }
        *bad = n > PATTERN_MAX_BOUND;
        *i = k;
        return n;
    }
    default:
        return 0;
    }
}

/* One atom (or a closed group) of @p cost at the current depth. */
static int add_atom(unsigned long *size, unsigned long cost,
                    unsigned long *last)
{
    *size += cost;
    *last = cost;
    return *size <= PATTERN_MAX_COST;
}

/* Reject what would make regcomp or regexec blow up: back-references,
 * repetition operators one after another (undefined in POSIX, and
 * exponential in glibc), bounds above PATTERN_MAX_BOUND, and nested
 * repetitions expanding to more than PATTERN_MAX_COST atoms. */
static int pattern_cost_ok(const char *p, char *why, size_t why_len)
{
    unsigned long size[PATTERN_MAX_DEPTH + 1] = {0};
    unsigned long last = 0;
    size_t depth = 0;
    int repeated = 0; /* the last thing seen was a repetition operator */
    for (size_t i = 0; p[i] != '\0'; i++) {
        size_t at = i;
        int bad = 0;
        unsigned long n = last > 0 ? repeat_count(p, &i, &bad) : 0;
        if (n > 0) {
            if (bad) {
                cairn__fmt(why, why_len,
                           "repetition count above %d at offset %zu",
                           PATTERN_MAX_BOUND, at);
                return 0;
            }
            if (repeated) {
                cairn__fmt(why, why_len,
                           "repetition operator right after another at "
                           "offset %zu",
                           at);
                return 0;
            }
            /* The operand, counted once already, now n times. */
            size[depth] += last * (n - 1);
            last *= n;
            repeated = 1;
            if (size[depth] > PATTERN_MAX_COST) {
                return too_costly(why, why_len);
            }
            continue;
        }
        repeated = 0;
        switch (p[i]) {
        case '\\':
            if (p[i + 1] >= '1' && p[i + 1] <= '9') {
                cairn__fmt(why, why_len,
                           "back-reference at offset %zu (not part of POSIX "
                           "extended regular expressions)",
                           i);
                return 0;
            }
            i += p[i + 1] != '\0';
            break;
        case '[':
            skip_bracket(p, &i);
            break;
        case '(':
            if (++depth > PATTERN_MAX_DEPTH) {
                cairn__fmt(why, why_len, "groups nested deeper than %d",
                           PATTERN_MAX_DEPTH);
                return 0;
            }
            size[depth] = 0;
            last = 0;
            continue;
        case ')':
            if (depth > 0) {
                unsigned long group = size[depth--];
                if (!add_atom(&size[depth], group > 0 ? group : 1, &last)) {
                    return too_costly(why, why_len);
                }
                continue;
            }
            break;
        case '|':
        case '^':
        case '$':
            last = 0;
            continue;
        default:
            break;
        }
        if (!add_atom(&size[depth], 1, &last)) {
            return too_costly(why, why_len);
        }
    }
    return 1;
}

/* Compile @p pattern; 0 on success (*re to be freed), else -1 and why. */
static int compile(const char *pattern, regex_t *re, char *why, size_t why_len)
{
    size_t len = strlen(pattern);
    if (len == 0 || len > CAIRN_PLAN_MAX_PATTERN) {
        cairn__fmt(why, why_len, "must be 1 to %d bytes",
                   CAIRN_PLAN_MAX_PATTERN);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (pattern[i] < 0x20 || pattern[i] > 0x7e) {
            cairn__fmt(why, why_len,
                       "has a byte outside printable ASCII at offset %zu", i);
            return -1;
        }
    }
    if (!pattern_cost_ok(pattern, why, why_len)) {
        return -1;
    }
    int rc = regcomp(re, pattern, REG_EXTENDED);
    if (rc != 0) {
        char text[128];
        regerror(rc, re, text, sizeof(text));
        cairn__fmt(why, why_len, "%s", text);
        return -1;
    }
    return 0;
}

int cairn__output_pattern_check(const char *pattern, char *why, size_t why_len)
{
    regex_t re;
    if (compile(pattern, &re, why, why_len) != 0) {
        return -1;
    }
    regfree(&re);
    return 0;
}

static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static int is_sha256(const char *value)
{
    size_t len = strlen(value);
    size_t skip = strlen(SHA256_PREFIX);
    if (len == skip + SHA256_HEX && memcmp(value, SHA256_PREFIX, skip) == 0) {
        return lower_hex(value + skip, SHA256_HEX);
    }
    return len == SHA256_HEX && lower_hex(value, SHA256_HEX);
}

/* @p value quoted for a one-line message: printable ASCII kept, '"' and
 * '\\' escaped, other bytes \xHH, cut after VALUE_CUT bytes. */
static void quote_value(const char *value, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    for (; value[i] != '\0' && i < VALUE_CUT && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            cairn__fmt(out + o, 5, "\\x%02X", c);
            o += 4;
        }
    }
    out[o] = '\0';
    if (value[i] != '\0' && o + 4 <= cap) {
        memcpy(out + o, "...", 4);
    }
}

static int type_ok(cairn_output_type type, const char *value, char *why,
                   size_t why_len)
{
    char q[VALUE_CUT * 4 + 8];
    switch (type) {
    case CAIRN_OUTPUT_NONEMPTY:
        if (value[0] == '\0') {
            cairn__fmt(why, why_len, "is empty (type nonempty)");
            return 0;
        }
        return 1;
    case CAIRN_OUTPUT_ANY:
        return 1;
    case CAIRN_OUTPUT_SHA256:
        if (!is_sha256(value)) {
            quote_value(value, q, sizeof(q));
            cairn__fmt(why, why_len,
                       "\"%s\" is not a sha256 digest (type sha256: "
                       "\"sha256:\" and 64 lowercase hex digits, or the 64 "
                       "digits alone)",
                       q);
            return 0;
        }
        return 1;
    }
    cairn__fmt(why, why_len, "has an unknown type %d", (int)type);
    return 0;
}

int cairn__output_check(const cairn_output_rule *rule, const char *value,
                        char *why, size_t why_len)
{
    char q[VALUE_CUT * 4 + 8];
    char qp[VALUE_CUT * 4 + 8];
    char reason[160];
    regex_t re;
    regmatch_t m;
    if (rule == NULL) {
        return type_ok(CAIRN_OUTPUT_NONEMPTY, value, why, why_len) ? 0 : -1;
    }
    if (!type_ok(rule->type, value, why, why_len)) {
        return -1;
    }
    if (rule->pattern == NULL) {
        return 0;
    }
    quote_value(rule->pattern, qp, sizeof(qp));
    if (compile(rule->pattern, &re, reason, sizeof(reason)) != 0) {
        cairn__fmt(why, why_len, "cannot be checked: pattern \"%s\": %s", qp,
                   reason);
        return -1;
    }
    int rc = regexec(&re, value, 1, &m, 0);
    regfree(&re);
    /* POSIX matching is leftmost-longest: when the whole value can match,
     * the match found starts at 0 and ends at the end. */
    if (rc == 0 && m.rm_so == 0 && (size_t)m.rm_eo == strlen(value)) {
        return 0;
    }
    quote_value(value, q, sizeof(q));
    cairn__fmt(why, why_len, "\"%s\" does not match pattern \"%s\"", q, qp);
    return -1;
}

void cairn__requires_free(char **names, cairn_output_rule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (names != NULL) {
            free(names[i]);
        }
        if (rules != NULL) {
            free(rules[i].pattern);
        }
    }
    free(names);
    free(rules);
}

cairn_err cairn__requires_copy(char *const *src_names,
                               const cairn_output_rule *src, size_t n,
                               char ***names, cairn_output_rule **rules)
{
    *names = NULL;
    *rules = NULL;
    if (n == 0) {
        return CAIRN_OK;
    }
    char **nv = calloc(n, sizeof(char *));
    cairn_output_rule *rv = calloc(n, sizeof(cairn_output_rule));
    int ok = nv != NULL && rv != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        nv[i] = strdup(src_names[i]);
        ok = nv[i] != NULL;
        if (ok && src != NULL) {
            rv[i].type = src[i].type;
            if (src[i].pattern != NULL) {
                rv[i].pattern = strdup(src[i].pattern);
                ok = rv[i].pattern != NULL;
            }
        }
    }
    if (!ok) {
        cairn__requires_free(nv, rv, nv != NULL && rv != NULL ? n : 0);
        return CAIRN_ENOMEM;
    }
    *names = nv;
    *rules = rv;
    return CAIRN_OK;
}
