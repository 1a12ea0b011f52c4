/*
 * merkle.h - RFC 6962 Merkle trees kept as stored complete-subtree nodes:
 * roots, appends, in-place leaf updates (the state map), inclusion and
 * consistency proofs and their checks, and a streaming builder.  Pure
 * computation: the nodes live wherever the caller's callbacks keep them
 * (docs/FORMAT.md "Merkle trees (format 2)").
 *
 * Hashing (RFC 6962 section 2.1, RFC 9162 section 2.1.1): a leaf hash is
 * SHA-256(0x00 || data) (cairn__leaf_hash() in format/record.h), an
 * interior node SHA-256(0x01 || left || right), the root of the empty
 * tree SHA-256("").  The tree over n leaves splits at k, the largest
 * power of two below n: MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n])).
 *
 * Node address (level L, index i): the root of the COMPLETE subtree over
 * leaves [i<<L, (i+1)<<L); level 0 index i is leaf hash i.  A tree of size
 * n has node (L, i) iff (i+1)<<L <= n; only those are stored.  Roots and
 * proofs of any size come from at most two stored nodes per level, the
 * way Go's golang.org/x/mod/sumdb/tlog computes them.
 *
 * The bytes a get callback returns come from a file that may be hostile:
 * nothing here trusts them.  A root or proof computed from them is only
 * as good as the nodes; cairn__mt_append() and cairn__mt_update() check
 * them against a trusted (signed) root before they put anything.
 *
 * Sizes and indices are uint64_t; a tree has at most CAIRN_MT_MAX_SIZE
 * leaves (2^63) and a proof at most CAIRN_MT_MAX_PROOF hashes.  All
 * functions are reentrant; the callbacks are called synchronously, in the
 * caller's thread, never after the function returns.
 */
#ifndef CAIRN_MERKLE_H
#define CAIRN_MERKLE_H

#include "base/common.h"

#include <stddef.h>
#include <stdint.h>

/** Largest tree size (leaves): 2^63. */
#define CAIRN_MT_MAX_SIZE (UINT64_C(1) << 63)
/** Highest node level of a tree of at most CAIRN_MT_MAX_SIZE leaves. */
#define CAIRN_MT_MAX_LEVEL 63
/** Longest inclusion or consistency proof (hashes) of such a tree. */
#define CAIRN_MT_MAX_PROOF 64

/**
 * Read stored node (@p level, @p index) into @p out.  Called only for
 * nodes that exist in the tree being read ((index+1)<<level <= size).
 * Returns CAIRN_OK, or an error (a missing node is the caller's choice,
 * typically CAIRN_ECORRUPT) that is passed back unchanged; the callback
 * keeps its own detail in @p ctx.
 */
typedef cairn_err (*cairn_mt_get)(void *ctx, unsigned level, uint64_t index,
                                  uint8_t out[CAIRN_HASH_BYTES]);
/**
 * Store node (@p level, @p index) = @p h (the callee copies it).  Any
 * error aborts the operation and is passed back unchanged.
 */
typedef cairn_err (*cairn_mt_put)(void *ctx, unsigned level, uint64_t index,
                                  const uint8_t h[CAIRN_HASH_BYTES]);

/** SHA-256(0x01 || @p left || @p right); @p out may alias either input. */
CAIRN_INTERNAL void cairn__mt_node_hash(const uint8_t left[CAIRN_HASH_BYTES],
                                        const uint8_t right[CAIRN_HASH_BYTES],
                                        uint8_t out[CAIRN_HASH_BYTES]);
/** The root of the empty tree: SHA-256(""). */
CAIRN_INTERNAL void cairn__mt_empty_root(uint8_t out[CAIRN_HASH_BYTES]);

/**
 * Root of the tree of size @p n from its stored nodes: one get per set
 * bit of n (at most 63); n = 0 gives cairn__mt_empty_root() and no get.
 * @return CAIRN_OK; CAIRN_EINVAL (n > CAIRN_MT_MAX_SIZE, NULL get or
 *         root); an error of @p get (detail names the node).  On failure
 *         @p root is zeroed.
 */
CAIRN_INTERNAL CAIRN_WUR cairn_err
cairn__mt_root(uint64_t n, cairn_mt_get get, void *ctx,
               uint8_t root[CAIRN_HASH_BYTES], char *detail, size_t detail_len);

