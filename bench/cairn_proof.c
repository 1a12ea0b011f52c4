/*
 * cairn_proof.c - in the verify journal (BENCH_RECORDS records, 1M by
 * default): a writer's verification before it acts, and inclusion and
 * consistency proofs of the log tree (docs/FORMAT.md section 13), each
 * against one SHA-256 of a record and one Ed25519 verification measured
 * in the same repetition.
 *
 * The pre-action check is exactly what a transition does before it builds
 * its record (commit/xq_commit.c, load()): a read transaction,
 * cairn__head_load() (the head parsed, its counts against the records
 * and runs databases, its signature checked unless the handle already
 * proved these very bytes), cairn__load_state_lazy() (the run summary
 * read, hashed and proven by an inclusion proof in the state map under
 * the head, and decoded), cairn__state_is_run(), then the row of the
 * run's head operation (what a claim reads) proven in the run's op tree
 * (docs/FORMAT.md 23.5), the end of the transaction.  The run's number
 * comes from the handle's name cache in a transition, so the name
 * lookup is not part of it.
 */
#include "bench.h"

#include "commit/commit.h"
#include "format/merkle.h"
#include "journal/head.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_CHECK = 2000, N_PROOF = 2000 };

/* A deterministic generator for the proven indexes (xorshift64). */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double us_since(uint64_t t0)
{
    return (double)(bn_now_ns() - t0) / 1000.0;
}

/* ---- the references: one SHA-256 of a record, one Ed25519 verify ------- */

static double sha_record_us(const bn_env *env)
{
    enum { N = 20000 };
    uint8_t buf[4096], out[CAIRN_HASH_BYTES];
    randombytes_buf(buf, sizeof(buf));
    memset(out, 0, sizeof(out));
    uint64_t t0 = bn_now_ns();
    for (size_t i = 0; i < N; i++) {
        size_t len = i % 2 == 0 ? env->claim_len : env->receipt_len;
        buf[i % len] ^= out[0];
        cairn__leaf_hash(buf, len, out);
    }
    return us_since(t0) / N;
}

/* Ed25519 verification of a message the size of a head's note body. */
static double ed25519_verify_us(void)
{
    enum { N = 1000 };
    uint8_t pk[32], sk[64], msg[200], sig[64];
    crypto_sign_keypair(pk, sk);
    randombytes_buf(msg, sizeof(msg));
    crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
    int bad = 0;
    uint64_t t0 = bn_now_ns();
    for (int i = 0; i < N; i++) {
        bad |= crypto_sign_verify_detached(sig, msg, sizeof(msg), pk);
    }
    double us = us_since(t0) / N;
    sodium_memzero(sk, sizeof(sk));
    if (bad) {
        bn_die("ed25519 verify failed");
    }
    return us;
}

/* ---- a writer's pre-action verification ---------------------------------- */

static uint64_t run_number(cairn_journal *j, const char *run_id)
{
    cairn_txn *txn = NULL;
    uint64_t num = 0;
    bn_ok(cairn__store_read(j->store, &txn), j, "read");
    bn_ok(cairn__lookup_run(j, txn, run_id, &num), j, run_id);
    cairn__txn_end(txn);
    return num;
}

/* One pre-action check of run @p num (@p run_id), as prepare() does it;
 * @p cold: forget the proven head first, so that its signature is
 * checked again (as by a process that did not write the head). */
static double pre_action(cairn_journal *j, const char *run_id, uint64_t num,
                         int cold)
{
    cairn_txn *txn = NULL;
    cairn_state st;
    char detail[512];
    if (cold) {
        cairn__head_forget(j);
    }
    uint64_t t0 = bn_now_ns();
    cairn_head h;
    cairn_err err = cairn__store_read(j->store, &txn);
    int loaded = 0;
    if (err == CAIRN_OK) {
        err = cairn__head_load(j, txn, &h, detail, sizeof(detail));
    }
    if (err == CAIRN_OK) {
        err = cairn__load_state_lazy(j, txn, &h, num, &st, NULL, detail,
                                     sizeof(detail));
        loaded = err == CAIRN_OK;
    }
    if (err == CAIRN_OK) {
        err = cairn__state_is_run(&st, run_id, num, detail, sizeof(detail));
    }
    /* the row a claim of the head op reads, proven in the op tree */
    if (err == CAIRN_OK && !st.pruned && st.head_op < st.n_ops) {
        err = cairn__state_need(&st, st.head_op, detail, sizeof(detail));
    }
    if (loaded) {
        cairn__state_detach(&st);
        cairn__state_free(&st);
    }
    if (txn != NULL) {
        cairn__txn_end(txn);
    }
    double us = us_since(t0);
    if (err != CAIRN_OK) {
        bn_die("pre-action check of %s: %s (%s)", run_id, cairn_errname(err),
               detail);
    }
    return us;
}

