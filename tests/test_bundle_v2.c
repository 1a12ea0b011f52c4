/*
 * test_bundle_v2.c - bundle version 2 (docs/FORMAT.md section 19): the
 * round trip from a format-2 journal (head, proofs, state, export time,
 * FILE.tlog-proof, the trusted comment), every new field tampered (the
 * field named), truncated and overlong lengths (CAIRN_EBUNDLE with the
 * offset), a bundle cut back to an earlier commit, and anchors: an old
 * bundle after the run moved on, forks, other journals and keys, and the
 * export's refusals.
 */
#include "testutil.h"

#define VF_SHARED_SAMPLE
#include "helpers/verify_fixture.h"

#include "base/sys.h"
#include "base/zstd.h"

static int wr_sink(void *ctx, const uint8_t *p, size_t n)
{
    cairn__wr_bytes(ctx, p, n);
    return cairn__wr_status(ctx) != CAIRN_OK;
}

static char *path_of(const char *name)
{
    return tu_path(sample->root, name);
}

static char *suffixed(const char *path, const char *suffix)
{
    size_t n = strlen(path) + strlen(suffix) + 1;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%s%s", path, suffix);
    return s;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static cairn_err export_opts(const char *dir, const char *run, const char *path,
                             const char *const *anchors, size_t n,
                             cairn_export_result *res)
{
    cairn_journal *j = NULL;
    char detail[256];
    size_t lens[CAIRN_BUNDLE_MAX_ANCHORS + 1];
    assert_true(n <= CAIRN_BUNDLE_MAX_ANCHORS + 1);
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(anchors[i]);
    }
    cairn_export_opts o = {0, anchors, lens, n};
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    cairn_err err = cairn_export_bundle_opts(j, run, sample->a, path, &o, res);
    if (err != CAIRN_OK) {
        assert_true(cairn_journal_errdetail(j)[0] != '\0');
    }
    cairn_journal_close(j);
    return err;
}

static cairn_err verify_opts(const char *path, unsigned flags,
                             const char *const *anchors, size_t n,
                             cairn_verify_report *r, cairn_bundle_info *info)
{
    char detail[256];
    size_t lens[CAIRN_BUNDLE_MAX_ANCHORS + 1];
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(anchors[i]);
    }
    cairn_bundle_verify_opts o = {sample->pk_a, flags, anchors, lens, n};
    cairn_err err =
        cairn_verify_bundle_opts(path, &o, r, info, detail, sizeof(detail));
    if (err == CAIRN_EBUNDLE) {
        assert_true(strncmp(detail, "offset ", 7) == 0);
    }
    return err;
}

/* meta "head" of journal @p dir, NUL-terminated (malloc'd). */
static char *head_of(const char *dir)
{
    vf_raw raw;
    size_t n;
    vf_raw_open(&raw, dir);
    uint8_t *v = vf_get(&raw, VR_META, "head", 4, &n);
    vf_raw_close(&raw);
    assert_non_null(v);
    v[n] = '\0';
    return (char *)v;
}

/* Offset of the trailer: after the records and checkpoints. */
static size_t trailer_off(const uint8_t *b)
{
    size_t off = 25;
    off += 2u + cairn__load16_be(b + off) + 8u + 32u;
    uint32_t nr = cairn__load32_be(b + off);
    off += 4;
    for (uint32_t i = 0; i < nr; i++) {
        off += 12u + cairn__load32_be(b + off + 8);
    }
    uint32_t nc = cairn__load32_be(b + off);
    return off + 4u + (size_t)nc * (8u + CAIRN_CHECKPOINT_BYTES);
}

/* The trailer's field offsets. */
typedef struct toff {
    size_t time, head_len, head, tree, state_len, state, sproof, anchors;
} toff;

static toff offsets(const uint8_t *b)
{
    toff t;
    t.time = trailer_off(b);
    t.head_len = t.time + 8;
    t.head = t.head_len + 2;
    t.tree = t.head + cairn__load16_be(b + t.head_len);
    t.state_len = t.tree + 1u + (size_t)b[t.tree] * 32u;
    t.state = t.state_len + 4;
    t.sproof = t.state + cairn__load32_be(b + t.state_len);
    t.anchors = t.sproof + 1u + (size_t)b[t.sproof] * 32u;
    return t;
}

