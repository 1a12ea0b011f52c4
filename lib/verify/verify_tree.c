/*
 * verify_tree.c - checking a stored format-2 Merkle tree (the log tree in
 * `tree`, the state map in `smap`; docs/FORMAT.md section 13) against its
 * leaves.
 *
 * cairn__vtree_push() takes the leaves in order and recomputes every
 * complete subtree node as it is completed (RFC 6962 hashing: leaf
 * SHA-256(0x00 || bytes), node SHA-256(0x01 || left || right)); each is
 * compared at once with the node stored under (level, index), so the
 * first bad node is the first one completed.  Each level is read by a
 * cursor of its own, in key order (one B-tree walk per level, not a
 * lookup per node).  cairn__vtree_push_stored() takes the next leaf from
 * the stored level 0 instead, for cairn_verify_all(), whose run checks
 * compare every record's leaf hash with it (the records are hashed once).  Only
 * the peaks of the complete subtrees not yet merged are kept (at most 64
 * hashes): memory does not grow with the tree.  cairn__vtree_finish() then
 * proves that no other node is stored (by count, and names the first extra one)
 * and gives the root.  cairn__vtree_prove_leaf() is the cheap check of one
 * leaf: an inclusion proof read from the stored nodes, checked against a
 * signed root.  The hashing and the builder are format/merkle.h's.
 */
#include "verify/verify.h"

#include "base/bytes.h"
#include "format/merkle.h"

#include <string.h>

static void node_key(unsigned level, uint64_t index, uint8_t key[9])
{
    key[0] = (uint8_t)level;
    cairn__store64_be(key + 1, index);
}

static cairn_err bad_node(cairn__vtree *t, unsigned level, uint64_t index,
                          const uint8_t *want, const uint8_t *got,
                          const char *what)
{
    char e[2 * CAIRN_HASH_BYTES + 1] = "", f[2 * CAIRN_HASH_BYTES + 1] = "";
    if (want != NULL) {
        cairn__hash_hex(want, e);
    }
    if (got != NULL) {
        cairn__hash_hex(got, f);
    }
    cairn__report_tampered(t->rep, 0, 0, t->field, e, f,
                           "%s node level %u index %llu %s", t->field, level,
                           (unsigned long long)index, what);
    t->rep->has_node = 1;
    t->rep->bad_level = level;
    t->rep->bad_index = index;
    return CAIRN_ETAMPERED;
}

/* Read node (level, index) into @p out; *found 0 when absent.
 * CAIRN_ETAMPERED (report filled) when its value is not a hash. */
static cairn_err get_node(cairn__vtree *t, unsigned level, uint64_t index,
                          uint8_t out[CAIRN_HASH_BYTES], int *found)
{
    uint8_t key[9];
    const uint8_t *v;
    size_t vl;
    node_key(level, index, key);
    cairn_err err =
        cairn__txn_get(t->txn, t->dbi, key, sizeof(key), &v, &vl, found);
    if (err != CAIRN_OK || !*found) {
        return err;
    }
    if (vl != CAIRN_HASH_BYTES) {
        return bad_node(t, level, index, NULL, NULL,
                        "is not a 32-byte hash (the stored value is "
                        "malformed)");
    }
    memcpy(out, v, CAIRN_HASH_BYTES);
    return CAIRN_OK;
}

/* The next stored node of @p level, read by that level's cursor (nodes
 * of one level are completed in index order, so a cursor per level walks
 * the database once instead of a lookup per node).  *out gets its hash;
 * anything but (level, index) there is TAMPERED: a missing node or a
 * malformed key. */
