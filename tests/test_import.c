/*
 * test_import.c - cairn_import(): a verified bundle becomes a read-only run
 * of another journal (status, records, verify, export byte for byte); a
 * tampered bundle, one without a pinned key, or one of a run id in use is
 * refused and stores nothing; every transition on an imported run is
 * CAIRN_EIMPORTED and writes nothing; a planted or edited stored import
 * does not verify; the stored value's codec is strict.  A zstd bundle
 * (export --zstd) imports too, stored compressed as given (value version
 * 2): read, verified and exported back like a plain one; a cut or
 * flipped one is TAMPERED, an edited stored one does not verify.
 */
#include "testutil.h"

#include "base/zstd.h"
#include "format/import_value.h"
#include "helpers/verify_fixture.h"

static vf_sample *sample;
static char *bundle;  /* run-a of the sample, exported with key A */
static char *zbundle; /* the same run exported with CAIRN_EXPORT_ZSTD */

static int group_setup(void **state)
{
    (void)state;
    cairn_journal *j = NULL;
    sample = vf_sample_new(NULL);
    bundle = tu_path(sample->root, "a.cairn");
    j = vf_open(sample->dir, CAIRN_OPEN_READONLY, NULL);
    assert_int_equal(cairn_export_bundle(j, VF_RUN_A, sample->a, bundle),
                     CAIRN_OK);
    zbundle = tu_path(sample->root, "a.cairn.zst");
    cairn_export_opts opts = {CAIRN_EXPORT_ZSTD, NULL, NULL, 0};
    cairn_export_result res;
    assert_int_equal(
        cairn_export_bundle_opts(j, VF_RUN_A, sample->a, zbundle, &opts, &res),
        CAIRN_OK);
    assert_true(res.bytes < res.raw_bytes);
    cairn_journal_close(j);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(bundle);
    free(zbundle);
    vf_sample_free(sample);
    return 0;
}

typedef struct fixture {
    char *dir;
    cairn_journal *j;
} fixture;

/* A journal signed by key B with one run of its own, "own". */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = tu_mkdtemp();
    f->j = vf_open(f->dir, CAIRN_OPEN_CREATE, sample->b);
    vf_create(f->j, "own");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cairn_journal_close(f->j);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static char *data_file(const char *dir, size_t *len)
{
    char *p = tu_path(dir, "data.mdb");
    char *d = tu_read_file(p, len);
    free(p);
    return d;
}

/* @p call returns @p want and data.mdb is byte for byte unchanged. */
#define NOTHING_WRITTEN(f, call, want)                                         \
    do {                                                                       \
        size_t l0_, l1_;                                                       \
        char *d0_ = data_file((f)->dir, &l0_);                                 \
        assert_int_equal((call), (want));                                      \
        char *d1_ = data_file((f)->dir, &l1_);                                 \
        assert_int_equal(l0_, l1_);                                            \
        assert_memory_equal(d0_, d1_, l0_);                                    \
        free(d0_);                                                             \
        free(d1_);                                                             \
    } while (0)

