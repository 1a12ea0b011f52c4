/* test_key.c - minisign public keys and the golden vectors: the committed
 * key pairs, signature and fingerprint, every accepted and malformed public
 * key file. */
#include "keyutil.h"

#include "base/crypto.h"

/* Parse public key text; expect err and a detail containing want. */
static void pub_case(const char *text, size_t len, cairn_err want_err,
                     const char *want)
{
    cairn_pubkey *k = (cairn_pubkey *)(uintptr_t)1;
    char detail[512] = "";
    cairn_err err =
        cairn__pubkey_parse_text(text, len, "k.pub", &k, detail, sizeof detail);
    if (err != want_err) {
        print_error("text \"%.*s\": got %d (%s), want %d\n", (int)len, text,
                    err, detail, want_err);
    }
    assert_int_equal(err, want_err);
    if (want_err == CAIRN_OK) {
        assert_non_null(k);
        cairn_pubkey_free(k);
    } else {
        assert_null(k);
        assert_has(detail, want);
    }
}

/* ------------------------------------------------------------------ */
/* Golden vectors.                                                     */

static void test_golden_plain(void **state)
{
    (void)state;
    cairn_pubkey *k = vec_pubkey("plain.pub");
    cairn_signer *s = vec_signer("plain.key", NULL);
    assert_pair(s, k);

    /* Ed25519 is deterministic: the signature is the committed one. */
    size_t len = 0;
    char *msg = vec_read("message.txt", &len);
    char *want = vec_read("message.txt.ed25519", NULL);
    uint8_t sig[CAIRN_SIGNATURE_BYTES];
    char hex[2 * CAIRN_SIGNATURE_BYTES + 2];
    assert_int_equal(cairn__signer_sign(s, msg, len, sig), CAIRN_OK);
    cairn__hex(sig, sizeof sig, hex);
    strcat(hex, "\n");
    assert_string_equal(hex, want);
    assert_int_equal(cairn__pubkey_verify(k, sig, msg, len), 0);

    char fp[80];
    char *want_fp = vec_read("plain.fingerprint", NULL);
    cairn_pubkey_fingerprint(k, fp, sizeof fp);
    strcat(fp, "\n");
    assert_string_equal(fp, want_fp);
    free(want_fp);
    free(want);
    free(msg);
    cairn_signer_free(s);
    cairn_pubkey_free(k);
}

static void test_golden_pubkey_text(void **state)
{
    (void)state;
    cairn_pubkey *k = vec_pubkey("plain.pub");
    char *file = vec_read("plain.pub", NULL);
    char *line2 = line_of(file, 2);
    char b64[CAIRN__PUBKEY_B64_LEN + 1];
    char text[CAIRN__PUBKEY_FILE_LEN];
    assert_int_equal(cairn__pubkey_to_text(k, b64, sizeof b64), CAIRN_OK);
    assert_string_equal(b64, line2);
    assert_int_equal(cairn__pubkey_file_text(k, text, sizeof text), CAIRN_OK);
    assert_string_equal(text, file);
    assert_string_equal(text, "untrusted comment: minisign public key "
                              "31736BC0AAA02FC4\n"
                              "RWTEL6CqwGtzMdNGZRnqpSX09JjLKd1HwYklLdoKR3Djp"
                              "7yCOxRsGxjv\n");
    /* Too small buffers are refused, never truncated. */
    assert_int_equal(cairn__pubkey_to_text(k, b64, CAIRN__PUBKEY_B64_LEN),
                     CAIRN_EINVAL);
    assert_string_equal(b64, "");
    assert_int_equal(cairn__pubkey_file_text(k, text, 100), CAIRN_EINVAL);
    char fp[71];
    cairn_pubkey_fingerprint(k, fp, sizeof fp);
    assert_string_equal(fp, "");

    /* cairn_pubkey_parse takes the bare base64 line. */
    cairn_pubkey *k2 = NULL;
    char detail[256] = "";
    assert_int_equal(cairn_pubkey_parse(line2, &k2, detail, sizeof detail),
                     CAIRN_OK);
    assert_memory_equal(k2, k, sizeof *k);
    cairn_pubkey_free(k2);
    assert_int_equal(cairn_pubkey_parse(file, &k2, detail, sizeof detail),
                     CAIRN_EKEY);
    assert_null(k2);
    assert_has(detail, "invalid base64 character 0x20 at column 10");
    assert_int_equal(cairn_pubkey_parse(NULL, &k2, detail, sizeof detail),
                     CAIRN_EINVAL);
    free(line2);
    free(file);
    cairn_pubkey_free(k);
}

