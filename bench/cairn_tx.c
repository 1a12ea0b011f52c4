/*
 * cairn_tx.c - cairn's transitions: one runner's claim and receipt
 * latency, measured in blocks interleaved with bare LMDB commits of the
 * same bytes (so both see the same disk at the same moment), and the
 * throughput of 1, 8 and 64 concurrent runs as threads sharing one handle
 * (group commit) and as processes with a handle each.
 */
#include "bench.h"

#include "commit/commit.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- latency ------------------------------------------------------------- */

typedef struct lat_set {
    double *tr, *bare, *shaped, *claim, *receipt;
    size_t n, k, c, b;
} lat_set;

static double *alloc_lat(size_t n)
{
    double *p = calloc(n, sizeof(double));
    if (p == NULL) {
        bn_die("out of memory");
    }
    return p;
}

/* @p per claim+receipt pairs of run @p run. */
static void transitions(cairn_journal *j, const char *run, size_t per,
                        lat_set *s)
{
    for (size_t i = 0; i < per; i++, s->c++) {
        uint32_t seq;
        uint64_t t0 = bn_now_ns();
        bn_ok(bn_claim(j, run, &seq), j, "claim");
        uint64_t t1 = bn_now_ns();
        bn_ok(bn_receipt(j, run, seq), j, "receipt");
        uint64_t t2 = bn_now_ns();
        s->claim[s->c] = (double)(t1 - t0) / 1000.0;
        s->receipt[s->c] = (double)(t2 - t1) / 1000.0;
        s->tr[s->k++] = s->claim[s->c];
        s->tr[s->k++] = s->receipt[s->c];
    }
}

static void report_latency(const lat_set *s)
{
    double bare = bn_median(s->bare, s->n), tr = bn_median(s->tr, s->n);
    bn_sample("claim p50", "us", bn_median(s->claim, s->c));
    bn_sample("claim p99", "us", bn_pct(s->claim, s->c, 99));
    bn_sample("receipt p50", "us", bn_median(s->receipt, s->c));
    bn_sample("receipt p99", "us", bn_pct(s->receipt, s->c, 99));
    bn_sample("bare LMDB commit, interleaved, p50", "us", bare);
    bn_sample("LMDB commit shaped like cairn's, interleaved, p50", "us",
              bn_median(s->shaped, s->n));
    bn_sample("signed transition / bare LMDB commit (p50) [<=1.2]", "x",
              tr / bare);
    bn_target("signed transition / bare LMDB commit (p50) [<=1.2]", 1, 1.2,
              "signed transition / bare LMDB commit (p50)");
    bn_sample("signed transition / bare LMDB commit (p99)", "x",
              bn_pct(s->tr, s->n, 99) / bn_pct(s->bare, s->n, 99));
    bn_sample("signed transition / LMDB commit shaped like it (p50)", "x",
              tr / bn_median(s->shaped, s->n));
}

/* Blocks of bare LMDB commits, commits shaped like cairn's and cairn
 * transitions, interleaved, over several runs of the workload's plan. */
void bn_cairn_latency(const bn_env *env)
{
    const size_t blocks = 8, per = env->quick ? 6 : BN_TASKS; /* pairs */
    lat_set s;
    memset(&s, 0, sizeof(s));
    s.n = blocks * per * 2;
    s.tr = alloc_lat(s.n);
    s.bare = alloc_lat(s.n);
    s.shaped = alloc_lat(s.n);
    s.claim = alloc_lat(s.n / 2);
    s.receipt = alloc_lat(s.n / 2);
    char *dir = bn_fresh_dir(env->root, "latency");
    cairn_journal *j = bn_open(env, dir);
    bn_lmdb *bare = bn_lmdb_open(env, "latency-bare", 0);
    bn_lmdb *shaped = bn_lmdb_open(env, "latency-shaped", 1);
    for (size_t b = 0; b < blocks; b++) {
        char run[32];
        snprintf(run, sizeof(run), "runner-%zu", b);
        bn_start_run(j, run, BN_TASKS);
        bn_ok(cairn_run_lock(j, run), j, "lock"); /* as the runner does */
        for (size_t i = 0; i < per * 2; i++, s.b++) {
            s.bare[s.b] = bn_lmdb_commit(bare, env, 1);
            s.shaped[s.b] = bn_lmdb_shaped(shaped, env, b, 1);
        }
        transitions(j, run, per, &s);
        cairn_run_unlock(j, run);
    }
    report_latency(&s);
    /* A bigger plan: its state, rewritten by every commit, is bigger. */
    char run[32] = "runner-big";
    lat_set big = s;
    big.k = big.c = 0;
    bn_start_run(j, run, 8 * BN_TASKS);
    bn_ok(cairn_run_lock(j, run), j, "lock");
    transitions(j, run, per * 2, &big);
    bn_sample("claim+receipt p50, plan of 8x the operations", "us",
              bn_median(big.tr, big.k));
    cairn_journal_close(j);
    bn_lmdb_close(bare);
    bn_lmdb_close(shaped);
    bn_rmtree(dir);
    free(dir);
    free(s.tr);
    free(s.bare);
    free(s.shaped);
    free(s.claim);
    free(s.receipt);
}

