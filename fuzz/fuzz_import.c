/*
 * fuzz_import.c - libFuzzer target for the decoder of the `imports`
 * database's value (docs/FORMAT.md section 21).  `status`, `log` and
 * `verify` of an imported run decode it, and `verify` does so on journals
 * it does not trust.
 * Target: cairn__import_value_decode (lib/format/import_value.c), with
 * cairn__import_value_encode and cairn__import_value_free.
 * Invariants: a failed decode returns CAIRN_ECORRUPT (or CAIRN_ENOMEM)
 * with a detail naming "import" and leaves nothing to free; a successful
 * decode has every record inside the plain bundle (the bundle, or for
 * version 2 its decompressed length), in order and apart, a version
 * matching the bundle's bytes (zstd or not), and re-encodes to exactly
 * the input bytes (the encoding is canonical).
 */
#include "base/zstd.h"
#include "format/import_value.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_import_value v;
    char detail[160];
    detail[0] = '\0';
    cairn_err err =
        cairn__import_value_decode(data, size, &v, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        if ((err != CAIRN_ECORRUPT && err != CAIRN_ENOMEM) ||
            strstr(detail, "import") == NULL || v.recs != NULL ||
            v.n_recs != 0) {
            abort();
        }
        return 0;
    }
    uint64_t end = 0;
    for (size_t i = 0; i < v.n_recs; i++) {
        const cairn_import_rec *r = &v.recs[i];
        if (r->len == 0 || r->offset < end ||
            (uint64_t)r->offset + r->len > v.unpacked_len ||
            (i > 0 && r->position <= v.recs[i - 1].position)) {
            abort();
        }
        end = (uint64_t)r->offset + r->len;
    }
    if (cairn__zstd_is_frame(v.bundle, v.bundle_len) != v.compressed ||
        (!v.compressed && v.unpacked_len != v.bundle_len)) {
        abort();
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (cairn__import_value_encode(&v, &out, &out_len) != CAIRN_OK ||
        out_len != size || memcmp(out, data, size) != 0) {
        abort();
    }
    free(out);
    cairn__import_value_free(&v);
    return 0;
}
