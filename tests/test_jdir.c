/*
 * test_jdir.c - the journal directory as a local attacker may leave it
 * (lib/base/jdir.c, lib/base/lock.c, journal open; issue 12): modes of a new
 * journal, loose modes reported (cairn_journal_warnings) or refused
 * (CAIRN_OPEN_STRICT), a loose secret key (cairn_key_file_loose),
 * symbolic links refused with CAIRN_EUNSAFE, a journal without its
 * identity refused, a lock file removed while held, and text from a lock
 * file escaped.
 */
#include "testutil.h"

#include "base/jdir.h"
#include "journal/journal.h"
#include "base/sys.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cairn_err open_dir(const char *dir, unsigned flags, cairn_journal **j,
                          char *detail, size_t len)
{
    detail[0] = '\0';
    return cairn_journal_open(dir, flags, j, detail, len);
}

static unsigned mode_of(const char *dir, const char *name)
{
    struct stat st;
    char *p = tu_path(dir, name);
    assert_int_equal(stat(p, &st), 0);
    free(p);
    return (unsigned)(st.st_mode & 07777);
}

static void test_modes_and_warnings(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    char *grp = tu_path(root, "g"), detail[1024];
    cairn_journal *j = NULL;
    assert_int_equal(open_dir(dir, CAIRN_OPEN_CREATE, &j, detail, 1024),
                     CAIRN_OK);
    assert_int_equal(cairn_journal_warnings(j, detail, sizeof(detail)), 0);
    cairn_journal_close(j);
    assert_int_equal(mode_of(root, "j"), 0700);
    assert_int_equal(mode_of(dir, "data.mdb"), 0600);
    assert_int_equal(mode_of(dir, "lock.mdb"), 0600);
    assert_int_equal(mode_of(dir, "commit.shm"), 0600);

    assert_int_equal(open_dir(grp,
                              CAIRN_OPEN_CREATE | CAIRN_OPEN_GROUP_READABLE, &j,
                              detail, 1024),
                     CAIRN_OK);
    cairn_journal_close(j);
    assert_int_equal(mode_of(root, "g"), 0750);
    assert_int_equal(mode_of(grp, "data.mdb"), 0640);

    /* A world-writable directory: reported, or refused when strict. */
    assert_int_equal(chmod(dir, 0777), 0);
    assert_int_equal(open_dir(dir, CAIRN_OPEN_READONLY, &j, detail, 1024),
                     CAIRN_OK);
    assert_int_equal(cairn_journal_warnings(j, detail, sizeof(detail)),
                     CAIRN_LOOSE_DIR);
    assert_non_null(strstr(detail, "writable by others (mode 0777)"));
    cairn_journal_close(j);
    assert_int_equal(open_dir(dir, CAIRN_OPEN_STRICT, &j, detail, 1024),
                     CAIRN_EUNSAFE);
    assert_null(j);
    assert_int_equal(chmod(dir, 0700), 0);
    char *data = tu_path(dir, "data.mdb");
    assert_int_equal(chmod(data, 0660), 0);
    assert_int_equal(open_dir(dir, 0, &j, detail, 1024), CAIRN_OK);
    assert_int_equal(cairn_journal_warnings(j, NULL, 0), CAIRN_LOOSE_FILE);
    cairn_journal_close(j);
    assert_int_equal(open_dir(dir, CAIRN_OPEN_READONLY | CAIRN_OPEN_STRICT, &j,
                              detail, 1024),
                     CAIRN_EUNSAFE);
    assert_non_null(strstr(detail, "data.mdb is writable by its group"));
    assert_int_equal(chmod(data, 0600), 0);

    /* A secret key others can read. */
    char *key = tu_path(root, "k.sec");
    unsigned loose = 9;
    tu_write_file(key, "x", 1);
    assert_int_equal(chmod(key, 0600), 0);
    assert_int_equal(cairn_key_file_loose(key, &loose, detail, 1024), CAIRN_OK);
    assert_int_equal(loose, 0);
    assert_int_equal(chmod(key, 0644), 0);
    assert_int_equal(cairn_key_file_loose(key, &loose, detail, 1024), CAIRN_OK);
    assert_int_equal(loose, CAIRN_LOOSE_KEY);
    assert_non_null(strstr(detail, "mode 0644"));
    free(key);
    free(data);
    free(grp);
    free(dir);
    tu_rmtree(root);
}

