/*
 * duration.c - the one duration parser (duration.h): one or more
 * <digits><unit> groups, units ms, s, m, h, d ("500ms", "30s", "1h30m"),
 * summed into uint64 nanoseconds.  No sign, no spaces, no fractions; the
 * total must be > 0 unless the caller allows 0 (CAIRN_DURATION_ZERO), and
 * every step is overflow-checked.  Plans, the runner's CLI options and
 * `log --since` all parse through it.
 */
#include "base/duration.h"

#include <string.h>

#define NS_PER_MS 1000000ull
#define NS_PER_S (1000ull * NS_PER_MS)

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the unit at s (0 when none) and its size in ns. */
static size_t unit_at(const char *s, uint64_t *scale)
{
    switch (s[0]) {
    case 'm':
        if (s[1] == 's') {
            *scale = NS_PER_MS;
            return 2;
        }
        *scale = 60 * NS_PER_S;
        return 1;
    case 's':
        *scale = NS_PER_S;
        return 1;
    case 'h':
        *scale = 3600 * NS_PER_S;
        return 1;
    case 'd':
        *scale = 86400 * NS_PER_S;
        return 1;
    default:
        return 0;
    }
}

/* Parse one group at text[*pos]; adds its value to *total. */
static int group(const char *text, size_t *pos, uint64_t *total, char *why,
                 size_t why_len)
{
    size_t i = *pos;
    if (!is_digit(text[i])) {
        cairn__fmt(why, why_len, "offset %zu: expected a digit", i);
        return -1;
    }
    uint64_t n = 0;
    for (; is_digit(text[i]); i++) {
        uint64_t digit = (uint64_t)(text[i] - '0');
        if (n > (UINT64_MAX - digit) / 10) {
            cairn__fmt(why, why_len, "overflows 64-bit nanoseconds");
            return -1;
        }
        n = n * 10 + digit;
    }
    uint64_t scale = 0;
    size_t ulen = unit_at(text + i, &scale);
    if (ulen == 0) {
        cairn__fmt(why, why_len,
                   "offset %zu: expected a unit (ms, s, m, h or d)", i);
        return -1;
    }
    if (n > UINT64_MAX / scale || *total > UINT64_MAX - n * scale) {
        cairn__fmt(why, why_len, "overflows 64-bit nanoseconds");
        return -1;
    }
    *total += n * scale;
    *pos = i + ulen;
    return 0;
}

int cairn__duration_check(const char *text, unsigned flags, uint64_t *ns,
                          char *why, size_t why_len)
{
    *ns = 0;
    if (text[0] == '\0') {
        cairn__fmt(why, why_len, "is empty");
        return -1;
    }
    uint64_t total = 0;
    size_t pos = 0;
    while (text[pos] != '\0') {
        if (group(text, &pos, &total, why, why_len) != 0) {
            return -1;
        }
    }
    if (total == 0 && (flags & CAIRN_DURATION_ZERO) == 0) {
        cairn__fmt(why, why_len, "must be greater than zero");
        return -1;
    }
    *ns = total;
    return 0;
}

int cairn__duration_parse(const char *text, uint64_t *ns)
{
    if (ns == NULL) {
        return -1;
    }
    if (text == NULL) {
        *ns = 0;
        return -1;
    }
    return cairn__duration_check(text, 0, ns, NULL, 0);
}

cairn_err cairn_duration_parse(const char *text, unsigned flags, uint64_t *ns,
                               char *why, size_t why_len)
{
    cairn__clear(why, why_len);
    if (ns == NULL) {
        return CAIRN_EINVAL;
    }
    *ns = 0;
    if (text == NULL || (flags & ~(unsigned)CAIRN_DURATION_ZERO) != 0) {
        cairn__fmt(why, why_len, "bad argument");
        return CAIRN_EINVAL;
    }
    return cairn__duration_check(text, flags, ns, why, why_len) == 0
               ? CAIRN_OK
               : CAIRN_EINVAL;
}
