/*
 * merkle.c - RFC 6962 Merkle trees over stored complete-subtree nodes
 * (format/merkle.h; docs/FORMAT.md "Merkle trees (format 2)"): node
 * hashing, roots from stored nodes, the streaming builder, appends and
 * in-place updates checked against a trusted root, proofs and their
 * constant-memory checks (RFC 9162 sections 2.1.3 and 2.1.4).
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

/* ---- streaming builder ---- */

void cairn__mt_stream_init(cairn_mt_stream *st, cairn_mt_put on_node, void *ctx)
{
    memset(st, 0, sizeof(*st));
    st->on_node = on_node;
    st->ctx = ctx;
}

cairn_err cairn__mt_stream_load(cairn_mt_stream *st, uint64_t n,
                                cairn_mt_get get, void *get_ctx, char *detail,
                                size_t detail_len)
{
    cairn__clear(detail, detail_len);
    st->size = 0;
    if (get == NULL || n > CAIRN_MT_MAX_SIZE) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "tree size %" PRIu64 " over 2^63 or no reader", n);
    }
    for (unsigned level = 0; level <= CAIRN_MT_MAX_LEVEL; level++) {
        if (((n >> level) & 1) == 0) {
            continue;
        }
        cairn_err err = get_node(get, get_ctx, level, (n >> level) - 1,
                                 st->peaks[level], detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    st->size = n;
    return CAIRN_OK;
}

cairn_err cairn__mt_stream_push(cairn_mt_stream *st, const uint8_t leaf[HB],
                                char *detail, size_t detail_len)
{
    uint64_t n = st->size;
    if (n >= CAIRN_MT_MAX_SIZE) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "tree already has 2^63 leaves");
    }
    uint8_t h[HB];
    memcpy(h, leaf, HB);
    unsigned level = 0;
    for (;;) {
        if (st->on_node != NULL) {
            cairn_err err = st->on_node(st->ctx, level, n >> level, h);
            if (err != CAIRN_OK) {
                return cairn__fail(detail, detail_len, err,
                                   "cannot store node (level %u, index "
                                   "%" PRIu64 ")",
                                   level, n >> level);
            }
        }
        if (((n >> level) & 1) == 0) {
            break;
        }
        cairn__mt_node_hash(st->peaks[level], h, h);
        level++;
    }
    memcpy(st->peaks[level], h, HB);
    st->size = n + 1;
    return CAIRN_OK;
}

void cairn__mt_stream_root(const cairn_mt_stream *st, uint8_t out[HB])
{
    int have = 0;
    for (unsigned level = 0; level <= CAIRN_MT_MAX_LEVEL; level++) {
        if (((st->size >> level) & 1) == 0) {
            continue;
        }
        if (have) {
            cairn__mt_node_hash(st->peaks[level], out, out);
        } else {
            memcpy(out, st->peaks[level], HB);
            have = 1;
        }
    }
    if (!have) {
        cairn__mt_empty_root(out);
    }
}

/* ---- appends and updates ---- */

static void hex16(const uint8_t h[HB], char out[17])
{
    char full[2 * HB + 1];
    cairn__hex(h, HB, full);
    memcpy(out, full, 16);
    out[16] = '\0';
}

