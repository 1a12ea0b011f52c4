/*
 * test_verify_f2.c - verify of a format-2 journal (docs/FORMAT.md sections
 * 13 and 14): the signed head, the log tree and the state
 * map, and the tamper sweep of the journal-wide facts.  Each attack edits
 * a copy of a signed sample with LMDB directly, as someone who can write
 * the journal directory but holds no secret key would, and asserts the
 * verdict, the report's field and, for Merkle nodes, the first bad node.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"

#define RUN_C "run-c"

/* The sample: run-a and run-b interleaved, then run-c (the newest run,
 * whose records are the last positions). */
typedef struct f2_sample {
    char *root, *dir, *pub_a, *sec_a, *pub_b, *sec_b;
    cairn_signer *a, *b;
    cairn_pubkey *pk_a, *pk_b;
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
    uint64_t records; /* N */
} f2_sample;

static f2_sample S;

static void fill(cairn_journal *j)
{
    vf_create(j, VF_RUN_A);                                       /* 1 */
    vf_create(j, VF_RUN_B);                                       /* 2 */
    vf_claim(j, VF_RUN_A, -1);                                    /* 3 */
    vf_claim(j, VF_RUN_B, -1);                                    /* 4 */
    vf_receipt(j, VF_RUN_A, 0, CAIRN_OUTCOME_COMPLETED, NULL, 0); /* 5 */
    vf_receipt(j, VF_RUN_B, 0, CAIRN_OUTCOME_COMPLETED, NULL, 0); /* 6 */
    vf_claim(j, VF_RUN_A, -1);                                    /* 7 */
    vf_receipt(j, VF_RUN_A, 1, CAIRN_OUTCOME_COMPLETED, NULL, 0); /* 8 */
    vf_claim(j, VF_RUN_B, -1);                                    /* 9 */
    vf_create(j, RUN_C);                                          /* 10 */
    vf_claim(j, RUN_C, -1);                                       /* 11 */
}

/* A new journal in @p dir signed by @p signer (NULL: unsigned). */
static void make_journal(const char *dir, const cairn_signer *signer,
                         uint8_t *journal_id)
{
    cairn_journal *j = NULL;
    char detail[256];
    assert_int_equal(
        cairn_journal_open(dir, CAIRN_OPEN_CREATE, &j, detail, sizeof(detail)),
        CAIRN_OK);
    if (journal_id != NULL) {
        cairn_journal_id(j, journal_id);
    }
    cairn_journal_set_signer(j, signer);
    fill(j);
    cairn_journal_close(j);
}

