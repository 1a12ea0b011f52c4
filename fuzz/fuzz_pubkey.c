/*
 * fuzz_pubkey.c - libFuzzer target for minisign public key text.
 * Target: cairn__pubkey_parse_text (lib/keys/key_pub.c) on the raw input, and
 * cairn_pubkey_parse on a NUL-terminated copy.
 * Invariants: a failure returns CAIRN_EKEY with a detail and leaves the
 * output NULL; a parsed key prints back (cairn__pubkey_to_text) to a line
 * that parses to the same key, and its fingerprint has the documented
 * length.
 */
#include "keys/key.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_key(const cairn_pubkey *key)
{
    char b64[CAIRN__PUBKEY_B64_LEN + 1];
    char fp[80];
    char detail[256] = "";
    cairn_pubkey *again = NULL;
    if (cairn__pubkey_to_text(key, b64, sizeof b64) != CAIRN_OK ||
        strlen(b64) != CAIRN__PUBKEY_B64_LEN) {
        abort();
    }
    if (cairn_pubkey_parse(b64, &again, detail, sizeof detail) != CAIRN_OK ||
        memcmp(again, key, sizeof *key) != 0) {
        abort();
    }
    cairn_pubkey_fingerprint(key, fp, sizeof fp);
    if (strlen(fp) != 71 || strncmp(fp, "SHA256:", 7) != 0) {
        abort();
    }
    cairn_pubkey_free(again);
}

static void check_result(cairn_err err, cairn_pubkey *key, const char *detail)
{
    if (err == CAIRN_OK) {
        if (key == NULL) {
            abort();
        }
        check_key(key);
        cairn_pubkey_free(key);
        return;
    }
    if (err != CAIRN_EKEY || key != NULL || detail[0] == '\0') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char detail[256] = "";
    cairn_pubkey *key = NULL;
    cairn_err err = cairn__pubkey_parse_text((const char *)data, size, "fuzz",
                                             &key, detail, sizeof detail);
    check_result(err, key, detail);

    char *line = malloc(size + 1);
    if (line == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(line, data, size);
    }
    line[size] = '\0';
    detail[0] = '\0';
    key = NULL;
    err = cairn_pubkey_parse(line, &key, detail, sizeof detail);
    check_result(err, key, detail);
    free(line);
    return 0;
}
