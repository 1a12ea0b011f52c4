/*
 * test_check_pages.c - cairn_journal_check_pages(): the walk of data.mdb
 * that names a damaged page without LMDB.  An intact journal passes; each
 * page zeroed in turn is either not in any tree (passes) or is named with
 * its offset; damaged meta pages, a truncated file, a missing journal and
 * bad arguments give their documented errors; the in-memory walk of the
 * fuzz target agrees with the one on the file.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"
#include "store/store.h"

static vf_sample *sample;

static int group_setup(void **state)
{
    (void)state;
    sample = vf_sample_new(NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    vf_sample_free(sample);
    return 0;
}

static uint32_t page_size(const uint8_t *data)
{
    uint32_t p;
    memcpy(&p, data + 40, sizeof(p));
    return p;
}

/* The walk of @p data written as DIR/data.mdb, on the file and in
 * memory: both give the same result. */
static cairn_err check(const char *dir, const uint8_t *data, size_t len,
                       char *detail, size_t cap)
{
    char *path = tu_path(dir, "data.mdb");
    char mem_detail[512];
    tu_write_file(path, data, len);
    free(path);
    cairn_err err = cairn_journal_check_pages(dir, detail, cap);
    assert_int_equal(
        cairn__store_check_pages_mem(data, len, mem_detail, sizeof(mem_detail)),
        err);
    assert_string_equal(mem_detail, detail);
    return err;
}

static void intact_passes(void **state)
{
    (void)state;
    char detail[512] = "x";
    assert_int_equal(
        cairn_journal_check_pages(sample->dir, detail, sizeof(detail)),
        CAIRN_OK);
    assert_string_equal(detail, "");
    assert_int_equal(cairn_journal_check_pages(sample->dir, NULL, 0), CAIRN_OK);
}

static void each_zeroed_page_is_named(void **state)
{
    (void)state;
    size_t len = 0;
    char *path = tu_path(sample->dir, "data.mdb");
    uint8_t *orig = (uint8_t *)tu_read_file(path, &len);
    free(path);
    uint32_t psize = page_size(orig);
    size_t pages = len / psize;
    char *tmp = tu_mkdtemp();
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    int named = 0;
    assert_true(pages > 4);
    for (size_t pg = 2; pg < pages; pg++) {
        char detail[512], want[96];
        memcpy(copy, orig, len);
        memset(copy + pg * psize, 0, psize);
        cairn_err err = check(tmp, copy, len, detail, sizeof(detail));
        if (err == CAIRN_OK) {
            assert_string_equal(detail, "");
            continue;
        }
        assert_int_equal(err, CAIRN_ECORRUPT);
        snprintf(want, sizeof(want), "data.mdb: page %zu (offset %zu) ", pg,
                 pg * psize);
        if (strncmp(detail, want, strlen(want)) != 0 ||
            strstr(detail, "zeroed or overwritten") == NULL) {
            print_error("page %zu: %s\n", pg, detail);
            fail();
        }
        named++;
    }
    /* Every database of the sample has at least its root page. */
    assert_true(named >= 7);
    free(copy);
    free(orig);
    tu_rmtree(tmp);
}

static void damaged_meta_and_truncated(void **state)
{
    (void)state;
    size_t len = 0;
    char *path = tu_path(sample->dir, "data.mdb");
    uint8_t *orig = (uint8_t *)tu_read_file(path, &len);
    free(path);
    uint32_t psize = page_size(orig);
    char *tmp = tu_mkdtemp();
    uint8_t *copy = malloc(len);
    char detail[512];
    assert_non_null(copy);

    memcpy(copy, orig, len);
    memset(copy, 0, 152);
    assert_int_equal(check(tmp, copy, len, detail, sizeof(detail)),
                     CAIRN_ECORRUPT);
    assert_non_null(strstr(detail, "data.mdb: meta page 0 is not"));

    memcpy(copy, orig, len);
    memset(copy + psize, 0, psize);
    assert_int_equal(check(tmp, copy, len, detail, sizeof(detail)),
                     CAIRN_ECORRUPT);
    assert_non_null(strstr(detail, "its meta pages (0 and 1)"));

    assert_int_equal(check(tmp, orig, psize, detail, sizeof(detail)),
                     CAIRN_ECORRUPT);
    assert_non_null(strstr(detail, "page 1 (offset"));
    assert_non_null(strstr(detail, "past the end of the file"));

    assert_int_equal(
        check(tmp, orig, 3 * (size_t)psize, detail, sizeof(detail)),
        CAIRN_ECORRUPT);
    assert_non_null(strstr(detail, "past the end of the file"));

    assert_int_equal(check(tmp, orig, 0, detail, sizeof(detail)),
                     CAIRN_ECORRUPT);
    free(copy);
    free(orig);
    tu_rmtree(tmp);
}

static void no_journal(void **state)
{
    (void)state;
    char detail[512];
    char *tmp = tu_mkdtemp();
    assert_int_equal(cairn_journal_check_pages(tmp, detail, sizeof(detail)),
                     CAIRN_EIO);
    assert_non_null(strstr(detail, "data.mdb"));
    assert_int_equal(cairn_journal_check_pages(NULL, detail, sizeof(detail)),
                     CAIRN_EINVAL);
    tu_rmtree(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(intact_passes),
        cmocka_unit_test(each_zeroed_page_is_named),
        cmocka_unit_test(damaged_meta_and_truncated),
        cmocka_unit_test(no_journal),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