/* The parts: the head alone, the state proof alone (leaf given). */
static void parts(cairn_journal *j, uint64_t num, double *head_us,
                  double *proof_us, size_t *state_len)
{
    static double h[N_CHECK], p[N_CHECK];
    char detail[512];
    for (size_t i = 0; i < N_CHECK; i++) {
        cairn_txn *txn = NULL;
        cairn_head head;
        const uint8_t *v;
        size_t vl;
        int found = 0;
        uint8_t key[8], leaf[CAIRN_HASH_BYTES];
        bn_ok(cairn__store_read(j->store, &txn), j, "read");
        uint64_t t0 = bn_now_ns();
        bn_ok(cairn__head_load(j, txn, &head, detail, sizeof(detail)), j,
              "head");
        h[i] = us_since(t0);
        for (int b = 0; b < 8; b++) {
            key[b] = (uint8_t)(num >> (56 - 8 * b));
        }
        bn_ok(cairn__txn_get(txn, CAIRN_DBI_RUNS, key, 8, &v, &vl, &found), j,
              "state");
        if (!found || !head.proven) {
            bn_die("pre-action parts: no state, or the head is not proven");
        }
        cairn__state_leaf(v, vl, leaf);
        *state_len = vl;
        t0 = bn_now_ns();
        bn_ok(cairn__head_prove_state(txn, &head, num, leaf, detail,
                                      sizeof(detail)),
              j, "prove state");
        p[i] = us_since(t0);
        cairn__txn_end(txn);
    }
    *head_us = bn_median(h, N_CHECK);
    *proof_us = bn_median(p, N_CHECK);
}

static void checks(const bn_env *env, cairn_journal *j, const char *run_id,
                   const char *what, int target)
{
    static double warm[N_CHECK], cold[N_CHECK];
    char key[96], tkey[64];
    uint64_t num = run_number(j, run_id);
    for (size_t i = 0; i < N_CHECK; i++) {
        warm[i] = pre_action(j, run_id, num, 0);
    }
    for (size_t i = 0; i < N_CHECK; i++) {
        cold[i] = pre_action(j, run_id, num, 1);
    }
    snprintf(key, sizeof(key), "%s, sig cached, p50", what);
    bn_sample(key, "us", bn_median(warm, N_CHECK));
    if (target) {
        snprintf(tkey, sizeof(tkey), "writer pre-action check at %s, p50",
                 env->scale);
        bn_target(key, 1, 300, tkey);
    }
    snprintf(key, sizeof(key), "%s, sig cached, p99", what);
    bn_sample(key, "us", bn_pct(warm, N_CHECK, 99));
    snprintf(key, sizeof(key), "%s, sig checked, p50", what);
    bn_sample(key, "us", bn_median(cold, N_CHECK));
    if (target) {
        snprintf(tkey, sizeof(tkey), "  the same, head signature checked too");
        bn_target(key, 1, 300, tkey);
    }
    snprintf(key, sizeof(key), "%s, sig checked, p99", what);
    bn_sample(key, "us", bn_pct(cold, N_CHECK, 99));
    if (target) {
        double head_us, proof_us;
        size_t state_len;
        parts(j, num, &head_us, &proof_us, &state_len);
        bn_sample("  of which: load the head (signature proven before)", "us",
                  head_us);
        bn_sample("  of which: prove the state's leaf in the state map", "us",
                  proof_us);
        bn_sample("  run summary of that run (stored)", "bytes",
                  (double)state_len);
    }
}

/* ---- proofs of the log tree ------------------------------------------------
 */

typedef struct proof_times {
    double produce[N_PROOF], check[N_PROOF], len[N_PROOF];
} proof_times;

/* Inclusion: read the record at a random position, hash it, produce its
 * proof from the stored nodes (in the read transaction) and check it
 * against the signed head's root. */
static void inclusion(cairn_journal *j, proof_times *t, uint64_t *size)
{
    uint64_t seed = 0x9e3779b97f4a7c15u;
    uint8_t proof[CAIRN_MT_MAX_PROOF][CAIRN_HASH_BYTES];
    char detail[512];
    for (size_t i = 0; i < N_PROOF; i++) {
        cairn_txn *txn = NULL;
        cairn_head h;
        const uint8_t *v;
        size_t vl, count = 0;
        int found = 0;
        uint8_t key[8], leaf[CAIRN_HASH_BYTES];
        bn_ok(cairn__store_read(j->store, &txn), j, "read");
        bn_ok(cairn__head_load(j, txn, &h, detail, sizeof(detail)), j, "head");
        *size = h.size;
        uint64_t index = next_rand(&seed) % h.size;
        cairn_nodes nodes = {txn, CAIRN_DBI_TREE};
        uint64_t t0 = bn_now_ns();
        for (int b = 0; b < 8; b++) {
            key[b] = (uint8_t)((index + 1) >> (56 - 8 * b));
        }
        bn_ok(cairn__txn_get(txn, CAIRN_DBI_RECORDS, key, 8, &v, &vl, &found),
              j, "record");
        if (!found) {
            bn_die("record %llu missing", (unsigned long long)index + 1);
        }
        cairn__leaf_hash(v, vl, leaf);
        bn_ok(cairn__mt_prove_inclusion(index, h.size, cairn__nodes_get, &nodes,
                                        proof, CAIRN_MT_MAX_PROOF, &count,
                                        detail, sizeof(detail)),
              j, "prove inclusion");
        uint64_t t1 = bn_now_ns();
        int bad = cairn__mt_check_inclusion(
            index, h.size, leaf, (const uint8_t(*)[CAIRN_HASH_BYTES])proof,
            count, h.root);
        uint64_t t2 = bn_now_ns();
        cairn__txn_end(txn);
        if (bad) {
            bn_die("inclusion proof of record %llu does not check",
                   (unsigned long long)index + 1);
        }
        t->produce[i] = (double)(t1 - t0) / 1000.0;
        t->check[i] = (double)(t2 - t1) / 1000.0;
        t->len[i] = (double)count;
    }
}