static int group_setup(void **state)
{
    char detail[256];
    (void)state;
    S.root = tu_mkdtemp();
    S.dir = tu_path(S.root, "j");
    S.pub_a = tu_path(S.root, "a.pub");
    S.sec_a = tu_path(S.root, "a.key");
    S.pub_b = tu_path(S.root, "b.pub");
    S.sec_b = tu_path(S.root, "b.key");
    vf_keygen(S.pub_a, S.sec_a);
    vf_keygen(S.pub_b, S.sec_b);
    assert_int_equal(
        cairn_signer_load(S.sec_a, NULL, &S.a, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(
        cairn_signer_load(S.sec_b, NULL, &S.b, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(
        cairn_pubkey_load(S.pub_a, &S.pk_a, detail, sizeof(detail)), CAIRN_OK);
    assert_int_equal(
        cairn_pubkey_load(S.pub_b, &S.pk_b, detail, sizeof(detail)), CAIRN_OK);
    make_journal(S.dir, S.a, S.journal_id);
    S.records = 11;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cairn_signer_free(S.a);
    cairn_signer_free(S.b);
    cairn_pubkey_free(S.pk_a);
    cairn_pubkey_free(S.pk_b);
    free(S.dir);
    free(S.pub_a);
    free(S.sec_a);
    free(S.pub_b);
    free(S.sec_b);
    tu_rmtree(S.root);
    return 0;
}

/* ---- reading and editing a copy --------------------------------------- */

typedef struct f2_raw {
    vf_raw raw;
    MDB_dbi tree, smap;
} f2_raw;

static void raw_open(f2_raw *r, const char *dir)
{
    vf_raw_open(&r->raw, dir);
    assert_int_equal(mdb_dbi_open(r->raw.txn, "tree", 0, &r->tree), 0);
    assert_int_equal(mdb_dbi_open(r->raw.txn, "smap", 0, &r->smap), 0);
}

static void node_key(uint8_t key[9], unsigned level, uint64_t index)
{
    key[0] = (uint8_t)level;
    cairn__store64_be(key + 1, index);
}

static void node_put(f2_raw *r, MDB_dbi dbi, unsigned level, uint64_t index,
                     const uint8_t h[CAIRN_HASH_BYTES])
{
    uint8_t key[9];
    node_key(key, level, index);
    MDB_val k = {sizeof(key), key},
            v = {CAIRN_HASH_BYTES, (void *)(uintptr_t)h};
    assert_int_equal(mdb_put(r->raw.txn, dbi, &k, &v, 0), 0);
}

static void node_get(f2_raw *r, MDB_dbi dbi, unsigned level, uint64_t index,
                     uint8_t h[CAIRN_HASH_BYTES])
{
    uint8_t key[9];
    node_key(key, level, index);
    MDB_val k = {sizeof(key), key}, v;
    assert_int_equal(mdb_get(r->raw.txn, dbi, &k, &v), 0);
    assert_int_equal(v.mv_size, CAIRN_HASH_BYTES);
    memcpy(h, v.mv_data, CAIRN_HASH_BYTES);
}

static void node_del(f2_raw *r, MDB_dbi dbi, unsigned level, uint64_t index)
{
    uint8_t key[9];
    node_key(key, level, index);
    MDB_val k = {sizeof(key), key};
    assert_int_equal(mdb_del(r->raw.txn, dbi, &k, NULL), 0);
}

/* meta "head" as a NUL-terminated malloc'd string. */
static char *head_get(f2_raw *r, size_t *len)
{
    uint8_t *v = vf_get(&r->raw, VR_META, "head", 4, len);
    assert_non_null(v);
    v[*len] = '\0';
    return (char *)v;
}

static void head_put(f2_raw *r, const char *text)
{
    vf_put(&r->raw, VR_META, "head", 4, text, strlen(text));
}

/* The directory report of @p dir under @p pinned (verify --all's). */
static cairn_verify_report vdir(const char *dir, const cairn_pubkey *pinned)
{
    cairn_verify_report rep;
    cairn_journal *j = NULL;
    char detail[512];
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn__verify_dir(j, pinned, 0, &rep), CAIRN_OK);
    cairn_journal_close(j);
    return rep;
}

static void expect(const cairn_verify_report *r, cairn_verdict v,
                   const char *field)
{
    if (r->verdict != v ||
        (field != NULL && strcmp(r->bad_field, field) != 0)) {
        print_error("verdict %s field \"%s\" node %d/%u/%llu: %s\n",
                    cairn_verdict_name(r->verdict), r->bad_field, r->has_node,
                    r->bad_level, (unsigned long long)r->bad_index, r->reason);
    }
    assert_int_equal(r->verdict, v);
    if (field != NULL) {
        assert_string_equal(r->bad_field, field);
    }
}

static void expect_node(const cairn_verify_report *r, const char *field,
                        unsigned level, uint64_t index)
{
    expect(r, CAIRN_VERDICT_TAMPERED, field);
    assert_true(r->has_node);
    assert_int_equal(r->bad_level, level);
    assert_int_equal(r->bad_index, index);
}

typedef void (*attack_fn)(f2_raw *r, void *ctx);

/* Run @p fn on a copy of the sample; the directory report under key A. */
static cairn_verify_report attack_dir(attack_fn fn, void *ctx,
                                      const cairn_pubkey *pinned)
{
    char *dir = vf_copy(S.dir);
    f2_raw r;
    raw_open(&r, dir);
    fn(&r, ctx);
    vf_raw_close(&r.raw);
    cairn_verify_report rep = vdir(dir, pinned);
    tu_rmtree(dir);
    return rep;
}

/* The same copy, verified as one run (`verify RUN`). */
static cairn_verify_report attack_run(attack_fn fn, void *ctx, const char *run,
                                      const cairn_pubkey *pinned)
{
    char *dir = vf_copy(S.dir);
    f2_raw r;
    raw_open(&r, dir);
    fn(&r, ctx);
    vf_raw_close(&r.raw);
    cairn_verify_report rep = vf_verify(dir, run, pinned);
    tu_rmtree(dir);
    return rep;
}

/* ---- the honest journal ---------------------------------------------- */

static void test_honest(void **state)
{
    (void)state;
    cairn_verify_report r = vdir(S.dir, S.pk_a);
    expect(&r, CAIRN_VERDICT_VERIFIED, NULL);
    assert_int_equal(r.format, 2);
    assert_true(r.journal_head.present);
    assert_true(r.journal_head.is_signed);
    assert_true(r.journal_head.signature_ok);
    assert_false(r.journal_head.key_mismatch);
    assert_int_equal(r.journal_head.size, S.records);
    assert_int_equal(r.journal_head.runs, 3);
    assert_true(r.journal_head.time_ns > 0);

    /* Without a key: the structure and the hashes, not the signature. */
    r = vdir(S.dir, NULL);
    expect(&r, CAIRN_VERDICT_VERIFIED, NULL);
    assert_false(r.journal_head.signature_ok);
    assert_non_null(strstr(r.reason, "was not checked"));

    /* A single run: the head, its state and last record proven. */
    r = vf_verify(S.dir, VF_RUN_A, S.pk_a);
    expect(&r, CAIRN_VERDICT_VERIFIED, NULL);
    assert_int_equal(r.format, 2);
    assert_true(r.journal_head.signature_ok);
    assert_non_null(strstr(r.reason, "journal head: 11 records, 3 runs"));
}

/* Signed by another key: a key mismatch, not tampering. */
static void test_key_mismatch(void **state)
{
    (void)state;
    cairn_verify_report r = vdir(S.dir, S.pk_b);
    expect(&r, CAIRN_VERDICT_INCOMPLETE, "");
    assert_true(r.journal_head.key_mismatch);
    assert_false(r.journal_head.signature_ok);
    assert_non_null(strstr(r.reason, "key mismatch"));
}

/* ---- tree and state map nodes ----------------------------------------- */

typedef struct node_edit {
    int smap;
    unsigned level;
    uint64_t index;
    int what; /* 0 change, 1 delete, 2 add */
} node_edit;

static void edit_node(f2_raw *r, void *ctx)
{
    const node_edit *e = ctx;
    MDB_dbi dbi = e->smap ? r->smap : r->tree;
    uint8_t h[CAIRN_HASH_BYTES];
    if (e->what == 0) {
        node_get(r, dbi, e->level, e->index, h);
        h[7] ^= 0x40;
        node_put(r, dbi, e->level, e->index, h);
    } else if (e->what == 1) {
        node_del(r, dbi, e->level, e->index);
    } else {
        memset(h, 0xab, sizeof(h));
        node_put(r, dbi, e->level, e->index, h);
    }
}

static void test_tree_nodes(void **state)
{
    (void)state;
    /* N = 11: complete nodes are level 0 index 0..10, level 1 0..4,
     * level 2 0..1, level 3 0. */
    static const node_edit changed[] = {
        {0, 0, 0, 0}, {0, 0, 10, 0}, {0, 1, 2, 0}, {0, 2, 1, 0}, {0, 3, 0, 0}};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(changed); i++) {
        node_edit e = changed[i];
        cairn_verify_report r = attack_dir(edit_node, &e, S.pk_a);
        expect_node(&r, "tree", e.level, e.index);
        assert_non_null(strstr(r.reason, "differs"));
        r = attack_dir(edit_node, &e, NULL); /* no key needed */
        expect_node(&r, "tree", e.level, e.index);
    }
    node_edit del = {0, 1, 3, 1};
    cairn_verify_report r = attack_dir(edit_node, &del, S.pk_a);
    expect_node(&r, "tree", 1, 3);
    assert_non_null(strstr(r.reason, "missing"));
    /* Extra nodes: a leaf past N, an incomplete level-1 node, a level no
     * tree of 11 leaves has. */
    static const node_edit extra[] = {
        {0, 0, 11, 2}, {0, 1, 5, 2}, {0, 4, 0, 2}, {0, 0, 1000, 2}};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(extra); i++) {
        node_edit e = extra[i];
        r = attack_dir(edit_node, &e, S.pk_a);
        expect_node(&r, "tree", e.level, e.index);
        assert_non_null(strstr(r.reason, "extra"));
    }
}

static void test_smap_nodes(void **state)
{
    (void)state;
    /* R = 3: level 0 index 0..2, level 1 index 0. */
    static const node_edit edits[] = {
        {1, 0, 1, 0}, {1, 1, 0, 0}, {1, 0, 2, 1}, {1, 0, 3, 2}};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(edits); i++) {
        node_edit e = edits[i];
        cairn_verify_report r = attack_dir(edit_node, &e, S.pk_a);
        expect_node(&r, "state-map", e.level, e.index);
    }
    /* A single run proves its state with the stored nodes: a changed
     * sibling breaks the inclusion proof of run-a (leaf 0). */
    node_edit sib = {1, 0, 1, 0};
    cairn_verify_report r = attack_run(edit_node, &sib, VF_RUN_A, S.pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, "state-map");
    /* ... and a changed log node next to run-c's last record (11, leaf
     * 10: its proof uses level 1 index 4). */
    node_edit log = {0, 1, 4, 0};
    r = attack_run(edit_node, &log, RUN_C, S.pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, "tree");
}

