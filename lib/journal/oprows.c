/*
 * oprows.c - a run's operation rows and op tree in LMDB (see oprows.h;
 * docs/FORMAT.md section 23).
 */
#include "journal/oprows.h"

#include "base/bytes.h"
#include "format/merkle.h"

#include <stdlib.h>
#include <string.h>

/* Node storage of one run's op tree, for format/merkle.h. */
typedef struct opnodes {
    cairn_txn *txn;
    uint64_t run_num;
    int put_new; /* put with NOOVERWRITE (a new run) */
} opnodes;

static void row_key(uint8_t key[CAIRN__OPROW_KEY_BYTES], uint64_t run_num,
                    uint32_t op)
{
    cairn__store64_be(key, run_num);
    cairn__store32_be(key + 8, op);
}

static cairn_err node_key(uint8_t key[CAIRN__OTREE_KEY_BYTES], uint64_t run_num,
                          unsigned level, uint64_t index)
{
    if (level > 255) {
        return CAIRN_EINVAL;
    }
    cairn__store64_be(key, run_num);
    key[8] = (uint8_t)level;
    cairn__store64_be(key + 9, index);
    return CAIRN_OK;
}

static cairn_err node_get(void *ctx, unsigned level, uint64_t index,
                          uint8_t out[CAIRN_HASH_BYTES])
{
    opnodes *n = ctx;
    uint8_t key[CAIRN__OTREE_KEY_BYTES];
    const uint8_t *v;
    size_t vl;
    int found;
    cairn_err err = node_key(key, n->run_num, level, index);
    if (err == CAIRN_OK) {
        err = cairn__txn_get(n->txn, CAIRN_DBI_OTREE, key, sizeof(key), &v, &vl,
                             &found);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    if (!found || vl != CAIRN_HASH_BYTES) {
        return CAIRN_ETAMPERED; /* the proof it belongs to fails */
    }
    memcpy(out, v, CAIRN_HASH_BYTES);
    return CAIRN_OK;
}

static cairn_err node_put(void *ctx, unsigned level, uint64_t index,
                          const uint8_t h[CAIRN_HASH_BYTES])
{
    opnodes *n = ctx;
    uint8_t key[CAIRN__OTREE_KEY_BYTES];
    cairn_err err = node_key(key, n->run_num, level, index);
    if (err != CAIRN_OK) {
        return err;
    }
    return cairn__txn_put(n->txn, CAIRN_DBI_OTREE, key, sizeof(key), h,
                          CAIRN_HASH_BYTES,
                          n->put_new ? CAIRN_PUT_NOOVERWRITE : 0);
}

/* Encode @p row and its leaf hash; the caller frees *buf. */
static cairn_err encode_row(const cairn_op_st *row, uint8_t **buf, size_t *len,
                            uint8_t leaf[CAIRN_HASH_BYTES])
{
    cairn_err err = cairn__oprow_encode(row, buf, len);
    if (err == CAIRN_OK) {
        cairn__leaf_hash(*buf, *len, leaf);
    }
    return err;
}

static cairn_err put_row(cairn_txn *txn, uint64_t run_num, uint32_t op,
                         const uint8_t *buf, size_t len, unsigned flags)
{
    uint8_t key[CAIRN__OPROW_KEY_BYTES];
    row_key(key, run_num, op);
    return cairn__txn_put(txn, CAIRN_DBI_OPROWS, key, sizeof(key), buf, len,
                          flags);
}

cairn_err cairn__oprows_put_all(cairn_txn *txn, cairn_state *st, char *detail,
                                size_t detail_len)
{
    opnodes nodes = {txn, st->run_num, 1};
    cairn_mt_stream ms;
    uint8_t leaf[CAIRN_HASH_BYTES];
    char why[160] = "";
    cairn__mt_stream_init(&ms, node_put, &nodes);
    for (uint32_t i = 0; i < st->n_ops; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        cairn_err err = encode_row(&st->ops[i], &buf, &len, leaf);
        if (err == CAIRN_OK) {
            err = put_row(txn, st->run_num, i, buf, len, CAIRN_PUT_NOOVERWRITE);
        }
        free(buf);
        if (err == CAIRN_OK) {
            err = cairn__mt_stream_push(&ms, leaf, why, sizeof(why));
        }
        if (err != CAIRN_OK) {
            return cairn__fail(detail, detail_len, err,
                               "run %llu: writing the row of op %lu%s%s",
                               (unsigned long long)st->run_num,
                               (unsigned long)i, why[0] ? ": " : "", why);
        }
    }
    cairn__mt_stream_root(&ms, st->ops_root);
    return CAIRN_OK;
}

/* The stored row of @p op: its bytes (a view) and leaf hash. */
static cairn_err read_row(cairn_txn *txn, const cairn_state *st, uint32_t op,
                          const uint8_t **v, size_t *vl,
                          uint8_t leaf[CAIRN_HASH_BYTES], char *detail,
                          size_t detail_len)
{
    uint8_t key[CAIRN__OPROW_KEY_BYTES];
    int found = 0;
    if (op >= st->n_ops) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "run %llu: op %lu of %lu",
                           (unsigned long long)st->run_num, (unsigned long)op,
                           (unsigned long)st->n_ops);
    }
    row_key(key, st->run_num, op);
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_OPROWS, key, sizeof(key), v, vl, &found);
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "run %llu: oprows: %s",
                           (unsigned long long)st->run_num,
                           cairn_strerror(err));
    }
    if (!found) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "run %llu: the row of op %lu is missing",
                           (unsigned long long)st->run_num, (unsigned long)op);
    }
    cairn__leaf_hash(*v, *vl, leaf);
    return CAIRN_OK;
}

