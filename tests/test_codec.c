/*
 * test_codec.c - the canonical record and checkpoint codec: golden vectors
 * (tests/vectors/records/), canonical round trips, every truncation and
 * single-byte change of every vector, each limit at its boundary, every
 * rejected value, checkpoints, signed message and hashes.
 *
 * CAIRN_WRITE_VECTORS=1 rewrites the vector files from the fixed records
 * below (then the comparison is trivially true: review the diff).
 */
#include "testutil.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "format/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALL_NS 1764000000123456789ull
#define RUN_ID "pg-nightly-2026-11-22"
#define PLAN_JSON                                                              \
    "{\"cairn_plan\":1,\"operations\":[{\"id\":\"check-space\",\"kind\":"      \
    "\"preflight\",\"run\":[\"df\",\"-P\",\"/backup\"]}],\"plan_id\":"         \
    "\"pg-nightly\"}"

static const struct {
    const char *name;
    cairn_record_type type;
} vectors[] = {
    {"create", CAIRN_REC_CREATE},   {"accept", CAIRN_REC_ACCEPT},
    {"claim", CAIRN_REC_CLAIM},     {"receipt", CAIRN_REC_RECEIPT},
    {"retry", CAIRN_REC_RETRY},     {"resolve", CAIRN_REC_RESOLVE},
    {"cancel", CAIRN_REC_CANCEL},   {"timeout", CAIRN_REC_TIMEOUT},
    {"prune", CAIRN_REC_PRUNE},     {"hold", CAIRN_REC_HOLD},
    {"release", CAIRN_REC_RELEASE}, {"rotate", CAIRN_REC_ROTATE},
};
#define N_VECTORS (sizeof(vectors) / sizeof(vectors[0]))

/* ---------------------------------------------------------------- */
/* Fixtures                                                         */

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *filled(size_t n, char c)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memset(p, c, n);
    p[n] = '\0';
    return p;
}

/* Give a string field of a record the malloc'd @p value, freeing the old. */
static void own_str(char **field, char *value)
{
    cairn_record blank;
    cairn__record_init(&blank);
    if (*field != blank.actor) {
        free(*field);
    }
    *field = value;
}

/* pairs: n keys and values, alternating. */
static void set_kv(cairn_kvlist *list, size_t n, const char *const *pairs)
{
    cairn__kvlist_free(list);
    if (n == 0) {
        return;
    }
    list->v = calloc(n, sizeof(*list->v));
    assert_non_null(list->v);
    for (size_t i = 0; i < n; i++) {
        list->v[i].key = dup_n(pairs[2 * i], strlen(pairs[2 * i]));
        list->v[i].value = dup_n(pairs[2 * i + 1], strlen(pairs[2 * i + 1]));
    }
    list->n = n;
}

static void fill_seq(uint8_t *p, size_t n, uint8_t first)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(first + i);
    }
}

/* PRUNE of run 7 (seq 10: ten records at positions 3-4 and 7-14). */
static void fixture_prune(cairn_record *rec)
{
    own_str(&rec->run_id, dup_n(RUN_ID, strlen(RUN_ID)));
    own_str(&rec->plan_id, dup_n("pg-nightly", 10));
    cairn__sha256(PLAN_JSON, strlen(PLAN_JSON), rec->plan_hash);
    own_str(&rec->preflight_id, dup_n("pf-1", 4));
    rec->state_flags = 0x03; /* accepted, signed */
    fill_seq(rec->key_id, CAIRN_KEY_ID_BYTES, 0x01);
    rec->created_ns = WALL_NS;
    rec->final_state = CAIRN_RUN_COMPLETED;
    rec->op_counts[0] = 1;
    rec->op_counts[CAIRN_OP_COMPLETED] = 1;
    own_str(&rec->rule, dup_n("keep-last=5", 11));
    own_str(&rec->reason, dup_n("nightly retention", 17));
    own_str(&rec->policy, dup_n("--keep-last 5", 13));
    fill_seq(rec->bundle_sha256, CAIRN_HASH_BYTES, 0x40);
    rec->bundle_bytes = 6277;
    own_str(&rec->location, dup_n("/archive/pg.cairn", 17));
    fill_seq(rec->prune_plan_sha256, CAIRN_HASH_BYTES, 0x60);
    rec->pruned_count = 10;
    rec->n_ranges = 2;
    rec->ranges = calloc(2, sizeof(*rec->ranges));
    rec->pruned_leaves = calloc(10, CAIRN_HASH_BYTES);
    assert_non_null(rec->ranges);
    assert_non_null(rec->pruned_leaves);
    rec->ranges[0].start = 3;
    rec->ranges[0].count = 2;
    rec->ranges[1].start = 7;
    rec->ranges[1].count = 8;
    fill_seq(&rec->pruned_leaves[0][0], 10 * CAIRN_HASH_BYTES, 0x00);
}

static void fixture_body(cairn_record_type type, cairn_record *rec)
{
    static const char *const out[] = {"digest", "sha256:9f86d081", "artifact",
                                      "/backup/db.tar"};
    static const char *const ev[] = {"exit", "0",           "stdout_tail",
                                     "",     "duration_ms", "1234"};
    static const char *const probe[] = {"probe_exit", "1"};
    switch (type) {
    case CAIRN_REC_CREATE:
        fill_seq(rec->journal_id, CAIRN_JOURNAL_ID_BYTES, 0x00);
        own_str(&rec->run_id, dup_n(RUN_ID, strlen(RUN_ID)));
        own_str(&rec->plan_id, dup_n("pg-nightly", 10));
        rec->signed_run = 1;
        fill_seq(rec->key_id, CAIRN_KEY_ID_BYTES, 0x01);
        rec->plan_len = strlen(PLAN_JSON);
        own_str(&rec->plan_json, dup_n(PLAN_JSON, rec->plan_len));
        cairn__sha256(PLAN_JSON, rec->plan_len, rec->plan_hash);
        return;
    case CAIRN_REC_ACCEPT:
        own_str(&rec->preflight_id, dup_n("pf-1", 4));
        own_str(&rec->reason, dup_n("checks passed", 13));
        return;
    case CAIRN_REC_CLAIM:
        rec->op = 2;
        rec->attempt = 1;
        rec->claim_kind = CAIRN_CLAIM_CONTAINMENT;
        rec->holder_pid = 4242;
        rec->holder_start = 987654321;
        own_str(&rec->host, dup_n("db1.example", 11));
        return;
    case CAIRN_REC_RECEIPT:
        rec->op = 2;
        rec->attempt = 1;
        rec->outcome = CAIRN_OUTCOME_COMPLETED;
        set_kv(&rec->outputs, 2, out); /* unsorted on purpose */
        set_kv(&rec->evidence, 3, ev);
        return;
    case CAIRN_REC_RETRY:
        rec->op = 3;
        own_str(&rec->reason, dup_n("disk replaced", 13));
        return;
    case CAIRN_REC_RESOLVE:
        rec->op = 3;
        rec->attempt = 2;
        rec->outcome = CAIRN_OUTCOME_FAILED;
        rec->error_class = CAIRN_CLASS_TERMINAL;
        own_str(&rec->reason, dup_n("probe: no snapshot", 18));
        set_kv(&rec->evidence, 1, probe);
        return;
    case CAIRN_REC_CANCEL:
        own_str(&rec->reason, dup_n("operator abort", 14));
        return;
    case CAIRN_REC_TIMEOUT:
        own_str(&rec->reason, dup_n("deadline 2h passed", 18));
        return;
    case CAIRN_REC_PRUNE:
        fixture_prune(rec);
        return;
    case CAIRN_REC_HOLD:
        own_str(&rec->reason, dup_n("legal hold 17", 13));
        rec->until_ns = 1767225600000000000ull; /* 2026-01-01 00:00 UTC */
        return;
    case CAIRN_REC_RELEASE:
        own_str(&rec->reason, dup_n("case closed", 11));
        return;
    case CAIRN_REC_ROTATE:
        rec->run_num = 0; /* the journal's own record */
        fill_seq(rec->journal_id, CAIRN_JOURNAL_ID_BYTES, 0x00);
        rec->from_size = 42;
        fill_seq(rec->key_id, CAIRN_KEY_ID_BYTES, 0x01);
        fill_seq(rec->old_pk, CAIRN_PUBLIC_KEY_BYTES, 0x20);
        fill_seq(rec->new_key_id, CAIRN_KEY_ID_BYTES, 0x41);
        fill_seq(rec->new_pk, CAIRN_PUBLIC_KEY_BYTES, 0x60);
        own_str(&rec->reason, dup_n("yearly rotation", 15));
        fill_seq(rec->old_sig, CAIRN_SIGNATURE_BYTES, 0x80);
        fill_seq(rec->new_sig, CAIRN_SIGNATURE_BYTES, 0xc0);
        return;
    }
    fail_msg("unknown type %d", (int)type);
}

