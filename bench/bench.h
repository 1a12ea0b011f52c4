/*
 * bench.h - cairn-bench: the limits, the peers and cairn measured on one
 * machine in one run (make bench; docs/PERFORMANCE.md).
 *
 * Every measurement runs once per repetition and records one sample per
 * row; ratios are computed inside a repetition, from samples taken in it,
 * and the table prints the median (and the spread) over repetitions.
 * Timings are never asserted: this is not a test.
 */
#ifndef CAIRN_BENCH_H
#define CAIRN_BENCH_H

#include "cairn.h"

#include <stddef.h>
#include <stdint.h>

#define BN_MAX_REPS 32
/** Tasks in the plans of the latency and throughput runs. */
#define BN_TASKS 15

/** Shared setup, filled once by main.c. */
typedef struct bn_env {
    char *root;     /**< the bench directory (on the FS measured) */
    char *pub_path; /**< the signing key pair, minisign format */
    char *sec_path;
    cairn_signer *signer;
    cairn_pubkey *pub;
    size_t claim_len;   /**< bytes of cairn's claim record (workload) */
    size_t receipt_len; /**< bytes of cairn's receipt record */
    size_t state_len;   /**< bytes of a run state (BN_TASKS plan) */
    unsigned reps;
    uint64_t verify_records; /**< size of the verify journal */
    int quick;               /**< BENCH_QUICK: smaller counts */
    /** verify_records in row labels: "1M", "100k (quick)", ... */
    char scale[24];
} bn_env;

/* ---- util.c ---------------------------------------------------------- */

uint64_t bn_now_ns(void);
/** CPU time of the whole process (every thread), user + system, s. */
double bn_cpu_s(void);
/** Median / percentile (0..100) of @p n values (sorts a copy). */
double bn_median(const double *v, size_t n);
double bn_pct(const double *v, size_t n, double p);
/** Print to stderr and exit(1): the bench stops at its first error. */
_Noreturn void bn_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/** bn_die() unless @p err is CAIRN_OK. */
void bn_ok(cairn_err err, cairn_journal *j, const char *what);
/** root/name, removed first if present, created empty; malloc'd. */
char *bn_fresh_dir(const char *root, const char *name);
void bn_rmtree(const char *path);
/** Anonymous resident memory of this process, bytes (RssAnon). */
uint64_t bn_rss_anon(void);
/** Record a sample of row @p key (rows print in order of first use). */
void bn_sample(const char *key, const char *unit, double value);
/** The latest sample of row @p key (this repetition's), or 0. */
double bn_last(const char *key);
/** Start a section of the table. */
void bn_section(const char *title);
/** Print the table (median, min, max of each row) to stdout. */
void bn_print_table(void);
/** Row @p key has a target: its median must be at most (@p at_most) or
 *  at least @p limit; @p what names it in the list of targets
 *  (bn_print_targets(), after the table).  Registered once. */
