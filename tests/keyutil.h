/* keyutil.h - helpers shared by the key and minisig suites (test_key.c,
 * test_seckey.c, test_keygen.c, test_minisig.c): golden vectors under
 * tests/vectors/keys/, key pair checks, the stock minisign binary. */
#ifndef CAIRN_KEYUTIL_H
#define CAIRN_KEYUTIL_H

#include "testutil.h"

#include "base/crypto.h"
#include "keys/key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MINISIGN "/usr/bin/minisign"
#define VEC_PASSWORD "cairn-test-password"

static inline char *vec_path(const char *name)
{
    const char *root = getenv("CAIRN_ROOT");
    char *dir = tu_path(root != NULL && root[0] != '\0' ? root : ".",
                        "tests/vectors/keys");
    char *p = tu_path(dir, name);
    free(dir);
    return p;
}

static inline char *vec_read(const char *name, size_t *len)
{
    char *path = vec_path(name);
    char *text = tu_read_file(path, len);
    free(path);
    return text;
}

/* Line n (1-based) of text, malloc'd, without its line end. */
static inline char *line_of(const char *text, int n)
{
    const char *p = text;
    for (int i = 1; i < n; i++) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    size_t len = strcspn(p, "\n");
    char *out = malloc(len + 1);
    assert_non_null(out);
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static inline cairn_pubkey *vec_pubkey(const char *name)
{
    char *path = vec_path(name);
    cairn_pubkey *key = NULL;
    char detail[256] = "";
    cairn_err err = cairn_pubkey_load(path, &key, detail, sizeof detail);
    if (err != CAIRN_OK) {
        print_error("%s: %s\n", path, detail);
    }
    assert_int_equal(err, CAIRN_OK);
    free(path);
    return key;
}

static inline cairn_signer *vec_signer(const char *name, const char *password)
{
    char *path = vec_path(name);
    cairn_signer *s = NULL;
    char detail[256] = "";
    cairn_err err =
        cairn_signer_load(path, password, &s, detail, sizeof detail);
    if (err != CAIRN_OK) {
        print_error("%s: %s\n", path, detail);
    }
    assert_int_equal(err, CAIRN_OK);
    free(path);
    return s;
}

/* The signer's key id and public key equal those of the public key. */
static inline void assert_pair(const cairn_signer *s, const cairn_pubkey *k)
{
    uint8_t a[CAIRN_PUBLIC_KEY_BYTES], b[CAIRN_PUBLIC_KEY_BYTES];
    uint8_t ia[CAIRN_KEY_ID_BYTES], ib[CAIRN_KEY_ID_BYTES];
    cairn_signer_public_key(s, a);
    cairn_pubkey_bytes(k, b);
    assert_memory_equal(a, b, sizeof a);
    cairn_signer_key_id(s, ia);
    cairn_pubkey_key_id(k, ib);
    assert_memory_equal(ia, ib, sizeof ia);
    uint8_t sig[CAIRN_SIGNATURE_BYTES];
    assert_int_equal(cairn__signer_sign(s, "m", 1, sig), CAIRN_OK);
    assert_int_equal(cairn__pubkey_verify(k, sig, "m", 1), 0);
    assert_int_equal(cairn__pubkey_verify(k, sig, "n", 1), -1);
}

static inline void assert_has(const char *detail, const char *want)
{
    if (strstr(detail, want) == NULL) {
        print_error("detail \"%s\" lacks \"%s\"\n", detail, want);
        fail();
    }
}

static inline int have_minisign(void)
{
    if (access(MINISIGN, X_OK) != 0) {
        print_message("skipped: %s is not installed\n", MINISIGN);
        return 0;
    }
    return 1;
}

static inline int run(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

#endif