static void test_symlinks_refused(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j"), detail[1024];
    char *victim = tu_path(root, "victim"), *lock = tu_path(dir, "lock.mdb");
    cairn_journal *j = NULL;
    assert_int_equal(open_dir(dir, CAIRN_OPEN_CREATE, &j, detail, 1024),
                     CAIRN_OK);
    cairn_journal_close(j);
    tu_write_file(victim, "victim", 6);
    assert_int_equal(unlink(lock), 0);
    assert_int_equal(symlink(victim, lock), 0);
    assert_int_equal(open_dir(dir, CAIRN_OPEN_READONLY, &j, detail, 1024),
                     CAIRN_EUNSAFE);
    assert_non_null(strstr(detail, "lock.mdb: is a symbolic link"));
    assert_int_equal(open_dir(dir, 0, &j, detail, 1024), CAIRN_EUNSAFE);
    struct stat st;
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_size, 6); /* untouched */
    assert_int_equal(unlink(lock), 0);
    assert_int_equal(open_dir(dir, 0, &j, detail, 1024), CAIRN_OK);
    cairn_journal_close(j);
    free(lock);
    free(victim);
    free(dir);
    tu_rmtree(root);
}

/* A lock file removed while held: the second taker is still refused;
 * a lock file replaced between open and flock is locked again. */
static void test_lock_survives_rm(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j"), detail[1024];
    cairn_journal *a = NULL, *b = NULL;
    assert_int_equal(open_dir(dir, CAIRN_OPEN_CREATE, &a, detail, 1024),
                     CAIRN_OK);
    assert_int_equal(open_dir(dir, 0, &b, detail, 1024), CAIRN_OK);
    int fa = -1, fb = -1;
    assert_int_equal(cairn__run_lock(a->dfd, a->dir, &a->data_st, a->data_fd, 7,
                                     &fa, detail, sizeof(detail)),
                     CAIRN_OK);
    char *path = tu_path(dir, "locks/run-7.lock");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(cairn__run_lock(b->dfd, b->dir, &b->data_st, b->data_fd, 7,
                                     &fb, detail, sizeof(detail)),
                     CAIRN_ELOCKED);
    cairn__run_unlock(a->data_fd, 7, fa);
    assert_int_equal(cairn__run_lock(b->dfd, b->dir, &b->data_st, b->data_fd, 7,
                                     &fb, detail, sizeof(detail)),
                     CAIRN_OK);
    cairn__run_unlock(b->data_fd, 7, fb);
    free(path);
    cairn_journal_close(a);
    cairn_journal_close(b);
    free(dir);
    tu_rmtree(root);
}

static void test_holder_text_escaped(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j"), detail[1024];
    cairn_journal *a = NULL, *b = NULL;
    assert_int_equal(open_dir(dir, CAIRN_OPEN_CREATE, &a, detail, 1024),
                     CAIRN_OK);
    assert_int_equal(open_dir(dir, 0, &b, detail, 1024), CAIRN_OK);
    int fa = -1, fb = -1;
    assert_int_equal(cairn__run_lock(a->dfd, a->dir, &a->data_st, a->data_fd, 3,
                                     &fa, detail, sizeof(detail)),
                     CAIRN_OK);
    static const char planted[] = "host=\033[31mred\\\x9b\n";
    assert_int_equal(ftruncate(fa, 0), 0);
    assert_int_equal(pwrite(fa, planted, sizeof(planted) - 1, 0),
                     (ssize_t)sizeof(planted) - 1);
    assert_int_equal(cairn__run_lock(b->dfd, b->dir, &b->data_st, b->data_fd, 3,
                                     &fb, detail, sizeof(detail)),
                     CAIRN_ELOCKED);
    assert_string_equal(detail, "held by host=\\x1b[31mred\\\\\\x9b");
    cairn__run_unlock(a->data_fd, 3, fa);
    cairn_journal_close(a);
    cairn_journal_close(b);
    free(dir);
    tu_rmtree(root);
}

int main(void)
{
    umask(022); /* the modes asserted are the ones asked for */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes_and_warnings),
        cmocka_unit_test(test_symlinks_refused),
        cmocka_unit_test(test_lock_survives_rm),
        cmocka_unit_test(test_holder_text_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
