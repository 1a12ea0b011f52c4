/* test_minisig.c - minisign signature files: golden vectors, create/verify
 * round trips, every tampering and malformed case, and interoperability
 * with the stock minisign binary in both directions. */
#include "keyutil.h"

#define GOLDEN_TC "cairn golden vector\tfile:message.txt"

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

/* Fixture: the golden key pair and message. */
typedef struct fx {
    cairn_signer *signer;
    cairn_pubkey *key;
    char *msg;
    size_t msg_len;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->signer = vec_signer("plain.key", NULL);
    f->key = vec_pubkey("plain.pub");
    f->msg = vec_read("message.txt", &f->msg_len);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    cairn_signer_free(f->signer);
    cairn_pubkey_free(f->key);
    free(f->msg);
    free(f);
    return 0;
}

/* Verify text over the golden message; expect err and detail. */
static void verify_case(const fx *f, const char *text, size_t len,
                        cairn_err want_err, const char *want)
{
    char trusted[CAIRN__TRUSTED_COMMENT_MAX + 1] = "sentinel";
    char detail[512] = "";
    cairn_err err =
        cairn__minisig_verify(f->key, f->msg, f->msg_len, text, len, trusted,
                              sizeof trusted, detail, sizeof detail);
    if (err != want_err) {
        print_error("got %d (%s), want %d\n", err, detail, want_err);
    }
    assert_int_equal(err, want_err);
    if (want_err != CAIRN_OK) {
        assert_string_equal(trusted, "");
        assert_has(detail, want);
    }
}

static void verify_str(const fx *f, const char *text, cairn_err want_err,
                       const char *want)
{
    verify_case(f, text, strlen(text), want_err, want);
}

/* The golden signature with line n (1-based) replaced by repl. */
static char *golden_with_line(int n, const char *repl)
{
    char *text = vec_read("message.txt.minisig", NULL);
    char *out = malloc(strlen(text) + strlen(repl) + 16);
    assert_non_null(out);
    out[0] = '\0';
    char *p = text;
    for (int i = 1; *p != '\0'; i++) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (i == n) {
            strcat(out, repl);
        } else {
            strncat(out, p, (size_t)(nl - p));
        }
        strcat(out, "\n");
        p = nl + 1;
    }
    free(text);
    return out;
}

/* Line n of the golden signature (malloc'd, no line end). */
static char *golden_line(int n)
{
    char *text = vec_read("message.txt.minisig", NULL);
    char *p = text;
    for (int i = 1; i < n; i++) {
        p = strchr(p, '\n') + 1;
    }
    size_t len = strcspn(p, "\n");
    char *out = strndup(p, len);
    assert_non_null(out);
    free(text);
    return out;
}

/* ------------------------------------------------------------------ */
/* Golden vectors.                                                     */

static void test_golden_create_bytes(void **state)
{
    fx *f = *state;
    size_t want_len = 0;
    char *want = vec_read("message.txt.minisig", &want_len);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(cairn__minisig_create(f->signer, f->msg, f->msg_len, NULL,
                                           GOLDEN_TC, &text, &len),
                     CAIRN_OK);
    assert_int_equal(len, want_len);
    assert_memory_equal(text, want, len);
    assert_int_equal(text[len], '\0');
    free(text);
    /* The prehashed entry point gives the same bytes. */
    uint8_t hash[64];
    cairn__blake2b(hash, sizeof hash, f->msg, f->msg_len);
    assert_int_equal(cairn__minisig_create_hashed(f->signer, hash, NULL,
                                                  GOLDEN_TC, &text, &len),
                     CAIRN_OK);
    assert_memory_equal(text, want, want_len);
    free(text);
    free(want);
}

