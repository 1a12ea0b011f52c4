/*
 * merkle_write.c - the writing side of format/merkle.h: the streaming
 * builder, appends and in-place (state map) updates, each checked against
 * a trusted root before anything is put (docs/FORMAT.md "Merkle trees
 * (format 2)").
 */
#include "format/merkle.h"

#include <inttypes.h>
#include <string.h>

#define HB CAIRN_HASH_BYTES

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
        cairn_err err = get(get_ctx, level, (n >> level) - 1, st->peaks[level]);
        if (err != CAIRN_OK) {
            return cairn__fail(detail, detail_len, err,
                               "cannot read stored node (level %u, index "
                               "%" PRIu64 ")",
                               level, (n >> level) - 1);
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
                                   "at node (level %u, index %" PRIu64 ")",
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
    uint8_t trusted[HB];
    if (trusted_root != NULL) { /* before new_root, which may alias it */
        memcpy(trusted, trusted_root, HB);
    }
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
        if (memcmp(got, trusted, HB) != 0) {
            char a[17], b[17];
            hex16(got, a);
            hex16(trusted, b);
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
    /* Copies first: new_root may alias any input. */
    uint8_t old_h[HB], new_h[HB], trusted[HB];
    memcpy(old_h, old_leaf, HB);
    memcpy(new_h, new_leaf, HB);
    memcpy(trusted, trusted_root, HB);
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
    if (cairn__mt_inclusion_root(index, n, old_h, (const uint8_t(*)[HB])proof,
                                 count, got, NULL, 0) != 0 ||
        memcmp(got, trusted, HB) != 0) {
        char a[17], b[17];
        hex16(got, a);
        hex16(trusted, b);
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "stored path of leaf %" PRIu64
                           " in the tree of size %" PRIu64
                           " gives root %s..., not the trusted root %s...",
                           index, n, a, b);
    }
    /* The first complete_levels() steps of the path climb one level
       each through complete nodes: those are the nodes to rewrite. */
    unsigned levels = complete_levels(index, n);
    if (cairn__mt_inclusion_root(index, n, new_h, (const uint8_t(*)[HB])proof,
                                 count, got, path, levels) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "update: inconsistent proof length");
    }
    err = put(ctx, 0, index, new_h);
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
