/* test_seckey.c - minisign secret key files: every malformed byte and text
 * case, checksums, the seed check, scrypt (wrong or missing password,
 * absurd parameters), load errors. */
#include "keyutil.h"

/* The 158 decoded bytes of a secret key vector. */
static void vec_secret_bin(const char *name, uint8_t bin[158])
{
    char *text = vec_read(name, NULL);
    char *b64 = line_of(text, 2);
    assert_int_equal(cairn__b64_decode(b64, strlen(b64), bin, 158), 0);
    free(b64);
    free(text);
}

/* "untrusted comment: test\n" + base64(bin) + "\n", malloc'd. */
static char *secret_text(const uint8_t *bin, size_t n)
{
    size_t cap = 32 + 4 * (n / 3 + 1) + 2;
    char *text = malloc(cap);
    assert_non_null(text);
    strcpy(text, "untrusted comment: test\n");
    size_t off = strlen(text);
    cairn__b64_encode(bin, n, text + off, cap - off);
    strcat(text, "\n");
    return text;
}

/* Parse secret key text; expect err and a detail containing want. */
static void sec_case(const char *text, const char *password, cairn_err want_err,
                     const char *want)
{
    static const cairn__kdf_limits limits = {CAIRN__KDF_OPSLIMIT_MAX,
                                             CAIRN__KDF_MEMLIMIT_MAX};
    cairn_signer *s = (cairn_signer *)(uintptr_t)1;
    char detail[512] = "";
    cairn_err err =
        cairn__signer_parse_text(text, strlen(text), "k.key", password, &limits,
                                 &s, detail, sizeof detail);
    if (err != want_err) {
        print_error("got %d (%s), want %d\n", err, detail, want_err);
    }
    assert_int_equal(err, want_err);
    if (want_err == CAIRN_OK) {
        assert_non_null(s);
        cairn_signer_free(s);
    } else {
        assert_null(s);
        assert_has(detail, want);
    }
}

/* Secret key case built from a vector's bytes after mutate(bin). */
static void sec_bin_case(const char *vec, void (*mutate)(uint8_t *),
                         const char *password, cairn_err want_err,
                         const char *want)
{
    uint8_t bin[158];
    vec_secret_bin(vec, bin);
    mutate(bin);
    char *text = secret_text(bin, sizeof bin);
    sec_case(text, password, want_err, want);
    free(text);
}

/* ------------------------------------------------------------------ */
/* Secret key files.                                                   */

static void mut_none(uint8_t *b)
{
    (void)b;
}
static void mut_alg(uint8_t *b)
{
    b[1] = 'D';
}
static void mut_kdf(uint8_t *b)
{
    b[2] = 'X';
    b[3] = 'x';
}
static void mut_chk_alg(uint8_t *b)
{
    b[4] = 'B';
    b[5] = '3';
}
static void mut_chk(uint8_t *b)
{
    b[157] ^= 1;
}
static void mut_seed(uint8_t *b)
{
    b[62] ^= 1; /* first byte of the seed */
}
static void mut_zero_chk(uint8_t *b)
{
    memset(b + 126, 0, 32);
}
static void mut_seed_zero_chk(uint8_t *b)
{
    mut_seed(b);
    mut_zero_chk(b);
}
/* A consistent checksum over an sk whose public half is wrong. */
static void mut_pk_rechk(uint8_t *b)
{
    b[62 + 40] ^= 0x80;
    cairn__seckey_checksum(b + 54, b + 62, b + 126);
}
static void mut_ops_absurd(uint8_t *b)
{
    memset(b + 38, 0, 8);
    b[43] = 1; /* opslimit 2^40 */
}
static void mut_mem_absurd(uint8_t *b)
{
    memset(b + 46, 0, 8);
    b[50] = 1; /* memlimit 2^32 */
}
static void mut_ops_changed(uint8_t *b)
{
    b[40] = 1; /* opslimit 98304 instead of 32768: another scrypt stream */
}
static void mut_salt(uint8_t *b)
{
    b[6] ^= 1;
}

