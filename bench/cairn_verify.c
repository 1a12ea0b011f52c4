/*
 * cairn_verify.c - a journal of BENCH_RECORDS records (default 1M), built
 * once through group commit with large batches (cairn__journal_append_batch
 * from one thread: every record is a real, validated, chained record and
 * every commit ends with one signed checkpoint per run it touched), then,
 * in every repetition: verification of the whole journal (as `cairn verify
 * --all`: cairn_verify_all() with the pinned key, one thread per CPU, then
 * with one thread) against SHA-256 of the same record bytes, its anonymous
 * memory, a runner-shaped journal (one checkpoint per record), the status
 * of one run, and bytes per record.
 */
#include "bench.h"

#include "commit/commit.h"
#include "verify/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Tasks of the verify journal's plans: 4 + 2 * 500 records per run. */
#define VERIFY_TASKS 500
#define RUNNER_TASKS 100

typedef struct vjournal {
    char *dir;
    cairn_journal *j;
    unsigned runs;  /* built runs, named <prefix>-<i> */
    unsigned extra; /* other runs in it (the probe) */
    uint64_t records;
    double build_cpu; /* CPU seconds the build took */
    const char *prefix;
} vjournal;

/* The probe: a run of the workload's plan (BN_TASKS tasks), created
 * first (leaf 0 of the state map: the longest state proof), preflight
 * accepted, tasks pending, as a runner finds its run before acting. */
#define PROBE_RUN "probe-run"

/* big: the verify journal; runner: a runner-shaped journal (one
 * checkpoint per record, free pages), kept closed between uses: verify
 * opens it, compact copies it. */
static vjournal big, runner;

/* ---- building: every request advances its run by one transition ------- */

static cairn_err set_evidence(cairn_record *rec, uint32_t op)
{
    char dur[16];
    snprintf(dur, sizeof(dur), "%u", 40 + op % 50);
    const char *kv[][2] = {
        {"duration_ms", dur},
        {"exit_code", "0"},
        {"stderr_bytes", "0"},
        {"stderr_sha256", "e3b0c44298fc1c149afbf4c8996fb924"
                          "27ae41e4649b934ca495991b7852b855"},
        {"stderr_tail", ""},
        {"stdout_bytes", "1234"},
        {"stdout_sha256", "5f1d2c0e9b8a7f6e5d4c3b2a19081726"
                          "3544536271809fa0b1c2d3e4f5061728"},
        {"stdout_tail", "backup: wrote 1342 files, 56.2 MiB\n"},
        {"timed_out", "0"},
    };
    size_t n = sizeof(kv) / sizeof(kv[0]);
    rec->evidence.v = calloc(n, sizeof(cairn_kv));
    if (rec->evidence.v == NULL) {
        return CAIRN_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        rec->evidence.v[i].key = strdup(kv[i][0]);
        rec->evidence.v[i].value = strdup(kv[i][1]);
        rec->evidence.n = i + 1;
        if (rec->evidence.v[i].key == NULL ||
            rec->evidence.v[i].value == NULL) {
            return CAIRN_ENOMEM;
        }
    }
    return CAIRN_OK;
}

/* The next transition a runner would journal for this run. */
static cairn_err advance(cairn_journal *j, cairn_state *st, cairn_record *rec,
                         void *ctx, char *detail, size_t detail_len)
{
    (void)j;
    (void)ctx;
    int64_t head = cairn__state_head(st);
    if (head < 0 && st->accepted) {
        return CAIRN_OK; /* the run is done: nothing to write */
    }
    cairn_err err = cairn__record_set_str(&rec->actor, "cairn-runner");
    if (err == CAIRN_OK && head < 0) {
        /* the preflight is done, the tasks wait for its acceptance */
        rec->type = CAIRN_REC_ACCEPT;
        return cairn__record_set_str(&rec->preflight_id, "bench-preflight");
    }
    if (err == CAIRN_OK) {
        err = cairn__state_need(st, (uint32_t)head, detail, detail_len);
    }
    const cairn_op_st *op = &st->ops[head];
    if (err == CAIRN_OK && op->state == CAIRN_OP_PENDING) {
        rec->type = CAIRN_REC_RECEIPT;
        rec->op = (uint32_t)head;
        rec->attempt = op->attempt;
        rec->outcome = CAIRN_OUTCOME_COMPLETED;
        err = set_evidence(rec, (uint32_t)head);
    } else if (err == CAIRN_OK) {
        rec->type = CAIRN_REC_CLAIM;
        rec->op = (uint32_t)head;
        rec->attempt = op->attempt + 1;
        rec->holder_pid = (uint32_t)getpid();
        err = cairn__record_set_str(&rec->host, "bench-host");
    }
    return err;
}

