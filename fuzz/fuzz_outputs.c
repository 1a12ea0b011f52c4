/*
 * fuzz_outputs.c - libFuzzer target for the $CAIRN_OUTPUT parser.
 * Target: cairn__outputs_parse (lib/format/outputs.c).
 * Checks the invariants of a successful parse (key syntax and length,
 * value length, no NUL, no duplicates, pair limit) and that a failed parse
 * leaves an empty list and a non-empty detail.
 */
#include "format/outputs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > CAIRN_MAX_KV_KEY) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static void check_ok(const cairn_kvlist *l)
{
    if (l->n > CAIRN_MAX_KV || (l->n > 0 && l->v == NULL)) {
        abort();
    }
    for (size_t i = 0; i < l->n; i++) {
        if (!key_ok(l->v[i].key) ||
            strlen(l->v[i].value) > CAIRN_MAX_KV_VALUE ||
            strchr(l->v[i].value, '\n') != NULL) {
            abort();
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(l->v[i].key, l->v[j].key) == 0) {
                abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_kvlist l;
    char detail[256];
    cairn_err e = cairn__outputs_parse((const char *)data, size, &l, detail,
                                       sizeof detail);
    if (e == CAIRN_OK) {
        check_ok(&l);
    } else if (e == CAIRN_EINVAL) {
        if (l.v != NULL || l.n != 0 || detail[0] == '\0') {
            abort();
        }
    } else if (e != CAIRN_ENOMEM) {
        /* CAIRN_ENOMEM is possible only when allocation fails. */
        abort();
    }
    cairn__kvlist_free(&l);
    return 0;
}