/* The fixed record of golden vector @p type (owned: free it). */
static void fixture(cairn_record_type type, cairn_record *rec)
{
    cairn__record_init(rec);
    rec->type = type;
    rec->run_num = 7;
    rec->seq = (uint64_t)type - 1;
    rec->wall_ns = WALL_NS + (uint64_t)type;
    rec->mono_ns = 5000000123ull + (uint64_t)type;
    fill_seq(rec->boot_id, CAIRN_BOOT_ID_BYTES, 0x10);
    fill_seq(rec->prev, CAIRN_HASH_BYTES, 0xa0);
    if (type != CAIRN_REC_TIMEOUT) {
        own_str(&rec->actor,
                dup_n(type == CAIRN_REC_CLAIM || type == CAIRN_REC_RECEIPT
                          ? "cairn-runner"
                          : "alice",
                      type == CAIRN_REC_CLAIM || type == CAIRN_REC_RECEIPT
                          ? 12
                          : 5));
    }
    fixture_body(type, rec);
}

static const char *kv_get(const cairn_kvlist *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].key, key) == 0) {
            return l->v[i].value;
        }
    }
    return NULL;
}

static void assert_kv_equal(const cairn_kvlist *a, const cairn_kvlist *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const char *v = kv_get(b, a->v[i].key);
        assert_non_null(v);
        assert_string_equal(v, a->v[i].value);
    }
}

static void assert_record_equal(const cairn_record *a, const cairn_record *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->run_num, b->run_num);
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->wall_ns, b->wall_ns);
    assert_int_equal(a->mono_ns, b->mono_ns);
    assert_memory_equal(a->boot_id, b->boot_id, CAIRN_BOOT_ID_BYTES);
    assert_memory_equal(a->prev, b->prev, CAIRN_HASH_BYTES);
    assert_string_equal(a->actor, b->actor);
    assert_memory_equal(a->journal_id, b->journal_id, CAIRN_JOURNAL_ID_BYTES);
    assert_string_equal(a->run_id, b->run_id);
    assert_string_equal(a->plan_id, b->plan_id);
    assert_memory_equal(a->plan_hash, b->plan_hash, CAIRN_HASH_BYTES);
    assert_int_equal(a->signed_run, b->signed_run);
    assert_memory_equal(a->key_id, b->key_id, CAIRN_KEY_ID_BYTES);
    assert_int_equal(a->plan_len, b->plan_len);
    assert_string_equal(a->plan_json, b->plan_json);
    assert_string_equal(a->preflight_id, b->preflight_id);
    assert_int_equal(a->op, b->op);
    assert_int_equal(a->attempt, b->attempt);
    assert_int_equal(a->claim_kind, b->claim_kind);
    assert_int_equal(a->holder_pid, b->holder_pid);
    assert_int_equal(a->holder_start, b->holder_start);
    assert_string_equal(a->host, b->host);
    assert_int_equal(a->outcome, b->outcome);
    assert_int_equal(a->error_class, b->error_class);
    assert_string_equal(a->reason, b->reason);
    assert_int_equal(a->until_ns, b->until_ns);
    assert_int_equal(a->from_size, b->from_size);
    assert_memory_equal(a->old_pk, b->old_pk, CAIRN_PUBLIC_KEY_BYTES);
    assert_memory_equal(a->new_key_id, b->new_key_id, CAIRN_KEY_ID_BYTES);
    assert_memory_equal(a->new_pk, b->new_pk, CAIRN_PUBLIC_KEY_BYTES);
    assert_memory_equal(a->old_sig, b->old_sig, CAIRN_SIGNATURE_BYTES);
    assert_memory_equal(a->new_sig, b->new_sig, CAIRN_SIGNATURE_BYTES);
    assert_kv_equal(&a->outputs, &b->outputs);
    assert_kv_equal(&a->evidence, &b->evidence);
}

/* A failed decode leaves the record empty. */
static void assert_record_empty(const cairn_record *rec)
{
    assert_string_equal(rec->actor, "");
    assert_string_equal(rec->run_id, "");
    assert_string_equal(rec->plan_json, "");
    assert_string_equal(rec->reason, "");
    assert_string_equal(rec->host, "");
    assert_int_equal(rec->plan_len, 0);
    assert_int_equal(rec->outputs.n, 0);
    assert_null(rec->outputs.v);
    assert_int_equal(rec->evidence.n, 0);
}

static uint8_t *encode_ok(const cairn_record *rec, size_t *len)
{
    uint8_t *buf;
    char detail[256];
    cairn_err err =
        cairn__record_encode(rec, &buf, len, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        fail_msg("encode: %d %s", (int)err, detail);
    }
    return buf;
}

/* Reused by every decode_checked(), as a verifier reuses its own. */
static cairn_record_scratch scratch;

/*
 * cairn__record_decode(), and the same bytes through
 * cairn__record_decode_scratch(): the same error and detail, a record
 * equal field by field that encodes to the same bytes, or an empty one.
 */
static cairn_err decode_checked(const uint8_t *buf, size_t len,
                                cairn_record *rec, char *detail, size_t cap)
{
    cairn_err err = cairn__record_decode(buf, len, rec, detail, cap);
    cairn_record in;
    char got[256];
    assert_true(cap <= sizeof(got));
    cairn_err err2 = cairn__record_decode_scratch(buf, len, &in, &scratch,
                                                  cap > 0 ? got : NULL, cap);
    assert_int_equal(err2, err);
    if (cap > 0) {
        assert_string_equal(got, detail);
    }
    if (err == CAIRN_OK) {
        assert_true(in.in_scratch);
        assert_record_equal(rec, &in);
        size_t n1, n2;
        uint8_t *a = encode_ok(rec, &n1), *b = encode_ok(&in, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1);
        free(a);
        free(b);
    } else {
        assert_record_empty(&in);
    }
    cairn__record_free(&in);
    return err;
}

static void expect_encode(const cairn_record *rec, cairn_err want,
                          const char *want_detail)
{
    uint8_t *buf = (uint8_t *)&buf;
    size_t len = 99;
    char detail[256];
    cairn_err err =
        cairn__record_encode(rec, &buf, &len, detail, sizeof(detail));
    assert_int_equal(err, want);
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_string_equal(detail, want_detail);
}

/* Decode must fail with @p want and @p want_detail (NULL: any detail). */
static void expect_decode(const uint8_t *buf, size_t len, cairn_err want,
                          const char *want_detail)
{
    cairn_record rec;
    char detail[256];
    cairn_err err = decode_checked(buf, len, &rec, detail, sizeof(detail));
    assert_int_equal(err, want);
    if (want_detail != NULL) {
        assert_string_equal(detail, want_detail);
    }
    if (err != CAIRN_OK) {
        assert_record_empty(&rec);
    }
    cairn__record_free(&rec);
}

/* decode(buf) succeeds and re-encodes to exactly buf. */
static void expect_canonical(const uint8_t *buf, size_t len)
{
    cairn_record rec;
    char detail[256];
    cairn_err err = decode_checked(buf, len, &rec, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        fail_msg("decode: %d %s", (int)err, detail);
    }
    size_t len2;
    uint8_t *again = encode_ok(&rec, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(again, buf, len);
    free(again);
    cairn__record_free(&rec);
}

static uint8_t *vector_bytes(cairn_record_type type, size_t *len)
{
    cairn_record rec;
    fixture(type, &rec);
    uint8_t *buf = encode_ok(&rec, len);
    cairn__record_free(&rec);
    return buf;
}

static char *vector_path(const char *name)
{
    const char *root = getenv("CAIRN_ROOT");
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/vectors/records/%s.bin",
             root != NULL && root[0] != '\0' ? root : ".", name);
    return dup_n(path, strlen(path));
}

/* Offset of the body of an encoded record (after actor and body_len). */
static size_t body_off(const uint8_t *buf)
{
    return 84 + 2 + cairn__load16_be(buf + 84) + 4;
}

/*
 * Change by @p delta (+1 or -1) the length of the counted field whose
 * length prefix (@p width 2 or 4 bytes) is at @p at: insert or remove one
 * byte at its end and fix body_len when the field lies in the body.
 */
