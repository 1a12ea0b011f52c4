/*
 * crypto.c - thin wrappers over libsodium.  The only file that includes
 * sodium.h; every other module goes through crypto.h.
 */
#include "base/crypto.h"

#include <sodium.h>
#include <string.h>

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(cairn_sha256),
               "cairn_sha256 too small");
_Static_assert(sizeof(crypto_generichash_state) <= sizeof(cairn_blake2b),
               "cairn_blake2b too small");
_Static_assert(crypto_sign_PUBLICKEYBYTES == CAIRN_PUBLIC_KEY_BYTES,
               "Ed25519 public key size");
_Static_assert(crypto_sign_BYTES == CAIRN_SIGNATURE_BYTES,
               "Ed25519 signature size");
_Static_assert(crypto_hash_sha256_BYTES == CAIRN_HASH_BYTES, "SHA-256 size");

cairn_err cairn__crypto_init(void)
{
    return sodium_init() < 0 ? CAIRN_ECRYPTO : CAIRN_OK;
}

void cairn__sha256(const void *in, size_t len, uint8_t out[CAIRN_HASH_BYTES])
{
    crypto_hash_sha256(out, (const unsigned char *)in, len);
}

void cairn__sha256_init(cairn_sha256 *st)
{
    crypto_hash_sha256_init((crypto_hash_sha256_state *)(void *)st->opaque);
}

void cairn__sha256_update(cairn_sha256 *st, const void *in, size_t len)
{
    crypto_hash_sha256_update((crypto_hash_sha256_state *)(void *)st->opaque,
                              (const unsigned char *)in, len);
}

void cairn__sha256_final(cairn_sha256 *st, uint8_t out[CAIRN_HASH_BYTES])
{
    crypto_hash_sha256_final((crypto_hash_sha256_state *)(void *)st->opaque,
                             out);
}

void cairn__blake2b(uint8_t *out, size_t outlen, const void *in, size_t len)
{
    crypto_generichash(out, outlen, (const unsigned char *)in, len, NULL, 0);
}

void cairn__blake2b512_init(cairn_blake2b *st)
{
    crypto_generichash_init((crypto_generichash_state *)(void *)st->opaque,
                            NULL, 0, 64);
}

void cairn__blake2b512_update(cairn_blake2b *st, const void *in, size_t len)
{
    crypto_generichash_update((crypto_generichash_state *)(void *)st->opaque,
                              (const unsigned char *)in, len);
}

void cairn__blake2b512_final(cairn_blake2b *st, uint8_t out[64])
{
    crypto_generichash_final((crypto_generichash_state *)(void *)st->opaque,
                             out, 64);
}

cairn_err cairn__ed25519_keypair(uint8_t pk[32], uint8_t sk[64])
{
    if (sodium_init() < 0) {
        return CAIRN_ECRYPTO;
    }
    return crypto_sign_keypair(pk, sk) == 0 ? CAIRN_OK : CAIRN_ECRYPTO;
}

cairn_err cairn__ed25519_sign(uint8_t sig[64], const void *msg, size_t len,
                              const uint8_t sk[64])
{
    return crypto_sign_detached(sig, NULL, (const unsigned char *)msg, len,
                                sk) == 0
               ? CAIRN_OK
               : CAIRN_ECRYPTO;
}

int cairn__ed25519_verify(const uint8_t sig[64], const void *msg, size_t len,
                          const uint8_t pk[32])
{
    return crypto_sign_verify_detached(sig, (const unsigned char *)msg, len,
                                       pk) == 0
               ? 0
               : -1;
}

void cairn__random(void *out, size_t len)
{
    randombytes_buf(out, len);
}

void cairn__memzero(void *p, size_t len)
{
    sodium_memzero(p, len);
}

int cairn__memcmp_ct(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0 ? 0 : -1;
}

void *cairn__secure_alloc(size_t len)
{
    if (sodium_init() < 0) {
        return NULL;
    }
    return sodium_malloc(len);
}

void cairn__secure_free(void *p)
{
    sodium_free(p);
}

cairn_err cairn__scrypt(uint8_t *out, size_t outlen, const char *pw,
                        size_t pwlen, const uint8_t salt[32], uint64_t opslimit,
                        uint64_t memlimit)
{
    if (memlimit > SIZE_MAX) {
        return CAIRN_ECRYPTO;
    }
    return crypto_pwhash_scryptsalsa208sha256(out, outlen, pw, pwlen, salt,
                                              opslimit, (size_t)memlimit) == 0
               ? CAIRN_OK
               : CAIRN_ECRYPTO;
}

void cairn__b64_encode(const uint8_t *in, size_t n, char *out, size_t out_len)
{
    sodium_bin2base64(out, out_len, in, n, sodium_base64_VARIANT_ORIGINAL);
}

int cairn__b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
    size_t got = 0;
    const char *end = NULL;
    if (inlen % 4 != 0) {
        return -1;
    }
    if (sodium_base642bin(out, outlen, in, inlen, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        return -1;
    }
    if (end != in + inlen || got != outlen) {
        return -1;
    }
    /* libsodium 1.0.18 takes every byte from 0x80 up as a digit, and
     * need not refuse nonzero padding bits: only the one canonical text
     * of the decoded bytes is accepted (fuzz_note found the first). */
    char again[4 * 64 + 1];
    if (inlen < sizeof(again)) {
        cairn__b64_encode(out, outlen, again, sizeof(again));
        return memcmp(again, in, inlen) == 0 ? 0 : -1;
    }
    for (size_t i = 0; i < inlen; i++) {
        unsigned char c = (unsigned char)in[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9') || c == '+' || c == '/' ||
                 (c == '=' && i + 2 >= inlen);
        if (!ok) {
            return -1;
        }
    }
    return 0;
}

/* ---- Added by the keys module (lib/key*.c); for the lead to review. ---- */

cairn_err cairn__ed25519_seed_keypair(uint8_t pk[32], uint8_t sk[64],
                                      const uint8_t seed[32])
{
    if (sodium_init() < 0) {
        return CAIRN_ECRYPTO;
    }
    return crypto_sign_seed_keypair(pk, sk, seed) == 0 ? CAIRN_OK
                                                       : CAIRN_ECRYPTO;
}

int cairn__ed25519_pk_valid(const uint8_t pk[32])
{
    if (sodium_init() < 0) {
        return -1;
    }
    return crypto_core_ed25519_is_valid_point(pk) == 1 ? 0 : -1;
}

/* ---- End of the keys module's block. ---- */