cairn_err cairn__mt_append_batch(uint64_t n, const uint8_t (*leaves)[HB],
                                 size_t count, const uint8_t *trusted_root,
                                 cairn_mt_get get, cairn_mt_put put, void *ctx,
                                 uint8_t *new_root, char *detail,
                                 size_t detail_len)
{
    cairn__clear(detail, detail_len);
    if (new_root != NULL) {
        memset(new_root, 0, HB);
    }
    if (get == NULL || put == NULL || (leaves == NULL && count > 0)) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "append: no leaves, reader or writer");
    }
    if (n > CAIRN_MT_MAX_SIZE || count > CAIRN_MT_MAX_SIZE - n) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "append: %zu leaves to a tree of size %" PRIu64
                           " exceed 2^63",
                           count, n);
    }
    cairn_mt_stream st;
    cairn__mt_stream_init(&st, put, ctx);
    cairn_err err = cairn__mt_stream_load(&st, n, get, ctx, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    if (trusted_root != NULL) {
        uint8_t got[HB];
        cairn__mt_stream_root(&st, got);
        if (memcmp(got, trusted_root, HB) != 0) {
            char a[17], b[17];
            hex16(got, a);
            hex16(trusted_root, b);
            return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                               "stored nodes of the tree of size %" PRIu64
                               " give root %s..., not the trusted root %s...",
                               n, a, b);
        }
    }
    for (size_t i = 0; i < count; i++) {
        err = cairn__mt_stream_push(&st, leaves[i], detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    if (new_root != NULL) {
        cairn__mt_stream_root(&st, new_root);
    }
    return CAIRN_OK;
}

cairn_err cairn__mt_append(uint64_t n, const uint8_t leaf[HB],
                           const uint8_t *trusted_root, cairn_mt_get get,
                           cairn_mt_put put, void *ctx, uint8_t *new_root,
                           char *detail, size_t detail_len)
{
    if (leaf == NULL) {
        cairn__clear(detail, detail_len);
        if (new_root != NULL) {
            memset(new_root, 0, HB);
        }
        return cairn__fail(detail, detail_len, CAIRN_EINVAL, "append: no leaf");
    }
    uint8_t one[1][HB];
    memcpy(one[0], leaf, HB);
    return cairn__mt_append_batch(n, (const uint8_t(*)[HB])one, 1, trusted_root,
                                  get, put, ctx, new_root, detail, detail_len);
}

/*
 * RFC 9162 section 2.1.3.2: the root the inclusion proof implies, into
 * @p out.  The hash after step i (i < nkeep) goes to keep[i].  -1 when
 * the sizes or the proof's length do not fit.
 */
static int inclusion_root(uint64_t index, uint64_t n, const uint8_t leaf[HB],
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

/* Levels above leaf @p index whose node is complete in a tree of size n. */
static unsigned complete_levels(uint64_t index, uint64_t n)
{
    unsigned c = 0;
    while (c < CAIRN_MT_MAX_LEVEL && ((index >> (c + 1)) + 1) << (c + 1) <= n) {
        c++;
    }
    return c;
}

cairn_err cairn__mt_update(uint64_t n, uint64_t index,
                           const uint8_t old_leaf[HB],
                           const uint8_t new_leaf[HB],
                           const uint8_t trusted_root[HB], cairn_mt_get get,
                           cairn_mt_put put, void *ctx, uint8_t new_root[HB],
                           char *detail, size_t detail_len)
{
    cairn__clear(detail, detail_len);
    if (new_root == NULL || old_leaf == NULL || new_leaf == NULL ||
        trusted_root == NULL || get == NULL || put == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "update: a NULL argument");
    }
    memset(new_root, 0, HB);
    uint8_t proof[CAIRN_MT_MAX_PROOF][HB], path[CAIRN_MT_MAX_PROOF][HB];
    uint8_t got[HB] = {0};
    size_t count = 0;
    cairn_err err =
        cairn__mt_prove_inclusion(index, n, get, ctx, proof, CAIRN_MT_MAX_PROOF,
                                  &count, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    if (inclusion_root(index, n, old_leaf, (const uint8_t(*)[HB])proof, count,
                       got, NULL, 0) != 0 ||
        memcmp(got, trusted_root, HB) != 0) {
        char a[17], b[17];
        hex16(got, a);
        hex16(trusted_root, b);
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "stored path of leaf %" PRIu64
                           " in the tree of size %" PRIu64
                           " gives root %s..., not the trusted root %s...",
                           index, n, a, b);
    }
    /* The first complete_levels() steps of the path climb one level
       each through complete nodes: those are the nodes to rewrite. */
    unsigned levels = complete_levels(index, n);
    if (inclusion_root(index, n, new_leaf, (const uint8_t(*)[HB])proof, count,
                       got, path, levels) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "update: inconsistent proof length");
    }
    err = put(ctx, 0, index, new_leaf);
    for (unsigned l = 1; l <= levels && err == CAIRN_OK; l++) {
        err = put(ctx, l, index >> l, path[l - 1]);
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err,
                           "cannot store the path of leaf %" PRIu64, index);
    }
    memcpy(new_root, got, HB);
    return CAIRN_OK;
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
    if (inclusion_root(index, n, leaf, proof, count, got, NULL, 0) != 0) {
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
