/*
 * merkle.c - RFC 6962 Merkle trees over stored complete-subtree nodes
 * (format/merkle.h; docs/FORMAT.md "Merkle trees (format 2)"): node
 * hashing, roots from stored nodes, proofs and their constant-memory
 * checks (RFC 9162 sections 2.1.3 and 2.1.4).  The writing side (the
 * streaming builder, appends, updates) is merkle_write.c.
 */
#include "format/merkle.h"

#include "base/crypto.h"

#include <inttypes.h>
#include <string.h>

#define HB CAIRN_HASH_BYTES

void cairn__mt_node_hash(const uint8_t left[HB], const uint8_t right[HB],
                         uint8_t out[HB])
{
    uint8_t buf[1 + 2 * HB];
    buf[0] = 0x01;
    memcpy(buf + 1, left, HB);
    memcpy(buf + 1 + HB, right, HB);
    cairn__sha256(buf, sizeof(buf), out);
}

void cairn__mt_empty_root(uint8_t out[HB])
{
    cairn__sha256("", 0, out);
}

/* The largest power of two below @p x (x >= 2). */
static uint64_t split_point(uint64_t x)
{
    return UINT64_C(1) << (63 - __builtin_clzll(x - 1));
}

static cairn_err get_node(cairn_mt_get get, void *ctx, unsigned level,
                          uint64_t index, uint8_t out[HB], char *detail,
                          size_t detail_len)
{
    cairn_err err = get(ctx, level, index, out);
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err,
                           "cannot read stored node (level %u, index %" PRIu64
                           ")",
                           level, index);
    }
    return CAIRN_OK;
}

/*
 * MTH of leaves [lo, hi), a subtree of the RFC 6962 tree (so lo is a
 * multiple of the power of two at or above hi - lo): its stored peaks,
 * one per set bit of hi - lo, folded from the right.
 */
static cairn_err range_hash(uint64_t lo, uint64_t hi, cairn_mt_get get,
                            void *ctx, uint8_t out[HB], char *detail,
                            size_t detail_len)
{
    uint64_t span = hi - lo, pos = hi;
    int have = 0;
    uint8_t node[HB];
    for (unsigned level = 0; level <= CAIRN_MT_MAX_LEVEL; level++) {
        if (((span >> level) & 1) == 0) {
            continue;
        }
        pos -= UINT64_C(1) << level;
        cairn_err err =
            get_node(get, ctx, level, pos >> level, node, detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
        if (have) {
            cairn__mt_node_hash(node, out, out);
        } else {
            memcpy(out, node, HB);
            have = 1;
        }
    }
    return CAIRN_OK;
}

cairn_err cairn__mt_root(uint64_t n, cairn_mt_get get, void *ctx,
                         uint8_t root[HB], char *detail, size_t detail_len)
{
    cairn__clear(detail, detail_len);
    if (root == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL, "no root buffer");
    }
    memset(root, 0, HB);
    if (get == NULL || n > CAIRN_MT_MAX_SIZE) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "tree size %" PRIu64 " over 2^63 or no reader", n);
    }
    if (n == 0) {
        cairn__mt_empty_root(root);
        return CAIRN_OK;
    }
    cairn_err err = range_hash(0, n, get, ctx, root, detail, detail_len);
    if (err != CAIRN_OK) {
        memset(root, 0, HB);
    }
    return err;
}

/*
 * RFC 9162 section 2.1.3.2: the root the inclusion proof implies, into
 * @p out.  The hash after step i (i < nkeep) goes to keep[i].  -1 when
 * the sizes or the proof's length do not fit.
 */
int cairn__mt_inclusion_root(uint64_t index, uint64_t n, const uint8_t leaf[HB],
                             const uint8_t (*proof)[HB], size_t count,
                             uint8_t out[HB], uint8_t (*keep)[HB], size_t nkeep)
{
    if (n > CAIRN_MT_MAX_SIZE || index >= n || count > CAIRN_MT_MAX_PROOF) {
        return -1;
    }
    uint64_t fn = index, sn = n - 1;
    uint8_t r[HB];
    memcpy(r, leaf, HB);
    for (size_t i = 0; i < count; i++) {
        if (sn == 0) {
            return -1;
        }
        if ((fn & 1) != 0 || fn == sn) {
            cairn__mt_node_hash(proof[i], r, r);
            while ((fn & 1) == 0 && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            cairn__mt_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
        if (i < nkeep) {
            memcpy(keep[i], r, HB);
        }
    }
    if (sn != 0) {
        return -1;
    }
    memcpy(out, r, HB);
    return 0;
}

/* ---- proofs ---- */

size_t cairn__mt_inclusion_len(uint64_t index, uint64_t n)
{
    if (n > CAIRN_MT_MAX_SIZE || index >= n) {
        return 0;
    }
    uint64_t lo = 0, hi = n;
    size_t len = 0;
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);
        if (index < lo + k) {
            hi = lo + k;
        } else {
            lo += k;
        }
        len++;
    }
    return len;
}

size_t cairn__mt_consistency_len(uint64_t m, uint64_t n)
{
    if (n > CAIRN_MT_MAX_SIZE || m == 0 || m >= n) {
        return 0;
    }
    uint64_t lo = 0, hi = n;
    size_t len = 0;
    while (m != hi) {
        uint64_t k = split_point(hi - lo);
        if (m <= lo + k) {
            hi = lo + k;
        } else {
            lo += k;
        }
        len++;
    }
    return len + (lo != 0);
}