/* ---- throughput ---------------------------------------------------------- */

typedef struct tworker {
    const bn_env *env;
    cairn_journal *j;
    char run[32];
    unsigned ops;
    pthread_barrier_t *go;
} tworker;

/* Claim and receipt each of @p ops operations of @p run. */
static cairn_err drive(cairn_journal *j, const char *run, unsigned ops)
{
    cairn_err err = CAIRN_OK;
    for (unsigned i = 0; i < ops && err == CAIRN_OK; i++) {
        uint32_t seq;
        err = bn_claim(j, run, &seq);
        if (err == CAIRN_OK) {
            err = bn_receipt(j, run, seq);
        }
    }
    return err;
}

static void *thread_main(void *arg)
{
    tworker *w = arg;
    /* A runner holds its run's lock for its whole life. */
    bn_ok(cairn_run_lock(w->j, w->run), w->j, "lock");
    pthread_barrier_wait(w->go);
    bn_ok(drive(w->j, w->run, w->ops), w->j, "thread transition");
    cairn_run_unlock(w->j, w->run);
    return NULL;
}

static unsigned ops_per_worker(const bn_env *env, unsigned workers)
{
    (void)workers;
    return env->quick ? BN_TASKS / 2 : BN_TASKS;
}

static void start_runs(const bn_env *env, const char *dir, unsigned n,
                       unsigned ops)
{
    cairn_journal *j = bn_open(env, dir);
    for (unsigned i = 0; i < n; i++) {
        char run[32];
        snprintf(run, sizeof(run), "run-%u", i);
        bn_start_run(j, run, ops);
    }
    cairn_journal_close(j);
}