cairn_err cairn__oprows_update(cairn_txn *txn, cairn_state *st, uint32_t op,
                               const cairn_op_st *row, char *detail,
                               size_t detail_len)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cairn_err err = cairn__oprow_encode(row, &buf, &len);
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err,
                           "run %llu: encoding the row of op %lu",
                           (unsigned long long)st->run_num, (unsigned long)op);
    }
    err = cairn__oprows_update_raw(txn, st, op, buf, len, detail, detail_len);
    free(buf);
    return err;
}

cairn_err cairn__oprows_update_raw(cairn_txn *txn, cairn_state *st, uint32_t op,
                                   const uint8_t *buf, size_t len, char *detail,
                                   size_t detail_len)
{
    const uint8_t *v;
    size_t vl;
    uint8_t old_leaf[CAIRN_HASH_BYTES], new_leaf[CAIRN_HASH_BYTES];
    uint8_t root[CAIRN_HASH_BYTES];
    char why[200] = "";
    cairn_err err =
        read_row(txn, st, op, &v, &vl, old_leaf, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__leaf_hash(buf, len, new_leaf);
    /* The stored path is checked against the trusted root before any
     * node or the row is written. */
    opnodes nodes = {txn, st->run_num, 0};
    err = cairn__mt_update(st->n_ops, op, old_leaf, new_leaf, st->ops_root,
                           node_get, node_put, &nodes, root, why, sizeof(why));
    if (err == CAIRN_OK) {
        err = put_row(txn, st->run_num, op, buf, len, 0);
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err,
                           "run %llu: op tree of op %lu: %s",
                           (unsigned long long)st->run_num, (unsigned long)op,
                           why[0] ? why : cairn_strerror(err));
    }
    memcpy(st->ops_root, root, CAIRN_HASH_BYTES);
    return CAIRN_OK;
}

cairn_err cairn__oprows_get(cairn_txn *txn, const cairn_state *st, uint32_t op,
                            cairn_op_st *out, char *detail, size_t detail_len)
{
    const uint8_t *v;
    size_t vl;
    uint8_t leaf[CAIRN_HASH_BYTES];
    uint8_t proof[CAIRN_MT_MAX_PROOF][CAIRN_HASH_BYTES];
    size_t count = 0;
    char why[200] = "";
    memset(out, 0, sizeof(*out));
    cairn_err err = read_row(txn, st, op, &v, &vl, leaf, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    opnodes nodes = {txn, st->run_num, 0};
    err =
        cairn__mt_prove_inclusion(op, st->n_ops, node_get, &nodes, proof,
                                  CAIRN_MT_MAX_PROOF, &count, why, sizeof(why));
    if (err == CAIRN_OK &&
        cairn__mt_check_inclusion(op, st->n_ops, leaf,
                                  (const uint8_t(*)[CAIRN_HASH_BYTES])proof,
                                  count, st->ops_root) != 0) {
        err = CAIRN_ETAMPERED;
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err,
                           "run %llu: the row of op %lu is not in the run's "
                           "op tree%s%s",
                           (unsigned long long)st->run_num, (unsigned long)op,
                           why[0] ? ": " : "", why);
    }
    err = cairn__oprow_decode(v, vl, out, why, sizeof(why));
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "run %llu: op %lu: %s",
                           (unsigned long long)st->run_num, (unsigned long)op,
                           why);
    }
    return CAIRN_OK;
}