static void test_golden_verify(void **state)
{
    fx *f = *state;
    size_t len = 0;
    char *text = vec_read("message.txt.minisig", &len);
    char trusted[CAIRN__TRUSTED_COMMENT_MAX + 1];
    char detail[256] = "";
    assert_int_equal(cairn__minisig_verify(f->key, f->msg, f->msg_len, text,
                                           len, trusted, sizeof trusted, detail,
                                           sizeof detail),
                     CAIRN_OK);
    assert_string_equal(trusted, GOLDEN_TC);
    /* Without an output buffer. */
    assert_int_equal(cairn__minisig_verify(f->key, f->msg, f->msg_len, text,
                                           len, NULL, 0, detail, sizeof detail),
                     CAIRN_OK);
    /* An output buffer one byte too small is refused. */
    assert_int_equal(cairn__minisig_verify(f->key, f->msg, f->msg_len, text,
                                           len, trusted, strlen(GOLDEN_TC),
                                           detail, sizeof detail),
                     CAIRN_EINVAL);
    assert_has(detail, "output buffer");
    free(text);
}

/* Made by stock minisign 0.11 with a -W key. */
static void test_golden_minisign_made(void **state)
{
    fx *f = *state;
    cairn_pubkey *k = vec_pubkey("minisign-W.pub");
    size_t len = 0;
    char *text = vec_read("message.txt.minisign.minisig", &len);
    char trusted[CAIRN__TRUSTED_COMMENT_MAX + 1];
    char detail[256] = "";
    assert_int_equal(cairn__minisig_verify(k, f->msg, f->msg_len, text, len,
                                           trusted, sizeof trusted, detail,
                                           sizeof detail),
                     CAIRN_OK);
    assert_string_equal(trusted, "made by stock minisign 0.11");
    /* The golden key is another key: its id differs. */
    verify_case(f, text, len, CAIRN_EKEY,
                "line 2: key id mismatch: signed by key EF5EA3C43A4EBEF4, "
                "the public key is 31736BC0AAA02FC4");
    free(text);
    /* minisign -l (legacy, not prehashed) is refused. */
    text = vec_read("message.txt.legacy.minisig", &len);
    assert_int_equal(cairn__minisig_verify(k, f->msg, f->msg_len, text, len,
                                           trusted, sizeof trusted, detail,
                                           sizeof detail),
                     CAIRN_EKEY);
    assert_has(detail, "line 2: legacy signature algorithm \"Ed\"");
    free(text);
    cairn_pubkey_free(k);
}

/* ------------------------------------------------------------------ */
/* Tampering.                                                          */

static void test_tampered(void **state)
{
    fx *f = *state;
    size_t len = 0;
    char *text = vec_read("message.txt.minisig", &len);
    /* Data changed. */
    char trusted[64];
    char detail[256] = "";
    f->msg[0] ^= 1;
    verify_case(f, text, len, CAIRN_ETAMPERED,
                "signature does not verify: the data or the signature was "
                "changed");
    f->msg[0] ^= 1;
    verify_case(f, text, len, CAIRN_OK, NULL);
    assert_int_equal(cairn__minisig_verify(f->key, f->msg, f->msg_len - 1, text,
                                           len, trusted, sizeof trusted, detail,
                                           sizeof detail),
                     CAIRN_ETAMPERED);
    free(text);

    /* Trusted comment changed. */
    text = golden_with_line(3, "trusted comment: cairn golden vector\t"
                               "file:other.txt");
    verify_str(f, text, CAIRN_ETAMPERED,
               "trusted comment signature does not verify");
    free(text);
    text = golden_with_line(3, "trusted comment: ");
    verify_str(f, text, CAIRN_ETAMPERED, "trusted comment signature");
    free(text);

    /* Untrusted comment changed: still valid (it is not signed). */
    text = golden_with_line(1, "untrusted comment: anything at all");
    verify_str(f, text, CAIRN_OK, NULL);
    free(text);

    /* Global signature changed (last byte of the 64 is in "w=="). */
    char *line = golden_line(4);
    line[strlen(line) - 3] = line[strlen(line) - 3] == 'A' ? 'B' : 'A';
    text = golden_with_line(4, line);
    verify_str(f, text, CAIRN_ETAMPERED, "trusted comment signature");
    free(text);
    free(line);

    /* Signature bytes changed (keep alg and key id: characters 0-13). */
    line = golden_line(2);
    line[40] = line[40] == 'A' ? 'B' : 'A';
    text = golden_with_line(2, line);
    verify_str(f, text, CAIRN_ETAMPERED, "signature does not verify");
    free(text);
    free(line);
}

