/*
 * work.c - the workload every contender does: a runner's claim of the
 * head operation, then the receipt of its attempt with the evidence the
 * runner writes (exit status, duration, output sizes, digests, tail).
 */
#include "bench.h"

#include "commit/commit.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cairn_plan *bn_plan(const char *run_id, unsigned tasks)
{
    size_t cap = 256 + (size_t)tasks * 48, n;
    char *json = malloc(cap), detail[256];
    if (json == NULL) {
        bn_die("out of memory");
    }
    n = (size_t)snprintf(json, cap,
                         "{\"cairn_plan\":1,\"plan_id\":\"bench\","
                         "\"run_id\":\"%s\",\"operations\":["
                         "{\"id\":\"preflight\",\"kind\":\"preflight\"}",
                         run_id);
    for (unsigned i = 0; i < tasks; i++) {
        n += (size_t)snprintf(json + n, cap - n,
                              ",{\"id\":\"task-%u\",\"kind\":\"task\"}", i);
    }
    snprintf(json + n, cap - n, "]}");
    cairn_plan *plan = NULL;
    cairn_err err =
        cairn_plan_parse(json, strlen(json), &plan, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        bn_die("plan: %s", detail);
    }
    free(json);
    return plan;
}

cairn_journal *bn_open(const bn_env *env, const char *dir)
{
    return bn_open_batch(env, dir, 0);
}

cairn_journal *bn_open_batch(const bn_env *env, const char *dir,
                             unsigned batch_max)
{
    cairn_journal *j = NULL;
    char detail[512];
    cairn_journal_opts o = CAIRN_JOURNAL_OPTS_INIT;
    o.flags = CAIRN_OPEN_CREATE;
    o.batch_max = batch_max;
    cairn_err err =
        cairn_journal_open_opts(dir, &o, &j, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        bn_die("open %s: %s", dir, detail);
    }
    cairn_journal_set_signer(j, env->signer);
    return j;
}

void bn_start_run(cairn_journal *j, const char *run_id, unsigned tasks)
{
    char out[CAIRN_MAX_ID + 1];
    uint32_t seq = 0;
    cairn_plan *plan = bn_plan(run_id, tasks);
    bn_ok(cairn_run_create(j, plan, NULL, out, sizeof(out)), j, "create");
    cairn_plan_free(plan);
    bn_ok(bn_claim(j, run_id, &seq), j, "claim preflight");
    bn_ok(bn_receipt(j, run_id, seq), j, "receipt preflight");
    bn_ok(cairn_accept_preflight(j, run_id, "bench-preflight", NULL), j,
          "accept");
}

cairn_err bn_claim(cairn_journal *j, const char *run_id, uint32_t *seq)
{
    cairn_claim_result r;
    cairn_actor_info who = {"cairn-runner", NULL};
    cairn_err err =
        cairn_claim(j, run_id, -1, CAIRN_CLAIM_NORMAL, NULL, &who, &r);
    *seq = r.seq;
    return err;
}

cairn_err bn_receipt(cairn_journal *j, const char *run_id, uint32_t seq)
{
    static const char empty_sha[] = "e3b0c44298fc1c149afbf4c8996fb924"
                                    "27ae41e4649b934ca495991b7852b855";
    char dur[24], bytes[24];
    snprintf(dur, sizeof(dur), "%u", 40 + seq % 50);
    snprintf(bytes, sizeof(bytes), "%u", 1000 + seq * 7);
    const cairn_kv ev[] = {
        {"duration_ms", dur},
        {"exit_code", "0"},
        {"stderr_bytes", "0"},
        {"stderr_sha256", empty_sha},
        {"stderr_tail", ""},
        {"stdout_bytes", bytes},
        {"stdout_sha256", "5f1d2c0e9b8a7f6e5d4c3b2a19081726"
                          "3544536271809fa0b1c2d3e4f5061728"},
        {"stdout_tail", "backup: wrote 1342 files, 56.2 MiB\n"},
        {"timed_out", "0"},
    };
    cairn_receipt r = {.seq = seq,
                       .outcome = CAIRN_OUTCOME_COMPLETED,
                       .evidence = ev,
                       .n_evidence = sizeof(ev) / sizeof(ev[0])};
    cairn_actor_info who = {"cairn-runner", NULL};
    return cairn_receipt_record(j, run_id, &r, &who);
}

