/*
 * export_v2.c - what a version-2 bundle adds (docs/FORMAT.md section 19),
 * built inside the export's read transaction after the run verified: the
 * export time, the journal head verbatim, the inclusion proof of the
 * run's last record in the log tree, the run's state blob and its proof
 * in the state map, one consistency proof per anchor; and the text of
 * FILE.tlog-proof (C2SP tlog-proof@v1 of the same inclusion proof).
 *
 * Every proof is checked against the head's roots before it is written:
 * the nodes come from the journal file, which is not trusted; the head
 * was verified under the signer's key by the export's verification.
 */
#include "verify/bundle_anchor.h"

#include "base/bytes.h"
#include "base/sys.h"
#include "journal/head.h"
#include "journal/oprows.h"

#include <stdlib.h>
#include <string.h>

#define HASH CAIRN_HASH_BYTES

void cairn__export_v2_free(cairn__export_v2 *x)
{
    cairn__wr_free(&x->trailer);
    cairn__wr_free(&x->tlog_proof);
}

static cairn_err meta_head(cairn_journal *j, cairn_txn *txn, const uint8_t **v,
                           size_t *vl)
{
    int found = 0;
    cairn_err err = cairn__txn_get(txn, CAIRN_DBI_META, CAIRN__HEAD_KEY,
                                   strlen(CAIRN__HEAD_KEY), v, vl, &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (!found || *vl == 0 || *vl > CAIRN__BUNDLE_HEAD_MAX) {
        return cairn__jfail(j, CAIRN_ECORRUPT,
                            "the journal head is missing or over %u bytes",
                            CAIRN__BUNDLE_HEAD_MAX);
    }
    return CAIRN_OK;
}

/* Inclusion proof of @p index in the tree of @p n leaves in @p dbi, checked
 * against @p root for leaf hash @p leaf; appended as u8 count || hashes. */
static cairn_err put_inclusion(cairn_journal *j, cairn_txn *txn, cairn_dbi dbi,
                               uint64_t index, uint64_t n,
                               const uint8_t leaf[HASH],
                               const uint8_t root[HASH], cairn_wr *w,
                               uint8_t (*proof)[HASH], size_t *count)
{
    cairn_nodes nodes = {txn, dbi};
    char why[200];
    cairn_err err =
        cairn__mt_prove_inclusion(index, n, cairn__nodes_get, &nodes, proof,
                                  CAIRN_MT_MAX_PROOF, count, why, sizeof(why));
    if (err == CAIRN_OK && (*count > CAIRN_TLOG_PROOF_MAX_HASHES ||
                            cairn__mt_check_inclusion(
                                index, n, leaf, (const uint8_t(*)[HASH])proof,
                                *count, root) != 0)) {
        err = CAIRN_ETAMPERED;
    }
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err == CAIRN_EINVAL ? CAIRN_ECORRUPT : err,
                            "no inclusion proof of leaf %llu under the signed "
                            "head (%s tree of %llu leaves)",
                            (unsigned long long)index,
                            dbi == CAIRN_DBI_TREE ? "log" : "state-map",
                            (unsigned long long)n);
    }
    cairn__wr_u8(w, (uint8_t)*count);
    cairn__wr_bytes(w, proof, *count * HASH);
    return CAIRN_OK;
}

static int by_size(const void *a, const void *b)
{
    uint64_t x = ((const cairn__anchor_note *)a)->size;
    uint64_t y = ((const cairn__anchor_note *)b)->size;
    return x < y ? -1 : x > y;
}