static void run_name(const vjournal *v, unsigned i, char *out, size_t len)
{
    snprintf(out, len, "%s-%u", v->prefix, i);
}

/* Runs [first, first + n) advance @p depth transitions each per commit
 * until all are done. */
static void fill_group(vjournal *v, unsigned first, unsigned n, unsigned depth,
                       unsigned per_run, cairn_append_req *q, char (*names)[32])
{
    for (unsigned i = 0; i < n; i++) {
        run_name(v, first + i, names[i], sizeof(names[i]));
    }
    for (unsigned done = 0; done < per_run; done += depth) {
        size_t k = 0;
        for (unsigned i = 0; i < n; i++) {
            for (unsigned d = 0; d < depth && done + d < per_run; d++) {
                memset(&q[k], 0, sizeof(q[k]));
                q[k].run_id = names[i];
                q[k].build = advance;
                k++;
            }
        }
        bn_ok(cairn__journal_append_batch(v->j, q, k), v->j, "bulk append");
    }
}

/* Build @p v, about @p records records in runs of @p tasks tasks, each
 * commit advancing 64 runs by @p depth transitions; @p probe: create
 * PROBE_RUN first.  Returns the seconds the build took. */
static double build(const bn_env *env, vjournal *v, const char *name,
                    uint64_t records, unsigned tasks, unsigned depth, int probe)
{
    unsigned per_run = 3 + 2 * tasks; /* after CREATE */
    v->prefix = name;
    v->runs = (unsigned)((records + per_run) / (per_run + 1));
    v->dir = bn_fresh_dir(env->root, name);
    v->j = bn_open_batch(env, v->dir, CAIRN_BATCH_MAX_LIMIT);
    cairn_append_req *q = calloc(4096, sizeof(*q));
    char(*names)[32] = calloc(64, sizeof(*names));
    if (q == NULL || names == NULL) {
        bn_die("out of memory");
    }
    uint64_t t0 = bn_now_ns();
    double cpu0 = bn_cpu_s();
    if (probe) {
        bn_start_run(v->j, PROBE_RUN, BN_TASKS);
        v->extra = 1;
    }
    for (unsigned first = 0; first < v->runs; first += 64) {
        unsigned n = v->runs - first < 64 ? v->runs - first : 64;
        for (unsigned i = 0; i < n; i++) {
            char out[CAIRN_MAX_ID + 1];
            run_name(v, first + i, names[i], sizeof(names[i]));
            cairn_plan *plan = bn_plan(names[i], tasks);
            bn_ok(cairn_run_create(v->j, plan, NULL, out, sizeof(out)), v->j,
                  "create");
            cairn_plan_free(plan);
        }
        fill_group(v, first, n, depth, per_run, q, names);
    }
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    v->build_cpu = bn_cpu_s() - cpu0;
    cairn_journal_info info;
    bn_ok(cairn_journal_info_get(v->j, &info), v->j, "info");
    v->records = info.records;
    bn_note("%s: %llu records, %llu checkpoints, built in %.1f s", name,
            (unsigned long long)info.records,
            (unsigned long long)info.checkpoints, secs);
    free(q);
    free(names);
    return secs;
}

void bn_verify_build(const bn_env *env)
{
    char key[96];
    double secs =
        build(env, &big, "verify", env->verify_records, VERIFY_TASKS, 64, 1);
    cairn_journal_info info;
    bn_ok(cairn_journal_info_get(big.j, &info), big.j, "info");
    snprintf(key, sizeof(key), "build the %s-record verify journal",
             env->scale);
    bn_sample(key, "s", secs);
    bn_sample("  build rate (batches of 64 runs x 64 transitions)", "records/s",
              (double)info.records / secs);
    bn_sample("  build CPU time (process, user+sys)", "s", big.build_cpu);
    bn_runner_build(env);
}

void bn_runner_build(const bn_env *env)
{
    if (runner.dir != NULL) {
        return;
    }
    double secs = build(env, &runner, "runner-shaped",
                        env->quick ? 5000 : 20000, RUNNER_TASKS, 1, 0);
    bn_sample("build the runner-shaped journal", "s", secs);
    cairn_journal_close(runner.j);
    runner.j = NULL;
}

void bn_verify_done(const bn_env *env)
{
    vjournal *all[] = {&big, &runner};
    (void)env;
    for (size_t i = 0; i < 2; i++) {
        if (all[i]->dir != NULL) {
            cairn_journal_close(all[i]->j);
            bn_rmtree(all[i]->dir);
            free(all[i]->dir);
        }
    }
}

