/*
 * test_rotate.c - key rotation (docs/FORMAT.md section 24): the ROTATE
 * record's codec, cairn_rotate_key() (one signed commit, the writer lock,
 * the old key refused afterwards, runs continuing under the new key), and
 * the verifier following the key history from the old or the new pinned
 * key, with every forgery of the history TAMPERED.
 *
 * With arguments it is the tamper tool of tests/cli/rotate.sh:
 *   test_rotate flip-rotation DIR        change a byte of rotation 0
 *   test_rotate drop-rotation DIR        remove rotation 0's index entry
 *   test_rotate old-checkpoint DIR RUN SEC   re-sign RUN's last
 *                                        checkpoint with SEC's key
 *   test_rotate old-head DIR SEC         re-sign the head with SEC's key
 */
#include "testutil.h"

#include "helpers/rotate_fixture.h"

#include "format/note.h"

/* ---- the tamper tool ---------------------------------------------------- */

/* Position of rotation @p seq (index entry of run 0). */
static uint64_t rotation_pos(vf_raw *raw, uint64_t seq)
{
    return vf_pos(raw, 0, seq);
}

static void flip_rotation(const char *dir)
{
    vf_raw raw;
    uint8_t key[8];
    size_t vl;
    vf_raw_open(&raw, dir);
    vf_key8(key, rotation_pos(&raw, 0));
    uint8_t *v = vf_get(&raw, VR_RECORDS, key, sizeof(key), &vl);
    assert_non_null(v);
    v[vl - CAIRN_ROTATE_SIGS_BYTES - 1] ^= 0x20; /* the reason's last byte */
    vf_put(&raw, VR_RECORDS, key, sizeof(key), v, vl);
    free(v);
    vf_raw_close(&raw);
}

static void drop_rotation(const char *dir)
{
    vf_raw raw;
    uint8_t key[16];
    vf_raw_open(&raw, dir);
    vf_key16(key, 0, 0);
    vf_del(&raw, VR_INDEX, key, sizeof(key));
    vf_raw_close(&raw);
}

/* Re-sign the checkpoint of @p run's last record with @p sec's key. */
static void old_checkpoint(const char *dir, const char *run, const char *sec)
{
    vf_raw raw;
    uint8_t key[8], msg[CAIRN_CHECKPOINT_MSG_MAX], jid[CAIRN_JOURNAL_ID_BYTES];
    size_t vl;
    char why[128];
    cairn_checkpoint cp;
    cairn_signer *s = vf_signer_load(sec);
    vf_raw_open(&raw, dir);
    uint8_t *id = vf_get(&raw, VR_META, "journal_id", 10, &vl);
    memcpy(jid, id, sizeof(jid));
    free(id);
    uint8_t *num = vf_get(&raw, VR_NAMES, run, strlen(run), &vl);
    uint64_t run_num = cairn__load64_be(num);
    free(num);
    vf_run r;
    vf_load_run(&raw, run_num, &r);
    vf_key8(key, r.r[r.n - 1].pos);
    uint8_t *v = vf_get(&raw, VR_CPS, key, sizeof(key), &vl);
    assert_non_null(v);
    assert_int_equal(cairn__checkpoint_decode(v, vl, &cp, why, sizeof(why)),
                     CAIRN_OK);
    memcpy(cp.key_id, s->key_id, CAIRN_KEY_ID_BYTES);
    size_t n = cairn__checkpoint_message(&cp, jid, run, msg);
    assert_int_equal(cairn__signer_sign(s, msg, n, cp.sig), CAIRN_OK);
    uint8_t out[CAIRN_CHECKPOINT_BYTES];
    cairn__checkpoint_encode(&cp, out);
    vf_put(&raw, VR_CPS, key, sizeof(key), out, sizeof(out));
    free(v);
    vf_free_run(&r);
    vf_raw_close(&raw);
    cairn_signer_free(s);
}