static uint8_t *resize_field(const uint8_t *buf, size_t len, size_t at,
                             size_t width, int delta, size_t *out_len)
{
    size_t n =
        width == 2 ? cairn__load16_be(buf + at) : cairn__load32_be(buf + at);
    size_t end = at + width + n;
    size_t new_len = delta > 0 ? len + 1 : len - 1;
    uint8_t *p = malloc(new_len);
    assert_non_null(p);
    if (delta > 0) {
        memcpy(p, buf, end);
        p[end] = 'Q';
        memcpy(p + end + 1, buf + end, len - end);
    } else {
        memcpy(p, buf, end - 1);
        memcpy(p + end - 1, buf + end, len - end);
    }
    n = delta > 0 ? n + 1 : n - 1;
    if (width == 2) {
        cairn__store16_be(p + at, (uint16_t)n);
    } else {
        cairn__store32_be(p + at, (uint32_t)n);
    }
    if (at > 84) {
        size_t bl_at = body_off(p) - 4;
        uint32_t bl = cairn__load32_be(p + bl_at);
        cairn__store32_be(p + bl_at, delta > 0 ? bl + 1 : bl - 1);
    }
    *out_len = new_len;
    return p;
}

/* ---------------------------------------------------------------- */
/* Golden vectors, truncations, single-byte changes                 */

static void test_golden_vectors(void **state)
{
    (void)state;
    int write = getenv("CAIRN_WRITE_VECTORS") != NULL;
    for (size_t i = 0; i < N_VECTORS; i++) {
        cairn_record want;
        fixture(vectors[i].type, &want);
        size_t len;
        uint8_t *enc = encode_ok(&want, &len);
        char *path = vector_path(vectors[i].name);
        if (write) {
            tu_write_file(path, enc, len);
        }
        size_t file_len;
        uint8_t *file = (uint8_t *)tu_read_file(path, &file_len);
        assert_int_equal(file_len, len);
        assert_memory_equal(file, enc, len);
        cairn_record got;
        char detail[256];
        assert_int_equal(
            decode_checked(file, file_len, &got, detail, sizeof(detail)),
            CAIRN_OK);
        assert_string_equal(detail, "");
        assert_record_equal(&want, &got);
        expect_canonical(file, file_len);
        cairn__record_free(&got);
        cairn__record_free(&want);
        free(file);
        free(path);
        free(enc);
    }
}

/* A record decoded into a scratch: its strings and kv lists lie in the
 * scratch, which the next record reuses without growing; freeing the
 * record leaves the scratch alone. */
static void test_decode_scratch(void **state)
{
    (void)state;
    cairn_record_scratch s = {NULL, 0, 0};
    size_t len;
    uint8_t *buf = vector_bytes(CAIRN_REC_RECEIPT, &len);
    cairn_record rec;
    char detail[256];
    for (int round = 0; round < 2; round++) {
        assert_int_equal(cairn__record_decode_scratch(buf, len, &rec, &s,
                                                      detail, sizeof(detail)),
                         CAIRN_OK);
        size_t cap = s.cap;
        const char *lo = (const char *)s.buf, *hi = lo + s.used;
        assert_true(rec.actor >= lo && rec.actor < hi);
        assert_true(rec.outputs.n > 0 && rec.evidence.n > 0);
        assert_true((const char *)rec.outputs.v >= lo &&
                    (const char *)rec.outputs.v < hi);
        for (size_t i = 0; i < rec.evidence.n; i++) {
            assert_true(rec.evidence.v[i].key >= lo &&
                        rec.evidence.v[i].key < hi);
            assert_true(rec.evidence.v[i].value >= lo &&
                        rec.evidence.v[i].value < hi);
        }
        cairn__record_free(&rec);
        assert_false(rec.in_scratch);
        assert_int_equal(s.cap, cap);
        assert_non_null(s.buf);
    }
    cairn__record_scratch_free(&s);
    assert_null(s.buf);
    assert_int_equal(s.cap, 0);
    cairn__record_scratch_free(NULL);
    free(buf);
}

static void test_golden_fields(void **state)
{
    (void)state;
    /* Spot checks against the documented layout, independent of encode. */
    char *path = vector_path("receipt");
    size_t len;
    uint8_t *b = (uint8_t *)tu_read_file(path, &len);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[1], CAIRN_REC_RECEIPT);
    assert_int_equal(cairn__load64_be(b + 4), 7);
    assert_int_equal(cairn__load64_be(b + 12), 3);
    assert_int_equal(cairn__load64_be(b + 20), WALL_NS + 4);
    assert_int_equal(cairn__load16_be(b + 84), 12);
    assert_memory_equal(b + 86, "cairn-runner", 12);
    assert_int_equal(cairn__load32_be(b + 98), len - 102);
    /* outputs come out sorted: artifact before digest */
    assert_int_equal(cairn__load16_be(b + 114), 2);
    assert_int_equal(cairn__load16_be(b + 116), 8);
    assert_memory_equal(b + 118, "artifact", 8);
    free(b);
    free(path);
}

static void test_truncations(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_VECTORS; i++) {
        size_t len;
        uint8_t *buf = vector_bytes(vectors[i].type, &len);
        for (size_t n = 0; n < len; n++) {
            uint8_t *cut = malloc(n ? n : 1); /* exact size for ASan */
            assert_non_null(cut);
            memcpy(cut, buf, n);
            cairn_record rec;
            char detail[256];
            assert_int_equal(
                decode_checked(cut, n, &rec, detail, sizeof(detail)),
                CAIRN_ECORRUPT);
            assert_memory_equal(detail, "offset ", 7);
            assert_record_empty(&rec);
            free(cut);
        }
        free(buf);
    }
    expect_decode(NULL, 0, CAIRN_ECORRUPT,
                  "offset 0: version: truncated (0 of 1 bytes)");
}

static void test_byte_flips(void **state)
{
    (void)state;
    size_t decoded = 0;
    for (size_t i = 0; i < N_VECTORS; i++) {
        size_t len;
        uint8_t *buf = vector_bytes(vectors[i].type, &len);
        for (size_t pos = 0; pos < len; pos++) {
            for (unsigned x = 1; x < 256; x++) {
                buf[pos] ^= (uint8_t)x;
                cairn_record rec;
                char detail[256];
                cairn_err err =
                    decode_checked(buf, len, &rec, detail, sizeof(detail));
                if (err == CAIRN_OK) {
                    decoded++;
                    size_t len2;
                    uint8_t *again = encode_ok(&rec, &len2);
                    assert_int_equal(len2, len);
                    assert_memory_equal(again, buf, len);
                    free(again);
                } else {
                    assert_int_equal(err, pos == 0 ? CAIRN_EVERSION
                                                   : CAIRN_ECORRUPT);
                    assert_record_empty(&rec);
                }
                cairn__record_free(&rec);
                buf[pos] ^= (uint8_t)x;
            }
        }
        free(buf);
    }
    assert_true(decoded > 0); /* fixed-width fields take any value */
}

/* ---------------------------------------------------------------- */
/* Limits at their boundary                                         */

static const struct {
    cairn_record_type type;
    size_t field; /* offsetof the char * */
    const char *name;
    size_t min, max;
} str_limits[] = {
    {CAIRN_REC_CLAIM, offsetof(cairn_record, actor), "actor", 0,
     CAIRN_MAX_TEXT},
    {CAIRN_REC_CREATE, offsetof(cairn_record, run_id), "run_id", 1,
     CAIRN_MAX_ID},
    {CAIRN_REC_CREATE, offsetof(cairn_record, plan_id), "plan_id", 1,
     CAIRN_MAX_ID},
    {CAIRN_REC_ACCEPT, offsetof(cairn_record, preflight_id), "preflight_id", 1,
     CAIRN_MAX_ID},
    {CAIRN_REC_ACCEPT, offsetof(cairn_record, reason), "reason", 0,
     CAIRN_MAX_TEXT},
    {CAIRN_REC_CLAIM, offsetof(cairn_record, host), "host", 0, CAIRN_MAX_HOST},
    {CAIRN_REC_RECEIPT, offsetof(cairn_record, reason), "reason", 0,
     CAIRN_MAX_TEXT},
    {CAIRN_REC_RETRY, offsetof(cairn_record, reason), "reason", 0,
     CAIRN_MAX_TEXT},
    {CAIRN_REC_RESOLVE, offsetof(cairn_record, reason), "reason", 0,
     CAIRN_MAX_TEXT},
    {CAIRN_REC_CANCEL, offsetof(cairn_record, reason), "reason", 0,
     CAIRN_MAX_TEXT},
    {CAIRN_REC_TIMEOUT, offsetof(cairn_record, reason), "reason", 0,
     CAIRN_MAX_TEXT},
    {CAIRN_REC_HOLD, offsetof(cairn_record, reason), "reason", 1,
     CAIRN_MAX_HOLD_REASON},
    {CAIRN_REC_RELEASE, offsetof(cairn_record, reason), "reason", 1,
     CAIRN_MAX_HOLD_REASON},
};