/**
 * Append leaf hash @p leaf as leaf @p n of the tree of size @p n: put
 * node (0, n) and every node it completes ((L, n>>L) for each trailing 1
 * bit of n), in increasing level.  Reads the tree's stored peaks once
 * (one get per set bit of n) and builds only on those values.
 * @param trusted_root  NULL, or the root of size n the caller trusts
 *        (from a verified signature): the root computed from the stored
 *        peaks must equal it, else nothing is put.
 * @param new_root  NULL, or receives the root of size n+1.
 * @return CAIRN_OK; CAIRN_EINVAL (n >= CAIRN_MT_MAX_SIZE, NULL leaf, get
 *         or put); CAIRN_ETAMPERED (the stored nodes give another root
 *         than @p trusted_root: detail "stored nodes of the tree of size
 *         N give root <16 hex>..., not the trusted root <16 hex>...";
 *         nothing was put); an error of @p get (nothing put) or of @p put
 *         (the nodes before it were put: the caller discards its
 *         transaction).
 */
CAIRN_INTERNAL CAIRN_WUR cairn_err cairn__mt_append(
    uint64_t n, const uint8_t leaf[CAIRN_HASH_BYTES],
    const uint8_t *trusted_root, cairn_mt_get get, cairn_mt_put put, void *ctx,
    uint8_t *new_root, char *detail, size_t detail_len);

/**
 * cairn__mt_append() of @p count leaves (leaf n, n+1, ...) with one read
 * of the peaks and one trusted-root check.  count = 0 only checks.
 * @return as cairn__mt_append(); CAIRN_EINVAL also when n + count >
 *         CAIRN_MT_MAX_SIZE or leaves is NULL with count > 0.
 */
CAIRN_INTERNAL CAIRN_WUR cairn_err cairn__mt_append_batch(
    uint64_t n, const uint8_t (*leaves)[CAIRN_HASH_BYTES], size_t count,
    const uint8_t *trusted_root, cairn_mt_get get, cairn_mt_put put, void *ctx,
    uint8_t *new_root, char *detail, size_t detail_len);

/**
 * Replace leaf @p index of the tree of size @p n (a mutable dense tree:
 * the state map), whose current leaf hash is @p old_leaf, by @p new_leaf.
 * First reads the inclusion path of the leaf from the stored nodes and
 * checks that it leads from @p old_leaf to @p trusted_root; then puts
 * node (0, index) and every complete ancestor (L, index>>L), in
 * increasing level, and sets @p new_root.
 * @return CAIRN_OK; CAIRN_EINVAL (n > CAIRN_MT_MAX_SIZE, index >= n, a
 *         NULL pointer); CAIRN_ETAMPERED (the stored path and @p old_leaf
 *         do not give @p trusted_root: detail "stored path of leaf I in
 *         the tree of size N gives root <16 hex>..., not the trusted root
 *         <16 hex>..."; nothing was put); an error of @p get (nothing
 *         put) or @p put (as in cairn__mt_append()).  On failure
 *         @p new_root is zeroed.
 */
CAIRN_INTERNAL CAIRN_WUR cairn_err cairn__mt_update(
    uint64_t n, uint64_t index, const uint8_t old_leaf[CAIRN_HASH_BYTES],
    const uint8_t new_leaf[CAIRN_HASH_BYTES],
    const uint8_t trusted_root[CAIRN_HASH_BYTES], cairn_mt_get get,
    cairn_mt_put put, void *ctx, uint8_t new_root[CAIRN_HASH_BYTES],
    char *detail, size_t detail_len);

/**
 * Number of hashes of the inclusion proof of leaf @p index in the tree
 * of size @p n (0 when index >= n or n > CAIRN_MT_MAX_SIZE, and for n = 1).
 */
CAIRN_INTERNAL size_t cairn__mt_inclusion_len(uint64_t index, uint64_t n);
/**
 * Number of hashes of the consistency proof from size @p m to size
 * @p n (0 when m = 0, m = n, m > n or n > CAIRN_MT_MAX_SIZE).
 */
CAIRN_INTERNAL size_t cairn__mt_consistency_len(uint64_t m, uint64_t n);

/**
 * Inclusion proof (RFC 6962 section 2.1.1 PATH, RFC 9162 section 2.1.3.1;
 * the hashes and order of Go's tlog.ProveRecord): the sibling of the leaf
 * first, the sibling just below the root last.  O(log n) gets.
 * @param proof  receives the hashes: room for @p max of them
 *        (CAIRN_MT_MAX_PROOF always suffices); *count their number.
 * @return CAIRN_OK; CAIRN_EINVAL (index >= n, n > CAIRN_MT_MAX_SIZE,
 *         the proof needs more than @p max hashes, a NULL pointer); an
 *         error of @p get.  On failure *count is 0.
 */
CAIRN_INTERNAL CAIRN_WUR cairn_err cairn__mt_prove_inclusion(
    uint64_t index, uint64_t n, cairn_mt_get get, void *ctx,
    uint8_t (*proof)[CAIRN_HASH_BYTES], size_t max, size_t *count, char *detail,
    size_t detail_len);

