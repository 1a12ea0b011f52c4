/*
 * test_merkle.c - format/merkle.h: the RFC 6962 / certificate-transparency
 * test vectors (transparency-dev/merkle testonly/constants.go and
 * proof/verify_test.go), then properties against a naive recursive
 * implementation written from the RFC 6962 text (MTH, PATH, PROOF) and a
 * recursive checker in the style of Go's sumdb/tlog: every root, every
 * inclusion and consistency proof up to size 160 (sampled beyond, and at
 * sizes near 2^63 on a tree of equal leaves), any changed bit of a proof
 * or root is refused, update() equals rebuilding, a forged stored node
 * makes append() and update() refuse and put nothing, the streaming
 * builder reports exactly the stored nodes, and every argument check.
 *
 * With --tlog-emit or --tlog-check FILE it is the C side of the interop
 * check with Go's tlog (tests/helpers/mtvec.h, tests/cli/interop_tlog.sh).
 */
#include "testutil.h"

#include "base/crypto.h"
#include "format/merkle.h"
#include "format/record.h"
#include "helpers/mtvec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HB CAIRN_HASH_BYTES
typedef uint8_t hash_t[HB];
#define CP(p) ((const uint8_t(*)[HB])(p))

/* ---------------------------------------------------------------- */
/* The naive reference, from the RFC 6962 text                       */

static void ref_node(const uint8_t l[HB], const uint8_t r[HB], uint8_t out[HB])
{
    uint8_t buf[1 + 2 * HB];
    buf[0] = 1;
    memcpy(buf + 1, l, HB);
    memcpy(buf + 1 + HB, r, HB);
    cairn__sha256(buf, sizeof(buf), out);
}

static uint64_t ref_k(uint64_t n) /* largest power of two < n, n >= 2 */
{
    uint64_t k = 1;
    while (k * 2 < n) {
        k *= 2;
    }
    return k;
}

/* A cache of the reference's own results for power-of-two ranges
 * [i<<L, (i+1)<<L) of one leaf array (so the all-pairs tests take
 * seconds, not minutes); ref_reset() empties it for another array. */
#define REF_LEVELS 17
static struct {
    const hash_t *lv;
    hash_t *h[REF_LEVELS];
    uint8_t *have[REF_LEVELS];
    uint64_t cap;
} ref_cache;

static void ref_reset(const hash_t *lv, uint64_t n)
{
    for (unsigned l = 0; l < REF_LEVELS; l++) {
        free(ref_cache.h[l]);
        free(ref_cache.have[l]);
        ref_cache.h[l] = NULL;
        ref_cache.have[l] = NULL;
        if (lv != NULL) {
            ref_cache.h[l] = malloc((size_t)((n >> l) + 1) * HB);
            ref_cache.have[l] = calloc((size_t)((n >> l) + 1), 1);
            assert_non_null(ref_cache.h[l]);
            assert_non_null(ref_cache.have[l]);
        }
    }
    ref_cache.lv = lv;
    ref_cache.cap = n;
}

static void ref_mth(const hash_t *lv, uint64_t lo, uint64_t hi,
                    uint8_t out[HB]);

static void ref_mth_cached(const hash_t *lv, uint64_t lo, uint64_t hi,
                           uint8_t out[HB])
{
    uint64_t span = hi - lo;
    unsigned l = (unsigned)__builtin_ctzll(span | (UINT64_C(1) << 63));
    if (lv != ref_cache.lv || hi > ref_cache.cap ||
        span != (UINT64_C(1) << l) || lo % span != 0 || l >= REF_LEVELS) {
        ref_mth(lv, lo, hi, out);
        return;
    }
    uint64_t i = lo >> l;
    if (!ref_cache.have[l][i]) {
        ref_mth(lv, lo, hi, ref_cache.h[l][i]);
        ref_cache.have[l][i] = 1;
    }
    memcpy(out, ref_cache.h[l][i], HB);
}

static void ref_mth(const hash_t *lv, uint64_t lo, uint64_t hi, uint8_t out[HB])
{
    if (hi == lo) {
        cairn__sha256("", 0, out);
    } else if (hi - lo == 1) {
        memcpy(out, lv[lo], HB);
    } else {
        uint64_t k = ref_k(hi - lo);
        uint8_t l[HB], r[HB];
        ref_mth_cached(lv, lo, lo + k, l);
        ref_mth_cached(lv, lo + k, hi, r);
        ref_node(l, r, out);
    }
}

/* PATH(m, D[lo:hi]), appended to out[*count]. */
static void ref_path(uint64_t m, const hash_t *lv, uint64_t lo, uint64_t hi,
                     hash_t *out, size_t *count)
{
    if (hi - lo <= 1) {
        return;
    }
    uint64_t k = ref_k(hi - lo);
    if (m < k) {
        ref_path(m, lv, lo, lo + k, out, count);
        ref_mth(lv, lo + k, hi, out[(*count)++]);
    } else {
        ref_path(m - k, lv, lo + k, hi, out, count);
        ref_mth(lv, lo, lo + k, out[(*count)++]);
    }
}

/* SUBPROOF(m, D[lo:hi], b). */
static void ref_subproof(uint64_t m, const hash_t *lv, uint64_t lo, uint64_t hi,
                         int b, hash_t *out, size_t *count)
{
    if (m == hi - lo) {
        if (!b) {
            ref_mth(lv, lo, hi, out[(*count)++]);
        }
        return;
    }
    uint64_t k = ref_k(hi - lo);
    if (m <= k) {
        ref_subproof(m, lv, lo, lo + k, b, out, count);
        ref_mth(lv, lo + k, hi, out[(*count)++]);
    } else {
        ref_subproof(m - k, lv, lo + k, hi, 0, out, count);
        ref_mth(lv, lo, lo + k, out[(*count)++]);
    }
}

/* The recursive checkers (the way Go's tlog runs proofs): the hash the
 * proof p[0..count) implies for [lo, hi), or -1. */
static int ref_run_incl(const hash_t *p, size_t count, uint64_t lo, uint64_t hi,
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
        if (ref_run_incl(p, count - 1, lo, lo + k, i, leaf, h) != 0) {
            return -1;
        }
        ref_node(h, p[count - 1], out);
    } else {
        if (ref_run_incl(p, count - 1, lo + k, hi, i, leaf, h) != 0) {
            return -1;
        }
        ref_node(p[count - 1], h, out);
    }
    return 0;
}

static int ref_check_incl(uint64_t i, uint64_t n, const uint8_t leaf[HB],
                          const hash_t *p, size_t count, const uint8_t root[HB])
{
    uint8_t h[HB];
    if (i >= n || ref_run_incl(p, count, 0, n, i, leaf, h) != 0) {
        return -1;
    }
    return memcmp(h, root, HB) == 0 ? 0 : -1;
}