static void free_ops(cairn_state *st, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        cairn__oprow_free(&st->ops[i]);
    }
    free(st->ops);
    st->ops = NULL;
}

/* After a root mismatch, name the damage when it is one row: the first
 * op whose row's leaf hash differs from the stored leaf (level 0) of the
 * op tree; -1 when every row matches its stored leaf (the nodes above or
 * the summary's root differ instead) or the leaves cannot be read. */
static long stale_row(cairn_txn *txn, const cairn_state *st)
{
    opnodes nodes = {txn, st->run_num, 0};
    char ignored[8];
    for (uint32_t i = 0; i < st->n_ops; i++) {
        const uint8_t *v;
        size_t vl;
        uint8_t leaf[CAIRN_HASH_BYTES], stored[CAIRN_HASH_BYTES];
        if (read_row(txn, st, i, &v, &vl, leaf, ignored, sizeof(ignored)) !=
                CAIRN_OK ||
            node_get(&nodes, 0, i, stored) != CAIRN_OK) {
            return -1;
        }
        if (memcmp(leaf, stored, CAIRN_HASH_BYTES) != 0) {
            return (long)i;
        }
    }
    return -1;
}

cairn_err cairn__oprows_get_all(cairn_txn *txn, cairn_state *st, char *detail,
                                size_t detail_len)
{
    cairn_mt_stream ms;
    uint8_t leaf[CAIRN_HASH_BYTES], root[CAIRN_HASH_BYTES];
    char why[200] = "";
    st->ops = calloc(st->n_ops > 0 ? st->n_ops : 1, sizeof(cairn_op_st));
    if (st->ops == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_ENOMEM,
                           "run %llu: out of memory",
                           (unsigned long long)st->run_num);
    }
    cairn__mt_stream_init(&ms, NULL, NULL);
    for (uint32_t i = 0; i < st->n_ops; i++) {
        const uint8_t *v;
        size_t vl;
        cairn_err err = read_row(txn, st, i, &v, &vl, leaf, detail, detail_len);
        if (err == CAIRN_OK) {
            err = cairn__mt_stream_push(&ms, leaf, why, sizeof(why));
        }
        if (err == CAIRN_OK) {
            err = cairn__oprow_decode(v, vl, &st->ops[i], why, sizeof(why));
            if (err != CAIRN_OK) {
                cairn__fail(detail, detail_len, err, "run %llu: op %lu: %s",
                            (unsigned long long)st->run_num, (unsigned long)i,
                            why);
            }
        }
        if (err != CAIRN_OK) {
            free_ops(st, i);
            return err;
        }
    }
    cairn__mt_stream_root(&ms, root);
    if (memcmp(root, st->ops_root, CAIRN_HASH_BYTES) != 0) {
        free_ops(st, st->n_ops);
        long op = stale_row(txn, st);
        if (op >= 0) {
            return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                               "run %llu: the row of op %ld does not match "
                               "its leaf in the run's op tree",
                               (unsigned long long)st->run_num, op);
        }
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "run %llu: the rows give another op tree root than "
                           "the run's summary",
                           (unsigned long long)st->run_num);
    }
    return CAIRN_OK;
}

/* Nodes written by a computation that must not write: kept in memory,
 * read before the stored ones (cairn__oprows_root_after()). */
typedef struct overlay {
    opnodes base;
    struct {
        unsigned level;
        uint64_t index;
        uint8_t h[CAIRN_HASH_BYTES];
    } * e;
    size_t n, cap;
} overlay;

static cairn_err overlay_get(void *ctx, unsigned level, uint64_t index,
                             uint8_t out[CAIRN_HASH_BYTES])
{
    overlay *o = ctx;
    for (size_t i = o->n; i-- > 0;) {
        if (o->e[i].level == level && o->e[i].index == index) {
            memcpy(out, o->e[i].h, CAIRN_HASH_BYTES);
            return CAIRN_OK;
        }
    }
    return node_get(&o->base, level, index, out);
}

