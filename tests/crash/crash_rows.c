/*
 * crash_rows.c - the per-operation layout (docs/FORMAT.md section 23)
 * audited from the raw databases, independently of the library's
 * readers: every `runs` value decodes as a version-2 summary, the state
 * map root over the summaries in run order (RFC 6962, leaf r-1 =
 * SHA-256(0x00 || summary of run r)) equals the signed head's, each run
 * has exactly its n_ops rows and exactly the complete op tree nodes
 * those rows hash to, the root of that tree equals the summary's
 * ops_root, and the summary's counts, head, done prefix, attempted end,
 * open preflights and pending list are the ones the rows give.  Rows
 * against the records are the library's replay and verify
 * (cairn_replay_check() in every audit, cairn_verify_run() and
 * cairn_verify_all() in full ones: they compare every row, node and the
 * summary byte for byte with the replay).
 */
#include "crash.h"

#include "base/bytes.h"
#include "state/state.h"

#include <lmdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rows_ctx {
    MDB_txn *txn;
    MDB_dbi runs, oprows, otree;
    char *why;
    size_t len;
    int bad;
} rows_ctx;

static void bad(rows_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bad(rows_ctx *x, const char *fmt, ...)
{
    if (x->bad) {
        return;
    }
    int n = snprintf(x->why, x->len, "rows: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->why + n, x->len - (size_t)n, fmt, ap);
    va_end(ap);
    x->bad = 1;
}

static void leaf_hash(const void *b, size_t n, uint8_t out[CAIRN_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    const uint8_t zero = 0x00;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, b, n);
    crypto_hash_sha256_final(&st, out);
}

static void node_hash(const uint8_t *l, const uint8_t *r, uint8_t *out)
{
    crypto_hash_sha256_state st;
    const uint8_t one = 0x01;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &one, 1);
    crypto_hash_sha256_update(&st, l, CAIRN_HASH_BYTES);
    crypto_hash_sha256_update(&st, r, CAIRN_HASH_BYTES);
    crypto_hash_sha256_final(&st, out);
}

/* Entries of @p dbi whose key starts with run_num @p run (8 bytes). */
static int first_of(MDB_cursor *cur, uint64_t run, MDB_val *k, MDB_val *v)
{
    uint8_t key[8];
    cairn__store64_be(key, run);
    k->mv_size = sizeof(key);
    k->mv_data = key;
    int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    return rc == 0 && k->mv_size >= 8 && memcmp(k->mv_data, key, 8) == 0;
}

/* The summary's facts against the rows (docs/FORMAT.md 23.2). */
static void check_facts(rows_ctx *x, const cairn_state *s,
                        const cairn_op_st *ops)
{
    uint32_t counts[7] = {0}, head = s->n_ops, done = 0, att = 0, pre = 0;
    uint32_t np = 0;
    int prefix = 1;
    for (uint32_t i = 0; i < s->n_ops; i++) {
        cairn_op_state st = ops[i].state;
        counts[st]++;
        if (head == s->n_ops &&
            (st == CAIRN_OP_READY || st == CAIRN_OP_PENDING ||
             st == CAIRN_OP_FAILED)) {
            head = i;
        }
        prefix = prefix && (st == CAIRN_OP_COMPLETED || st == CAIRN_OP_SKIPPED);
        done += (uint32_t)prefix;
        att = ops[i].attempt > 0 ? i + 1 : att;
        pre += ops[i].kind == CAIRN_KIND_PREFLIGHT && st != CAIRN_OP_COMPLETED;
        if (st == CAIRN_OP_PENDING) {
            if (np >= s->op_counts[CAIRN_OP_PENDING] || s->pending[np] != i) {
                bad(x, "run %s: op %u is pending, the summary's pending "
                       "list does not say so", s->run_id, i);
                return;
            }
            np++;
        }
    }
    for (unsigned k = 1; k <= 6; k++) {
        if (counts[k] != s->op_counts[k]) {
            bad(x, "run %s: the summary counts %u ops in state %u, the "
                   "rows %u", s->run_id, s->op_counts[k], k, counts[k]);
            return;
        }
    }
    if (head != s->head_op || done != s->done_prefix ||
        att != s->attempted_end || pre != s->preflight_open) {
        bad(x, "run %s: the summary says head %u, done prefix %u, "
               "attempted end %u, open preflights %u; the rows give %u, "
               "%u, %u, %u", s->run_id, s->head_op, s->done_prefix,
            s->attempted_end, s->preflight_open, head, done, att, pre);
    }
}

/* Run @p run's rows: exactly ops 0..n-1, each decoding; their leaves. */
static uint8_t (*read_rows(rows_ctx *x, const cairn_state *s,
                           cairn_op_st *ops))[CAIRN_HASH_BYTES]
{
    uint8_t(*leaf)[CAIRN_HASH_BYTES] = calloc(s->n_ops + 1u, CAIRN_HASH_BYTES);
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint32_t n = 0;
    if (leaf == NULL || mdb_cursor_open(x->txn, x->oprows, &cur) != 0) {
        bad(x, "run %s: cannot read oprows", s->run_id);
        free(leaf);
        return NULL;
    }
    for (int ok = first_of(cur, s->run_num, &k, &v); ok && !x->bad;
         ok = mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0 && k.mv_size >= 8 &&
              cairn__load64_be(k.mv_data) == s->run_num) {
        char why[200];
        uint32_t op = k.mv_size == 12 ? cairn__load32_be((uint8_t *)k.mv_data + 8)
                                      : UINT32_MAX;
        if (op != n || n >= s->n_ops) {
            bad(x, "run %s: oprows key of op %u where op %u was due (the "
                   "summary has %u ops)", s->run_id, op, n, s->n_ops);
        } else if (cairn__oprow_decode(v.mv_data, v.mv_size, &ops[n], why,
                                       sizeof(why)) != CAIRN_OK) {
            bad(x, "run %s: op %u: the row does not decode: %s", s->run_id,
                n, why);
        } else {
            leaf_hash(v.mv_data, v.mv_size, leaf[n++]);
        }
    }
    mdb_cursor_close(cur);
    if (!x->bad && n != s->n_ops) {
        bad(x, "run %s: op %u: no row (%u rows, the summary has %u ops)",
            s->run_id, n, n, s->n_ops);
    }
    if (x->bad) {
        free(leaf);
        return NULL;
    }
    return leaf;
}

/* The complete nodes of the tree over @p leaf (level by level, in place)
 * against the stored ones, in key order; the root against ops_root. */
static void check_tree(rows_ctx *x, const cairn_state *s,
                       uint8_t (*leaf)[CAIRN_HASH_BYTES], int root_ok)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    if (mdb_cursor_open(x->txn, x->otree, &cur) != 0) {
        bad(x, "run %s: cannot read otree", s->run_id);
        return;
    }
    int ok = first_of(cur, s->run_num, &k, &v);
    for (unsigned level = 0, n = s->n_ops; n > 0 && !x->bad;
         level++, n /= 2) {
        for (uint32_t i = 0; i < n && !x->bad; i++) {
            const uint8_t *key = k.mv_data;
            if (!ok || k.mv_size != 17 || key[8] != level ||
                cairn__load64_be(key + 9) != i) {
                bad(x, "run %s: op tree node (level %u, index %u) is "
                       "missing", s->run_id, level, i);
            } else if (v.mv_size != CAIRN_HASH_BYTES ||
                       memcmp(v.mv_data, leaf[i], CAIRN_HASH_BYTES) != 0) {
                unsigned long long lo = (unsigned long long)i << level;
                unsigned long long hi = (((unsigned long long)i + 1) << level);
                if (root_ok) { /* the rows give ops_root: the node is stale */
                    bad(x, "run %s: op tree node (level %u, index %u) is "
                           "not the hash of the rows of ops %llu..%llu "
                           "(which give the summary's ops_root)",
                        s->run_id, level, i, lo, hi - 1);
                } else { /* a row under this node is not the one stored */
                    bad(x, "run %s: op %llu..%llu: the rows do not hash to "
                           "their op tree node (level %u, index %u) nor to "
                           "the summary's ops_root (a row stale or forged)",
                        s->run_id, lo, hi - 1, level, i);
                }
            }
            ok = mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0 &&
                 k.mv_size >= 8 && cairn__load64_be(k.mv_data) == s->run_num;
        }
        for (uint32_t i = 0; i + 1 < n; i += 2) {
            node_hash(leaf[i], leaf[i + 1], leaf[i / 2]);
        }
    }
    if (!x->bad && ok) {
        const uint8_t *key = k.mv_data;
        bad(x, "run %s: op tree node (level %u, index %llu) should not "
               "exist", s->run_id, k.mv_size == 17 ? key[8] : 255u,
            k.mv_size == 17 ? (unsigned long long)cairn__load64_be(key + 9)
                            : 0ull);
    }
    mdb_cursor_close(cur);
}