/* Replace the head's signature line by one of @p sec's key. */
static void old_head(const char *dir, const char *sec)
{
    vf_raw raw;
    size_t vl;
    char why[128];
    cairn_signer *s = vf_signer_load(sec);
    vf_raw_open(&raw, dir);
    char *h = (char *)vf_get(&raw, VR_META, "head", 4, &vl);
    assert_non_null(h);
    char *blank = memmem(h, vl, "\n\n", 2);
    assert_non_null(blank);
    size_t text_len = (size_t)(blank - h) + 1;
    char *origin_end = memchr(h, '\n', vl);
    cairn_wr w;
    cairn__wr_init(&w, 4096);
    assert_int_equal(cairn__note_sign(&w, h, text_len, h,
                                      (size_t)(origin_end - h), s->sk, why,
                                      sizeof(why)),
                     CAIRN_OK);
    vf_put(&raw, VR_META, "head", 4, w.p, w.len);
    cairn__wr_free(&w);
    free(h);
    vf_raw_close(&raw);
    cairn_signer_free(s);
}

static int tool(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "flip-rotation") == 0) {
        flip_rotation(argv[2]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "drop-rotation") == 0) {
        drop_rotation(argv[2]);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "old-checkpoint") == 0) {
        old_checkpoint(argv[2], argv[3], argv[4]);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "old-head") == 0) {
        old_head(argv[2], argv[3]);
        return 0;
    }
    fprintf(stderr, "usage: test_rotate flip-rotation DIR | drop-rotation "
                    "DIR | old-checkpoint DIR RUN SEC | old-head DIR SEC\n");
    return 2;
}

/* ---- codec ----------------------------------------------------------------
 */

static void rotate_record(cairn_record *rec)
{
    cairn__record_init(rec);
    rec->version = CAIRN_FORMAT_VERSION;
    rec->type = CAIRN_REC_ROTATE;
    rec->seq = 3;
    rec->wall_ns = 1764000000123456789u;
    rec->from_size = 42;
    memset(rec->journal_id, 0x11, sizeof(rec->journal_id));
    memset(rec->key_id, 0x01, sizeof(rec->key_id));
    memset(rec->old_pk, 0x02, sizeof(rec->old_pk));
    memset(rec->new_key_id, 0x03, sizeof(rec->new_key_id));
    memset(rec->new_pk, 0x04, sizeof(rec->new_pk));
    memset(rec->old_sig, 0x05, sizeof(rec->old_sig));
    memset(rec->new_sig, 0x06, sizeof(rec->new_sig));
    assert_int_equal(cairn__record_set_str(&rec->reason, "compromise"),
                     CAIRN_OK);
}

static void test_codec(void **state)
{
    (void)state;
    cairn_record rec, back;
    uint8_t *b = NULL;
    size_t n = 0;
    char why[256];
    rotate_record(&rec);
    assert_int_equal(cairn__record_encode(&rec, &b, &n, why, sizeof(why)),
                     CAIRN_OK);
    /* header 90 + body 16+8+8+32+8+32+2+10+128 */
    assert_int_equal(n, 90 + 16 + 8 + 8 + 32 + 8 + 32 + 12 + 128);
    assert_int_equal(cairn__record_decode(b, n, &back, why, sizeof(why)),
                     CAIRN_OK);
    assert_int_equal(back.type, CAIRN_REC_ROTATE);
    assert_int_equal(back.from_size, 42);
    assert_memory_equal(back.new_pk, rec.new_pk, sizeof(rec.new_pk));
    assert_memory_equal(back.new_sig, rec.new_sig, sizeof(rec.new_sig));
    assert_string_equal(back.reason, "compromise");
    uint8_t *again = NULL;
    size_t n2 = 0;
    assert_int_equal(cairn__record_encode(&back, &again, &n2, why, sizeof(why)),
                     CAIRN_OK);
    assert_int_equal(n2, n);
    assert_memory_equal(again, b, n);
    free(again);
    cairn__record_free(&back);

    /* A rotate record belongs to run 0. */
    b[11] = 1;
    assert_int_equal(cairn__record_decode(b, n, &back, why, sizeof(why)),
                     CAIRN_ECORRUPT);
    assert_string_equal(why, "offset 4: run_num: 1, a rotate record's is 0");
    b[11] = 0;
    /* from_size 0 */
    memset(b + 90 + 16, 0, 8);
    assert_int_equal(cairn__record_decode(b, n, &back, why, sizeof(why)),
                     CAIRN_ECORRUPT);
    assert_string_equal(why, "offset 106: from_size: 0 (positions start at "
                             "1)");
    free(b);
    /* The same key twice: refused by both sides. */
    memset(rec.new_key_id, 0x01, sizeof(rec.new_key_id));
    assert_int_equal(cairn__record_encode(&rec, &b, &n, why, sizeof(why)),
                     CAIRN_EINVAL);
    memset(rec.new_key_id, 0x03, sizeof(rec.new_key_id));
    rec.run_num = 5;
    assert_int_equal(cairn__record_encode(&rec, &b, &n, why, sizeof(why)),
                     CAIRN_EINVAL);
    cairn__record_free(&rec);
}