static void test_golden_encrypted(void **state)
{
    (void)state;
    cairn_pubkey *k = vec_pubkey("enc.pub");
    cairn_signer *s = vec_signer("enc.key", VEC_PASSWORD);
    assert_pair(s, k);
    cairn_signer_free(s);
    cairn_pubkey_free(k);

    char *path = vec_path("enc.key");
    char detail[512] = "";
    s = (cairn_signer *)(uintptr_t)1;
    assert_int_equal(
        cairn_signer_load(path, "wrong", &s, detail, sizeof detail),
        CAIRN_EPASSWORD);
    assert_null(s);
    assert_has(detail, "checksum mismatch: wrong password?");
    assert_has(detail, path);
    assert_int_equal(cairn_signer_load(path, NULL, &s, detail, sizeof detail),
                     CAIRN_EPASSWORD);
    assert_has(detail, "encrypted and no password");
    free(path);
}

/* A key made by `minisign -G -W` (no checksum: 32 zero bytes). */
static void test_golden_minisign_unencrypted(void **state)
{
    (void)state;
    cairn_pubkey *k = vec_pubkey("minisign-W.pub");
    cairn_signer *s = vec_signer("minisign-W.key", NULL);
    assert_pair(s, k);
    cairn_signer_free(s);
    cairn_pubkey_free(k);
    /* A password given for an unencrypted key is not used. */
    s = vec_signer("minisign-W.key", "ignored");
    cairn_signer_free(s);
}

/* ------------------------------------------------------------------ */
/* Public key files.                                                   */

#define PUB_B64 "RWTEL6CqwGtzMdNGZRnqpSX09JjLKd1HwYklLdoKR3Djp7yCOxRsGxjv"
#define PUB_COMMENT "untrusted comment: minisign public key 31736BC0AAA02FC4\n"

static void pub_str(const char *text, cairn_err want_err, const char *want)
{
    pub_case(text, strlen(text), want_err, want);
}

static void test_pubkey_accepted_shapes(void **state)
{
    (void)state;
    pub_str(PUB_COMMENT PUB_B64 "\n", CAIRN_OK, NULL);
    pub_str(PUB_COMMENT PUB_B64, CAIRN_OK, NULL); /* no final line feed */
    pub_str(PUB_B64 "\n", CAIRN_OK, NULL);        /* base64 line alone */
    pub_str(PUB_B64, CAIRN_OK, NULL);
    pub_str("untrusted comment: \n" PUB_B64 "\n", CAIRN_OK, NULL);
    /* CRLF line ends are accepted deliberately (minisign does too). */
    pub_str("untrusted comment: x\r\n" PUB_B64 "\r\n", CAIRN_OK, NULL);
    pub_str(PUB_B64 "\r\n", CAIRN_OK, NULL);
}