/* ---- verifying -------------------------------------------------------------
 */

typedef struct sampler {
    pthread_t thread;
    _Atomic int stop;
    _Atomic uint64_t peak;
} sampler;

static void *sample_rss(void *arg)
{
    sampler *s = arg;
    while (!s->stop) {
        uint64_t now = bn_rss_anon();
        if (now > s->peak) {
            s->peak = now;
        }
        usleep(2000);
    }
    return NULL;
}

typedef struct vcount {
    uint64_t runs;
    uint64_t signatures;  /* checkpoint signatures checked (format 1 style) */
    uint64_t head_sealed; /* checkpoints the journal head signs */
} vcount;

static int check_run(void *ctx, const cairn_verify_report *rep)
{
    vcount *c = ctx;
    if (rep->verdict != CAIRN_VERDICT_VERIFIED) {
        bn_die("verify %s: %s", rep->run_id, rep->reason);
    }
    c->runs++;
    c->signatures += rep->signatures_ok;
    c->head_sealed += rep->head_sealed;
    return 0;
}

/* `cairn verify --all` with @p threads threads (0: one per CPU); every
 * verdict must be VERIFIED.  Returns the seconds it took. */
static double verify_all(const vjournal *v, const cairn_pubkey *pub,
                         unsigned threads, vcount *out)
{
    cairn_verify_report dir;
    vcount c = {0, 0, 0};
    uint64_t t0 = bn_now_ns();
    bn_ok(cairn_verify_all(v->j, pub, threads, check_run, &c, &dir), v->j,
          "verify --all");
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    if (dir.verdict != CAIRN_VERDICT_VERIFIED) {
        bn_die("verify directory: %s", dir.reason);
    }
    if (c.runs != v->runs + v->extra) {
        bn_die("verify --all saw %llu runs of %u", (unsigned long long)c.runs,
               v->runs + v->extra);
    }
    if (out != NULL) {
        *out = c;
    }
    return secs;
}

/* Seconds to walk the records database, hashing (or decoding) each. */
static double records_pass(const vjournal *v, int decode, uint64_t *bytes)
{
    cairn_txn *txn = NULL;
    cairn_cursor *cur = NULL;
    const uint8_t *k, *val;
    size_t kl, vl;
    int found = 0;
    uint8_t hash[CAIRN_HASH_BYTES];
    char why[256];
    *bytes = 0;
    uint64_t t0 = bn_now_ns();
    bn_ok(cairn__store_read(v->j->store, &txn), v->j, "read");
    bn_ok(cairn__cursor_open(txn, CAIRN_DBI_RECORDS, &cur), v->j, "cursor");
    cairn_err err =
        cairn__cursor_seek(cur, NULL, 0, &k, &kl, &val, &vl, &found);
    while (err == CAIRN_OK && found) {
        if (decode) {
            cairn_record rec;
            if (cairn__record_decode(val, vl, &rec, why, sizeof(why)) !=
                CAIRN_OK) {
                bn_die("decode: %s", why);
            }
            cairn__record_free(&rec);
        } else {
            cairn__leaf_hash(val, vl, hash);
        }
        *bytes += vl;
        err = cairn__cursor_next(cur, &k, &kl, &val, &vl, &found);
    }
    cairn__cursor_close(cur);
    cairn__txn_end(txn);
    bn_ok(err, v->j, "records pass");
    return (double)(bn_now_ns() - t0) / 1e9;
}

static void status_latency(const bn_env *env, const vjournal *v)
{
    enum { N = 2000 };
    static double lat[N];
    char run[32], key[96];
    run_name(v, v->runs / 2, run, sizeof(run));
    /* what `cairn status` calls: the run summary and the rows it names */
    for (size_t i = 0; i < N; i++) {
        cairn_summary *s = NULL;
        uint64_t t0 = bn_now_ns();
        bn_ok(cairn_status_opts(v->j, run, CAIRN_STATUS_BRIEF, &s), v->j,
              "status");
        lat[i] = (double)(bn_now_ns() - t0) / 1000.0;
        cairn_summary_free(s);
    }
    snprintf(key, sizeof(key), "status of a 500-task run at %s records p50",
             env->scale);
    bn_sample(key, "us", bn_median(lat, N));
    char what[96];
    snprintf(what, sizeof(what), "status at %s records, p50", env->scale);
    bn_target(key, 1, 1000, what);
    snprintf(key, sizeof(key), "status of a 500-task run at %s records p99",
             env->scale);
    bn_sample(key, "us", bn_pct(lat, N, 99));
    snprintf(what, sizeof(what), "status at %s records, p99", env->scale);
    bn_target(key, 1, 1000, what);
    /* cairn_status(), every operation listed: O(n_ops) rows proven */
    for (size_t i = 0; i < N; i++) {
        cairn_summary *s = NULL;
        uint64_t t0 = bn_now_ns();
        bn_ok(cairn_status(v->j, run, &s), v->j, "status (every op)");
        lat[i] = (double)(bn_now_ns() - t0) / 1000.0;
        cairn_summary_free(s);
    }
    snprintf(key, sizeof(key), "  cairn_status(), every op listed, p50");
    bn_sample(key, "us", bn_median(lat, N));
}