/* verify --all (cairn_verify_all()): the run checks compare each
 * record's leaf hash with the stored leaf, the directory check builds the
 * tree from the stored leaves.  The worst run report and the directory
 * report of the attacked copy. */
typedef struct all_seen {
    cairn_verify_report worst;
    int runs;
} all_seen;

static int collect(void *ctx, const cairn_verify_report *run)
{
    all_seen *a = ctx;
    if (a->runs++ == 0 || (run->verdict == CAIRN_VERDICT_TAMPERED &&
                           a->worst.verdict != CAIRN_VERDICT_TAMPERED)) {
        a->worst = *run;
    }
    return 0;
}

static void attack_all(attack_fn fn, void *ctx, all_seen *seen,
                       cairn_verify_report *dir_rep)
{
    char *dir = vf_copy(S.dir);
    cairn_journal *j = NULL;
    char detail[512];
    f2_raw r;
    if (fn != NULL) {
        raw_open(&r, dir);
        fn(&r, ctx);
        vf_raw_close(&r.raw);
    }
    memset(seen, 0, sizeof(*seen));
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_verify_all(j, S.pk_a, 2, collect, seen, dir_rep),
                     CAIRN_OK);
    cairn_journal_close(j);
    tu_rmtree(dir);
}

static void test_verify_all_nodes(void **state)
{
    (void)state;
    all_seen seen;
    cairn_verify_report d;
    attack_all(NULL, NULL, &seen, &d);
    assert_int_equal(seen.runs, 3);
    expect(&seen.worst, CAIRN_VERDICT_VERIFIED, NULL);
    expect(&d, CAIRN_VERDICT_VERIFIED, NULL);
    /* A changed leaf: the run owning position 5 (run-a seq 2) says so. */
    node_edit leaf = {0, 0, 4, 0};
    attack_all(edit_node, &leaf, &seen, &d);
    expect_node(&seen.worst, "tree", 0, 4);
    assert_string_equal(seen.worst.run_id, VF_RUN_A);
    /* A deleted leaf: the run check and the directory both. */
    node_edit gone = {0, 0, 3, 1};
    attack_all(edit_node, &gone, &seen, &d);
    expect_node(&seen.worst, "tree", 0, 3);
    expect_node(&d, "tree", 0, 3);
    /* Nodes above the leaves, and extra ones: the directory check. */
    static const node_edit above[] = {
        {0, 1, 2, 0}, {0, 3, 0, 0}, {0, 2, 1, 1}, {0, 0, 11, 2}, {0, 1, 5, 2}};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(above); i++) {
        node_edit e = above[i];
        attack_all(edit_node, &e, &seen, &d);
        expect_node(&d, "tree", e.level, e.index);
    }
}

