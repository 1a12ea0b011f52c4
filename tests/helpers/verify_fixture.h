/*
 * verify_fixture.h - helpers shared by test_verify.c and test_tamper.c:
 * a sample signed journal (keys, two interleaved signed runs), an unsigned
 * journal beside it (one run: a format-2 journal is signed by one key or
 * by none, never a mix), copies of them, raw LMDB access to tamper with the
 * copies, and an attacker's "rechain" that rewrites a run's records, index,
 * checkpoints and state consistently.  Include after testutil.h.
 */
#ifndef CAIRN_TEST_VERIFY_FIXTURE_H
#define CAIRN_TEST_VERIFY_FIXTURE_H

#include "base/bytes.h"
#include "journal/journal.h"
#include "keys/key.h"
#include "plan/plan.h"
#include "format/record.h"
#include "state/state.h"
#include "verify/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 0 check-space, 1 check-auth (preflight), 2 stop-db, 3 snapshot-db
 * (requires artifact, digest), 4 start-db, 5 transfer, 6 verify, 7 tidy */
static const char vf_plan_fmt[] =
    "{\"cairn_plan\":1,\"plan_id\":\"pg\",\"run_id\":\"%s\","
    "\"operations\":["
    "{\"id\":\"check-space\",\"kind\":\"preflight\"},"
    "{\"id\":\"check-auth\",\"kind\":\"preflight\"},"
    "{\"id\":\"stop-db\",\"kind\":\"stop\",\"target\":\"db\"},"
    "{\"id\":\"snapshot-db\",\"kind\":\"snapshot\",\"target\":\"db\","
    "\"requires\":[\"artifact\",\"digest\"]},"
    "{\"id\":\"start-db\",\"kind\":\"start\",\"target\":\"db\"},"
    "{\"id\":\"transfer\",\"kind\":\"transfer\"},"
    "{\"id\":\"verify\",\"kind\":\"verify\"},"
    "{\"id\":\"tidy\",\"kind\":\"cleanup\"}]}";

#define VF_RUN_A "run-a"
#define VF_RUN_B "run-b"
#define VF_RUN_U "run-u"
#define VF_A_RECORDS 13

/** The sample: keys A (signs) and B (another key), the journal dir, and
 *  run-a's honest head after each of its commits. */
typedef struct vf_sample {
    char *root;
    char *dir;  /* root/j: signed by key A */
    char *udir; /* root/u: unsigned, holding run-u */
    char *pub_a, *sec_a, *pub_b, *sec_b;
    cairn_signer *a, *b;
    cairn_pubkey *pk_a, *pk_b;
    uint8_t heads[VF_A_RECORDS][CAIRN_HASH_BYTES];
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
} vf_sample;

static inline void vf_keygen(const char *pub, const char *sec)
{
    char detail[256];
    assert_int_equal(
        cairn__keygen_opts_run(pub, sec, NULL, NULL, detail, sizeof(detail)),
        CAIRN_OK);
}

static inline cairn_plan *vf_plan(const char *run_id)
{
    char json[2048], detail[256];
    cairn_plan *plan = NULL;
    snprintf(json, sizeof(json), vf_plan_fmt, run_id);
    assert_int_equal(
        cairn_plan_parse(json, strlen(json), &plan, detail, sizeof(detail)),
        CAIRN_OK);
    return plan;
}

static inline void vf_create(cairn_journal *j, const char *run_id)
{
    char out[CAIRN_MAX_ID + 1];
    cairn_plan *plan = vf_plan(run_id);
    assert_int_equal(cairn_run_create(j, plan, NULL, out, sizeof(out)),
                     CAIRN_OK);
    assert_string_equal(out, run_id);
    cairn_plan_free(plan);
}

static inline void vf_claim(cairn_journal *j, const char *run, int64_t op)
{
    cairn_claim_result r;
    assert_int_equal(
        cairn_claim(j, run, op, CAIRN_CLAIM_NORMAL, NULL, NULL, &r), CAIRN_OK);
}