static void import_ok(fixture *f)
{
    cairn_verify_report r;
    assert_int_equal(cairn_import(f->j, bundle, sample->pk_a, 0, &r), CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
    assert_string_equal(r.run_id, VF_RUN_A);
    assert_int_equal(r.records, VF_A_RECORDS);
}

static int collect(void *ctx, const char *run_id)
{
    char *out = ctx;
    strcat(out, run_id);
    strcat(out, ",");
    return 0;
}

typedef struct heads {
    uint8_t h[64][CAIRN_HASH_BYTES];
    uint64_t pos[64];
    size_t n;
} heads;

static int each_record(void *ctx, const cairn_record_view *r)
{
    heads *h = ctx;
    assert_int_equal(r->seq, h->n);
    memcpy(h->h[h->n], r->hash, CAIRN_HASH_BYTES);
    h->pos[h->n] = r->position;
    h->n++;
    return 0;
}

static void test_round_trip(void **state)
{
    fixture *f = *state;
    import_ok(f);
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, VF_RUN_A, &s), CAIRN_OK);
    assert_true(s->imported);
    assert_int_equal(s->records, VF_A_RECORDS);
    assert_memory_equal(s->head, sample->heads[VF_A_RECORDS - 1],
                        CAIRN_HASH_BYTES);
    cairn_summary_free(s);
    assert_int_equal(cairn_status(f->j, "own", &s), CAIRN_OK);
    assert_false(s->imported);
    cairn_summary_free(s);

    /* The records, as in the source journal. */
    heads here, there;
    memset(&here, 0, sizeof(here));
    memset(&there, 0, sizeof(there));
    assert_int_equal(cairn_record_each(f->j, VF_RUN_A, 0, each_record, &here),
                     CAIRN_OK);
    cairn_journal *src = vf_open(sample->dir, CAIRN_OPEN_READONLY, NULL);
    assert_int_equal(cairn_record_each(src, VF_RUN_A, 0, each_record, &there),
                     CAIRN_OK);
    cairn_journal_close(src);
    assert_int_equal(here.n, VF_A_RECORDS);
    assert_int_equal(there.n, VF_A_RECORDS);
    assert_memory_equal(here.h, there.h, sizeof(here.h));
    assert_memory_equal(here.pos, there.pos, sizeof(here.pos));
    heads tail;
    memset(&tail, 0, sizeof(tail));
    tail.n = 10;
    assert_int_equal(cairn_record_each(f->j, VF_RUN_A, 10, each_record, &tail),
                     CAIRN_OK);
    assert_int_equal(tail.n, VF_A_RECORDS);

    /* Listed apart from the journal's own runs. */
    char ids[256] = "", own[256] = "";
    assert_int_equal(cairn_import_each(f->j, collect, ids), CAIRN_OK);
    assert_string_equal(ids, "run-a,");
    assert_int_equal(cairn_run_each(f->j, collect, own), CAIRN_OK);
    assert_string_equal(own, "own,");

    /* Verified with the bundle's key; the journal's key names it. */
    cairn_verify_report r;
    assert_int_equal(cairn_verify_run(f->j, VF_RUN_A, sample->pk_a, &r),
                     CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(r.records, VF_A_RECORDS);
    assert_int_equal(cairn_verify_run(f->j, VF_RUN_A, sample->pk_b, &r),
                     CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_INCOMPLETE);
    assert_int_equal(cairn_verdict_exit_code(r.verdict), 3);
    assert_true(r.key_mismatch);
    assert_non_null(strstr(r.reason, "key mismatch"));
    assert_int_equal(cairn_verify_run(f->j, VF_RUN_A, NULL, &r), CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_INCOMPLETE);

    /* Exported byte for byte, .minisig too; files are never replaced. */
    char *out = tu_path(f->dir, "out.cairn");
    assert_int_equal(cairn_import_export(f->j, VF_RUN_A, out), CAIRN_OK);
    size_t la, lb;
    char *a = tu_read_file(bundle, &la), *b = tu_read_file(out, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
    char *sa = tu_path(sample->root, "a.cairn.minisig");
    char *sb = tu_path(f->dir, "out.cairn.minisig");
    a = tu_read_file(sa, &la);
    b = tu_read_file(sb, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
    free(sa);
    free(sb);
    assert_int_equal(cairn_import_export(f->j, VF_RUN_A, out), CAIRN_EIO);
    assert_int_equal(cairn_import_export(f->j, "own", out), CAIRN_ENORUN);
    free(out);
}

/* A new handle sees the import too (read-only, after it was made). */
static void test_reopened(void **state)
{
    fixture *f = *state;
    import_ok(f);
    cairn_journal_close(f->j);
    f->j = vf_open(f->dir, CAIRN_OPEN_READONLY, NULL);
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, VF_RUN_A, &s), CAIRN_OK);
    assert_true(s->imported);
    cairn_summary_free(s);
    cairn_verify_report r;
    assert_int_equal(cairn_verify_run(f->j, VF_RUN_A, sample->pk_a, &r),
                     CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
    cairn_verify_report dir;
    assert_int_equal(cairn_verify_directory(f->j, &dir), CAIRN_OK);
    /* the imports database is one of cairn's own */
    assert_int_equal(dir.verdict, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(dir.has_bad, 0);
}

static void test_writes_refused(void **state)
{
    fixture *f = *state;
    import_ok(f);
    cairn_actor_info who = {"x", "because"};
    cairn_receipt rc = {.seq = 0, .outcome = CAIRN_OUTCOME_COMPLETED};
    cairn_receipt rf = {.seq = 0,
                        .outcome = CAIRN_OUTCOME_FAILED,
                        .error_class = CAIRN_CLASS_TERMINAL,
                        .reason = "x"};
    cairn_claim_result cr;
    const char *a = VF_RUN_A;
    NOTHING_WRITTEN(
        f, cairn_claim(f->j, a, -1, CAIRN_CLAIM_NORMAL, NULL, NULL, &cr),
        CAIRN_EIMPORTED);
    assert_non_null(strstr(cairn_journal_errdetail(f->j), "imported"));
    NOTHING_WRITTEN(f, cairn_receipt_record(f->j, a, &rc, NULL),
                    CAIRN_EIMPORTED);
    NOTHING_WRITTEN(f, cairn_resolve(f->j, a, &rf, &who), CAIRN_EIMPORTED);
    NOTHING_WRITTEN(f, cairn_retry(f->j, a, 2, &who), CAIRN_EIMPORTED);
    NOTHING_WRITTEN(f, cairn_cancel(f->j, a, 0, &who), CAIRN_EIMPORTED);
    NOTHING_WRITTEN(f, cairn_cancel(f->j, a, 1, &who), CAIRN_EIMPORTED);
    NOTHING_WRITTEN(f, cairn_accept_preflight(f->j, a, "pf-9", &who),
                    CAIRN_EIMPORTED);
    NOTHING_WRITTEN(f, cairn_hold(f->j, a, 0, &who), CAIRN_EIMPORTED);
    NOTHING_WRITTEN(f, cairn_release(f->j, a, &who), CAIRN_EIMPORTED);
    /* The run id stays taken. */
    cairn_plan *plan = vf_plan(VF_RUN_A);
    char out[CAIRN_MAX_ID + 1];
    NOTHING_WRITTEN(f, cairn_run_create(f->j, plan, NULL, out, sizeof(out)),
                    CAIRN_EEXIST);
    cairn_plan_free(plan);
    cairn_verify_report r;
    NOTHING_WRITTEN(f, cairn_import(f->j, bundle, sample->pk_a, 0, &r),
                    CAIRN_EEXIST);
    assert_int_equal(cairn_exit_code(CAIRN_EIMPORTED), 2);
}

static void test_refused_imports(void **state)
{
    fixture *f = *state;
    cairn_verify_report r;
    char ids[64] = "";
    /* No pinned key: INCOMPLETE at best. */
    NOTHING_WRITTEN(f, cairn_import(f->j, bundle, NULL, 0, &r),
                    CAIRN_EINCOMPLETE);
    assert_int_equal(r.verdict, CAIRN_VERDICT_INCOMPLETE);
    /* Another key: a key mismatch (INCOMPLETE), as verify-bundle says. */
    NOTHING_WRITTEN(f, cairn_import(f->j, bundle, sample->pk_b, 0, &r),
                    CAIRN_EINCOMPLETE);
    assert_int_equal(cairn_verdict_exit_code(r.verdict), 3);
    assert_true(r.key_mismatch);
    /* A flipped byte anywhere: the last one (a signature), one in the
     * middle, the version. */
    size_t len;
    char *bytes = tu_read_file(bundle, &len);
    size_t at[] = {len - 1, len / 2, 8};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        char *bad = tu_path(f->dir, "bad.cairn");
        char *bad_sig = tu_path(f->dir, "bad.cairn.minisig");
        char *sig = tu_path(sample->root, "a.cairn.minisig");
        size_t sl;
        char *s = tu_read_file(sig, &sl);
        bytes[at[i]] ^= 0x01;
        tu_write_file(bad, bytes, len);
        tu_write_file(bad_sig, s, sl);
        bytes[at[i]] ^= 0x01;
        NOTHING_WRITTEN(f, cairn_import(f->j, bad, sample->pk_a, 0, &r),
                        CAIRN_ETAMPERED);
        assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
        NOTHING_WRITTEN(f,
                        cairn_import(f->j, bad, sample->pk_a,
                                     CAIRN_BUNDLE_NO_SIGNATURE, &r),
                        CAIRN_ETAMPERED);
        unlink(bad);
        unlink(bad_sig);
        free(s);
        free(sig);
        free(bad);
        free(bad_sig);
    }
    /* Without its .minisig: INCOMPLETE, unless told not to check it. */
    char *bare = tu_path(f->dir, "bare.cairn");
    tu_write_file(bare, bytes, len);
    NOTHING_WRITTEN(f, cairn_import(f->j, bare, sample->pk_a, 0, &r),
                    CAIRN_EINCOMPLETE);
    assert_int_equal(cairn_import_each(f->j, collect, ids), CAIRN_OK);
    assert_string_equal(ids, "");
    assert_int_equal(
        cairn_import(f->j, bare, sample->pk_a, CAIRN_BUNDLE_NO_SIGNATURE, &r),
        CAIRN_OK);
    /* Stored without a .minisig: verify says it was not checked. */
    assert_int_equal(cairn_verify_run(f->j, VF_RUN_A, sample->pk_a, &r),
                     CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
    assert_non_null(strstr(r.reason, "not checked"));
    free(bare);
    free(bytes);
    /* Not a file; a bad flag; the source journal already has run-a. */
    assert_int_equal(cairn_import(f->j, f->dir, sample->pk_a, 0, &r),
                     CAIRN_EIO);
    assert_int_equal(cairn_import(f->j, bundle, sample->pk_a, 0x80, &r),
                     CAIRN_EINVAL);
    cairn_journal *src = vf_open(sample->dir, 0, NULL);
    assert_int_equal(cairn_import(src, bundle, sample->pk_a, 0, &r),
                     CAIRN_EEXIST);
    cairn_journal_close(src);
}

/* ---- planted and edited imports -------------------------------------- */

static uint8_t *stored(vf_raw *raw, MDB_dbi dbi, const char *key, size_t *vl)
{
    MDB_val k = {strlen(key), (void *)(uintptr_t)key}, d;
    assert_int_equal(mdb_get(raw->txn, dbi, &k, &d), 0);
    uint8_t *v = malloc(d.mv_size);
    assert_non_null(v);
    memcpy(v, d.mv_data, d.mv_size);
    *vl = d.mv_size;
    return v;
}

static void plant(vf_raw *raw, MDB_dbi dbi, const char *key, const uint8_t *v,
                  size_t vl)
{
    MDB_val k = {strlen(key), (void *)(uintptr_t)key};
    MDB_val d = {vl, (void *)(uintptr_t)v};
    assert_int_equal(mdb_put(raw->txn, dbi, &k, &d, 0), 0);
}

typedef enum {
    EDIT_BUNDLE,
    EDIT_STATE,
    EDIT_INDEX,
    EDIT_GARBAGE,
    EDIT_ZFRAME,    /* the last byte of a stored zstd frame (its checksum) */
    EDIT_UNPACKED,  /* version 2's unpacked_len, one less */
    EDIT_VERSION_1, /* a zstd value marked version 1 */
} edit;

static cairn_verify_report edited(fixture *f, edit e, const char *as)
{
    vf_raw raw;
    MDB_dbi dbi;
    size_t vl;
    char why[256];
    cairn_journal_close(f->j);
    f->j = NULL;
    vf_raw_open(&raw, f->dir);
    assert_int_equal(mdb_dbi_open(raw.txn, "imports", 0, &dbi), 0);
    uint8_t *v = stored(&raw, dbi, VF_RUN_A, &vl);
    cairn_import_value iv;
    assert_int_equal(cairn__import_value_decode(v, vl, &iv, why, sizeof(why)),
                     CAIRN_OK);
    size_t bundle_at = (size_t)(iv.bundle - v);
    size_t state_at = (size_t)(iv.state - v);
    switch (e) {
    case EDIT_BUNDLE: /* the plan id in the CREATE record */
        v[bundle_at + iv.recs[0].offset + iv.recs[0].len - 1] ^= 0x01;
        break;
    case EDIT_STATE: /* the state's updated_ns, lowest byte */
        v[state_at + 20] ^= 0x01;
        break;
    case EDIT_INDEX: /* the first record's position */
        v[vl - 16 * iv.n_recs + 7] ^= 0x40;
        break;
    case EDIT_GARBAGE:
        v[0] = 7;
        break;
    case EDIT_ZFRAME:
        assert_true(iv.compressed);
        v[bundle_at + iv.bundle_len - 1] ^= 0x01;
        break;
    case EDIT_UNPACKED:
        assert_true(iv.compressed);
        v[bundle_at + iv.bundle_len + 3]--;
        break;
    case EDIT_VERSION_1:
        assert_true(iv.compressed);
        v[0] = 1;
        break;
    }
    cairn__import_value_free(&iv);
    plant(&raw, dbi, as, v, vl);
    free(v);
    vf_raw_close(&raw);
    f->j = vf_open(f->dir, CAIRN_OPEN_READONLY, NULL);
    cairn_verify_report r;
    assert_int_equal(cairn_verify_run(f->j, as, sample->pk_a, &r), CAIRN_OK);
    return r;
}

static void test_edited_bundle(void **state)
{
    fixture *f = *state;
    import_ok(f);
    cairn_verify_report r = edited(f, EDIT_BUNDLE, VF_RUN_A);
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
}

static void test_edited_state(void **state)
{
    fixture *f = *state;
    import_ok(f);
    cairn_verify_report r = edited(f, EDIT_STATE, VF_RUN_A);
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "imports.state");
}

static void test_edited_index(void **state)
{
    fixture *f = *state;
    import_ok(f);
    cairn_verify_report r = edited(f, EDIT_INDEX, VF_RUN_A);
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
}

static void test_garbage(void **state)
{
    fixture *f = *state;
    import_ok(f);
    cairn_verify_report r = edited(f, EDIT_GARBAGE, VF_RUN_A);
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "imports");
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, VF_RUN_A, &s), CAIRN_ECORRUPT);
}

