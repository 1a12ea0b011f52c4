/*
 * limits.c - what bounds durable appends on this machine: a raw append +
 * fdatasync loop, a bare LMDB commit of the same bytes (default flags,
 * MDB_APPEND), SHA-256 of those bytes, and Ed25519 sign / verify.
 */
#include "bench.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The workload's record bytes: claim and receipt sizes alternate. */
static size_t rec_len(const bn_env *env, size_t i)
{
    return i % 2 == 0 ? env->claim_len : env->receipt_len;
}

static void raw_fdatasync(const bn_env *env, size_t n)
{
    char *dir = bn_fresh_dir(env->root, "raw");
    char path[4096];
    snprintf(path, sizeof(path), "%s/append.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    uint8_t buf[4096];
    double *lat = calloc(n, sizeof(double));
    if (fd < 0 || lat == NULL) {
        bn_die("raw: %s", path);
    }
    randombytes_buf(buf, sizeof(buf));
    uint64_t t0 = bn_now_ns();
    for (size_t i = 0; i < n; i++) {
        uint64_t a = bn_now_ns();
        if (write(fd, buf, rec_len(env, i)) < 0 || fdatasync(fd) != 0) {
            bn_die("raw: write/fdatasync failed");
        }
        lat[i] = (double)(bn_now_ns() - a) / 1000.0;
    }
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    close(fd);
    bn_sample("raw append+fdatasync p50", "us", bn_median(lat, n));
    bn_sample("raw append+fdatasync", "appends/s", (double)n / secs);
    free(lat);
    bn_rmtree(dir);
    free(dir);
}

struct bn_lmdb {
    char *dir;
    MDB_env *env;
    MDB_dbi dbi;    /* bare: the main database */
    MDB_dbi dbs[4]; /* shaped: records, index, runs, checkpoints */
    uint64_t pos;
    uint64_t seq[1024]; /* shaped: next seq of each run */
    uint8_t buf[16384];
};

bn_lmdb *bn_lmdb_open(const bn_env *env, const char *name, int shaped)
{
    static const char *const names[4] = {"records", "index", "runs",
                                         "checkpoints"};
    bn_lmdb *l = calloc(1, sizeof(*l));
    MDB_txn *txn;
    if (l == NULL) {
        bn_die("out of memory");
    }
    l->dir = bn_fresh_dir(env->root, name);
    int rc = mdb_env_create(&l->env);
    rc = rc ? rc : mdb_env_set_maxdbs(l->env, 8);
    rc = rc ? rc : mdb_env_set_mapsize(l->env, (size_t)1 << 30);
    rc = rc ? rc : mdb_env_open(l->env, l->dir, 0, 0644);
    rc = rc ? rc : mdb_txn_begin(l->env, NULL, 0, &txn);
    rc = rc ? rc : mdb_dbi_open(txn, NULL, 0, &l->dbi);
    for (int i = 0; i < 4 && rc == 0 && shaped; i++) {
        rc = mdb_dbi_open(txn, names[i], MDB_CREATE, &l->dbs[i]);
    }
    if (rc != 0 || mdb_txn_commit(txn) != 0) {
        bn_die("lmdb: cannot open %s", l->dir);
    }
    randombytes_buf(l->buf, sizeof(l->buf));
    return l;
}

void bn_lmdb_close(bn_lmdb *l)
{
    mdb_env_close(l->env);
    bn_rmtree(l->dir);
    free(l->dir);
    free(l);
}

static void be64(uint8_t *out, uint64_t v)
{
    for (int b = 0; b < 8; b++) {
        out[b] = (uint8_t)(v >> (56 - 8 * b));
    }
}

static void put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl,
                const void *v, size_t vl, unsigned flags)
{
    MDB_val kv = {kl, (void *)(uintptr_t)k}, dv = {vl, (void *)(uintptr_t)v};
    int rc = mdb_put(txn, dbi, &kv, &dv, flags);
    if (rc != 0) {
        bn_die("lmdb: put: %s", mdb_strerror(rc));
    }
}

static MDB_txn *begin(bn_lmdb *l)
{
    MDB_txn *txn;
    if (mdb_txn_begin(l->env, NULL, 0, &txn) != 0) {
        bn_die("lmdb: begin");
    }
    return txn;
}

static void commit(MDB_txn *txn)
{
    if (mdb_txn_commit(txn) != 0) {
        bn_die("lmdb: commit");
    }
}

double bn_lmdb_commit(bn_lmdb *l, const bn_env *env, size_t per)
{
    uint8_t key[8];
    uint64_t a = bn_now_ns();
    MDB_txn *txn = begin(l);
    for (size_t k = 0; k < per; k++) {
        be64(key, ++l->pos);
        put(txn, l->dbi, key, 8, l->buf, rec_len(env, l->pos), MDB_APPEND);
    }
    commit(txn);
    return (double)(bn_now_ns() - a) / 1000.0;
}

