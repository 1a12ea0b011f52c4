/*
 * fuzz_duration.c - Target: the one duration parser (lib/base/duration.c:
 * cairn__duration_parse(), cairn__duration_check() and the exported
 * cairn_duration_parse(), with and without CAIRN_DURATION_ZERO) on
 * arbitrary text, compared with a simple reference that sums in 128-bit
 * arithmetic.  Invariants: every entry point agrees with the reference on
 * acceptance and value (zero accepted exactly when the flag allows it); a
 * rejection leaves *ns zero and gives a reason.
 */
#include "base/duration.h"

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
static int reference(const char *s, int zero_ok, uint64_t *out)
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
    if ((total == 0 && !zero_ok) || total > UINT64_MAX) {
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
    int ref = reference(text, 0, &want);
    if (rc != ref || (rc == 0 && ns != want) || (rc != 0 && ns != 0)) {
        abort();
    }
    uint64_t ns2 = 42;
    if (cairn__duration_check(text, 0, &ns2, why, sizeof(why)) != rc ||
        ns2 != ns || (rc != 0 && why[0] == '\0')) {
        abort();
    }
    for (unsigned flags = 0; flags <= CAIRN_DURATION_ZERO; flags++) {
        uint64_t ns3 = 42;
        why[0] = '\0';
        ref = reference(text, flags != 0, &want);
        cairn_err err =
            cairn_duration_parse(text, flags, &ns3, why, sizeof(why));
        if ((err == CAIRN_OK) != (ref == 0) ||
            (err != CAIRN_OK && err != CAIRN_EINVAL) ||
            (ref == 0 && ns3 != want) || (ref != 0 && ns3 != 0) ||
            (ref != 0 && why[0] == '\0') || (ref == 0 && why[0] != '\0')) {
            abort();
        }
    }
    free(text);
    return 0;
}