/* An honest value planted under another run id. */
static void test_planted(void **state)
{
    fixture *f = *state;
    import_ok(f);
    vf_raw raw;
    MDB_dbi dbi;
    size_t vl;
    cairn_journal_close(f->j);
    f->j = NULL;
    vf_raw_open(&raw, f->dir);
    assert_int_equal(mdb_dbi_open(raw.txn, "imports", 0, &dbi), 0);
    uint8_t *v = stored(&raw, dbi, VF_RUN_A, &vl);
    plant(&raw, dbi, "run-z", v, vl);
    free(v);
    vf_raw_close(&raw);
    f->j = vf_open(f->dir, CAIRN_OPEN_READONLY, NULL);
    cairn_verify_report r;
    assert_int_equal(cairn_verify_run(f->j, "run-z", sample->pk_a, &r),
                     CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "imports");
    /* status refuses it too: its state names another run. */
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, "run-z", &s), CAIRN_ECORRUPT);
}

/* ---- zstd bundles ------------------------------------------------------ */

static void import_zstd_ok(fixture *f)
{
    cairn_verify_report r;
    assert_int_equal(cairn_import(f->j, zbundle, sample->pk_a, 0, &r),
                     CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
    assert_non_null(strstr(r.reason, ".minisig verified"));
    assert_string_equal(r.run_id, VF_RUN_A);
    assert_int_equal(r.records, VF_A_RECORDS);
}

static void same_file(const char *a_path, const char *b_path)
{
    size_t la, lb;
    char *a = tu_read_file(a_path, &la), *b = tu_read_file(b_path, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
}

static void test_zstd_round_trip(void **state)
{
    fixture *f = *state;
    import_zstd_ok(f);
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, VF_RUN_A, &s), CAIRN_OK);
    assert_true(s->imported);
    assert_int_equal(s->records, VF_A_RECORDS);
    assert_memory_equal(s->head, sample->heads[VF_A_RECORDS - 1],
                        CAIRN_HASH_BYTES);
    cairn_summary_free(s);

    /* The records, as in the source journal, from any sequence on. */
    heads here;
    memset(&here, 0, sizeof(here));
    assert_int_equal(cairn_record_each(f->j, VF_RUN_A, 0, each_record, &here),
                     CAIRN_OK);
    assert_int_equal(here.n, VF_A_RECORDS);
    for (size_t i = 0; i < VF_A_RECORDS; i++) {
        assert_memory_equal(here.h[i], sample->heads[i], CAIRN_HASH_BYTES);
    }
    heads tail;
    memset(&tail, 0, sizeof(tail));
    tail.n = 10;
    assert_int_equal(cairn_record_each(f->j, VF_RUN_A, 10, each_record, &tail),
                     CAIRN_OK);
    assert_int_equal(tail.n, VF_A_RECORDS);
    assert_memory_equal(tail.h[12], sample->heads[12], CAIRN_HASH_BYTES);

    /* Verified from the stored bytes, the .minisig over the frame too. */
    cairn_verify_report r;
    assert_int_equal(cairn_verify_run(f->j, VF_RUN_A, sample->pk_a, &r),
                     CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
    assert_non_null(strstr(r.reason, ".minisig verified"));
    assert_int_equal(cairn_verify_run(f->j, VF_RUN_A, sample->pk_b, &r),
                     CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_INCOMPLETE);

    /* Exported back as given: the compressed file and its .minisig. */
    char *out = tu_path(f->dir, "out.cairn");
    assert_int_equal(cairn_import_export(f->j, VF_RUN_A, out), CAIRN_OK);
    same_file(zbundle, out);
    char *sa = tu_path(sample->root, "a.cairn.zst.minisig");
    char *sb = tu_path(f->dir, "out.cairn.minisig");
    same_file(sa, sb);
    free(sa);
    free(sb);
    assert_int_equal(
        cairn_verify_bundle_flags(out, sample->pk_a, 0, &r, NULL, 0), CAIRN_OK);
    assert_int_equal(r.verdict, CAIRN_VERDICT_VERIFIED);
    free(out);

    /* Stored as given: value version 2, the frame byte for byte, the
     * record index into the decompressed bundle. */
    cairn_journal_close(f->j);
    f->j = NULL;
    vf_raw raw;
    MDB_dbi dbi;
    size_t vl, zl;
    char why[256];
    vf_raw_open(&raw, f->dir);
    assert_int_equal(mdb_dbi_open(raw.txn, "imports", 0, &dbi), 0);
    uint8_t *v = stored(&raw, dbi, VF_RUN_A, &vl);
    vf_raw_close(&raw);
    assert_int_equal(v[0], CAIRN__IMPORT_VERSION_ZSTD);
    cairn_import_value iv;
    assert_int_equal(cairn__import_value_decode(v, vl, &iv, why, sizeof(why)),
                     CAIRN_OK);
    char *z = tu_read_file(zbundle, &zl);
    assert_true(iv.compressed);
    assert_int_equal(iv.bundle_len, zl);
    assert_memory_equal(iv.bundle, z, zl);
    assert_true(iv.unpacked_len > zl);
    uint8_t *owned = NULL;
    const uint8_t *plain = NULL;
    assert_int_equal(
        cairn__import_value_unpack(&iv, &owned, &plain, why, sizeof(why)),
        CAIRN_OK);
    assert_memory_equal(plain, "CAIRNBDL", 8);
    assert_true(iv.recs[VF_A_RECORDS - 1].offset +
                    iv.recs[VF_A_RECORDS - 1].len <=
                iv.unpacked_len);
    free(owned);
    free(z);
    cairn__import_value_free(&iv);
    free(v);
    f->j = vf_open(f->dir, 0, NULL);
}

/* Write @p n bytes of @p p to DIR/NAME, with the zstd bundle's .minisig
 * next to it; returns the path. */
static char *planted_file(fixture *f, const char *name, const char *p, size_t n)
{
    char *path = tu_path(f->dir, name);
    char sig_name[64];
    snprintf(sig_name, sizeof(sig_name), "%s.minisig", name);
    char *sig_path = tu_path(f->dir, sig_name);
    char *zsig = tu_path(sample->root, "a.cairn.zst.minisig");
    size_t sl;
    char *sig = tu_read_file(zsig, &sl);
    tu_write_file(path, p, n);
    tu_write_file(sig_path, sig, sl);
    free(sig);
    free(zsig);
    free(sig_path);
    return path;
}

static void test_zstd_refused(void **state)
{
    fixture *f = *state;
    cairn_verify_report r;
    char ids[64] = "";
    size_t zl;
    char *z = tu_read_file(zbundle, &zl);
    /* Cut short: the frame does not decompress. */
    char *cut = planted_file(f, "cut.cairn", z, zl / 2);
    NOTHING_WRITTEN(f, cairn_import(f->j, cut, sample->pk_a, 0, &r),
                    CAIRN_ETAMPERED);
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
    assert_int_equal(cairn_verdict_exit_code(r.verdict), 4);
    assert_string_equal(r.bad_field, "bundle");
    assert_non_null(strstr(r.reason, "zstd"));
    NOTHING_WRITTEN(
        f, cairn_import(f->j, cut, sample->pk_a, CAIRN_BUNDLE_NO_SIGNATURE, &r),
        CAIRN_ETAMPERED);
    /* A flipped byte in the frame: the frame's checksum or the .minisig,
     * and without the .minisig the frame or the records. */
    size_t at[] = {zl / 2, zl - 1, 20};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        z[at[i]] ^= 0x01;
        char *bad = planted_file(f, "bad.cairn", z, zl);
        z[at[i]] ^= 0x01;
        NOTHING_WRITTEN(f, cairn_import(f->j, bad, sample->pk_a, 0, &r),
                        CAIRN_ETAMPERED);
        assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
        NOTHING_WRITTEN(f,
                        cairn_import(f->j, bad, sample->pk_a,
                                     CAIRN_BUNDLE_NO_SIGNATURE, &r),
                        CAIRN_ETAMPERED);
        unlink(bad);
        free(bad);
    }
    assert_int_equal(cairn_import_each(f->j, collect, ids), CAIRN_OK);
    assert_string_equal(ids, "");
    /* The plain and the zstd bundle of one run: one import only. */
    import_zstd_ok(f);
    NOTHING_WRITTEN(f, cairn_import(f->j, bundle, sample->pk_a, 0, &r),
                    CAIRN_EEXIST);
    free(cut);
    free(z);
}

