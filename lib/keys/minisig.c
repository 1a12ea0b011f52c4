/*
 * minisig.c - minisign signature files (".minisig"), prehashed "ED" only.
 *
 *   untrusted comment: <text>\n
 *   base64("ED" || keynum(8) || sig(64))\n      sig =
 * Ed25519(BLAKE2b-512(data)) trusted comment: <text>\n base64(global_sig(64))\n
 * over sig || trusted comment
 *
 * See docs/FORMAT.md section 11.
 */
#include "keys/key.h"

#include "base/bytes.h"
#include "base/crypto.h"

#include <stdlib.h>
#include <string.h>

#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
#define DEFAULT_COMMENT "signature from cairn secret key"
#define SIG_BIN (2u + CAIRN_KEY_ID_BYTES + CAIRN_SIGNATURE_BYTES)
#define HASH_LEN 64u

/* A parsed signature file; tc points into the text. */
typedef struct minisig {
    uint8_t key_id[CAIRN_KEY_ID_BYTES];
    uint8_t sig[CAIRN_SIGNATURE_BYTES];
    uint8_t global_sig[CAIRN_SIGNATURE_BYTES];
    const char *tc;
    size_t tc_len;
} minisig;

/* The message of the global signature: sig || trusted comment (malloc'd). */
static cairn_err global_msg(const uint8_t sig[CAIRN_SIGNATURE_BYTES],
                            const char *tc, size_t tc_len, uint8_t **out,
                            size_t *out_len)
{
    size_t n;
    *out = NULL;
    if (cairn__add_size(CAIRN_SIGNATURE_BYTES, tc_len, &n) != 0) {
        return CAIRN_EINVAL;
    }
    uint8_t *buf = malloc(n);
    if (buf == NULL) {
        return CAIRN_ENOMEM;
    }
    memcpy(buf, sig, CAIRN_SIGNATURE_BYTES);
    if (tc_len > 0) {
        memcpy(buf + CAIRN_SIGNATURE_BYTES, tc, tc_len);
    }
    *out = buf;
    *out_len = n;
    return CAIRN_OK;
}

static cairn_err check_comments(const char *uc, const char *tc)
{
    size_t bad = 0;
    if (strlen(uc) > CAIRN__UNTRUSTED_COMMENT_MAX || strchr(uc, '\n') ||
        strchr(uc, '\r')) {
        return CAIRN_EINVAL;
    }
    size_t tc_len = strlen(tc);
    if (tc_len > CAIRN__TRUSTED_COMMENT_MAX ||
        cairn__printable(tc, tc_len, &bad) != 0) {
        return CAIRN_EINVAL;
    }
    return CAIRN_OK;
}

static void put_b64(cairn_wr *w, const uint8_t *bin, size_t n)
{
    char b64[128]; /* enough for 74 bytes: 100 characters + NUL */
    cairn__b64_encode(bin, n, b64, sizeof b64);
    cairn__wr_bytes(w, b64, strlen(b64));
    cairn__wr_u8(w, '\n');
}

static cairn_err write_text(const char *uc, const char *tc,
                            const uint8_t bin[SIG_BIN],
                            const uint8_t gsig[CAIRN_SIGNATURE_BYTES],
                            char **out_text, size_t *out_len)
{
    cairn_wr w;
    cairn__wr_init(&w, CAIRN__MINISIG_TEXT_MAX);
    cairn__wr_bytes(&w, UNTRUSTED_PREFIX, strlen(UNTRUSTED_PREFIX));
    cairn__wr_bytes(&w, uc, strlen(uc));
    cairn__wr_u8(&w, '\n');
    put_b64(&w, bin, SIG_BIN);
    cairn__wr_bytes(&w, TRUSTED_PREFIX, strlen(TRUSTED_PREFIX));
    cairn__wr_bytes(&w, tc, strlen(tc));
    cairn__wr_u8(&w, '\n');
    put_b64(&w, gsig, CAIRN_SIGNATURE_BYTES);
    cairn__wr_u8(&w, '\0');
    cairn_err err = cairn__wr_status(&w);
    if (err != CAIRN_OK) {
        cairn__wr_free(&w);
        return err;
    }
    *out_text = (char *)w.p;
    *out_len = w.len - 1;
    return CAIRN_OK;
}