/* Consistency from a random older size m to the head's size: produce from
 * the stored nodes, check against both roots (root_m, the older
 * checkpoint's, is computed outside the timing: a verifier has it). */
static void consistency(cairn_journal *j, proof_times *t)
{
    uint64_t seed = 0x2545f4914f6cdd1du;
    uint8_t proof[CAIRN_MT_MAX_PROOF][CAIRN_HASH_BYTES];
    char detail[512];
    for (size_t i = 0; i < N_PROOF; i++) {
        cairn_txn *txn = NULL;
        cairn_head h;
        size_t count = 0;
        uint8_t root_m[CAIRN_HASH_BYTES];
        bn_ok(cairn__store_read(j->store, &txn), j, "read");
        bn_ok(cairn__head_load(j, txn, &h, detail, sizeof(detail)), j, "head");
        uint64_t m = 1 + next_rand(&seed) % (h.size - 1);
        cairn_nodes nodes = {txn, CAIRN_DBI_TREE};
        bn_ok(cairn__mt_root(m, cairn__nodes_get, &nodes, root_m, detail,
                             sizeof(detail)),
              j, "root");
        uint64_t t0 = bn_now_ns();
        bn_ok(cairn__mt_prove_consistency(m, h.size, cairn__nodes_get, &nodes,
                                          proof, CAIRN_MT_MAX_PROOF, &count,
                                          detail, sizeof(detail)),
              j, "prove consistency");
        uint64_t t1 = bn_now_ns();
        int bad = cairn__mt_check_consistency(
            m, h.size, root_m, h.root,
            (const uint8_t(*)[CAIRN_HASH_BYTES])proof, count);
        uint64_t t2 = bn_now_ns();
        cairn__txn_end(txn);
        if (bad) {
            bn_die("consistency proof %llu -> %llu does not check",
                   (unsigned long long)m, (unsigned long long)h.size);
        }
        t->produce[i] = (double)(t1 - t0) / 1000.0;
        t->check[i] = (double)(t2 - t1) / 1000.0;
        t->len[i] = (double)count;
    }
}

static void report_proofs(const char *name, const proof_times *t, double sha,
                          double ed)
{
    char key[96];
    double p = bn_median(t->produce, N_PROOF), c = bn_median(t->check, N_PROOF);
    snprintf(key, sizeof(key), "%s proof: produce, p50", name);
    bn_sample(key, "us", p);
    snprintf(key, sizeof(key), "  %s proof: check against the root, p50", name);
    bn_sample(key, "us", c);
    snprintf(key, sizeof(key), "  %s proof length (median)", name);
    bn_sample(key, "hashes", bn_median(t->len, N_PROOF));
    snprintf(key, sizeof(key), "  %s: produce+check / SHA-256 of a record",
             name);
    bn_sample(key, "x", (p + c) / sha);
    snprintf(key, sizeof(key), "  %s: produce+check / Ed25519 verify", name);
    bn_sample(key, "x", (p + c) / ed);
    snprintf(key, sizeof(key), "  %s: check / Ed25519 verify", name);
    bn_sample(key, "x", c / ed);
}

void bn_proofs(const bn_env *env, cairn_journal *j, const char *probe,
               const char *big_run)
{
    static proof_times t;
    char title[96], what[96];
    uint64_t size = 0;
    snprintf(title, sizeof(title),
             "cairn: a writer's verification before it acts, %s records",
             env->scale);
    bn_section(title);
    snprintf(what, sizeof(what), "pre-action check, %d-task run",
             (int)BN_TASKS);
    checks(env, j, probe, what, 1);
    snprintf(what, sizeof(what), "pre-action check, 500-task run");
    checks(env, j, big_run, what, 0);
    snprintf(title, sizeof(title),
             "cairn: log tree proofs at %s records (issue 16)", env->scale);
    bn_section(title);
    double sha = sha_record_us(env), ed = ed25519_verify_us();
    bn_sample("one SHA-256 leaf hash of a record (workload sizes)", "us", sha);
    bn_sample("one Ed25519 verify (200-byte message)", "us", ed);
    inclusion(j, &t, &size);
    bn_sample("log tree size (records under the signed head)", "records",
              (double)size);
    /* inclusion: read a random record, hash it, produce its proof;
     * consistency: from a random older size to the head's */
    report_proofs("inclusion", &t, sha, ed);
    consistency(j, &t);
    report_proofs("consistency", &t, sha, ed);
}
