/* test_outputs.c - the $CAIRN_OUTPUT "key=value" parser. */
#include "testutil.h"

#include "format/outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cairn_err parse(const char *s, size_t len, cairn_kvlist *out,
                       char *detail)
{
    return cairn__outputs_parse(s, len, out, detail, 256);
}

static cairn_err parse_str(const char *s, cairn_kvlist *out, char *detail)
{
    return parse(s, strlen(s), out, detail);
}

/* Expects CAIRN_EINVAL with exactly @p want as detail and an empty list. */
static void expect_invalid(const char *s, size_t len, const char *want)
{
    cairn_kvlist l = {(cairn_kv *)1, 99};
    char detail[256] = "junk";
    assert_int_equal(parse(s, len, &l, detail), CAIRN_EINVAL);
    assert_string_equal(detail, want);
    assert_null(l.v);
    assert_int_equal(l.n, 0);
    cairn__kvlist_free(&l);
}

static void test_basic(void **state)
{
    (void)state;
    cairn_kvlist l;
    char detail[256];
    assert_int_equal(
        parse_str("artifact=/backup/db.tar\ndigest=abc\n", &l, detail),
        CAIRN_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].key, "artifact");
    assert_string_equal(l.v[0].value, "/backup/db.tar");
    assert_string_equal(l.v[1].key, "digest");
    assert_string_equal(l.v[1].value, "abc");
    assert_string_equal(detail, "");
    cairn__kvlist_free(&l);
    assert_null(l.v);
    assert_int_equal(l.n, 0);
    cairn__kvlist_free(&l); /* idempotent */
    cairn__kvlist_free(NULL);
}

static void test_empty_and_blank_lines(void **state)
{
    (void)state;
    cairn_kvlist l;
    char detail[256];
    assert_int_equal(parse("", 0, &l, detail), CAIRN_OK);
    assert_int_equal(l.n, 0);
    assert_null(l.v);
    assert_int_equal(parse(NULL, 0, &l, detail), CAIRN_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(parse_str("\n\n\na=1\n\n\nb=2", &l, detail), CAIRN_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].key, "a");
    assert_string_equal(l.v[1].key, "b");
    assert_string_equal(l.v[1].value, "2"); /* last line without '\n' */
    cairn__kvlist_free(&l);
}

static void test_value_edge_cases(void **state)
{
    (void)state;
    cairn_kvlist l;
    char detail[256];
    /* empty value, '=' inside the value, spaces and CR kept verbatim */
    assert_int_equal(
        parse_str("e=\nx=a=b==c\ns= two words \ncr=v\r\n", &l, detail),
        CAIRN_OK);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.v[0].value, "");
    assert_string_equal(l.v[1].value, "a=b==c");
    assert_string_equal(l.v[2].value, " two words ");
    assert_string_equal(l.v[3].value, "v\r");
    cairn__kvlist_free(&l);
    /* every key character class */
    assert_int_equal(parse_str("AZaz09_.-=1\n", &l, detail), CAIRN_OK);
    assert_string_equal(l.v[0].key, "AZaz09_.-");
    cairn__kvlist_free(&l);
}

static void test_missing_equals(void **state)
{
    (void)state;
    const char *s = "a=1\nb=2\njunk\n";
    expect_invalid(s, strlen(s), "line 3: missing '='");
    expect_invalid(" ", 1, "line 1: missing '='");
    s = "a=1\n\nno equals at end";
    expect_invalid(s, strlen(s), "line 3: missing '='");
}

static void test_bad_key(void **state)
{
    (void)state;
    const char *s = "x=1\na b=2\n";
    expect_invalid(s, strlen(s), "line 2: bad key \"a b\"");
    expect_invalid("=v\n", 3, "line 1: bad key \"\"");
    expect_invalid("a/b=v", 5, "line 1: bad key \"a/b\"");
    expect_invalid("k\"\\\x01\xff=v", 7,
                   "line 1: bad key \"k\\x22\\x5c\\x01\\xff\"");
    /* long bad keys are cut in the message */
    char k[200];
    memset(k, 'a', 100);
    memcpy(k + 100, " =v", 4);
    char want[128];
    snprintf(want, sizeof want, "line 1: bad key \"%.40s...\"", k);
    expect_invalid(k, strlen(k), want);
}

