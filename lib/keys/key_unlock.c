/*
 * key_unlock.c - what an unlocked session needs from a secret key: a tag
 * naming the key file, and the decrypted secret as bytes to hand to a
 * holder the caller trusts (the CLI keeps it in the kernel keyring) and
 * to rebuild a signer from without scrypt.
 *
 * Secret bytes: keynum(8) || Ed25519 sk(64) (seed || pk).  They only ever
 * live in guarded memory here and are wiped before it is released.
 */
#include "keys/key.h"

#include "base/crypto.h"

#include <stdlib.h>
#include <string.h>

#define SK_LEN 64u

/* Domain separation of the file tag (NUL included). */
static const char tag_domain[] = "cairn secret key file tag v1";

cairn_err cairn_secret_key_tag(const char *path,
                               uint8_t tag[CAIRN_KEY_TAG_BYTES], char *detail,
                               size_t detail_len)
{
    uint8_t hash[CAIRN_HASH_BYTES];
    cairn_sha256 st;
    char *text = NULL;
    size_t len = 0;

    cairn__clear(detail, detail_len);
    if (tag != NULL) {
        memset(tag, 0, CAIRN_KEY_TAG_BYTES);
    }
    if (path == NULL || tag == NULL) {
        cairn__fmt(detail, detail_len, "secret key: NULL argument");
        return CAIRN_EINVAL;
    }
    cairn_err err = cairn__crypto_init();
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn__read_file(path, CAIRN__KEY_FILE_MAX, &text, &len, detail,
                           detail_len);
    if (err == CAIRN_EINVAL) {
        return CAIRN_EKEY; /* larger than a key file can be */
    }
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__sha256_init(&st);
    cairn__sha256_update(&st, tag_domain, sizeof tag_domain);
    cairn__sha256_update(&st, text, len);
    cairn__sha256_final(&st, hash);
    memcpy(tag, hash, CAIRN_KEY_TAG_BYTES);
    cairn__memzero(text, len);
    free(text);
    return CAIRN_OK;
}

cairn_err cairn_signer_export_secret(const cairn_signer *signer,
                                     uint8_t out[CAIRN_SIGNER_SECRET_BYTES])
{
    if (signer == NULL || signer->sk == NULL || out == NULL) {
        return CAIRN_EINVAL;
    }
    memcpy(out, signer->key_id, CAIRN_KEY_ID_BYTES);
    memcpy(out + CAIRN_KEY_ID_BYTES, signer->sk, SK_LEN);
    return CAIRN_OK;
}

/* The seed of @p sk must give its public half. */
static cairn_err check_seed(const uint8_t sk[SK_LEN])
{
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES];
    uint8_t *derived = cairn__secure_alloc(SK_LEN);
    cairn_err err;

    if (derived == NULL) {
        return CAIRN_ENOMEM;
    }
    err = cairn__ed25519_seed_keypair(pk, derived, sk);
    if (err == CAIRN_OK &&
        cairn__memcmp_ct(pk, sk + 32, CAIRN_PUBLIC_KEY_BYTES) != 0) {
        err = CAIRN_EKEY;
    }
    cairn__memzero(derived, SK_LEN);
    cairn__secure_free(derived);
    return err;
}

cairn_err
cairn_signer_import_secret(const uint8_t in[CAIRN_SIGNER_SECRET_BYTES],
                           cairn_signer **out)
{
    const uint8_t *sk;
    cairn_signer *s;

    if (out != NULL) {
        *out = NULL;
    }
    if (in == NULL || out == NULL) {
        return CAIRN_EINVAL;
    }
    cairn_err err = cairn__crypto_init();
    if (err != CAIRN_OK) {
        return err;
    }
    sk = in + CAIRN_KEY_ID_BYTES;
    err = check_seed(sk);
    if (err != CAIRN_OK) {
        return err;
    }
    s = malloc(sizeof *s);
    if (s == NULL) {
        return CAIRN_ENOMEM;
    }
    s->sk = cairn__secure_alloc(SK_LEN);
    if (s->sk == NULL) {
        free(s);
        return CAIRN_ENOMEM;
    }
    memcpy(s->key_id, in, CAIRN_KEY_ID_BYTES);
    memcpy(s->pk, sk + 32, CAIRN_PUBLIC_KEY_BYTES);
    memcpy(s->sk, sk, SK_LEN);
    s->n_signed = 0;
    s->signed_count = &s->n_signed;
    *out = s;
    return CAIRN_OK;
}