static void test_wrong_key(void **state)
{
    fx *f = *state;
    size_t len = 0;
    char *text = vec_read("message.txt.minisig", &len);
    char trusted[64];
    char detail[256] = "";
    /* Another key: the key id differs. */
    cairn_pubkey *other = vec_pubkey("enc.pub");
    assert_int_equal(cairn__minisig_verify(other, f->msg, f->msg_len, text, len,
                                           trusted, sizeof trusted, detail,
                                           sizeof detail),
                     CAIRN_EKEY);
    assert_has(detail, "key id mismatch: signed by key 31736BC0AAA02FC4, "
                       "the public key is 8EBD4CF404EDE327");
    /* Same key id, another public key: the signature does not verify. */
    uint8_t id[CAIRN_KEY_ID_BYTES], pk[CAIRN_PUBLIC_KEY_BYTES];
    cairn_pubkey_key_id(f->key, id);
    cairn_pubkey_bytes(other, pk);
    cairn_pubkey *mixed = NULL;
    assert_int_equal(cairn__pubkey_from_raw(id, pk, &mixed), CAIRN_OK);
    assert_int_equal(cairn__minisig_verify(mixed, f->msg, f->msg_len, text, len,
                                           trusted, sizeof trusted, detail,
                                           sizeof detail),
                     CAIRN_ETAMPERED);
    cairn_pubkey_free(mixed);
    cairn_pubkey_free(other);
    free(text);
}

/* ------------------------------------------------------------------ */
/* Malformed signature files.                                          */

static void test_malformed_lines(void **state)
{
    fx *f = *state;
    char *l1 = golden_line(1), *l2 = golden_line(2);
    char *l3 = golden_line(3), *l4 = golden_line(4);
    char buf[1024];
    verify_str(f, "", CAIRN_EKEY, "empty signature");
    snprintf(buf, sizeof buf, "%s\n%s\n%s\n", l1, l2, l3);
    verify_str(f, buf, CAIRN_EKEY,
               "line 4: missing: the signature has 3 lines, expected 4");
    snprintf(buf, sizeof buf, "%s\n", l1);
    verify_str(f, buf, CAIRN_EKEY, "line 2: missing");
    snprintf(buf, sizeof buf, "%s\n%s\n%s\n%s\n\n", l1, l2, l3, l4);
    verify_str(f, buf, CAIRN_EKEY, "line 5: unexpected extra line");
    snprintf(buf, sizeof buf, "%s\n%s\n%s\n%s", l1, l2, l3, l4);
    verify_str(f, buf, CAIRN_OK, NULL); /* no final line feed */
    snprintf(buf, sizeof buf, "%s\r\n%s\r\n%s\r\n%s\r\n", l1, l2, l3, l4);
    verify_str(f, buf, CAIRN_OK, NULL); /* CRLF, as minisign accepts */
    snprintf(buf, sizeof buf, "%s\n%s\n%s\r\r\n%s\n", l1, l2, l3, l4);
    verify_str(f, buf, CAIRN_EKEY, "line 3: carriage return not followed");
    snprintf(buf, sizeof buf, "comment\n%s\n%s\n%s\n", l2, l3, l4);
    verify_str(f, buf, CAIRN_EKEY,
               "line 1: does not start with \"untrusted comment: \"");
    snprintf(buf, sizeof buf, "%s\n%s\n%s\n%s\n", l1, l2, l3 + 8, l4);
    verify_str(f, buf, CAIRN_EKEY,
               "line 3: does not start with \"trusted comment: \"");
    snprintf(buf, sizeof buf, "%s\n%s\n%s\n%s\n", l1, l3, l2, l4);
    verify_str(f, buf, CAIRN_EKEY, "line 2: invalid base64 character 0x20");
    snprintf(buf, sizeof buf, "%s\n%s\n%s\n%s\n", l1, l4, l3, l4);
    verify_str(f, buf, CAIRN_EKEY,
               "line 2: base64 decodes to 64 bytes, expected 74");
    snprintf(buf, sizeof buf, "%s\n%s\n%s\n%s\n", l1, l2, l3, l2);
    verify_str(f, buf, CAIRN_EKEY,
               "line 4: base64 decodes to 74 bytes, expected 64");
    snprintf(buf, sizeof buf, "%s\n%s\n%s\n\n", l1, l2, l3);
    verify_str(f, buf, CAIRN_EKEY, "line 4: empty line");
    /* A NUL byte inside the text. */
    snprintf(buf, sizeof buf, "%s\n%s\n%s\n%s\n", l1, l2, l3, l4);
    size_t n = strlen(buf);
    buf[strlen(l1) + 3] = '\0';
    verify_case(f, buf, n, CAIRN_EKEY, "line 2: NUL byte at column 3");
    free(l1);
    free(l2);
    free(l3);
    free(l4);
}