/* ---- a journal that rotates ------------------------------------------------
 */

typedef struct all_result {
    int n;
    cairn_verdict worst;
    char field[64];
} all_result;

/* TAMPERED outranks ERROR, INCOMPLETE and VERIFIED. */
static int rank(cairn_verdict v)
{
    return v == CAIRN_VERDICT_TAMPERED     ? 3
           : v == CAIRN_VERDICT_ERROR      ? 2
           : v == CAIRN_VERDICT_INCOMPLETE ? 1
                                           : 0;
}

static int each(void *ctx, const cairn_verify_report *r)
{
    all_result *a = ctx;
    a->n++;
    if (rank(r->verdict) > rank(a->worst)) {
        a->worst = r->verdict;
        snprintf(a->field, sizeof(a->field), "%s", r->bad_field);
    }
    return 0;
}

/* verify --all: the worst of the runs and the directory. */
static cairn_verdict verify_all(const char *dir, const cairn_pubkey *pinned,
                                char *field, size_t field_len)
{
    cairn_journal *j = NULL;
    cairn_verify_report d;
    all_result a;
    memset(&a, 0, sizeof(a));
    j = vf_open(dir, CAIRN_OPEN_READONLY, NULL);
    assert_int_equal(cairn_verify_all(j, pinned, 1, each, &a, &d), CAIRN_OK);
    cairn_journal_close(j);
    cairn_verdict v = a.worst;
    snprintf(field, field_len, "%s", a.field);
    if (rank(d.verdict) > rank(v)) {
        v = d.verdict;
        snprintf(field, field_len, "%s", d.bad_field);
    }
    return v;
}

static void test_rotate_and_write(void **state)
{
    (void)state;
    rot_fix *f = fix_new();
    build(f);
    uint64_t n = records_of(f->dir);
    /* The retired key is refused, naming the rotation; nothing written. */
    cairn_journal *j = vf_open(f->dir, CAIRN_OPEN_CREATE, f->s[0]);
    cairn_receipt rc = {.seq = 0, .outcome = CAIRN_OUTCOME_COMPLETED};
    assert_int_equal(cairn_receipt_record(j, "r2", &rc, NULL),
                     CAIRN_EKEYMISMATCH);
    assert_non_null(strstr(cairn_journal_errdetail(j), "was rotated out"));
    cairn_actor_info who = {NULL, NULL};
    uint64_t pos = 0;
    assert_int_equal(cairn_rotate_key(j, f->s[2], &who, &pos),
                     CAIRN_EKEYMISMATCH);
    cairn_journal_close(j);
    assert_int_equal(records_of(f->dir), n);
    /* A second rotation by the current key chains on. */
    j = vf_open(f->dir, CAIRN_OPEN_CREATE, f->s[1]);
    assert_int_equal(cairn_rotate_key(j, f->s[2], &who, &pos), CAIRN_OK);
    assert_int_equal(pos, n + 1);
    vf_receipt(j, "r2", 0, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    cairn_journal_close(j);
    char field[64];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(verify_all(f->dir, f->pk[i], field, sizeof(field)),
                         CAIRN_VERDICT_VERIFIED);
        cairn_verify_report rep = vf_verify(f->dir, "r2", f->pk[i]);
        assert_int_equal(rep.verdict, CAIRN_VERDICT_VERIFIED);
    }
    fix_free(f);
}