/* Parse, check and sort the anchors. */
static cairn_err load_anchors(cairn_journal *j, const cairn_export_opts *o,
                              const uint8_t pk[32], const cairn_keyhist *kh,
                              cairn__anchor_note **out)
{
    char why[400];
    *out = NULL;
    if (o->n_anchors == 0) {
        return CAIRN_OK;
    }
    if (o->n_anchors > CAIRN_BUNDLE_MAX_ANCHORS || o->anchors == NULL ||
        o->anchor_lens == NULL) {
        return cairn__jfail(j, CAIRN_EINVAL, "at most %u anchors",
                            CAIRN_BUNDLE_MAX_ANCHORS);
    }
    cairn__anchor_note *a = calloc(o->n_anchors, sizeof(*a));
    if (a == NULL) {
        return CAIRN_ENOMEM;
    }
    cairn_err err = CAIRN_OK;
    for (size_t i = 0; i < o->n_anchors && err == CAIRN_OK; i++) {
        err = cairn__bundle_anchor_parse(o->anchors[i], o->anchor_lens[i],
                                         &a[i], why, sizeof(why));
        if (err == CAIRN_OK) {
            /* after a rotation, the key in force at the anchor's size */
            const cairn_key_entry *k = cairn__keyhist_at(kh, a[i].size);
            err = cairn__bundle_anchor_check(
                &a[i], j->journal_id, k != NULL ? k->pk : pk, why, sizeof(why));
            err = err == CAIRN_EKEYMISMATCH ? CAIRN_EINVAL : err;
        }
        if (err != CAIRN_OK) {
            err = cairn__jfail(j, err, "anchor %zu: %s", i + 1, why);
        }
    }
    if (err != CAIRN_OK) {
        free(a);
        return err;
    }
    qsort(a, o->n_anchors, sizeof(*a), by_size);
    *out = a;
    return CAIRN_OK;
}

/* Per distinct anchor size below the head's: u64 size, u8 proof length,
 * the consistency proof (checked against both roots).  An anchor the
 * journal is not consistent with stops the export. */
static cairn_err put_anchors(cairn_journal *j, cairn_txn *txn,
                             const cairn__anchor_note *a, size_t n,
                             const cairn_verify_head *h, cairn_wr *w)
{
    uint8_t proof[CAIRN_MT_MAX_PROOF][HASH];
    cairn_nodes nodes = {txn, CAIRN_DBI_TREE};
    char why[200];
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t m = a[i].size;
        cairn_err err = m > h->size ? CAIRN_ETAMPERED : CAIRN_OK;
        if (err == CAIRN_OK) {
            err = cairn__mt_prove_consistency(m, h->size, cairn__nodes_get,
                                              &nodes, proof, CAIRN_MT_MAX_PROOF,
                                              &count, why, sizeof(why));
        }
        if (err == CAIRN_OK && cairn__mt_check_consistency(
                                   m, h->size, a[i].root, h->root,
                                   (const uint8_t(*)[HASH])proof, count) != 0) {
            err = CAIRN_ETAMPERED;
        }
        if (err != CAIRN_OK) {
            return cairn__jfail(
                j, err == CAIRN_ETAMPERED ? err : CAIRN_ECORRUPT,
                "the anchor of %llu records is not consistent with the "
                "journal's signed head of %llu records%s",
                (unsigned long long)m, (unsigned long long)h->size,
                m > h->size ? " (the journal is shorter: rolled back?)" : "");
        }
        if (m == h->size || (i > 0 && a[i - 1].size == m)) {
            continue; /* equal roots need no proof; one entry per size */
        }
        cairn__wr_u64(w, m);
        cairn__wr_u8(w, (uint8_t)count);
        cairn__wr_bytes(w, proof, count * HASH);
    }
    return CAIRN_OK;
}

/* How many entries put_anchors() writes (the count goes first). */
static size_t count_entries(const cairn__anchor_note *a, size_t n,
                            uint64_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i].size < size && (i == 0 || a[i - 1].size != a[i].size)) {
            k++;
        }
    }
    return k;
}

/* The run's state blob (as stored; verify proved it) and its state. */
static cairn_err run_state(cairn_journal *j, cairn_txn *txn, uint64_t run_num,
                           const uint8_t **v, size_t *vl, cairn_state *st)
{
    uint8_t key[8];
    int found = 0;
    char why[200] = "empty or too large";
    cairn__store64_be(key, run_num);
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_RUNS, key, sizeof(key), v, vl, &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    err = !found || *vl == 0 || *vl > CAIRN__BUNDLE_STATE_MAX
              ? CAIRN_ECORRUPT
              : cairn__runstate_decode(txn, *v, *vl, st, why, sizeof(why));
    if (err != CAIRN_OK) {
        /* out of memory stays CAIRN_ENOMEM, rows that do not prove
         * CAIRN_ETAMPERED; anything else is a corrupt state */
        err = err == CAIRN_ENOMEM || err == CAIRN_ETAMPERED ? err
                                                            : CAIRN_ECORRUPT;
        return cairn__jfail(j, err, "run %llu: state: %s",
                            (unsigned long long)run_num,
                            found ? why : "missing");
    }
    return CAIRN_OK;
}