static double bytes_per_record(const vjournal *v)
{
    cairn_journal_info info;
    bn_ok(cairn_journal_info_get(v->j, &info), v->j, "info");
    return (double)(info.pages_used * info.page_size) / (double)info.records;
}

static void verify_big(const bn_env *env)
{
    cairn_journal_info info;
    uint64_t bytes = 0;
    sampler s;
    memset(&s, 0, sizeof(s));
    bn_ok(cairn_journal_info_get(big.j, &info), big.j, "info");
    bn_sample("records in the verify journal", "records", (double)info.records);
    bn_sample("  records per checkpoint", "records",
              (double)info.records / (double)info.checkpoints);
    malloc_trim(0); /* what the build left in the heap is not verify's */
    double before = (double)bn_rss_anon() / (1024.0 * 1024.0);
    pthread_create(&s.thread, NULL, sample_rss, &s);
    double cpu0 = bn_cpu_s();
    vcount counts;
    double secs = verify_all(&big, env->pub, 0, &counts);
    double cpu = bn_cpu_s() - cpu0;
    s.stop = 1;
    pthread_join(s.thread, NULL);
    double one = verify_all(&big, env->pub, 1, NULL);
    cpu0 = bn_cpu_s();
    double sha = records_pass(&big, 0, &bytes);
    double sha_cpu = bn_cpu_s() - cpu0;
    double dec = records_pass(&big, 1, &bytes);
    bn_sample("verify --all (directory + every run), pinned key", "records/s",
              (double)info.records / secs);
    bn_sample("  verify time, one thread per CPU (the default)", "s", secs);
    bn_sample("  SHA-256 leaf hashes of the same record bytes", "s", sha);
    bn_sample("  verify / SHA-256 of the same bytes [<=1.5]", "x", secs / sha);
    char what[96];
    snprintf(what, sizeof(what), "verify at %s records / SHA-256 of its bytes",
             env->scale);
    bn_target("  verify / SHA-256 of the same bytes [<=1.5]", 1, 1.5, what);
    bn_sample("  verify time, one thread (--jobs 1)", "s", one);
    bn_sample("  verify / SHA-256, one thread", "x", one / sha);
    bn_sample("  verify CPU time (process, every thread)", "s", cpu);
    bn_sample("  verify CPU / SHA-256 pass CPU", "x", cpu / sha_cpu);
    bn_sample("  speed-up with one thread per CPU", "x", one / secs);
    bn_sample("  strict decode of every record (no checks)", "s", dec);
    bn_sample("  checkpoints sealed by the journal head (no signature)",
              "checkpoints", (double)counts.head_sealed);
    bn_sample("  checkpoint signatures checked", "signatures",
              (double)counts.signatures);
    if (bn_last("Ed25519 verify") > 0) { /* the limits ran */
        bn_sample("  checkpoint signatures x Ed25519 verify (estimate)", "s",
                  (double)counts.signatures * bn_last("Ed25519 verify") / 1e6);
    }
    bn_sample("  peak RssAnon of the process during verify [<32]", "MiB",
              (double)s.peak / (1024.0 * 1024.0));
    snprintf(what, sizeof(what), "verify at %s records: peak RssAnon",
             env->scale);
    bn_target("  peak RssAnon of the process during verify [<32]", 1, 32, what);
    bn_sample("  RssAnon of the process before verify", "MiB", before);
    bn_sample("  RssAnon added by verify (peak - before)", "MiB",
              (double)s.peak / (1024.0 * 1024.0) - before);
    status_latency(env, &big);
    bn_sample("journal bytes per record (pages in use / records)", "bytes",
              bytes_per_record(&big));
}

static void verify_runner(const bn_env *env)
{
    cairn_journal_info info;
    runner.j = bn_open(env, runner.dir);
    bn_ok(cairn_journal_info_get(runner.j, &info), runner.j, "info");
    double secs = verify_all(&runner, env->pub, 0, NULL);
    char key[96];
    snprintf(key, sizeof(key),
             "verify, runner-shaped journal (%llu records, 1 checkpoint "
             "each)",
             (unsigned long long)info.records);
    bn_sample(key, "records/s", (double)info.records / secs);
    bn_sample("  journal bytes per record, runner-shaped", "bytes",
              bytes_per_record(&runner));
    cairn_journal_close(runner.j);
    runner.j = NULL;
}