static void test_pubkey_malformed(void **state)
{
    (void)state;
    pub_str("", CAIRN_EKEY, "k.pub: empty file");
    pub_str("untrusted comment: x\n", CAIRN_EKEY,
            "k.pub: line 2: missing: the file ends after the comment line");
    pub_str("trusted comment: x\n" PUB_B64 "\n", CAIRN_EKEY,
            "k.pub: line 1: does not start with \"untrusted comment: \"");
    pub_str("\n" PUB_B64 "\n", CAIRN_EKEY, "line 1: does not start with");
    pub_str(PUB_COMMENT
            "RWTEL6Cq*GtzMdNGZRnqpSX09JjLKd1HwYklLdoKR3Djp7yCOxRsGxjv"
            "\n",
            CAIRN_EKEY, "line 2: invalid base64 character 0x2a at column 9");
    pub_str(PUB_COMMENT "\n", CAIRN_EKEY,
            "line 2: empty line, expected the base64 public key");
    /* 40 bytes instead of 42. */
    pub_str(PUB_COMMENT
            "RWTEL6CqwGtzMdNGZRnqpSX09JjLKd1HwYklLdoKR3Djp7yCOxRs\n",
            CAIRN_EKEY, "line 2: base64 decodes to 39 bytes, expected 42");
    pub_str(PUB_COMMENT
            "RWTEL6CqwGtzMdNGZRnqpSX09JjLKd1HwYklLdoKR3Djp7yCOxRsGw=="
            "\n",
            CAIRN_EKEY, "line 2: base64 decodes to 40 bytes, expected 42");
    pub_str(PUB_COMMENT PUB_B64 "AAAA\n", CAIRN_EKEY,
            "line 2: base64 decodes to 45 bytes, expected 42");
    pub_str(PUB_COMMENT
            "RWTEL6CqwGtzMdNGZRnqpSX09JjLKd1HwYklLdoKR3Djp7yCOxRsGxj\n",
            CAIRN_EKEY, "line 2: base64 length 55 is not a multiple of 4");
    pub_str(PUB_COMMENT
            "RW=EL6CqwGtzMdNGZRnqpSX09JjLKd1HwYklLdoKR3Djp7yCOxRsGxjv"
            "\n",
            CAIRN_EKEY, "base64 padding '=' before column 4");
    pub_str(PUB_COMMENT
            "RWTEL6CqwGtzMdNGZRnqpSX09JjLKd1HwYklLdoKR3Djp7yCOxRs===="
            "\n",
            CAIRN_EKEY, "too much base64 padding");
    /* "ED" (0x4544) is a signature algorithm, not a key's. */
    pub_str(PUB_COMMENT
            "RUTEL6CqwGtzMdNGZRnqpSX09JjLKd1HwYklLdoKR3Djp7yCOxRsGxjv"
            "\n",
            CAIRN_EKEY, "line 2: unsupported signature algorithm 0x4544");
    pub_str(PUB_COMMENT PUB_B64 "\n\n", CAIRN_EKEY,
            "line 3: unexpected extra line");
    pub_str(PUB_COMMENT PUB_B64 "\nmore\n", CAIRN_EKEY,
            "line 3: unexpected extra line");
    pub_str(PUB_COMMENT PUB_B64 "\r", CAIRN_EKEY,
            "line 2: carriage return not followed by a line feed at column 57");
    pub_str("untrusted comment: a\rb\n" PUB_B64, CAIRN_EKEY,
            "line 1: carriage return");
    pub_case(PUB_COMMENT PUB_B64 "\0", sizeof(PUB_COMMENT PUB_B64 "\0") - 1,
             CAIRN_EKEY, "line 2: NUL byte at column 57");
    /* Public keys of small order, or not on the curve. */
    for (int i = 0; i < 2; i++) {
        uint8_t bin[42] = {'E', 'd', 1, 2, 3, 4, 5, 6, 7, 8};
        char text[128] = "untrusted comment: x\n";
        if (i == 1) {
            bin[10] = 1; /* the neutral element */
        }
        cairn__b64_encode(bin, sizeof bin, text + strlen(text),
                          sizeof text - strlen(text));
        pub_str(text, CAIRN_EKEY, "line 2: not a valid Ed25519 public key");
    }
}

static void test_pubkey_comment_limit(void **state)
{
    (void)state;
    char text[2048];
    size_t plen = strlen("untrusted comment: ");
    memcpy(text, "untrusted comment: ", plen);
    memset(text + plen, 'x', CAIRN__COMMENT_LINE_MAX - plen);
    strcpy(text + CAIRN__COMMENT_LINE_MAX, "\n" PUB_B64 "\n");
    pub_str(text, CAIRN_OK, NULL);
    memset(text + plen, 'x', CAIRN__COMMENT_LINE_MAX + 1 - plen);
    strcpy(text + CAIRN__COMMENT_LINE_MAX + 1, "\n" PUB_B64 "\n");
    pub_str(text, CAIRN_EKEY, "line 1: comment line is 1023 bytes, at most");
}