static void test_key_length(void **state)
{
    (void)state;
    char buf[CAIRN_MAX_KV_KEY + 8];
    memset(buf, 'k', CAIRN_MAX_KV_KEY);
    memcpy(buf + CAIRN_MAX_KV_KEY, "=v", 3);
    cairn_kvlist l;
    char detail[256];
    assert_int_equal(parse_str(buf, &l, detail), CAIRN_OK);
    assert_int_equal(strlen(l.v[0].key), CAIRN_MAX_KV_KEY);
    cairn__kvlist_free(&l);
    memset(buf, 'k', CAIRN_MAX_KV_KEY + 1);
    memcpy(buf + CAIRN_MAX_KV_KEY + 1, "=v", 3);
    expect_invalid(buf, strlen(buf), "line 1: key longer than 128 bytes");
}

static void test_value_length(void **state)
{
    (void)state;
    size_t n = 2 + CAIRN_MAX_KV_VALUE + 1;
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    memcpy(buf, "v=", 2);
    memset(buf + 2, 'x', CAIRN_MAX_KV_VALUE);
    buf[2 + CAIRN_MAX_KV_VALUE] = '\n';
    cairn_kvlist l;
    char detail[256];
    assert_int_equal(parse(buf, n, &l, detail), CAIRN_OK);
    assert_int_equal(strlen(l.v[0].value), CAIRN_MAX_KV_VALUE);
    cairn__kvlist_free(&l);
    /* one more byte, on the first line and without a newline */
    buf[2 + CAIRN_MAX_KV_VALUE] = 'x';
    expect_invalid(buf, n, "line 1: value longer than 65536 bytes");
    free(buf);
}

static void test_nul_byte(void **state)
{
    (void)state;
    static const char s[] = "a=1\n\n\n\n\n\n\n\nb=x\0y\nc=3\n";
    expect_invalid(s, sizeof s - 1, "line 9: NUL byte");
    expect_invalid("\0", 1, "line 1: NUL byte");
    /* a NUL before the '=' is reported as a NUL, not a bad key */
    expect_invalid("a\0=b", 4, "line 1: NUL byte");
}

static void test_duplicate(void **state)
{
    (void)state;
    const char *s = "artifact=a\ndigest=d\n\nartifact=b\n";
    expect_invalid(s, strlen(s), "line 4: duplicate key \"artifact\"");
    /* keys are case-sensitive and prefixes are distinct */
    cairn_kvlist l;
    char detail[256];
    assert_int_equal(parse_str("a=1\nA=2\nab=3\n", &l, detail), CAIRN_OK);
    assert_int_equal(l.n, 3);
    cairn__kvlist_free(&l);
}

static char *many_pairs(size_t count, size_t *len)
{
    char *buf = malloc(count * 16 + 1);
    assert_non_null(buf);
    size_t o = 0;
    for (size_t i = 0; i < count; i++) {
        o += (size_t)sprintf(buf + o, "k%zu=%zu\n", i, i);
    }
    *len = o;
    return buf;
}

static void test_pair_limit(void **state)
{
    (void)state;
    size_t len;
    char *buf = many_pairs(CAIRN_MAX_KV, &len);
    cairn_kvlist l;
    char detail[256];
    assert_int_equal(parse(buf, len, &l, detail), CAIRN_OK);
    assert_int_equal(l.n, CAIRN_MAX_KV);
    assert_string_equal(l.v[255].key, "k255");
    assert_string_equal(l.v[255].value, "255");
    cairn__kvlist_free(&l);
    free(buf);
    buf = many_pairs(CAIRN_MAX_KV + 1, &len);
    expect_invalid(buf, len, "more than 256 pairs");
    free(buf);
}

static void test_bad_args(void **state)
{
    (void)state;
    char detail[256];
    assert_int_equal(cairn__outputs_parse("a=1", 3, NULL, detail, 256),
                     CAIRN_EINVAL);
    assert_string_equal(detail, "out is NULL");
    cairn_kvlist l;
    assert_int_equal(cairn__outputs_parse(NULL, 3, &l, detail, 256),
                     CAIRN_EINVAL);
    assert_string_equal(detail, "buf is NULL");
    /* a NULL detail buffer is fine */
    assert_int_equal(cairn__outputs_parse("x", 1, &l, NULL, 0), CAIRN_EINVAL);
    assert_int_equal(l.n, 0);
    /* only len bytes are read: the bad tail is outside */
    assert_int_equal(parse("a=1\nbad", 4, &l, detail), CAIRN_OK);
    assert_int_equal(l.n, 1);
    cairn__kvlist_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_empty_and_blank_lines),
        cmocka_unit_test(test_value_edge_cases),
        cmocka_unit_test(test_missing_equals),
        cmocka_unit_test(test_bad_key),
        cmocka_unit_test(test_key_length),
        cmocka_unit_test(test_value_length),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_pair_limit),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
