/*
 * crash_tree.c - the format-2 parts of the audit that the suite computes
 * itself rather than asking the library: the log tree root over the
 * records in position order (RFC 6962, docs/FORMAT.md section 16), the
 * signed head against it, the order of the acknowledgements, and the
 * heads acknowledged writers saw (H lines) as prefixes of the recovered
 * tree.
 */
#include "crash.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void node_hash(const uint8_t l[CAIRN_HASH_BYTES],
                      const uint8_t r[CAIRN_HASH_BYTES],
                      uint8_t out[CAIRN_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    const uint8_t one = 0x01;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &one, 1);
    crypto_hash_sha256_update(&st, l, CAIRN_HASH_BYTES);
    crypto_hash_sha256_update(&st, r, CAIRN_HASH_BYTES);
    crypto_hash_sha256_final(&st, out);
}

void cr_mth_init(cr_mth *t)
{
    memset(t, 0, sizeof(*t));
}

void cr_mth_push(cr_mth *t, const uint8_t leaf[CAIRN_HASH_BYTES])
{
    memcpy(t->node[t->top], leaf, CAIRN_HASH_BYTES);
    t->height[t->top++] = 0;
    t->size++;
    while (t->top >= 2 && t->height[t->top - 1] == t->height[t->top - 2]) {
        node_hash(t->node[t->top - 2], t->node[t->top - 1],
                  t->node[t->top - 2]);
        t->height[t->top - 2]++;
        t->top--;
    }
}

void cr_mth_root(const cr_mth *t, uint8_t out[CAIRN_HASH_BYTES])
{
    if (t->top == 0) {
        crypto_hash_sha256(out, (const unsigned char *)"", 0);
        return;
    }
    uint8_t h[CAIRN_HASH_BYTES];
    memcpy(h, t->node[t->top - 1], CAIRN_HASH_BYTES);
    for (unsigned i = t->top - 1; i-- > 0;) {
        node_hash(t->node[i], h, h);
    }
    memcpy(out, h, CAIRN_HASH_BYTES);
}

static void hex(const uint8_t *b, char out[2 * CAIRN_HASH_BYTES + 1])
{
    for (size_t k = 0; k < CAIRN_HASH_BYTES; k++) {
        snprintf(out + 2 * k, 3, "%02x", b[k]);
    }
}

/* The snapshot's leaves in position order; NULL (and *n = 0) when the
 * positions are not exactly 1..N (the audit reports that itself). */
static uint8_t (*snap_leaves(const cr_snap *snap, uint64_t *n))[CAIRN_HASH_BYTES]
{
    uint64_t total = 0;
    *n = 0;
    for (size_t i = 0; i < snap->n_runs; i++) {
        total += snap->runs[i].n;
    }
    uint8_t(*leaf)[CAIRN_HASH_BYTES] = calloc(total + 1, CAIRN_HASH_BYTES);
    uint8_t *seen = calloc(total + 1, 1);
    for (size_t i = 0; leaf != NULL && seen != NULL && i < snap->n_runs; i++) {
        const cr_snap_run *r = &snap->runs[i];
        for (uint64_t s = 0; s < r->n; s++) {
            uint64_t p = r->pos[s];
            if (p < 1 || p > total || seen[p - 1]) {
                free(leaf);
                free(seen);
                return NULL;
            }
            seen[p - 1] = 1;
            memcpy(leaf[p - 1], r->hash[s], CAIRN_HASH_BYTES);
        }
    }
    free(seen);
    *n = leaf != NULL ? total : 0;
    return leaf;
}

/* Acknowledged records in acknowledgement order: each above every record
 * acknowledged before it was asked for. */
