/*
 * fuzz_minisig.c - libFuzzer target for minisign signature text.
 * Target: cairn__minisig_verify (lib/keys/minisig.c) on the input as a .minisig
 * over the fixed message "cairn fuzz\n" under the golden test key
 * (tests/vectors/keys/plain.pub); then cairn__minisig_create and verify with
 * the input (up to its first NUL byte) as the trusted comment. Invariants:
 * verify returns CAIRN_OK, CAIRN_ETAMPERED or CAIRN_EKEY with a detail, and on
 * CAIRN_OK a printable trusted comment within the limit; create succeeds
 * exactly when the comment is printable and short enough, and what it creates
 * verifies and gives back the same comment.
 */
#include "keys/key.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MESSAGE "cairn fuzz\n"

/* tests/vectors/keys/plain.key and plain.pub: a committed test key. */
static const char secret_text[] =
    "untrusted comment: cairn unencrypted secret key\n"
    "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAxC"
    "+gqsBrczF24TSsi0f3u8Ty1s3JYnDZF75AatX09d90KzRiIZhefdNGZRnqpSX09JjLKd1HwY"
    "klLdoKR3Djp7yCOxRsGxjvmc7MHYB/TC+Tt92gXE/g7nWvMs5xP0Zk+yosWgI7zQY=\n";
static const char public_b64[] =
    "RWTEL6CqwGtzMdNGZRnqpSX09JjLKd1HwYklLdoKR3Djp7yCOxRsGxjv";

static cairn_signer *the_signer;
static cairn_pubkey *the_key;

static void init_keys(void)
{
    char detail[256];
    if (the_key != NULL) {
        return;
    }
    if (cairn__signer_parse_text(secret_text, strlen(secret_text), "fuzz", NULL,
                                 NULL, &the_signer, detail,
                                 sizeof detail) != CAIRN_OK ||
        cairn_pubkey_parse(public_b64, &the_key, detail, sizeof detail) !=
            CAIRN_OK) {
        abort();
    }
}

static void fuzz_verify(const uint8_t *data, size_t size)
{
    char trusted[CAIRN__TRUSTED_COMMENT_MAX + 1];
    char detail[256] = "";
    size_t bad = 0;
    cairn_err err = cairn__minisig_verify(
        the_key, MESSAGE, strlen(MESSAGE), (const char *)data, size, trusted,
        sizeof trusted, detail, sizeof detail);
    if (err == CAIRN_OK) {
        size_t n = strlen(trusted);
        if (n > CAIRN__TRUSTED_COMMENT_MAX ||
            cairn__printable(trusted, n, &bad) != 0) {
            abort();
        }
        return;
    }
    if ((err != CAIRN_ETAMPERED && err != CAIRN_EKEY) || trusted[0] != '\0' ||
        detail[0] == '\0') {
        abort();
    }
}

static void fuzz_roundtrip(const uint8_t *data, size_t size)
{
    char *comment = malloc(size + 1);
    char trusted[CAIRN__TRUSTED_COMMENT_MAX + 1];
    char detail[256] = "";
    char *text = NULL;
    size_t len = 0;
    size_t bad = 0;
    if (comment == NULL) {
        return;
    }
    if (size > 0) {
        memcpy(comment, data, size);
    }
    comment[size] = '\0';
    size_t n = strlen(comment);
    int ok = n <= CAIRN__TRUSTED_COMMENT_MAX &&
             cairn__printable(comment, n, &bad) == 0;
    cairn_err err = cairn__minisig_create(the_signer, MESSAGE, strlen(MESSAGE),
                                          "fuzz", comment, &text, &len);
    if ((err == CAIRN_OK) != ok || (err != CAIRN_OK && err != CAIRN_EINVAL)) {
        abort();
    }
    if (err == CAIRN_OK) {
        if (cairn__minisig_verify(the_key, MESSAGE, strlen(MESSAGE), text, len,
                                  trusted, sizeof trusted, detail,
                                  sizeof detail) != CAIRN_OK ||
            strcmp(trusted, comment) != 0) {
            abort();
        }
        free(text);
    }
    free(comment);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_keys();
    fuzz_verify(data, size);
    fuzz_roundtrip(data, size);
    return 0;
}
