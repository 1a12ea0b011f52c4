/*
 * peer_sqlite.c - the same journal in SQLite (WAL, synchronous=FULL): per
 * transition one transaction that inserts the record (same bytes, chained
 * by SHA-256), its (run, seq) index entry, rewrites the run's state (same
 * size as cairn's) and inserts one Ed25519-signed checkpoint.
 *
 * Concurrency: SQLite has one writer at a time and no group commit across
 * transactions, so concurrent runs share one connection under a mutex and
 * each transition is its own transaction: the way a library on SQLite
 * would serialise its handle.
 */
#include "bench.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sq {
    sqlite3 *db;
    sqlite3_stmt *begin, *rec, *state, *cp, *commit;
    pthread_mutex_t mu;
    uint8_t state_blob[65536];
} sq;

static void check(int rc, sq *s, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        bn_die("sqlite: %s: %s", what, s->db ? sqlite3_errmsg(s->db) : "");
    }
}

static sqlite3_stmt *prep(sq *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    check(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL), s, sql);
    return st;
}

static void sq_open(sq *s, const char *dir)
{
    char path[4096];
    memset(s, 0, sizeof(*s));
    snprintf(path, sizeof(path), "%s/journal.sqlite", dir);
    check(sqlite3_open(path, &s->db), s, "open");
    check(sqlite3_exec(s->db,
                       "PRAGMA journal_mode=WAL;"
                       "PRAGMA synchronous=FULL;"
                       "CREATE TABLE records(pos INTEGER PRIMARY KEY,"
                       " run INTEGER NOT NULL, seq INTEGER NOT NULL,"
                       " body BLOB NOT NULL);"
                       "CREATE UNIQUE INDEX records_run ON records(run, seq);"
                       "CREATE TABLE runs(run INTEGER PRIMARY KEY,"
                       " state BLOB NOT NULL);"
                       "CREATE TABLE checkpoints(pos INTEGER PRIMARY KEY,"
                       " body BLOB NOT NULL);",
                       NULL, NULL, NULL),
          s, "schema");
    s->begin = prep(s, "BEGIN IMMEDIATE");
    s->rec = prep(s, "INSERT INTO records(run, seq, body) VALUES(?,?,?)");
    s->state = prep(s, "INSERT OR REPLACE INTO runs(run, state) VALUES(?,?)");
    s->cp = prep(s, "INSERT INTO checkpoints(pos, body) VALUES(?,?)");
    s->commit = prep(s, "COMMIT");
    pthread_mutex_init(&s->mu, NULL);
}

static void sq_close(sq *s)
{
    sqlite3_stmt *all[] = {s->begin, s->rec, s->state, s->cp, s->commit};
    for (size_t i = 0; i < 5; i++) {
        sqlite3_finalize(all[i]);
    }
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
}

static void step(sq *s, sqlite3_stmt *st, const char *what)
{
    check(sqlite3_step(st), s, what);
    sqlite3_reset(st);
}

/* One transition of run @p r: one durable transaction. */
static void sq_transition(sq *s, const bn_env *env, bn_peer_run *r)
{
    uint8_t rec[4096], cp[130];
    size_t len = bn_peer_step(r, env, rec, cp);
    pthread_mutex_lock(&s->mu);
    step(s, s->begin, "begin");
    sqlite3_bind_int64(s->rec, 1, (sqlite3_int64)r->id);
    sqlite3_bind_int64(s->rec, 2, (sqlite3_int64)(r->seq - 1));
    sqlite3_bind_blob(s->rec, 3, rec, (int)len, SQLITE_STATIC);
    step(s, s->rec, "record");
    sqlite3_int64 pos = sqlite3_last_insert_rowid(s->db);
    s->state_blob[0] = (uint8_t)r->seq;
    sqlite3_bind_int64(s->state, 1, (sqlite3_int64)r->id);
    sqlite3_bind_blob(s->state, 2, s->state_blob, (int)env->state_len,
                      SQLITE_STATIC);
    step(s, s->state, "state");
    sqlite3_bind_int64(s->cp, 1, pos);
    sqlite3_bind_blob(s->cp, 2, cp, 130, SQLITE_STATIC);
    step(s, s->cp, "checkpoint");
    step(s, s->commit, "commit");
    pthread_mutex_unlock(&s->mu);
}