void bn_target(const char *key, int at_most, double limit, const char *what);
/** Print every target with the row's median and whether it is met. */
void bn_print_targets(void);
/** Progress line on stderr. */
void bn_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- work.c: the workload (a runner's claim and receipt) ------------- */

/** A plan of one preflight and @p tasks tasks, for run @p run_id. */
cairn_plan *bn_plan(const char *run_id, unsigned tasks);
/** Open (creating) a journal in @p dir, signing with env's key. */
cairn_journal *bn_open(const bn_env *env, const char *dir);
/** bn_open() with cairn_journal_opts.batch_max @p batch_max (0: default). */
cairn_journal *bn_open_batch(const bn_env *env, const char *dir,
                             unsigned batch_max);
/** Create @p run_id, do its preflight and accept it: the tasks are then
 *  claimable one after another. */
void bn_start_run(cairn_journal *j, const char *run_id, unsigned tasks);
/** Claim the head (a runner's claim) and record its receipt with the
 *  evidence a runner writes. */
cairn_err bn_claim(cairn_journal *j, const char *run_id, uint32_t *seq);
cairn_err bn_receipt(cairn_journal *j, const char *run_id, uint32_t seq);
/** Fill env's record and state sizes from a scratch journal. */
void bn_calibrate(bn_env *env);

/** A peer's run: the same journal work as cairn's commit path does per
 *  transition (a record chained by SHA-256 leaf hashes, one Ed25519-signed
 *  checkpoint per commit), without cairn. */
typedef struct bn_peer_run {
    unsigned id;
    char run_id[32];
    uint64_t seq;
    uint8_t head[32];
    uint8_t pk[32], sk[64];
    uint8_t filler[4096];
} bn_peer_run;

void bn_peer_init(bn_peer_run *r, const bn_env *env, unsigned id);
/** The next record of @p r (claim and receipt sizes alternate) into
 *  @p rec (at least 4096 bytes) and its signed checkpoint into @p cp;
 *  returns the record's length. */
size_t bn_peer_step(bn_peer_run *r, const bn_env *env, uint8_t *rec,
                    uint8_t cp[130]);

/* ---- limits.c: a bare LMDB environment, default flags ---------------- */

typedef struct bn_lmdb bn_lmdb;
/** A fresh environment: bare (the main database only) or @p shaped like
 *  a journal (named databases records, index, runs, checkpoints). */
bn_lmdb *bn_lmdb_open(const bn_env *env, const char *name, int shaped);
/** One commit of @p per puts (MDB_APPEND) of the workload's record
 *  sizes; returns its latency in microseconds. */
double bn_lmdb_commit(bn_lmdb *l, const bn_env *env, size_t per);
/** One commit shaped like cairn's, without cairn: for runs @p first ..
 *  first + @p runs - 1, one record each (records, MDB_APPEND), its index
 *  entry, the run's state (env->state_len bytes), one checkpoint (130
 *  bytes, MDB_APPEND).  No encoding, validation, hashing or signing.
 *  Returns its latency in microseconds. */
double bn_lmdb_shaped(bn_lmdb *l, const bn_env *env, size_t first, size_t runs);
void bn_lmdb_close(bn_lmdb *l);

/* ---- the measurements (one repetition each) -------------------------- */

void bn_limits(const bn_env *env);           /* limits.c */
void bn_cairn_latency(const bn_env *env);    /* cairn_tx.c */
void bn_cairn_throughput(const bn_env *env); /* cairn_tx.c */
/** claim+receipt at plans of 10 operations up to the plan cap. */
void bn_cairn_plan_size(const bn_env *env); /* cairn_tx.c */
void bn_sqlite(const bn_env *env);          /* peer_sqlite.c */
const char *bn_sqlite_version(void);
void bn_json(const bn_env *env); /* peer_json.c */
/** Build the big journal and the runner-shaped one once (cairn_verify.c);
 *  then per repetition: */
void bn_verify_build(const bn_env *env);
void bn_verify(const bn_env *env);
/** Build the runner-shaped journal once (if not built yet). */
void bn_runner_build(const bn_env *env);
/** Remove what bn_verify_build() and bn_runner_build() built. */
void bn_verify_done(const bn_env *env);
/** A writer's pre-action verification and inclusion / consistency
 *  proofs in the verify journal @p j (cairn_proof.c); @p probe is a run
 *  of the workload's plan in it, @p big_run one of its 500-task runs. */
void bn_proofs(const bn_env *env, cairn_journal *j, const char *probe,
               const char *big_run);
/** cairn compact of a copy of the runner-shaped journal (free pages):
 *  bn_runner_build() first. */
void bn_compact(const bn_env *env);
/** Archive, re-verify and prune runner-shaped runs (prune.c). */
void bn_prune(const bn_env *env);
/** Library versions line (main.c prints it). */
void bn_versions(char *out, size_t len);

#endif