static char **str_field(cairn_record *rec, size_t off)
{
    return (char **)(void *)((char *)rec + off);
}

/* Offset of the length prefix of the field holding @p n bytes 'Q'. */
static size_t q_field(const uint8_t *buf, size_t len, size_t width, size_t n)
{
    for (size_t i = width; i + n <= len; i++) {
        size_t got = width == 2 ? cairn__load16_be(buf + i - width)
                                : cairn__load32_be(buf + i - width);
        if (got == n && buf[i] == 'Q' && buf[i + n - 1] == 'Q') {
            return i - width;
        }
    }
    fail_msg("no field of %zu bytes 'Q'", n);
    return 0;
}

static void test_string_limits(void **state)
{
    (void)state;
    char want[256];
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(str_limits); i++) {
        size_t max = str_limits[i].max;
        const char *name = str_limits[i].name;
        cairn_record rec;
        fixture(str_limits[i].type, &rec);
        char **f = str_field(&rec, str_limits[i].field);
        /* limit: accepted both ways */
        own_str(f, filled(max, 'Q'));
        size_t len;
        uint8_t *buf = encode_ok(&rec, &len);
        expect_canonical(buf, len);
        size_t at = q_field(buf, len, 2, max);
        /* limit + 1: refused by the encoder and the decoder */
        own_str(f, filled(max + 1, 'Q'));
        snprintf(want, sizeof(want), "%s: longer than %zu bytes", name, max);
        expect_encode(&rec, CAIRN_EINVAL, want);
        size_t len2;
        uint8_t *big = resize_field(buf, len, at, 2, +1, &len2);
        snprintf(want, sizeof(want), "offset %zu: %s: length %zu exceeds %zu",
                 at, name, max + 1, max);
        expect_decode(big, len2, CAIRN_ECORRUPT, want);
        free(big);
        free(buf);
        if (str_limits[i].min == 1) {
            own_str(f, filled(1, 'Q'));
            buf = encode_ok(&rec, &len);
            at = q_field(buf, len, 2, 1);
            uint8_t *small = resize_field(buf, len, at, 2, -1, &len2);
            snprintf(want, sizeof(want), "offset %zu: %s: empty", at, name);
            expect_decode(small, len2, CAIRN_ECORRUPT, want);
            own_str(f, filled(0, 'Q'));
            snprintf(want, sizeof(want), "%s: empty", name);
            expect_encode(&rec, CAIRN_EINVAL, want);
            free(small);
            free(buf);
        }
        cairn__record_free(&rec);
    }
}

static void test_plan_limits(void **state)
{
    (void)state;
    cairn_record rec;
    fixture(CAIRN_REC_CREATE, &rec);
    own_str(&rec.plan_json, filled(CAIRN_MAX_PLAN_BYTES, 'Q'));
    rec.plan_len = CAIRN_MAX_PLAN_BYTES;
    size_t len, len2;
    uint8_t *buf = encode_ok(&rec, &len);
    expect_canonical(buf, len);
    size_t at = q_field(buf, len, 4, CAIRN_MAX_PLAN_BYTES);
    uint8_t *big = resize_field(buf, len, at, 4, +1, &len2);
    char want[128];
    snprintf(want, sizeof(want),
             "offset %zu: plan: length 1048577 exceeds 1048576", at);
    expect_decode(big, len2, CAIRN_ECORRUPT, want);
    own_str(&rec.plan_json, filled(CAIRN_MAX_PLAN_BYTES + 1, 'Q'));
    rec.plan_len = CAIRN_MAX_PLAN_BYTES + 1;
    expect_encode(&rec, CAIRN_EINVAL, "plan: 1048577 bytes exceed 1048576");
    free(big);
    free(buf);
    /* plan of 1 byte is the minimum */
    own_str(&rec.plan_json, filled(1, 'Q'));
    rec.plan_len = 1;
    buf = encode_ok(&rec, &len);
    expect_canonical(buf, len);
    at = q_field(buf, len, 4, 1);
    uint8_t *small = resize_field(buf, len, at, 4, -1, &len2);
    snprintf(want, sizeof(want), "offset %zu: plan: empty", at);
    expect_decode(small, len2, CAIRN_ECORRUPT, want);
    rec.plan_len = 0;
    expect_encode(&rec, CAIRN_EINVAL, "plan: empty");
    free(small);
    free(buf);
    cairn__record_free(&rec);
}

/* A RECEIPT built byte by byte, bypassing the encoder: op 0, attempt 1,
 * completed, no actor or reason, @p n outputs, no evidence.  The outputs
 * count is at offset 102, the first key's length at 104. */
typedef struct raw_kv {
    const char *key;
    size_t klen;
    const char *value;
    size_t vlen;
} raw_kv;

static uint8_t *raw_receipt(const raw_kv *kv, size_t n, size_t *len)
{
    cairn_wr w;
    cairn__wr_init(&w, 64u << 20);
    uint8_t head[84] = {1, CAIRN_REC_RECEIPT};
    cairn__wr_bytes(&w, head, sizeof(head));
    cairn__wr_u16(&w, 0); /* actor */
    cairn__wr_u32(&w, 0); /* body_len, patched below */
    cairn__wr_u32(&w, 0); /* op */
    cairn__wr_u32(&w, 1); /* attempt */
    cairn__wr_u8(&w, CAIRN_OUTCOME_COMPLETED);
    cairn__wr_u8(&w, CAIRN_CLASS_NONE);
    cairn__wr_u16(&w, 0); /* reason */
    cairn__wr_u16(&w, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        cairn__wr_u16(&w, (uint16_t)kv[i].klen);
        cairn__wr_bytes(&w, kv[i].key, kv[i].klen);
        cairn__wr_u32(&w, (uint32_t)kv[i].vlen);
        cairn__wr_bytes(&w, kv[i].value, kv[i].vlen);
    }
    cairn__wr_u16(&w, 0); /* evidence */
    assert_int_equal(cairn__wr_status(&w), CAIRN_OK);
    cairn__store32_be(w.p + 86, (uint32_t)(w.len - 90));
    *len = w.len;
    return w.p;
}

static void expect_raw(const raw_kv *kv, size_t n, cairn_err want,
                       const char *want_detail)
{
    size_t len;
    uint8_t *buf = raw_receipt(kv, n, &len);
    if (want == CAIRN_OK) {
        expect_canonical(buf, len);
    } else {
        expect_decode(buf, len, want, want_detail);
    }
    free(buf);
}

static void test_kv_count_limit(void **state)
{
    (void)state;
    raw_kv kv[CAIRN_MAX_KV + 1];
    char keys[CAIRN_MAX_KV + 1][8];
    const char *pairs[2 * (CAIRN_MAX_KV + 1)];
    for (size_t i = 0; i <= CAIRN_MAX_KV; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%03zu", i);
        kv[i] = (raw_kv){keys[i], 4, "v", 1};
        pairs[2 * i] = keys[i];
        pairs[2 * i + 1] = "v";
    }
    expect_raw(kv, CAIRN_MAX_KV, CAIRN_OK, NULL);
    expect_raw(kv, CAIRN_MAX_KV + 1, CAIRN_ECORRUPT,
               "offset 102: outputs: count 257 exceeds 256");
    cairn_record rec;
    fixture(CAIRN_REC_RECEIPT, &rec);
    set_kv(&rec.outputs, CAIRN_MAX_KV, pairs);
    size_t len;
    free(encode_ok(&rec, &len));
    set_kv(&rec.evidence, CAIRN_MAX_KV + 1, pairs);
    expect_encode(&rec, CAIRN_EINVAL, "evidence: 257 pairs exceed 256");
    cairn__record_free(&rec);
    /* a count the remaining bytes cannot hold is refused before calloc */
    uint8_t *buf = raw_receipt(kv, 0, &len);
    cairn__store16_be(buf + 102, 3);
    expect_decode(buf, len, CAIRN_ECORRUPT,
                  "offset 102: outputs: count 3 needs at least 21 bytes, 2 "
                  "left");
    free(buf);
}

