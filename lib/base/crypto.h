/*
 * crypto.h - the only door to libsodium.  Only crypto.c includes sodium.h.
 */
#ifndef CAIRN_CRYPTO_H
#define CAIRN_CRYPTO_H

#include "base/common.h"

#include <stddef.h>
#include <stdint.h>

/** sodium_init(); idempotent.  CAIRN_ECRYPTO on failure. */
CAIRN_INTERNAL cairn_err cairn__crypto_init(void);

/** One-shot SHA-256. */
CAIRN_INTERNAL void cairn__sha256(const void *in, size_t len,
                                  uint8_t out[CAIRN_HASH_BYTES]);
/** Streaming SHA-256 (state opaque, 128 bytes is enough for libsodium's). */
typedef struct cairn_sha256 {
    _Alignas(16) uint8_t opaque[128];
} cairn_sha256;
CAIRN_INTERNAL void cairn__sha256_init(cairn_sha256 *st);
CAIRN_INTERNAL void cairn__sha256_update(cairn_sha256 *st, const void *in,
                                         size_t len);
CAIRN_INTERNAL void cairn__sha256_final(cairn_sha256 *st,
                                        uint8_t out[CAIRN_HASH_BYTES]);

/** BLAKE2b with an output of outlen (16..64) bytes, unkeyed. */
CAIRN_INTERNAL void cairn__blake2b(uint8_t *out, size_t outlen, const void *in,
                                   size_t len);
/** Streaming BLAKE2b-512 (for minisign prehashing of large files). */
typedef struct cairn_blake2b {
    _Alignas(64) uint8_t opaque[384];
} cairn_blake2b;
CAIRN_INTERNAL void cairn__blake2b512_init(cairn_blake2b *st);
CAIRN_INTERNAL void cairn__blake2b512_update(cairn_blake2b *st, const void *in,
                                             size_t len);
CAIRN_INTERNAL void cairn__blake2b512_final(cairn_blake2b *st, uint8_t out[64]);

/** Ed25519.  sk is 64 bytes (seed || pk). */
CAIRN_INTERNAL cairn_err cairn__ed25519_keypair(uint8_t pk[32], uint8_t sk[64]);
CAIRN_INTERNAL cairn_err cairn__ed25519_sign(uint8_t sig[64], const void *msg,
                                             size_t len, const uint8_t sk[64]);
/** 0 when valid, -1 otherwise (non-canonical and low-order rejected). */
CAIRN_INTERNAL int cairn__ed25519_verify(const uint8_t sig[64], const void *msg,
                                         size_t len, const uint8_t pk[32]);

CAIRN_INTERNAL void cairn__random(void *out, size_t len);
CAIRN_INTERNAL void cairn__memzero(void *p, size_t len);
/** Constant-time comparison: 0 when equal. */
CAIRN_INTERNAL int cairn__memcmp_ct(const void *a, const void *b, size_t len);

/** Guarded allocation for secrets (sodium_malloc); NULL on failure. */
CAIRN_INTERNAL void *cairn__secure_alloc(size_t len);
CAIRN_INTERNAL void cairn__secure_free(void *p);

/** scrypt (crypto_pwhash_scryptsalsa208sha256) as minisign uses it. */
CAIRN_INTERNAL cairn_err cairn__scrypt(uint8_t *out, size_t outlen,
                                       const char *pw, size_t pwlen,
                                       const uint8_t salt[32],
                                       uint64_t opslimit, uint64_t memlimit);

/** Standard padded base64.  encode: out needs 4*ceil(n/3)+1 bytes. */
CAIRN_INTERNAL void cairn__b64_encode(const uint8_t *in, size_t n, char *out,
                                      size_t out_len);
/** Strict decode of exactly the characters in[0..inlen); -1 when not
 *  canonical padded base64 or when the result is not exactly outlen. */
CAIRN_INTERNAL int cairn__b64_decode(const char *in, size_t inlen, uint8_t *out,
                                     size_t outlen);

/* ---- Added by the keys module (lib/key*.c); for the lead to review. ---- */
/** Derive the Ed25519 key pair of a 32-byte seed (deterministic). */
CAIRN_INTERNAL cairn_err cairn__ed25519_seed_keypair(uint8_t pk[32],
                                                     uint8_t sk[64],
                                                     const uint8_t seed[32]);
/** 0 when @p pk is a canonical Ed25519 point of large order, else -1. */
CAIRN_INTERNAL int cairn__ed25519_pk_valid(const uint8_t pk[32]);
/* ---- End of the keys module's block. ---- */

#endif