cairn_err cairn__mt_prove_inclusion(uint64_t index, uint64_t n,
                                    cairn_mt_get get, void *ctx,
                                    uint8_t (*proof)[HB], size_t max,
                                    size_t *count, char *detail,
                                    size_t detail_len)
{
    cairn__clear(detail, detail_len);
    if (count == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL, "no count");
    }
    *count = 0;
    if (get == NULL || n > CAIRN_MT_MAX_SIZE || index >= n) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "inclusion proof of leaf %" PRIu64
                           " in a tree of size %" PRIu64,
                           index, n);
    }
    size_t len = cairn__mt_inclusion_len(index, n);
    if (len > max || (proof == NULL && len > 0)) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "inclusion proof needs %zu hashes, room for %zu",
                           len, proof == NULL ? 0 : max);
    }
    uint64_t lo = 0, hi = n;
    size_t j = len;
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);
        cairn_err err;
        if (index < lo + k) {
            err = range_hash(lo + k, hi, get, ctx, proof[--j], detail,
                             detail_len);
            hi = lo + k;
        } else {
            err = range_hash(lo, lo + k, get, ctx, proof[--j], detail,
                             detail_len);
            lo += k;
        }
        if (err != CAIRN_OK) {
            return err;
        }
    }
    *count = len;
    return CAIRN_OK;
}

cairn_err cairn__mt_prove_consistency(uint64_t m, uint64_t n, cairn_mt_get get,
                                      void *ctx, uint8_t (*proof)[HB],
                                      size_t max, size_t *count, char *detail,
                                      size_t detail_len)
{
    cairn__clear(detail, detail_len);
    if (count == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL, "no count");
    }
    *count = 0;
    if (get == NULL || n > CAIRN_MT_MAX_SIZE || m > n) {
        return cairn__fail(
            detail, detail_len, CAIRN_EINVAL,
            "consistency proof from size %" PRIu64 " to size %" PRIu64, m, n);
    }
    size_t len = cairn__mt_consistency_len(m, n);
    if (len > max || (proof == NULL && len > 0)) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "consistency proof needs %zu hashes, room for %zu",
                           len, proof == NULL ? 0 : max);
    }
    if (len == 0) {
        return CAIRN_OK; /* m = 0 or m = n */
    }
    uint64_t lo = 0, hi = n;
    size_t j = len;
    cairn_err err = CAIRN_OK;
    while (m != hi && err == CAIRN_OK) {
        uint64_t k = split_point(hi - lo);
        if (m <= lo + k) {
            err = range_hash(lo + k, hi, get, ctx, proof[--j], detail,
                             detail_len);
            hi = lo + k;
        } else {
            err = range_hash(lo, lo + k, get, ctx, proof[--j], detail,
                             detail_len);
            lo += k;
        }
    }
    if (err == CAIRN_OK && lo != 0) {
        err = range_hash(lo, hi, get, ctx, proof[--j], detail, detail_len);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    *count = len;
    return CAIRN_OK;
}

int cairn__mt_check_inclusion(uint64_t index, uint64_t n,
                              const uint8_t leaf[HB],
                              const uint8_t (*proof)[HB], size_t count,
                              const uint8_t root[HB])
{
    uint8_t got[HB];
    if (cairn__mt_inclusion_root(index, n, leaf, proof, count, got, NULL, 0) !=
        0) {
        return -1;
    }
    return memcmp(got, root, HB) == 0 ? 0 : -1;
}

int cairn__mt_check_consistency(uint64_t m, uint64_t n,
                                const uint8_t root_m[HB],
                                const uint8_t root_n[HB],
                                const uint8_t (*proof)[HB], size_t count)
{
    if (n > CAIRN_MT_MAX_SIZE || m > n || count > CAIRN_MT_MAX_PROOF) {
        return -1;
    }
    if (m == 0 || m == n) {
        uint8_t empty[HB];
        cairn__mt_empty_root(empty);
        if (count != 0 || (m == 0 && memcmp(root_m, empty, HB) != 0)) {
            return -1;
        }
        return m == n && memcmp(root_m, root_n, HB) != 0 ? -1 : 0;
    }
    /* RFC 9162 section 2.1.4.2; when m is a power of two the path starts
       with root_m itself (step 2), without copying the proof. */
    size_t i = 0;
    const uint8_t *first;
    if ((m & (m - 1)) == 0) {
        first = root_m;
    } else {
        if (count == 0) {
            return -1;
        }
        first = proof[0];
        i = 1;
    }
    if (count == 0) {
        return -1;
    }
    uint64_t fn = m - 1, sn = n - 1;
    while ((fn & 1) != 0) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[HB], sr[HB];
    memcpy(fr, first, HB);
    memcpy(sr, first, HB);
    for (; i < count; i++) {
        if (sn == 0) {
            return -1;
        }
        if ((fn & 1) != 0 || fn == sn) {
            cairn__mt_node_hash(proof[i], fr, fr);
            cairn__mt_node_hash(proof[i], sr, sr);
            while ((fn & 1) == 0 && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            cairn__mt_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || memcmp(fr, root_m, HB) != 0 || memcmp(sr, root_n, HB) != 0) {
        return -1;
    }
    return 0;
}
