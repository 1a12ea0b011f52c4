/*
 * test_tamper.c - the tamper matrix of signing.md section 5 against a
 * signed sample journal: each attack asserts the verdict, its exit code
 * and, where one exists, the first bad sequence.  T1 (every byte of every
 * record, key, index entry and checkpoint, XOR 0x01 and 0x80; and every
 * byte of a bundle) lives in test_tamper_flip.c; T12 (honest crashes) in
 * test_tamper_crash.c.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"

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

/* The verdict, its exit code, and the first bad sequence (-1: none). */
static void expect(const cairn_verify_report *r, cairn_verdict v, int exit,
                   int64_t bad_seq)
{
    if (r->verdict != v ||
        (bad_seq >= 0 && (!r->has_bad || r->bad_seq != (uint64_t)bad_seq))) {
        print_error("verdict %s (seq %s%llu, field %s): %s\n",
                    cairn_verdict_name(r->verdict), r->has_bad ? "" : "none ",
                    (unsigned long long)r->bad_seq, r->bad_field, r->reason);
    }
    assert_int_equal(r->verdict, v);
    assert_int_equal(cairn_verdict_exit_code(r->verdict), exit);
    if (bad_seq >= 0) {
        assert_true(r->has_bad);
        assert_int_equal(r->bad_seq, (uint64_t)bad_seq);
    }
}

typedef void (*attack_fn)(vf_raw *raw, void *ctx);

/* Run @p fn on a copy of the sample and verify run-a there. */
static cairn_verify_report attack(attack_fn fn, void *ctx,
                                  const cairn_pubkey *pinned)
{
    char *dir = vf_copy(sample->dir);
    vf_raw raw;
    vf_raw_open(&raw, dir);
    fn(&raw, ctx);
    vf_raw_close(&raw);
    cairn_verify_report r = vf_verify(dir, VF_RUN_A, pinned);
    tu_rmtree(dir);
    return r;
}

/* ---- T2: edit a record and recompute the chain --------------------- */

typedef struct edit_ctx {
    size_t seq;
    const cairn_signer *resign; /* NULL: old checkpoints kept */
} edit_ctx;

static void edit_reason(vf_raw *raw, void *vctx)
{
    edit_ctx *c = vctx;
    vf_run run;
    vf_load_run(raw, 1, &run);
    assert_int_equal(
        cairn__record_set_str(&run.r[c->seq].rec.reason, "exit 0, all fine"),
        CAIRN_OK);
    vf_rewrite o = {sample->journal_id, c->resign,
                    c->resign != NULL ? c->seq : SIZE_MAX, 0, 1};
    vf_store_run(raw, &run, &o);
    vf_free_run(&run);
}

static void test_t2_edit_and_recompute(void **state)
{
    (void)state;
    edit_ctx c = {7, NULL};
    cairn_verify_report r = attack(edit_reason, &c, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 7);
    assert_string_equal(r.bad_field, "checkpoint.head");
    /* Without a pinned key the head mismatch is still proof. */
    r = attack(edit_reason, &c, NULL);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 7);
    /* Re-sealed with another key from seq 7 on. */
    c.resign = sample->b;
    r = attack(edit_reason, &c, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 7);
    assert_string_equal(r.bad_field, "checkpoint.key_id");
}

/* Checkpoints from seq 7 on carry key A's id but B's signature. */
static void forge_signatures(vf_raw *raw, void *vctx)
{
    (void)vctx;
    vf_run run;
    vf_load_run(raw, 1, &run);
    assert_int_equal(cairn__record_set_str(&run.r[7].rec.reason, "exit 0"),
                     CAIRN_OK);
    vf_rewrite o = {sample->journal_id, sample->b, 7, 0, 1};
    vf_store_run(raw, &run, &o);
    for (size_t i = 7; i < run.n; i++) {
        uint8_t key[8];
        size_t vl;
        vf_key8(key, run.r[i].pos);
        uint8_t *v = vf_get(raw, VR_CPS, key, sizeof(key), &vl);
        cairn_signer_key_id(sample->a, v + 58);
        vf_put(raw, VR_CPS, key, sizeof(key), v, vl);
        free(v);
    }
    vf_free_run(&run);
}

static void test_t2_forged_signature(void **state)
{
    (void)state;
    cairn_verify_report r = attack(forge_signatures, NULL, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 7);
    assert_string_equal(r.bad_field, "signature");
}