/**
 * Consistency proof from size @p m to size @p n (RFC 6962 section 2.1.2
 * PROOF, RFC 9162 section 2.1.4.1; Go's tlog.ProveTree(n, m)): empty
 * when m = 0 or m = n.  Parameters and errors as
 * cairn__mt_prove_inclusion() (CAIRN_EINVAL when m > n).
 */
CAIRN_INTERNAL CAIRN_WUR cairn_err
cairn__mt_prove_consistency(uint64_t m, uint64_t n, cairn_mt_get get, void *ctx,
                            uint8_t (*proof)[CAIRN_HASH_BYTES], size_t max,
                            size_t *count, char *detail, size_t detail_len);

/**
 * Check that @p proof (@p count hashes) proves leaf hash @p leaf at
 * @p index in the tree of size @p n with root @p root (RFC 9162 section
 * 2.1.3.2).  Constant memory; reads exactly proof[0..count) and only
 * when 0 <= index < n <= CAIRN_MT_MAX_SIZE and count <=
 * CAIRN_MT_MAX_PROOF.
 * @return 0 when it does, -1 otherwise (bad sizes, wrong length, any
 *         hash that does not fit).
 */
CAIRN_INTERNAL CAIRN_WUR int
cairn__mt_check_inclusion(uint64_t index, uint64_t n,
                          const uint8_t leaf[CAIRN_HASH_BYTES],
                          const uint8_t (*proof)[CAIRN_HASH_BYTES],
                          size_t count, const uint8_t root[CAIRN_HASH_BYTES]);

/**
 * Check that @p proof proves the tree of size @p m with root @p root_m a
 * prefix of the tree of size @p n with root @p root_n (RFC 9162 section
 * 2.1.4.2).  m = n: the proof must be empty and the roots equal; m = 0:
 * the proof must be empty and root_m the empty root (any root_n, unless
 * n = 0 too).  Constant memory; reads at most proof[0..count).
 * @return 0 when it does, -1 otherwise (m > n, n > CAIRN_MT_MAX_SIZE,
 *         count > CAIRN_MT_MAX_PROOF, wrong length or hashes).
 */
CAIRN_INTERNAL CAIRN_WUR int cairn__mt_check_consistency(
    uint64_t m, uint64_t n, const uint8_t root_m[CAIRN_HASH_BYTES],
    const uint8_t root_n[CAIRN_HASH_BYTES],
    const uint8_t (*proof)[CAIRN_HASH_BYTES], size_t count);

/**
 * A streaming builder (a "compact range" over leaves [0, size)): the
 * root of the leaves pushed so far, from O(log n) memory, reporting every
 * complete node as it is completed.  verify rebuilds a tree from its
 * leaves with it and compares each stored node with the reported one.
 * Plain data: copy it to fork a builder; no cleanup needed.
 */
typedef struct cairn_mt_stream {
    uint64_t size;        /**< leaves pushed */
    cairn_mt_put on_node; /**< NULL, or told each completed node */
    void *ctx;            /**< passed to on_node */
    /** peaks[L]: node (L, (size>>L)-1) when bit L of size is set */
    uint8_t peaks[CAIRN_MT_MAX_LEVEL + 1][CAIRN_HASH_BYTES];
} cairn_mt_stream;

/** Start an empty builder; @p on_node may be NULL. */
CAIRN_INTERNAL void cairn__mt_stream_init(cairn_mt_stream *st,
                                          cairn_mt_put on_node, void *ctx);
/**
 * Start a builder at size @p n from the stored peaks of the tree of size
 * n (one get per set bit of n).  The peaks are taken as they are: compare
 * cairn__mt_stream_root() with a trusted root before building on them.
 * @return CAIRN_OK; CAIRN_EINVAL (n > CAIRN_MT_MAX_SIZE, NULL get); an
 *         error of @p get (the builder is then empty).
 */
CAIRN_INTERNAL CAIRN_WUR cairn_err
cairn__mt_stream_load(cairn_mt_stream *st, uint64_t n, cairn_mt_get get,
                      void *get_ctx, char *detail, size_t detail_len);
/**
 * Push leaf hash @p leaf as leaf st->size: on_node is told (0, size)
 * first, then each node it completes, in increasing level.
 * @return CAIRN_OK; CAIRN_EINVAL (already CAIRN_MT_MAX_SIZE leaves); an
 *         error of on_node (the builder is then unchanged, but on_node
 *         may have been told some of the nodes).
 */
CAIRN_INTERNAL CAIRN_WUR cairn_err
cairn__mt_stream_push(cairn_mt_stream *st, const uint8_t leaf[CAIRN_HASH_BYTES],
                      char *detail, size_t detail_len);
/** Root of the leaves pushed so far (the empty root when none). */
CAIRN_INTERNAL void cairn__mt_stream_root(const cairn_mt_stream *st,
                                          uint8_t out[CAIRN_HASH_BYTES]);

#endif