void bn_verify(const bn_env *env)
{
    char big_run[32];
    verify_big(env);
    verify_runner(env);
    run_name(&big, big.runs / 2, big_run, sizeof(big_run));
    bn_proofs(env, big.j, PROBE_RUN, big_run);
}

/* ---- compacting ------------------------------------------------------------
 */

static void copy_tree(const char *from, const char *to)
{
    pid_t pid = fork();
    int st = 0;
    if (pid == 0) {
        execlp("cp", "cp", "-a", "--", from, to, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
        WEXITSTATUS(st) != 0) {
        bn_die("cp -a %s %s failed", from, to);
    }
}

/* The physical limit of the compacting copy: write @p bytes into a new
 * file of @p dir in 1 MiB writes, fsync it, rename it and fsync the
 * directory (what compact does with its copy, without reading, copying
 * B-trees or comparing).  Returns the seconds it took. */
static double write_fsync(const char *dir, uint64_t bytes)
{
    enum { CHUNK = 1 << 20 };
    char path[4096], final[4096];
    uint8_t *buf = malloc(CHUNK);
    if (buf == NULL) {
        bn_die("out of memory");
    }
    memset(buf, 0x5a, CHUNK);
    snprintf(path, sizeof(path), "%s/limit.tmp", dir);
    snprintf(final, sizeof(final), "%s/limit.mdb", dir);
    uint64_t t0 = bn_now_ns();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        bn_die("%s: %s", path, strerror(errno));
    }
    for (uint64_t done = 0; done < bytes;) {
        size_t n = bytes - done < CHUNK ? (size_t)(bytes - done) : CHUNK;
        ssize_t w = write(fd, buf, n);
        if (w <= 0) {
            bn_die("%s: write: %s", path, strerror(errno));
        }
        done += (uint64_t)w;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fsync(fd) != 0 || close(fd) != 0 || rename(path, final) != 0 ||
        dfd < 0 || fsync(dfd) != 0) {
        bn_die("%s: fsync/rename: %s", path, strerror(errno));
    }
    close(dfd);
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    unlink(final);
    free(buf);
    return secs;
}

/* cairn compact (cairn_journal_compact) of a fresh copy of the
 * runner-shaped journal (every transition rewrote its run's state, so it
 * has free pages), against writing and fsyncing the bytes it writes. */
void bn_compact(const bn_env *env)
{
    char detail[1024];
    cairn_compact_result dry, r;
    char *dir = bn_fresh_dir(env->root, "compact");
    bn_rmtree(dir);
    copy_tree(runner.dir, dir);
    if (cairn_journal_compact(dir, CAIRN_COMPACT_DRY_RUN, &dry, detail,
                              sizeof(detail)) != CAIRN_OK) {
        bn_die("compact --dry-run: %s", detail);
    }
    uint64_t t0 = bn_now_ns();
    if (cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)) != CAIRN_OK) {
        bn_die("compact: %s", detail);
    }
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    if (r.size_after != dry.size_after) {
        bn_die("compact: %llu bytes after, --dry-run said %llu",
               (unsigned long long)r.size_after,
               (unsigned long long)dry.size_after);
    }
    double limit = write_fsync(dir, r.size_after);
    const double mib = 1024.0 * 1024.0;
    char key[96];
    snprintf(key, sizeof(key), "compact, runner-shaped journal (%llu records)",
             (unsigned long long)runner.records);
    bn_sample(key, "records/s", (double)runner.records / secs);
    bn_sample("  compact time (copy, fsync, compare, rename)", "s", secs);
    bn_sample("  compact throughput (bytes of data.mdb before)", "MiB/s",
              (double)r.size_before / mib / secs);
    bn_sample("  compact throughput (bytes written: data.mdb after)", "MiB/s",
              (double)r.size_after / mib / secs);
    bn_sample("  limit: write+fsync+rename of those bytes", "MiB/s",
              (double)r.size_after / mib / limit);
    bn_sample("  compact / write+fsync of the same bytes (time)", "x",
              secs / limit);
    bn_sample("  data.mdb before compact", "MiB", (double)r.size_before / mib);
    bn_sample("  data.mdb after (= --dry-run's estimate)", "MiB",
              (double)r.size_after / mib);
    bn_rmtree(dir);
    free(dir);
}
