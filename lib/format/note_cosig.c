/*
 * note_cosig.c - checking signature lines: a note's Ed25519 signature
 * (type 0x01) under a trusted key, and Ed25519 checkpoint cosignatures v1
 * (c2sp.org/tlog-cosignature, type 0x04): the cosigned message, the
 * signature line (key ID || u64 big-endian timestamp || signature) and
 * its check.
 */
#include "format/note.h"

#include "base/crypto.h"

#include <string.h>

cairn_err cairn__note_no_key(const cairn_note *n, const char *name,
                             size_t name_len, uint32_t id, char *detail,
                             size_t detail_len)
{
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < n->n_sigs && i < 4; i++) {
        const cairn_note_sig *sig = &n->sigs[i];
        cairn__fmt(list + used, sizeof(list) - used, "%s%.*s+%08x",
                   i > 0 ? ", " : "",
                   (int)(sig->name_len > 64 ? 64 : sig->name_len), sig->name,
                   (unsigned)sig->key_id);
        used += strlen(list + used);
    }
    return cairn__fail(detail, detail_len, CAIRN_EKEYMISMATCH,
                       "no signature by key %.*s+%08x (signed by %s%s)",
                       (int)name_len, name, (unsigned)id, list,
                       n->n_sigs > 4 ? ", ..." : "");
}

int cairn__note_sig_decode(const cairn_note_sig *sig, uint8_t *out, size_t want)
{
    if (sig->sig_len + 4 != want) {
        return -1;
    }
    return cairn__note_b64_decode(sig->b64, sig->b64_len, out, want);
}

cairn_err cairn__note_verify(const cairn_note *n, const char *name,
                             size_t name_len, const uint8_t pk[32],
                             char *detail, size_t detail_len)
{
    if (n == NULL || pk == NULL || !cairn__note_name_valid(name, name_len)) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "invalid key name");
    }
    uint32_t id =
        cairn__note_key_id(name, name_len, CAIRN_NOTE_ALG_ED25519, pk);
    size_t found = 0;
    for (size_t i = 0; i < n->n_sigs; i++) {
        const cairn_note_sig *sig = &n->sigs[i];
        if (sig->key_id != id || sig->name_len != name_len ||
            memcmp(sig->name, name, name_len) != 0) {
            continue;
        }
        found++;
        uint8_t raw[4 + 64];
        if (cairn__note_sig_decode(sig, raw, sizeof(raw)) != 0 ||
            cairn__ed25519_verify(raw + 4, n->text, n->text_len, pk) != 0) {
            return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                               "signature line %zu by key %.*s+%08x does "
                               "not verify",
                               i + 1, (int)name_len, name, (unsigned)id);
        }
    }
    if (found == 0) {
        return cairn__note_no_key(n, name, name_len, id, detail, detail_len);
    }
    cairn__clear(detail, detail_len);
    return CAIRN_OK;
}

#define COSIG_HEADER "cosignature/v1\ntime "
#define COSIG_BYTES (4 + 8 + 64)

cairn_err cairn__cosig_message(cairn_wr *w, uint64_t timestamp,
                               const char *text, size_t text_len)
{
    if (w == NULL || (text == NULL && text_len > 0) ||
        timestamp > CAIRN_TLOG_MAX_SIZE) {
        return CAIRN_EINVAL;
    }
    char num[24];
    cairn__fmt(num, sizeof(num), "%llu", (unsigned long long)timestamp);
    cairn__wr_bytes(w, COSIG_HEADER, sizeof(COSIG_HEADER) - 1);
    cairn__wr_bytes(w, num, strlen(num));
    cairn__wr_u8(w, '\n');
    cairn__wr_bytes(w, text, text_len);
    return cairn__wr_status(w);
}