static void test_zstd_edited(void **state)
{
    fixture *f = *state;
    cairn_summary *s = NULL;
    heads h;
    import_zstd_ok(f);
    /* The frame's last byte: verify says TAMPERED, log cannot read the
     * records (status reads the stored state alone). */
    cairn_verify_report r = edited(f, EDIT_ZFRAME, VF_RUN_A);
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "bundle");
    memset(&h, 0, sizeof(h));
    assert_int_equal(cairn_record_each(f->j, VF_RUN_A, 0, each_record, &h),
                     CAIRN_ECORRUPT);
    assert_non_null(strstr(cairn_journal_errdetail(f->j), "zstd"));
    assert_int_equal(cairn_status(f->j, VF_RUN_A, &s), CAIRN_OK);
    cairn_summary_free(s);
    /* A zstd value marked version 1: does not decode. */
    r = edited(f, EDIT_VERSION_1, "run-v");
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "imports");
    assert_int_equal(cairn_status(f->j, "run-v", &s), CAIRN_ECORRUPT);
}

static void test_zstd_unpacked_len(void **state)
{
    fixture *f = *state;
    import_zstd_ok(f);
    cairn_verify_report r = edited(f, EDIT_UNPACKED, VF_RUN_A);
    assert_int_equal(r.verdict, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "imports.state");
    heads h;
    memset(&h, 0, sizeof(h));
    assert_int_equal(cairn_record_each(f->j, VF_RUN_A, 0, each_record, &h),
                     CAIRN_ECORRUPT);
    assert_int_equal(h.n, 0);
}