/* One byte of run-b's state blob (its updated_ns), nodes left alone. */
static void edit_state(f2_raw *r, void *ctx)
{
    cairn_state st;
    (void)ctx;
    vf_get_state(&r->raw, 2, &st);
    st.updated_ns ^= 1;
    vf_put_state(&r->raw, &st);
    cairn__state_free(&st);
}

static void test_state_blob(void **state)
{
    (void)state;
    cairn_verify_report r = attack_dir(edit_state, NULL, S.pk_a);
    expect_node(&r, "state-map", 0, 1);
    r = attack_dir(edit_state, NULL, NULL);
    expect_node(&r, "state-map", 0, 1);
    r = attack_run(edit_state, NULL, VF_RUN_B, S.pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, NULL);
    if (strcmp(r.bad_field, "state-map") != 0 &&
        strcmp(r.bad_field, "state") != 0) {
        print_error("field %s: %s\n", r.bad_field, r.reason);
    }
    assert_true(strcmp(r.bad_field, "state-map") == 0 ||
                strcmp(r.bad_field, "state") == 0);
}

/* Names swapped between run-a and run-b (names are not in the map). */
static void swap_names(f2_raw *r, void *ctx)
{
    uint8_t one[8], two[8];
    (void)ctx;
    vf_key8(one, 1);
    vf_key8(two, 2);
    vf_put(&r->raw, VR_NAMES, VF_RUN_A, strlen(VF_RUN_A), two, 8);
    vf_put(&r->raw, VR_NAMES, VF_RUN_B, strlen(VF_RUN_B), one, 8);
}

