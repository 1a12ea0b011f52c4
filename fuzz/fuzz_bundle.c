/*
 * fuzz_bundle.c - libFuzzer target for the bundle parser and the verifier
 * core behind it.
 * Target: cairn__verify_bundle_mem (lib/verify/bundle.c), which drives
 * cairn__vcore_record / cairn__vcore_checkpoint (lib/verify/verify_core.c):
 * record and checkpoint decoding, chain, state machine, signatures.
 * Version 2 (cairn__verify_bundle_mem_ex, lib/verify/bundle_v2.c): the
 * trailer parser, the head note, the inclusion and state proofs, the
 * state blob against the replay, and one anchor's consistency proof.
 * The seeds (fuzz/corpus/bundle/) come from real runs: version 1 from a
 * three-record run signed with pinned_b64, version 2 from journal
 * c2d59b5d... signed with pinned2_b64, two of them carrying the
 * consistency proof from the anchor below, one of them zstd-compressed
 * (export --zstd: cairn__bundle_unpack decompresses at most 16 MiB here,
 * 1 GiB in verify-bundle); version 3 (lib/verify/bundle_keys.c: the key
 * history block, its ROTATE records read as a chain, their inclusion
 * proofs, the head's key in force) from a journal that rotated twice
 * (pinned3_b64 is its first key, which signed none of the heads), two
 * runs, one zstd-compressed; the secret keys are not kept.
 * Invariants: the result is CAIRN_OK or CAIRN_EBUNDLE (never ENOMEM on
 * these sizes); CAIRN_EBUNDLE comes with verdict TAMPERED and a detail
 * naming a byte offset; the verdict is one of the four; VERIFIED needs the
 * pinned key, at least one record, every record sealed, every checkpoint
 * signed, and a head; every report string is NUL-terminated.  The same
 * input without a pinned key is never VERIFIED.  A VERIFIED version-2
 * bundle has a signed head and a proven state, and VERIFIED with the
 * anchor means the anchor verified.  A VERIFIED version-3 bundle carries
 * at least one rotation, a proven state and a head whose signature
 * verified.
 */
#include "verify/bundle_anchor.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char pinned_b64[] =
    "RWTRpof/q2ZRNbVL7rTPxplfN+yDqu3YE/pEv65GEB9fiIlLMmrae6Ys";
static const char pinned2_b64[] =
    "RWRIzoEbF4pPpA0grt6FowPNI89nqSxW210r/EphvXdC0lqqPzEqIUAP";
static const char pinned3_b64[] =
    "RWR0kz0FUq5nj2qUt8qnV4C5oDQWxcaoVNWOzFw5AA5erDAs2GQVPnLA";
/* The seed journal's head at 4 records. */
static const char anchor_text[] =
    "cairn/journal/c2d59b5d0bbb1d3a0fca40379a62715e\n"
    "4\n"
    "uYYpB8KFj8E7nlPC+J7wEjfm9J36HxgKtJ0IM/YgWnQ=\n"
    "cairn-state 2 S/pmoLB+BXrlUXDFx+0B8NJUhRg5P6/zaUWIAXcuL6s=\n"
    "cairn-time 1796659206586194576\n"
    "\n"
    "— cairn/journal/c2d59b5d0bbb1d3a0fca40379a62715e "
    "7XUrrEYTjPlU6SR2tOG+Vqu6deqRNPV/"
    "OGP69rSQLXNLckA4LbQmtdjc1rwufzOmKriTzxMaoijxhDPeNWgg3Z2I6AY=\n";

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

/* Version 2 with the anchor. */
static void check_v2(const uint8_t *data, size_t size, const cairn_pubkey *key)
{
    cairn__anchor_note anchor;
    cairn_verify_report r;
    cairn_bundle_info info;
    char detail[256];
    if (cairn__bundle_anchor_parse(anchor_text, sizeof(anchor_text) - 1,
                                   &anchor, detail,
                                   sizeof(detail)) != CAIRN_OK) {
        abort();
    }
    cairn__bundle_check c = {key, &anchor, 1, NULL, NULL, NULL};
    cairn_err err = cairn__verify_bundle_mem_ex(data, size, &c, &r, &info,
                                                detail, sizeof(detail));
    check_strings(&r);
    if (err != CAIRN_OK && err != CAIRN_EBUNDLE) {
        abort();
    }
    if (r.verdict == CAIRN_VERDICT_VERIFIED &&
        (key == NULL || info.version != 2 || !info.state_proven ||
         r.format != 2 || !r.journal_head.signature_ok || info.n_anchors != 1 ||
         info.anchors[0].verdict != CAIRN_VERDICT_VERIFIED)) {
        abort();
    }
    for (size_t i = 0; i < info.n_anchors; i++) {
        if (memchr(info.anchors[i].reason, 0, sizeof(info.anchors[i].reason)) ==
            NULL) {
            abort();
        }
    }
}

/* Version 3: the key history; @p key is a key of the seeds' chain. */
static void check_v3(const uint8_t *data, size_t size, const cairn_pubkey *key)
{
    cairn_verify_report r;
    cairn_bundle_info info;
    char detail[256];
    cairn_pubkey *signer = NULL;
    cairn__bundle_check c = {key, NULL, 0, NULL, &signer, NULL};
    cairn_err err = cairn__verify_bundle_mem_ex(data, size, &c, &r, &info,
                                                detail, sizeof(detail));
    check_strings(&r);
    if (err != CAIRN_OK && err != CAIRN_EBUNDLE) {
        abort();
    }
    if (r.verdict == CAIRN_VERDICT_VERIFIED && info.version == 3 &&
        (key == NULL || info.rotations == 0 || !info.state_proven ||
         !r.journal_head.signature_ok || signer == NULL)) {
        abort();
    }
    cairn_pubkey_free(signer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_pubkey *key = NULL, *key2 = NULL;
    char detail[256];
    uint8_t *owned = NULL;
    const uint8_t *bytes;
    size_t len;
    cairn_err err = cairn__bundle_unpack(data, size, (size_t)16 << 20, &owned,
                                         &bytes, &len, detail, sizeof(detail));
    if (err == CAIRN_EBUNDLE) {
        if (strncmp(detail, "offset ", 7) != 0 || owned != NULL) {
            abort();
        }
        return 0;
    }
    if (err != CAIRN_OK || len > ((size_t)16 << 20)) {
        abort();
    }
    data = bytes;
    size = len;
    if (cairn_pubkey_parse(pinned_b64, &key, detail, sizeof(detail)) !=
            CAIRN_OK ||
        cairn_pubkey_parse(pinned2_b64, &key2, detail, sizeof(detail)) !=
            CAIRN_OK) {
        abort();
    }
    check(data, size, key);
    check(data, size, key2);
    check(data, size, NULL);
    check_v2(data, size, key2);
    check_v2(data, size, NULL);
    cairn_pubkey *key3 = NULL;
    if (cairn_pubkey_parse(pinned3_b64, &key3, detail, sizeof(detail)) !=
        CAIRN_OK) {
        abort();
    }
    check_v3(data, size, key3);
    check_v3(data, size, NULL);
    cairn_pubkey_free(key3);
    cairn_pubkey_free(key);
    cairn_pubkey_free(key2);
    free(owned);
    return 0;
}