/* ---- the stored value's codec ---------------------------------------- */

static void test_value_codec(void **state)
{
    (void)state;
    static const uint8_t b[40] = {1};
    static const uint8_t st[3] = {9, 9, 9};
    cairn_import_rec recs[2] = {{5, 0, 10}, {9, 10, 30}};
    cairn_import_value v = {77, b,  sizeof(b),  (const uint8_t *)"sig",
                            3,  st, sizeof(st), recs,
                            2,  0,  0};
    uint8_t *enc = NULL;
    size_t len = 0;
    char why[256];
    assert_int_equal(cairn__import_value_encode(&v, &enc, &len), CAIRN_OK);
    assert_int_equal(len, 1 + 8 + 4 + 40 + 4 + 3 + 4 + 3 + 4 + 32);
    cairn_import_value d;
    assert_int_equal(cairn__import_value_decode(enc, len, &d, why, sizeof(why)),
                     CAIRN_OK);
    assert_int_equal(d.imported_ns, 77);
    assert_int_equal(d.n_recs, 2);
    assert_int_equal(d.recs[1].position, 9);
    assert_int_equal(d.minisig_len, 3);
    cairn__import_value_free(&d);
    /* every truncation and a trailing byte */
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(
            cairn__import_value_decode(enc, n, &d, why, sizeof(why)),
            CAIRN_ECORRUPT);
    }
    uint8_t *more = malloc(len + 1);
    memcpy(more, enc, len);
    more[len] = 0;
    assert_int_equal(
        cairn__import_value_decode(more, len + 1, &d, why, sizeof(why)),
        CAIRN_ECORRUPT);
    assert_non_null(strstr(why, "trailing"));
    free(more);
    free(enc);
    /* overlapping records, a record beyond the bundle, positions out of
     * order, no records: refused by the encoder's caller's decoder */
    cairn_import_rec bad[3][2] = {{{5, 0, 10}, {9, 5, 30}},
                                  {{5, 0, 10}, {9, 10, 31}},
                                  {{9, 0, 10}, {5, 10, 30}}};
    for (int i = 0; i < 3; i++) {
        v.recs = bad[i];
        assert_int_equal(cairn__import_value_encode(&v, &enc, &len), CAIRN_OK);
        assert_int_equal(
            cairn__import_value_decode(enc, len, &d, why, sizeof(why)),
            CAIRN_ECORRUPT);
        free(enc);
    }
    v.n_recs = 0;
    assert_int_equal(cairn__import_value_encode(&v, &enc, &len), CAIRN_EINVAL);
}