static cairn_err build(cairn_journal *j, cairn_txn *txn, uint64_t run_num,
                       const cairn_verify_report *rep,
                       const cairn__anchor_note *a, size_t n_anchors,
                       cairn__export_v2 *x)
{
    const cairn_verify_head *h = &rep->journal_head;
    uint8_t proof[CAIRN_MT_MAX_PROOF][HASH], leaf[HASH];
    size_t tree_n = 0, state_n = 0;
    const uint8_t *head, *blob;
    size_t head_len, blob_len;
    cairn_state st;
    cairn_bundle_info info;
    memset(&st, 0, sizeof(st));
    cairn_err err = meta_head(j, txn, &head, &head_len);
    if (err == CAIRN_OK) {
        err = run_state(j, txn, run_num, &blob, &blob_len, &st);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    x->exported_ns = cairn__wall_ns();
    x->tree_size = h->size;
    cairn__wr_u64(&x->trailer, x->exported_ns);
    cairn__wr_u16(&x->trailer, (uint16_t)head_len);
    cairn__wr_bytes(&x->trailer, head, head_len);
    err = put_inclusion(j, txn, CAIRN_DBI_TREE, st.last_pos - 1, h->size,
                        rep->head, h->root, &x->trailer, proof, &tree_n);
    if (err == CAIRN_OK) {
        err = cairn__tlog_proof_encode(&x->tlog_proof, NULL, 0, st.last_pos - 1,
                                       (const uint8_t(*)[HASH])proof, tree_n,
                                       (const char *)head, head_len);
    }
    if (err == CAIRN_OK) {
        cairn__wr_u32(&x->trailer, (uint32_t)blob_len);
        cairn__wr_bytes(&x->trailer, blob, blob_len);
        cairn__leaf_hash(blob, blob_len, leaf);
        err = put_inclusion(j, txn, CAIRN_DBI_SMAP, run_num - 1, h->runs, leaf,
                            h->state_root, &x->trailer, proof, &state_n);
    }
    if (err == CAIRN_OK) {
        cairn__wr_u8(&x->trailer,
                     (uint8_t)count_entries(a, n_anchors, h->size));
        err = put_anchors(j, txn, a, n_anchors, h, &x->trailer);
    }
    if (err == CAIRN_OK && x->keys != NULL && x->keys->n > 0) {
        err = cairn__bundle_keys_put(j, txn, x->keys, h, &x->trailer);
    }
    if (err == CAIRN_OK) {
        memset(&info, 0, sizeof(info));
        err = cairn__bundle_state(&st, &info);
        x->state = info.state;
    }
    cairn__state_free(&st);
    if (err == CAIRN_OK) {
        err = cairn__wr_status(&x->trailer);
        err = err == CAIRN_OK ? cairn__wr_status(&x->tlog_proof) : err;
    }
    return err;
}

cairn_err cairn__export_v2_build(cairn_journal *j, cairn_txn *txn,
                                 uint64_t run_num, const cairn_signer *signer,
                                 const cairn_verify_report *rep,
                                 const cairn_export_opts *opts,
                                 cairn__export_v2 *x)
{
    cairn__anchor_note *a = NULL;
    cairn__wr_init(&x->trailer, CAIRN__BUNDLE_STATE_MAX + 64u * 1024u);
    cairn__wr_init(&x->tlog_proof, 4u * CAIRN__BUNDLE_HEAD_MAX);
    if (!rep->journal_head.present || !rep->journal_head.signature_ok) {
        return cairn__jfail(j, CAIRN_EKEYMISMATCH,
                            "the journal head is not signed by the key "
                            "given: no version-2 bundle");
    }
    cairn_err err = load_anchors(j, opts, signer->pk, x->keys, &a);
    if (err == CAIRN_OK) {
        err = build(j, txn, run_num, rep, a, opts->n_anchors, x);
    }
    free(a);
    return err;
}