static void test_repoint_names(void **state)
{
    (void)state;
    cairn_verify_report r = attack_dir(swap_names, NULL, S.pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, "names");
}

/* ---- the head ----------------------------------------------------------
 */

typedef struct head_edit {
    const char *what;
    int line;     /* 0 origin, 1 size, 2 root, 3 state, 4 time, 6 signature */
    int from_end; /* the character this far from the line's end */
} head_edit;

/* Another character of the same class (digit, hex letter, base64). */
static char other_char(char c, int base64)
{
    if (base64) {
        return c == 'Q' ? 'R' : 'Q';
    }
    if (c >= '0' && c <= '8') {
        return (char)(c + 1);
    }
    return c == '9' ? '8' : c == 'a' ? 'b' : 'a';
}

/* Replace one character of line e->line, keeping the head well formed. */
static void edit_head(f2_raw *r, void *ctx)
{
    const head_edit *e = ctx;
    size_t len;
    char *h = head_get(r, &len), *p = h;
    for (int i = 0; i < e->line; i++) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    char *end = strchr(p, '\n');
    assert_non_null(end);
    assert_true(end - p > e->from_end);
    char *c = end - e->from_end;
    *c = other_char(*c, e->line == 2 || e->line == 3 || e->line == 6);
    head_put(r, h);
    free(h);
}

static void test_head_edits(void **state)
{
    (void)state;
    static const head_edit edits[] = {{"origin", 0, 1}, {"size", 1, 1},
                                      {"root", 2, 10},  {"state root", 3, 10},
                                      {"time", 4, 1},   {"signature", 6, 10}};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(edits); i++) {
        head_edit e = edits[i];
        cairn_verify_report r = attack_dir(edit_head, &e, S.pk_a);
        if (r.verdict != CAIRN_VERDICT_TAMPERED) {
            print_error("head %s: %s\n", e.what, r.reason);
        }
        expect(&r, CAIRN_VERDICT_TAMPERED, "head");
        r = attack_run(edit_head, &e, VF_RUN_A, S.pk_a);
        expect(&r, CAIRN_VERDICT_TAMPERED, "head");
    }
    /* Without a key, what the hashes show: size and roots. */
    static const head_edit hashed[] = {
        {"size", 1, 1}, {"root", 2, 10}, {"state root", 3, 10}};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(hashed); i++) {
        head_edit e = hashed[i];
        cairn_verify_report r = attack_dir(edit_head, &e, NULL);
        expect(&r, CAIRN_VERDICT_TAMPERED, "head");
    }
}