/* CPU time of the whole process (every thread), user + system. */
static double process_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void threads(const bn_env *env, unsigned n)
{
    char name[32], key[96];
    snprintf(name, sizeof(name), "threads-%u", n);
    char *dir = bn_fresh_dir(env->root, name);
    unsigned ops = ops_per_worker(env, n);
    start_runs(env, dir, n, ops);
    cairn_journal *j = bn_open(env, dir);
    tworker *w = calloc(n, sizeof(*w));
    pthread_t *t = calloc(n, sizeof(*t));
    pthread_barrier_t go;
    cairn_journal_info a, b;
    pthread_barrier_init(&go, NULL, n + 1);
    for (unsigned i = 0; i < n; i++) {
        w[i] = (tworker){env, j, "", ops, &go};
        snprintf(w[i].run, sizeof(w[i].run), "run-%u", i);
        pthread_create(&t[i], NULL, thread_main, &w[i]);
    }
    bn_ok(cairn_journal_info_get(j, &a), j, "info");
    pthread_barrier_wait(&go);
    uint64_t t0 = bn_now_ns();
    double cpu0 = process_cpu_us();
    for (unsigned i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    double cpu = process_cpu_us() - cpu0;
    bn_ok(cairn_journal_info_get(j, &b), j, "info");
    double recs = (double)(b.records - a.records);
    snprintf(key, sizeof(key), "cairn, %u run%s as threads, one handle", n,
             n > 1 ? "s" : "");
    bn_sample(key, "records/s", recs / secs);
    if (n == 64) {
        bn_target(key, 0, 100000, "64 runs as threads, signed durable");
    }
    snprintf(key, sizeof(key), "  records per commit (%u threads)", n);
    bn_sample(key, "records", recs / (double)(b.last_txnid - a.last_txnid));
    snprintf(key, sizeof(key), "  CPU per record (%u threads, all of them)", n);
    bn_sample(key, "us", cpu / recs);
    pthread_barrier_destroy(&go);
    cairn_journal_close(j);
    free(w);
    free(t);
    bn_rmtree(dir);
    free(dir);
}

/* The journal's counters, through a handle of its own (closed again). */
static void journal_info(const bn_env *env, const char *dir,
                         cairn_journal_info *out)
{
    cairn_journal *j = bn_open(env, dir);
    bn_ok(cairn_journal_info_get(j, out), j, "info");
    cairn_journal_close(j);
}

/* N runs, each driven by a process with its own handle: they share
 * commits through DIR/commit.shm (docs/FORMAT.md section 8). */
static void processes(const bn_env *env, unsigned n)
{
    char name[32], key[96];
    int go[2], ready[2];
    snprintf(name, sizeof(name), "procs-%u", n);
    char *dir = bn_fresh_dir(env->root, name);
    unsigned ops = ops_per_worker(env, n);
    start_runs(env, dir, n, ops);
    cairn_journal_info a, b;
    journal_info(env, dir, &a); /* before any child has the journal open */
    pid_t *pids = calloc(n, sizeof(pid_t));
    if (pids == NULL || pipe(go) != 0 || pipe(ready) != 0) {
        bn_die("processes: setup");
    }
    for (unsigned i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            char run[32], c;
            close(go[1]);
            close(ready[0]);
            cairn_journal *j = bn_open(env, dir);
            snprintf(run, sizeof(run), "run-%u", i);
            if (cairn_run_lock(j, run) != CAIRN_OK) {
                _exit(3);
            }
            c = 'r';
            if (write(ready[1], &c, 1) != 1) {
                _exit(2);
            }
            close(ready[1]);
            if (read(go[0], &c, 1) < 0) { /* returns at EOF */
                _exit(2);
            }
            cairn_err err = drive(j, run, ops);
            cairn_journal_close(j);
            _exit(err == CAIRN_OK ? 0 : 1);
        }
    }
    close(go[0]);
    close(ready[1]);
    /* every child has opened its handle and holds its run lock: opening
     * (mapping the journal, joining commit.shm) is not timed */
    for (unsigned got = 0; got < n;) {
        char buf[64];
        ssize_t k = read(ready[0], buf, sizeof(buf));
        if (k <= 0) {
            bn_die("processes: a child failed before it was ready");
        }
        got += (unsigned)k;
    }
    close(ready[0]);
    uint64_t t0 = bn_now_ns();
    if (close(go[1]) != 0) { /* EOF releases every reader at once */
        bn_die("processes: go");
    }
    int bad = 0;
    for (unsigned i = 0; i < n; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    if (bad) {
        bn_die("processes: a child failed");
    }
    snprintf(key, sizeof(key), "cairn, %u run%s as processes", n,
             n > 1 ? "s" : "");
    bn_sample(key, "records/s", (double)n * ops * 2 / secs);
    if (n == 64) {
        bn_target(key, 0, 100000, "64 runs as processes, signed durable");
    }
    journal_info(env, dir, &b);
    snprintf(key, sizeof(key), "  records per commit (%u processes)", n);
    bn_sample(key, "records",
              (double)(b.records - a.records) /
                  (double)(b.last_txnid - a.last_txnid));
    free(pids);
    bn_rmtree(dir);
    free(dir);
}

static double thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

typedef struct step_ctx {
    int receipt; /* 0: claim the head, 1: complete it */
} step_ctx;

/* Claim the head, or record its completion (group_batch's build step). */
static cairn_err build_step(cairn_journal *j, cairn_state *st,
                            cairn_record *rec, void *ctx, char *detail,
                            size_t detail_len)
{
    const step_ctx *c = ctx;
    int64_t head = cairn__state_head(st);
    (void)j;
    if (head < 0) {
        return CAIRN_ENOTHING;
    }
    cairn_err err = cairn__state_need(st, (uint32_t)head, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    rec->op = (uint32_t)head;
    if (c->receipt) {
        rec->type = CAIRN_REC_RECEIPT;
        rec->attempt = st->ops[head].attempt;
        rec->outcome = CAIRN_OUTCOME_COMPLETED;
        return CAIRN_OK;
    }
    rec->type = CAIRN_REC_CLAIM;
    rec->attempt = st->ops[head].attempt + 1;
    rec->holder_pid = (uint32_t)getpid();
    return cairn__record_set_str(&rec->host, "bench-host");
}

/* The library alone: one caller hands over batches of one transition for
 * each of 32 runs, so no thread waits or wakes. */
static void one_caller(const bn_env *env)
{
    enum { RUNS = 32 };
    char *dir = bn_fresh_dir(env->root, "batches");
    unsigned ops = env->quick ? BN_TASKS / 2 : BN_TASKS;
    start_runs(env, dir, RUNS, ops);
    cairn_journal *j = bn_open(env, dir);
    cairn_append_req q[RUNS];
    char names[RUNS][32];
    step_ctx steps[2] = {{0}, {1}};
    for (unsigned r = 0; r < RUNS; r++) {
        snprintf(names[r], sizeof(names[r]), "run-%u", r);
        bn_ok(cairn_run_lock(j, names[r]), j, "lock");
    }
    double cpu0 = thread_cpu_us();
    uint64_t t0 = bn_now_ns();
    for (unsigned i = 0; i < 2 * ops; i++) {
        for (unsigned r = 0; r < RUNS; r++) {
            memset(&q[r], 0, sizeof(q[r]));
            q[r].run_id = names[r];
            q[r].build = build_step;
            q[r].ctx = &steps[i % 2];
        }
        bn_ok(cairn__journal_append_batch(j, q, RUNS), j, "batch");
    }
    double wall = (double)(bn_now_ns() - t0) / 1e3;
    double cpu = thread_cpu_us() - cpu0;
    bn_sample("cairn, one caller, batches of 32 runs x 1 record", "records/s",
              2.0 * ops * RUNS / (wall / 1e6));
    bn_sample("  wall time per commit of 32 records", "us", wall / (2 * ops));
    bn_sample("  of which CPU (caller thread, user+sys)", "us",
              cpu / (2 * ops));
    cairn_journal_close(j);
    bn_rmtree(dir);
    free(dir);
}

void bn_cairn_throughput(const bn_env *env)
{
    one_caller(env);
    static const unsigned counts[] = {1, 8, 64};
    for (size_t i = 0; i < 3; i++) {
        threads(env, counts[i]);
    }
    for (size_t i = 0; i < 3; i++) {
        processes(env, counts[i]);
    }
}

/* ---- plan size ------------------------------------------------------------
 */

/* Does the journal take a plan of @p ops operations (one preflight and
 * ops - 1 tasks)?  CAIRN_OK, or the refusal's error and detail. */
static cairn_err plan_takes(unsigned ops, char *detail, size_t detail_len)
{
    size_t cap = 256 + (size_t)ops * 48, n;
    char *json = malloc(cap);
    if (json == NULL) {
        bn_die("out of memory");
    }
    n = (size_t)snprintf(json, cap,
                         "{\"cairn_plan\":1,\"plan_id\":\"bench\","
                         "\"run_id\":\"cap\",\"operations\":["
                         "{\"id\":\"preflight\",\"kind\":\"preflight\"}");
    for (unsigned i = 1; i < ops; i++) {
        n += (size_t)snprintf(json + n, cap - n,
                              ",{\"id\":\"task-%u\",\"kind\":\"task\"}", i);
    }
    snprintf(json + n, cap - n, "]}");
    cairn_plan *plan = NULL;
    cairn_err err =
        cairn_plan_parse(json, strlen(json), &plan, detail, detail_len);
    cairn_plan_free(plan);
    free(json);
    return err;
}

/* Bytes of run @p run_id's state blob (what each of its commits
 * rewrites and hashes). */
static double state_bytes(cairn_journal *j, const char *run_id)
{
    cairn_txn *txn = NULL;
    uint64_t num = 0;
    uint8_t key[8];
    const uint8_t *v;
    size_t vl = 0;
    int found = 0;
    bn_ok(cairn__store_read(j->store, &txn), j, "read");
    bn_ok(cairn__lookup_run(j, txn, run_id, &num), j, run_id);
    for (int b = 0; b < 8; b++) {
        key[b] = (uint8_t)(num >> (56 - 8 * b));
    }
    bn_ok(cairn__txn_get(txn, CAIRN_DBI_RUNS, key, 8, &v, &vl, &found), j,
          "state");
    cairn__txn_end(txn);
    return (double)vl;
}

/* `status` (the brief summary, docs/FORMAT.md 23.6) of each run, p50 of
 * @p n reads, and the largest against the smallest. */
static void status_rows(cairn_journal *j, char run[3][32],
                        const unsigned sizes[3], size_t n)
{
    double *lat[3], base = 0;
    char key[96];
    for (size_t s = 0; s < 3; s++) {
        lat[s] = alloc_lat(n);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t s = 0; s < 3; s++) {
            cairn_summary *sum = NULL;
            uint64_t t0 = bn_now_ns();
            bn_ok(cairn_status_opts(j, run[s], CAIRN_STATUS_BRIEF, &sum), j,
                  "status");
            lat[s][i] = (double)(bn_now_ns() - t0) / 1000.0;
            cairn_summary_free(sum);
        }
    }
    for (size_t s = 0; s < 3; s++) {
        double m = bn_median(lat[s], n);
        snprintf(key, sizeof(key), "  status p50, plan of %u operations",
                 sizes[s]);
        bn_sample(key, "us", m);
        base = s == 0 ? m : base;
    }
    snprintf(key, sizeof(key), "  status, %u ops / 10 ops (p50)", sizes[2]);
    bn_sample(key, "x", bn_median(lat[2], n) / base);
    for (size_t s = 0; s < 3; s++) {
        free(lat[s]);
    }
}

/* claim+receipt pairs of one runner at plans of 10, 1,000 and the largest
 * number of operations the journal takes (100,000, the target's size,
 * unless the plan cap refuses it), one pair of each size in turn so that
 * all see the disk at the same moment. */
void bn_cairn_plan_size(const bn_env *env)
{
    static unsigned sizes[3] = {10, 1000, 100000};
    static int checked;
    static char refused[40];
    char detail[256];
    if (!checked) {
        checked = 1;
        if (plan_takes(sizes[2], detail, sizeof(detail)) != CAIRN_OK) {
            bn_note("a plan of %u operations is refused: %s", sizes[2], detail);
            snprintf(refused, sizeof(refused), ", %u refused", sizes[2]);
            sizes[2] = CAIRN_MAX_OPS;
            if (plan_takes(sizes[2], detail, sizeof(detail)) != CAIRN_OK) {
                bn_die("a plan of %u operations: %s", sizes[2], detail);
            }
        }
    }
    const size_t pairs = env->quick ? 8 : 30;
    double *lat[3], *cpu[3];
    char run[3][32], key[96];
    unsigned left[3], runs = 0;
    char *dir = bn_fresh_dir(env->root, "plan-size");
    cairn_journal *j = bn_open(env, dir);
    for (size_t s = 0; s < 3; s++) {
        lat[s] = alloc_lat(pairs);
        cpu[s] = alloc_lat(pairs);
        left[s] = 0;
    }
    for (size_t i = 0; i < pairs; i++) {
        for (size_t s = 0; s < 3; s++) {
            if (left[s] == 0) { /* a new run of this size (not timed) */
                if (i > 0) {
                    cairn_run_unlock(j, run[s]);
                }
                snprintf(run[s], sizeof(run[s]), "plan-%u-%u", sizes[s],
                         runs++);
                bn_start_run(j, run[s], sizes[s] - 1);
                bn_ok(cairn_run_lock(j, run[s]), j, "lock");
                left[s] = sizes[s] - 1;
            }
            uint32_t seq;
            double c0 = thread_cpu_us();
            uint64_t t0 = bn_now_ns();
            bn_ok(bn_claim(j, run[s], &seq), j, "claim");
            bn_ok(bn_receipt(j, run[s], seq), j, "receipt");
            lat[s][i] = (double)(bn_now_ns() - t0) / 1000.0;
            cpu[s][i] = thread_cpu_us() - c0;
            left[s]--;
        }
    }
    double base = bn_median(lat[0], pairs);
    for (size_t s = 0; s < 3; s++) {
        snprintf(key, sizeof(key), "claim+receipt p50, plan of %u operations",
                 sizes[s]);
        bn_sample(key, "us", bn_median(lat[s], pairs));
    }
    for (size_t s = 1; s < 3; s++) {
        snprintf(key, sizeof(key), "  %u ops / 10 ops p50%s%s", sizes[s],
                 s == 2 ? refused : "", s == 2 ? " [<=1.2]" : "");
        bn_sample(key, "x", bn_median(lat[s], pairs) / base);
        if (s == 2) {
            char what[96];
            snprintf(what, sizeof(what), "claim+receipt, %u ops / 10 ops%s",
                     sizes[s], refused[0] ? " (cap)" : "");
            bn_target(key, 1, 1.2, what);
        }
    }
    for (size_t s = 0; s < 3; s++) {
        snprintf(key, sizeof(key), "  CPU per claim+receipt, plan of %u ops",
                 sizes[s]);
        bn_sample(key, "us", bn_median(cpu[s], pairs));
    }
    snprintf(key, sizeof(key), "  CPU, %u ops / 10 ops (p50)", sizes[2]);
    bn_sample(key, "x", bn_median(cpu[2], pairs) / bn_median(cpu[0], pairs));
    for (size_t s = 0; s < 3; s++) {
        snprintf(key, sizeof(key), "  run summary, plan of %u operations",
                 sizes[s]);
        bn_sample(key, "bytes", state_bytes(j, run[s]));
    }
    status_rows(j, run, sizes, pairs);
    for (size_t s = 0; s < 3; s++) {
        cairn_run_unlock(j, run[s]);
    }
    cairn_journal_close(j);
    bn_rmtree(dir);
    free(dir);
    for (size_t s = 0; s < 3; s++) {
        free(lat[s]);
        free(cpu[s]);
    }
}