static void test_seckey_vectors_roundtrip(void **state)
{
    (void)state;
    sec_bin_case("plain.key", mut_none, NULL, CAIRN_OK, NULL);
    sec_bin_case("enc.key", mut_none, VEC_PASSWORD, CAIRN_OK, NULL);
    sec_bin_case("minisign-W.key", mut_none, NULL, CAIRN_OK, NULL);
    /* An unencrypted key without a checksum (as minisign -W writes). */
    sec_bin_case("plain.key", mut_zero_chk, NULL, CAIRN_OK, NULL);
}

static void test_seckey_malformed_bytes(void **state)
{
    (void)state;
    sec_bin_case("plain.key", mut_alg, NULL, CAIRN_EKEY,
                 "k.key: line 2: unsupported signature algorithm 0x4544");
    sec_bin_case("plain.key", mut_kdf, NULL, CAIRN_EKEY,
                 "line 2: unsupported key derivation function 0x5878");
    sec_bin_case("plain.key", mut_chk_alg, NULL, CAIRN_EKEY,
                 "line 2: unsupported checksum algorithm 0x4233");
    sec_bin_case("plain.key", mut_chk, NULL, CAIRN_EKEY,
                 "k.key: checksum mismatch: the secret key is corrupted");
    sec_bin_case("plain.key", mut_seed, NULL, CAIRN_EKEY,
                 "checksum mismatch: the secret key is corrupted");
    sec_bin_case("minisign-W.key", mut_seed, NULL, CAIRN_EKEY,
                 "line 2: the public half of the secret key does not match "
                 "its seed");
    sec_bin_case("plain.key", mut_seed_zero_chk, NULL, CAIRN_EKEY,
                 "does not match its seed");
    sec_bin_case("plain.key", mut_pk_rechk, NULL, CAIRN_EKEY,
                 "does not match its seed");
}

static void test_seckey_encrypted_errors(void **state)
{
    (void)state;
    sec_bin_case("enc.key", mut_none, "wrong", CAIRN_EPASSWORD,
                 "k.key: checksum mismatch: wrong password?");
    sec_bin_case("enc.key", mut_none, "", CAIRN_EPASSWORD, "wrong password?");
    sec_bin_case("enc.key", mut_none, NULL, CAIRN_EPASSWORD,
                 "k.key: the secret key is encrypted and no password was "
                 "given");
    sec_bin_case("enc.key", mut_chk, VEC_PASSWORD, CAIRN_EPASSWORD,
                 "wrong password?");
    sec_bin_case("enc.key", mut_ops_changed, VEC_PASSWORD, CAIRN_EPASSWORD,
                 "wrong password?");
    sec_bin_case("enc.key", mut_salt, VEC_PASSWORD, CAIRN_EPASSWORD,
                 "wrong password?");
    /* Absurd parameters are refused before scrypt runs, password or not. */
    sec_bin_case("enc.key", mut_ops_absurd, VEC_PASSWORD, CAIRN_EKEY,
                 "line 2: scrypt parameters out of range (opslimit "
                 "1099511627776");
    sec_bin_case("enc.key", mut_ops_absurd, NULL, CAIRN_EKEY,
                 "scrypt parameters out of range");
    sec_bin_case("enc.key", mut_mem_absurd, VEC_PASSWORD, CAIRN_EKEY,
                 "memlimit 4294967296");
    /* Parameters above a caller's tighter limit. */
    uint8_t bin[158];
    vec_secret_bin("enc.key", bin);
    char *text = secret_text(bin, sizeof bin);
    cairn__kdf_limits tight = {1000, 1000};
    cairn_signer *s = NULL;
    char detail[512] = "";
    assert_int_equal(cairn__signer_parse_text(text, strlen(text), NULL,
                                              VEC_PASSWORD, &tight, &s, detail,
                                              sizeof detail),
                     CAIRN_EKEY);
    assert_has(detail, "line 2: scrypt parameters out of range");
    free(text);
}