static void test_kv_size_limits(void **state)
{
    (void)state;
    char *k = filled(CAIRN_MAX_KV_KEY + 1, 'k');
    char *v = filled(CAIRN_MAX_KV_VALUE + 1, 'v');
    raw_kv kv = {k, CAIRN_MAX_KV_KEY, "x", 1};
    expect_raw(&kv, 1, CAIRN_OK, NULL);
    kv.klen++;
    expect_raw(&kv, 1, CAIRN_ECORRUPT,
               "offset 104: outputs[0].key: length 129 exceeds 128");
    kv.klen = 0;
    expect_raw(&kv, 1, CAIRN_ECORRUPT, "offset 104: outputs[0].key: empty");
    kv = (raw_kv){"k", 1, v, CAIRN_MAX_KV_VALUE};
    expect_raw(&kv, 1, CAIRN_OK, NULL);
    kv.vlen++;
    expect_raw(&kv, 1, CAIRN_ECORRUPT,
               "offset 107: outputs[0].value: length 65537 exceeds 65536");
    kv.vlen = 0;
    expect_raw(&kv, 1, CAIRN_OK, NULL);

    cairn_record rec;
    fixture(CAIRN_REC_RECEIPT, &rec);
    const char *pairs[2] = {k, "x"};
    set_kv(&rec.outputs, 1, pairs);
    expect_encode(&rec, CAIRN_EINVAL, "outputs[0].key: longer than 128 bytes");
    pairs[0] = "";
    set_kv(&rec.outputs, 1, pairs);
    expect_encode(&rec, CAIRN_EINVAL, "outputs[0].key: empty");
    pairs[0] = "k";
    set_kv(&rec.outputs, 1, pairs);
    pairs[1] = v;
    set_kv(&rec.evidence, 1, pairs);
    expect_encode(&rec, CAIRN_EINVAL,
                  "evidence[0].value: longer than 65536 bytes");
    v[CAIRN_MAX_KV_VALUE] = '\0';
    set_kv(&rec.evidence, 1, pairs);
    set_kv(&rec.outputs, 0, NULL);
    size_t len;
    uint8_t *buf = encode_ok(&rec, &len);
    expect_canonical(buf, len);
    free(buf);
    cairn__record_free(&rec);
    free(k);
    free(v);
}

static void test_record_size_limit(void **state)
{
    (void)state;
    enum { N = 64 };
    char keys[N][4];
    const char *pairs[2 * N];
    char *big = filled(CAIRN_MAX_KV_VALUE, 'Q');
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%02zu", i);
        pairs[2 * i] = keys[i];
        pairs[2 * i + 1] = i + 1 < N ? big : "";
    }
    cairn_record rec;
    fixture(CAIRN_REC_RECEIPT, &rec);
    set_kv(&rec.outputs, N, pairs);
    size_t base, len, len2;
    free(encode_ok(&rec, &base));
    size_t last = CAIRN_MAX_RECORD_BYTES - base;
    assert_true(last <= CAIRN_MAX_KV_VALUE);
    char *tail = filled(last, 'Q');
    pairs[2 * N - 1] = tail;
    set_kv(&rec.outputs, N, pairs);
    uint8_t *buf = encode_ok(&rec, &len);
    assert_int_equal(len, CAIRN_MAX_RECORD_BYTES);
    expect_canonical(buf, len);
    /* one byte more in the last value */
    const uint8_t *k = memmem(buf, len, "k63", 3);
    assert_non_null(k);
    uint8_t *over = resize_field(buf, len, (size_t)(k - buf) + 3, 4, +1, &len2);
    expect_decode(over, len2, CAIRN_ECORRUPT,
                  "offset 0: record: length 4194305 exceeds 4194304");
    free(tail);
    tail = filled(last + 1, 'Q');
    pairs[2 * N - 1] = tail;
    set_kv(&rec.outputs, N, pairs);
    expect_encode(&rec, CAIRN_EINVAL,
                  "record: encoded size exceeds 4194304 bytes");
    free(over);
    free(buf);
    free(tail);
    free(big);
    cairn__record_free(&rec);
}

/* ---------------------------------------------------------------- */
/* Rejected values                                                  */