static cairn_err next_node(cairn__vtree *t, unsigned level, uint64_t index,
                           const uint8_t *want, const uint8_t **out)
{
    uint8_t key[9];
    const uint8_t *k, *v;
    size_t kl, vl;
    int found = 0;
    cairn_err err;
    node_key(level, index, key);
    if (t->cur[level] == NULL) {
        err = cairn__cursor_open(t->txn, t->dbi, &t->cur[level]);
        if (err == CAIRN_OK) {
            err = cairn__cursor_seek(t->cur[level], key, sizeof(key), &k, &kl,
                                     &v, &vl, &found);
        }
    } else {
        err = cairn__cursor_next(t->cur[level], &k, &kl, &v, &vl, &found);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    if (found && kl == sizeof(key) && memcmp(k, key, kl) == 0) {
        if (vl != CAIRN_HASH_BYTES) {
            return bad_node(t, level, index, want, NULL,
                            "is not a 32-byte hash (the stored value is "
                            "malformed)");
        }
        *out = v;
        return CAIRN_OK;
    }
    if (found && kl != sizeof(key) && kl >= 1 && k[0] == level) {
        cairn__report_tampered(t->rep, 0, 0, t->field, "a 9-byte key", "",
                               "%s holds a key of %zu bytes at level %u",
                               t->field, kl, level);
        return CAIRN_ETAMPERED;
    }
    return bad_node(t, level, index, want, NULL,
                    "is missing (a complete node of the tree is not "
                    "stored)");
}

/* The stored node (level, index) equals @p want. */
static cairn_err check_node(cairn__vtree *t, unsigned level, uint64_t index,
                            const uint8_t want[CAIRN_HASH_BYTES])
{
    const uint8_t *got = NULL;
    if (level == 0 && t->stored_leaves) {
        return CAIRN_OK; /* the leaf was read from there */
    }
    cairn_err err = next_node(t, level, index, want, &got);
    if (err != CAIRN_OK) {
        return err;
    }
    if (memcmp(got, want, CAIRN_HASH_BYTES) != 0) {
        return bad_node(t, level, index, want, got,
                        "differs from the one recomputed from the leaves");
    }
    return CAIRN_OK;
}

/* The builder's node callback: compare with the stored node. */
static cairn_err on_node(void *ctx, unsigned level, uint64_t index,
                         const uint8_t h[CAIRN_HASH_BYTES])
{
    return check_node(ctx, level, index, h);
}

void cairn__vtree_init(cairn__vtree *t, cairn_txn *txn, cairn_dbi dbi,
                       const char *field, cairn_verify_report *rep)
{
    memset(t, 0, sizeof(*t));
    t->txn = txn;
    t->dbi = dbi;
    t->field = field;
    t->rep = rep;
    cairn__mt_stream_init(&t->st, on_node, t);
}

cairn_err cairn__vtree_push(cairn__vtree *t, const uint8_t *bytes, size_t len)
{
    uint8_t h[CAIRN_HASH_BYTES];
    char why[128];
    if (t->st.size >= CAIRN_MT_MAX_SIZE) {
        return bad_node(t, 0, t->st.size, NULL, NULL,
                        "is past the largest tree");
    }
    cairn__leaf_hash(bytes, len, h);
    return cairn__mt_stream_push(&t->st, h, why, sizeof(why));
}

cairn_err cairn__vtree_push_stored(cairn__vtree *t)
{
    uint8_t h[CAIRN_HASH_BYTES];
    const uint8_t *leaf = NULL;
    char why[128];
    if (t->st.size >= CAIRN_MT_MAX_SIZE) {
        return bad_node(t, 0, t->st.size, NULL, NULL,
                        "is past the largest tree");
    }
    t->stored_leaves = 1;
    cairn_err err = next_node(t, 0, t->st.size, NULL, &leaf);
    if (err != CAIRN_OK) {
        return err;
    }
    memcpy(h, leaf, CAIRN_HASH_BYTES);
    return cairn__mt_stream_push(&t->st, h, why, sizeof(why));
}

cairn_err cairn__vtree_push_pruned(cairn__vtree *t)
{
    uint8_t h[CAIRN_HASH_BYTES];
    char why[128];
    int found = 0;
    if (t->st.size >= CAIRN_MT_MAX_SIZE) {
        return bad_node(t, 0, t->st.size, NULL, NULL,
                        "is past the largest tree");
    }
    cairn_err err = get_node(t, 0, t->st.size, h, &found);
    if (err == CAIRN_OK && !found) {
        err = bad_node(t, 0, t->st.size, NULL, NULL,
                       "is missing (the leaf of a pruned record stays)");
    }
    return err != CAIRN_OK ? err
                           : cairn__mt_stream_push(&t->st, h, why, sizeof(why));
}

void cairn__vtree_free(cairn__vtree *t)
{
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(t->cur); i++) {
        cairn__cursor_close(t->cur[i]);
        t->cur[i] = NULL;
    }
}

