/*
 * fuzz_record.c - libFuzzer target for the journal record decoder.
 * Target: cairn__record_decode (lib/format/codec_record.c), with
 * cairn__record_encode (lib/format/codec_encode.c) and cairn__leaf_hash;
 * every record type, the journal's ROTATE record (type 12, run 0: key
 * rotation, docs/FORMAT.md section 24) included, and for a ROTATE record
 * cairn__rotate_message (the bytes its two signatures cover).
 * Invariants: a failed decode returns CAIRN_ECORRUPT or CAIRN_EVERSION
 * (CAIRN_ENOMEM aside), names an offset in its detail and leaves an empty
 * record; a successful decode re-encodes to exactly the input bytes
 * (canonical form) and decodes again to the same bytes.  Also
 * cairn__record_decode_scratch (the verifier's decoder, one scratch
 * reused from input to input): the same error and detail, and on success
 * a record that encodes to the same bytes.
 */
#include "format/record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failure(cairn_err err, const cairn_record *rec,
                          const char *detail)
{
    if (err == CAIRN_ENOMEM) {
        return;
    }
    if (err != CAIRN_ECORRUPT && err != CAIRN_EVERSION) {
        abort();
    }
    if (strncmp(detail, "offset ", 7) != 0) {
        abort();
    }
    if (rec->actor[0] != '\0' || rec->reason[0] != '\0' ||
        rec->plan_json[0] != '\0' || rec->outputs.n != 0 ||
        rec->evidence.n != 0 || rec->outputs.v != NULL) {
        abort();
    }
}

/* Reused across inputs, as a verifier reuses it across records. */
static cairn_record_scratch scratch;

/* The scratch decoder must agree with the allocating one (@p want,
 * @p want_detail); an ENOMEM on either side proves nothing. */
static void check_scratch(const uint8_t *data, size_t size, cairn_err want,
                          const char *want_detail)
{
    cairn_record rec;
    char detail[256];
    cairn_err err = cairn__record_decode_scratch(data, size, &rec, &scratch,
                                                 detail, sizeof(detail));
    if (err == CAIRN_ENOMEM || want == CAIRN_ENOMEM) {
        cairn__record_free(&rec);
        return;
    }
    if (err != want || strcmp(detail, want_detail) != 0) {
        abort();
    }
    if (err != CAIRN_OK) {
        check_failure(err, &rec, detail);
        return;
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    err = cairn__record_encode(&rec, &out, &out_len, detail, sizeof(detail));
    if (err == CAIRN_OK &&
        (out_len != size || memcmp(out, data, size) != 0 || !rec.in_scratch)) {
        abort();
    }
    if (err != CAIRN_OK && err != CAIRN_ENOMEM) {
        abort();
    }
    free(out);
    cairn__record_free(&rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_record rec;
    char detail[256];
    cairn_err err =
        cairn__record_decode(data, size, &rec, detail, sizeof(detail));
    check_scratch(data, size, err, detail);
    if (err != CAIRN_OK) {
        check_failure(err, &rec, detail);
        cairn__record_free(&rec);
        return 0;
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    err = cairn__record_encode(&rec, &out, &out_len, detail, sizeof(detail));
    if (err == CAIRN_ENOMEM) {
        cairn__record_free(&rec);
        return 0;
    }
    if (err != CAIRN_OK || out_len != size || memcmp(out, data, size) != 0) {
        abort(); /* not canonical: decode accepted what encode would not
                    write byte for byte */
    }
    if (rec.type == CAIRN_REC_ROTATE) {
        /* The signed part: the tag, then every byte but the signatures. */
        uint8_t *msg = NULL;
        size_t n = 0;
        err = cairn__rotate_message(data, size, &msg, &n);
        if (err == CAIRN_OK &&
            (n != sizeof(CAIRN_ROTATE_TAG) + size - CAIRN_ROTATE_SIGS_BYTES ||
             memcmp(msg + sizeof(CAIRN_ROTATE_TAG), data,
                    size - CAIRN_ROTATE_SIGS_BYTES) != 0 ||
             rec.run_num != 0 || rec.from_size == 0)) {
            abort();
        }
        if (err != CAIRN_OK && err != CAIRN_ENOMEM) {
            abort();
        }
        free(msg);
    }
    uint8_t h1[CAIRN_HASH_BYTES], h2[CAIRN_HASH_BYTES];
    cairn__leaf_hash(data, size, h1);
    cairn__leaf_hash(out, out_len, h2);
    if (memcmp(h1, h2, sizeof(h1)) != 0) {
        abort();
    }
    cairn__record_free(&rec);
    free(out);
    return 0;
}
