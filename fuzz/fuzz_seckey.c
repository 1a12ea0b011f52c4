/*
 * fuzz_seckey.c - libFuzzer target for minisign secret key text.
 * Target: cairn__signer_parse_text (lib/keys/key_sec.c).  Inputs of odd length
 * are parsed with a password, even ones without.  scrypt is kept cheap with
 * a tiny cairn__kdf_limits (libsodium's minimum parameters): encrypted keys
 * asking for more are refused before scrypt runs.
 * Invariants: a failure returns CAIRN_EKEY, CAIRN_EPASSWORD or CAIRN_ENOMEM
 * with a detail and a NULL signer; a loaded signer signs a message that
 * verifies under its own public key.
 */
#include "base/crypto.h"
#include "keys/key.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const cairn__kdf_limits tiny = {32768, 16777216};
    char detail[256] = "";
    cairn_signer *signer = NULL;
    const char *password = size % 2 == 1 ? "fuzz" : NULL;
    cairn_err err =
        cairn__signer_parse_text((const char *)data, size, "fuzz", password,
                                 &tiny, &signer, detail, sizeof detail);
    if (err != CAIRN_OK) {
        if ((err != CAIRN_EKEY && err != CAIRN_EPASSWORD &&
             err != CAIRN_ENOMEM) ||
            signer != NULL || detail[0] == '\0') {
            abort();
        }
        return 0;
    }
    uint8_t sig[CAIRN_SIGNATURE_BYTES];
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES];
    if (signer == NULL ||
        cairn__signer_sign(signer, data, size, sig) != CAIRN_OK) {
        abort();
    }
    cairn_signer_public_key(signer, pk);
    if (cairn__ed25519_verify(sig, data, size, pk) != 0) {
        abort();
    }
    cairn_signer_free(signer);
    return 0;
}