static void drop_head(f2_raw *r, void *ctx)
{
    (void)ctx;
    vf_del(&r->raw, VR_META, "head", 4);
}

static void two_sigs(f2_raw *r, void *ctx)
{
    size_t len;
    char *h = head_get(r, &len);
    char *sig = strstr(h, "\n\n");
    char *twice = malloc(2 * len + 1);
    (void)ctx;
    assert_non_null(sig);
    assert_non_null(twice);
    /* The signature line twice: parse refuses duplicates, and exactly one
     * line is required anyway. */
    sprintf(twice, "%s%s", h, sig + 2);
    head_put(r, twice);
    free(twice);
    free(h);
}

static void unsign_head(f2_raw *r, void *ctx)
{
    size_t len;
    char *h = head_get(r, &len);
    (void)ctx;
    char *sig = strstr(h, "\n\n");
    assert_non_null(sig);
    sig[1] = '\0';
    head_put(r, h);
    free(h);
}

static void test_head_shape(void **state)
{
    (void)state;
    cairn_verify_report r = attack_dir(drop_head, NULL, S.pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, "head");
    assert_non_null(strstr(r.reason, "missing"));
    r = attack_dir(two_sigs, NULL, S.pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, "head");
    /* The signature line removed: the head now claims an unsigned
     * journal.  Never VERIFIED with a key. */
    r = attack_dir(unsign_head, NULL, S.pk_a);
    assert_int_not_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
    assert_false(r.journal_head.is_signed);
}

/* ---- whole runs and positions ----------------------------------------- */

static void del_pos(f2_raw *r, uint64_t pos)
{
    uint8_t key[8];
    vf_key8(key, pos);
    vf_del(&r->raw, VR_RECORDS, key, sizeof(key));
    vf_del(&r->raw, VR_CPS, key, sizeof(key));
}

/* Delete run-c entirely and consistently: its records (positions 10 and
 * 11, the last two), index, checkpoints, state and name. */
static void delete_newest_run(f2_raw *r, void *ctx)
{
    uint8_t key[16], rkey[8];
    (void)ctx;
    del_pos(r, 10);
    del_pos(r, 11);
    vf_key16(key, 3, 0);
    vf_del(&r->raw, VR_INDEX, key, sizeof(key));
    vf_key16(key, 3, 1);
    vf_del(&r->raw, VR_INDEX, key, sizeof(key));
    vf_key8(rkey, 3);
    vf_del(&r->raw, VR_RUNS, rkey, sizeof(rkey));
    vf_del(&r->raw, VR_NAMES, RUN_C, strlen(RUN_C));
}

static void test_delete_newest_run(void **state)
{
    (void)state;
    cairn_verify_report r = attack_dir(delete_newest_run, NULL, S.pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, "head");
    r = attack_dir(delete_newest_run, NULL, NULL);
    expect(&r, CAIRN_VERDICT_TAMPERED, "head");
    /* One remaining run alone sees it too (the head's counts). */
    r = attack_run(delete_newest_run, NULL, VF_RUN_A, S.pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, "head");
}

/* Cut run-a after seq 2 (position 5), whose later records (7, 8) sit
 * between run-b's: drop 7 and 8 with their index entries and
 * checkpoints, and renumber every later position down (9 -> 7, ...) so
 * the positions stay dense, and fix run-a's state. */
static void move_record(f2_raw *r, uint64_t from, uint64_t to)
{
    uint8_t fk[8], tk[8], ik[16];
    size_t vl, cl;
    uint64_t run, seq;
    vf_key8(fk, from);
    vf_key8(tk, to);
    uint8_t *v = vf_get(&r->raw, VR_RECORDS, fk, sizeof(fk), &vl);
    uint8_t *cp = vf_get(&r->raw, VR_CPS, fk, sizeof(fk), &cl);
    assert_non_null(v);
    run = cairn__load64_be(v + 4);
    seq = cairn__load64_be(v + 12);
    del_pos(r, from);
    vf_put(&r->raw, VR_RECORDS, tk, sizeof(tk), v, vl);
    if (cp != NULL) {
        vf_put(&r->raw, VR_CPS, tk, sizeof(tk), cp, cl);
    }
    vf_key16(ik, run, seq);
    vf_put(&r->raw, VR_INDEX, ik, sizeof(ik), tk, sizeof(tk));
    free(v);
    free(cp);
}