/* ---- T3: delete a middle record ------------------------------------ */

static void delete_gap(vf_raw *raw, void *vctx)
{
    (void)vctx;
    uint8_t key[16], pkey[8];
    vf_key8(pkey, vf_pos(raw, 1, 8));
    vf_key16(key, 1, 8);
    vf_del(raw, VR_INDEX, key, sizeof(key));
    vf_del(raw, VR_RECORDS, pkey, sizeof(pkey));
    vf_del(raw, VR_CPS, pkey, sizeof(pkey));
}

static void delete_renumber(vf_raw *raw, void *vctx)
{
    (void)vctx;
    vf_run run;
    uint8_t pkey[8];
    vf_load_run(raw, 1, &run);
    vf_key8(pkey, run.r[8].pos);
    vf_del(raw, VR_RECORDS, pkey, sizeof(pkey));
    vf_del(raw, VR_CPS, pkey, sizeof(pkey));
    vf_drop(&run, 8);
    vf_rewrite o = {sample->journal_id, NULL, SIZE_MAX, 1, 1};
    vf_store_run(raw, &run, &o);
    vf_free_run(&run);
}

static void test_t3_delete_middle(void **state)
{
    (void)state;
    cairn_verify_report r = attack(delete_gap, NULL, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 8);
    assert_string_equal(r.bad_field, "index");
    r = attack(delete_renumber, NULL, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 8);
}

/* ---- T4: swap two records ------------------------------------------- */

static void swap_raw(vf_raw *raw, void *vctx)
{
    (void)vctx;
    uint8_t k3[8], k4[8];
    size_t l3, l4;
    vf_key8(k3, vf_pos(raw, 1, 3));
    vf_key8(k4, vf_pos(raw, 1, 4));
    uint8_t *v3 = vf_get(raw, VR_RECORDS, k3, 8, &l3);
    uint8_t *v4 = vf_get(raw, VR_RECORDS, k4, 8, &l4);
    vf_put(raw, VR_RECORDS, k3, 8, v4, l4);
    vf_put(raw, VR_RECORDS, k4, 8, v3, l3);
    free(v3);
    free(v4);
}

typedef struct swap_ctx {
    size_t i, j;
} swap_ctx;

static void swap_recompute(vf_raw *raw, void *vctx)
{
    swap_ctx *c = vctx;
    vf_run run;
    vf_load_run(raw, 1, &run);
    cairn_record t = run.r[c->i].rec;
    run.r[c->i].rec = run.r[c->j].rec;
    run.r[c->j].rec = t;
    vf_rewrite o = {sample->journal_id, NULL, SIZE_MAX, 1, 1};
    vf_store_run(raw, &run, &o);
    vf_free_run(&run);
}

static void test_t4_swap(void **state)
{
    (void)state;
    cairn_verify_report r = attack(swap_raw, NULL, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 3);
    /* Two claims of different operations, renumbered and rechained. */
    swap_ctx c = {1, 3};
    r = attack(swap_recompute, &c, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 1);
    swap_ctx d = {9, 11};
    r = attack(swap_recompute, &d, NULL);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 9);
}

/* ---- T5: truncation -------------------------------------------------- */

static void drop_last_record(vf_raw *raw, void *vctx)
{
    (void)vctx;
    uint8_t key[16], pkey[8];
    vf_key8(pkey, vf_pos(raw, 1, VF_A_RECORDS - 1));
    vf_key16(key, 1, VF_A_RECORDS - 1);
    vf_del(raw, VR_INDEX, key, sizeof(key));
    vf_del(raw, VR_RECORDS, pkey, sizeof(pkey));
}

static void drop_last_commit(vf_raw *raw, void *vctx)
{
    uint8_t pkey[8];
    vf_key8(pkey, vf_pos(raw, 1, VF_A_RECORDS - 1));
    drop_last_record(raw, NULL);
    vf_del(raw, VR_CPS, pkey, sizeof(pkey));
    if (vctx != NULL) { /* (c): the state rolled back too */
        vf_run run;
        vf_load_run(raw, 1, &run);
        vf_rewrite o = {sample->journal_id, NULL, SIZE_MAX, 0, 1};
        vf_store_run(raw, &run, &o);
        vf_free_run(&run);
    }
}

