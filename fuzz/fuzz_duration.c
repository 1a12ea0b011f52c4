/*
 * fuzz_duration.c - Target: cairn__duration_parse() (and
 * cairn__duration_check()) on arbitrary text, compared with a simple
 * reference that sums in 128-bit arithmetic.  Aborts when they disagree on
 * acceptance or value, or when a rejection leaves *ns non-zero or gives no
 * reason.
 */
#include "plan/plan_json.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__extension__ typedef unsigned __int128 u128;

#define LIMIT ((u128)UINT64_MAX + 1) /* sticky "too large" */

static u128 cap(u128 v)
{
    return v > LIMIT ? LIMIT : v;
}

/* 0 and the value, or -1. */
static int reference(const char *s, uint64_t *out)
{
    u128 total = 0;
    size_t i = 0;
    if (s[0] == '\0') {
        return -1;
    }
    while (s[i] != '\0') {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        u128 n = 0;
        while (s[i] >= '0' && s[i] <= '9') {
            n = cap(n * 10 + (u128)(unsigned)(s[i] - '0'));
            i++;
        }
        u128 unit;
        if (s[i] == 'm' && s[i + 1] == 's') {
            unit = 1000000;
            i += 2;
        } else if (s[i] == 's' || s[i] == 'm' || s[i] == 'h' || s[i] == 'd') {
            unit = s[i] == 's'   ? 1000000000ull
                   : s[i] == 'm' ? 60000000000ull
                   : s[i] == 'h' ? 3600000000000ull
                                 : 86400000000000ull;
            i++;
        } else {
            return -1;
        }
        total = cap(total + cap(n * unit));
    }
    if (total == 0 || total > UINT64_MAX) {
        return -1;
    }
    *out = (uint64_t)total;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    uint64_t ns = 42, want = 0;
    char why[CAIRN_DURATION_WHY_MAX] = "";
    int rc = cairn__duration_parse(text, &ns);
    int ref = reference(text, &want);
    if (rc != ref || (rc == 0 && ns != want) || (rc != 0 && ns != 0)) {
        abort();
    }
    uint64_t ns2 = 42;
    if (cairn__duration_check(text, &ns2, why, sizeof(why)) != rc ||
        ns2 != ns || (rc != 0 && why[0] == '\0')) {
        abort();
    }
    free(text);
    return 0;
}