static void latency(const bn_env *env)
{
    size_t n = env->quick ? 100 : 400;
    double *lat = calloc(n, sizeof(double));
    char *dir = bn_fresh_dir(env->root, "sqlite-latency");
    sq s;
    bn_peer_run r;
    if (lat == NULL) {
        bn_die("out of memory");
    }
    sq_open(&s, dir);
    bn_peer_init(&r, env, 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = bn_now_ns();
        sq_transition(&s, env, &r);
        lat[i] = (double)(bn_now_ns() - t0) / 1000.0;
    }
    bn_sample("SQLite transition p50", "us", bn_median(lat, n));
    bn_sample("SQLite transition p99", "us", bn_pct(lat, n, 99));
    sq_close(&s);
    bn_rmtree(dir);
    free(dir);
    free(lat);
}

typedef struct sworker {
    const bn_env *env;
    sq *s;
    bn_peer_run run;
    unsigned ops;
    pthread_barrier_t *go;
} sworker;

static void *worker(void *arg)
{
    sworker *w = arg;
    pthread_barrier_wait(w->go);
    for (unsigned i = 0; i < 2 * w->ops; i++) {
        sq_transition(w->s, w->env, &w->run);
    }
    return NULL;
}

static void threads(const bn_env *env, unsigned n)
{
    char name[32], key[96];
    snprintf(name, sizeof(name), "sqlite-%u", n);
    char *dir = bn_fresh_dir(env->root, name);
    sq s;
    sworker *w = calloc(n, sizeof(*w));
    pthread_t *t = calloc(n, sizeof(*t));
    pthread_barrier_t go;
    unsigned ops = env->quick ? BN_TASKS / 2 : BN_TASKS;
    if (w == NULL || t == NULL) {
        bn_die("out of memory");
    }
    sq_open(&s, dir);
    pthread_barrier_init(&go, NULL, n + 1);
    for (unsigned i = 0; i < n; i++) {
        w[i].env = env;
        w[i].s = &s;
        w[i].ops = ops;
        w[i].go = &go;
        bn_peer_init(&w[i].run, env, i + 1);
        pthread_create(&t[i], NULL, worker, &w[i]);
    }
    pthread_barrier_wait(&go);
    uint64_t t0 = bn_now_ns();
    for (unsigned i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    snprintf(key, sizeof(key), "SQLite, %u run%s as threads", n,
             n > 1 ? "s" : "");
    double rate = (double)n * ops * 2 / secs;
    bn_sample(key, "records/s", rate);
    char ckey[96];
    snprintf(ckey, sizeof(ckey), "cairn, %u run%s as threads, one handle", n,
             n > 1 ? "s" : "");
    double mine = bn_last(ckey);
    if (mine > 0) {
        snprintf(key, sizeof(key), "  cairn / SQLite, %u threads [>1]", n);
        bn_sample(key, "x", mine / rate);
        if (n == 64) {
            bn_target(key, 0, 1, "cairn / SQLite, 64 runs as threads");
        }
    }
    pthread_barrier_destroy(&go);
    sq_close(&s);
    free(w);
    free(t);
    bn_rmtree(dir);
    free(dir);
}

void bn_sqlite(const bn_env *env)
{
    static const unsigned counts[] = {1, 8, 64};
    latency(env);
    for (size_t i = 0; i < 3; i++) {
        threads(env, counts[i]);
    }
}

const char *bn_sqlite_version(void)
{
    return sqlite3_libversion();
}