static void test_malformed_algorithm(void **state)
{
    fx *f = *state;
    char *l2 = golden_line(2);
    uint8_t bin[74];
    assert_int_equal(cairn__b64_decode(l2, strlen(l2), bin, sizeof bin), 0);
    char b64[128];
    const char *algs[3] = {"Ed", "ed", "\0\0"};
    const char *want[3] = {"line 2: legacy signature algorithm \"Ed\"",
                           "line 2: unsupported signature algorithm 0x6564",
                           "line 2: unsupported signature algorithm 0x0000"};
    for (int i = 0; i < 3; i++) {
        memcpy(bin, algs[i], 2);
        cairn__b64_encode(bin, sizeof bin, b64, sizeof b64);
        char *text = golden_with_line(2, b64);
        verify_str(f, text, CAIRN_EKEY, want[i]);
        free(text);
    }
    free(l2);
}

static void test_comment_limits(void **state)
{
    fx *f = *state;
    char *big = malloc(CAIRN__MINISIG_TEXT_MAX + 2);
    assert_non_null(big);
    /* The longest trusted comment: created and verified. */
    char *tc = malloc(CAIRN__TRUSTED_COMMENT_MAX + 2);
    assert_non_null(tc);
    memset(tc, 't', CAIRN__TRUSTED_COMMENT_MAX);
    tc[CAIRN__TRUSTED_COMMENT_MAX] = '\0';
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(cairn__minisig_create(f->signer, f->msg, f->msg_len, NULL,
                                           tc, &text, &len),
                     CAIRN_OK);
    verify_case(f, text, len, CAIRN_OK, NULL);
    free(text);
    /* One byte more: refused by create and by verify. */
    strcat(tc, "t");
    assert_int_equal(cairn__minisig_create(f->signer, f->msg, f->msg_len, NULL,
                                           tc, &text, &len),
                     CAIRN_EINVAL);
    assert_null(text);
    assert_int_equal(len, 0);
    char *line = malloc(CAIRN__TRUSTED_COMMENT_MAX + 32);
    assert_non_null(line);
    snprintf(line, CAIRN__TRUSTED_COMMENT_MAX + 32, "trusted comment: %s", tc);
    text = golden_with_line(3, line);
    verify_str(f, text, CAIRN_EKEY,
               "line 3: trusted comment too long (8174 bytes, at most 8173)");
    free(text);
    /* Untrusted comment: 1003 bytes written, a 1023-byte line refused. */
    memset(tc, 'u', CAIRN__UNTRUSTED_COMMENT_MAX);
    tc[CAIRN__UNTRUSTED_COMMENT_MAX] = '\0';
    assert_int_equal(cairn__minisig_create(f->signer, f->msg, f->msg_len, tc,
                                           "t", &text, &len),
                     CAIRN_OK);
    verify_case(f, text, len, CAIRN_OK, NULL);
    free(text);
    strcat(tc, "u");
    assert_int_equal(cairn__minisig_create(f->signer, f->msg, f->msg_len, tc,
                                           "t", &text, &len),
                     CAIRN_EINVAL);
    snprintf(line, CAIRN__TRUSTED_COMMENT_MAX + 32, "untrusted comment: %su",
             tc);
    text = golden_with_line(1, line);
    verify_str(f, text, CAIRN_EKEY, "line 1: untrusted comment too long");
    free(text);
    /* The whole text is bounded. */
    memset(big, 'a', CAIRN__MINISIG_TEXT_MAX + 1);
    verify_case(f, big, CAIRN__MINISIG_TEXT_MAX + 1, CAIRN_EKEY,
                "signature is 16385 bytes, at most 16384");
    free(line);
    free(tc);
    free(big);
}