static cairn_err overlay_put(void *ctx, unsigned level, uint64_t index,
                             const uint8_t h[CAIRN_HASH_BYTES])
{
    overlay *o = ctx;
    for (size_t i = 0; i < o->n; i++) {
        if (o->e[i].level == level && o->e[i].index == index) {
            memcpy(o->e[i].h, h, CAIRN_HASH_BYTES);
            return CAIRN_OK;
        }
    }
    if (o->n == o->cap) {
        size_t cap = o->cap < 64 ? 64 : o->cap * 2;
        void *p = realloc(o->e, cap * sizeof(*o->e));
        if (p == NULL) {
            return CAIRN_ENOMEM;
        }
        o->e = p;
        o->cap = cap;
    }
    o->e[o->n].level = level;
    o->e[o->n].index = index;
    memcpy(o->e[o->n++].h, h, CAIRN_HASH_BYTES);
    return CAIRN_OK;
}

/* Beyond this many changed rows with every row loaded, the root is
 * computed from the rows. */
#define ROOT_AFTER_PATHS 8u

/* The new root from the stored paths of the changed rows. */
static cairn_err root_by_paths(cairn_txn *txn, const cairn_state *st,
                               uint8_t root[CAIRN_HASH_BYTES], char *detail,
                               size_t detail_len)
{
    overlay o;
    memset(&o, 0, sizeof(o));
    o.base.txn = txn;
    o.base.run_num = st->run_num;
    memcpy(root, st->ops_root, CAIRN_HASH_BYTES);
    cairn_err err = CAIRN_OK;
    for (uint32_t k = 0; k < st->n_dirty && err == CAIRN_OK; k++) {
        uint32_t op = st->dirty[k];
        const uint8_t *v;
        size_t vl;
        uint8_t old_leaf[CAIRN_HASH_BYTES], new_leaf[CAIRN_HASH_BYTES];
        uint8_t next[CAIRN_HASH_BYTES];
        uint8_t *buf = NULL;
        size_t len = 0;
        char why[200] = "";
        err = read_row(txn, st, op, &v, &vl, old_leaf, detail, detail_len);
        if (err == CAIRN_OK) {
            err = encode_row(&st->ops[op], &buf, &len, new_leaf);
            free(buf);
        }
        if (err == CAIRN_OK) {
            err = cairn__mt_update(st->n_ops, op, old_leaf, new_leaf, root,
                                   overlay_get, overlay_put, &o, next, why,
                                   sizeof(why));
            if (err != CAIRN_OK) {
                cairn__fail(detail, detail_len, err,
                            "run %llu: op tree of op %lu: %s",
                            (unsigned long long)st->run_num, (unsigned long)op,
                            why[0] ? why : cairn_strerror(err));
            }
        }
        if (err == CAIRN_OK) {
            memcpy(root, next, CAIRN_HASH_BYTES);
        }
    }
    free(o.e);
    return err;
}

cairn_err cairn__oprows_root_after(cairn_txn *txn, cairn_state *st,
                                   uint8_t root[CAIRN_HASH_BYTES], char *detail,
                                   size_t detail_len)
{
    cairn__state_dirty_sort(st);
    int all = 1;
    for (uint32_t k = 0; k < st->n_dirty; k++) {
        if (!cairn__state_has_row(st, st->dirty[k])) {
            return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                               "run %llu: op %lu changed but was not loaded",
                               (unsigned long long)st->run_num,
                               (unsigned long)st->dirty[k]);
        }
    }
    for (uint32_t i = 0; i < st->n_ops && st->loaded != NULL && all; i++) {
        all = cairn__state_has_row(st, i);
    }
    if (st->n_dirty <= ROOT_AFTER_PATHS || !all) {
        return root_by_paths(txn, st, root, detail, detail_len);
    }
    uint8_t old[CAIRN_HASH_BYTES];
    memcpy(old, st->ops_root, CAIRN_HASH_BYTES);
    cairn_err err = cairn__state_ops_root(st, NULL, NULL);
    memcpy(root, st->ops_root, CAIRN_HASH_BYTES);
    memcpy(st->ops_root, old, CAIRN_HASH_BYTES);
    if (err != CAIRN_OK) {
        return cairn__fail(
            detail, detail_len, err, "run %llu: computing the op tree root: %s",
            (unsigned long long)st->run_num, cairn_strerror(err));
    }
    return CAIRN_OK;
}
