/*
 * fuzz_merkle.c - libFuzzer target for the Merkle proof checks.
 * Target: cairn__mt_check_inclusion and cairn__mt_check_consistency
 * (lib/format/merkle.c), with cairn__mt_prove_inclusion,
 * cairn__mt_prove_consistency, cairn__mt_root and the streaming builder.
 *
 * Byte 0 even (raw): u64 n | u64 index (or m) | 32 leaf (or root_m) |
 * 32 root | 32 root_n | proof hashes (the rest, 32 bytes each; a count
 * over CAIRN_MT_MAX_PROOF too): both checks run on these sizes and bytes.
 * Byte 0 odd (built): u16 size | u16 index | u16 m | u32 seed, then
 * 3-byte edits (op, a, b): a tree of 1..2048 derived leaves is built
 * with the streaming builder, its proofs made from the stored nodes,
 * then edited (a bit of a hash, the count, the index or m, the size, a
 * root) and checked again.
 * Invariants: the checks never read past count (the replayer copies the
 * input to an exact-size buffer) and agree with a recursive reference
 * checker written the way Go's sumdb/tlog runs proofs; the root from the
 * stored nodes equals the builder's; an unedited proof is accepted; an
 * accepted edited proof has the original hashes unless a size changed
 * (an inclusion proof does not bind the size on its own).
 */
#include "base/bytes.h"
#include "base/crypto.h"
#include "format/merkle.h"
#include "format/record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HB CAIRN_HASH_BYTES
#define MAX_BUILT 2048
typedef uint8_t hash_t[HB];
#define CP(p) ((const uint8_t(*)[HB])(p))

/* ---- the reference checker (recursive, O(log n) stack) ---- */

static uint64_t ref_k(uint64_t n)
{
    uint64_t k = 1;
    while (k < n - k) {
        k *= 2;
    }
    return k;
}

static int ref_incl(const hash_t *p, size_t count, uint64_t lo, uint64_t hi,
                    uint64_t i, const uint8_t leaf[HB], uint8_t out[HB])
{
    if (hi - lo == 1) {
        if (count != 0) {
            return -1;
        }
        memcpy(out, leaf, HB);
        return 0;
    }
    if (count == 0) {
        return -1;
    }
    uint64_t k = ref_k(hi - lo);
    uint8_t h[HB];
    if (i < lo + k) {
        if (ref_incl(p, count - 1, lo, lo + k, i, leaf, h) != 0) {
            return -1;
        }
        cairn__mt_node_hash(h, p[count - 1], out);
    } else {
        if (ref_incl(p, count - 1, lo + k, hi, i, leaf, h) != 0) {
            return -1;
        }
        cairn__mt_node_hash(p[count - 1], h, out);
    }
    return 0;
}

static int ref_check_incl(uint64_t i, uint64_t n, const uint8_t leaf[HB],
                          const hash_t *p, size_t count, const uint8_t root[HB])
{
    uint8_t h[HB];
    if (n > CAIRN_MT_MAX_SIZE || i >= n || count > CAIRN_MT_MAX_PROOF ||
        ref_incl(p, count, 0, n, i, leaf, h) != 0) {
        return -1;
    }
    return memcmp(h, root, HB) == 0 ? 0 : -1;
}

static int ref_cons(const hash_t *p, size_t count, uint64_t lo, uint64_t hi,
                    uint64_t m, const uint8_t old[HB], uint8_t oh[HB],
                    uint8_t th[HB])
{
    if (m == hi) {
        size_t want = lo == 0 ? 0 : 1;
        if (count != want) {
            return -1;
        }
        memcpy(oh, lo == 0 ? old : p[0], HB);
        memcpy(th, oh, HB);
        return 0;
    }
    if (count == 0) {
        return -1;
    }
    uint64_t k = ref_k(hi - lo);
    uint8_t o[HB], t[HB];
    if (m <= lo + k) {
        if (ref_cons(p, count - 1, lo, lo + k, m, old, o, t) != 0) {
            return -1;
        }
        memcpy(oh, o, HB);
        cairn__mt_node_hash(t, p[count - 1], th);
    } else {
        if (ref_cons(p, count - 1, lo + k, hi, m, old, o, t) != 0) {
            return -1;
        }
        cairn__mt_node_hash(p[count - 1], o, oh);
        cairn__mt_node_hash(p[count - 1], t, th);
    }
    return 0;
}