static inline void vf_receipt(cairn_journal *j, const char *run, uint32_t op,
                              cairn_outcome outcome, const cairn_kv *out,
                              size_t n)
{
    cairn_receipt r = {.seq = op, .outcome = outcome};
    r.outputs = out;
    r.n_outputs = n;
    if (outcome == CAIRN_OUTCOME_FAILED) {
        r.error_class = CAIRN_CLASS_RETRYABLE;
        r.reason = "exit 1";
    }
    assert_int_equal(cairn_receipt_record(j, run, &r, NULL), CAIRN_OK);
}

/* Remember run-a's head after its commit number @p i. */
static inline void vf_mark(vf_sample *s, cairn_journal *j, size_t i)
{
    cairn_summary *sum = NULL;
    assert_int_equal(cairn_status(j, VF_RUN_A, &sum), CAIRN_OK);
    assert_int_equal(sum->records, i + 1);
    memcpy(s->heads[i], sum->head, CAIRN_HASH_BYTES);
    cairn_summary_free(sum);
}

/* run-a: 13 records (seq 0..12), run-b interleaved (3), run-u (2). */
static inline void vf_fill(vf_sample *s, cairn_journal *j)
{
    static const cairn_kv snap[] = {{"artifact", "/b/db.tar"},
                                    {"digest", "abc"}};
    cairn_actor_info who = {"alice", "checks passed"};
    size_t i = 0;
    cairn_journal_set_signer(j, s->a);
    vf_create(j, VF_RUN_A);
    vf_mark(s, j, i++);
    vf_create(j, VF_RUN_B);
    vf_claim(j, VF_RUN_A, -1); /* 1 */
    vf_mark(s, j, i++);
    vf_receipt(j, VF_RUN_A, 0, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    vf_mark(s, j, i++);
    vf_claim(j, VF_RUN_B, -1);
    vf_claim(j, VF_RUN_A, -1); /* 3 */
    vf_mark(s, j, i++);
    vf_receipt(j, VF_RUN_A, 1, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    vf_mark(s, j, i++);
    vf_receipt(j, VF_RUN_B, 0, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    assert_int_equal(cairn_accept_preflight(j, VF_RUN_A, "pf-1", &who),
                     CAIRN_OK); /* 5 */
    vf_mark(s, j, i++);
    vf_claim(j, VF_RUN_A, -1); /* 6 */
    vf_mark(s, j, i++);
    vf_receipt(j, VF_RUN_A, 2, CAIRN_OUTCOME_FAILED, NULL, 0);
    vf_mark(s, j, i++);
    cairn_actor_info op = {"bob", "transient, try again"};
    assert_int_equal(cairn_retry(j, VF_RUN_A, 2, &op), CAIRN_OK); /* 8 */
    vf_mark(s, j, i++);
    vf_claim(j, VF_RUN_A, -1); /* 9 */
    vf_mark(s, j, i++);
    vf_receipt(j, VF_RUN_A, 2, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    vf_mark(s, j, i++);
    vf_claim(j, VF_RUN_A, -1); /* 11 */
    vf_mark(s, j, i++);
    vf_receipt(j, VF_RUN_A, 3, CAIRN_OUTCOME_COMPLETED, snap, 2);
    vf_mark(s, j, i++);
    assert_int_equal(i, VF_A_RECORDS);
}

/* The unsigned journal: run-u, created and claimed. */
static inline void vf_fill_unsigned(cairn_journal *j)
{
    vf_create(j, VF_RUN_U);
    vf_claim(j, VF_RUN_U, -1);
}

static inline void vf_load_keys(vf_sample *s)
{
    char detail[256];
    assert_int_equal(
        cairn_signer_load(s->sec_a, NULL, &s->a, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(
        cairn_signer_load(s->sec_b, NULL, &s->b, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(
        cairn_pubkey_load(s->pub_a, &s->pk_a, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(
        cairn_pubkey_load(s->pub_b, &s->pk_b, detail, sizeof(detail)),
        CAIRN_OK);
}

/** Keys in @p keys_from (NULL: make new ones), a fresh sample journal. */
static inline vf_sample *vf_sample_new(const vf_sample *keys_from)
{
    vf_sample *s = calloc(1, sizeof(*s));
    char detail[256];
    cairn_journal *j = NULL;
    assert_non_null(s);
    s->root = tu_mkdtemp();
    s->dir = tu_path(s->root, "j");
    s->udir = tu_path(s->root, "u");
    s->pub_a = tu_path(s->root, "a.pub");
    s->sec_a = tu_path(s->root, "a.key");
    s->pub_b = tu_path(s->root, "b.pub");
    s->sec_b = tu_path(s->root, "b.key");
    if (keys_from == NULL) {
        vf_keygen(s->pub_a, s->sec_a);
        vf_keygen(s->pub_b, s->sec_b);
    } else {
        size_t n;
        char *t;
        const char *src[4] = {keys_from->pub_a, keys_from->sec_a,
                              keys_from->pub_b, keys_from->sec_b};
        const char *dst[4] = {s->pub_a, s->sec_a, s->pub_b, s->sec_b};
        for (int i = 0; i < 4; i++) {
            t = tu_read_file(src[i], &n);
            tu_write_file(dst[i], t, n);
            free(t);
        }
    }
    vf_load_keys(s);
    assert_int_equal(cairn_journal_open(s->dir, CAIRN_OPEN_CREATE, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    cairn_journal_id(j, s->journal_id);
    vf_fill(s, j);
    cairn_journal_close(j);
    j = NULL;
    assert_int_equal(cairn_journal_open(s->udir, CAIRN_OPEN_CREATE, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    vf_fill_unsigned(j);
    cairn_journal_close(j);
    return s;
}

static inline void vf_sample_free(vf_sample *s)
{
    if (s == NULL) {
        return;
    }
    cairn_signer_free(s->a);
    cairn_signer_free(s->b);
    cairn_pubkey_free(s->pk_a);
    cairn_pubkey_free(s->pk_b);
    free(s->dir);
    free(s->udir);
    free(s->pub_a);
    free(s->sec_a);
    free(s->pub_b);
    free(s->sec_b);
    tu_rmtree(s->root);
    free(s);
}

/** A copy of the sample's journal directory (data.mdb only) in a new
 *  temporary directory; the caller frees it with tu_rmtree(). */
static inline char *vf_copy(const char *dir)
{
    char *dst = tu_mkdtemp();
    char *from = tu_path(dir, "data.mdb"), *to = tu_path(dst, "data.mdb");
    size_t n;
    char *data = tu_read_file(from, &n);
    tu_write_file(to, data, n);
    free(data);
    free(from);
    free(to);
    return dst;
}

/** Verify @p run in journal @p dir (NULL run: the directory checks). */
static inline cairn_verify_report vf_verify(const char *dir, const char *run,
                                            const cairn_pubkey *pinned)
{
    cairn_verify_report rep;
    cairn_journal *j = NULL;
    char detail[512];
    assert_int_equal(cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    if (run != NULL) {
        assert_int_equal(cairn_verify_run(j, run, pinned, &rep), CAIRN_OK);
    } else {
        assert_int_equal(cairn_verify_directory(j, &rep), CAIRN_OK);
    }
    cairn_journal_close(j);
    return rep;
}

/* ---- raw LMDB ------------------------------------------------------ */

enum { VR_META, VR_NAMES, VR_RUNS, VR_RECORDS, VR_INDEX, VR_CPS, VR_N };

/** Assert that @p r's verdict is @p v, printing its reason when not. */
static inline void vf_assert_verdict(const cairn_verify_report *r,
                                     cairn_verdict v)
{
    if (r->verdict != v) {
        print_error("verdict %s, want %s: %s (field %s)\n",
                    cairn_verdict_name(r->verdict), cairn_verdict_name(v),
                    r->reason, r->bad_field);
    }
    assert_int_equal(r->verdict, v);
}

/* A program whose tests share one sample defines VF_SHARED_SAMPLE before
 * including this header: `sample`, made by vf_group_setup() and freed by
 * vf_group_teardown() (cmocka_run_group_tests()). */
#ifdef VF_SHARED_SAMPLE
static vf_sample *sample;

static inline int vf_group_setup(void **state)
{
    (void)state;
    sample = vf_sample_new(NULL);
    return 0;
}

static inline int vf_group_teardown(void **state)
{
    (void)state;
    vf_sample_free(sample);
    sample = NULL;
    return 0;
}
#endif

typedef struct vf_raw {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi db[VR_N];
} vf_raw;

static inline void vf_raw_open(vf_raw *r, const char *dir)
{
    static const char *const names[VR_N] = {"meta",    "names", "runs",
                                            "records", "index", "checkpoints"};
    assert_int_equal(mdb_env_create(&r->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(r->env, 16), 0);
    assert_int_equal(mdb_env_set_mapsize(r->env, (size_t)1 << 28), 0);
    assert_int_equal(mdb_env_open(r->env, dir, MDB_NOSYNC, 0644), 0);
    assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
    for (int i = 0; i < VR_N; i++) {
        assert_int_equal(mdb_dbi_open(r->txn, names[i], 0, &r->db[i]), 0);
    }
}

static inline void vf_raw_close(vf_raw *r)
{
    assert_int_equal(mdb_txn_commit(r->txn), 0);
    mdb_env_close(r->env);
}

static inline void vf_raw_begin(vf_raw *r)
{
    assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
}

static inline void vf_raw_commit(vf_raw *r)
{
    assert_int_equal(mdb_txn_commit(r->txn), 0);
    r->txn = NULL;
}

/** A malloc'd copy of the value, or NULL when absent. */
static inline uint8_t *vf_get(vf_raw *r, int db, const void *key, size_t kl,
                              size_t *vl)
{
    MDB_val k = {kl, (void *)(uintptr_t)key}, v;
    int rc = mdb_get(r->txn, r->db[db], &k, &v);
    if (rc == MDB_NOTFOUND) {
        *vl = 0;
        return NULL;
    }
    assert_int_equal(rc, 0);
    uint8_t *out = malloc(v.mv_size + 1);
    assert_non_null(out);
    memcpy(out, v.mv_data, v.mv_size);
    *vl = v.mv_size;
    return out;
}

static inline void vf_put(vf_raw *r, int db, const void *key, size_t kl,
                          const void *val, size_t vl)
{
    MDB_val k = {kl, (void *)(uintptr_t)key}, v = {vl, (void *)(uintptr_t)val};
    assert_int_equal(mdb_put(r->txn, r->db[db], &k, &v, 0), 0);
}

static inline void vf_del(vf_raw *r, int db, const void *key, size_t kl)
{
    MDB_val k = {kl, (void *)(uintptr_t)key};
    int rc = mdb_del(r->txn, r->db[db], &k, NULL);
    assert_true(rc == 0 || rc == MDB_NOTFOUND);
}

static inline void vf_key8(uint8_t key[8], uint64_t v)
{
    cairn__store64_be(key, v);
}

/* Format 2's per-operation rows (docs/FORMAT.md section 23), raw. */
typedef struct vf_rows {
    vf_raw *raw;
    MDB_dbi rows, nodes;
    uint64_t run_num;
} vf_rows;

/** Open the "oprows" and "otree" databases; 0 when the journal has none. */
static inline int vf_rows_open(vf_raw *raw, vf_rows *out)
{
    out->raw = raw;
    return mdb_dbi_open(raw->txn, "oprows", 0, &out->rows) == 0 &&
           mdb_dbi_open(raw->txn, "otree", 0, &out->nodes) == 0;
}

static inline cairn_err vf_rows_put_node(void *ctx, unsigned level,
                                         uint64_t index,
                                         const uint8_t h[CAIRN_HASH_BYTES])
{
    vf_rows *r = ctx;
    uint8_t key[17];
    cairn__store64_be(key, r->run_num);
    key[8] = (uint8_t)level;
    cairn__store64_be(key + 9, index);
    MDB_val k = {sizeof(key), key}, v = {CAIRN_HASH_BYTES, (void *)(uintptr_t)h};
    return mdb_put(r->raw->txn, r->nodes, &k, &v, 0) == 0 ? CAIRN_OK
                                                            : CAIRN_EIO;
}

/** Store @p st as the writer does: in a format-2 journal its summary,
 *  every row and every op tree node; else section 9's blob. */
static inline void vf_put_state(vf_raw *raw, cairn_state *st)
{
    uint8_t rkey[8], *blob = NULL;
    size_t bl = 0;
    vf_rows r;
    vf_key8(rkey, st->run_num);
    if (!st->pruned && vf_rows_open(raw, &r)) {
        r.run_num = st->run_num;
        for (uint32_t i = 0; i < st->n_ops; i++) {
            uint8_t key[12], *row = NULL;
            size_t rl = 0;
            assert_int_equal(cairn__oprow_encode(&st->ops[i], &row, &rl),
                             CAIRN_OK);
            cairn__store64_be(key, st->run_num);
            cairn__store32_be(key + 8, i);
            MDB_val k = {sizeof(key), key}, v = {rl, row};
            assert_int_equal(mdb_put(raw->txn, r.rows, &k, &v, 0), 0);
            free(row);
        }
        assert_int_equal(cairn__state_ops_root(st, vf_rows_put_node, &r),
                         CAIRN_OK);
        assert_int_equal(cairn__summary_encode(st, &blob, &bl), CAIRN_OK);
    } else {
        assert_int_equal(cairn__state_encode(st, &blob, &bl), CAIRN_OK);
    }
    vf_put(raw, VR_RUNS, rkey, sizeof(rkey), blob, bl);
    free(blob);
}

/** Decode run @p run_num's stored state, whatever its version (a
 *  summary gets its rows from "oprows"). */
static inline void vf_get_state(vf_raw *raw, uint64_t run_num,
                                cairn_state *st)
{
    uint8_t rkey[8];
    size_t vl;
    char why[256];
    vf_rows r;
    vf_key8(rkey, run_num);
    uint8_t *v = vf_get(raw, VR_RUNS, rkey, sizeof(rkey), &vl);
    assert_non_null(v);
    if (v[0] != 2) {
        assert_int_equal(cairn__state_decode(v, vl, st, why, sizeof(why)),
                         CAIRN_OK);
        free(v);
        return;
    }
    assert_int_equal(cairn__summary_decode(v, vl, st, why, sizeof(why)),
                     CAIRN_OK);
    free(v);
    if (st->pruned || st->n_ops == 0) {
        return;
    }
    assert_true(vf_rows_open(raw, &r));
    st->ops = calloc(st->n_ops, sizeof(cairn_op_st));
    assert_non_null(st->ops);
    for (uint32_t i = 0; i < st->n_ops; i++) {
        uint8_t key[12];
        cairn__store64_be(key, run_num);
        cairn__store32_be(key + 8, i);
        MDB_val k = {sizeof(key), key}, val;
        assert_int_equal(mdb_get(raw->txn, r.rows, &k, &val), 0);
        assert_int_equal(cairn__oprow_decode(val.mv_data, val.mv_size,
                                             &st->ops[i], why, sizeof(why)),
                         CAIRN_OK);
    }
}

/** Turn every run's stored state into section 9's blob (what a format-1
 *  journal holds), for a fixture that makes one out of a format-2
 *  journal; the caller drops "oprows" and "otree". */
static inline void vf_states_to_v1(vf_raw *raw)
{
    for (uint64_t run = 1;; run++) {
        uint8_t rkey[8], *blob = NULL;
        size_t vl, bl = 0;
        cairn_state st;
        vf_key8(rkey, run);
        uint8_t *v = vf_get(raw, VR_RUNS, rkey, sizeof(rkey), &vl);
        if (v == NULL) {
            return;
        }
        free(v);
        vf_get_state(raw, run, &st);
        assert_int_equal(cairn__state_encode(&st, &blob, &bl), CAIRN_OK);
        vf_put(raw, VR_RUNS, rkey, sizeof(rkey), blob, bl);
        free(blob);
        cairn__state_free(&st);
    }
}

static inline void vf_key16(uint8_t key[16], uint64_t run, uint64_t seq)
{
    cairn__store64_be(key, run);
    cairn__store64_be(key + 8, seq);
}

/** Position of record @p seq of run @p run (0 when absent). */
static inline uint64_t vf_pos(vf_raw *r, uint64_t run, uint64_t seq)
{
    uint8_t key[16];
    size_t vl;
    vf_key16(key, run, seq);
    uint8_t *v = vf_get(r, VR_INDEX, key, sizeof(key), &vl);
    uint64_t pos = v != NULL && vl == 8 ? cairn__load64_be(v) : 0;
    free(v);
    return pos;
}

/* ---- the attacker's rewrite ------------------------------------------ */

typedef struct vf_rec {
    uint64_t pos;
    cairn_record rec;
} vf_rec;

typedef struct vf_run {
    uint64_t run_num;
    vf_rec *r;
    size_t n;
} vf_run;

/** Decode every record of @p run_num (by its index) into @p out. */
static inline void vf_load_run(vf_raw *raw, uint64_t run_num, vf_run *out)
{
    char why[256];
    memset(out, 0, sizeof(*out));
    out->run_num = run_num;
    out->r = calloc(64, sizeof(vf_rec));
    assert_non_null(out->r);
    for (uint64_t seq = 0;; seq++) {
        uint64_t pos = vf_pos(raw, run_num, seq);
        uint8_t key[8];
        size_t vl;
        if (pos == 0) {
            break;
        }
        assert_true(out->n < 64);
        vf_key8(key, pos);
        uint8_t *v = vf_get(raw, VR_RECORDS, key, sizeof(key), &vl);
        assert_non_null(v);
        out->r[out->n].pos = pos;
        assert_int_equal(
            cairn__record_decode(v, vl, &out->r[out->n].rec, why, sizeof(why)),
            CAIRN_OK);
        out->n++;
        free(v);
    }
}

static inline void vf_free_run(vf_run *run)
{
    for (size_t i = 0; i < run->n; i++) {
        cairn__record_free(&run->r[i].rec);
    }
    free(run->r);
    run->r = NULL;
    run->n = 0;
}

/** Remove element @p i from a loaded run (its record is freed). */
static inline void vf_drop(vf_run *run, size_t i)
{
    cairn__record_free(&run->r[i].rec);
    memmove(&run->r[i], &run->r[i + 1], (run->n - i - 1) * sizeof(vf_rec));
    run->n--;
}

typedef struct vf_rewrite {
    const uint8_t *journal_id;
    const cairn_signer *signer; /* checkpoints signed with it, or unsigned */
    size_t cp_from;             /* rewrite checkpoints of seq >= this */
    int renumber;               /* seq = index in the list */
    int state;                  /* recompute the materialised state */
} vf_rewrite;

static inline void vf_put_checkpoint(vf_raw *raw, const vf_rewrite *o,
                                     const cairn_record *rec,
                                     const char *run_id,
                                     const uint8_t head[CAIRN_HASH_BYTES],
                                     uint64_t pos)
{
    cairn_checkpoint cp;
    uint8_t msg[CAIRN_CHECKPOINT_MSG_MAX], bytes[CAIRN_CHECKPOINT_BYTES];
    uint8_t key[8];
    memset(&cp, 0, sizeof(cp));
    cp.version = 1;
    cp.run_num = rec->run_num;
    cp.seq = rec->seq;
    memcpy(cp.head, head, CAIRN_HASH_BYTES);
    cp.wall_ns = rec->wall_ns;
    if (o->signer != NULL) {
        cp.is_signed = 1;
        cairn_signer_key_id(o->signer, cp.key_id);
        size_t n = cairn__checkpoint_message(&cp, o->journal_id, run_id, msg);
        assert_int_equal(cairn__signer_sign(o->signer, msg, n, cp.sig),
                         CAIRN_OK);
    }
    cairn__checkpoint_encode(&cp, bytes);
    vf_key8(key, pos);
    vf_put(raw, VR_CPS, key, sizeof(key), bytes, sizeof(bytes));
}

/** Sign every head-sealed checkpoint (format 2, docs/FORMAT.md section
 *  25) on its own with @p signer, as format 1 stores them: what a
 *  format-1 copy of a format-2 sample needs. */
static inline void vf_checkpoints_to_v1(vf_raw *raw,
                                        const uint8_t *journal_id,
                                        const cairn_signer *signer)
{
    MDB_cursor *cur;
    MDB_val k, v;
    size_t n = 0, cap = 64;
    uint8_t(*keys)[8] = malloc(cap * 8);
    assert_non_null(keys);
    assert_int_equal(mdb_cursor_open(raw->txn, raw->db[VR_CPS], &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        assert_int_equal(k.mv_size, 8);
        if (n == cap) {
            cap *= 2;
            keys = realloc(keys, cap * 8);
            assert_non_null(keys);
        }
        memcpy(keys[n++], k.mv_data, 8);
    }
    mdb_cursor_close(cur);
    for (size_t i = 0; i < n; i++) {
        size_t vl;
        cairn_checkpoint cp;
        cairn_state st;
        char why[160];
        uint8_t *val = vf_get(raw, VR_CPS, keys[i], 8, &vl);
        assert_int_equal(cairn__checkpoint_decode(val, vl, &cp, why,
                                                  sizeof(why)),
                         CAIRN_OK);
        free(val);
        if (!cp.head_sealed) {
            continue;
        }
        vf_get_state(raw, cp.run_num, &st);
        vf_rewrite o = {journal_id, signer, 0, 0, 0};
        cairn_record rec;
        memset(&rec, 0, sizeof(rec));
        rec.run_num = cp.run_num;
        rec.seq = cp.seq;
        rec.wall_ns = cp.wall_ns;
        vf_put_checkpoint(raw, &o, &rec, st.run_id, cp.head,
                          cairn__load64_be(keys[i]));
        cairn__state_free(&st);
    }
    free(keys);
}

/* One step of the attacker's state replay; returns 0 once it fails. */
static inline int vf_state_step(cairn_state *st, const cairn_record *rec,
                                const uint8_t hash[CAIRN_HASH_BYTES],
                                uint64_t pos)
{
    char why[512];
    if (rec->seq == 0) {
        cairn_plan *plan = NULL;
        if (cairn__plan_from_canonical(rec->plan_json, rec->plan_len, &plan,
                                       why, sizeof(why)) != CAIRN_OK) {
            return 0;
        }
        cairn_err err =
            cairn__state_init(st, plan, rec, hash, pos, why, sizeof(why));
        cairn_plan_free(plan);
        return err == CAIRN_OK;
    }
    return cairn__state_apply(st, rec, hash, pos, why, sizeof(why)) == CAIRN_OK;
}

/** Write @p run back: records chained from the genesis hash, index,
 *  checkpoints (as @p o says) and, if it replays, the state. */
static inline void vf_store_run(vf_raw *raw, vf_run *run, const vf_rewrite *o)
{
    uint8_t prev[CAIRN_HASH_BYTES], key[16];
    cairn_state st;
    int state_ok = o->state;
    char why[256];
    memset(&st, 0, sizeof(st));
    for (uint64_t s = 0; s < 64; s++) {
        vf_key16(key, run->run_num, s);
        vf_del(raw, VR_INDEX, key, sizeof(key));
    }
    const cairn_record *first = &run->r[0].rec;
    cairn__genesis_hash(o->journal_id, first->run_id, first->key_id, prev);
    for (size_t i = 0; i < run->n; i++) {
        cairn_record *rec = &run->r[i].rec;
        uint8_t *bytes = NULL, hash[CAIRN_HASH_BYTES], pkey[8];
        size_t len = 0;
        rec->run_num = run->run_num;
        if (o->renumber) {
            rec->seq = i;
        }
        memcpy(rec->prev, prev, CAIRN_HASH_BYTES);
        assert_int_equal(
            cairn__record_encode(rec, &bytes, &len, why, sizeof(why)),
            CAIRN_OK);
        cairn__leaf_hash(bytes, len, hash);
        vf_key8(pkey, run->r[i].pos);
        vf_put(raw, VR_RECORDS, pkey, sizeof(pkey), bytes, len);
        vf_key16(key, run->run_num, rec->seq);
        vf_put(raw, VR_INDEX, key, sizeof(key), pkey, sizeof(pkey));
        if (i >= o->cp_from) {
            vf_put_checkpoint(raw, o, rec, first->run_id, hash, run->r[i].pos);
        }
        if (state_ok) {
            state_ok = vf_state_step(&st, rec, hash, run->r[i].pos);
        }
        memcpy(prev, hash, CAIRN_HASH_BYTES);
        free(bytes);
    }
    if (state_ok) {
        vf_put_state(raw, &st);
    }
    cairn__state_free(&st);
}

#endif