static void test_v2_roundtrip(void **state)
{
    (void)state;
    char *path = path_of("v2.bundle"), *sig = suffixed(path, ".minisig");
    char *tp = suffixed(path, ".tlog-proof");
    char detail[256], tc[CAIRN__TRUSTED_COMMENT_MAX + 1], want[600];
    cairn_verify_report r;
    cairn_bundle_info info;
    cairn_export_result res;
    uint64_t before = cairn__wall_ns();
    assert_int_equal(export_opts(sample->dir, VF_RUN_A, path, NULL, 0, &res),
                     CAIRN_OK);
    assert_true(exists(path) && exists(sig) && exists(tp));
    assert_int_equal(res.version, 2);
    assert_true(res.tlog_proof);
    assert_true(res.exported_ns >= before);
    assert_int_equal(res.tree_size, 16); /* 13 + 3 records */
    assert_int_equal(res.state, CAIRN_RUN_RUNNING);
    assert_int_equal(verify_opts(path, 0, NULL, 0, &r, &info), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(r.format, 2);
    assert_true(r.journal_head.present && r.journal_head.signature_ok);
    assert_int_equal(r.journal_head.size, 16);
    assert_int_equal(r.journal_head.runs, 2);
    assert_int_equal(info.version, 2);
    assert_int_equal(info.exported_ns, res.exported_ns);
    assert_true(info.state_proven);
    assert_int_equal(info.state, CAIRN_RUN_RUNNING);
    assert_int_equal(info.total, 8);
    assert_int_equal(info.done, 4);
    assert_int_equal(info.in_doubt, 0);
    assert_int_equal(info.tlog_proof, 1);
    assert_non_null(strstr(r.reason, "proven under the journal head of 16"));
    /* The trusted comment names export time, state and tree size. */
    size_t bl, sl;
    char *b = tu_read_file(path, &bl), *s = tu_read_file(sig, &sl);
    assert_int_equal((uint8_t)b[8], 2);
    assert_int_equal(cairn__minisig_verify(sample->pk_a, b, bl, s, sl, tc,
                                           sizeof(tc), detail, sizeof(detail)),
                     CAIRN_OK);
    cairn__bundle_comment_v2 v2 = {res.exported_ns, CAIRN_RUN_RUNNING, 16};
    cairn__bundle_comment_ex(VF_RUN_A, VF_A_RECORDS,
                             sample->heads[VF_A_RECORDS - 1],
                             sample->journal_id, &v2, want, sizeof(want));
    assert_string_equal(tc, want);
    assert_non_null(strstr(tc, " exported="));
    assert_non_null(strstr(tc, " state=running tree=16"));
    /* FILE.tlog-proof: a C2SP tlog proof of the last record under the
     * head, which is the journal's head verbatim. */
    size_t tl;
    char *t = tu_read_file(tp, &tl), *head = head_of(sample->dir);
    cairn_tlog_proof p;
    assert_int_equal(cairn__tlog_proof_parse(t, tl, &p, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(p.note_len, strlen(head));
    assert_memory_equal(p.note, head, p.note_len);
    uint8_t leaf[CAIRN_HASH_BYTES];
    memcpy(leaf, sample->heads[VF_A_RECORDS - 1], CAIRN_HASH_BYTES);
    assert_int_equal(
        cairn__mt_check_inclusion(p.index, p.checkpoint.size, leaf,
                                  (const uint8_t(*)[CAIRN_HASH_BYTES])p.hashes,
                                  p.n_hashes, p.checkpoint.root),
        0);
    assert_int_equal(p.index, 15); /* run-a's last record is position 16 */
    /* Nothing is overwritten, FILE.tlog-proof included. */
    unlink(path);
    unlink(sig);
    assert_int_equal(export_opts(sample->dir, VF_RUN_A, path, NULL, 0, NULL),
                     CAIRN_EEXIST);
    assert_false(exists(path) || exists(sig));
    unlink(tp);
    free(b);
    free(s);
    free(t);
    free(head);
    free(path);
    free(sig);
    free(tp);
}

/* Write @p b (one byte XORed at @p off when off < n) to a fresh path with
 * no .minisig and verify it without one: the content checks alone. */
static cairn_verify_report flip_verify(const uint8_t *b, size_t n, size_t off,
                                       uint8_t x)
{
    char *path = path_of("flip.bundle");
    uint8_t *c = malloc(n);
    cairn_verify_report r;
    assert_non_null(c);
    memcpy(c, b, n);
    if (off < n) {
        c[off] ^= x;
    }
    tu_write_file(path, c, n);
    assert_int_equal(
        verify_opts(path, CAIRN_BUNDLE_NO_SIGNATURE, NULL, 0, &r, NULL),
        CAIRN_OK);
    unlink(path);
    free(path);
    free(c);
    return r;
}

static void expect_field(cairn_verify_report r, const char *field)
{
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, field);
}

static void test_v2_tampered_fields(void **state)
{
    (void)state;
    char *path = path_of("t.bundle"), *sig = suffixed(path, ".minisig");
    char *tp = suffixed(path, ".tlog-proof");
    size_t n;
    assert_int_equal(export_opts(sample->dir, VF_RUN_A, path, NULL, 0, NULL),
                     CAIRN_OK);
    uint8_t *b = (uint8_t *)tu_read_file(path, &n);
    toff o = offsets(b);
    assert_int_equal(o.anchors, n - 1); /* no anchors: one count byte */
    /* Untouched it verifies without the .minisig too. */
    cairn_verify_report r = flip_verify(b, n, SIZE_MAX, 0);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    /* The head: a digit of its size line, and its signature. */
    const char *h = (const char *)b + o.head;
    size_t hl = cairn__load16_be(b + o.head_len);
    const char *nl = memchr(h, '\n', hl);
    expect_field(flip_verify(b, n, (size_t)(nl + 1 - (const char *)b), 0x01),
                 "bundle.head");
    expect_field(flip_verify(b, n, o.head + hl - 10, 0x01), "bundle.head");
    /* A hash of the inclusion proof, a byte of the state, a hash of the
     * state proof. */
    assert_true(b[o.tree] > 0 && b[o.sproof] > 0);
    expect_field(flip_verify(b, n, o.tree + 1 + 5, 0x80), "bundle.tree_proof");
    expect_field(flip_verify(b, n, o.state + 20, 0x01), "bundle.state");
    expect_field(flip_verify(b, n, o.sproof + 1 + 31, 0x01),
                 "bundle.state_proof");
    /* The export time is signed by the .minisig alone: changed, the
     * bundle's own checks pass, the .minisig does not. */
    char *c = path_of("time.bundle"), *csig = suffixed(c, ".minisig");
    size_t sl;
    char *s = tu_read_file(sig, &sl);
    b[o.time + 7] ^= 0x01;
    tu_write_file(c, b, n);
    tu_write_file(csig, s, sl);
    cairn_bundle_info info;
    assert_int_equal(verify_opts(c, 0, NULL, 0, &r, &info), CAIRN_OK);
    expect_field(r, "minisig");
    /* A .minisig re-signed with the right key over a wrong comment. */
    char *text = NULL;
    size_t tl = 0;
    assert_int_equal(cairn__minisig_create(sample->a, b, n, NULL,
                                           "cairn bundle run=run-a records=13",
                                           &text, &tl),
                     CAIRN_OK);
    unlink(csig);
    tu_write_file(csig, text, tl);
    assert_int_equal(verify_opts(c, 0, NULL, 0, &r, &info), CAIRN_OK);
    expect_field(r, "minisig.comment");
    free(text);
    b[o.time + 7] ^= 0x01;
    unlink(c);
    unlink(csig);
    /* FILE.tlog-proof must be the bundle's own proof and head. */
    assert_int_equal(verify_opts(path, 0, NULL, 0, &r, &info), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    size_t pl;
    char *p = tu_read_file(tp, &pl);
    p[40] ^= 0x01;
    unlink(tp);
    tu_write_file(tp, p, pl);
    assert_int_equal(verify_opts(path, 0, NULL, 0, &r, &info), CAIRN_OK);
    expect_field(r, "tlog-proof");
    assert_int_equal(info.tlog_proof, -1);
    /* Absent is fine. */
    unlink(tp);
    assert_int_equal(verify_opts(path, 0, NULL, 0, &r, &info), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(info.tlog_proof, 0);
    free(p);
    free(s);
    free(c);
    free(csig);
    free(b);
    unlink(path);
    unlink(sig);
    free(path);
    free(sig);
    free(tp);
}

/* The last record of a version-2 bundle edited (its mono_ns: the same
 * length, still a valid record) and its head-sealed checkpoint re-sealed
 * to the new leaf hash: nothing per-run is signed, so only the head can
 * tell, and it does (the tree proof no longer leads to its root).  With
 * or without a key it is never VERIFIED; and an untouched bundle is not
 * VERIFIED without a key to check the head's signature. */
static void test_v2_resealed_record(void **state)
{
    (void)state;
    char *path = path_of("r.bundle"), *sig = suffixed(path, ".minisig");
    char *tp = suffixed(path, ".tlog-proof"), detail[256];
    size_t n;
    assert_int_equal(export_opts(sample->dir, VF_RUN_A, path, NULL, 0, NULL),
                     CAIRN_OK);
    uint8_t *b = (uint8_t *)tu_read_file(path, &n);
    /* walk to the last record and the last checkpoint */
    size_t off = 25;
    off += 2u + cairn__load16_be(b + off) + 8u + 32u;
    uint32_t nr = cairn__load32_be(b + off);
    off += 4;
    size_t last = 0, last_len = 0;
    for (uint32_t i = 0; i < nr; i++) {
        last = off + 12u;
        last_len = cairn__load32_be(b + off + 8);
        off += 12u + last_len;
    }
    uint32_t nc = cairn__load32_be(b + off);
    size_t cp =
        off + 4u + (size_t)(nc - 1) * (8u + CAIRN_CHECKPOINT_BYTES) + 8u;
    assert_int_equal(b[cp + 1], 2); /* head-sealed, format 2 */
    cairn_record rec;
    uint8_t *enc = NULL;
    size_t el = 0;
    assert_int_equal(cairn__record_decode(b + last, last_len, &rec, NULL, 0),
                     CAIRN_OK);
    rec.mono_ns += 1;
    assert_int_equal(cairn__record_encode(&rec, &enc, &el, NULL, 0), CAIRN_OK);
    assert_int_equal(el, last_len);
    memcpy(b + last, enc, el);
    cairn__leaf_hash(enc, el, b + cp + 18); /* the checkpoint's head */
    free(enc);
    cairn__record_free(&rec);
    cairn_verify_report r = flip_verify(b, n, SIZE_MAX, 0);
    expect_field(r, "bundle.tree_proof");
    /* without a key: the same proof fails */
    char *fp = path_of("r2.bundle");
    tu_write_file(fp, b, n);
    cairn_bundle_verify_opts o = {NULL, CAIRN_BUNDLE_NO_SIGNATURE, NULL, NULL,
                                  0};
    assert_int_equal(
        cairn_verify_bundle_opts(fp, &o, &r, NULL, detail, sizeof(detail)),
        CAIRN_OK);
    expect_field(r, "bundle.tree_proof");
    unlink(fp);
    /* the honest bundle without a key: the head's signature is unchecked */
    assert_int_equal(
        cairn_verify_bundle_opts(path, &o, &r, NULL, detail, sizeof(detail)),
        CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_int_equal(r.head_sealed, VF_A_RECORDS);
    assert_false(r.journal_head.signature_ok);
    free(fp);
    free(b);
    unlink(path);
    unlink(sig);
    unlink(tp);
    free(path);
    free(sig);
    free(tp);
}

/* Bytes @p b with the 16/32-bit field at @p off set to @p v (and cut to
 * @p len), verified: CAIRN_EBUNDLE naming @p want_off. */
static void expect_ebundle(const uint8_t *b, size_t n, size_t len, size_t field,
                           int width, uint32_t v, size_t want_off,
                           const char *what)
{
    char *path = path_of("e.bundle"), detail[256], want[64];
    uint8_t *c = malloc(n + 1);
    cairn_verify_report r;
    assert_non_null(c);
    memcpy(c, b, n);
    c[n] = 0;
    if (width == 1) {
        c[field] = (uint8_t)v;
    } else if (width == 2) {
        cairn__store16_be(c + field, (uint16_t)v);
    } else if (width == 4) {
        cairn__store32_be(c + field, v);
    }
    tu_write_file(path, c, len);
    cairn_bundle_verify_opts o = {sample->pk_a, CAIRN_BUNDLE_NO_SIGNATURE, NULL,
                                  NULL, 0};
    assert_int_equal(
        cairn_verify_bundle_opts(path, &o, &r, NULL, detail, sizeof(detail)),
        CAIRN_EBUNDLE);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_string_equal(r.bad_field, "bundle");
    snprintf(want, sizeof(want), "offset %zu: ", want_off);
    if (strncmp(detail, want, strlen(want)) != 0 ||
        strstr(detail, what) == NULL) {
        print_error("detail \"%s\", want \"%s...%s\"\n", detail, want, what);
        fail();
    }
    unlink(path);
    free(path);
    free(c);
}

static void test_v2_lengths(void **state)
{
    (void)state;
    char *path = path_of("l.bundle"), *sig = suffixed(path, ".minisig");
    char *tp = suffixed(path, ".tlog-proof");
    size_t n;
    assert_int_equal(export_opts(sample->dir, VF_RUN_A, path, NULL, 0, NULL),
                     CAIRN_OK);
    uint8_t *b = (uint8_t *)tu_read_file(path, &n);
    toff o = offsets(b);
    /* Cut inside each field: the offset of the field that is short. */
    expect_ebundle(b, n, o.time + 4, 0, 0, 0, o.time, "export time");
    expect_ebundle(b, n, o.head + 3, 0, 0, 0, o.head_len, "head: length");
    expect_ebundle(b, n, o.tree + 20, 0, 0, 0, o.tree, "tree proof");
    expect_ebundle(b, n, o.state + 3, 0, 0, 0, o.state_len, "state: length");
    expect_ebundle(b, n, o.sproof + 2, 0, 0, 0, o.sproof, "state proof");
    expect_ebundle(b, n, n - 1, 0, 0, 0, n - 1, "anchor count");
    /* Overlong or out-of-range lengths. */
    expect_ebundle(b, n, n, o.head_len, 2, 0xffff, o.head_len,
                   "head: length 65535 out of range");
    expect_ebundle(b, n, n, o.head_len, 2, 0, o.head_len, "head: length 0");
    expect_ebundle(b, n, n, o.tree, 1, 64, o.tree, "tree proof");
    expect_ebundle(b, n, n, o.tree, 1, 63, o.tree, "tree proof");
    expect_ebundle(b, n, n, o.state_len, 4, 0xffffffffu, o.state_len,
                   "state: length 4294967295 out of range");
    expect_ebundle(b, n, n, o.sproof, 1, 200, o.sproof, "state proof");
    expect_ebundle(b, n, n, o.anchors, 1, 17, o.anchors, "anchor count");
    expect_ebundle(b, n, n, o.anchors, 1, 1, o.anchors + 1, "anchor 0: size");
    expect_ebundle(b, n, n + 1, 0, 0, 0, n, "1 bytes after the trailer");
    /* A zero export time. */
    uint8_t *z = malloc(n);
    assert_non_null(z);
    memcpy(z, b, n);
    memset(z + o.time, 0, 8);
    expect_ebundle(z, n, n, 0, 0, 0, o.time, "export time");
    free(z);
    free(b);
    unlink(path);
    unlink(sig);
    unlink(tp);
    free(path);
    free(sig);
    free(tp);
}

/* The first @p keep records and checkpoints of a version-2 bundle,
 * re-framed, with the original trailer. */
static uint8_t *cut_v2(const uint8_t *b, size_t n, uint32_t keep,
                       size_t *out_len)
{
    size_t off = 25, w;
    off += 2u + cairn__load16_be(b + off) + 8u + 32u;
    uint8_t *out = malloc(n);
    assert_non_null(out);
    memcpy(out, b, off);
    uint32_t total = cairn__load32_be(b + off);
    cairn__store32_be(out + off, keep);
    off += 4;
    w = off;
    for (uint32_t i = 0; i < total; i++) {
        size_t len = 12u + cairn__load32_be(b + off + 8);
        if (i < keep) {
            memcpy(out + w, b + off, len);
            w += len;
        }
        off += len;
    }
    uint32_t ncp = cairn__load32_be(b + off);
    off += 4;
    cairn__store32_be(out + w, keep);
    w += 4;
    memcpy(out + w, b + off, (size_t)keep * (8 + CAIRN_CHECKPOINT_BYTES));
    w += (size_t)keep * (8 + CAIRN_CHECKPOINT_BYTES);
    off += (size_t)ncp * (8 + CAIRN_CHECKPOINT_BYTES);
    memcpy(out + w, b + off, n - off);
    *out_len = w + n - off;
    return out;
}

static void test_v2_cut_back(void **state)
{
    (void)state;
    char *path = path_of("c.bundle"), *sig = suffixed(path, ".minisig");
    char *tp = suffixed(path, ".tlog-proof");
    size_t n, cl;
    assert_int_equal(export_opts(sample->dir, VF_RUN_A, path, NULL, 0, NULL),
                     CAIRN_OK);
    uint8_t *b = (uint8_t *)tu_read_file(path, &n);
    uint8_t *c = cut_v2(b, n, 9, &cl);
    /* Version 1 needed the .minisig to catch this; version 2's head and
     * proofs catch it even with --no-signature. */
    cairn_verify_report r = flip_verify(c, cl, SIZE_MAX, 0);
    expect_field(r, "bundle.tree_proof");
    assert_int_equal(r.records, 9);
    free(c);
    free(b);
    unlink(path);
    unlink(sig);
    unlink(tp);
    free(path);
    free(sig);
    free(tp);
}

/* A signed checkpoint of the sample's journal with another root, size
 * @p size, signed by @p signer; its extension lines @p ext (cairn's two
 * when NULL). */
static char *forged_anchor_ext(const cairn_signer *signer, uint64_t size,
                               const char *ext)
{
    char origin[64], text[512], detail[256];
    char jh[33];
    cairn_wr w;
    cairn__hex(sample->journal_id, CAIRN_JOURNAL_ID_BYTES, jh);
    snprintf(origin, sizeof(origin), "cairn/journal/%s", jh);
    if (ext == NULL) {
        ext = "cairn-state 1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
              "cairn-time 1796659206586194576\n";
    }
    snprintf(text, sizeof(text),
             "%s\n%llu\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n%s",
             origin, (unsigned long long)size, ext);
    cairn__wr_init(&w, 4096);
    assert_int_equal(cairn__note_sign(&w, text, strlen(text), origin,
                                      strlen(origin), signer->sk, detail,
                                      sizeof(detail)),
                     CAIRN_OK);
    char *out = malloc(w.len + 1);
    assert_non_null(out);
    memcpy(out, w.p, w.len);
    out[w.len] = '\0';
    cairn__wr_free(&w);
    return out;
}

static char *forged_anchor(const cairn_signer *signer, uint64_t size)
{
    return forged_anchor_ext(signer, size, NULL);
}

/* The text of note @p note signed again by @p signer alone. */
static char *resigned(const char *note, const cairn_signer *signer)
{
    const char *blank = strstr(note, "\n\n");
    char origin[64], detail[256];
    cairn_wr w;
    assert_non_null(blank);
    const char *nl = strchr(note, '\n');
    snprintf(origin, sizeof(origin), "%.*s", (int)(nl - note), note);
    cairn__wr_init(&w, 4096);
    assert_int_equal(cairn__note_sign(&w, note, (size_t)(blank + 1 - note),
                                      origin, strlen(origin), signer->sk,
                                      detail, sizeof(detail)),
                     CAIRN_OK);
    char *out = malloc(w.len + 1);
    assert_non_null(out);
    memcpy(out, w.p, w.len);
    out[w.len] = '\0';
    cairn__wr_free(&w);
    return out;
}

static void test_v2_anchors(void **state)
{
    (void)state;
    char *dir = vf_copy(sample->dir);
    char *old = path_of("old.bundle"), *fresh = path_of("new.bundle");
    char *bad = path_of("bad.bundle");
    char *anchor_old = head_of(dir), detail[256];
    cairn_verify_report r;
    cairn_bundle_info info;
    cairn_journal *j = NULL;
    /* The old bundle, then the run moves on by two records. */
    assert_int_equal(export_opts(dir, VF_RUN_A, old, NULL, 0, NULL), CAIRN_OK);
    assert_int_equal(cairn_journal_open(dir, 0, &j, detail, sizeof(detail)),
                     CAIRN_OK);
    cairn_journal_set_signer(j, sample->a);
    vf_claim(j, VF_RUN_A, -1);
    vf_receipt(j, VF_RUN_A, 4, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    cairn_journal_close(j);
    char *anchor_new = head_of(dir);
    const char *a_old[] = {anchor_old}, *a_new[] = {anchor_new};
    const char *both[] = {anchor_new, anchor_old};
    /* Alone, the old bundle still verifies: it is genuine, and says when
     * it was exported and in which state the run was. */
    assert_int_equal(verify_opts(old, 0, NULL, 0, &r, &info), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(r.journal_head.size, 16);
    /* With the newer anchor it is never VERIFIED: re-export. */
    assert_int_equal(verify_opts(old, 0, a_new, 1, &r, &info), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_int_equal(info.n_anchors, 1);
    assert_int_equal(info.anchors[0].size, 18);
    assert_int_equal(info.anchors[0].verdict, CAIRN_VERDICT_INCOMPLETE);
    assert_non_null(strstr(r.reason, "the bundle predates the anchor"));
    /* The old anchor at the old bundle's own size: equal roots. */
    assert_int_equal(verify_opts(old, 0, a_old, 1, &r, &info), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    /* A new bundle exported with the old anchor proves consistency;
     * without that proof the old anchor is INCOMPLETE. */
    assert_int_equal(export_opts(dir, VF_RUN_A, fresh, a_old, 1, NULL),
                     CAIRN_OK);
    assert_int_equal(verify_opts(fresh, 0, both, 2, &r, &info), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(info.anchors[0].verdict, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(info.anchors[1].verdict, CAIRN_VERDICT_VERIFIED);
    assert_non_null(strstr(r.reason, "consistent with 2 anchor(s)"));
    assert_int_equal(export_opts(dir, VF_RUN_A, bad, NULL, 0, NULL), CAIRN_OK);
    assert_int_equal(verify_opts(bad, 0, a_old, 1, &r, &info), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_non_null(strstr(r.reason, "export with --anchor"));
    /* Forks: another root at the same size, or at a smaller one. */
    char *fork_eq = forged_anchor(sample->a, 18);
    char *fork_lt = forged_anchor(sample->a, 16);
    const char *f_eq[] = {fork_eq}, *f_lt[] = {fork_lt};
    assert_int_equal(verify_opts(fresh, 0, f_eq, 1, &r, &info), CAIRN_OK);
    expect_field(r, "anchor");
    assert_non_null(strstr(r.reason, "a fork"));
    assert_int_equal(verify_opts(fresh, 0, f_lt, 1, &r, &info), CAIRN_OK);
    expect_field(r, "anchor");
    assert_non_null(strstr(r.reason, "not consistent"));
    /* The real checkpoint signed by another key: at best INCOMPLETE,
     * never VERIFIED, never TAMPERED (it is consistent). */
    char *other_key = resigned(anchor_new, sample->b);
    const char *f_key[] = {other_key};
    assert_int_equal(verify_opts(fresh, 0, f_key, 1, &r, &info), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_INCOMPLETE);
    assert_non_null(strstr(r.reason, "not signed by the pinned key"));
    /* The same key's signature broken: TAMPERED. */
    char *broken = strdup(anchor_new);
    assert_non_null(broken);
    /* A base64 character carrying six signature bits (the line ends in
     * "<char with unused bits>=\n"). */
    char *bc = broken + strlen(broken) - 5;
    *bc = *bc == 'A' ? 'B' : 'A';
    const char *f_broken[] = {broken};
    assert_int_equal(verify_opts(fresh, 0, f_broken, 1, &r, &info), CAIRN_OK);
    expect_field(r, "anchor");
    free(broken);
    /* Another journal's origin: TAMPERED; malformed: CAIRN_EINVAL. */
    char *other = strdup(anchor_new);
    assert_non_null(other);
    other[20] = other[20] == '0' ? '1' : '0';
    const char *f_other[] = {other}, *junk[] = {"nonsense\n"};
    assert_int_equal(verify_opts(bad, 0, f_other, 1, &r, &info), CAIRN_OK);
    expect_field(r, "anchor");
    assert_non_null(strstr(r.reason, "is not this journal's"));
    assert_int_equal(verify_opts(bad, 0, junk, 1, &r, &info), CAIRN_EINVAL);
    /* The export refuses such anchors and writes nothing. */
    char *x = path_of("x.bundle"), *xs = suffixed(x, ".minisig");
    char *xt = suffixed(x, ".tlog-proof");
    assert_int_equal(export_opts(dir, VF_RUN_A, x, f_eq, 1, NULL),
                     CAIRN_ETAMPERED);
    assert_int_equal(export_opts(dir, VF_RUN_A, x, junk, 1, NULL),
                     CAIRN_EINVAL);
    assert_int_equal(export_opts(dir, VF_RUN_A, x, f_other, 1, NULL),
                     CAIRN_EINVAL);
    assert_int_equal(export_opts(dir, VF_RUN_A, x, f_key, 1, NULL),
                     CAIRN_EINVAL);
    char *ahead = forged_anchor(sample->a, 99);
    const char *f_ahead[] = {ahead};
    assert_int_equal(export_opts(dir, VF_RUN_A, x, f_ahead, 1, NULL),
                     CAIRN_ETAMPERED);
    assert_false(exists(x) || exists(xs) || exists(xt));
    /* The old journal copy (16 records) is not consistent with an anchor
     * of 18: a rollback. */
    assert_int_equal(export_opts(sample->dir, VF_RUN_A, x, a_new, 1, NULL),
                     CAIRN_ETAMPERED);
    assert_false(exists(x) || exists(xs) || exists(xt));
    free(ahead);
    free(x);
    free(xs);
    free(xt);
    free(other);
    free(other_key);
    free(fork_eq);
    free(fork_lt);
    free(anchor_old);
    free(anchor_new);
    free(old);
    free(fresh);
    free(bad);
    tu_rmtree(dir);
}

/* The first three lines of note @p note (origin, size, root) with the
 * extension lines @p ext, signed by @p signer. */
static char *reshaped(const char *note, const char *ext,
                      const cairn_signer *signer)
{
    const char *end = note;
    char origin[64], text[512], detail[256];
    cairn_wr w;
    for (int i = 0; i < 3; i++) {
        end = strchr(end, '\n');
        assert_non_null(end);
        end++;
    }
    const char *nl = strchr(note, '\n');
    snprintf(origin, sizeof(origin), "%.*s", (int)(nl - note), note);
    snprintf(text, sizeof(text), "%.*s%s", (int)(end - note), note, ext);
    cairn__wr_init(&w, 4096);
    assert_int_equal(cairn__note_sign(&w, text, strlen(text), origin,
                                      strlen(origin), signer->sk, detail,
                                      sizeof(detail)),
                     CAIRN_OK);
    char *out = malloc(w.len + 1);
    assert_non_null(out);
    memcpy(out, w.p, w.len);
    out[w.len] = '\0';
    cairn__wr_free(&w);
    return out;
}

/* An anchor is a cairn checkpoint (anchor.c's parser): the journal's real
 * head signed by its key, but without cairn's two extension lines, with a
 * third one, or unsigned, is refused by export and verification alike. */
static void test_v2_anchor_shape(void **state)
{
    (void)state;
    char *path = path_of("shape.bundle"), *x = path_of("shape-x.bundle");
    char *head = head_of(sample->dir);
    const char *blank = strstr(head, "\n\n");
    assert_non_null(blank);
    const char *lines = strstr(head, "cairn-state ");
    assert_non_null(lines);
    char ext2[256], ext3[sizeof(ext2) + 16];
    snprintf(ext2, sizeof(ext2), "%.*s", (int)(blank + 1 - lines), lines);
    snprintf(ext3, sizeof(ext3), "%sextra line\n", ext2);
    char *none = reshaped(head, "", sample->a);
    char *third = reshaped(head, ext3, sample->a);
    char *same = reshaped(head, ext2, sample->a); /* = the head's text */
    char *text_alone = strdup(head);
    assert_non_null(text_alone);
    text_alone[blank + 1 - head] = '\0';
    const char *good[] = {same}, *bad[][1] = {{none}, {third}, {text_alone}};
    cairn_verify_report r;
    cairn_bundle_info info;
    assert_int_equal(export_opts(sample->dir, VF_RUN_A, path, good, 1, NULL),
                     CAIRN_OK);
    assert_int_equal(verify_opts(path, 0, good, 1, &r, &info), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_int_equal(info.anchors[0].verdict, CAIRN_VERDICT_VERIFIED);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(verify_opts(path, 0, bad[i], 1, &r, &info),
                         CAIRN_EINVAL);
        assert_int_equal(export_opts(sample->dir, VF_RUN_A, x, bad[i], 1, NULL),
                         CAIRN_EINVAL);
        assert_false(exists(x));
    }
    char *s1 = suffixed(path, ".minisig"), *s2 = suffixed(path, ".tlog-proof");
    unlink(path);
    unlink(s1);
    unlink(s2);
    free(s1);
    free(s2);
    free(none);
    free(third);
    free(same);
    free(text_alone);
    free(head);
    free(x);
    free(path);
}

/* --zstd: one zstd frame, signed as stored, decompressed (bounded) before
 * parsing; a changed or cut frame is malformed, not a crash. */
static void test_v2_zstd(void **state)
{
    (void)state;
    char *path = path_of("z.bundle"), *sig = suffixed(path, ".minisig");
    char *tp = suffixed(path, ".tlog-proof"), detail[256];
    cairn_journal *j = NULL;
    cairn_export_result res;
    cairn_verify_report r;
    cairn_bundle_info info;
    cairn_export_opts o = {CAIRN_EXPORT_ZSTD, NULL, NULL, 0};
    assert_int_equal(cairn_journal_open(sample->dir, CAIRN_OPEN_READONLY, &j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(
        cairn_export_bundle_opts(j, VF_RUN_A, sample->a, path, &o, &res),
        CAIRN_OK);
    cairn_journal_close(j);
    size_t n;
    uint8_t *b = (uint8_t *)tu_read_file(path, &n);
    assert_int_equal(n, res.bytes);
    assert_true(res.raw_bytes > n);
    assert_memory_equal(b, "\x28\xb5\x2f\xfd", 4);
    print_message("zstd: %llu bytes -> %llu\n",
                  (unsigned long long)res.raw_bytes,
                  (unsigned long long)res.bytes);
    assert_int_equal(verify_opts(path, 0, NULL, 0, &r, &info), CAIRN_OK);
    vf_assert_verdict(&r, CAIRN_VERDICT_VERIFIED);
    assert_true(info.compressed);
    assert_int_equal(info.stored_bytes, n);
    assert_int_equal(info.bytes, res.raw_bytes);
    assert_int_equal(info.tlog_proof, 1);
    assert_non_null(strstr(r.reason, ".minisig verified"));
    /* Cut short, or a byte of the frame changed: malformed (offset),
     * or caught by the frame's checksum; never VERIFIED. */
    char *c = path_of("zc.bundle");
    tu_write_file(c, b, n - 10);
    assert_int_equal(
        verify_opts(c, CAIRN_BUNDLE_NO_SIGNATURE, NULL, 0, &r, &info),
        CAIRN_EBUNDLE);
    vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
    assert_non_null(strstr(r.reason, "zstd"));
    unlink(c);
    for (size_t i = 4; i < n; i += 97) {
        b[i] ^= 0x01;
        tu_write_file(c, b, n);
        cairn_err err =
            verify_opts(c, CAIRN_BUNDLE_NO_SIGNATURE, NULL, 0, &r, &info);
        assert_true(err == CAIRN_OK || err == CAIRN_EBUNDLE);
        vf_assert_verdict(&r, CAIRN_VERDICT_TAMPERED);
        unlink(c);
        b[i] ^= 0x01;
    }
    free(c);
    free(b);
    /* The bound: nothing beyond max is produced, whatever the frame. */
    cairn__zc *z = NULL;
    cairn_wr w;
    static uint8_t zeros[1 << 16];
    cairn__wr_init(&w, 1 << 20);
    assert_int_equal(cairn__zc_new(3, &z), CAIRN_OK);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(cairn__zc_put(z, zeros, sizeof(zeros), wr_sink, &w),
                         CAIRN_OK);
    }
    assert_int_equal(cairn__zc_end(z, wr_sink, &w), CAIRN_OK);
    cairn__zc_free(z);
    uint8_t *out = NULL;
    size_t ol = 0;
    assert_int_equal(cairn__zstd_decompress(w.p, w.len, 100000, &out, &ol,
                                            detail, sizeof(detail)),
                     CAIRN_EINVAL);
    assert_null(out);
    assert_non_null(strstr(detail, "more than 100000 bytes"));
    assert_int_equal(cairn__zstd_decompress(w.p, w.len, 64u << 16, &out, &ol,
                                            detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(ol, 64u << 16);
    free(out);
    cairn__wr_free(&w);
    unlink(path);
    unlink(sig);
    unlink(tp);
    free(path);
    free(sig);
    free(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2_roundtrip),
        cmocka_unit_test(test_v2_tampered_fields),
        cmocka_unit_test(test_v2_lengths),
        cmocka_unit_test(test_v2_cut_back),
        cmocka_unit_test(test_v2_anchors),
        cmocka_unit_test(test_v2_anchor_shape),
        cmocka_unit_test(test_v2_zstd),
        cmocka_unit_test(test_v2_resealed_record),
    };
    return cmocka_run_group_tests(tests, vf_group_setup, vf_group_teardown);
}
