/*
 * test_rotate_bundle.c - bundles of a journal that rotated its key
 * (docs/FORMAT.md section 26, bundle version 3): a run created under a
 * retired key exports with the key in force, the bundle carries every
 * ROTATE record with its inclusion proof, and verifies when any key of the
 * chain is pinned (a key outside it is a key mismatch, INCOMPLETE).  Each
 * forgery of the carried history - a rotation edited, dropped or
 * reordered, a rotation signed by the wrong key, a proof changed, the head
 * signed by a retired key - is TAMPERED with the field named.
 */
#include "testutil.h"

#include "helpers/rotate_fixture.h"

#include "format/note.h"
#include "verify/verify.h"

/* build(), then k1 rotates to k2 and r2's op 0 completes under k2. */
static void build2(rot_fix *f, uint64_t pos[2])
{
    cairn_actor_info who = {"ops", NULL};
    pos[0] = build(f);
    cairn_journal *j = vf_open(f->dir, CAIRN_OPEN_CREATE, f->s[1]);
    assert_int_equal(cairn_rotate_key(j, f->s[2], &who, &pos[1]), CAIRN_OK);
    vf_receipt(j, "r2", 0, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    cairn_journal_close(j);
}

static cairn_err export_run(rot_fix *f, const char *run, int key,
                            const char *name, cairn_export_result *res)
{
    char *path = tu_path(f->root, name);
    cairn_journal *j = NULL;
    char detail[512];
    assert_int_equal(cairn_journal_open(f->dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    cairn_export_opts opts = {0, NULL, NULL, 0};
    cairn_err err =
        cairn_export_bundle_opts(j, run, f->s[key], path, &opts, res);
    cairn_journal_close(j);
    free(path);
    return err;
}

static cairn_verify_report verify_file(rot_fix *f, const char *name,
                                       const cairn_pubkey *pinned,
                                       cairn_bundle_info *info)
{
    char *path = tu_path(f->root, name);
    cairn_verify_report rep;
    char detail[512];
    cairn_bundle_verify_opts opts = {pinned, 0, NULL, NULL, 0};
    assert_int_equal(cairn_verify_bundle_opts(path, &opts, &rep, info, detail,
                                              sizeof(detail)),
                     CAIRN_OK);
    free(path);
    return rep;
}

static void test_export_and_pins(void **state)
{
    (void)state;
    rot_fix *f = fix_new();
    uint64_t pos[2];
    cairn_export_result res;
    cairn_bundle_info info;
    char detail[256];
    build2(f, pos);
    /* The retired keys export nothing. */
    assert_int_equal(export_run(f, "r1", 0, "r1-k0.cairn", &res),
                     CAIRN_EKEYMISMATCH);
    assert_int_equal(export_run(f, "r1", 1, "r1-k1.cairn", &res),
                     CAIRN_EKEYMISMATCH);
    char *p = tu_path(f->root, "r1-k1.cairn");
    assert_int_equal(access(p, F_OK), -1);
    free(p);
    /* r1 under k0 only, r2 across both rotations, r3 under k1. */
    const char *runs[] = {"r1", "r2", "r3"};
    char other_pub[4096], other_sec[4096];
    snprintf(other_pub, sizeof(other_pub), "%s/other.pub", f->root);
    snprintf(other_sec, sizeof(other_sec), "%s/other.sec", f->root);
    vf_keygen(other_pub, other_sec);
    cairn_pubkey *other = NULL;
    assert_int_equal(
        cairn_pubkey_load(other_pub, &other, detail, sizeof(detail)), CAIRN_OK);
    for (size_t r = 0; r < 3; r++) {
        char name[32];
        snprintf(name, sizeof(name), "%s.cairn", runs[r]);
        assert_int_equal(export_run(f, runs[r], 2, name, &res), CAIRN_OK);
        assert_int_equal(res.version, 3);
        for (int k = 0; k < 3; k++) {
            cairn_verify_report rep = verify_file(f, name, f->pk[k], &info);
            assert_int_equal(rep.verdict, CAIRN_VERDICT_VERIFIED);
            assert_int_equal(info.version, 3);
            assert_int_equal(info.rotations, 2);
            assert_true(info.state_proven);
        }
        cairn_verify_report rep = verify_file(f, name, other, &info);
        assert_int_equal(rep.verdict, CAIRN_VERDICT_INCOMPLETE);
        assert_true(rep.key_mismatch);
        rep = verify_file(f, name, NULL, &info);
        assert_int_equal(rep.verdict, CAIRN_VERDICT_INCOMPLETE);
    }
    cairn_pubkey_free(other);
    fix_free(f);
}

/* A journal that never rotated keeps writing version 2. */
static void test_no_rotation_v2(void **state)
{
    (void)state;
    rot_fix *f = fix_new();
    cairn_export_result res;
    cairn_journal *j = vf_open(f->dir, CAIRN_OPEN_CREATE, f->s[0]);
    vf_create(j, "r1");
    cairn_journal_close(j);
    assert_int_equal(export_run(f, "r1", 0, "r1.cairn", &res), CAIRN_OK);
    assert_int_equal(res.version, 2);
    fix_free(f);
}

/* ---- forgeries of the carried history ------------------------------------
 */

typedef struct bundle_buf {
    uint8_t *b;
    size_t n;
    size_t block;  /* offset of the key history block (its count) */
    size_t e[2];   /* offsets of the two entries */
    size_t end[2]; /* the byte after each entry */
} bundle_buf;

static uint8_t *rotation_bytes(const char *dir, uint64_t seq, size_t *len)
{
    vf_raw raw;
    uint8_t key[8];
    vf_raw_open(&raw, dir);
    vf_key8(key, vf_pos(&raw, 0, seq));
    uint8_t *v = vf_get(&raw, VR_RECORDS, key, sizeof(key), len);
    vf_raw_close(&raw);
    assert_non_null(v);
    return v;
}

static void load_bundle(rot_fix *f, const char *name, bundle_buf *bb)
{
    char *path = tu_path(f->root, name);
    bb->b = (uint8_t *)tu_read_file(path, &bb->n);
    free(path);
    for (uint64_t i = 0; i < 2; i++) {
        size_t len;
        uint8_t *rec = rotation_bytes(f->dir, i, &len);
        uint8_t *at = memmem(bb->b, bb->n, rec, len);
        assert_non_null(at);
        size_t off = (size_t)(at - bb->b);
        bb->e[i] = off - 10;
        size_t count = bb->b[off + len];
        bb->end[i] = off + len + 1 + 32 * count;
        free(rec);
    }
    bb->block = bb->e[0] - 2;
    assert_int_equal(bb->b[bb->block + 1], 2);
    assert_int_equal(bb->end[0], bb->e[1]);
    assert_int_equal(bb->end[1], bb->n);
}

static cairn_verify_report verify_mem(const uint8_t *b, size_t n,
                                      const cairn_pubkey *pinned)
{
    cairn_verify_report rep;
    char detail[512];
    cairn_err err =
        cairn__verify_bundle_mem(b, n, pinned, &rep, detail, sizeof(detail));
    /* a malformed bundle is CAIRN_EBUNDLE, verdict TAMPERED, field bundle */
    assert_int_equal(err, strcmp(rep.bad_field, "bundle") == 0 ? CAIRN_EBUNDLE
                                                               : CAIRN_OK);
    return rep;
}

static void expect_tampered(rot_fix *f, const uint8_t *b, size_t n,
                            const char *field, const char *says)
{
    for (int k = 0; k < 3; k++) {
        cairn_verify_report rep = verify_mem(b, n, k < 2 ? f->pk[2 * k] : NULL);
        assert_int_equal(rep.verdict, CAIRN_VERDICT_TAMPERED);
        assert_string_equal(rep.bad_field, field);
        if (says != NULL && strstr(rep.reason, says) == NULL) {
            fail_msg("%s: \"%s\" not in \"%s\"", field, says, rep.reason);
        }
    }
}

/* @p b without bytes [from, to), count byte set to @p count. */
static uint8_t *cut(const bundle_buf *bb, size_t from, size_t to, size_t *n)
{
    uint8_t *c = malloc(bb->n);
    assert_non_null(c);
    memcpy(c, bb->b, from);
    memcpy(c + from, bb->b + to, bb->n - to);
    c[bb->block + 1] = 1;
    *n = bb->n - (to - from);
    return c;
}

static void resign_head(const bundle_buf *bb, uint8_t *c, const rot_fix *f,
                        int key)
{
    char why[128];
    uint8_t *h = memmem(c, bb->n, "cairn/journal/", 14);
    assert_non_null(h);
    uint8_t *blank = memmem(h, bb->n - (size_t)(h - c), "\n\n", 2);
    uint8_t *origin_end = memchr(h, '\n', 64);
    uint8_t *note_end = memchr(blank + 2, '\n', 400);
    size_t text_len = (size_t)(blank - h) + 1;
    cairn_wr w;
    cairn__wr_init(&w, 4096);
    assert_int_equal(cairn__note_sign(&w, (const char *)h, text_len,
                                      (const char *)h, (size_t)(origin_end - h),
                                      f->s[key]->sk, why, sizeof(why)),
                     CAIRN_OK);
    assert_int_equal(w.len, (size_t)(note_end - h) + 1);
    memcpy(h, w.p, w.len);
    cairn__wr_free(&w);
}

static void test_tamper(void **state)
{
    (void)state;
    rot_fix *f = fix_new();
    uint64_t pos[2];
    cairn_export_result res;
    bundle_buf bb, r1;
    size_t n;
    build2(f, pos);
    assert_int_equal(export_run(f, "r2", 2, "r2.cairn", &res), CAIRN_OK);
    assert_int_equal(export_run(f, "r1", 2, "r1.cairn", &res), CAIRN_OK);
    load_bundle(f, "r2.cairn", &bb);
    load_bundle(f, "r1.cairn", &r1);
    for (int k = 0; k < 3; k++) {
        cairn_verify_report rep = verify_mem(bb.b, bb.n, f->pk[k]);
        assert_int_equal(rep.verdict, CAIRN_VERDICT_VERIFIED);
    }

    /* An edited rotation: the reason's last byte. */
    uint8_t *c = malloc(bb.n);
    memcpy(c, bb.b, bb.n);
    size_t rec0 = bb.e[0] + 10,
           len0 = bb.b[bb.e[0] + 8] * 256u + bb.b[bb.e[0] + 9];
    c[rec0 + len0 - CAIRN_ROTATE_SIGS_BYTES - 1] ^= 0x20;
    expect_tampered(f, c, bb.n, "bundle.rotation", "old_sig");
    free(c);

    /* The first rotation dropped: the second does not start the chain. */
    c = cut(&bb, bb.e[0], bb.e[1], &n);
    expect_tampered(f, c, n, "bundle.rotation", "rotation 0");
    free(c);

    /* The last rotation dropped: the head's key is not in force. */
    c = cut(&r1, r1.e[1], r1.end[1], &n);
    expect_tampered(f, c, n, "bundle.head", "not by the key in force");
    free(c);
    c = cut(&bb, bb.e[1], bb.end[1], &n);
    assert_int_equal(verify_mem(c, n, f->pk[0]).verdict,
                     CAIRN_VERDICT_TAMPERED);
    free(c);

    /* Reordered. */
    c = malloc(bb.n);
    size_t l0 = bb.e[1] - bb.e[0], l1 = bb.end[1] - bb.e[1];
    memcpy(c, bb.b, bb.e[0]);
    memcpy(c + bb.e[0], bb.b + bb.e[1], l1);
    memcpy(c + bb.e[0] + l1, bb.b + bb.e[0], l0);
    expect_tampered(f, c, bb.n, "bundle.rotation", "rotation 0");
    free(c);

    /* The second rotation (k1 -> k2) signed by k0 instead of k1. */
    c = malloc(bb.n);
    memcpy(c, bb.b, bb.n);
    size_t rec1 = bb.e[1] + 10,
           len1 = bb.b[bb.e[1] + 8] * 256u + bb.b[bb.e[1] + 9];
    uint8_t *msg = NULL;
    size_t ml = 0;
    assert_int_equal(cairn__rotate_message(c + rec1, len1, &msg, &ml),
                     CAIRN_OK);
    assert_int_equal(
        cairn__signer_sign(f->s[0], msg, ml,
                           c + rec1 + len1 - CAIRN_ROTATE_SIGS_BYTES),
        CAIRN_OK);
    free(msg);
    expect_tampered(f, c, bb.n, "bundle.rotation", "old_sig");
    free(c);

    /* A proof hash changed: the rotation is not in the head's tree. */
    c = malloc(bb.n);
    memcpy(c, bb.b, bb.n);
    assert_true(c[rec0 + len0] > 0);
    c[rec0 + len0 + 1] ^= 1;
    expect_tampered(f, c, bb.n, "bundle.rotation", "not proven");
    free(c);

    /* The head signed by a retired key (k1, then k0). */
    for (int k = 0; k < 2; k++) {
        c = malloc(r1.n);
        memcpy(c, r1.b, r1.n);
        resign_head(&r1, c, f, k);
        expect_tampered(f, c, r1.n, "bundle.head", "a retired key signed it");
        free(c);
    }

    /* Parse: a count of 0 and a cut entry are malformed (field bundle). */
    c = malloc(bb.n);
    memcpy(c, bb.b, bb.n);
    c[bb.block + 1] = 0;
    expect_tampered(f, c, bb.n, "bundle", "key history");
    free(c);
    expect_tampered(f, bb.b, bb.n - 1, "bundle", "key history");
    free(bb.b);
    free(r1.b);
    fix_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_and_pins),
        cmocka_unit_test(test_no_rotation_v2),
        cmocka_unit_test(test_tamper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
