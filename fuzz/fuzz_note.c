/*
 * fuzz_note.c - libFuzzer target for the C2SP signed-note decoders.
 * Target: cairn__note_parse, cairn__tlog_checkpoint_parse,
 * cairn__note_vkey_parse and cairn__tlog_proof_parse
 * (lib/format/note.c, note_proof.c), with their encoders,
 * cairn__note_verify and cairn__cosig_verify (note_cosig.c).
 * Every parser runs on the whole input.  Invariants: a refusal is
 * CAIRN_ECORRUPT (CAIRN_EKEY for a verifier key) with a detail
 * "byte N: ..." where N <= the input's length, and leaves the output
 * zeroed; an accepted input re-encodes to exactly its bytes; a parsed
 * note has 1..100 signature lines and a text ending in '\n'; verifying
 * under a fixed key and cosigner gives CAIRN_OK, CAIRN_EKEYMISMATCH or
 * CAIRN_ETAMPERED only; a proof's hash count is the RFC 6962 inclusion
 * proof length of its index in its checkpoint's tree.
 */
#include "base/crypto.h"
#include "format/note.h"
#include "format/merkle.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The detail of a refusal names a byte inside (or just past) the input. */
static void check_refusal(const char *detail, size_t size)
{
    if (strncmp(detail, "byte ", 5) != 0) {
        abort();
    }
    char *end = NULL;
    unsigned long long at = strtoull(detail + 5, &end, 10);
    if (end == detail + 5 || *end != ':' ||
        (at > size && at != CAIRN_NOTE_MAX_BYTES && at != CAIRN_NOTE_MAX_TEXT &&
         at != CAIRN_NOTE_VKEY_MAX)) {
        abort();
    }
}

static void same(cairn_wr *w, const uint8_t *data, size_t size)
{
    if (cairn__wr_status(w) != CAIRN_OK || w->len != size ||
        (size > 0 && memcmp(w->p, data, size) != 0)) {
        abort();
    }
    cairn__wr_free(w);
}

static void verify_outcomes(const cairn_note *n)
{
    /* The key of fuzz/corpus/note/go-note and go-cosigned: seed
     * 0x00..0x1f (log), 0x20..0x3f (cosigner). */
    uint8_t seed[32], pk[32], sk[64];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)i;
    }
    if (cairn__ed25519_seed_keypair(pk, sk, seed) != CAIRN_OK) {
        abort();
    }
    static const char name[] = "cairn/journal/00112233445566778899aabbccddeeff";
    cairn_err err = cairn__note_verify(n, name, sizeof(name) - 1, pk, NULL, 0);
    if (err != CAIRN_OK && err != CAIRN_EKEYMISMATCH &&
        err != CAIRN_ETAMPERED) {
        abort();
    }
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)(0x20 + i);
    }
    if (cairn__ed25519_seed_keypair(pk, sk, seed) != CAIRN_OK) {
        abort();
    }
    uint64_t ts = 1;
    err = cairn__cosig_verify(n, "witness.example/w1", 18, pk, &ts, NULL, 0);
    if ((err != CAIRN_OK && err != CAIRN_EKEYMISMATCH &&
         err != CAIRN_ETAMPERED) ||
        (err != CAIRN_OK && ts != 0) || ts > CAIRN_TLOG_MAX_SIZE) {
        abort();
    }
}

static void fuzz_note(const uint8_t *data, size_t size, cairn_note *n)
{
    char detail[256];
    cairn_err err =
        cairn__note_parse((const char *)data, size, n, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        if (err != CAIRN_ECORRUPT || n->n_sigs != 0 || n->text != NULL) {
            abort();
        }
        check_refusal(detail, size);
        return;
    }
    if (n->n_sigs < 1 || n->n_sigs > CAIRN_NOTE_MAX_SIGS || n->text_len == 0 ||
        n->text_len > CAIRN_NOTE_MAX_TEXT || n->text[n->text_len - 1] != '\n') {
        abort();
    }
    cairn_wr w;
    cairn__wr_init(&w, CAIRN_NOTE_MAX_BYTES);
    (void)cairn__note_encode(&w, n);
    same(&w, data, size);
    verify_outcomes(n);
}

