/*
 * test_verify_read.c - verify/verify.h's kept-cursor lookup (cairn__vread):
 * for any sequence of keys (ascending, with gaps, repeated, absent,
 * backwards, past the last key) it answers exactly as cairn__txn_get():
 * the same found flag and the same value bytes; and store errors and
 * empty databases are handled.  The verifier reads records, tree leaves
 * and index entries through it, so a wrong answer would turn into a wrong
 * verdict.
 */
#include "testutil.h"

#include "base/bytes.h"
#include "store/store.h"
#include "verify/verify.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>

/* Keys stored: even positions 2..2*N, values "v<pos>" of varying length. */
#define N 500u

static cairn_err fill(cairn_txn *txn, void *ctx)
{
    (void)ctx;
    for (uint64_t i = 1; i <= N; i++) {
        uint8_t key[8];
        char val[32];
        int n = snprintf(val, sizeof(val), "v%llu%.*s",
                         (unsigned long long)(2 * i), (int)(i % 7), "xxxxxxx");
        cairn__store64_be(key, 2 * i);
        cairn_err err =
            cairn__txn_put(txn, CAIRN_DBI_RECORDS, key, 8, val, (size_t)n, 0);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    return CAIRN_OK;
}

/* vread and txn_get agree on key @p pos. */
static void same(cairn__vread *r, cairn_txn *txn, uint64_t pos)
{
    uint8_t key[8];
    const uint8_t *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    int af = -1, bf = -1;
    cairn__store64_be(key, pos);
    assert_int_equal(cairn__vread_get(r, key, 8, &a, &al, &af), CAIRN_OK);
    assert_int_equal(
        cairn__txn_get(txn, CAIRN_DBI_RECORDS, key, 8, &b, &bl, &bf), CAIRN_OK);
    assert_int_equal(af, bf);
    if (af) {
        assert_int_equal(al, bl);
        assert_memory_equal(a, b, al);
    }
}

static cairn_store *open_filled(char **dir)
{
    cairn_store *s = NULL;
    char detail[256];
    *dir = tu_mkdtemp();
    assert_int_equal(
        cairn__store_open(*dir, 0, 1, 0600, 0, &s, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(cairn__store_write(s, fill, NULL), CAIRN_OK);
    return s;
}

static void test_same_answers(void **state)
{
    (void)state;
    char *dir;
    cairn_store *s = open_filled(&dir);
    cairn_txn *txn = NULL;
    assert_int_equal(cairn__store_read(s, &txn), CAIRN_OK);
    cairn__vread r;
    cairn__vread_init(&r, txn, CAIRN_DBI_RECORDS);
    /* every key, ascending: each after the first on the cursor's page */
    for (uint64_t p = 2; p <= 2 * N; p += 2) {
        same(&r, txn, p);
    }
    /* past the end, then back to the start, then every position (odd
     * ones are absent: the next key is there, but not the one asked
     * for) */
    same(&r, txn, 2 * N + 1);
    same(&r, txn, 2 * N + 2);
    same(&r, txn, 0);
    for (uint64_t p = 0; p <= 2 * N + 3; p++) {
        same(&r, txn, p);
    }
    /* repeated keys, backwards, and a pseudo-random walk */
    same(&r, txn, 10);
    same(&r, txn, 10);
    for (uint64_t p = 2 * N; p > 0; p--) {
        same(&r, txn, p);
    }
    uint64_t x = 12345;
    for (int i = 0; i < 2000; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        uint64_t p = (x >> 33) % (2 * N + 4);
        same(&r, txn, p);
        same(&r, txn, p + 1);
        same(&r, txn, p + 2);
    }
    /* a key of another length is never found */
    uint8_t key9[9] = {0, 0, 0, 0, 0, 0, 0, 0, 4};
    const uint8_t *v;
    size_t vl;
    int found = -1;
    assert_int_equal(cairn__vread_get(&r, key9, 9, &v, &vl, &found), CAIRN_OK);
    assert_int_equal(found, 0);
    cairn__vread_close(&r);
    cairn__vread_close(&r); /* twice is fine */
    cairn__txn_end(txn);
    cairn__store_close(s);
    tu_rmtree(dir); /* frees dir */
}

static void test_empty_database(void **state)
{
    (void)state;
    char *dir;
    cairn_store *s = open_filled(&dir);
    cairn_txn *txn = NULL;
    assert_int_equal(cairn__store_read(s, &txn), CAIRN_OK);
    cairn__vread r;
    cairn__vread_init(&r, txn, CAIRN_DBI_INDEX); /* nothing stored there */
    uint8_t key[8] = {0};
    const uint8_t *v;
    size_t vl;
    int found = -1;
    for (int i = 0; i < 3; i++) {
        key[7] = (uint8_t)i;
        assert_int_equal(cairn__vread_get(&r, key, 8, &v, &vl, &found),
                         CAIRN_OK);
        assert_int_equal(found, 0);
    }
    cairn__vread_close(&r);
    cairn__txn_end(txn);
    cairn__store_close(s);
    tu_rmtree(dir); /* frees dir */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_answers),
        cmocka_unit_test(test_empty_database),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
