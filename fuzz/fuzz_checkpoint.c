/*
 * fuzz_checkpoint.c - libFuzzer target for the checkpoint decoder.
 * Target: cairn__checkpoint_decode (lib/format/codec_checkpoint.c), with
 * cairn__checkpoint_encode and cairn__checkpoint_message.
 * Invariants: a failed decode returns CAIRN_ECORRUPT or CAIRN_EVERSION
 * with an offset in its detail; a successful decode (exactly 130 bytes)
 * (unsigned, signed, or sealed by the journal head) re-encodes to exactly
 * the input bytes; the signed message has the
 * documented length.
 */
#include "format/record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_checkpoint cp;
    char detail[128];
    cairn_err err =
        cairn__checkpoint_decode(data, size, &cp, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        if ((err != CAIRN_ECORRUPT && err != CAIRN_EVERSION) ||
            strncmp(detail, "offset ", 7) != 0) {
            abort();
        }
        return 0;
    }
    uint8_t out[CAIRN_CHECKPOINT_BYTES];
    cairn__checkpoint_encode(&cp, out);
    if (size != CAIRN_CHECKPOINT_BYTES || memcmp(out, data, size) != 0) {
        abort();
    }
    static const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES] = {1, 2, 3};
    uint8_t msg[CAIRN_CHECKPOINT_MSG_MAX];
    size_t n = cairn__checkpoint_message(&cp, journal_id, "run-1", msg);
    if (n != 20 + 16 + 2 + 5 + 8 + 32 + 8 + 8) {
        abort();
    }
    return 0;
}