double bn_lmdb_shaped(bn_lmdb *l, const bn_env *env, size_t first, size_t runs)
{
    uint8_t key[8], ikey[16], run[8];
    uint64_t a = bn_now_ns();
    MDB_txn *txn = begin(l);
    for (size_t r = first; r < first + runs; r++) {
        be64(key, ++l->pos);
        be64(ikey, r + 1);
        be64(ikey + 8, l->seq[r % 1024]++);
        put(txn, l->dbs[0], key, 8, l->buf, rec_len(env, l->pos), MDB_APPEND);
        put(txn, l->dbs[1], ikey, 16, key, 8, MDB_NOOVERWRITE);
    }
    for (size_t r = first; r < first + runs; r++) {
        be64(run, r + 1);
        put(txn, l->dbs[2], run, 8, l->buf, env->state_len, 0);
    }
    for (size_t r = 0; r < runs; r++) {
        be64(key, l->pos - runs + 1 + r);
        put(txn, l->dbs[3], key, 8, l->buf, 130, MDB_APPEND);
    }
    commit(txn);
    return (double)(bn_now_ns() - a) / 1000.0;
}

/* @p per records per commit; commit latencies (us) into @p lat. */
static double lmdb_commits(const bn_env *env, size_t n, size_t per, double *lat)
{
    bn_lmdb *l = bn_lmdb_open(env, "lmdb", 0);
    uint64_t t0 = bn_now_ns();
    for (size_t i = 0; i < n; i++) {
        lat[i] = bn_lmdb_commit(l, env, per);
    }
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    bn_lmdb_close(l);
    return (double)(n * per) / secs;
}

static void bare_lmdb(const bn_env *env, size_t n)
{
    double *lat = calloc(n, sizeof(double));
    if (lat == NULL) {
        bn_die("out of memory");
    }
    double rate = lmdb_commits(env, n, 1, lat);
    bn_sample("bare LMDB commit, 1 put p50", "us", bn_median(lat, n));
    bn_sample("bare LMDB commit, 1 put p99", "us", bn_pct(lat, n, 99));
    bn_sample("bare LMDB commit, 1 put", "records/s", rate);
    rate = lmdb_commits(env, n / 4, 64, lat);
    bn_sample("bare LMDB commit, 64 puts", "records/s", rate);
    /* The same pages cairn's commits touch, without cairn's code. */
    bn_lmdb *l = bn_lmdb_open(env, "lmdb-shaped", 1);
    for (size_t i = 0; i < n; i++) {
        lat[i] = bn_lmdb_shaped(l, env, 0, 1);
    }
    bn_sample("LMDB commit shaped like cairn's, 1 run p50", "us",
              bn_median(lat, n));
    uint64_t t0 = bn_now_ns();
    for (size_t i = 0; i < n / 4; i++) {
        bn_lmdb_shaped(l, env, 100 + 32 * (i % 2), 32);
    }
    bn_sample("LMDB commits shaped like cairn's, 32 runs each", "records/s",
              (double)(n / 4 * 32) / ((double)(bn_now_ns() - t0) / 1e9));
    bn_lmdb_close(l);
    free(lat);
}

static void hashing(const bn_env *env)
{
    enum { N = 200000 };
    static const uint8_t leaf = 0x00;
    uint8_t buf[4096], out[32];
    randombytes_buf(buf, sizeof(buf));
    memset(out, 0, sizeof(out));
    uint64_t t0 = bn_now_ns();
    size_t bytes = 0;
    for (size_t i = 0; i < N; i++) {
        size_t len = rec_len(env, i);
        crypto_hash_sha256_state st;
        buf[i % len] ^= out[0]; /* a data dependency between rounds */
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, &leaf, 1);
        crypto_hash_sha256_update(&st, buf, len);
        crypto_hash_sha256_final(&st, out);
        bytes += len;
    }
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    bn_sample("SHA-256 leaf hash of one record", "us", secs * 1e6 / (double)N);
    bn_sample("SHA-256 over record bytes", "MB/s", (double)bytes / secs / 1e6);
}

static void ed25519(const bn_env *env)
{
    enum { N = 3000 };
    uint8_t pk[32], sk[64], msg[115], sig[64];
    (void)env;
    crypto_sign_keypair(pk, sk);
    randombytes_buf(msg, sizeof(msg));
    uint64_t t0 = bn_now_ns();
    for (int i = 0; i < N; i++) {
        msg[0] = (uint8_t)i;
        crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
    }
    uint64_t t1 = bn_now_ns();
    int bad = 0;
    for (int i = 0; i < N; i++) {
        bad |= crypto_sign_verify_detached(sig, msg, sizeof(msg), pk);
    }
    uint64_t t2 = bn_now_ns();
    if (bad != 0) {
        bn_die("ed25519: verify failed");
    }
    bn_sample("Ed25519 sign (checkpoint message)", "us",
              (double)(t1 - t0) / 1000.0 / N);
    bn_sample("Ed25519 verify", "us", (double)(t2 - t1) / 1000.0 / N);
    sodium_memzero(sk, sizeof(sk));
}

void bn_limits(const bn_env *env)
{
    size_t n = env->quick ? 100 : 400;
    raw_fdatasync(env, n);
    bare_lmdb(env, n);
    hashing(env);
    ed25519(env);
}

void bn_versions(char *out, size_t len)
{
    int maj, min, pat;
    mdb_version(&maj, &min, &pat);
    snprintf(out, len, "libsodium %s, LMDB %d.%d.%d, SQLite %s",
             sodium_version_string(), maj, min, pat, bn_sqlite_version());
}