cairn_err cairn__minisig_create_hashed(const cairn_signer *signer,
                                       const uint8_t hash[64],
                                       const char *untrusted_comment,
                                       const char *trusted_comment,
                                       char **out_text, size_t *out_len)
{
    uint8_t bin[SIG_BIN];
    uint8_t gsig[CAIRN_SIGNATURE_BYTES];
    if (out_text != NULL) {
        *out_text = NULL;
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    const char *uc = untrusted_comment ? untrusted_comment : DEFAULT_COMMENT;
    if (signer == NULL || hash == NULL || trusted_comment == NULL ||
        out_text == NULL || out_len == NULL ||
        check_comments(uc, trusted_comment) != CAIRN_OK) {
        return CAIRN_EINVAL;
    }
    bin[0] = 'E';
    bin[1] = 'D';
    memcpy(bin + 2, signer->key_id, CAIRN_KEY_ID_BYTES);
    uint8_t *sig = bin + 2 + CAIRN_KEY_ID_BYTES;
    uint8_t *msg = NULL;
    size_t msg_len = 0;
    cairn_err err = cairn__signer_sign(signer, hash, HASH_LEN, sig);
    if (err == CAIRN_OK) {
        err = global_msg(sig, trusted_comment, strlen(trusted_comment), &msg,
                         &msg_len);
    }
    if (err == CAIRN_OK) {
        err = cairn__signer_sign(signer, msg, msg_len, gsig);
    }
    free(msg);
    if (err == CAIRN_OK) {
        err = write_text(uc, trusted_comment, bin, gsig, out_text, out_len);
    }
    return err;
}

cairn_err cairn__minisig_create(const cairn_signer *signer, const void *data,
                                size_t len, const char *untrusted_comment,
                                const char *trusted_comment, char **out_text,
                                size_t *out_len)
{
    uint8_t hash[HASH_LEN];
    if (data == NULL && len > 0) {
        if (out_text != NULL) {
            *out_text = NULL;
        }
        if (out_len != NULL) {
            *out_len = 0;
        }
        return CAIRN_EINVAL;
    }
    cairn__blake2b(hash, sizeof hash, data, len);
    return cairn__minisig_create_hashed(signer, hash, untrusted_comment,
                                        trusted_comment, out_text, out_len);
}

/* Line 2: "ED" || keynum || sig. */
static cairn_err parse_sig_line(const cairn__line *line, minisig *m,
                                char *detail, size_t detail_len)
{
    uint8_t bin[SIG_BIN];
    const uint8_t *alg;
    cairn_err err = cairn__b64_field(line, "signature", bin, sizeof bin, NULL,
                                     detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn_rd r;
    cairn__rd_init(&r, bin, sizeof bin);
    if (cairn__rd_view(&r, 2, &alg) != 0 ||
        cairn__rd_bytes(&r, m->key_id, sizeof m->key_id) != 0 ||
        cairn__rd_bytes(&r, m->sig, sizeof m->sig) != 0) {
        return cairn__key_fail(detail, detail_len, NULL, line->no, CAIRN_EKEY,
                               "signature truncated");
    }
    if (alg[0] == 'E' && alg[1] == 'd') {
        return cairn__key_fail(detail, detail_len, NULL, line->no, CAIRN_EKEY,
                               "legacy signature algorithm \"Ed\" (not "
                               "prehashed) refused; sign with a current "
                               "minisign (without -l)");
    }
    if (alg[0] != 'E' || alg[1] != 'D') {
        return cairn__key_fail(detail, detail_len, NULL, line->no, CAIRN_EKEY,
                               "unsupported signature algorithm 0x%02x%02x "
                               "(expected \"ED\")",
                               alg[0], alg[1]);
    }
    return CAIRN_OK;
}

/* Line 3: "trusted comment: <printable text>". */
static cairn_err parse_trusted(const cairn__line *line, minisig *m,
                               char *detail, size_t detail_len)
{
    size_t plen = strlen(TRUSTED_PREFIX);
    size_t bad = 0;
    if (!cairn__line_has_prefix(line, TRUSTED_PREFIX)) {
        return cairn__key_fail(detail, detail_len, NULL, line->no, CAIRN_EKEY,
                               "does not start with \"" TRUSTED_PREFIX "\"");
    }
    m->tc = line->p + plen;
    m->tc_len = line->len - plen;
    if (m->tc_len > CAIRN__TRUSTED_COMMENT_MAX) {
        return cairn__key_fail(detail, detail_len, NULL, line->no, CAIRN_EKEY,
                               "trusted comment too long (%zu bytes, at most "
                               "%u)",
                               m->tc_len, CAIRN__TRUSTED_COMMENT_MAX);
    }
    if (cairn__printable(m->tc, m->tc_len, &bad) != 0) {
        return cairn__key_fail(detail, detail_len, NULL, line->no, CAIRN_EKEY,
                               "non-printable byte 0x%02x in the trusted "
                               "comment at column %zu",
                               (unsigned char)m->tc[bad], plen + bad + 1);
    }
    return CAIRN_OK;
}

static cairn_err parse_minisig(const char *text, size_t len, minisig *m,
                               char *detail, size_t detail_len)
{
    cairn__line lines[4];
    size_t count = 0;
    if (len > CAIRN__MINISIG_TEXT_MAX) {
        return cairn__key_fail(detail, detail_len, NULL, 0, CAIRN_EKEY,
                               "signature is %zu bytes, at most %u", len,
                               CAIRN__MINISIG_TEXT_MAX);
    }
    cairn_err err = cairn__split_lines(text, len, lines, 4, &count, NULL,
                                       detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    if (count == 0) {
        return cairn__key_fail(detail, detail_len, NULL, 0, CAIRN_EKEY,
                               "empty signature");
    }
    if (!cairn__line_has_prefix(&lines[0], UNTRUSTED_PREFIX)) {
        return cairn__key_fail(detail, detail_len, NULL, 1, CAIRN_EKEY,
                               "does not start with \"" UNTRUSTED_PREFIX "\"");
    }
    if (lines[0].len > CAIRN__COMMENT_LINE_MAX) {
        return cairn__key_fail(detail, detail_len, NULL, 1, CAIRN_EKEY,
                               "untrusted comment too long (%zu bytes, at "
                               "most %u)",
                               lines[0].len, CAIRN__COMMENT_LINE_MAX);
    }
    if (count < 4) {
        return cairn__key_fail(detail, detail_len, NULL, count + 1, CAIRN_EKEY,
                               "missing: the signature has %zu lines, "
                               "expected 4",
                               count);
    }
    err = parse_sig_line(&lines[1], m, detail, detail_len);
    if (err == CAIRN_OK) {
        err = parse_trusted(&lines[2], m, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err = cairn__b64_field(&lines[3], "global signature", m->global_sig,
                               sizeof m->global_sig, NULL, detail, detail_len);
    }
    return err;
}

/* Key id, output room, then both signatures. */
static cairn_err check_minisig(const cairn_pubkey *key, const uint8_t *hash,
                               const minisig *m, size_t trusted_len,
                               int want_trusted, char *detail,
                               size_t detail_len)
{
    /* Of a pinned set, the key the signature names. */
    if (cairn__pubkey_find(key, m->key_id) != NULL) {
        key = cairn__pubkey_find(key, m->key_id);
    }
    if (memcmp(m->key_id, key->key_id, CAIRN_KEY_ID_BYTES) != 0) {
        char got[17], want[17];
        cairn__key_id_text(m->key_id, got);
        cairn__key_id_text(key->key_id, want);
        return cairn__key_fail(detail, detail_len, NULL, 2, CAIRN_EKEY,
                               "key id mismatch: signed by key %s, the "
                               "public key is %s",
                               got, want);
    }
    if (want_trusted && trusted_len <= m->tc_len) {
        cairn__fmt(detail, detail_len,
                   "trusted comment is %zu bytes, the output buffer holds "
                   "%zu",
                   m->tc_len, trusted_len);
        return CAIRN_EINVAL;
    }
    if (cairn__pubkey_verify(key, m->sig, hash, HASH_LEN) != 0) {
        cairn__fmt(detail, detail_len,
                   "signature does not verify: the data or the signature "
                   "was changed");
        return CAIRN_ETAMPERED;
    }
    uint8_t *msg = NULL;
    size_t msg_len = 0;
    cairn_err err = global_msg(m->sig, m->tc, m->tc_len, &msg, &msg_len);
    if (err == CAIRN_OK &&
        cairn__pubkey_verify(key, m->global_sig, msg, msg_len) != 0) {
        cairn__fmt(detail, detail_len,
                   "trusted comment signature does not verify: the trusted "
                   "comment or the global signature was changed");
        err = CAIRN_ETAMPERED;
    }
    free(msg);
    return err;
}

cairn_err cairn__minisig_verify_hashed(const cairn_pubkey *key,
                                       const uint8_t hash[64],
                                       const char *sig_text, size_t sig_len,
                                       char *trusted_out, size_t trusted_len,
                                       char *detail, size_t detail_len)
{
    minisig m;
    int want_trusted = trusted_out != NULL && trusted_len > 0;
    if (want_trusted) {
        trusted_out[0] = '\0';
    }
    if (key == NULL || hash == NULL || (sig_text == NULL && sig_len > 0)) {
        cairn__fmt(detail, detail_len, "minisig: NULL argument");
        return CAIRN_EINVAL;
    }
    cairn_err err = parse_minisig(sig_text, sig_len, &m, detail, detail_len);
    if (err == CAIRN_OK) {
        err = check_minisig(key, hash, &m, trusted_len, want_trusted, detail,
                            detail_len);
    }
    if (err == CAIRN_OK && want_trusted) {
        memcpy(trusted_out, m.tc, m.tc_len);
        trusted_out[m.tc_len] = '\0';
    }
    return err;
}

cairn_err cairn__minisig_verify(const cairn_pubkey *key, const void *data,
                                size_t len, const char *sig_text,
                                size_t sig_len, char *trusted_out,
                                size_t trusted_len, char *detail,
                                size_t detail_len)
{
    uint8_t hash[HASH_LEN];
    if (trusted_out != NULL && trusted_len > 0) {
        trusted_out[0] = '\0';
    }
    if (data == NULL && len > 0) {
        cairn__fmt(detail, detail_len, "minisig: NULL argument");
        return CAIRN_EINVAL;
    }
    cairn__blake2b(hash, sizeof hash, data, len);
    return cairn__minisig_verify_hashed(key, hash, sig_text, sig_len,
                                        trusted_out, trusted_len, detail,
                                        detail_len);
}