static void test_t5_truncate(void **state)
{
    (void)state;
    int rollback = 1;
    cairn_verify_report r = attack(drop_last_record, NULL, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, -1);
    assert_string_equal(r.bad_field, "checkpoint.position");
    r = attack(drop_last_commit, NULL, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, VF_A_RECORDS - 1);
    assert_string_equal(r.bad_field, "state");
    /* (c) Cut back to a commit boundary with a consistent run state: in
     * format 1 exactly the earlier honest journal (VERIFIED); in format 2
     * the signed head still counts the cut record (and covers the old
     * state).  Rolling back the whole data.mdb, head included, is what
     * still needs an anchor (SECURITY.md section 8). */
    r = attack(drop_last_commit, &rollback, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, -1);
    assert_string_equal(r.bad_field, "head");
    assert_int_equal(r.records, VF_A_RECORDS - 1);
    assert_memory_equal(r.head, sample->heads[VF_A_RECORDS - 2],
                        CAIRN_HASH_BYTES);
}

/* ---- T7: splicing ---------------------------------------------------- */

static void splice_other_run(vf_raw *raw, void *vctx)
{
    uint8_t ka[8], kb[8];
    size_t vl;
    vf_key8(ka, vf_pos(raw, 1, 1));
    vf_key8(kb, vf_pos(raw, 2, 1));
    uint8_t *v = vf_get(raw, VR_RECORDS, kb, 8, &vl);
    if (vctx == NULL) {
        vf_put(raw, VR_RECORDS, ka, 8, v, vl);
    } else { /* rebound to run-a seq 1 and rechained */
        vf_run run;
        char why[256];
        vf_load_run(raw, 1, &run);
        cairn__record_free(&run.r[1].rec);
        assert_int_equal(
            cairn__record_decode(v, vl, &run.r[1].rec, why, sizeof(why)),
            CAIRN_OK);
        vf_rewrite o = {sample->journal_id, NULL, SIZE_MAX, 1, 1};
        vf_store_run(raw, &run, &o);
        vf_free_run(&run);
    }
    free(v);
}

typedef struct other_ctx {
    const char *dir; /* the other journal */
    int whole;
} other_ctx;

static void splice_other_journal(vf_raw *raw, void *vctx)
{
    other_ctx *c = vctx;
    vf_raw other;
    uint8_t key[8];
    size_t vl;
    vf_raw_open(&other, c->dir);
    uint64_t n = c->whole ? VF_A_RECORDS : 6;
    for (uint64_t seq = c->whole ? 0 : 5; seq < n; seq++) {
        vf_key8(key, vf_pos(&other, 1, seq));
        uint8_t *v = vf_get(&other, VR_RECORDS, key, 8, &vl);
        uint8_t *cp = NULL;
        size_t cl = 0;
        if (c->whole) {
            cp = vf_get(&other, VR_CPS, key, 8, &cl);
        }
        vf_key8(key, vf_pos(raw, 1, seq));
        vf_put(raw, VR_RECORDS, key, 8, v, vl);
        if (cp != NULL) {
            vf_put(raw, VR_CPS, key, 8, cp, cl);
        }
        free(v);
        free(cp);
    }
    if (c->whole) {
        vf_key8(key, 1);
        uint8_t *st = vf_get(&other, VR_RUNS, key, 8, &vl);
        vf_put(raw, VR_RUNS, key, 8, st, vl);
        free(st);
    }
    mdb_txn_abort(other.txn);
    mdb_env_close(other.env);
}

static void test_t7_splice(void **state)
{
    (void)state;
    cairn_verify_report r = attack(splice_other_run, NULL, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 1);
    assert_string_equal(r.bad_field, "run_num");
    int rebind = 1;
    r = attack(splice_other_run, &rebind, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 1);
    /* Another journal directory, same key, same plan and run id. */
    vf_sample *twin = vf_sample_new(sample);
    other_ctx c = {twin->dir, 0};
    r = attack(splice_other_journal, &c, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 5);
    assert_string_equal(r.bad_field, "prev");
    c.whole = 1; /* the whole run, its checkpoints and state */
    r = attack(splice_other_journal, &c, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, 0);
    assert_string_equal(r.bad_field, "journal_id");
    vf_sample_free(twin);
}

/* ---- T8: key substitution -------------------------------------------- */