static int ref_run_cons(const hash_t *p, size_t count, uint64_t lo, uint64_t hi,
                        uint64_t m, const uint8_t old[HB], uint8_t oh[HB],
                        uint8_t th[HB])
{
    if (m == hi) {
        if (lo == 0) {
            if (count != 0) {
                return -1;
            }
            memcpy(oh, old, HB);
            memcpy(th, old, HB);
            return 0;
        }
        if (count != 1) {
            return -1;
        }
        memcpy(oh, p[0], HB);
        memcpy(th, p[0], HB);
        return 0;
    }
    if (count == 0) {
        return -1;
    }
    uint64_t k = ref_k(hi - lo);
    uint8_t o[HB], t[HB];
    if (m <= lo + k) {
        if (ref_run_cons(p, count - 1, lo, lo + k, m, old, o, t) != 0) {
            return -1;
        }
        memcpy(oh, o, HB);
        ref_node(t, p[count - 1], th);
    } else {
        if (ref_run_cons(p, count - 1, lo + k, hi, m, old, o, t) != 0) {
            return -1;
        }
        ref_node(p[count - 1], o, oh);
        ref_node(p[count - 1], t, th);
    }
    return 0;
}

static int ref_check_cons(uint64_t m, uint64_t n, const uint8_t rm[HB],
                          const uint8_t rn[HB], const hash_t *p, size_t count)
{
    uint8_t oh[HB], th[HB];
    if (m == 0 || m > n) {
        return -1;
    }
    if (ref_run_cons(p, count, 0, n, m, rm, oh, th) != 0) {
        return -1;
    }
    return memcmp(oh, rm, HB) == 0 && memcmp(th, rn, HB) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- */
/* Fixtures                                                          */

static uint64_t rng_state = 0x2545f4914f6cdd1du;
static uint64_t rnd(void)
{
    return mtvec_rng(&rng_state);
}

static void unhex32(const char *s, uint8_t out[HB])
{
    assert_int_equal(cairn__unhex(s, out, HB), 0);
}

/* Leaf hashes of n pseudo-random records. */
static hash_t *make_leaves(uint64_t n)
{
    hash_t *lv = malloc((size_t)(n ? n : 1) * HB);
    assert_non_null(lv);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t rec[20]; /* distinct records: the index, then noise */
        for (size_t j = 0; j < sizeof(rec); j++) {
            rec[j] = (uint8_t)(j < 8 ? i >> (8 * j) : rnd());
        }
        cairn__leaf_hash(rec, 8 + (size_t)(rnd() % (sizeof(rec) - 7)), lv[i]);
    }
    return lv;
}

/* Append lv[0..n) one at a time, each checked against the root before. */
static void build(mt_mem *m, const hash_t *lv, uint64_t n)
{
    uint8_t root[HB];
    cairn__mt_empty_root(root);
    for (uint64_t i = 0; i < n; i++) {
        char detail[256];
        assert_int_equal(cairn__mt_append(i, lv[i], root, mt_mem_get,
                                          mt_mem_put, m, root, detail,
                                          sizeof(detail)),
                         CAIRN_OK);
    }
}

static int popcount(uint64_t x)
{
    return __builtin_popcountll(x);
}

/* ---------------------------------------------------------------- */
/* Known vectors                                                     */