static void test_trusted_comment_printable(void **state)
{
    fx *f = *state;
    static const char *bad[] = {
        "a\x01z",      "del\x7f",           "bad utf8 \xc3(",
        "c1 \xc2\x85", "overlong \xc0\xaf", "surrogate \xed\xa0\x80",
        "cut \xe2\x82"};
    static const char *good[] = {"",
                                 "tab\there",
                                 "caf\xc3\xa9",
                                 "\xe2\x82\xac 5",
                                 "\xf0\x9f\x98\x80",
                                 "nbsp\xc2\xa0"};
    char *text = NULL;
    size_t len = 0;
    char line[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(
            cairn__minisig_create(f->signer, "x", 1, NULL, bad[i], &text, &len),
            CAIRN_EINVAL);
        snprintf(line, sizeof line, "trusted comment: %s", bad[i]);
        text = golden_with_line(3, line);
        verify_str(f, text, CAIRN_EKEY, "line 3: non-printable byte 0x");
        free(text);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(cairn__minisig_create(f->signer, f->msg, f->msg_len,
                                               NULL, good[i], &text, &len),
                         CAIRN_OK);
        char trusted[64];
        char detail[256] = "";
        assert_int_equal(cairn__minisig_verify(f->key, f->msg, f->msg_len, text,
                                               len, trusted, sizeof trusted,
                                               detail, sizeof detail),
                         CAIRN_OK);
        assert_string_equal(trusted, good[i]);
        free(text);
    }
    /* Exact detail for a control byte. */
    text = golden_with_line(3, "trusted comment: ab\x1b[2J");
    verify_str(f, text, CAIRN_EKEY,
               "line 3: non-printable byte 0x1b in the trusted comment at "
               "column 20");
    free(text);
}