static void test_pubkey_load_errors(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "missing.pub");
    cairn_pubkey *k = (cairn_pubkey *)(uintptr_t)1;
    char detail[512] = "";
    assert_int_equal(cairn_pubkey_load(path, &k, detail, sizeof detail),
                     CAIRN_EIO);
    assert_null(k);
    assert_has(detail, path);
    assert_has(detail, "No such file");

    char big[CAIRN__KEY_FILE_MAX + 1];
    memset(big, 'A', sizeof big);
    tu_write_file(path, big, sizeof big);
    assert_int_equal(cairn_pubkey_load(path, &k, detail, sizeof detail),
                     CAIRN_EKEY);
    assert_has(detail, "larger than");

    tu_write_file(path, "", 0);
    assert_int_equal(cairn_pubkey_load(path, &k, detail, sizeof detail),
                     CAIRN_EKEY);
    assert_has(detail, "missing.pub: empty file");
    assert_int_equal(cairn_pubkey_load(NULL, &k, detail, sizeof detail),
                     CAIRN_EINVAL);
    free(path);
    tu_rmtree(dir);
}

static void test_pubkey_from_raw(void **state)
{
    (void)state;
    uint8_t id[CAIRN_KEY_ID_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES] = {0};
    cairn_pubkey *k = (cairn_pubkey *)(uintptr_t)1;
    assert_int_equal(cairn__pubkey_from_raw(id, pk, &k), CAIRN_EKEY);
    assert_null(k);
    cairn_pubkey *ref = vec_pubkey("plain.pub");
    cairn_pubkey_bytes(ref, pk);
    assert_int_equal(cairn__pubkey_from_raw(id, pk, &k), CAIRN_OK);
    uint8_t got[CAIRN_KEY_ID_BYTES];
    cairn_pubkey_key_id(k, got);
    assert_memory_equal(got, id, sizeof id);
    char idtext[17];
    cairn__key_id_text(id, idtext);
    assert_string_equal(idtext, "0807060504030201"); /* minisign's %016X */
    cairn_pubkey_free(k);
    cairn_pubkey_free(ref);
    cairn_pubkey_free(NULL);
    cairn_signer_free(NULL);
    assert_int_equal(cairn__pubkey_from_raw(NULL, pk, &k), CAIRN_EINVAL);
}

/* Base64 is decoded strictly: only the canonical text of the bytes
 * (libsodium 1.0.18 alone takes bytes from 0x80 up as digits, and
 * nonzero padding bits). */
static void test_b64_strict(void **state)
{
    (void)state;
    uint8_t out[3];
    assert_int_equal(cairn__b64_decode("AAAA", 4, out, 3), 0);
    assert_int_equal(cairn__b64_decode("AAA\x80", 4, out, 3), -1);
    assert_int_equal(cairn__b64_decode("\xff"
                                       "AAA",
                                       4, out, 3),
                     -1);
    assert_int_equal(cairn__b64_decode("AAA=", 4, out, 2), 0);
    assert_int_equal(cairn__b64_decode("AAB=", 4, out, 2), -1);
    assert_int_equal(cairn__b64_decode("AA==", 4, out, 1), 0);
    assert_int_equal(cairn__b64_decode("AB==", 4, out, 1), -1);
    assert_int_equal(cairn__b64_decode("A A=", 4, out, 2), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_strict),
        cmocka_unit_test(test_golden_plain),
        cmocka_unit_test(test_golden_pubkey_text),
        cmocka_unit_test(test_golden_encrypted),
        cmocka_unit_test(test_golden_minisign_unencrypted),
        cmocka_unit_test(test_pubkey_accepted_shapes),
        cmocka_unit_test(test_pubkey_malformed),
        cmocka_unit_test(test_pubkey_comment_limit),
        cmocka_unit_test(test_pubkey_load_errors),
        cmocka_unit_test(test_pubkey_from_raw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