static const char *const ct_roots[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* testonly.NodeHashes(): level, index, hash. */
static const struct {
    unsigned level;
    uint64_t index;
    const char *hash;
} ct_nodes[] = {
    {0, 0, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"},
    {0, 1, "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"},
    {0, 2, "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"},
    {0, 3, "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"},
    {0, 4, "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"},
    {0, 5, "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"},
    {0, 6, "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"},
    {0, 7, "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"},
    {1, 0, "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"},
    {1, 1, "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"},
    {1, 2, "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"},
    {1, 3, "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"},
    {2, 0, "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"},
    {2, 1, "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"},
    {3, 0, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"},
};

/* proof/verify_test.go: inclusionProofs (leaf is 1-based there) and
 * consistencyProofs; up to three hashes each. */
static const struct {
    uint64_t a, b; /* inclusion: index, size; consistency: m, n */
    int consistency;
    const char *proof[3];
} ct_proofs[] = {
    {0, 1, 0, {NULL}},
    {0,
     8,
     0,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     0,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     3,
     0,
     {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     0,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {1, 1, 1, {NULL}},
    {1,
     8,
     1,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     1,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     1,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     1,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

static const char *const ct_leaves[8] = {"",
                                         "00",
                                         "10",
                                         "2021",
                                         "3031",
                                         "40414243",
                                         "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f"};

static void ct_tree(mt_mem *m, hash_t lv[8])
{
    for (size_t i = 0; i < 8; i++) {
        uint8_t data[16];
        size_t len = strlen(ct_leaves[i]) / 2;
        assert_int_equal(cairn__unhex(ct_leaves[i], data, len), 0);
        cairn__leaf_hash(data, len, lv[i]);
    }
    build(m, CP(lv), 8);
}

static void test_ct_vectors(void **state)
{
    (void)state;
    mt_mem m = {0};
    hash_t lv[8], want, got;
    ct_tree(&m, lv);
    for (uint64_t n = 0; n <= 8; n++) {
        unhex32(ct_roots[n], want);
        assert_int_equal(cairn__mt_root(n, mt_mem_get, &m, got, NULL, 0),
                         CAIRN_OK);
        assert_memory_equal(got, want, HB);
    }
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(ct_nodes); i++) {
        unhex32(ct_nodes[i].hash, want);
        const uint8_t *p = mt_mem_at(&m, ct_nodes[i].level, ct_nodes[i].index);
        assert_non_null(p);
        assert_memory_equal(p, want, HB);
    }
    for (size_t v = 0; v < CAIRN_ARRAY_LEN(ct_proofs); v++) {
        hash_t exp[3], mine[CAIRN_MT_MAX_PROOF], ra, rb;
        size_t len = 0, count = 99;
        while (len < 3 && ct_proofs[v].proof[len] != NULL) {
            unhex32(ct_proofs[v].proof[len], exp[len]);
            len++;
        }
        uint64_t a = ct_proofs[v].a, b = ct_proofs[v].b;
        unhex32(ct_roots[b], rb);
        if (ct_proofs[v].consistency) {
            unhex32(ct_roots[a], ra);
            assert_int_equal(cairn__mt_prove_consistency(
                                 a, b, mt_mem_get, &m, mine, CAIRN_MT_MAX_PROOF,
                                 &count, NULL, 0),
                             CAIRN_OK);
            assert_int_equal(
                cairn__mt_check_consistency(a, b, ra, rb, CP(exp), len), 0);
        } else {
            assert_int_equal(cairn__mt_prove_inclusion(a, b, mt_mem_get, &m,
                                                       mine, CAIRN_MT_MAX_PROOF,
                                                       &count, NULL, 0),
                             CAIRN_OK);
            assert_int_equal(
                cairn__mt_check_inclusion(a, b, lv[a], CP(exp), len, rb), 0);
        }
        assert_int_equal(count, len);
        if (len > 0) {
            assert_memory_equal(mine, exp, len * HB);
        }
    }
    mt_mem_free(&m);
}

/* ---------------------------------------------------------------- */
/* Roots, appends, proofs against the reference                      */

static void test_roots_and_appends(void **state)
{
    (void)state;
    const uint64_t max = 300;
    hash_t *lv = make_leaves(max);
    mt_mem m = {0};
    uint8_t root[HB], want[HB], got[HB];
    cairn__mt_empty_root(root);
    for (uint64_t n = 0; n < max; n++) {
        size_t gets = m.gets, puts = m.puts;
        assert_int_equal(cairn__mt_append(n, lv[n], root, mt_mem_get,
                                          mt_mem_put, &m, root, NULL, 0),
                         CAIRN_OK);
        /* One get per peak of size n; one put per node completed. */
        assert_int_equal(m.gets - gets, (size_t)popcount(n));
        assert_int_equal(m.puts - puts, 1 + (size_t)__builtin_ctzll(~n));
        ref_mth(CP(lv), 0, n + 1, want);
        assert_memory_equal(root, want, HB);
        gets = m.gets;
        assert_int_equal(cairn__mt_root(n + 1, mt_mem_get, &m, got, NULL, 0),
                         CAIRN_OK);
        assert_int_equal(m.gets - gets, (size_t)popcount(n + 1));
        assert_memory_equal(got, want, HB);
    }
    /* Every complete node, and nothing else, is stored. */
    for (unsigned l = 0; l < 10; l++) {
        for (uint64_t i = 0; ((i + 1) << l) <= max + 8; i++) {
            const uint8_t *p = mt_mem_at(&m, l, i);
            if (((i + 1) << l) > max) {
                assert_null(p);
                continue;
            }
            assert_non_null(p);
            ref_mth(CP(lv), i << l, (i + 1) << l, want);
            assert_memory_equal(p, want, HB);
        }
    }
    mt_mem_free(&m);
    free(lv);
}

static void check_incl_against_ref(mt_mem *m, const hash_t *lv, uint64_t i,
                                   uint64_t n)
{
    hash_t mine[CAIRN_MT_MAX_PROOF], ref[CAIRN_MT_MAX_PROOF];
    uint8_t root[HB];
    size_t count = 99, rcount = 0;
    assert_int_equal(cairn__mt_prove_inclusion(i, n, mt_mem_get, m, mine,
                                               CAIRN_MT_MAX_PROOF, &count, NULL,
                                               0),
                     CAIRN_OK);
    ref_path(i, lv, 0, n, ref, &rcount);
    assert_int_equal(count, rcount);
    assert_int_equal(count, cairn__mt_inclusion_len(i, n));
    if (count > 0) {
        assert_memory_equal(mine, ref, count * HB);
    }
    ref_mth(lv, 0, n, root);
    assert_int_equal(
        cairn__mt_check_inclusion(i, n, lv[i], CP(mine), count, root), 0);
    assert_int_equal(ref_check_incl(i, n, lv[i], CP(mine), count, root), 0);
}

static void check_cons_against_ref(mt_mem *m, const hash_t *lv, uint64_t mm,
                                   uint64_t n)
{
    hash_t mine[CAIRN_MT_MAX_PROOF], ref[CAIRN_MT_MAX_PROOF];
    uint8_t rm[HB], rn[HB];
    size_t count = 99, rcount = 0;
    assert_int_equal(cairn__mt_prove_consistency(mm, n, mt_mem_get, m, mine,
                                                 CAIRN_MT_MAX_PROOF, &count,
                                                 NULL, 0),
                     CAIRN_OK);
    if (mm > 0 && mm < n) {
        ref_subproof(mm, lv, 0, n, 1, ref, &rcount);
    }
    assert_int_equal(count, rcount);
    assert_int_equal(count, cairn__mt_consistency_len(mm, n));
    if (count > 0) {
        assert_memory_equal(mine, ref, count * HB);
    }
    ref_mth(lv, 0, mm, rm);
    ref_mth(lv, 0, n, rn);
    assert_int_equal(
        cairn__mt_check_consistency(mm, n, rm, rn, CP(mine), count), 0);
    if (mm > 0) {
        assert_int_equal(ref_check_cons(mm, n, rm, rn, CP(mine), count), 0);
    }
}

static void test_proofs_all_pairs(void **state)
{
    (void)state;
    const uint64_t max = 300, all = 200;
    hash_t *lv = make_leaves(max);
    ref_reset(CP(lv), max);
    mt_mem m = {0};
    build(&m, CP(lv), max);
    for (uint64_t n = 1; n <= max; n++) {
        for (uint64_t i = 0; i < n; i++) {
            if (n > all && i > 3 && i + 3 < n && rnd() % 16 != 0) {
                continue;
            }
            check_incl_against_ref(&m, CP(lv), i, n);
        }
        for (uint64_t mm = 0; mm <= n; mm++) {
            if (n > all && mm > 3 && mm + 3 < n && rnd() % 16 != 0) {
                continue;
            }
            check_cons_against_ref(&m, CP(lv), mm, n);
        }
    }
    mt_mem_free(&m);
    ref_reset(NULL, 0);
    free(lv);
}

static void test_proofs_larger_random(void **state)
{
    (void)state;
    const uint64_t max = 40000;
    hash_t *lv = make_leaves(max);
    ref_reset(CP(lv), max);
    mt_mem m = {0};
    cairn_mt_stream st;
    cairn__mt_stream_init(&st, mt_mem_put, &m);
    for (uint64_t i = 0; i < max; i++) {
        assert_int_equal(cairn__mt_stream_push(&st, lv[i], NULL, 0), CAIRN_OK);
    }
    for (int t = 0; t < 12; t++) {
        uint64_t n = 300 + rnd() % (max - 300 + 1);
        uint8_t got[HB], want[HB];
        assert_int_equal(cairn__mt_root(n, mt_mem_get, &m, got, NULL, 0),
                         CAIRN_OK);
        ref_mth(CP(lv), 0, n, want);
        assert_memory_equal(got, want, HB);
        check_incl_against_ref(&m, CP(lv), rnd() % n, n);
        check_incl_against_ref(&m, CP(lv), n - 1, n);
        check_cons_against_ref(&m, CP(lv), 1 + rnd() % n, n);
    }
    mt_mem_free(&m);
    ref_reset(NULL, 0);
    free(lv);
}

/* ---------------------------------------------------------------- */
/* Tampering: any changed bit is refused                             */

static void tamper_incl(const hash_t *lv, uint64_t i, uint64_t n,
                        const hash_t *proof, size_t count)
{
    hash_t p[CAIRN_MT_MAX_PROOF + 1];
    uint8_t root[HB], leaf[HB];
    ref_mth(lv, 0, n, root);
    memcpy(p, proof, count * HB);
    memcpy(leaf, lv[i], HB);
    for (size_t j = 0; j < count; j++) {
        for (size_t b = 0; b < HB; b++) {
            p[j][b] ^= (uint8_t)(1u << (b % 8));
            assert_int_equal(
                cairn__mt_check_inclusion(i, n, leaf, CP(p), count, root), -1);
            assert_int_equal(ref_check_incl(i, n, leaf, CP(p), count, root),
                             -1);
            p[j][b] ^= (uint8_t)(1u << (b % 8));
        }
    }
    for (size_t b = 0; b < HB; b++) {
        root[b] ^= 0x80;
        assert_int_equal(
            cairn__mt_check_inclusion(i, n, leaf, CP(p), count, root), -1);
        root[b] ^= 0x80;
        leaf[b] ^= 0x01;
        assert_int_equal(
            cairn__mt_check_inclusion(i, n, leaf, CP(p), count, root), -1);
        leaf[b] ^= 0x01;
    }
    assert_int_equal(cairn__mt_check_inclusion(i, n, leaf, CP(p), count, root),
                     0);
    /* Another index of the same size is refused (its path differs).  An
       inclusion proof does not bind the size by itself (the proof of
       leaf 0 of 3 leaves is also one of leaf 0 of 4 leaves with the root
       of 3): the signed checkpoint binds size and root, so here the
       only requirement is that cairn agrees with the reference. */
    for (uint64_t d = 1; d <= 2; d++) {
        if (i >= d) {
            assert_int_equal(
                cairn__mt_check_inclusion(i - d, n, leaf, CP(p), count, root),
                -1);
        }
        assert_int_equal(
            cairn__mt_check_inclusion(i + d, n, leaf, CP(p), count, root), -1);
        assert_int_equal(
            cairn__mt_check_inclusion(i, n + d, leaf, CP(p), count, root),
            ref_check_incl(i, n + d, leaf, CP(p), count, root));
        if (n - d > i) {
            assert_int_equal(
                cairn__mt_check_inclusion(i, n - d, leaf, CP(p), count, root),
                ref_check_incl(i, n - d, leaf, CP(p), count, root));
        }
    }
    if (count > 0) {
        assert_int_equal(
            cairn__mt_check_inclusion(i, n, leaf, CP(p), count - 1, root), -1);
    }
    memcpy(p[count], root, HB);
    assert_int_equal(
        cairn__mt_check_inclusion(i, n, leaf, CP(p), count + 1, root), -1);
}

static void tamper_cons(const hash_t *lv, uint64_t mm, uint64_t n,
                        const hash_t *proof, size_t count)
{
    hash_t p[CAIRN_MT_MAX_PROOF + 1];
    uint8_t rm[HB], rn[HB];
    ref_mth(lv, 0, mm, rm);
    ref_mth(lv, 0, n, rn);
    memcpy(p, proof, count * HB);
    for (size_t j = 0; j < count; j++) {
        for (size_t b = 0; b < HB; b++) {
            p[j][b] ^= (uint8_t)(1u << (b % 8));
            assert_int_equal(
                cairn__mt_check_consistency(mm, n, rm, rn, CP(p), count), -1);
            assert_int_equal(ref_check_cons(mm, n, rm, rn, CP(p), count), -1);
            p[j][b] ^= (uint8_t)(1u << (b % 8));
        }
    }
    for (size_t b = 0; b < HB; b++) {
        rm[b] ^= 0x10;
        assert_int_equal(
            cairn__mt_check_consistency(mm, n, rm, rn, CP(p), count), -1);
        rm[b] ^= 0x10;
        rn[b] ^= 0x10;
        assert_int_equal(
            cairn__mt_check_consistency(mm, n, rm, rn, CP(p), count), -1);
        rn[b] ^= 0x10;
    }
    assert_int_equal(cairn__mt_check_consistency(mm, n, rm, rn, CP(p), count),
                     0);
    if (mm < n) {
        assert_int_equal(
            cairn__mt_check_consistency(mm, n, rn, rm, CP(p), count), -1);
        /* Other sizes with the same roots: as the reference says. */
        assert_int_equal(
            cairn__mt_check_consistency(mm + 1, n, rm, rn, CP(p), count),
            ref_check_cons(mm + 1, n, rm, rn, CP(p), count));
        assert_int_equal(
            cairn__mt_check_consistency(mm, n + 1, rm, rn, CP(p), count),
            ref_check_cons(mm, n + 1, rm, rn, CP(p), count));
        assert_int_equal(
            cairn__mt_check_consistency(mm - 1, n, rm, rn, CP(p), count),
            mm == 1 ? -1 : ref_check_cons(mm - 1, n, rm, rn, CP(p), count));
        assert_int_equal(
            cairn__mt_check_consistency(mm, n, rm, rn, CP(p), count - 1), -1);
    }
    memcpy(p[count], rm, HB);
    assert_int_equal(
        cairn__mt_check_consistency(mm, n, rm, rn, CP(p), count + 1), -1);
}

static void test_tampered_proofs(void **state)
{
    (void)state;
    const uint64_t max = 48;
    hash_t *lv = make_leaves(max);
    ref_reset(CP(lv), max);
    mt_mem m = {0};
    build(&m, CP(lv), max);
    for (uint64_t n = 1; n <= max; n++) {
        for (uint64_t i = 0; i < n; i += 1 + (n > 16 ? rnd() % 6 : 0)) {
            hash_t p[CAIRN_MT_MAX_PROOF];
            size_t count;
            assert_int_equal(cairn__mt_prove_inclusion(i, n, mt_mem_get, &m, p,
                                                       CAIRN_MT_MAX_PROOF,
                                                       &count, NULL, 0),
                             CAIRN_OK);
            tamper_incl(CP(lv), i, n, CP(p), count);
            assert_int_equal(cairn__mt_prove_consistency(
                                 i + 1, n, mt_mem_get, &m, p,
                                 CAIRN_MT_MAX_PROOF, &count, NULL, 0),
                             CAIRN_OK);
            tamper_cons(CP(lv), i + 1, n, CP(p), count);
        }
    }
    mt_mem_free(&m);
    ref_reset(NULL, 0);
    free(lv);
}

/* ---------------------------------------------------------------- */
/* Trees near 2^63: all leaves equal, so node (L, i) is z[L] for all i */

typedef struct uniform {
    hash_t z[CAIRN_MT_MAX_LEVEL + 1];
    uint64_t n;      /* tree size being read */
    int out_of_tree; /* a get of a node the tree of size n lacks */
    size_t puts;
} uniform;

static cairn_err uniform_get(void *ctx, unsigned level, uint64_t index,
                             uint8_t out[HB])
{
    uniform *u = ctx;
    if (level > CAIRN_MT_MAX_LEVEL || index >= (u->n >> level)) {
        u->out_of_tree = 1;
        return CAIRN_ECORRUPT;
    }
    memcpy(out, u->z[level], HB);
    return CAIRN_OK;
}

static cairn_err uniform_put(void *ctx, unsigned level, uint64_t index,
                             const uint8_t h[HB])
{
    uniform *u = ctx;
    u->puts++;
    if (level > CAIRN_MT_MAX_LEVEL || ((index + 1) << level) > u->n + 1 ||
        memcmp(h, u->z[level], HB)) {
        u->out_of_tree = 1;
        return CAIRN_ECORRUPT;
    }
    return CAIRN_OK;
}

static void test_huge_trees(void **state)
{
    (void)state;
    uniform u = {0};
    cairn__leaf_hash((const uint8_t *)"x", 1, u.z[0]);
    for (unsigned l = 1; l <= CAIRN_MT_MAX_LEVEL; l++) {
        ref_node(u.z[l - 1], u.z[l - 1], u.z[l]);
    }
    const uint64_t top = CAIRN_MT_MAX_SIZE;
    const uint64_t sizes[] = {
        top,         top - 1,       top - 2, top / 2,
        top / 2 + 1, (top / 3) | 1, 3,       0x5555555555555555u};
    for (size_t s = 0; s < CAIRN_ARRAY_LEN(sizes); s++) {
        uint64_t n = sizes[s];
        uint8_t rn[HB], rm[HB];
        hash_t p[CAIRN_MT_MAX_PROOF];
        size_t count;
        u.n = n;
        assert_int_equal(cairn__mt_root(n, uniform_get, &u, rn, NULL, 0),
                         CAIRN_OK);
        const uint64_t idx[] = {0, n / 2, n - 2, n - 1};
        for (size_t k = 0; k < CAIRN_ARRAY_LEN(idx); k++) {
            assert_int_equal(
                cairn__mt_prove_inclusion(idx[k], n, uniform_get, &u, p,
                                          CAIRN_MT_MAX_PROOF, &count, NULL, 0),
                CAIRN_OK);
            assert_true(count <= 63);
            assert_int_equal(
                cairn__mt_check_inclusion(idx[k], n, u.z[0], CP(p), count, rn),
                0);
            assert_int_equal(
                ref_check_incl(idx[k], n, u.z[0], CP(p), count, rn), 0);
            uint64_t mm = idx[k] + 1;
            u.n = mm;
            assert_int_equal(cairn__mt_root(mm, uniform_get, &u, rm, NULL, 0),
                             CAIRN_OK);
            u.n = n;
            assert_int_equal(cairn__mt_prove_consistency(mm, n, uniform_get, &u,
                                                         p, CAIRN_MT_MAX_PROOF,
                                                         &count, NULL, 0),
                             CAIRN_OK);
            assert_true(count <= CAIRN_MT_MAX_PROOF);
            assert_int_equal(
                cairn__mt_check_consistency(mm, n, rm, rn, CP(p), count), 0);
            assert_int_equal(ref_check_cons(mm, n, rm, rn, CP(p), count), 0);
        }
        if (n < top) { /* append the same leaf: the stored nodes it makes */
            uint8_t nr[HB], want[HB];
            assert_int_equal(cairn__mt_append(n, u.z[0], rn, uniform_get,
                                              uniform_put, &u, nr, NULL, 0),
                             CAIRN_OK);
            u.n = n + 1;
            assert_int_equal(
                cairn__mt_root(n + 1, uniform_get, &u, want, NULL, 0),
                CAIRN_OK);
            assert_memory_equal(nr, want, HB);
        }
    }
    assert_false(u.out_of_tree);
    /* Full: 2^63 leaves take no more; 2^63 + 1 is no size. */
    char detail[256];
    uint8_t r[HB];
    u.n = top;
    size_t puts = u.puts;
    assert_int_equal(cairn__mt_append(top, u.z[0], NULL, uniform_get,
                                      uniform_put, &u, r, detail,
                                      sizeof(detail)),
                     CAIRN_EINVAL);
    assert_non_null(strstr(detail, "exceed 2^63"));
    assert_int_equal(u.puts, puts);
    assert_int_equal(
        cairn__mt_root(top + 1, uniform_get, &u, r, detail, sizeof(detail)),
        CAIRN_EINVAL);
    hash_t p[CAIRN_MT_MAX_PROOF] = {{0}};
    assert_int_equal(
        cairn__mt_check_inclusion(0, top + 1, u.z[0], CP(p), 63, r), -1);
    assert_int_equal(cairn__mt_inclusion_len(0, top + 1), 0);
    assert_int_equal(cairn__mt_inclusion_len(top - 1, top), 63);
    assert_int_equal(cairn__mt_consistency_len(top - 1, top), 64);
    assert_int_equal(cairn__mt_consistency_len(3, top), 64);
    assert_int_equal(cairn__mt_consistency_len(top / 2, top), 1);
    assert_int_equal(cairn__mt_check_consistency(1, top + 1, r, r, CP(p), 1),
                     -1);
}

/* ---------------------------------------------------------------- */
/* update(): the state map                                           */

static void test_update_equals_rebuild(void **state)
{
    (void)state;
    for (int t = 0; t < 40; t++) {
        uint64_t n = 1 + (t < 10 ? (uint64_t)t : rnd() % 300);
        hash_t *lv = make_leaves(n);
        mt_mem m = {0};
        build(&m, CP(lv), n);
        uint8_t root[HB];
        ref_mth(CP(lv), 0, n, root);
        for (int u = 0; u < 25; u++) {
            uint64_t i = rnd() % n;
            uint8_t nl[HB], got[HB];
            cairn__leaf_hash((const uint8_t *)&u, sizeof(u), nl);
            nl[0] ^= (uint8_t)t;
            size_t puts = m.puts;
            char detail[256];
            assert_int_equal(cairn__mt_update(n, i, lv[i], nl, root, mt_mem_get,
                                              mt_mem_put, &m, got, detail,
                                              sizeof(detail)),
                             CAIRN_OK);
            /* The leaf and each complete ancestor, nothing more. */
            size_t want_puts = 1;
            for (unsigned l = 1; ((i >> l) + 1) << l <= n; l++) {
                want_puts++;
            }
            assert_int_equal(m.puts - puts, want_puts);
            memcpy(lv[i], nl, HB);
            ref_mth(CP(lv), 0, n, root);
            assert_memory_equal(got, root, HB);
        }
        /* Every stored node equals a tree rebuilt from scratch. */
        mt_mem fresh = {0};
        build(&fresh, CP(lv), n);
        for (unsigned l = 0; l <= 9; l++) {
            for (uint64_t i = 0; ((i + 1) << l) <= n; i++) {
                const uint8_t *a = mt_mem_at(&m, l, i);
                const uint8_t *b = mt_mem_at(&fresh, l, i);
                assert_non_null(a);
                assert_non_null(b);
                assert_memory_equal(a, b, HB);
            }
        }
        mt_mem_free(&fresh);
        mt_mem_free(&m);
        free(lv);
    }
}

/* ---------------------------------------------------------------- */
/* Forged stored nodes                                               */

/* The nodes a get callback was asked for. */
typedef struct recorder {
    mt_mem *m;
    size_t n;
    unsigned level[2 * CAIRN_MT_MAX_PROOF];
    uint64_t index[2 * CAIRN_MT_MAX_PROOF];
} recorder;

static cairn_err recording_get(void *ctx, unsigned level, uint64_t index,
                               uint8_t out[HB])
{
    recorder *r = ctx;
    if (r->n < CAIRN_ARRAY_LEN(r->level)) {
        r->level[r->n] = level;
        r->index[r->n++] = index;
    }
    return mt_mem_get(r->m, level, index, out);
}

static int recorded(const recorder *r, unsigned level, uint64_t index)
{
    for (size_t k = 0; k < r->n; k++) {
        if (r->level[k] == level && r->index[k] == index) {
            return 1;
        }
    }
    return 0;
}

/* Drop the nodes appending leaf n put, so the tree has size n again. */
static void unappend(mt_mem *m, uint64_t n)
{
    m->have[0][n] = 0;
    for (unsigned k = 1; k < 64 && ((n + 1) & ((UINT64_C(1) << k) - 1)) == 0;
         k++) {
        m->have[k][((n + 1) >> k) - 1] = 0;
    }
}

/* Every stored node of a tree of size n, in turn, gets one bit flipped:
 * when append() reads it (a peak), it refuses with CAIRN_ETAMPERED and
 * puts nothing; update() does the same for the nodes of the leaf's path
 * (which it reads).  A node neither reads does not change their result. */
static void test_forged_nodes(void **state)
{
    (void)state;
    const uint64_t sizes[] = {1, 2, 3, 5, 8, 13, 31, 32, 33, 100};
    for (size_t s = 0; s < CAIRN_ARRAY_LEN(sizes); s++) {
        uint64_t n = sizes[s];
        hash_t *lv = make_leaves(n + 1);
        mt_mem m = {0};
        build(&m, CP(lv), n);
        uint8_t root[HB], got[HB], want[HB];
        ref_mth(CP(lv), 0, n, root);
        uint64_t upd = rnd() % n;
        recorder rec = {&m, 0, {0}, {0}};
        hash_t path[CAIRN_MT_MAX_PROOF];
        size_t plen;
        assert_int_equal(cairn__mt_prove_inclusion(upd, n, recording_get, &rec,
                                                   path, CAIRN_MT_MAX_PROOF,
                                                   &plen, NULL, 0),
                         CAIRN_OK);
        int refused_append = 0, refused_update = 0;
        for (unsigned l = 0; (UINT64_C(1) << l) <= n; l++) {
            for (uint64_t i = 0; ((i + 1) << l) <= n; i++) {
                uint8_t *node = mt_mem_at(&m, l, i), saved[HB];
                assert_non_null(node);
                memcpy(saved, node, HB);
                node[i % HB] ^= 0x40;
                int peak = ((n >> l) & 1) && i == (n >> l) - 1;
                size_t puts = m.puts;
                char detail[256];
                cairn_err err =
                    cairn__mt_append(n, lv[n], root, mt_mem_get, mt_mem_put, &m,
                                     got, detail, sizeof(detail));
                if (peak) {
                    assert_int_equal(err, CAIRN_ETAMPERED);
                    assert_int_equal(m.puts, puts);
                    assert_non_null(
                        strstr(detail, "stored nodes of the tree of size"));
                    assert_non_null(strstr(detail, "not the trusted root"));
                    refused_append++;
                } else {
                    assert_int_equal(err, CAIRN_OK);
                    ref_mth(CP(lv), 0, n + 1, want);
                    assert_memory_equal(got, want, HB);
                    unappend(&m, n);
                }
                puts = m.puts;
                uint8_t nl[HB] = {1};
                err = cairn__mt_update(n, upd, lv[upd], nl, root, mt_mem_get,
                                       mt_mem_put, &m, got, detail,
                                       sizeof(detail));
                if (recorded(&rec, l, i)) {
                    assert_int_equal(err, CAIRN_ETAMPERED);
                    assert_int_equal(m.puts, puts);
                    assert_non_null(strstr(detail, "stored path of leaf"));
                    refused_update++;
                } else {
                    assert_int_equal(err, CAIRN_OK);
                    uint8_t back[HB];
                    assert_int_equal(cairn__mt_update(n, upd, nl, lv[upd], got,
                                                      mt_mem_get, mt_mem_put,
                                                      &m, back, NULL, 0),
                                     CAIRN_OK);
                    assert_memory_equal(back, root, HB);
                }
                memcpy(mt_mem_at(&m, l, i), saved, HB); /* may have moved */
            }
        }
        assert_int_equal(refused_append, popcount(n));
        assert_int_equal((size_t)refused_update, rec.n);
        /* The old leaf must be the stored one. */
        uint8_t wrong[HB] = {7};
        size_t puts = m.puts;
        assert_int_equal(cairn__mt_update(n, upd, wrong, lv[upd], root,
                                          mt_mem_get, mt_mem_put, &m, got, NULL,
                                          0),
                         CAIRN_ETAMPERED);
        assert_int_equal(m.puts, puts);
        /* Without a trusted root a forged peak is built upon: the new
           root is wrong (that is what the trusted root is for). */
        unsigned low = (unsigned)__builtin_ctzll(n);
        mt_mem_at(&m, low, (n >> low) - 1)[3] ^= 1;
        assert_int_equal(cairn__mt_append(n, lv[n], NULL, mt_mem_get,
                                          mt_mem_put, &m, got, NULL, 0),
                         CAIRN_OK);
        ref_mth(CP(lv), 0, n + 1, want);
        assert_memory_not_equal(got, want, HB);
        mt_mem_free(&m);
        free(lv);
    }
}

/* ---------------------------------------------------------------- */
/* The streaming builder, batches                                    */

typedef struct compare_ctx {
    mt_mem *stored;
    size_t told;
    int mismatch_level;
    uint64_t mismatch_index;
} compare_ctx;

/* What verify does: each completed node against the stored one. */
static cairn_err compare_node(void *ctx, unsigned level, uint64_t index,
                              const uint8_t h[HB])
{
    compare_ctx *c = ctx;
    c->told++;
    const uint8_t *p = mt_mem_at(c->stored, level, index);
    if (p == NULL || memcmp(p, h, HB) != 0) {
        c->mismatch_level = (int)level;
        c->mismatch_index = index;
        return CAIRN_ETAMPERED;
    }
    return CAIRN_OK;
}

static void test_stream(void **state)
{
    (void)state;
    const uint64_t max = 1000;
    hash_t *lv = make_leaves(max);
    mt_mem m = {0};
    build(&m, CP(lv), max);
    compare_ctx c = {&m, 0, -1, 0};
    cairn_mt_stream st;
    cairn__mt_stream_init(&st, compare_node, &c);
    uint8_t got[HB], want[HB];
    cairn__mt_stream_root(&st, got);
    cairn__mt_empty_root(want);
    assert_memory_equal(got, want, HB);
    for (uint64_t i = 0; i < max; i++) {
        assert_int_equal(cairn__mt_stream_push(&st, lv[i], NULL, 0), CAIRN_OK);
        if (i % 97 == 0 || i + 1 == max) {
            cairn__mt_stream_root(&st, got);
            ref_mth(CP(lv), 0, i + 1, want);
            assert_memory_equal(got, want, HB);
        }
    }
    assert_int_equal(c.told, m.puts); /* every stored node, once */
    /* A forged stored node is found at the push that completes it. */
    mt_mem_at(&m, 4, 11)[0] ^= 1;
    cairn__mt_stream_init(&st, compare_node, &c);
    uint64_t i = 0;
    cairn_err err = CAIRN_OK;
    char detail[256];
    for (; i < max && err == CAIRN_OK; i++) {
        err = cairn__mt_stream_push(&st, lv[i], detail, sizeof(detail));
    }
    assert_int_equal(err, CAIRN_ETAMPERED);
    assert_int_equal(i - 1, (11 + 1) * 16 - 1);
    assert_int_equal(c.mismatch_level, 4);
    assert_int_equal(c.mismatch_index, 11);
    assert_string_equal(detail, "at node (level 4, index 11)");
    assert_int_equal(st.size, (11 + 1) * 16 - 1); /* unchanged */
    mt_mem_at(&m, 4, 11)[0] ^= 1;
    /* Loading a builder from the stored peaks continues the same tree. */
    mt_mem m2 = {0};
    build(&m2, CP(lv), 600);
    cairn__mt_stream_init(&st, mt_mem_put, &m2);
    assert_int_equal(cairn__mt_stream_load(&st, 600, mt_mem_get, &m2, NULL, 0),
                     CAIRN_OK);
    for (uint64_t j = 600; j < max; j++) {
        assert_int_equal(cairn__mt_stream_push(&st, lv[j], NULL, 0), CAIRN_OK);
    }
    cairn__mt_stream_root(&st, got);
    ref_mth(CP(lv), 0, max, want);
    assert_memory_equal(got, want, HB);
    mt_mem_free(&m2);
    mt_mem_free(&m);
    free(lv);
}

static void test_batch(void **state)
{
    (void)state;
    const uint64_t max = 500;
    hash_t *lv = make_leaves(max);
    mt_mem a = {0}, b = {0};
    build(&a, CP(lv), max);
    uint8_t root[HB], want[HB];
    cairn__mt_empty_root(root);
    uint64_t n = 0;
    while (n < max) {
        size_t k = (size_t)(rnd() % 40);
        if (k > max - n) {
            k = (size_t)(max - n);
        }
        size_t gets = b.gets;
        assert_int_equal(cairn__mt_append_batch(n, CP(lv + n), k, root,
                                                mt_mem_get, mt_mem_put, &b,
                                                root, NULL, 0),
                         CAIRN_OK);
        assert_int_equal(b.gets - gets, (size_t)popcount(n)); /* once */
        n += k;
        ref_mth(CP(lv), 0, n, want);
        assert_memory_equal(root, want, HB);
    }
    assert_int_equal(a.puts, b.puts);
    for (unsigned l = 0; l <= 9; l++) {
        for (uint64_t i = 0; ((i + 1) << l) <= max; i++) {
            assert_memory_equal(mt_mem_at(&a, l, i), mt_mem_at(&b, l, i), HB);
        }
    }
    /* A forged peak: the batch refuses before its first put. */
    mt_mem_at(&b, 2, 124)[5] ^= 2; /* size 500 = 256+128+64+32+16+4 */
    size_t puts = b.puts;
    assert_int_equal(cairn__mt_append_batch(max, CP(lv), 3, root, mt_mem_get,
                                            mt_mem_put, &b, want, NULL, 0),
                     CAIRN_ETAMPERED);
    assert_int_equal(b.puts, puts);
    mt_mem_free(&a);
    mt_mem_free(&b);
    free(lv);
}

/* ---------------------------------------------------------------- */
/* Arguments, callback failures, check bounds                        */

static void test_errors(void **state)
{
    (void)state;
    hash_t *lv = make_leaves(20);
    mt_mem m = {0};
    build(&m, CP(lv), 20);
    hash_t p[CAIRN_MT_MAX_PROOF];
    uint8_t r[HB], root[HB];
    size_t count = 5;
    char detail[256];
    ref_mth(CP(lv), 0, 20, root);

    assert_int_equal(cairn__mt_prove_inclusion(20, 20, mt_mem_get, &m, p,
                                               CAIRN_MT_MAX_PROOF, &count,
                                               detail, sizeof(detail)),
                     CAIRN_EINVAL);
    assert_int_equal(count, 0);
    assert_string_equal(detail,
                        "inclusion proof of leaf 20 in a tree of size 20");
    assert_int_equal(cairn__mt_prove_inclusion(3, 20, mt_mem_get, &m, p, 4,
                                               &count, detail, sizeof(detail)),
                     CAIRN_EINVAL);
    assert_string_equal(detail, "inclusion proof needs 5 hashes, room for 4");
    assert_int_equal(cairn__mt_prove_consistency(21, 20, mt_mem_get, &m, p,
                                                 CAIRN_MT_MAX_PROOF, &count,
                                                 detail, sizeof(detail)),
                     CAIRN_EINVAL);
    assert_string_equal(detail, "consistency proof from size 21 to size 20");
    assert_int_equal(cairn__mt_prove_consistency(3, 20, mt_mem_get, &m, p, 1,
                                                 &count, NULL, 0),
                     CAIRN_EINVAL);
    assert_int_equal(cairn__mt_prove_consistency(0, 20, mt_mem_get, &m, NULL, 0,
                                                 &count, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(count, 0);
    assert_int_equal(cairn__mt_root(5, NULL, &m, r, NULL, 0), CAIRN_EINVAL);
    assert_int_equal(cairn__mt_update(20, 20, lv[0], lv[1], root, mt_mem_get,
                                      mt_mem_put, &m, r, NULL, 0),
                     CAIRN_EINVAL);
    assert_int_equal(cairn__mt_update(20, 0, lv[0], lv[1], NULL, mt_mem_get,
                                      mt_mem_put, &m, r, NULL, 0),
                     CAIRN_EINVAL);
    assert_int_equal(cairn__mt_append(20, NULL, NULL, mt_mem_get, mt_mem_put,
                                      &m, r, NULL, 0),
                     CAIRN_EINVAL);
    assert_int_equal(cairn__mt_append_batch(20, NULL, 2, NULL, mt_mem_get,
                                            mt_mem_put, &m, r, NULL, 0),
                     CAIRN_EINVAL);

    /* A failing get: its code comes back, the detail names the node,
       nothing is put. */
    m.gets = 0;
    m.fail_get_at = 2;
    size_t puts = m.puts;
    assert_int_equal(cairn__mt_append(20, lv[0], root, mt_mem_get, mt_mem_put,
                                      &m, r, detail, sizeof(detail)),
                     CAIRN_ESTORE);
    assert_string_equal(detail, "cannot read stored node (level 4, index 0)");
    assert_int_equal(m.puts, puts);
    m.gets = 0;
    assert_int_equal(
        cairn__mt_root(20, mt_mem_get, &m, r, detail, sizeof(detail)),
        CAIRN_ESTORE);
    assert_memory_equal(r, (uint8_t[HB]){0}, HB);
    m.gets = 0;
    assert_int_equal(cairn__mt_update(20, 7, lv[7], lv[8], root, mt_mem_get,
                                      mt_mem_put, &m, r, NULL, 0),
                     CAIRN_ESTORE);
    assert_int_equal(m.puts, puts);
    m.gets = 0;
    assert_int_equal(cairn__mt_prove_consistency(7, 20, mt_mem_get, &m, p,
                                                 CAIRN_MT_MAX_PROOF, &count,
                                                 NULL, 0),
                     CAIRN_ESTORE);
    assert_int_equal(count, 0);
    m.fail_get_at = 0;
    /* A missing node (the store's choice of code passes through). */
    m.have[3][1] = 0;
    assert_int_equal(cairn__mt_prove_inclusion(2, 20, mt_mem_get, &m, p,
                                               CAIRN_MT_MAX_PROOF, &count,
                                               detail, sizeof(detail)),
                     CAIRN_ECORRUPT);
    assert_string_equal(detail, "cannot read stored node (level 3, index 1)");
    m.have[3][1] = 1;
    /* A failing put. */
    m.puts = 0;
    m.fail_put_at = 1;
    assert_int_equal(cairn__mt_append(20, lv[0], root, mt_mem_get, mt_mem_put,
                                      &m, r, detail, sizeof(detail)),
                     CAIRN_EIO);
    assert_string_equal(detail, "at node (level 0, index 20)");
    m.puts = 0;
    m.fail_put_at = 2;
    assert_int_equal(cairn__mt_update(20, 5, lv[5], lv[6], root, mt_mem_get,
                                      mt_mem_put, &m, r, detail,
                                      sizeof(detail)),
                     CAIRN_EIO);
    assert_string_equal(detail, "cannot store the path of leaf 5");
    m.fail_put_at = 0;
    mt_mem_free(&m);
    free(lv);
}

static void test_check_bounds(void **state)
{
    (void)state;
    uint8_t e[HB], x[HB] = {1}, leaf[HB] = {2};
    hash_t p[CAIRN_MT_MAX_PROOF + 2] = {{0}};
    cairn__mt_empty_root(e);
    unhex32(ct_roots[0], x);
    assert_memory_equal(e, x, HB);
    memset(x, 1, HB);
    /* Size 1: the leaf is the root, the proof empty. */
    assert_int_equal(cairn__mt_check_inclusion(0, 1, leaf, CP(p), 0, leaf), 0);
    assert_int_equal(cairn__mt_check_inclusion(0, 1, leaf, CP(p), 1, leaf), -1);
    assert_int_equal(cairn__mt_check_inclusion(0, 0, leaf, CP(p), 0, leaf), -1);
    assert_int_equal(cairn__mt_check_inclusion(1, 1, leaf, CP(p), 0, leaf), -1);
    assert_int_equal(cairn__mt_check_inclusion(0, 2, leaf, CP(p),
                                               CAIRN_MT_MAX_PROOF + 1, leaf),
                     -1);
    assert_int_equal(cairn__mt_check_inclusion(UINT64_MAX - 1, UINT64_MAX, leaf,
                                               CP(p), 64, leaf),
                     -1);
    /* m = n: empty proof, equal roots. */
    assert_int_equal(cairn__mt_check_consistency(5, 5, x, x, CP(p), 0), 0);
    assert_int_equal(cairn__mt_check_consistency(5, 5, x, leaf, CP(p), 0), -1);
    assert_int_equal(cairn__mt_check_consistency(5, 5, x, x, CP(p), 1), -1);
    /* m = 0: empty proof, root_m the empty root, any root_n. */
    assert_int_equal(cairn__mt_check_consistency(0, 9, e, x, CP(p), 0), 0);
    assert_int_equal(cairn__mt_check_consistency(0, 9, x, x, CP(p), 0), -1);
    assert_int_equal(cairn__mt_check_consistency(0, 9, e, x, CP(p), 1), -1);
    assert_int_equal(cairn__mt_check_consistency(0, 0, e, e, CP(p), 0), 0);
    assert_int_equal(cairn__mt_check_consistency(0, 0, e, x, CP(p), 0), -1);
    assert_int_equal(cairn__mt_check_consistency(0, 0, x, x, CP(p), 0), -1);
    /* 0 < m < n needs a proof; m > n, sizes over 2^63, long proofs fail. */
    assert_int_equal(cairn__mt_check_consistency(4, 8, x, x, CP(p), 0), -1);
    assert_int_equal(cairn__mt_check_consistency(3, 8, x, x, CP(p), 0), -1);
    assert_int_equal(cairn__mt_check_consistency(9, 8, x, x, CP(p), 0), -1);
    assert_int_equal(cairn__mt_check_consistency(1, UINT64_MAX, x, x, CP(p),
                                                 CAIRN_MT_MAX_PROOF),
                     -1);
    assert_int_equal(
        cairn__mt_check_consistency(1, 8, x, x, CP(p), CAIRN_MT_MAX_PROOF + 1),
        -1);
    assert_int_equal(cairn__mt_inclusion_len(0, 1), 0);
    assert_int_equal(cairn__mt_inclusion_len(5, 8), 3);
    assert_int_equal(cairn__mt_inclusion_len(4, 5), 1);
    assert_int_equal(cairn__mt_consistency_len(8, 8), 0);
    assert_int_equal(cairn__mt_consistency_len(0, 8), 0);
    assert_int_equal(cairn__mt_consistency_len(9, 8), 0);
    assert_int_equal(cairn__mt_consistency_len(6, 7), 3);
    assert_int_equal(cairn__mt_consistency_len(4, 8), 1);
}

int main(int argc, char **argv)
{
    if (cairn__crypto_init() != CAIRN_OK) {
        return 1;
    }
    if (argc == 2 && strcmp(argv[1], "--tlog-emit") == 0) {
        return mtvec_emit(stdout);
    }
    if (argc == 3 && strcmp(argv[1], "--tlog-check") == 0) {
        return mtvec_check(argv[2]);
    }
    if (argc > 1) {
        fprintf(stderr, "usage: %s [--tlog-emit | --tlog-check FILE]\n",
                argv[0]);
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ct_vectors),
        cmocka_unit_test(test_roots_and_appends),
        cmocka_unit_test(test_proofs_all_pairs),
        cmocka_unit_test(test_proofs_larger_random),
        cmocka_unit_test(test_tampered_proofs),
        cmocka_unit_test(test_huge_trees),
        cmocka_unit_test(test_update_equals_rebuild),
        cmocka_unit_test(test_forged_nodes),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_check_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