static int ref_check_cons(uint64_t m, uint64_t n, const uint8_t rm[HB],
                          const uint8_t rn[HB], const hash_t *p, size_t count)
{
    uint8_t oh[HB], th[HB], empty[HB];
    if (n > CAIRN_MT_MAX_SIZE || m > n || count > CAIRN_MT_MAX_PROOF) {
        return -1;
    }
    if (m == 0 || m == n) { /* the conventions of format/merkle.h */
        cairn__sha256("", 0, empty);
        if (count != 0 || (m == 0 && memcmp(rm, empty, HB) != 0) ||
            (m == n && memcmp(rm, rn, HB) != 0)) {
            return -1;
        }
        return 0;
    }
    if (ref_cons(p, count, 0, n, m, rm, oh, th) != 0) {
        return -1;
    }
    return memcmp(oh, rm, HB) == 0 && memcmp(th, rn, HB) == 0 ? 0 : -1;
}

/* ---- raw mode ---- */

static void agree_incl(uint64_t i, uint64_t n, const uint8_t leaf[HB],
                       const hash_t *p, size_t count, const uint8_t root[HB])
{
    int got = cairn__mt_check_inclusion(i, n, leaf, p, count, root);
    if (got != ref_check_incl(i, n, leaf, p, count, root)) {
        abort();
    }
}

static void agree_cons(uint64_t m, uint64_t n, const uint8_t rm[HB],
                       const uint8_t rn[HB], const hash_t *p, size_t count)
{
    int got = cairn__mt_check_consistency(m, n, rm, rn, p, count);
    if (got != ref_check_cons(m, n, rm, rn, p, count)) {
        abort();
    }
}

static void raw(const uint8_t *d, size_t len)
{
    if (len < 16 + 3 * HB) {
        return;
    }
    uint64_t n = cairn__load64_be(d), i = cairn__load64_be(d + 8);
    const uint8_t *a = d + 16, *r = d + 16 + HB, *rn = d + 16 + 2 * HB;
    size_t count = (len - 16 - 3 * HB) / HB;
    /* An exact-size copy: a check that reads past count reads past the
       allocation (ASan). */
    hash_t *p = malloc(count > 0 ? count * HB : 1);
    if (p == NULL) {
        return;
    }
    if (count > 0) {
        memcpy(p, d + 16 + 3 * HB, count * HB);
    }
    agree_incl(i, n, a, CP(p), count, r);
    agree_cons(i, n, a, rn, CP(p), count);
    /* The same bytes on small trees, where paths are short. */
    uint64_t small = n % 4096;
    agree_incl(small == 0 ? 0 : i % small, small, a, CP(p), count, r);
    agree_cons(small == 0 ? 0 : i % (small + 1), small, a, rn, CP(p), count);
    free(p);
}

/* ---- built mode ---- */

typedef struct mem {
    hash_t *level[12]; /* level L: MAX_BUILT >> L nodes */
    uint64_t n;
} mem;

static cairn_err mem_get(void *ctx, unsigned level, uint64_t index,
                         uint8_t out[HB])
{
    mem *m = ctx;
    if (level >= 12 || ((index + 1) << level) > m->n) {
        abort(); /* asked for a node the tree does not have */
    }
    memcpy(out, m->level[level][index], HB);
    return CAIRN_OK;
}

static cairn_err mem_put(void *ctx, unsigned level, uint64_t index,
                         const uint8_t h[HB])
{
    mem *m = ctx;
    if (level >= 12 || ((index + 1) << level) > MAX_BUILT) {
        abort();
    }
    memcpy(m->level[level][index], h, HB);
    return CAIRN_OK;
}

/* Apply the edits to (proof, count, a, n, root); 1 when a size changed. */
static int edit(const uint8_t *e, size_t elen, hash_t *p, size_t *count,
                uint64_t *a, uint64_t *n, uint8_t *root)
{
    int sized = 0;
    for (size_t k = 0; k + 3 <= elen; k += 3) {
        uint8_t op = e[k] % 6, x = e[k + 1], y = e[k + 2];
        switch (op) {
        case 0:
            if (*count > 0) {
                p[x % *count][y % HB] ^= (uint8_t)(1u << (x % 8));
            }
            break;
        case 1:
            *count -= *count > 0;
            break;
        case 2:
            if (*count < CAIRN_MT_MAX_PROOF + 1) {
                memset(p[*count], x, HB);
                (*count)++;
            }
            break;
        case 3:
            *a ^= x;
            sized = 1;
            break;
        case 4:
            *n = *n + x >= y ? *n + x - y : 0;
            sized = 1;
            break;
        default:
            root[x % HB] ^= (uint8_t)(1u << (y % 8));
            break;
        }
    }
    return sized;
}

