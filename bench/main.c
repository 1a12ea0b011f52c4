/*
 * main.c - cairn-bench DIR: run every measurement BENCH_REPS times (at
 * least 5) in DIR and print one table of medians.
 *
 * Environment: BENCH_REPS (5..32, default 5), BENCH_RECORDS (size of the
 * verify journal, default 1000000, 100000 with BENCH_QUICK), BENCH_QUICK=1
 * (smaller counts, for a smoke run; the numbers are then not the
 * documented ones), BENCH_ONLY (comma-separated groups: limits,latency,
 * plan,throughput,sqlite,json,verify,compact,prune).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned env_num(const char *name, unsigned lo, unsigned hi,
                        unsigned dflt)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0') {
        return dflt;
    }
    unsigned long v = strtoul(s, NULL, 10);
    return v < lo ? lo : v > hi ? hi : (unsigned)v;
}

static int wanted(const char *group)
{
    const char *only = getenv("BENCH_ONLY");
    if (only == NULL || *only == '\0') {
        return 1;
    }
    size_t n = strlen(group);
    for (const char *p = only; *p != '\0';) {
        size_t k = strcspn(p, ",");
        if (k == n && strncmp(p, group, n) == 0) {
            return 1;
        }
        p += k + (p[k] == ',');
    }
    return 0;
}

static void keys(bn_env *env)
{
    char detail[256];
    char *dir = bn_fresh_dir(env->root, "keys");
    size_t n = strlen(dir) + 16;
    env->pub_path = malloc(n);
    env->sec_path = malloc(n);
    if (env->pub_path == NULL || env->sec_path == NULL) {
        bn_die("out of memory");
    }
    snprintf(env->pub_path, n, "%s/bench.pub", dir);
    snprintf(env->sec_path, n, "%s/bench.key", dir);
    if (cairn_keygen(env->pub_path, env->sec_path, NULL, detail,
                     sizeof(detail)) != CAIRN_OK ||
        cairn_signer_load(env->sec_path, NULL, &env->signer, detail,
                          sizeof(detail)) != CAIRN_OK ||
        cairn_pubkey_load(env->pub_path, &env->pub, detail, sizeof(detail)) !=
            CAIRN_OK) {
        bn_die("keys: %s", detail);
    }
    free(dir);
}

/* "1M", "100k (quick)", "250000": the verify journal's size in labels. */
static void scale(bn_env *env)
{
    uint64_t n = env->verify_records;
    const char *q = env->quick ? " (quick)" : "";
    if (n % 1000000 == 0) {
        snprintf(env->scale, sizeof(env->scale), "%lluM%s",
                 (unsigned long long)(n / 1000000), q);
    } else if (n % 1000 == 0) {
        snprintf(env->scale, sizeof(env->scale), "%lluk%s",
                 (unsigned long long)(n / 1000), q);
    } else {
        snprintf(env->scale, sizeof(env->scale), "%llu%s",
                 (unsigned long long)n, q);
    }
}

static void one_rep(const bn_env *env, unsigned rep)
{
    bn_note("repetition %u of %u", rep + 1, env->reps);
    if (wanted("limits")) {
        bn_section("limits (same record bytes, same file system)");
        bn_limits(env);
    }
    if (wanted("latency")) {
        bn_section("cairn: one runner (run lock held), signed, durable");
        bn_cairn_latency(env);
    }
    if (wanted("plan")) {
        bn_section("cairn: claim+receipt by plan size (one runner, signed)");
        bn_cairn_plan_size(env);
    }
    if (wanted("throughput")) {
        bn_section("cairn: concurrent runs, claim+receipt each, signed");
        bn_cairn_throughput(env);
    }
    if (wanted("sqlite")) {
        bn_section("peer: SQLite (WAL, synchronous=FULL), same work");
        bn_sqlite(env);
    }
    if (wanted("json")) {
        bn_section("peer: whole-file JSON journal (canic), same work");
        bn_json(env);
    }
    if (wanted("verify")) {
        bn_section("cairn: the verify journal");
        bn_verify(env);
    }
    if (wanted("compact")) {
        bn_section("cairn: compact (journal idle)");
        bn_compact(env);
    }
    if (wanted("prune")) {
        bn_section("cairn: prune (archive, re-verify, tombstone)");
        bn_prune(env);
    }
}

int main(int argc, char **argv)
{
    bn_env env;
    char versions[256];
    memset(&env, 0, sizeof(env));
    if (argc != 2) {
        bn_die("usage: cairn-bench DIR");
    }
    env.root = argv[1];
    mkdir(env.root, 0755);
    env.reps = env_num("BENCH_REPS", 5, BN_MAX_REPS, 5);
    env.quick = getenv("BENCH_QUICK") != NULL && getenv("BENCH_QUICK")[0];
    env.verify_records = env_num("BENCH_RECORDS", 10000, 100000000,
                                 env.quick ? 100000 : 1000000);
    scale(&env);
    keys(&env);
    bn_calibrate(&env);
    bn_note("workload: claim %zu bytes, receipt %zu bytes, run state %zu "
            "bytes",
            env.claim_len, env.receipt_len, env.state_len);
    uint64_t t0 = bn_now_ns();
    if (wanted("verify") || wanted("compact")) {
        bn_section("setup, once per bench run (not repeated)");
    }
    if (wanted("verify")) {
        bn_verify_build(&env);
    }
    if (wanted("compact")) {
        bn_runner_build(&env);
    }
    for (unsigned r = 0; r < env.reps; r++) {
        one_rep(&env, r);
    }
    if (wanted("verify") || wanted("compact")) {
        bn_verify_done(&env);
    }
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    bn_versions(versions, sizeof(versions));
    printf("cairn-bench: %u repetitions; median, min and max over them. "
           "Workload: claim %zu B, receipt %zu B, run state %zu B "
           "(%d-task plan).\n",
           env.reps, env.claim_len, env.receipt_len, env.state_len, BN_TASKS);
    bn_print_table();
    bn_print_targets();
    printf("versions: %s\n", versions);
    printf("cairn-bench took %.0f s (setup and every repetition)\n", secs);
    cairn_signer_free(env.signer);
    cairn_pubkey_free(env.pub);
    free(env.pub_path);
    free(env.sec_path);
    return 0;
}