static void check_run(rows_ctx *x, const cairn_state *s)
{
    if (s->pruned || s->n_ops == 0) {
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        int any = 0;
        if (mdb_cursor_open(x->txn, x->oprows, &cur) == 0) {
            any |= first_of(cur, s->run_num, &k, &v);
            mdb_cursor_close(cur);
        }
        if (mdb_cursor_open(x->txn, x->otree, &cur) == 0) {
            any |= first_of(cur, s->run_num, &k, &v);
            mdb_cursor_close(cur);
        }
        if (any) {
            bad(x, "run %s: pruned or empty, but has rows or op tree nodes",
                s->run_id);
        }
        return;
    }
    cairn_op_st *ops = calloc(s->n_ops, sizeof(*ops));
    if (ops == NULL) {
        bad(x, "run %s: out of memory", s->run_id);
        return;
    }
    uint8_t(*leaf)[CAIRN_HASH_BYTES] = read_rows(x, s, ops);
    if (leaf != NULL) {
        cr_mth t;
        cr_mth_init(&t);
        for (uint32_t i = 0; i < s->n_ops; i++) {
            cr_mth_push(&t, leaf[i]);
        }
        uint8_t root[CAIRN_HASH_BYTES];
        cr_mth_root(&t, root);
        int root_ok = memcmp(root, s->ops_root, CAIRN_HASH_BYTES) == 0;
        check_tree(x, s, leaf, root_ok);
        if (!root_ok) { /* every stored node matches the rows */
            bad(x, "run %s: the rows' op tree root is not the summary's "
                   "ops_root (the stored nodes are the rows')",
                s->run_id);
        }
        check_facts(x, s, ops);
    }
    for (uint32_t i = 0; i < s->n_ops; i++) {
        cairn__oprow_free(&ops[i]);
    }
    free(ops);
    free(leaf);
}

