/* test_key_unlock.c - what `cairn unlock` needs from the library: the key
 * file tag, exporting a decrypted signer's secret and rebuilding a signer
 * from it (no scrypt), which signs exactly as the original. */
#include "keyutil.h"

static void test_unlock_roundtrip(void **state)
{
    (void)state;
    char *path = vec_path("enc.key");
    cairn_signer *orig = NULL, *again = NULL;
    uint8_t secret[CAIRN_SIGNER_SECRET_BYTES];
    uint8_t id1[CAIRN_KEY_ID_BYTES], id2[CAIRN_KEY_ID_BYTES];
    uint8_t pk1[CAIRN_PUBLIC_KEY_BYTES], pk2[CAIRN_PUBLIC_KEY_BYTES];
    uint8_t sig1[CAIRN_SIGNATURE_BYTES], sig2[CAIRN_SIGNATURE_BYTES];
    char detail[256] = "";

    /* The vector is scrypt-encrypted: this load runs scrypt. */
    assert_int_equal(
        cairn_signer_load(path, NULL, &orig, detail, sizeof detail),
        CAIRN_EPASSWORD);
    assert_int_equal(
        cairn_signer_load(path, VEC_PASSWORD, &orig, detail, sizeof detail),
        CAIRN_OK);
    assert_int_equal(cairn_signer_export_secret(orig, secret), CAIRN_OK);
    assert_int_equal(cairn_signer_import_secret(secret, &again), CAIRN_OK);
    cairn_signer_key_id(orig, id1);
    cairn_signer_key_id(again, id2);
    assert_memory_equal(id1, id2, sizeof id1);
    cairn_signer_public_key(orig, pk1);
    cairn_signer_public_key(again, pk2);
    assert_memory_equal(pk1, pk2, sizeof pk1);
    assert_int_equal(cairn__signer_sign(orig, "msg", 3, sig1), CAIRN_OK);
    assert_int_equal(cairn__signer_sign(again, "msg", 3, sig2), CAIRN_OK);
    assert_memory_equal(sig1, sig2, sizeof sig1);

    /* A secret whose public half does not match its seed is refused. */
    secret[CAIRN_KEY_ID_BYTES + 40] ^= 1;
    cairn_signer *bad = (cairn_signer *)(uintptr_t)1;
    assert_int_equal(cairn_signer_import_secret(secret, &bad), CAIRN_EKEY);
    assert_null(bad);
    cairn__memzero(secret, sizeof secret);

    assert_int_equal(cairn_signer_export_secret(NULL, secret), CAIRN_EINVAL);
    assert_int_equal(cairn_signer_import_secret(NULL, &bad), CAIRN_EINVAL);
    cairn_signer_free(orig);
    cairn_signer_free(again);
    free(path);
}

static void test_unlock_tag(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *a = tu_path(dir, "a.key"), *b = tu_path(dir, "b.key");
    uint8_t t1[CAIRN_KEY_TAG_BYTES], t2[CAIRN_KEY_TAG_BYTES];
    uint8_t zero[CAIRN_KEY_TAG_BYTES] = {0};
    char detail[256] = "";
    size_t len = 0;
    char *text = vec_read("enc.key", &len);

    tu_write_file(a, text, len);
    tu_write_file(b, text, len);
    assert_int_equal(cairn_secret_key_tag(a, t1, detail, sizeof detail),
                     CAIRN_OK);
    assert_int_equal(cairn_secret_key_tag(b, t2, detail, sizeof detail),
                     CAIRN_OK);
    assert_memory_equal(t1, t2, sizeof t1); /* same bytes, same tag */
    assert_memory_not_equal(t1, zero, sizeof t1);
    text[len - 2] = text[len - 2] == 'A' ? 'B' : 'A'; /* another file */
    tu_write_file(b, text, len);
    assert_int_equal(cairn_secret_key_tag(b, t2, detail, sizeof detail),
                     CAIRN_OK);
    assert_memory_not_equal(t1, t2, sizeof t1);

    char *missing = tu_path(dir, "missing");
    assert_int_equal(cairn_secret_key_tag(missing, t2, detail, sizeof detail),
                     CAIRN_EIO);
    assert_non_null(strstr(detail, "missing"));
    assert_memory_equal(t2, zero, sizeof t2);
    assert_int_equal(cairn_secret_key_tag(dir, t2, detail, sizeof detail),
                     CAIRN_EIO);
    assert_int_equal(cairn_secret_key_tag(NULL, t2, detail, sizeof detail),
                     CAIRN_EINVAL);
    free(text);
    free(missing);
    free(a);
    free(b);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unlock_roundtrip),
        cmocka_unit_test(test_unlock_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
