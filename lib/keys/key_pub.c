/*
 * key_pub.c - minisign public keys: parse, load, print, fingerprint, verify.
 *
 * File: "untrusted comment: <text>\n" + base64("Ed" || keynum(8) || pk(32))
 * + "\n", or the base64 line alone.  See docs/FORMAT.md section 11.
 */
#include "keys/key.h"

#include "base/bytes.h"
#include "base/crypto.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUBKEY_BIN 42u
#define COMMENT_PREFIX "untrusted comment: "

void cairn__key_id_text(const uint8_t key_id[CAIRN_KEY_ID_BYTES], char out[17])
{
    snprintf(out, 17, "%016" PRIX64, cairn__load64_le(key_id));
}

cairn_err cairn__pubkey_from_raw(const uint8_t key_id[CAIRN_KEY_ID_BYTES],
                                 const uint8_t pk[CAIRN_PUBLIC_KEY_BYTES],
                                 cairn_pubkey **out)
{
    if (out == NULL) {
        return CAIRN_EINVAL;
    }
    *out = NULL;
    if (key_id == NULL || pk == NULL) {
        return CAIRN_EINVAL;
    }
    if (cairn__ed25519_pk_valid(pk) != 0) {
        return CAIRN_EKEY;
    }
    cairn_pubkey *key = malloc(sizeof *key);
    if (key == NULL) {
        return CAIRN_ENOMEM;
    }
    memcpy(key->key_id, key_id, CAIRN_KEY_ID_BYTES);
    memcpy(key->pk, pk, CAIRN_PUBLIC_KEY_BYTES);
    key->next = NULL;
    *out = key;
    return CAIRN_OK;
}