static void test_kv_order(void **state)
{
    (void)state;
    raw_kv ba[] = {{"b", 1, "1", 1}, {"a", 1, "2", 1}};
    expect_raw(ba, 2, CAIRN_ECORRUPT,
               "offset 112: outputs[1].key: keys not in ascending order");
    raw_kv aa[] = {{"a", 1, "1", 1}, {"a", 1, "2", 1}};
    expect_raw(aa, 2, CAIRN_ECORRUPT,
               "offset 112: outputs[1].key: duplicate key");
    raw_kv long_first[] = {{"ab", 2, "1", 1}, {"a", 1, "2", 1}};
    expect_raw(long_first, 2, CAIRN_ECORRUPT,
               "offset 113: outputs[1].key: keys not in ascending order");
    raw_kv prefix_first[] = {{"a", 1, "1", 1}, {"ab", 2, "2", 1}};
    expect_raw(prefix_first, 2, CAIRN_OK, NULL);
    raw_kv high_last[] = {{"a", 1, "1", 1}, {"\xff", 1, "2", 1}};
    expect_raw(high_last, 2, CAIRN_OK, NULL); /* unsigned byte order */
    raw_kv high_first[] = {{"\xff", 1, "1", 1}, {"a", 1, "2", 1}};
    expect_raw(high_first, 2, CAIRN_ECORRUPT,
               "offset 112: outputs[1].key: keys not in ascending order");

    /* the encoder sorts a copy; the caller's order is kept */
    static const char *const unsorted[] = {"\xff", "1", "ab", "2", "a", "3"};
    static const char *const sorted[] = {"a", "3", "ab", "2", "\xff", "1"};
    cairn_record rec;
    fixture(CAIRN_REC_RECEIPT, &rec);
    set_kv(&rec.outputs, 3, unsorted);
    size_t len1, len2;
    uint8_t *b1 = encode_ok(&rec, &len1);
    assert_string_equal(rec.outputs.v[0].key, "\xff");
    set_kv(&rec.outputs, 3, sorted);
    uint8_t *b2 = encode_ok(&rec, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(b1, b2, len1);
    static const char *const dup[] = {"b", "1", "a", "2", "b", "3"};
    set_kv(&rec.evidence, 3, dup);
    expect_encode(&rec, CAIRN_EINVAL, "evidence: duplicate key \"b\"");
    free(b1);
    free(b2);
    cairn__record_free(&rec);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = vector_bytes(CAIRN_REC_ACCEPT, &len);
    size_t bl_at = body_off(buf) - 4;
    uint32_t body_len = cairn__load32_be(buf + bl_at);
    uint8_t *longer = calloc(1, len + 3);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    char want[128];
    snprintf(want, sizeof(want), "offset %zu: body_len: %u but %u bytes follow",
             bl_at, (unsigned)body_len, (unsigned)body_len + 3);
    expect_decode(longer, len + 3, CAIRN_ECORRUPT, want);
    cairn__store32_be(longer + bl_at, body_len + 3);
    snprintf(want, sizeof(want), "offset %zu: body: 3 trailing bytes", len);
    expect_decode(longer, len + 3, CAIRN_ECORRUPT, want);
    cairn__store32_be(buf + bl_at, body_len + 1);
    snprintf(want, sizeof(want), "offset %zu: body_len: %u but %u bytes follow",
             bl_at, (unsigned)body_len + 1, (unsigned)body_len);
    expect_decode(buf, len, CAIRN_ECORRUPT, want);
    free(longer);
    free(buf);
}

static void test_version_type_flags(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = vector_bytes(CAIRN_REC_CANCEL, &len);
    buf[0] = 2;
    expect_decode(buf, len, CAIRN_EVERSION, "offset 0: version 2");
    buf[0] = 0;
    expect_decode(buf, len, CAIRN_EVERSION, "offset 0: version 0");
    buf[0] = 1;
    buf[1] = 0;
    expect_decode(buf, len, CAIRN_ECORRUPT, "offset 1: type: unknown value 0");
    buf[1] = 200;
    expect_decode(buf, len, CAIRN_ECORRUPT,
                  "offset 1: type: unknown value 200");
    buf[1] = CAIRN_REC_CANCEL;
    buf[3] = 1;
    expect_decode(buf, len, CAIRN_ECORRUPT,
                  "offset 2: flags: 0x0001, expected 0");
    buf[3] = 0;
    buf[2] = 0x80;
    expect_decode(buf, len, CAIRN_ECORRUPT,
                  "offset 2: flags: 0x8000, expected 0");
    buf[2] = 0;
    expect_canonical(buf, len);
    free(buf);

    cairn_record rec;
    fixture(CAIRN_REC_CANCEL, &rec);
    rec.type = (cairn_record_type)200;
    expect_encode(&rec, CAIRN_EINVAL, "type: unknown value 200");
    rec.type = (cairn_record_type)0;
    expect_encode(&rec, CAIRN_EINVAL, "type: unknown value 0");
    rec.type = CAIRN_REC_CANCEL;
    rec.version = 0;
    expect_encode(&rec, CAIRN_EINVAL, "version: 0, expected 1");
    rec.version = 2;
    expect_encode(&rec, CAIRN_EINVAL, "version: 2, expected 1");
    cairn__record_free(&rec);
}

/* In vector @p type, set the byte @p byte_rel bytes into the field that
 * starts @p field_rel bytes into the body to @p v, and expect
 * "offset <field>: <name>: <what>". */
static void expect_patched(cairn_record_type type, size_t field_rel,
                           size_t byte_rel, uint8_t v, const char *name,
                           const char *what)
{
    size_t len;
    uint8_t *buf = vector_bytes(type, &len);
    size_t at = body_off(buf) + field_rel;
    buf[at + byte_rel] = v;
    char want[128];
    snprintf(want, sizeof(want), "offset %zu: %s: %s", at, name, what);
    expect_decode(buf, len, CAIRN_ECORRUPT, want);
    free(buf);
}

static void test_bad_enums_decode(void **state)
{
    (void)state;
    expect_patched(CAIRN_REC_CLAIM, 8, 0, 3, "claim_kind", "unknown value 3");
    expect_patched(CAIRN_REC_CLAIM, 4, 3, 0, "attempt", "zero");
    expect_patched(CAIRN_REC_RESOLVE, 4, 3, 0, "attempt", "zero");
    expect_patched(CAIRN_REC_RECEIPT, 8, 0, 3, "outcome", "unknown value 3");
    expect_patched(CAIRN_REC_RECEIPT, 8, 0, 7, "outcome", "unknown value 7");
    expect_patched(CAIRN_REC_RECEIPT, 9, 0, 3, "error_class",
                   "unknown value 3");
    expect_patched(CAIRN_REC_CLAIM, 0, 2, 0x10, "op", "4098 exceeds 4095");
    expect_patched(CAIRN_REC_RETRY, 0, 0, 0x80, "op",
                   "2147483651 exceeds 4095");
    /* CREATE: signed at 16 + 2+21 + 2+10 + 32 = 83 */
    expect_patched(CAIRN_REC_CREATE, 83, 0, 2, "signed", "unknown value 2");
    size_t len;
    uint8_t *buf = vector_bytes(CAIRN_REC_CREATE, &len);
    size_t at = body_off(buf) + 83;
    buf[at] = 0;
    char want[128];
    snprintf(want, sizeof(want),
             "offset %zu: key_id: not zero in an unsigned run", at + 1);
    expect_decode(buf, len, CAIRN_ECORRUPT, want);
    memset(buf + at + 1, 0, CAIRN_KEY_ID_BYTES);
    expect_canonical(buf, len); /* an unsigned run */
    free(buf);
}

static void test_bad_enums_encode(void **state)
{
    (void)state;
    cairn_record rec;
    fixture(CAIRN_REC_CLAIM, &rec);
    rec.claim_kind = (cairn_claim_kind)3;
    expect_encode(&rec, CAIRN_EINVAL, "claim_kind: unknown value 3");
    rec.claim_kind = CAIRN_CLAIM_CLEANUP;
    rec.attempt = 0;
    expect_encode(&rec, CAIRN_EINVAL, "attempt: zero");
    rec.attempt = 1;
    rec.op = CAIRN_MAX_OPS;
    expect_encode(&rec, CAIRN_EINVAL, "op: 4096 exceeds 4095");
    rec.op = CAIRN_MAX_OPS - 1;
    size_t len;
    uint8_t *buf = encode_ok(&rec, &len);
    expect_canonical(buf, len);
    free(buf);
    cairn__record_free(&rec);

    fixture(CAIRN_REC_RESOLVE, &rec);
    rec.outcome = (cairn_outcome)3;
    expect_encode(&rec, CAIRN_EINVAL, "outcome: unknown value 3");
    rec.outcome = (cairn_outcome)7;
    expect_encode(&rec, CAIRN_EINVAL, "outcome: unknown value 7");
    rec.outcome = CAIRN_OUTCOME_SKIPPED;
    rec.error_class = (cairn_error_class)3;
    expect_encode(&rec, CAIRN_EINVAL, "error_class: unknown value 3");
    cairn__record_free(&rec);

    fixture(CAIRN_REC_CREATE, &rec);
    rec.signed_run = 2;
    expect_encode(&rec, CAIRN_EINVAL, "signed: 2, expected 0 or 1");
    rec.signed_run = 0;
    expect_encode(&rec, CAIRN_EINVAL, "key_id: not zero in an unsigned run");
    cairn__record_free(&rec);
}

static void test_nul_bytes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = vector_bytes(CAIRN_REC_ACCEPT, &len);
    buf[88] = 0; /* "alice" at 86 */
    expect_decode(buf, len, CAIRN_ECORRUPT, "offset 88: actor: NUL byte");
    free(buf);
    buf = vector_bytes(CAIRN_REC_ACCEPT, &len);
    buf[len - 1] = 0; /* last byte of the reason */
    char want[128];
    snprintf(want, sizeof(want), "offset %zu: reason: NUL byte", len - 1);
    expect_decode(buf, len, CAIRN_ECORRUPT, want);
    free(buf);
    buf = vector_bytes(CAIRN_REC_CREATE, &len);
    buf[len - 2] = 0; /* inside the plan */
    snprintf(want, sizeof(want), "offset %zu: plan: NUL byte", len - 2);
    expect_decode(buf, len, CAIRN_ECORRUPT, want);
    free(buf);
    raw_kv key[] = {{"a\0b", 3, "v", 1}};
    expect_raw(key, 1, CAIRN_ECORRUPT, "offset 107: outputs[0].key: NUL byte");
    raw_kv value[] = {{"k", 1, "xy\0", 3}};
    expect_raw(value, 1, CAIRN_ECORRUPT,
               "offset 113: outputs[0].value: NUL byte");

    cairn_record rec;
    fixture(CAIRN_REC_CREATE, &rec);
    rec.plan_json[3] = '\0';
    expect_encode(&rec, CAIRN_EINVAL, "plan: NUL byte");
    cairn__record_free(&rec);
}