static void fuzz_checkpoint(const uint8_t *data, size_t size)
{
    cairn_tlog_checkpoint cp;
    char detail[256];
    cairn_err err = cairn__tlog_checkpoint_parse((const char *)data, size, &cp,
                                                 detail, sizeof(detail));
    if (err != CAIRN_OK) {
        if (err != CAIRN_ECORRUPT || cp.origin != NULL) {
            abort();
        }
        check_refusal(detail, size);
        return;
    }
    size_t pos = 0, count = 0, line_len = 0;
    const char *line = NULL;
    while (cairn__tlog_checkpoint_next_ext(&cp, &pos, &line, &line_len)) {
        if (line_len == 0) {
            abort();
        }
        count++;
    }
    if (count != cp.n_ext || cp.size > CAIRN_TLOG_MAX_SIZE) {
        abort();
    }
    cairn_wr w;
    cairn__wr_init(&w, CAIRN_NOTE_MAX_TEXT);
    if (cairn__tlog_checkpoint_encode(&w, &cp) != CAIRN_OK) {
        abort();
    }
    same(&w, data, size);
}

static void fuzz_vkey(const uint8_t *data, size_t size)
{
    cairn_note_vkey v;
    char detail[256];
    cairn_err err = cairn__note_vkey_parse((const char *)data, size, &v, detail,
                                           sizeof(detail));
    if (err != CAIRN_OK) {
        if (err != CAIRN_EKEY || v.name_len != 0) {
            abort();
        }
        check_refusal(detail, size);
        return;
    }
    cairn_wr w;
    cairn__wr_init(&w, CAIRN_NOTE_VKEY_MAX);
    if (cairn__note_vkey_encode(&w, v.name, v.name_len, v.alg, v.pk) !=
        CAIRN_OK) {
        abort();
    }
    same(&w, data, size);
}

static void fuzz_proof(const uint8_t *data, size_t size, cairn_tlog_proof *p)
{
    char detail[256];
    cairn_err err = cairn__tlog_proof_parse((const char *)data, size, p, detail,
                                            sizeof(detail));
    if (err != CAIRN_OK) {
        if (err != CAIRN_ECORRUPT || p->n_hashes != 0 || p->note != NULL) {
            abort();
        }
        check_refusal(detail, size);
        return;
    }
    if (p->index >= p->checkpoint.size ||
        p->n_hashes != cairn__mt_inclusion_len(p->index, p->checkpoint.size)) {
        abort();
    }
    uint8_t *extra = malloc(p->extra_len + 1);
    if (extra == NULL) {
        return;
    }
    if (p->extra_len > 0 && cairn__b64_decode(p->extra_b64, p->extra_b64_len,
                                              extra, p->extra_len) != 0) {
        abort();
    }
    cairn_wr w;
    cairn__wr_init(&w, 2 * CAIRN_NOTE_MAX_BYTES);
    if (cairn__tlog_proof_encode(&w, extra, p->extra_len, p->index,
                                 (const uint8_t(*)[32])p->hashes, p->n_hashes,
                                 p->note, p->note_len) != CAIRN_OK) {
        abort();
    }
    free(extra);
    same(&w, data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (cairn__crypto_init() != CAIRN_OK) {
        abort();
    }
    cairn_tlog_proof *p = malloc(sizeof(*p));
    if (p == NULL) {
        return 0;
    }
    fuzz_note(data, size, &p->parsed);
    fuzz_checkpoint(data, size);
    fuzz_vkey(data, size);
    fuzz_proof(data, size, p);
    free(p);
    return 0;
}