typedef struct sizes {
    size_t claim, receipt;
} sizes;

static int size_of(void *ctx, const cairn_record_view *r)
{
    sizes *s = ctx;
    if (r->type == CAIRN_REC_CLAIM) {
        s->claim = r->encoded_len;
    } else if (r->type == CAIRN_REC_RECEIPT) {
        s->receipt = r->encoded_len;
    }
    return 0;
}

static cairn_err build_nothing(cairn_journal *j, cairn_state *st,
                               cairn_record *rec, void *ctx, char *detail,
                               size_t detail_len)
{
    (void)j;
    (void)rec;
    (void)ctx;
    /* Every row, so that the state after it is the whole state. */
    return cairn__state_need_all(st, detail, detail_len);
}

void bn_calibrate(bn_env *env)
{
    char *dir = bn_fresh_dir(env->root, "calibrate");
    cairn_journal *j = bn_open(env, dir);
    uint32_t seq;
    sizes s = {0, 0};
    bn_start_run(j, "calibrate", BN_TASKS);
    bn_ok(bn_claim(j, "calibrate", &seq), j, "claim");
    bn_ok(bn_receipt(j, "calibrate", seq), j, "receipt");
    bn_ok(cairn_record_each(j, "calibrate", 4, size_of, &s), j, "records");
    env->claim_len = s.claim;
    env->receipt_len = s.receipt;
    /* The state blob of such a run: what every commit rewrites. */
    cairn_state st;
    uint8_t *blob = NULL;
    bn_ok(cairn__journal_append(j, "calibrate", build_nothing, NULL, &st), j,
          "state");
    bn_ok(cairn__state_encode(&st, &blob, &env->state_len), j, "encode");
    free(blob);
    cairn__state_free(&st);
    cairn_journal_close(j);
    bn_rmtree(dir);
    free(dir);
}

/* ---- the peers' share of the same work ------------------------------------
 */

void bn_peer_init(bn_peer_run *r, const bn_env *env, unsigned id)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->run_id, sizeof(r->run_id), "peer-run-%u", id);
    r->id = id;
    crypto_sign_keypair(r->pk, r->sk);
    randombytes_buf(r->filler, sizeof(r->filler));
    (void)env;
}

size_t bn_peer_step(bn_peer_run *r, const bn_env *env, uint8_t *rec,
                    uint8_t cp[130])
{
    static const uint8_t leaf = 0x00;
    uint8_t msg[256];
    uint64_t wall = bn_now_ns();
    size_t len = r->seq % 2 == 0 ? env->claim_len : env->receipt_len;
    /* The record: prev hash, seq, time, then the body bytes. */
    memcpy(rec, r->head, 32);
    for (int b = 0; b < 8; b++) {
        rec[32 + b] = (uint8_t)(r->seq >> (56 - 8 * b));
        rec[40 + b] = (uint8_t)(wall >> (56 - 8 * b));
    }
    memcpy(rec + 48, r->filler, len - 48);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &leaf, 1);
    crypto_hash_sha256_update(&st, rec, len);
    crypto_hash_sha256_final(&st, r->head);
    /* The checkpoint: tag, journal id, run id, seq, head, time, key id,
     * signed (cairn's message layout, docs/FORMAT.md 6.2). */
    size_t n = 0, idl = strlen(r->run_id);
    memcpy(msg, "cairn/v1/checkpoint", 20);
    n = 20 + 16;
    memset(msg + 20, 7, 16);
    msg[n++] = (uint8_t)(idl >> 8);
    msg[n++] = (uint8_t)idl;
    memcpy(msg + n, r->run_id, idl);
    n += idl;
    memcpy(msg + n, rec + 32, 8);
    memcpy(msg + n + 8, r->head, 32);
    memcpy(msg + n + 40, rec + 40, 8);
    memset(msg + n + 48, 1, 8);
    n += 56;
    memset(cp, 0, 130);
    memcpy(cp + 10, rec + 32, 8);
    memcpy(cp + 18, r->head, 32);
    crypto_sign_detached(cp + 66, NULL, msg, n, r->sk);
    r->seq++;
    return len;
}