static void test_verify_pins(void **state)
{
    (void)state;
    rot_fix *f = fix_new();
    build(f);
    char field[64];
    /* Old key, new key: through the rotation.  An unrelated key: a key
     * mismatch, never tampering. */
    assert_int_equal(verify_all(f->dir, f->pk[0], field, sizeof(field)),
                     CAIRN_VERDICT_VERIFIED);
    assert_int_equal(verify_all(f->dir, f->pk[1], field, sizeof(field)),
                     CAIRN_VERDICT_VERIFIED);
    assert_int_equal(verify_all(f->dir, f->pk[2], field, sizeof(field)),
                     CAIRN_VERDICT_INCOMPLETE);
    cairn_verify_report rep = vf_verify(f->dir, "r1", f->pk[1]);
    assert_int_equal(rep.verdict, CAIRN_VERDICT_VERIFIED);
    rep = vf_verify(f->dir, "r3", f->pk[0]);
    assert_int_equal(rep.verdict, CAIRN_VERDICT_VERIFIED);
    rep = vf_verify(f->dir, "r2", f->pk[2]);
    assert_int_equal(rep.verdict, CAIRN_VERDICT_INCOMPLETE);
    assert_true(rep.key_mismatch);
    fix_free(f);
}

/* Each forgery on a copy: TAMPERED with the field named, whichever key
 * of the chain is pinned. */
static void test_tamper(void **state)
{
    (void)state;
    rot_fix *f = fix_new();
    build(f);
    char field[64];
    for (int pin = 0; pin < 2; pin++) {
        char *c = vf_copy(f->dir);
        flip_rotation(c);
        assert_int_equal(verify_all(c, f->pk[pin], field, sizeof(field)),
                         CAIRN_VERDICT_TAMPERED);
        assert_string_equal(field, "rotation");
        cairn_verify_report rep = vf_verify(c, "r1", f->pk[pin]);
        assert_int_equal(rep.verdict, CAIRN_VERDICT_TAMPERED);
        assert_string_equal(rep.bad_field, "rotation");
        tu_rmtree(c);

        c = vf_copy(f->dir);
        drop_rotation(c);
        assert_int_equal(verify_all(c, f->pk[pin], field, sizeof(field)),
                         CAIRN_VERDICT_TAMPERED);
        tu_rmtree(c);

        c = vf_copy(f->dir);
        old_checkpoint(c, "r2", f->sec[0]); /* after the rotation */
        rep = vf_verify(c, "r2", f->pk[pin]);
        assert_int_equal(rep.verdict, CAIRN_VERDICT_TAMPERED);
        assert_string_equal(rep.bad_field, "checkpoint.key_id");
        assert_int_equal(verify_all(c, f->pk[pin], field, sizeof(field)),
                         CAIRN_VERDICT_TAMPERED);
        tu_rmtree(c);

        c = vf_copy(f->dir);
        old_head(c, f->sec[0]); /* the retired key signs a head */
        rep = vf_verify(c, "r3", f->pk[pin]);
        assert_int_equal(rep.verdict, CAIRN_VERDICT_TAMPERED);
        assert_string_equal(rep.bad_field, "head");
        assert_int_equal(verify_all(c, f->pk[pin], field, sizeof(field)),
                         CAIRN_VERDICT_TAMPERED);
        assert_string_equal(field, "head");
        /* A writer holding the retired key does not build on it. */
        cairn_journal *j = vf_open(c, CAIRN_OPEN_CREATE, f->s[0]);
        cairn_receipt rc = {.seq = 0, .outcome = CAIRN_OUTCOME_COMPLETED};
        assert_int_equal(cairn_receipt_record(j, "r2", &rc, NULL),
                         CAIRN_ETAMPERED);
        assert_non_null(strstr(cairn_journal_errdetail(j), "retired key"));
        cairn_journal_close(j);
        tu_rmtree(c);
    }
    fix_free(f);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        return tool(argc, argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_rotate_and_write),
        cmocka_unit_test(test_verify_pins),
        cmocka_unit_test(test_tamper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