static void substitute_key(vf_raw *raw, void *vctx)
{
    (void)vctx;
    vf_run run;
    vf_load_run(raw, 1, &run);
    cairn_signer_key_id(sample->b, run.r[0].rec.key_id);
    vf_rewrite o = {sample->journal_id, sample->b, 0, 0, 1};
    vf_store_run(raw, &run, &o);
    vf_free_run(&run);
}

static void test_t8_key_substitution(void **state)
{
    (void)state;
    /* The run now names key b: a key mismatch for a verifier pinning a,
     * which on its own is INCOMPLETE, not proof ... */
    cairn_verify_report r = attack(substitute_key, NULL, sample->pk_a);
    assert_true(r.key_mismatch);
    /* Format 2: the rewritten run state is not the one the journal's
     * signed head covers, with or without a key (to pass, the attacker
     * must also rebuild the state map and re-sign the head with their own
     * key: then only pinning tells, as in format 1). */
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, -1);
    assert_string_equal(r.bad_field, "state-map");
    r = attack(substitute_key, NULL, NULL);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, -1);
    assert_string_equal(r.bad_field, "state-map");
    r = attack(substitute_key, NULL, sample->pk_b);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, -1);
    assert_string_equal(r.bad_field, "state-map");
}

/* ---- T11: signature-level ----------------------------------------------- */

typedef enum cp_edit {
    CP_ZERO_SIG,
    CP_TRUNCATE,
    CP_WRONG_KEY_ID,
    CP_FLIP_SIG_BIT,
    CP_UNSIGNED,
    CP_SIG_IN_SEALED, /* bytes in a head-sealed checkpoint's signature */
    CP_BOTH_FLAGS,
    CP_RESIGNED /* signed on its own, as an earlier format-2 build did */
} cp_edit;

/* Format 2 writes head-sealed checkpoints (docs/FORMAT.md section 25);
 * the signature cases first sign it on its own (flag bit 0), which older
 * format-2 journals hold and verify still checks. */
static void sign_checkpoint(uint8_t *v)
{
    cairn_checkpoint cp;
    uint8_t msg[CAIRN_CHECKPOINT_MSG_MAX];
    assert_int_equal(
        cairn__checkpoint_decode(v, CAIRN_CHECKPOINT_BYTES, &cp, NULL, 0),
        CAIRN_OK);
    assert_true(cp.head_sealed);
    cp.head_sealed = 0;
    cp.is_signed = 1;
    size_t n =
        cairn__checkpoint_message(&cp, sample->journal_id, VF_RUN_A, msg);
    assert_int_equal(cairn__signer_sign(sample->a, msg, n, cp.sig), CAIRN_OK);
    cairn__checkpoint_encode(&cp, v);
}

static void edit_checkpoint(vf_raw *raw, void *vctx)
{
    cp_edit e = *(cp_edit *)vctx;
    uint8_t key[8];
    size_t vl;
    vf_key8(key, vf_pos(raw, 1, 4));
    uint8_t *v = vf_get(raw, VR_CPS, key, 8, &vl);
    assert_int_equal(vl, CAIRN_CHECKPOINT_BYTES);
    assert_int_equal(v[1], 2); /* head-sealed */
    switch (e) {
    case CP_ZERO_SIG:
        sign_checkpoint(v);
        memset(v + 66, 0, CAIRN_SIGNATURE_BYTES);
        break;
    case CP_TRUNCATE:
        vl = CAIRN_CHECKPOINT_BYTES - 1;
        break;
    case CP_WRONG_KEY_ID:
        v[58] ^= 0x40;
        break;
    case CP_FLIP_SIG_BIT:
        sign_checkpoint(v);
        v[100] ^= 0x08;
        break;
    case CP_UNSIGNED:
        v[1] = 0;
        memset(v + 58, 0, 8 + CAIRN_SIGNATURE_BYTES);
        break;
    case CP_SIG_IN_SEALED:
        v[100] ^= 0x08;
        break;
    case CP_BOTH_FLAGS:
        sign_checkpoint(v);
        v[1] = 3;
        break;
    case CP_RESIGNED:
        sign_checkpoint(v);
        break;
    }
    vf_put(raw, VR_CPS, key, 8, v, vl);
    free(v);
}

