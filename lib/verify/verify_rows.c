/*
 * verify_rows.c - a version-2 run state (docs/FORMAT.md section 23.6):
 * the stored summary, every operation row and every op tree node must be
 * byte for byte the ones the replayed state gives.
 */
#include "verify/verify.h"

#include "base/bytes.h"
#include "journal/oprows.h"

#include <stdlib.h>
#include <string.h>

typedef struct nodes_ctx {
    cairn_txn *txn;
    uint64_t run_num;
    unsigned bad_level; /* the first node that differs */
    uint64_t bad_index;
    int missing;
} nodes_ctx;

static cairn_err same_node(void *vc, unsigned level, uint64_t index,
                           const uint8_t h[CAIRN_HASH_BYTES])
{
    nodes_ctx *c = vc;
    uint8_t key[CAIRN__OTREE_KEY_BYTES];
    const uint8_t *v;
    size_t vl;
    int found = 0;
    cairn__store64_be(key, c->run_num);
    key[8] = (uint8_t)level;
    cairn__store64_be(key + 9, index);
    cairn_err err = cairn__txn_get(c->txn, CAIRN_DBI_OTREE, key, sizeof(key),
                                   &v, &vl, &found);
    if (err != CAIRN_OK) {
        return err;
    }
    if (!found || vl != CAIRN_HASH_BYTES ||
        memcmp(v, h, CAIRN_HASH_BYTES) != 0) {
        c->bad_level = level;
        c->bad_index = index;
        c->missing = !found;
        return CAIRN_ETAMPERED;
    }
    return CAIRN_OK;
}

/* The first dynamic field in which @p a and @p b differ. */
static const char *row_field(const cairn_op_st *a, const cairn_op_st *b)
{
    if (strcmp(a->id, b->id) != 0 || a->kind != b->kind ||
        strcmp(a->target, b->target) != 0 || a->anchor != b->anchor) {
        return "static fields";
    }
    if (a->state != b->state) {
        return "state";
    }
    if (a->attempt != b->attempt) {
        return "attempt";
    }
    if (a->last_class != b->last_class) {
        return "last_class";
    }
    if (a->updated_ns != b->updated_ns) {
        return "updated_ns";
    }
    if (a->done_seq != b->done_seq) {
        return "done_seq";
    }
    if (a->holder_pid != b->holder_pid || a->holder_start != b->holder_start ||
        memcmp(a->holder_boot, b->holder_boot, CAIRN_BOOT_ID_BYTES) != 0) {
        return "holder";
    }
    if (strcmp(a->host, b->host) != 0) {
        return "host";
    }
    return "requires";
}

static cairn_err bad_row(cairn_vcore *v, uint32_t op, const cairn_op_st *re,
                         const uint8_t *val, size_t vl, int found)
{
    char reason[400], why[160];
    cairn_op_st stored;
    if (!found) {
        cairn__fmt(reason, sizeof(reason),
                   "run %llu: the row of op %lu (%s) is missing",
                   (unsigned long long)v->st.run_num, (unsigned long)op,
                   re->id);
    } else if (cairn__oprow_decode(val, vl, &stored, why, sizeof(why)) !=
               CAIRN_OK) {
        cairn__fmt(reason, sizeof(reason),
                   "run %llu: the row of op %lu (%s) does not decode: %s",
                   (unsigned long long)v->st.run_num, (unsigned long)op, re->id,
                   why);
    } else {
        cairn__fmt(reason, sizeof(reason),
                   "run %llu: the row of op %lu (%s) differs from the "
                   "replayed one in field %s",
                   (unsigned long long)v->st.run_num, (unsigned long)op, re->id,
                   row_field(re, &stored));
        cairn__oprow_free(&stored);
    }
    return cairn__vcore_tampered(v, 0, 0, "oprows", NULL, NULL, reason);
}

cairn_err cairn__verify_rows(cairn_txn *txn, cairn_vcore *v, const uint8_t *val,
                             size_t vl)
{
    cairn_state *re = &v->st;
    char reason[300], e[24], f[24];
    cairn_state sum;
    if (cairn__summary_decode(val, vl, &sum, reason, sizeof(reason)) ==
            CAIRN_OK &&
        sum.next_seq != re->next_seq) { /* records cut or added */
        uint64_t first =
            sum.next_seq < re->next_seq ? sum.next_seq : re->next_seq;
        cairn__fmt(e, sizeof(e), "%llu records",
                   (unsigned long long)re->next_seq);
        cairn__fmt(f, sizeof(f), "%llu records",
                   (unsigned long long)sum.next_seq);
        cairn__state_free(&sum);
        return cairn__vcore_tampered(v, 1, first, "state", e, f,
                                     "the run summary counts another "
                                     "number of records than the run has");
    }
    cairn__state_free(&sum);
    if (re->pruned) {
        return CAIRN_OK; /* a stub has no rows; the counts check (--all) */
    }
    nodes_ctx c = {txn, re->run_num, 0, 0, 0};
    cairn_err err = cairn__state_ops_root(re, same_node, &c);
    if (err == CAIRN_ETAMPERED) {
        cairn__fmt(reason, sizeof(reason),
                   "run %llu: op tree node (level %u, index %llu) %s",
                   (unsigned long long)re->run_num, c.bad_level,
                   (unsigned long long)c.bad_index,
                   c.missing ? "is missing" : "differs from the replayed one");
        return cairn__vcore_tampered(v, 0, 0, "otree", NULL, NULL, reason);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    for (uint32_t i = 0; i < re->n_ops; i++) {
        uint8_t key[CAIRN__OPROW_KEY_BYTES], *row = NULL;
        const uint8_t *sv;
        size_t sl, rl = 0;
        int found = 0;
        cairn__store64_be(key, re->run_num);
        cairn__store32_be(key + 8, i);
        err = cairn__oprow_encode(&re->ops[i], &row, &rl);
        if (err == CAIRN_OK) {
            err = cairn__txn_get(txn, CAIRN_DBI_OPROWS, key, sizeof(key), &sv,
                                 &sl, &found);
        }
        int same =
            err == CAIRN_OK && found && sl == rl && memcmp(sv, row, rl) == 0;
        free(row);
        if (err != CAIRN_OK) {
            return err;
        }
        if (!same) {
            return bad_row(v, i, &re->ops[i], sv, sl, found);
        }
    }
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    err = cairn__summary_encode(re, &enc, &enc_len);
    if (err != CAIRN_OK) {
        return err;
    }
    int same = enc_len == vl && memcmp(enc, val, vl) == 0;
    free(enc);
    if (!same) {
        cairn__fmt(reason, sizeof(reason),
                   "run %llu: the stored run summary is not the one its "
                   "records give (counts, head, done prefix, stopped "
                   "targets, pending ops or ops_root)",
                   (unsigned long long)re->run_num);
        return cairn__vcore_tampered(v, 0, 0, "state", NULL, NULL, reason);
    }
    return CAIRN_OK;
}