/* Keys of oprows and otree above the last run belong to no run. */
static void check_orphans(rows_ctx *x, uint64_t runs)
{
    MDB_dbi dbi[2] = {x->oprows, x->otree};
    for (int d = 0; d < 2 && !x->bad; d++) {
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        if (mdb_cursor_open(x->txn, dbi[d], &cur) != 0) {
            bad(x, "cannot read %s", d == 0 ? "oprows" : "otree");
            return;
        }
        if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 &&
            (k.mv_size < 8 || cairn__load64_be(k.mv_data) > runs ||
             cairn__load64_be(k.mv_data) == 0)) {
            bad(x, "%s holds a key of run number %llu, the journal has %llu "
                   "runs", d == 0 ? "oprows" : "otree",
                k.mv_size < 8 ? 0ull
                              : (unsigned long long)cairn__load64_be(k.mv_data),
                (unsigned long long)runs);
        }
        mdb_cursor_close(cur);
    }
}

static void walk_runs(rows_ctx *x, uint64_t head_runs,
                      const uint8_t state_root[CAIRN_HASH_BYTES])
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    cr_mth t;
    cr_mth_init(&t);
    uint64_t r = 0;
    if (mdb_cursor_open(x->txn, x->runs, &cur) != 0) {
        bad(x, "cannot read runs");
        return;
    }
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !x->bad;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        cairn_state s;
        char why[200];
        uint8_t leaf[CAIRN_HASH_BYTES];
        r++;
        if (k.mv_size != 8 || cairn__load64_be(k.mv_data) != r) {
            bad(x, "runs: key %zu bytes where run number %llu was due",
                k.mv_size, (unsigned long long)r);
        } else if (cairn__summary_decode(v.mv_data, v.mv_size, &s, why,
                                         sizeof(why)) != CAIRN_OK) {
            bad(x, "run number %llu: the summary does not decode: %s",
                (unsigned long long)r, why);
        } else {
            if (s.run_num != r) {
                bad(x, "run %s: the summary says run number %llu, its key "
                       "%llu", s.run_id, (unsigned long long)s.run_num,
                    (unsigned long long)r);
            }
            check_run(x, &s);
            cairn__state_free(&s);
        }
        leaf_hash(v.mv_data, v.mv_size, leaf);
        cr_mth_push(&t, leaf);
    }
    mdb_cursor_close(cur);
    uint8_t root[CAIRN_HASH_BYTES];
    cr_mth_root(&t, root);
    if (!x->bad && r != head_runs) {
        bad(x, "runs holds %llu summaries, the signed head R %llu",
            (unsigned long long)r, (unsigned long long)head_runs);
    } else if (!x->bad && memcmp(root, state_root, CAIRN_HASH_BYTES) != 0) {
        bad(x, "the state map root over the %llu summaries is not the "
               "signed head's", (unsigned long long)r);
    }
    if (!x->bad) {
        check_orphans(x, r);
    }
}