/* A stored import holds a run of up to CAIRN_MAX_OPS operations: its
 * CREATE record may be CAIRN_MAX_CREATE_RECORD_BYTES long (more than any
 * other record) and its section 9 state more than 64 MiB. */
static void test_value_limits(void **state)
{
    (void)state;
    size_t rec_len = (size_t)CAIRN_MAX_RECORD_BYTES + 1;
    size_t st_len = ((size_t)64 << 20) + 1;
    uint8_t *b = calloc(1, rec_len);
    uint8_t *st = calloc(1, st_len);
    assert_non_null(b);
    assert_non_null(st);
    cairn_import_rec recs[1] = {{5, 0, (uint32_t)rec_len}};
    cairn_import_value v = {77, b, rec_len, NULL, 0, st, st_len, recs, 1, 0, 0};
    uint8_t *enc = NULL;
    size_t len = 0;
    char why[256];
    assert_int_equal(cairn__import_value_encode(&v, &enc, &len), CAIRN_OK);
    cairn_import_value d;
    assert_int_equal(cairn__import_value_decode(enc, len, &d, why, sizeof(why)),
                     CAIRN_OK);
    assert_int_equal(d.state_len, st_len);
    assert_int_equal(d.recs[0].len, rec_len);
    cairn__import_value_free(&d);
    free(enc);
    /* beyond the limits: refused before anything is read */
    v.state_len = CAIRN__IMPORT_STATE_MAX + 1;
    assert_int_equal(cairn__import_value_encode(&v, &enc, &len), CAIRN_EINVAL);
    free(st);
    free(b);
}

