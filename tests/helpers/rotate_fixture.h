/*
 * rotate_fixture.h - a journal whose key rotates (docs/FORMAT.md section
 * 24), shared by tests/test_rotate.c and tests/test_rotate_bundle.c: three
 * key pairs k0, k1, k2 in a temporary directory, writers, and build(): k0
 * signs r1 (op 0 completed) and r2 (created), the journal rotates to k1,
 * r2 goes on and r3 is created under k1.
 */
#ifndef CAIRN_TEST_ROTATE_FIXTURE_H
#define CAIRN_TEST_ROTATE_FIXTURE_H

#include "helpers/verify_fixture.h"

typedef struct rot_fix {
    char *root, *dir;
    char *pub[3], *sec[3];
    cairn_signer *s[3];
    cairn_pubkey *pk[3];
} rot_fix;

static inline rot_fix *fix_new(void)
{
    rot_fix *f = calloc(1, sizeof(*f));
    char detail[256];
    assert_non_null(f);
    f->root = tu_mkdtemp();
    f->dir = tu_path(f->root, "j");
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "k%d.pub", i);
        f->pub[i] = tu_path(f->root, name);
        snprintf(name, sizeof(name), "k%d.sec", i);
        f->sec[i] = tu_path(f->root, name);
        vf_keygen(f->pub[i], f->sec[i]);
        f->s[i] = vf_signer_load(f->sec[i]);
        assert_int_equal(
            cairn_pubkey_load(f->pub[i], &f->pk[i], detail, sizeof(detail)),
            CAIRN_OK);
    }
    return f;
}

static inline void fix_free(rot_fix *f)
{
    for (int i = 0; i < 3; i++) {
        cairn_signer_free(f->s[i]);
        cairn_pubkey_free(f->pk[i]);
        free(f->pub[i]);
        free(f->sec[i]);
    }
    tu_rmtree(f->root);
    free(f->dir);
    free(f);
}

static inline uint64_t records_of(const char *dir)
{
    cairn_journal_info info;
    cairn_journal *j = vf_open(dir, CAIRN_OPEN_READONLY, NULL);
    assert_int_equal(cairn_journal_info_get(j, &info), CAIRN_OK);
    cairn_journal_close(j);
    return info.records;
}

/* k0 signs r1 (completed op 0) and r2 (created); rotation to k1; r2 goes
 * on and r3 is created under k1. */
static inline uint64_t build(rot_fix *f)
{
    cairn_journal *j = vf_open(f->dir, CAIRN_OPEN_CREATE, f->s[0]);
    vf_create(j, "r1");
    vf_claim(j, "r1", 0);
    vf_receipt(j, "r1", 0, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    vf_create(j, "r2");
    cairn_actor_info who = {"ops", "yearly rotation"};
    uint64_t pos = 0;
    /* Another writer open: refused, nothing written. */
    cairn_journal *other = vf_open(f->dir, CAIRN_OPEN_CREATE, f->s[0]);
    uint64_t before = records_of(f->dir);
    assert_int_equal(cairn_rotate_key(j, f->s[1], &who, &pos), CAIRN_ELOCKED);
    assert_non_null(strstr(cairn_journal_errdetail(j), "to itself"));
    assert_int_equal(records_of(f->dir), before);
    cairn_journal_close(other);
    /* The same key: refused. */
    assert_int_equal(cairn_rotate_key(j, f->s[0], &who, &pos), CAIRN_EINVAL);
    assert_int_equal(cairn_rotate_key(j, f->s[1], &who, &pos), CAIRN_OK);
    assert_int_equal(pos, before + 1);
    /* The handle signs with k1 now. */
    vf_claim(j, "r2", 0);
    vf_create(j, "r3");
    cairn_journal_close(j);
    return pos;
}

#endif