static void test_create_arguments(void **state)
{
    fx *f = *state;
    char *text = (char *)(uintptr_t)1;
    size_t len = 7;
    assert_int_equal(
        cairn__minisig_create(f->signer, "x", 1, "a\nb", "t", &text, &len),
        CAIRN_EINVAL);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_int_equal(
        cairn__minisig_create(f->signer, "x", 1, "a\rb", "t", &text, &len),
        CAIRN_EINVAL);
    assert_int_equal(
        cairn__minisig_create(f->signer, "x", 1, NULL, "a\nb", &text, &len),
        CAIRN_EINVAL);
    assert_int_equal(
        cairn__minisig_create(f->signer, "x", 1, NULL, NULL, &text, &len),
        CAIRN_EINVAL);
    assert_int_equal(
        cairn__minisig_create(NULL, "x", 1, NULL, "t", &text, &len),
        CAIRN_EINVAL);
    assert_int_equal(
        cairn__minisig_create(f->signer, NULL, 1, NULL, "t", &text, &len),
        CAIRN_EINVAL);
    /* Empty data is fine. */
    assert_int_equal(
        cairn__minisig_create(f->signer, NULL, 0, NULL, "t", &text, &len),
        CAIRN_OK);
    char detail[256] = "";
    assert_int_equal(cairn__minisig_verify(f->key, NULL, 0, text, len, NULL, 0,
                                           detail, sizeof detail),
                     CAIRN_OK);
    assert_int_equal(cairn__minisig_verify(NULL, NULL, 0, text, len, NULL, 0,
                                           detail, sizeof detail),
                     CAIRN_EINVAL);
    assert_int_equal(cairn__minisig_verify(f->key, NULL, 1, text, len, NULL, 0,
                                           detail, sizeof detail),
                     CAIRN_EINVAL);
    free(text);
}

/* ------------------------------------------------------------------ */
/* Interoperability with the stock minisign binary.                    */

static void test_interop_minisign(void **state)
{
    fx *f = *state;
    if (!have_minisign()) {
        skip();
    }
    char *dir = tu_mkdtemp();
    char *data = tu_path(dir, "bundle");
    char *sig = tu_path(dir, "bundle.minisig");
    char *pub = vec_path("plain.pub");
    char *sec = vec_path("minisign-W.key");
    char *mpub = vec_path("minisign-W.pub");
    char cmd[4096];
    tu_write_file(data, "bundle bytes\n", 13);
    /* cairn signs, minisign -V (and -H: prehashed required) accepts. */
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(cairn__minisig_create(f->signer, "bundle bytes\n", 13,
                                           "cairn bundle", "run:x\tseq:7",
                                           &text, &len),
                     CAIRN_OK);
    tu_write_file(sig, text, len);
    free(text);
    snprintf(cmd, sizeof cmd, "%s -V -H -q -p '%s' -m '%s'", MINISIGN, pub,
             data);
    assert_int_equal(run(cmd), 0);
    /* minisign refuses it once the data changed. */
    tu_write_file(data, "bundle bytez\n", 13);
    snprintf(cmd, sizeof cmd, "%s -V -q -p '%s' -m '%s' 2>/dev/null", MINISIGN,
             pub, data);
    assert_int_not_equal(run(cmd), 0);
    /* minisign signs (unencrypted -W key), cairn verifies. */
    snprintf(cmd, sizeof cmd,
             "%s -S -W -s '%s' -m '%s' -t 'from minisign' >/dev/null", MINISIGN,
             sec, data);
    assert_int_equal(run(cmd), 0);
    text = tu_read_file(sig, &len);
    cairn_pubkey *k = vec_pubkey("minisign-W.pub");
    char trusted[64];
    char detail[256] = "";
    assert_int_equal(cairn__minisig_verify(k, "bundle bytez\n", 13, text, len,
                                           trusted, sizeof trusted, detail,
                                           sizeof detail),
                     CAIRN_OK);
    assert_string_equal(trusted, "from minisign");
    assert_int_equal(cairn__minisig_verify(k, "bundle bytes\n", 13, text, len,
                                           trusted, sizeof trusted, detail,
                                           sizeof detail),
                     CAIRN_ETAMPERED);
    cairn_pubkey_free(k);
    free(text);
    free(mpub);
    free(sec);
    free(pub);
    free(sig);
    free(data);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_create_bytes),
        cmocka_unit_test(test_golden_verify),
        cmocka_unit_test(test_golden_minisign_made),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_malformed_algorithm),
        cmocka_unit_test(test_comment_limits),
        cmocka_unit_test(test_trusted_comment_printable),
        cmocka_unit_test(test_create_arguments),
        cmocka_unit_test(test_interop_minisign),
    };
    return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