static void cut_run_a(f2_raw *r, void *ctx)
{
    uint8_t key[16];
    (void)ctx;
    del_pos(r, 7);
    del_pos(r, 8);
    vf_key16(key, 1, 3);
    vf_del(&r->raw, VR_INDEX, key, sizeof(key));
    vf_key16(key, 1, 4);
    vf_del(&r->raw, VR_INDEX, key, sizeof(key));
    for (uint64_t p = 9; p <= 11; p++) {
        move_record(r, p, p - 2);
    }
}

static void test_cut_run(void **state)
{
    (void)state;
    /* The first moved record is leaf 6 (position 7, was run-b's claim at
     * 9): the tree says so before the head's count is compared. */
    cairn_verify_report r = attack_dir(cut_run_a, NULL, S.pk_a);
    expect_node(&r, "tree", 0, 6);
    /* Only positions 10 and 11 (run-c) dropped, nothing moved: the head's
     * count. */
    r = attack_dir(delete_newest_run, NULL, S.pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, "head");
    assert_non_null(strstr(r.reason, "covers 11 records"));
}

/* Renumber: swap positions 3 and 4 (run-a's and run-b's claims); index
 * and checkpoints follow, so every run's walk is unchanged. */
static void swap_positions(f2_raw *r, void *ctx)
{
    (void)ctx;
    move_record(r, 3, 100);
    move_record(r, 4, 3);
    move_record(r, 100, 4);
}

static void test_renumber(void **state)
{
    (void)state;
    cairn_verify_report r = attack_dir(swap_positions, NULL, S.pk_a);
    /* Leaf 2 (position 3) is now run-b's claim. */
    expect_node(&r, "tree", 0, 2);
}

/* ---- what verify cannot see locally ----------------------------------- */

/* Substitution: another journal (another journal id) signed by the same
 * key, put in place of the sample.  Its head is valid, its origin is its
 * own id, every tree checks: locally this is VERIFIED, exactly as
 * docs/SECURITY.md says.  Detecting it needs a checkpoint kept from
 * before: the sample's head as an anchor (cairn_anchor_check(), `verify
 * --anchor`) names another journal; a remembered checkpoint does the
 * same for writers and verify (test_anchor.c, tests/cli/anchor.sh). */