/* Decode the base64 line of a public key. */
static cairn_err decode_line(const cairn__line *line, const char *name,
                             cairn_pubkey **out, char *detail,
                             size_t detail_len)
{
    uint8_t bin[PUBKEY_BIN];
    const uint8_t *alg, *key_id, *pk;
    cairn_err err = cairn__b64_field(line, "public key", bin, sizeof bin, name,
                                     detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn_rd r;
    cairn__rd_init(&r, bin, sizeof bin);
    if (cairn__rd_view(&r, 2, &alg) != 0 ||
        cairn__rd_view(&r, CAIRN_KEY_ID_BYTES, &key_id) != 0 ||
        cairn__rd_view(&r, CAIRN_PUBLIC_KEY_BYTES, &pk) != 0) {
        return cairn__key_fail(detail, detail_len, name, line->no, CAIRN_EKEY,
                               "public key truncated");
    }
    if (alg[0] != 'E' || alg[1] != 'd') {
        return cairn__key_fail(detail, detail_len, name, line->no, CAIRN_EKEY,
                               "unsupported signature algorithm 0x%02x%02x "
                               "(expected \"Ed\")",
                               alg[0], alg[1]);
    }
    err = cairn__pubkey_from_raw(key_id, pk, out);
    if (err == CAIRN_EKEY) {
        return cairn__key_fail(detail, detail_len, name, line->no, CAIRN_EKEY,
                               "not a valid Ed25519 public key");
    }
    return err;
}

cairn_err cairn__pubkey_parse_text(const char *text, size_t len,
                                   const char *name, cairn_pubkey **out,
                                   char *detail, size_t detail_len)
{
    cairn__line lines[2];
    size_t count = 0;
    if (out == NULL || (text == NULL && len > 0)) {
        return CAIRN_EINVAL;
    }
    *out = NULL;
    cairn_err err = cairn__split_lines(text, len, lines, 2, &count, name,
                                       detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    if (count == 0) {
        return cairn__key_fail(detail, detail_len, name, 0, CAIRN_EKEY,
                               "empty file");
    }
    const cairn__line *b64 = &lines[0];
    if (count == 2 || cairn__line_has_prefix(&lines[0], COMMENT_PREFIX)) {
        if (!cairn__line_has_prefix(&lines[0], COMMENT_PREFIX)) {
            return cairn__key_fail(detail, detail_len, name, 1, CAIRN_EKEY,
                                   "does not start with \"" COMMENT_PREFIX
                                   "\"");
        }
        if (lines[0].len > CAIRN__COMMENT_LINE_MAX) {
            return cairn__key_fail(detail, detail_len, name, 1, CAIRN_EKEY,
                                   "comment line is %zu bytes, at most %u",
                                   lines[0].len, CAIRN__COMMENT_LINE_MAX);
        }
        if (count < 2) {
            return cairn__key_fail(detail, detail_len, name, 2, CAIRN_EKEY,
                                   "missing: the file ends after the "
                                   "comment line");
        }
        b64 = &lines[1];
    }
    return decode_line(b64, name, out, detail, detail_len);
}

cairn_err cairn_pubkey_parse(const char *b64, cairn_pubkey **out, char *detail,
                             size_t detail_len)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (b64 == NULL || out == NULL) {
        cairn__fmt(detail, detail_len, "public key: NULL argument");
        return CAIRN_EINVAL;
    }
    cairn__line line = {b64, strlen(b64), 0};
    return decode_line(&line, "public key", out, detail, detail_len);
}

cairn_err cairn_pubkey_load(const char *path, cairn_pubkey **out, char *detail,
                            size_t detail_len)
{
    char *text = NULL;
    size_t len = 0;
    if (out != NULL) {
        *out = NULL;
    }
    if (path == NULL || out == NULL) {
        cairn__fmt(detail, detail_len, "public key: NULL argument");
        return CAIRN_EINVAL;
    }
    cairn_err err = cairn__read_file(path, CAIRN__KEY_FILE_MAX, &text, &len,
                                     detail, detail_len);
    if (err == CAIRN_EINVAL) {
        return CAIRN_EKEY; /* larger than a key file can be */
    }
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn__pubkey_parse_text(text, len, path, out, detail, detail_len);
    free(text);
    return err;
}

void cairn_pubkey_free(cairn_pubkey *key)
{
    while (key != NULL) {
        cairn_pubkey *next = key->next;
        free(key);
        key = next;
    }
}

void cairn_pubkey_add(cairn_pubkey *set, cairn_pubkey *more)
{
    if (set == NULL || more == NULL || set == more) {
        return;
    }
    while (set->next != NULL) {
        set = set->next;
    }
    set->next = more;
}

const cairn_pubkey *cairn__pubkey_find(const cairn_pubkey *set,
                                       const uint8_t key_id[CAIRN_KEY_ID_BYTES])
{
    for (; set != NULL; set = set->next) {
        if (memcmp(set->key_id, key_id, CAIRN_KEY_ID_BYTES) == 0) {
            return set;
        }
    }
    return NULL;
}

void cairn_pubkey_key_id(const cairn_pubkey *key,
                         uint8_t out[CAIRN_KEY_ID_BYTES])
{
    if (key == NULL) {
        memset(out, 0, CAIRN_KEY_ID_BYTES);
        return;
    }
    memcpy(out, key->key_id, CAIRN_KEY_ID_BYTES);
}

void cairn_pubkey_bytes(const cairn_pubkey *key,
                        uint8_t out[CAIRN_PUBLIC_KEY_BYTES])
{
    if (key == NULL) {
        memset(out, 0, CAIRN_PUBLIC_KEY_BYTES);
        return;
    }
    memcpy(out, key->pk, CAIRN_PUBLIC_KEY_BYTES);
}

void cairn_pubkey_fingerprint(const cairn_pubkey *key, char *out,
                              size_t out_len)
{
    uint8_t digest[CAIRN_HASH_BYTES];
    char hex[2 * CAIRN_HASH_BYTES + 1];
    if (out == NULL || out_len == 0) {
        return;
    }
    out[0] = '\0';
    if (key == NULL || out_len < sizeof "SHA256:" - 1 + sizeof hex) {
        return;
    }
    cairn__sha256(key->pk, CAIRN_PUBLIC_KEY_BYTES, digest);
    cairn__hex(digest, sizeof digest, hex);
    cairn__fmt(out, out_len, "SHA256:%s", hex);
}

cairn_err cairn__pubkey_to_text(const cairn_pubkey *key, char *out,
                                size_t out_len)
{
    uint8_t bin[PUBKEY_BIN];
    if (out == NULL || out_len == 0) {
        return CAIRN_EINVAL;
    }
    out[0] = '\0';
    if (key == NULL || out_len < CAIRN__PUBKEY_B64_LEN + 1) {
        return CAIRN_EINVAL;
    }
    bin[0] = 'E';
    bin[1] = 'd';
    memcpy(bin + 2, key->key_id, CAIRN_KEY_ID_BYTES);
    memcpy(bin + 2 + CAIRN_KEY_ID_BYTES, key->pk, CAIRN_PUBLIC_KEY_BYTES);
    cairn__b64_encode(bin, sizeof bin, out, out_len);
    return CAIRN_OK;
}

cairn_err cairn__pubkey_file_text(const cairn_pubkey *key, char *out,
                                  size_t out_len)
{
    char b64[CAIRN__PUBKEY_B64_LEN + 1];
    char id[17];
    if (out == NULL || out_len == 0) {
        return CAIRN_EINVAL;
    }
    out[0] = '\0';
    if (key == NULL || out_len < CAIRN__PUBKEY_FILE_LEN) {
        return CAIRN_EINVAL;
    }
    cairn_err err = cairn__pubkey_to_text(key, b64, sizeof b64);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__key_id_text(key->key_id, id);
    cairn__fmt(out, out_len, COMMENT_PREFIX "minisign public key %s\n%s\n", id,
               b64);
    return CAIRN_OK;
}

int cairn__pubkey_verify(const cairn_pubkey *key,
                         const uint8_t sig[CAIRN_SIGNATURE_BYTES],
                         const void *msg, size_t len)
{
    if (key == NULL || sig == NULL || (msg == NULL && len > 0)) {
        return -1;
    }
    return cairn__ed25519_verify(sig, msg, len, key->pk);
}