static void test_seckey_malformed_text(void **state)
{
    (void)state;
    uint8_t bin[158];
    vec_secret_bin("plain.key", bin);
    char *good = secret_text(bin, sizeof bin);
    char *b64 = line_of(good, 2);
    char buf[1024];

    sec_case("", NULL, CAIRN_EKEY, "k.key: empty file");
    sec_case("untrusted comment: x\n", NULL, CAIRN_EKEY,
             "line 2: missing: the file ends after the comment line");
    snprintf(buf, sizeof buf, "%s\n", b64);
    sec_case(buf, NULL, CAIRN_EKEY,
             "line 1: does not start with \"untrusted comment: \"");
    snprintf(buf, sizeof buf, "comment\n%s\n", b64);
    sec_case(buf, NULL, CAIRN_EKEY, "line 1: does not start with");
    /* Truncated: the last 4 characters (3 bytes) cut off. */
    snprintf(buf, sizeof buf, "untrusted comment: x\n%.*s\n",
             (int)strlen(b64) - 4, b64);
    sec_case(buf, NULL, CAIRN_EKEY,
             "line 2: base64 decodes to 156 bytes, expected 158");
    snprintf(buf, sizeof buf, "untrusted comment: x\n%.*s\n",
             (int)strlen(b64) - 1, b64);
    sec_case(buf, NULL, CAIRN_EKEY, "is not a multiple of 4");
    /* 157 and 159 bytes. */
    char *t157 = secret_text(bin, 157);
    sec_case(t157, NULL, CAIRN_EKEY,
             "base64 decodes to 157 bytes, expected 158");
    free(t157);
    uint8_t big[159] = {0};
    memcpy(big, bin, sizeof bin);
    char *t159 = secret_text(big, sizeof big);
    sec_case(t159, NULL, CAIRN_EKEY, "decodes to 159 bytes");
    free(t159);
    /* Bad base64 character. */
    snprintf(buf, sizeof buf, "untrusted comment: x\n%s\n", b64);
    buf[21 + 10] = '!';
    sec_case(buf, NULL, CAIRN_EKEY,
             "line 2: invalid base64 character 0x21 at column 11");
    /* Non-canonical: 158 bytes leave 2 padding bits; set one. */
    snprintf(buf, sizeof buf, "untrusted comment: x\n%s\n", b64);
    char *last = buf + 21 + strlen(b64) - 2;
    assert_int_equal(*last, 'Y'); /* the vector's final character */
    *last = 'Z';
    sec_case(buf, NULL, CAIRN_EKEY, "non-canonical base64");
    /* A third line. */
    snprintf(buf, sizeof buf, "untrusted comment: x\n%s\nextra\n", b64);
    sec_case(buf, NULL, CAIRN_EKEY, "line 3: unexpected extra line");
    /* CRLF is accepted. */
    snprintf(buf, sizeof buf, "untrusted comment: x\r\n%s\r\n", b64);
    sec_case(buf, NULL, CAIRN_OK, NULL);
    snprintf(buf, sizeof buf, "untrusted comment: x\n%s", b64);
    sec_case(buf, NULL, CAIRN_OK, NULL);
    free(b64);
    free(good);
}

static void test_seckey_load_errors(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "none.key");
    cairn_signer *s = (cairn_signer *)(uintptr_t)1;
    char detail[512] = "";
    assert_int_equal(cairn_signer_load(path, NULL, &s, detail, sizeof detail),
                     CAIRN_EIO);
    assert_null(s);
    assert_has(detail, "none.key");
    char big[CAIRN__KEY_FILE_MAX + 10];
    memset(big, '\n', sizeof big);
    tu_write_file(path, big, sizeof big);
    assert_int_equal(cairn_signer_load(path, NULL, &s, detail, sizeof detail),
                     CAIRN_EKEY);
    assert_has(detail, "larger than");
    assert_int_equal(cairn_signer_load(NULL, NULL, &s, detail, sizeof detail),
                     CAIRN_EINVAL);
    /* NULL signer accessors and sign. */
    uint8_t out[CAIRN_PUBLIC_KEY_BYTES], sig[CAIRN_SIGNATURE_BYTES];
    cairn_signer_public_key(NULL, out);
    assert_int_equal(out[0] | out[31], 0);
    assert_int_equal(cairn__signer_sign(NULL, "x", 1, sig), CAIRN_EINVAL);
    free(path);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seckey_vectors_roundtrip),
        cmocka_unit_test(test_seckey_malformed_bytes),
        cmocka_unit_test(test_seckey_encrypted_errors),
        cmocka_unit_test(test_seckey_malformed_text),
        cmocka_unit_test(test_seckey_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
