/*
 * prune.c - cairn prune measured (BENCH_ONLY=prune): a journal of
 * runner-shaped completed runs, each archived, re-verified and pruned the
 * way `cairn prune` does it (cairn_export_bundle, cairn_verify_bundle,
 * SHA-256 of the stored copy, cairn_prune), and the prune transaction
 * alone; then the bytes the journal keeps per pruned record (compacted
 * data.mdb after pruning every run, against before).
 */
#include "bench.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SHA-256 and size of a file (what `cairn prune` puts in the tombstone). */
static void hash_file(const char *path, uint8_t out[32], uint64_t *size)
{
    crypto_hash_sha256_state st;
    unsigned char buf[65536];
    ssize_t got;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        bn_die("prune: open %s", path);
    }
    crypto_hash_sha256_init(&st);
    *size = 0;
    while ((got = read(fd, buf, sizeof(buf))) > 0) {
        crypto_hash_sha256_update(&st, buf, (unsigned long long)got);
        *size += (uint64_t)got;
    }
    close(fd);
    crypto_hash_sha256_final(&st, out);
}

static uint64_t compacted_size(const char *dir)
{
    cairn_compact_result r;
    char detail[1024];
    if (cairn_journal_compact(dir, 0, &r, detail, sizeof(detail)) != CAIRN_OK) {
        bn_die("prune: compact: %s", detail);
    }
    return r.size_after;
}

/* Copy @p from's data.mdb into directory @p to. */
static void copy_journal(const char *from, const char *to)
{
    char a[1024], b[1024];
    unsigned char buf[1 << 16];
    ssize_t got;
    snprintf(a, sizeof(a), "%s/data.mdb", from);
    snprintf(b, sizeof(b), "%s/data.mdb", to);
    int in = open(a, O_RDONLY | O_CLOEXEC);
    int out = open(b, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (in < 0 || out < 0) {
        bn_die("prune: copy %s to %s", a, b);
    }
    while ((got = read(in, buf, sizeof(buf))) > 0) {
        if (write(out, buf, (size_t)got) != got) {
            bn_die("prune: write %s", b);
        }
    }
    if (fsync(out) != 0) {
        bn_die("prune: fsync %s", b);
    }
    close(in);
    close(out);
}

static void build_runs(const bn_env *env, const char *dir, unsigned runs,
                       uint64_t *records)
{
    cairn_journal *j = bn_open(env, dir);
    char run_id[32];
    for (unsigned i = 0; i < runs; i++) {
        snprintf(run_id, sizeof(run_id), "prune-%05u", i);
        bn_start_run(j, run_id, BN_TASKS);
        for (unsigned t = 0; t < BN_TASKS; t++) {
            uint32_t seq;
            bn_ok(bn_claim(j, run_id, &seq), j, "claim");
            bn_ok(bn_receipt(j, run_id, seq), j, "receipt");
        }
    }
    cairn_journal_info info;
    bn_ok(cairn_journal_info_get(j, &info), j, "info");
    *records = info.records;
    cairn_journal_close(j);
}

/* Archive, re-verify and prune one run; the prune call's time into
 * *txn_ns. */
static void prune_one(const bn_env *env, cairn_journal *j, const char *arch,
                      const char *run_id, uint64_t *txn_ns)
{
    char path[1024], detail[1024];
    cairn_verify_report rep;
    cairn_prune_info info;
    snprintf(path, sizeof(path), "%s/%s.cairn", arch, run_id);
    bn_ok(cairn_export_bundle(j, run_id, env->signer, path), j, "export");
    if (cairn_verify_bundle(path, env->pub, &rep, detail, sizeof(detail)) !=
            CAIRN_OK ||
        rep.verdict != CAIRN_VERDICT_VERIFIED) {
        bn_die("prune: the bundle of %s does not verify: %s", run_id,
               detail[0] ? detail : rep.reason);
    }
    memset(&info, 0, sizeof(info));
    hash_file(path, info.bundle_sha256, &info.bundle_bytes);
    info.rule = "keep-last 0";
    info.reason = "bench";
    info.policy = "keep-last=0";
    info.location = path;
    cairn_actor_info who = {"bench", NULL};
    uint64_t t0 = bn_now_ns();
    bn_ok(cairn_prune(j, run_id, &info, &who), j, "prune");
    *txn_ns += bn_now_ns() - t0;
}

void bn_prune(const bn_env *env)
{
    unsigned runs = env->quick ? 20 : 200;
    uint64_t records = 0, txn_ns = 0;
    char src[1024];
    snprintf(src, sizeof(src), "%s/prune-source/data.mdb", env->root);
    if (access(src, F_OK) != 0) {
        /* Built once (the first repetition), copied for each. */
        char *built = bn_fresh_dir(env->root, "prune-source");
        build_runs(env, built, runs, &records);
        (void)compacted_size(built);
        free(built);
    }
    snprintf(src, sizeof(src), "%s/prune-source", env->root);
    char *dir = bn_fresh_dir(env->root, "prune");
    char *arch = bn_fresh_dir(env->root, "prune-archive");
    copy_journal(src, dir);
    uint64_t before = compacted_size(dir);
    cairn_journal *j = bn_open(env, dir);
    cairn_journal_info info;
    bn_ok(cairn_journal_info_get(j, &info), j, "info");
    records = info.records;
    uint64_t run_records = records / runs; /* every run has as many */
    char run_id[32];
    uint64_t t0 = bn_now_ns();
    for (unsigned i = 0; i < runs; i++) {
        snprintf(run_id, sizeof(run_id), "prune-%05u", i);
        prune_one(env, j, arch, run_id, &txn_ns);
    }
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    cairn_journal_close(j);
    uint64_t after = compacted_size(dir);
    uint64_t pruned = run_records * runs;
    char key[128];
    snprintf(key, sizeof(key),
             "prune: archive + re-verify + prune txn (%u runs of %llu "
             "records)",
             runs, (unsigned long long)run_records);
    bn_sample(key, "runs/s", (double)runs / secs);
    bn_sample("  the same, records", "records/s", (double)pruned / secs);
    bn_sample("  prune transaction alone", "runs/s",
              (double)runs / ((double)txn_ns / 1e9));
    bn_sample("  prune transaction alone, records", "records/s",
              (double)pruned / ((double)txn_ns / 1e9));
    bn_sample("  journal bytes per record before (compacted)", "B",
              (double)before / (double)records);
    bn_sample("  journal bytes kept per pruned record (compacted)", "B",
              (double)after / (double)pruned);
    bn_sample("  kept / before", "ratio", (double)after / (double)before);
    bn_rmtree(dir);
    bn_rmtree(arch);
    free(dir);
    free(arch);
}