static unsigned check_order(cr_ctx *c, const cr_snap *snap, const cr_log *log,
                            const char *where)
{
    uint64_t n = log->n_acks;
    uint64_t *pos = calloc(n + 1, sizeof(*pos));
    uint64_t *pmax = calloc(n + 1, sizeof(*pmax));
    const char **run = calloc(n + 1, sizeof(*run));
    uint64_t *seq = calloc(n + 1, sizeof(*seq));
    unsigned v = 0;
    if (pos == NULL || pmax == NULL || run == NULL || seq == NULL) {
        goto out;
    }
    for (size_t i = 0; i < log->n_runs; i++) {
        const cr_run_log *r = &log->runs[i];
        const cr_snap_run *s = cr_snap_find(snap, r->id);
        for (size_t k = 0; k < r->n_acks; k++) {
            const cr_ack *a = &r->acks[k];
            if (a->order < n && s != NULL && a->seq < s->n) {
                pos[a->order] = s->pos[a->seq];
                run[a->order] = r->id;
                seq[a->order] = a->seq;
            }
        }
    }
    uint64_t *from = calloc(n + 1, sizeof(*from)); /* order of the max */
    if (from == NULL) {
        goto out;
    }
    for (uint64_t k = 0; k < n; k++) {
        int up = pos[k] > pmax[k];
        pmax[k + 1] = up ? pos[k] : pmax[k];
        from[k + 1] = up ? k : from[k];
    }
    for (size_t i = 0; i < log->n_runs && v == 0; i++) {
        const cr_run_log *r = &log->runs[i];
        for (size_t k = 0; k < r->n_acks && v == 0; k++) {
            const cr_ack *a = &r->acks[k];
            if (a->order >= n || pos[a->order] == 0 || a->floor > n ||
                pmax[a->floor] < pos[a->order]) {
                continue;
            }
            uint64_t o = from[a->floor];
            cr_violation(c,
                         "%s: I1 order: run %s seq %llu is at position "
                         "%llu, below run %s seq %llu (position %llu), "
                         "which was acknowledged before it was asked for",
                         where, r->id, (unsigned long long)a->seq,
                         (unsigned long long)pos[a->order], run[o],
                         (unsigned long long)seq[o],
                         (unsigned long long)pos[o]);
            v++;
        }
    }
    free(from);
out:
    free(pos);
    free(pmax);
    free(run);
    free(seq);
    return v;
}

static int by_size(const void *a, const void *b)
{
    const cr_head *x = a, *y = b;
    return x->size < y->size ? -1 : x->size > y->size;
}

/* Every head an acknowledged writer saw is a prefix of the tree. */
static unsigned check_heads(cr_ctx *c, const cr_snap *snap, const cr_log *log,
                            const char *where)
{
    uint64_t n = 0;
    if (log->n_heads == 0) {
        return 0;
    }
    uint8_t(*leaf)[CAIRN_HASH_BYTES] = snap_leaves(snap, &n);
    cr_head *h = malloc(log->n_heads * sizeof(*h));
    unsigned v = 0;
    if (leaf == NULL || h == NULL) {
        free(leaf);
        free(h);
        return 0; /* positions not dense: the audit has said so */
    }
    memcpy(h, log->heads, log->n_heads * sizeof(*h));
    qsort(h, log->n_heads, sizeof(*h), by_size);
    cr_mth t;
    cr_mth_init(&t);
    for (size_t i = 0; i < log->n_heads && v == 0; i++) {
        if (h[i].size > n) {
            cr_violation(c,
                         "%s: head: a writer acknowledged under a signed "
                         "head of %llu records, the journal holds %llu "
                         "(rolled back)",
                         where, (unsigned long long)h[i].size,
                         (unsigned long long)n);
            v++;
            break;
        }
        while (t.size < h[i].size) {
            cr_mth_push(&t, leaf[t.size]);
        }
        uint8_t root[CAIRN_HASH_BYTES];
        cr_mth_root(&t, root);
        if (memcmp(root, h[i].root, CAIRN_HASH_BYTES) != 0) {
            char want[2 * CAIRN_HASH_BYTES + 1], got[2 * CAIRN_HASH_BYTES + 1];
            hex(h[i].root, want);
            hex(root, got);
            cr_violation(c,
                         "%s: head: the signed head of %llu records a "
                         "writer saw has root %s, the recovered tree's "
                         "first %llu leaves give %s",
                         where, (unsigned long long)h[i].size, want,
                         (unsigned long long)h[i].size, got);
            v++;
        }
    }
    free(leaf);
    free(h);
    return v;
}