static void built(const uint8_t *d, size_t len)
{
    if (len < 10) {
        return;
    }
    uint64_t n = 1 + cairn__load16_be(d) % MAX_BUILT;
    uint64_t idx = cairn__load16_be(d + 2) % n;
    uint64_t m = 1 + cairn__load16_be(d + 4) % n;
    mem st = {{0}, n};
    hash_t *leaves = malloc((size_t)n * HB);
    int ok = leaves != NULL;
    for (unsigned l = 0; l < 12 && ok; l++) {
        st.level[l] = malloc((size_t)(MAX_BUILT >> l) * HB);
        ok = st.level[l] != NULL;
    }
    cairn_mt_stream s;
    cairn__mt_stream_init(&s, mem_put, &st);
    for (uint64_t i = 0; i < n && ok; i++) {
        uint8_t rec[12];
        memcpy(rec, d + 6, 4);
        cairn__store64_be(rec + 4, i);
        cairn__leaf_hash(rec, sizeof(rec), leaves[i]);
        if (cairn__mt_stream_push(&s, leaves[i], NULL, 0) != CAIRN_OK) {
            abort();
        }
    }
    if (ok) {
        hash_t p[CAIRN_MT_MAX_PROOF + 1], orig[CAIRN_MT_MAX_PROOF];
        uint8_t rn[HB], rm[HB], r2[HB];
        size_t count, ocount;
        cairn__mt_stream_root(&s, rn);
        if (cairn__mt_root(n, mem_get, &st, r2, NULL, 0) != CAIRN_OK ||
            memcmp(r2, rn, HB) != 0 ||
            cairn__mt_root(m, mem_get, &st, rm, NULL, 0) != CAIRN_OK) {
            abort();
        }
        /* Inclusion. */
        if (cairn__mt_prove_inclusion(idx, n, mem_get, &st, p,
                                      CAIRN_MT_MAX_PROOF, &count, NULL,
                                      0) != CAIRN_OK ||
            cairn__mt_check_inclusion(idx, n, leaves[idx], CP(p), count, rn) ||
            ref_check_incl(idx, n, leaves[idx], CP(p), count, rn)) {
            abort();
        }
        memcpy(orig, p, count * HB);
        ocount = count;
        uint64_t i2 = idx, n2 = n;
        uint8_t root[HB];
        memcpy(root, rn, HB);
        int sized = edit(d + 10, len - 10, p, &count, &i2, &n2, root);
        int got =
            cairn__mt_check_inclusion(i2, n2, leaves[idx], CP(p), count, root);
        if (got != ref_check_incl(i2, n2, leaves[idx], CP(p), count, root) ||
            (got == 0 && !sized &&
             (count != ocount || memcmp(p, orig, count * HB) != 0 ||
              memcmp(root, rn, HB) != 0))) {
            abort();
        }
        /* Consistency from m. */
        if (cairn__mt_prove_consistency(m, n, mem_get, &st, p,
                                        CAIRN_MT_MAX_PROOF, &count, NULL,
                                        0) != CAIRN_OK ||
            cairn__mt_check_consistency(m, n, rm, rn, CP(p), count) ||
            ref_check_cons(m, n, rm, rn, CP(p), count)) {
            abort();
        }
        memcpy(orig, p, count * HB);
        ocount = count;
        uint64_t m2 = m;
        n2 = n;
        memcpy(root, rn, HB);
        sized = edit(d + 10, len - 10, p, &count, &m2, &n2, root);
        got = cairn__mt_check_consistency(m2, n2, rm, root, CP(p), count);
        if (got != ref_check_cons(m2, n2, rm, root, CP(p), count) ||
            (got == 0 && !sized &&
             (count != ocount || memcmp(p, orig, count * HB) != 0 ||
              memcmp(root, rn, HB) != 0))) {
            abort();
        }
    }
    for (unsigned l = 0; l < 12; l++) {
        free(st.level[l]);
    }
    free(leaves);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    if (cairn__crypto_init() != CAIRN_OK) {
        abort();
    }
    if ((data[0] & 1) == 0) {
        raw(data + 1, size - 1);
    } else {
        built(data + 1, size - 1);
    }
    return 0;
}