static void test_encode_inputs(void **state)
{
    (void)state;
    cairn_record rec;
    fixture(CAIRN_REC_CANCEL, &rec);
    size_t len1, len2;
    uint8_t *b1 = encode_ok(&rec, &len1);
    /* fields another type uses are not encoded */
    own_str(&rec.host, filled(3, 'h'));
    rec.op = 99;
    uint8_t *b2 = encode_ok(&rec, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(b1, b2, len1);
    free(b1);
    free(b2);
    /* NULL strings count as "" */
    char *actor = rec.actor;
    rec.actor = NULL;
    b1 = encode_ok(&rec, &len1);
    assert_int_equal(cairn__load16_be(b1 + 84), 0);
    rec.actor = actor;
    free(b1);
    cairn__record_free(&rec);

    fixture(CAIRN_REC_CREATE, &rec);
    char *run_id = rec.run_id;
    rec.run_id = NULL;
    expect_encode(&rec, CAIRN_EINVAL, "run_id: empty");
    rec.run_id = run_id;
    char *plan = rec.plan_json;
    rec.plan_json = NULL;
    expect_encode(&rec, CAIRN_EINVAL, "plan: empty");
    rec.plan_json = plan;
    cairn__record_free(&rec);

    fixture(CAIRN_REC_RECEIPT, &rec);
    const char *key = rec.outputs.v[1].key;
    rec.outputs.v[1].key = NULL;
    expect_encode(&rec, CAIRN_EINVAL, "outputs[1].key: missing");
    rec.outputs.v[1].key = key;
    const char *value = rec.evidence.v[0].value;
    rec.evidence.v[0].value = NULL;
    expect_encode(&rec, CAIRN_EINVAL, "evidence[0].value: missing");
    rec.evidence.v[0].value = value;
    cairn_kv *v = rec.outputs.v;
    rec.outputs.v = NULL;
    expect_encode(&rec, CAIRN_EINVAL, "outputs: 2 pairs but no array");
    rec.outputs.v = v;
    cairn__record_free(&rec);
}

static void test_init_free(void **state)
{
    (void)state;
    cairn__record_free(NULL);
    cairn_record rec;
    cairn__record_init(&rec);
    assert_int_equal(rec.version, CAIRN_FORMAT_VERSION);
    assert_record_empty(&rec);
    assert_string_equal(rec.plan_id, "");
    assert_string_equal(rec.preflight_id, "");
    cairn__record_free(&rec);
    cairn__record_free(&rec); /* idempotent */
    assert_record_empty(&rec);
    /* a decode without a detail buffer */
    size_t len;
    uint8_t *buf = vector_bytes(CAIRN_REC_RECEIPT, &len);
    assert_int_equal(decode_checked(buf, len - 1, &rec, NULL, 0),
                     CAIRN_ECORRUPT);
    assert_int_equal(decode_checked(buf, len, &rec, NULL, 0), CAIRN_OK);
    assert_string_equal(kv_get(&rec.evidence, "stdout_tail"), "");
    assert_string_equal(rec.reason, "");
    cairn__record_free(&rec);
    assert_record_empty(&rec);
    free(buf);
}

static void test_set_str(void **state)
{
    (void)state;
    cairn_record rec;
    cairn__record_init(&rec);
    const char *shared = rec.host;
    assert_int_equal(cairn__record_set_str(&rec.host, "db1"), CAIRN_OK);
    assert_string_equal(rec.host, "db1");
    assert_ptr_not_equal(rec.host, shared);
    assert_int_equal(cairn__record_set_str(&rec.host, "db2.example"), CAIRN_OK);
    assert_string_equal(rec.host, "db2.example");
    assert_int_equal(cairn__record_set_str(&rec.host, NULL), CAIRN_OK);
    assert_ptr_equal(rec.host, shared); /* the shared "", not allocated */
    assert_int_equal(cairn__record_set_str(&rec.reason, "r"), CAIRN_OK);
    assert_int_equal(cairn__record_set_str(&rec.reason, ""), CAIRN_OK);
    assert_string_equal(rec.reason, "");
    assert_int_equal(cairn__record_set_str(&rec.actor, "alice"), CAIRN_OK);
    cairn__record_free(&rec); /* ASan: nothing leaks, nothing freed twice */
    assert_string_equal(rec.actor, "");
}

/* ---------------------------------------------------------------- */
/* Checkpoints and hashes                                           */

#define CP_GOLDEN                                                              \
    "010100000000000000070000000000000029404142434445464748494a4b4c4d4e4f50"   \
    "5152535455565758595a5b5c5d5e5f187afca76f25cd150102030405060708808182"     \
    "838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4"     \
    "a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
#define MSG_GOLDEN                                                             \
    "636169726e2f76312f636865636b706f696e7400000102030405060708090a0b0c0d"     \
    "0e0f001570672d6e696768746c792d323032362d31312d3232000000000000002940"     \
    "4142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f187afc"     \
    "a76f25cd150102030405060708"

static void cp_fixture(cairn_checkpoint *cp)
{
    memset(cp, 0, sizeof(*cp));
    cp->version = 1;
    cp->is_signed = 1;
    cp->run_num = 7;
    cp->seq = 41;
    fill_seq(cp->head, CAIRN_HASH_BYTES, 0x40);
    cp->wall_ns = WALL_NS;
    fill_seq(cp->key_id, CAIRN_KEY_ID_BYTES, 0x01);
    fill_seq(cp->sig, CAIRN_SIGNATURE_BYTES, 0x80);
}

static void expect_cp(const uint8_t *buf, size_t len, cairn_err want,
                      const char *want_detail)
{
    cairn_checkpoint cp;
    char detail[128];
    assert_int_equal(
        cairn__checkpoint_decode(buf, len, &cp, detail, sizeof(detail)), want);
    assert_string_equal(detail, want_detail);
    if (want != CAIRN_OK) {
        assert_int_equal(cp.run_num, 0);
        assert_int_equal(cp.seq, 0);
    }
}

/* The writer's inline fast path keeps the hard maximum even when the
 * buffer's capacity is larger; a size hint never fails by itself. */
static void test_writer_bounds(void **state)
{
    (void)state;
    cairn_wr w;
    cairn__wr_init(&w, 10);
    cairn__wr_reserve(&w, 1000); /* clamped to the maximum */
    assert_int_equal(cairn__wr_status(&w), CAIRN_OK);
    assert_true(w.cap >= 10);
    cairn__wr_u64(&w, 0x0102030405060708u);
    cairn__wr_u16(&w, 0x090a);
    assert_int_equal(cairn__wr_status(&w), CAIRN_OK);
    assert_int_equal(w.len, 10);
    cairn__wr_u8(&w, 0x0b); /* one past the maximum */
    assert_int_equal(cairn__wr_status(&w), CAIRN_EINVAL);
    assert_int_equal(w.len, 10);
    cairn__wr_bytes(&w, "", 0); /* sticky */
    cairn__wr_reserve(&w, 1);
    assert_int_equal(cairn__wr_status(&w), CAIRN_EINVAL);
    const uint8_t want[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    assert_memory_equal(w.p, want, sizeof(want));
    cairn__wr_free(&w);

    /* Growing past the first allocation keeps the bytes, big-endian. */
    cairn__wr_init(&w, 4096);
    for (uint32_t i = 0; i < 300; i++) {
        cairn__wr_u32(&w, i);
    }
    cairn__wr_reserve(&w, 0);
    assert_int_equal(cairn__wr_status(&w), CAIRN_OK);
    assert_int_equal(w.len, 1200);
    for (uint32_t i = 0; i < 300; i++) {
        assert_int_equal(cairn__load32_be(w.p + 4 * i), i);
    }
    cairn__wr_u8(&w, 0xff);
    cairn__wr_reserve(&w, 10000); /* past the maximum: room up to it */
    assert_int_equal(cairn__wr_status(&w), CAIRN_OK);
    assert_true(w.cap >= 4096);
    cairn__wr_free(&w);
}

static void test_checkpoint_golden(void **state)
{
    (void)state;
    cairn_checkpoint cp, got;
    cp_fixture(&cp);
    uint8_t buf[CAIRN_CHECKPOINT_BYTES];
    cairn__checkpoint_encode(&cp, buf);
    char hex[2 * CAIRN_CHECKPOINT_BYTES + 1];
    cairn__hex(buf, sizeof(buf), hex);
    assert_string_equal(hex, CP_GOLDEN);
    expect_cp(buf, sizeof(buf), CAIRN_OK, "");
    assert_int_equal(cairn__checkpoint_decode(buf, sizeof(buf), &got, NULL, 0),
                     CAIRN_OK);
    assert_memory_equal(&got, &cp, sizeof(cp));
    /* unsigned: key id and signature are written as zeros */
    cp.is_signed = 0;
    cairn__checkpoint_encode(&cp, buf);
    assert_int_equal(buf[1], 0);
    uint8_t zero[CAIRN_SIGNATURE_BYTES] = {0};
    assert_memory_equal(buf + 58, zero, CAIRN_KEY_ID_BYTES);
    assert_memory_equal(buf + 66, zero, CAIRN_SIGNATURE_BYTES);
    assert_int_equal(cairn__checkpoint_decode(buf, sizeof(buf), &got, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(got.is_signed, 0);
    assert_int_equal(got.seq, 41);
    /* any nonzero is_signed is written as flag bit 0 */
    cp.is_signed = 7;
    cairn__checkpoint_encode(&cp, buf);
    assert_int_equal(buf[1], 1);
    /* head-sealed (format 2, docs/FORMAT.md section 25): flag bit 1, the
     * key id kept, the signature written as zeros */
    cp.is_signed = 0;
    cp.head_sealed = 1;
    cairn__checkpoint_encode(&cp, buf);
    assert_int_equal(buf[1], 2);
    assert_memory_equal(buf + 58, cp.key_id, CAIRN_KEY_ID_BYTES);
    assert_memory_equal(buf + 66, zero, CAIRN_SIGNATURE_BYTES);
    assert_int_equal(cairn__checkpoint_decode(buf, sizeof(buf), &got, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(got.head_sealed, 1);
    assert_int_equal(got.is_signed, 0);
    assert_memory_equal(got.key_id, cp.key_id, CAIRN_KEY_ID_BYTES);
}

static void test_checkpoint_rejects(void **state)
{
    (void)state;
    cairn_checkpoint cp;
    cp_fixture(&cp);
    uint8_t buf[CAIRN_CHECKPOINT_BYTES + 1] = {0};
    cairn__checkpoint_encode(&cp, buf);
    expect_cp(buf, 0, CAIRN_ECORRUPT,
              "offset 0: checkpoint: length 0, expected 130");
    expect_cp(buf, 129, CAIRN_ECORRUPT,
              "offset 0: checkpoint: length 129, expected 130");
    expect_cp(buf, 131, CAIRN_ECORRUPT,
              "offset 0: checkpoint: length 131, expected 130");
    buf[0] = 2;
    expect_cp(buf, 130, CAIRN_EVERSION, "offset 0: version 2");
    expect_cp(buf, 7, CAIRN_EVERSION, "offset 0: version 2");
    buf[0] = 0;
    expect_cp(buf, 130, CAIRN_EVERSION, "offset 0: version 0");
    buf[0] = 1;
    buf[1] = 0x04;
    expect_cp(buf, 130, CAIRN_ECORRUPT, "offset 1: flags: unknown bits 0x04");
    buf[1] = 0x03;
    expect_cp(buf, 130, CAIRN_ECORRUPT,
              "offset 1: flags: both signed (bit 0) and sealed by the "
              "journal head (bit 1)");
    buf[1] = 0x02; /* head-sealed: a key id, but no signature of its own */
    expect_cp(buf, 130, CAIRN_ECORRUPT,
              "offset 66: signature: not zero in a head-sealed checkpoint");
    buf[1] = 0x81;
    expect_cp(buf, 130, CAIRN_ECORRUPT, "offset 1: flags: unknown bits 0x80");
    buf[1] = 0; /* unsigned, but key id and signature set */
    expect_cp(buf, 130, CAIRN_ECORRUPT,
              "offset 58: key_id: not zero in an unsigned checkpoint");
    memset(buf + 58, 0, CAIRN_KEY_ID_BYTES);
    expect_cp(buf, 130, CAIRN_ECORRUPT,
              "offset 66: signature: not zero in an unsigned checkpoint");
    buf[129] = 0;
    expect_cp(buf, 130, CAIRN_ECORRUPT,
              "offset 66: signature: not zero in an unsigned checkpoint");
    memset(buf + 66, 0, CAIRN_SIGNATURE_BYTES);
    expect_cp(buf, 130, CAIRN_OK, "");
}

static void test_checkpoint_flips(void **state)
{
    (void)state;
    cairn_checkpoint cp, got;
    cp_fixture(&cp);
    uint8_t buf[CAIRN_CHECKPOINT_BYTES], again[CAIRN_CHECKPOINT_BYTES];
    for (int kind = 0; kind <= 2; kind++) {
        cp.is_signed = (uint8_t)(kind == 1);
        cp.head_sealed = (uint8_t)(kind == 2);
        cairn__checkpoint_encode(&cp, buf);
        for (size_t pos = 0; pos < sizeof(buf); pos++) {
            for (unsigned x = 1; x < 256; x++) {
                buf[pos] ^= (uint8_t)x;
                cairn_err err =
                    cairn__checkpoint_decode(buf, sizeof(buf), &got, NULL, 0);
                if (err == CAIRN_OK) {
                    cairn__checkpoint_encode(&got, again);
                    assert_memory_equal(again, buf, sizeof(buf));
                } else {
                    assert_int_equal(err, pos == 0 ? CAIRN_EVERSION
                                                   : CAIRN_ECORRUPT);
                }
                buf[pos] ^= (uint8_t)x;
            }
        }
    }
}

static void test_checkpoint_message(void **state)
{
    (void)state;
    cairn_checkpoint cp;
    cp_fixture(&cp);
    uint8_t jid[CAIRN_JOURNAL_ID_BYTES];
    fill_seq(jid, sizeof(jid), 0);
    uint8_t msg[CAIRN_CHECKPOINT_MSG_MAX];
    size_t n = cairn__checkpoint_message(&cp, jid, RUN_ID, msg);
    assert_int_equal(n, 115);
    char hex[2 * CAIRN_CHECKPOINT_MSG_MAX + 1];
    cairn__hex(msg, n, hex);
    assert_string_equal(hex, MSG_GOLDEN);
    /* run_num, flags and the signature are not part of the message */
    cp.run_num = 99;
    cp.is_signed = 0;
    memset(cp.sig, 0, sizeof(cp.sig));
    uint8_t msg2[CAIRN_CHECKPOINT_MSG_MAX];
    assert_int_equal(cairn__checkpoint_message(&cp, jid, RUN_ID, msg2), n);
    assert_memory_equal(msg, msg2, n);
    char *id = filled(CAIRN_MAX_ID, 'r');
    assert_int_equal(cairn__checkpoint_message(&cp, jid, id, msg),
                     CAIRN_CHECKPOINT_MSG_MAX);
    free(id);
    id = filled(CAIRN_MAX_ID + 1, 'r');
    assert_int_equal(cairn__checkpoint_message(&cp, jid, id, msg), 0);
    free(id);
    assert_int_equal(cairn__checkpoint_message(&cp, jid, "", msg), 0);
    assert_int_equal(cairn__checkpoint_message(&cp, jid, NULL, msg), 0);
}

static void assert_hash_hex(const uint8_t h[CAIRN_HASH_BYTES], const char *want)
{
    char hex[2 * CAIRN_HASH_BYTES + 1];
    cairn__hex(h, CAIRN_HASH_BYTES, hex);
    assert_string_equal(hex, want);
}

static void test_hashes(void **state)
{
    (void)state;
    uint8_t h[CAIRN_HASH_BYTES], jid[CAIRN_JOURNAL_ID_BYTES];
    uint8_t kid[CAIRN_KEY_ID_BYTES], zero_kid[CAIRN_KEY_ID_BYTES] = {0};
    fill_seq(jid, sizeof(jid), 0);
    fill_seq(kid, sizeof(kid), 1);
    cairn__genesis_hash(jid, RUN_ID, kid, h);
    assert_hash_hex(
        h, "124646b5b331a1695c1c583ebdd43c3d5fac676ac2c5545a0ce9ee8d50cc0202");
    cairn__genesis_hash(jid, RUN_ID, zero_kid, h);
    assert_hash_hex(
        h, "2cb959c58fbf9ec021da5e3b5ad1d26df81a01618efd58f362667a90a8acbcb8");
    static const char zeros[] =
        "0000000000000000000000000000000000000000000000000000000000000000";
    cairn__genesis_hash(jid, "", kid, h);
    assert_hash_hex(h, zeros);
    char *id = filled(CAIRN_MAX_ID + 1, 'r');
    cairn__genesis_hash(jid, id, kid, h);
    assert_hash_hex(h, zeros);
    free(id);
    /* RFC 6962: the hash of an empty leaf */
    cairn__leaf_hash(NULL, 0, h);
    assert_hash_hex(
        h, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    /* leaf hash of a vector = SHA-256(0x00 || bytes) */
    size_t len;
    uint8_t *buf = vector_bytes(CAIRN_REC_ACCEPT, &len);
    uint8_t *pre = malloc(len + 1);
    assert_non_null(pre);
    pre[0] = 0;
    memcpy(pre + 1, buf, len);
    uint8_t want[CAIRN_HASH_BYTES];
    cairn__sha256(pre, len + 1, want);
    cairn__leaf_hash(buf, len, h);
    assert_memory_equal(h, want, CAIRN_HASH_BYTES);
    free(pre);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_vectors),
        cmocka_unit_test(test_golden_fields),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_byte_flips),
        cmocka_unit_test(test_string_limits),
        cmocka_unit_test(test_plan_limits),
        cmocka_unit_test(test_kv_count_limit),
        cmocka_unit_test(test_kv_size_limits),
        cmocka_unit_test(test_record_size_limit),
        cmocka_unit_test(test_kv_order),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_version_type_flags),
        cmocka_unit_test(test_bad_enums_decode),
        cmocka_unit_test(test_bad_enums_encode),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_encode_inputs),
        cmocka_unit_test(test_init_free),
        cmocka_unit_test(test_set_str),
        cmocka_unit_test(test_checkpoint_golden),
        cmocka_unit_test(test_checkpoint_rejects),
        cmocka_unit_test(test_writer_bounds),
        cmocka_unit_test(test_checkpoint_flips),
        cmocka_unit_test(test_checkpoint_message),
        cmocka_unit_test(test_hashes),
        cmocka_unit_test(test_decode_scratch),
    };
    if (cairn__crypto_init() != CAIRN_OK) {
        return 1;
    }
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cairn__record_scratch_free(&scratch);
    return failed;
}