int cr_rows_audit(const char *dir, uint64_t head_runs,
                  const uint8_t state_root[CAIRN_HASH_BYTES], char *why,
                  size_t len)
{
    MDB_env *env = NULL;
    rows_ctx x = {NULL, 0, 0, 0, why, len, 0};
    int rc = mdb_env_create(&env);
    if (rc == 0) {
        rc = mdb_env_set_maxdbs(env, 16);
    }
    if (rc == 0) {
        rc = mdb_env_open(env, dir, MDB_RDONLY, 0600);
    }
    if (rc == 0) {
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &x.txn);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(x.txn, "runs", 0, &x.runs);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(x.txn, "oprows", 0, &x.oprows);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(x.txn, "otree", 0, &x.otree);
    }
    if (rc != 0) {
        bad(&x, "raw LMDB: %s", mdb_strerror(rc));
    } else {
        walk_runs(&x, head_runs, state_root);
    }
    mdb_txn_abort(x.txn);
    mdb_env_close(env);
    return x.bad ? -1 : 0;
}

int cr_rows_audit_dir(cr_ctx *c, const char *dir, char *why, size_t len)
{
    cairn_journal *j = NULL;
    cairn_journal_checkpoint cp;
    char detail[512] = "";
    uint64_t runs = 0;
    uint8_t root[CAIRN_HASH_BYTES];
    crypto_hash_sha256(root, (const unsigned char *)"", 0);
    cairn_err err = cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                       sizeof(detail));
    if (err == CAIRN_OK) {
        err = cairn_journal_checkpoint_get(j, c->pk, &cp, detail,
                                           sizeof(detail));
        runs = err == CAIRN_OK ? cp.runs : 0;
        if (err == CAIRN_OK) {
            memcpy(root, cp.state_root, CAIRN_HASH_BYTES);
        }
        cairn_journal_close(j);
    }
    if (err != CAIRN_OK && err != CAIRN_ENOTHING) {
        snprintf(why, len, "the head: %s: %s", cairn_errname(err), detail);
        return -1;
    }
    return cr_rows_audit(dir, runs, root, why, len);
}