static void test_t11_signature_level(void **state)
{
    (void)state;
    static const struct {
        cp_edit e;
        const char *field;
    } cases[] = {{CP_ZERO_SIG, "signature"},
                 {CP_TRUNCATE, "checkpoint"},
                 {CP_WRONG_KEY_ID, "checkpoint.key_id"},
                 {CP_FLIP_SIG_BIT, "signature"},
                 {CP_UNSIGNED, "checkpoint.flags"},
                 {CP_SIG_IN_SEALED, "checkpoint"},
                 {CP_BOTH_FLAGS, "checkpoint"}};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(cases); i++) {
        cp_edit e = cases[i].e;
        cairn_verify_report r = attack(edit_checkpoint, &e, sample->pk_a);
        expect(&r, CAIRN_VERDICT_TAMPERED, 4, 4);
        assert_string_equal(r.bad_field, cases[i].field);
    }
    /* A checkpoint signed on its own still verifies in format 2. */
    cp_edit e = CP_RESIGNED;
    cairn_verify_report r = attack(edit_checkpoint, &e, sample->pk_a);
    expect(&r, CAIRN_VERDICT_VERIFIED, 0, -1);
    assert_int_equal(r.signatures_ok, 1);
    assert_int_equal(r.head_sealed, VF_A_RECORDS - 1);
}

/* ---- T15: unsigned and unsealed ------------------------------------------ */

static void drop_last_checkpoint(vf_raw *raw, void *vctx)
{
    (void)vctx;
    uint8_t key[8];
    vf_key8(key, vf_pos(raw, 1, VF_A_RECORDS - 1));
    vf_del(raw, VR_CPS, key, sizeof(key));
}

static void test_t15_unsigned_or_unsealed(void **state)
{
    (void)state;
    cairn_verify_report r = vf_verify(sample->udir, VF_RUN_U, sample->pk_a);
    expect(&r, CAIRN_VERDICT_INCOMPLETE, 3, -1);
    r = vf_verify(sample->dir, VF_RUN_A, NULL);
    expect(&r, CAIRN_VERDICT_INCOMPLETE, 3, -1);
    r = attack(drop_last_checkpoint, NULL, sample->pk_a);
    expect(&r, CAIRN_VERDICT_INCOMPLETE, 3, -1);
    assert_int_equal(r.unsealed, 1);
    r = vf_verify(sample->dir, VF_RUN_A, sample->pk_a);
    expect(&r, CAIRN_VERDICT_VERIFIED, 0, -1);
}

/* A state that says something the records do not. */
static void edit_state(vf_raw *raw, void *vctx)
{
    (void)vctx;
    cairn_state st;
    vf_get_state(raw, 1, &st);
    st.ops[3].state = CAIRN_OP_FAILED;
    if (vctx != NULL) { /* the row alone, summary and op tree left alone */
        uint8_t key[12], *row = NULL;
        size_t rl = 0;
        vf_rows r;
        assert_true(vf_rows_open(raw, &r));
        assert_int_equal(cairn__oprow_encode(&st.ops[3], &row, &rl), CAIRN_OK);
        cairn__store64_be(key, 1);
        cairn__store32_be(key + 8, 3);
        MDB_val k = {sizeof(key), key}, v = {rl, row};
        assert_int_equal(mdb_put(raw->txn, r.rows, &k, &v, 0), 0);
        free(row);
    } else { /* summary, rows and op tree made consistent */
        vf_put_state(raw, &st);
    }
    cairn__state_free(&st);
}

/* Format 2 (docs/FORMAT.md 23.6): the rows and the op tree are compared
 * with the replay byte for byte, naming the op and the field. */
static void test_state_tampering(void **state)
{
    (void)state;
    int row_only = 1;
    cairn_verify_report r = attack(edit_state, NULL, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, -1);
    assert_string_equal(r.bad_field, "otree");
    assert_false(r.replay_ok);
    r = attack(edit_state, &row_only, sample->pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, 4, -1);
    assert_string_equal(r.bad_field, "oprows");
    assert_non_null(strstr(r.reason, "op 3 "));
    assert_non_null(strstr(r.reason, "field state"));
    assert_false(r.replay_ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t2_edit_and_recompute),
        cmocka_unit_test(test_t2_forged_signature),
        cmocka_unit_test(test_t3_delete_middle),
        cmocka_unit_test(test_t4_swap),
        cmocka_unit_test(test_t5_truncate),
        cmocka_unit_test(test_t7_splice),
        cmocka_unit_test(test_t8_key_substitution),
        cmocka_unit_test(test_t11_signature_level),
        cmocka_unit_test(test_t15_unsigned_or_unsealed),
        cmocka_unit_test(test_state_tampering),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