/* Number of complete nodes of a tree of @p n leaves: n + n/2 + n/4 ...
 * = 2n - popcount(n). */
static uint64_t complete_nodes(uint64_t n)
{
    uint64_t c = 0;
    for (uint64_t m = n; m > 0; m >>= 1) {
        c += m;
    }
    return c;
}

/* Is (level, index) a complete node of the tree of size @p n? */
static int is_complete(unsigned level, uint64_t index, uint64_t n)
{
    return level < 64 && index < (n >> level);
}

/* The first stored key that is not a complete node of the tree of size
 * t->n (the count said there is one). */
static cairn_err find_extra(cairn__vtree *t)
{
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found = 0;
    cairn_err err = cairn__cursor_open(t->txn, t->dbi, &cur);
    if (err == CAIRN_OK) {
        err = cairn__cursor_seek(cur, NULL, 0, &k, &kl, &v, &vl, &found);
    }
    while (err == CAIRN_OK && found) {
        if (kl != 9) {
            cairn__cursor_close(cur);
            cairn__report_tampered(t->rep, 0, 0, t->field, "a 9-byte key", "",
                                   "%s holds a key of %zu bytes", t->field, kl);
            return CAIRN_ETAMPERED;
        }
        uint64_t index = cairn__load64_be(k + 1);
        if (!is_complete(k[0], index, t->st.size)) {
            cairn__cursor_close(cur);
            return bad_node(t, k[0], index, NULL, NULL,
                            "is stored but is no complete node of the "
                            "tree (an extra node)");
        }
        err = cairn__cursor_next(cur, &k, &kl, &v, &vl, &found);
    }
    cairn__cursor_close(cur);
    if (err == CAIRN_OK) {
        cairn__report_tampered(t->rep, 0, 0, t->field, NULL, NULL,
                               "%s holds another number of nodes than the "
                               "tree of %llu leaves has",
                               t->field, (unsigned long long)t->st.size);
        err = CAIRN_ETAMPERED;
    }
    return err;
}

cairn_err cairn__vtree_finish(cairn__vtree *t, uint8_t root[CAIRN_HASH_BYTES])
{
    uint64_t count = 0;
    cairn_err err = cairn__txn_count(t->txn, t->dbi, &count);
    if (err != CAIRN_OK) {
        return err;
    }
    /* Every complete node was found (push), so more entries than complete
     * nodes means an extra one. */
    if (count != complete_nodes(t->st.size)) {
        return find_extra(t);
    }
    cairn__mt_stream_root(&t->st, root);
    return CAIRN_OK;
}

/* cairn_mt_get over the store: a missing node is tampering. */
static cairn_err get_cb(void *ctx, unsigned level, uint64_t index,
                        uint8_t out[CAIRN_HASH_BYTES])
{
    cairn__vtree *t = ctx;
    int found = 0;
    cairn_err err = get_node(t, level, index, out, &found);
    if (err == CAIRN_OK && !found) {
        err = bad_node(t, level, index, NULL, NULL,
                       "is missing (needed for an inclusion proof)");
    }
    return err;
}

cairn_err cairn__vtree_prove_leaf(cairn__vtree *t, uint64_t n, uint64_t leaf,
                                  const uint8_t leaf_hash[CAIRN_HASH_BYTES],
                                  const uint8_t root[CAIRN_HASH_BYTES], int *ok)
{
    uint8_t proof[CAIRN_MT_MAX_PROOF][CAIRN_HASH_BYTES];
    size_t count = 0;
    char why[128];
    *ok = 0;
    cairn_err err =
        cairn__mt_prove_inclusion(leaf, n, get_cb, t, proof, CAIRN_MT_MAX_PROOF,
                                  &count, why, sizeof(why));
    if (err == CAIRN_OK) {
        *ok = cairn__mt_check_inclusion(
                  leaf, n, leaf_hash, (const uint8_t(*)[CAIRN_HASH_BYTES])proof,
                  count, root) == 0;
    }
    return err;
}