/* The cosigned message of @p text at @p timestamp, in a new writer. */
static cairn_err message(cairn_wr *m, uint64_t timestamp, const char *text,
                         size_t text_len)
{
    cairn__wr_init(m, text_len + sizeof(COSIG_HEADER) + 24);
    cairn__wr_reserve(m, text_len + sizeof(COSIG_HEADER) + 24);
    return cairn__cosig_message(m, timestamp, text, text_len);
}

cairn_err cairn__cosig_line(cairn_wr *w, const char *text, size_t text_len,
                            const char *name, size_t name_len,
                            uint64_t timestamp, const uint8_t sk[64])
{
    if (w == NULL || sk == NULL || !cairn__note_name_valid(name, name_len) ||
        timestamp > CAIRN_TLOG_MAX_SIZE ||
        cairn__note_text_check(text, text_len, NULL, 0) != CAIRN_OK) {
        return CAIRN_EINVAL;
    }
    cairn_wr m;
    cairn_err err = message(&m, timestamp, text, text_len);
    if (err != CAIRN_OK) {
        cairn__wr_free(&m);
        return err;
    }
    uint8_t payload[8 + 64];
    cairn__store64_be(payload, timestamp);
    err = cairn__ed25519_sign(payload + 8, m.p, m.len, sk);
    cairn__wr_free(&m);
    if (err != CAIRN_OK) {
        return CAIRN_ECRYPTO;
    }
    uint32_t id =
        cairn__note_key_id(name, name_len, CAIRN_NOTE_ALG_COSIG_V1, sk + 32);
    return cairn__note_sig_line(w, name, name_len, id, payload,
                                sizeof(payload));
}

/* Check one line of the cosigner; its timestamp in *ts. */
static int check_line(const cairn_note *n, const cairn_note_sig *sig,
                      const uint8_t pk[32], uint64_t *ts, cairn_err *err)
{
    uint8_t raw[COSIG_BYTES];
    *err = CAIRN_OK;
    if (cairn__note_sig_decode(sig, raw, sizeof(raw)) != 0) {
        return -1;
    }
    *ts = cairn__load64_be(raw + 4);
    if (*ts > CAIRN_TLOG_MAX_SIZE) {
        return -1;
    }
    cairn_wr m;
    *err = message(&m, *ts, n->text, n->text_len);
    int rc = -1;
    if (*err == CAIRN_OK) {
        rc = cairn__ed25519_verify(raw + 12, m.p, m.len, pk);
    }
    cairn__wr_free(&m);
    return rc;
}

cairn_err cairn__cosig_verify(const cairn_note *n, const char *name,
                              size_t name_len, const uint8_t pk[32],
                              uint64_t *timestamp, char *detail,
                              size_t detail_len)
{
    if (timestamp != NULL) {
        *timestamp = 0;
    }
    if (n == NULL || pk == NULL || timestamp == NULL ||
        !cairn__note_name_valid(name, name_len)) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "invalid cosigner name");
    }
    uint32_t id =
        cairn__note_key_id(name, name_len, CAIRN_NOTE_ALG_COSIG_V1, pk);
    size_t found = 0;
    uint64_t first = 0;
    for (size_t i = 0; i < n->n_sigs; i++) {
        const cairn_note_sig *sig = &n->sigs[i];
        if (sig->key_id != id || sig->name_len != name_len ||
            memcmp(sig->name, name, name_len) != 0) {
            continue;
        }
        uint64_t ts = 0;
        cairn_err err = CAIRN_OK;
        if (check_line(n, sig, pk, &ts, &err) != 0) {
            if (err != CAIRN_OK) {
                return err;
            }
            return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                               "cosignature line %zu by %.*s+%08x does not "
                               "verify",
                               i + 1, (int)name_len, name, (unsigned)id);
        }
        if (found++ == 0) {
            first = ts;
        }
    }
    if (found == 0) {
        return cairn__note_no_key(n, name, name_len, id, detail, detail_len);
    }
    *timestamp = first;
    cairn__clear(detail, detail_len);
    return CAIRN_OK;
}
