/*
 * fuzz_witness.c - libFuzzer target for the witness's decoders.
 * Target: cairn__witness_req_parse (lib/witness/witness_req.c), the
 * tlog-witness add-checkpoint request body, and cairn__witness_rec_decode,
 * a witness store record, each on the whole input.  Invariants: a
 * refused request is CAIRN_EINVAL with a detail "byte N: ..." where
 * N <= the input's length (or the request limit) and leaves the output
 * zeroed; an accepted request has at most 63 proof hashes, an old size
 * of at most 2^63 - 1, a note that runs to the end of the input, and
 * re-encodes ("old N", the hashes in base64, a blank line, the note) to
 * exactly its bytes; a refused record is CAIRN_ECORRUPT, an accepted
 * one re-encodes to exactly its bytes.
 */
#include "base/crypto.h"
#include "witness/witness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(const char *detail, size_t size)
{
    if (strncmp(detail, "byte ", 5) != 0) {
        abort();
    }
    char *end = NULL;
    unsigned long long at = strtoull(detail + 5, &end, 10);
    if (end == detail + 5 || *end != ':' ||
        (at > size && at != CAIRN__WITNESS_REQ_MAX)) {
        abort();
    }
}

static void check_request(const uint8_t *data, size_t size)
{
    static cairn_witness_req req, zero;
    char detail[512] = "";
    cairn_err err = cairn__witness_req_parse((const char *)data, size, &req,
                                             detail, sizeof(detail));
    if (err != CAIRN_OK) {
        if (err != CAIRN_EINVAL || memcmp(&req, &zero, sizeof(req)) != 0) {
            abort();
        }
        check_refusal(detail, size);
        return;
    }
    if (req.n_proof > CAIRN__WITNESS_MAX_PROOF ||
        req.old_size > CAIRN_TLOG_MAX_SIZE ||
        req.note != (const char *)data + req.note_offset ||
        req.note_offset + req.note_len != size || req.parsed.n_sigs == 0) {
        abort();
    }
    cairn_wr w;
    cairn__wr_init(&w, CAIRN__WITNESS_REQ_MAX);
    char line[32];
    snprintf(line, sizeof(line), "old %llu\n",
             (unsigned long long)req.old_size);
    cairn__wr_bytes(&w, line, strlen(line));
    for (size_t i = 0; i < req.n_proof; i++) {
        char b64[48];
        cairn__b64_encode(req.proof[i], 32, b64, sizeof(b64));
        cairn__wr_bytes(&w, b64, strlen(b64));
        cairn__wr_u8(&w, '\n');
    }
    cairn__wr_u8(&w, '\n');
    cairn__wr_bytes(&w, req.note, req.note_len);
    if (cairn__wr_status(&w) != CAIRN_OK || w.len != size ||
        memcmp(w.p, data, size) != 0) {
        abort();
    }
    cairn__wr_free(&w);
}

static void check_record(const uint8_t *data, size_t size)
{
    cairn_witness_rec rec;
    cairn_err err = cairn__witness_rec_decode(data, size, &rec, NULL, 0);
    if (err != CAIRN_OK) {
        if (err != CAIRN_ECORRUPT) {
            abort();
        }
        return;
    }
    cairn_wr w;
    cairn__wr_init(&w, CAIRN_NOTE_MAX_BYTES + 256);
    if (cairn__witness_rec_encode(&w, &rec) != CAIRN_OK || w.len != size ||
        memcmp(w.p, data, size) != 0) {
        abort();
    }
    cairn__wr_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_request(data, size);
    check_record(data, size);
    return 0;
}
