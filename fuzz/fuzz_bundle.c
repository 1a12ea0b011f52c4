/*
 * fuzz_bundle.c - libFuzzer target for the bundle parser and the verifier
 * core behind it.
 * Target: cairn__verify_bundle_mem (lib/verify/bundle.c), which drives
 * cairn__vcore_record / cairn__vcore_checkpoint (lib/verify/verify_core.c):
 * record and checkpoint decoding, chain, state machine, signatures.
 * The seeds (fuzz/corpus/bundle/) come from a real three-record run
 * signed with the key pinned below; its secret key is not kept.
 * Invariants: the result is CAIRN_OK or CAIRN_EBUNDLE (never ENOMEM on
 * these sizes); CAIRN_EBUNDLE comes with verdict TAMPERED and a detail
 * naming a byte offset; the verdict is one of the four; VERIFIED needs the
 * pinned key, at least one record, every record sealed, every checkpoint
 * signed, and a head; every report string is NUL-terminated.  The same
 * input without a pinned key is never VERIFIED.
 */
#include "verify/verify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char pinned_b64[] =
    "RWTRpof/q2ZRNbVL7rTPxplfN+yDqu3YE/pEv65GEB9fiIlLMmrae6Ys";

static void check_strings(const cairn_verify_report *r)
{
    if (memchr(r->run_id, 0, sizeof(r->run_id)) == NULL ||
        memchr(r->bad_field, 0, sizeof(r->bad_field)) == NULL ||
        memchr(r->expected, 0, sizeof(r->expected)) == NULL ||
        memchr(r->found, 0, sizeof(r->found)) == NULL ||
        memchr(r->reason, 0, sizeof(r->reason)) == NULL ||
        memchr(r->fingerprint, 0, sizeof(r->fingerprint)) == NULL) {
        abort();
    }
}

static void check(const uint8_t *data, size_t size, const cairn_pubkey *key)
{
    cairn_verify_report r;
    char detail[256];
    cairn_err err =
        cairn__verify_bundle_mem(data, size, key, &r, detail, sizeof(detail));
    check_strings(&r);
    if (err == CAIRN_EBUNDLE) {
        if (r.verdict != CAIRN_VERDICT_TAMPERED ||
            strncmp(detail, "offset ", 7) != 0) {
            abort();
        }
        return;
    }
    if (err != CAIRN_OK) {
        abort();
    }
    switch (r.verdict) {
    case CAIRN_VERDICT_VERIFIED:
        if (key == NULL || r.records == 0 || r.unsealed != 0 ||
            r.signatures_ok != r.checkpoints || r.checkpoints == 0 ||
            !r.run_signed || !r.replay_ok) {
            abort();
        }
        break;
    case CAIRN_VERDICT_TAMPERED:
    case CAIRN_VERDICT_INCOMPLETE:
        break;
    case CAIRN_VERDICT_ERROR:
        abort(); /* nothing in memory can fail to be read */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_pubkey *key = NULL;
    char detail[128];
    if (cairn_pubkey_parse(pinned_b64, &key, detail, sizeof(detail)) !=
        CAIRN_OK) {
        abort();
    }
    check(data, size, key);
    check(data, size, NULL);
    cairn_pubkey_free(key);
    return 0;
}