static void test_substitution_not_detected(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *other = tu_path(root, "j");
    uint8_t id[CAIRN_JOURNAL_ID_BYTES];
    make_journal(other, S.a, id);
    assert_memory_not_equal(id, S.journal_id, sizeof(id));
    char *copy = vf_copy(other);
    cairn_verify_report r = vdir(copy, S.pk_a);
    expect(&r, CAIRN_VERDICT_VERIFIED, NULL);
    r = vf_verify(copy, VF_RUN_A, S.pk_a);
    expect(&r, CAIRN_VERDICT_VERIFIED, NULL);
    /* The sample's own checkpoint, kept as an anchor, tells. */
    cairn_journal *j = NULL;
    cairn_journal_checkpoint cp;
    cairn_anchor_result a;
    char detail[512];
    assert_int_equal(cairn_journal_open(S.dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(
        cairn_journal_checkpoint_get(j, S.pk_a, &cp, detail, sizeof(detail)),
        CAIRN_OK);
    cairn_journal_close(j);
    assert_int_equal(cairn_journal_open(copy, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_anchor_check(j, S.pk_a, cp.note, cp.note_len, &a),
                     CAIRN_OK);
    assert_int_equal(a.status, CAIRN_ANCHOR_OTHER_JOURNAL);
    cairn_journal_close(j);
    tu_rmtree(copy);
    free(other);
    tu_rmtree(root);
}

/* An unsigned journal: hashes checked, never VERIFIED with a key. */
static void test_unsigned_journal(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    make_journal(dir, NULL, NULL);
    cairn_verify_report r = vdir(dir, S.pk_a);
    expect(&r, CAIRN_VERDICT_INCOMPLETE, NULL);
    assert_false(r.journal_head.is_signed);
    assert_non_null(strstr(r.reason, "unsigned"));
    r = vdir(dir, NULL);
    expect(&r, CAIRN_VERDICT_VERIFIED, NULL);
    assert_non_null(strstr(r.reason, "unsigned (unsafe)"));
    r = vf_verify(dir, VF_RUN_A, S.pk_a);
    expect(&r, CAIRN_VERDICT_INCOMPLETE, NULL);
    free(dir);
    tu_rmtree(root);
}

/* The sample made a format-1 journal (meta format 1, no head, no tree or
 * state map): verified as before, with the note that deletion of whole
 * runs and rollback cannot be seen. */
static void make_format1(f2_raw *r, void *ctx)
{
    uint8_t one[4];
    cairn__store32_be(one, 1);
    vf_put(&r->raw, VR_META, "format", 6, one, sizeof(one));
    vf_del(&r->raw, VR_META, "head", 4);
    vf_states_to_v1(&r->raw);
    if (ctx == NULL) {
        /* format 1 signs each checkpoint on its own */
        vf_checkpoints_to_v1(&r->raw, S.journal_id, S.a);
    }
    assert_int_equal(mdb_drop(r->raw.txn, r->tree, 1), 0);
    assert_int_equal(mdb_drop(r->raw.txn, r->smap, 1), 0);
    /* and the per-operation rows' databases (docs/FORMAT.md section 23) */
    static const char *const rows[] = {"oprows", "otree"};
    for (size_t i = 0; i < 2; i++) {
        MDB_dbi dbi;
        assert_int_equal(mdb_dbi_open(r->raw.txn, rows[i], 0, &dbi), 0);
        assert_int_equal(mdb_drop(r->raw.txn, dbi, 1), 0);
    }
}

static void test_format1(void **state)
{
    (void)state;
    cairn_verify_report r = attack_dir(make_format1, NULL, S.pk_a);
    expect(&r, CAIRN_VERDICT_VERIFIED, NULL);
    assert_int_equal(r.format, 1);
    assert_false(r.journal_head.present);
    assert_non_null(strstr(r.reason, CAIRN__FORMAT1_NOTE));
    r = attack_run(make_format1, NULL, VF_RUN_A, S.pk_a);
    expect(&r, CAIRN_VERDICT_VERIFIED, NULL);
    assert_non_null(strstr(r.reason, CAIRN__FORMAT1_NOTE));
}

/* A format-2 journal turned into format 1 whose checkpoints stay sealed
 * by the (removed) journal head: nothing signs them, so the run is
 * TAMPERED at its first checkpoint (docs/FORMAT.md section 25), never
 * VERIFIED. */
static void test_format1_head_sealed(void **state)
{
    (void)state;
    int keep = 1;
    cairn_verify_report r = attack_run(make_format1, &keep, VF_RUN_A, S.pk_a);
    expect(&r, CAIRN_VERDICT_TAMPERED, "checkpoint.flags");
    assert_true(r.has_bad);
    assert_int_equal(r.bad_seq, 0);
    r = attack_run(make_format1, &keep, VF_RUN_A, NULL);
    expect(&r, CAIRN_VERDICT_TAMPERED, "checkpoint.flags");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_honest),
        cmocka_unit_test(test_key_mismatch),
        cmocka_unit_test(test_tree_nodes),
        cmocka_unit_test(test_smap_nodes),
        cmocka_unit_test(test_verify_all_nodes),
        cmocka_unit_test(test_state_blob),
        cmocka_unit_test(test_repoint_names),
        cmocka_unit_test(test_head_edits),
        cmocka_unit_test(test_head_shape),
        cmocka_unit_test(test_delete_newest_run),
        cmocka_unit_test(test_cut_run),
        cmocka_unit_test(test_renumber),
        cmocka_unit_test(test_substitution_not_detected),
        cmocka_unit_test(test_unsigned_journal),
        cmocka_unit_test(test_format1),
        cmocka_unit_test(test_format1_head_sealed),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