unsigned cr_check_tree(cr_ctx *c, const cr_snap *snap, const cr_log *log,
                       const char *where)
{
    return check_order(c, snap, log, where) + check_heads(c, snap, log, where);
}

/* The log tree root over @p n leaves given by position; -1 when the
 * positions are not exactly 1..n. */
static int root_by_position(const uint64_t *pos,
                            const uint8_t (*hash)[CAIRN_HASH_BYTES], uint64_t n,
                            uint8_t root[CAIRN_HASH_BYTES])
{
    uint64_t *at = malloc((n + 1) * sizeof(*at));
    if (at == NULL) {
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        at[i] = UINT64_MAX;
    }
    int rc = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        if (pos[i] < 1 || pos[i] > n || at[pos[i] - 1] != UINT64_MAX) {
            rc = -1;
        } else {
            at[pos[i] - 1] = i;
        }
    }
    cr_mth t;
    cr_mth_init(&t);
    for (uint64_t p = 0; p < n && rc == 0; p++) {
        cr_mth_push(&t, hash[at[p]]);
    }
    cr_mth_root(&t, root);
    free(at);
    return rc;
}

int cr_head_audit(cairn_journal *j, const cairn_pubkey *pk,
                  const uint64_t *pos, const uint8_t (*hash)[CAIRN_HASH_BYTES],
                  uint64_t n, uint64_t runs, uint64_t *size,
                  uint8_t root[CAIRN_HASH_BYTES], char *why, size_t len)
{
    cairn_journal_checkpoint cp;
    char detail[512] = "";
    uint8_t mine[CAIRN_HASH_BYTES];
    *size = 0;
    if (root_by_position(pos, hash, n, mine) != 0) {
        snprintf(why, len,
                 "head: the %llu records' positions are not 1..%llu "
                 "(each once)",
                 (unsigned long long)n, (unsigned long long)n);
        return -1;
    }
    cairn_err err = cairn_journal_checkpoint_get(j, pk, &cp, detail,
                                                 sizeof(detail));
    if (err == CAIRN_ENOTHING && n == 0 && runs == 0) {
        return 0; /* a journal without a record has no head yet */
    }
    if (err != CAIRN_OK) {
        snprintf(why, len, "head: cairn_journal_checkpoint_get: %s: %s",
                 cairn_errname(err), detail);
        return -1;
    }
    char want[2 * CAIRN_HASH_BYTES + 1], got[2 * CAIRN_HASH_BYTES + 1];
    hex(cp.root, got);
    hex(mine, want);
    if (!cp.is_signed || !cp.signature_ok || cp.key_mismatch) {
        snprintf(why, len, "head: %s", !cp.is_signed ? "not signed"
                                       : cp.key_mismatch
                                           ? "signed by another key"
                                           : "signature does not verify");
    } else if (cp.size != n || cp.runs != runs) {
        snprintf(why, len,
                 "head: N %llu R %llu, the journal holds %llu records "
                 "of %llu runs",
                 (unsigned long long)cp.size, (unsigned long long)cp.runs,
                 (unsigned long long)n, (unsigned long long)runs);
    } else if (memcmp(cp.root, mine, CAIRN_HASH_BYTES) != 0) {
        snprintf(why, len,
                 "head: root %s, the records in position order give %s", got,
                 want);
    } else {
        *size = cp.size;
        memcpy(root, cp.root, CAIRN_HASH_BYTES);
        return 0;
    }
    return -1;
}