static int sink(void *ctx, const uint8_t *p, size_t n)
{
    cairn_wr *w = ctx;
    cairn__wr_bytes(w, p, n);
    return cairn__wr_status(w) != CAIRN_OK;
}

/* Version 2: a zstd frame with its decompressed length, the records
 * inside that length; the version must match the bytes. */
static void test_value_codec_zstd(void **state)
{
    (void)state;
    uint8_t plain[40];
    for (size_t i = 0; i < sizeof(plain); i++) {
        plain[i] = (uint8_t)(i * 7u);
    }
    cairn__zc *zc = NULL;
    cairn_wr w;
    cairn__wr_init(&w, 4096);
    assert_int_equal(cairn__zc_new(3, &zc), CAIRN_OK);
    assert_int_equal(cairn__zc_put(zc, plain, sizeof(plain), sink, &w),
                     CAIRN_OK);
    assert_int_equal(cairn__zc_end(zc, sink, &w), CAIRN_OK);
    cairn__zc_free(zc);
    static const uint8_t st[3] = {9, 9, 9};
    cairn_import_rec recs[2] = {{5, 0, 10}, {9, 10, 30}};
    cairn_import_value v = {77,   w.p, w.len, NULL,         0, st, sizeof(st),
                            recs, 2,   1,     sizeof(plain)};
    uint8_t *enc = NULL, *owned = NULL;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    char why[256];
    assert_int_equal(cairn__import_value_encode(&v, &enc, &len), CAIRN_OK);
    assert_int_equal(len, 1 + 8 + 4 + w.len + 4 + 4 + 4 + 3 + 4 + 32);
    assert_int_equal(enc[0], CAIRN__IMPORT_VERSION_ZSTD);
    cairn_import_value d;
    assert_int_equal(cairn__import_value_decode(enc, len, &d, why, sizeof(why)),
                     CAIRN_OK);
    assert_true(d.compressed);
    assert_int_equal(d.unpacked_len, sizeof(plain));
    assert_int_equal(d.bundle_len, w.len);
    assert_int_equal(
        cairn__import_value_unpack(&d, &owned, &bytes, why, sizeof(why)),
        CAIRN_OK);
    assert_memory_equal(bytes, plain, sizeof(plain));
    free(owned);
    cairn__import_value_free(&d);
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(
            cairn__import_value_decode(enc, n, &d, why, sizeof(why)),
            CAIRN_ECORRUPT);
    }
    /* Marked version 1: a zstd bundle there is corrupt. */
    enc[0] = CAIRN__IMPORT_VERSION;
    assert_int_equal(cairn__import_value_decode(enc, len, &d, why, sizeof(why)),
                     CAIRN_ECORRUPT);
    assert_non_null(strstr(why, "zstd, but version 1"));
    free(enc);
    /* Another decompressed length: decodes (the one record lies inside
     * either), but does not unpack. */
    size_t lens[] = {sizeof(plain) - 1, sizeof(plain) + 1};
    v.n_recs = 1;
    for (size_t i = 0; i < 2; i++) {
        v.unpacked_len = lens[i];
        assert_int_equal(cairn__import_value_encode(&v, &enc, &len), CAIRN_OK);
        assert_int_equal(
            cairn__import_value_decode(enc, len, &d, why, sizeof(why)),
            CAIRN_OK);
        owned = NULL;
        assert_int_equal(
            cairn__import_value_unpack(&d, &owned, &bytes, why, sizeof(why)),
            CAIRN_ECORRUPT);
        assert_null(owned);
        assert_non_null(strstr(why, "import: the stored zstd bundle"));
        cairn__import_value_free(&d);
        free(enc);
    }
    /* A record beyond the decompressed length. */
    v.n_recs = 2;
    v.unpacked_len = 39;
    assert_int_equal(cairn__import_value_encode(&v, &enc, &len), CAIRN_OK);
    assert_int_equal(cairn__import_value_decode(enc, len, &d, why, sizeof(why)),
                     CAIRN_ECORRUPT);
    free(enc);
    /* The encoder refuses a version the bytes do not match, and a zero
     * decompressed length. */
    v.unpacked_len = 0;
    assert_int_equal(cairn__import_value_encode(&v, &enc, &len), CAIRN_EINVAL);
    v.unpacked_len = sizeof(plain);
    v.compressed = 0;
    assert_int_equal(cairn__import_value_encode(&v, &enc, &len), CAIRN_EINVAL);
    v.bundle = plain;
    v.bundle_len = sizeof(plain);
    v.compressed = 1;
    assert_int_equal(cairn__import_value_encode(&v, &enc, &len), CAIRN_EINVAL);
    /* A plain value marked version 2: not zstd. */
    v.compressed = 0;
    assert_int_equal(cairn__import_value_encode(&v, &enc, &len), CAIRN_OK);
    enc[0] = CAIRN__IMPORT_VERSION_ZSTD;
    assert_int_equal(cairn__import_value_decode(enc, len, &d, why, sizeof(why)),
                     CAIRN_ECORRUPT);
    assert_non_null(strstr(why, "version 2 but not zstd"));
    free(enc);
    cairn__wr_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopened, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_imports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edited_bundle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edited_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edited_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planted, setup, teardown),
        cmocka_unit_test(test_value_codec),
        cmocka_unit_test(test_value_limits),
        cmocka_unit_test(test_value_codec_zstd),
        cmocka_unit_test_setup_teardown(test_zstd_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_edited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_unpacked_len, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
