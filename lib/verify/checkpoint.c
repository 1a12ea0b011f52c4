/*
 * checkpoint.c - the journal's current signed head as a checkpoint
 * (docs/FORMAT.md section 18.1): reading it for `cairn checkpoint`, the
 * tlog-witness add-checkpoint request body with its consistency proof,
 * and the consistency of a saved checkpoint with the head.
 *
 * Every proof handed out or accepted is built from the stored `tree`
 * nodes and then checked against the head's root (RFC 9162 section
 * 2.1.4.2): a forged node gives no proof, never a wrong one.
 */
#include "verify/checkpoint.h"
#include "verify/anchor_note.h"

#include "format/note.h"
#include "journal/head.h"
#include "journal/journal.h"

#include <string.h>

/* ---- the current head --------------------------------------------------- */

cairn_err cairn__anchor_head(cairn_journal *j, cairn_txn *txn,
                             const cairn_pubkey *pinned,
                             cairn_journal_checkpoint *cp, char *detail,
                             size_t detail_len)
{
    cairn_verify_report rep;
    const uint8_t *v;
    size_t vl;
    int found = 0;
    memset(cp, 0, sizeof(*cp));
    cairn__anchor_origin(j->journal_id, cp->origin);
    if (j->format < 2) {
        return cairn__fail(detail, detail_len, CAIRN_EVERSION,
                           "journal format %u has no signed head: run "
                           "`cairn migrate` to make it format 2",
                           (unsigned)j->format);
    }
    cairn__report_init(&rep, "", pinned);
    cairn_err err = cairn__verify_head_read(txn, j->journal_id, pinned, &rep);
    if (err == CAIRN_OK && rep.journal_head.present) {
        err = cairn__verify_head_counts(txn, &rep);
    }
    if (err == CAIRN_ETAMPERED) {
        return cairn__fail(detail, detail_len, err, "%s", rep.reason);
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_get(txn, CAIRN_DBI_META, CAIRN__HEAD_KEY,
                             strlen(CAIRN__HEAD_KEY), &v, &vl, &found);
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "reading the head: %s",
                           cairn__store_detail(j->store));
    }
    if (!found || !rep.journal_head.present) {
        cairn__mt_empty_root(cp->root);
        cairn__mt_empty_root(cp->state_root);
        return cairn__fail(detail, detail_len, CAIRN_ENOTHING,
                           "the journal is empty: no signed head yet (it "
                           "is written with the first run)");
    }
    if (vl > CAIRN_CHECKPOINT_NOTE_MAX) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "head: %zu bytes (at most %d)", vl,
                           CAIRN_CHECKPOINT_NOTE_MAX);
    }
    const cairn_verify_head *h = &rep.journal_head;
    cp->size = h->size;
    memcpy(cp->root, h->root, CAIRN_HASH_BYTES);
    cp->runs = h->runs;
    memcpy(cp->state_root, h->state_root, CAIRN_HASH_BYTES);
    cp->time_ns = h->time_ns;
    cp->is_signed = h->is_signed;
    cp->signature_ok = h->signature_ok;
    cp->key_mismatch = h->key_mismatch;
    memcpy(cp->key_id, h->key_id, sizeof(cp->key_id));
    memcpy(cp->note, v, vl);
    cp->note[vl] = '\0';
    cp->note_len = vl;
    return CAIRN_OK;
}

cairn_err cairn__anchor_read(cairn_journal *j, cairn_txn **txn, char *detail,
                             size_t detail_len)
{
    cairn_err err = cairn__store_read(j->store, txn);
    if (err != CAIRN_OK) {
        *txn = NULL;
        return cairn__fail(detail, detail_len, err,
                           "beginning a read transaction: %s",
                           cairn__store_detail(j->store));
    }
    return CAIRN_OK;
}

cairn_err cairn_journal_checkpoint_get(cairn_journal *journal,
                                       const cairn_pubkey *pinned,
                                       cairn_journal_checkpoint *out,
                                       char *detail, size_t detail_len)
{
    cairn_txn *txn;
    cairn__clear(detail, detail_len);
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (journal == NULL || out == NULL) {
        return CAIRN_EINVAL;
    }
    cairn_err err = cairn__anchor_read(journal, &txn, detail, detail_len);
    if (err == CAIRN_OK) {
        err = cairn__anchor_head(journal, txn, pinned, out, detail, detail_len);
        cairn__txn_end(txn);
    }
    if (err != CAIRN_OK) {
        memset(out, 0, sizeof(*out));
    }
    return err;
}

/* ---- consistency ----------------------------------------------------------
 */

cairn_err cairn__anchor_consistent(cairn_txn *txn, uint64_t m,
                                   const uint8_t root_m[CAIRN_HASH_BYTES],
                                   uint64_t n,
                                   const uint8_t root_n[CAIRN_HASH_BYTES],
                                   int *ok)
{
    uint8_t proof[CAIRN_MT_MAX_PROOF][CAIRN_HASH_BYTES];
    size_t count = 0;
    cairn_nodes nodes = {txn, CAIRN_DBI_TREE};
    char why[200];
    *ok = 0;
    if (m > n) {
        return CAIRN_OK;
    }
    if (m < n && m > 0) {
        cairn_err err = cairn__mt_prove_consistency(
            m, n, cairn__nodes_get, &nodes, proof, CAIRN_MT_MAX_PROOF, &count,
            why, sizeof(why));
        if (err == CAIRN_ETAMPERED) {
            return CAIRN_OK; /* a node is missing or resized: no proof */
        }
        if (err != CAIRN_OK) {
            return err;
        }
    }
    *ok = cairn__mt_check_consistency(m, n, root_m, root_n,
                                      (const uint8_t(*)[CAIRN_HASH_BYTES])proof,
                                      count) == 0;
    return CAIRN_OK;
}

/* ---- the add-checkpoint request --------------------------------------- */

static cairn_err request_body(cairn_txn *txn,
                              const cairn_journal_checkpoint *cp, uint64_t old,
                              cairn_wr *w, char *detail, size_t detail_len)
{
    uint8_t proof[CAIRN_MT_MAX_PROOF][CAIRN_HASH_BYTES];
    uint8_t old_root[CAIRN_HASH_BYTES];
    size_t count = 0;
    cairn_nodes nodes = {txn, CAIRN_DBI_TREE};
    char why[200] = "";
    cairn_err err = CAIRN_OK;
    if (old > 0 && old < cp->size) {
        err = cairn__mt_root(old, cairn__nodes_get, &nodes, old_root, why,
                             sizeof(why));
        if (err == CAIRN_OK) {
            err = cairn__mt_prove_consistency(old, cp->size, cairn__nodes_get,
                                              &nodes, proof, CAIRN_MT_MAX_PROOF,
                                              &count, why, sizeof(why));
        }
        if (err == CAIRN_OK &&
            cairn__mt_check_consistency(
                old, cp->size, old_root, cp->root,
                (const uint8_t(*)[CAIRN_HASH_BYTES])proof, count) != 0) {
            err = CAIRN_ETAMPERED;
            cairn__fmt(why, sizeof(why),
                       "the proof does not lead to the "
                       "head's root");
        }
        if (err != CAIRN_OK) {
            return cairn__fail(
                detail, detail_len, err,
                "no consistency proof from size %llu to the head (%llu "
                "records) from the stored tree nodes: %s",
                (unsigned long long)old, (unsigned long long)cp->size,
                why[0] != '\0' ? why : "a node is missing or resized");
        }
    }
    char line[64];
    cairn__fmt(line, sizeof(line), "old %llu\n", (unsigned long long)old);
    cairn__wr_bytes(w, line, strlen(line));
    for (size_t i = 0; i < count; i++) {
        cairn__note_wr_b64(w, proof[i], CAIRN_HASH_BYTES);
        cairn__wr_bytes(w, "\n", 1);
    }
    cairn__wr_bytes(w, "\n", 1);
    cairn__wr_bytes(w, cp->note, cp->note_len);
    return CAIRN_OK;
}

cairn_err cairn_checkpoint_request(cairn_journal *journal,
                                   const cairn_pubkey *pinned,
                                   uint64_t old_size,
                                   cairn_journal_checkpoint *cp, char *buf,
                                   size_t cap, size_t *len, char *detail,
                                   size_t detail_len)
{
    cairn_journal_checkpoint head;
    cairn_txn *txn;
    cairn__clear(detail, detail_len);
    if (len != NULL) {
        *len = 0;
    }
    if (cp != NULL) {
        memset(cp, 0, sizeof(*cp));
    }
    if (journal == NULL || buf == NULL || len == NULL || cap == 0) {
        return CAIRN_EINVAL;
    }
    buf[0] = '\0';
    cairn_err err = cairn__anchor_read(journal, &txn, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn__anchor_head(journal, txn, pinned, &head, detail, detail_len);
    if (err == CAIRN_OK && old_size > head.size) {
        err = cairn__fail(detail, detail_len, CAIRN_EINVAL,
                          "old size %llu is larger than the journal's "
                          "head (%llu records)",
                          (unsigned long long)old_size,
                          (unsigned long long)head.size);
    }
    cairn_wr w;
    cairn__wr_init(&w, cap - 1);
    if (err == CAIRN_OK) {
        err = request_body(txn, &head, old_size, &w, detail, detail_len);
    }
    cairn__txn_end(txn);
    cairn_err werr = cairn__wr_status(&w);
    if (err == CAIRN_OK && werr != CAIRN_OK) {
        err = cairn__fail(detail, detail_len, werr,
                          "the request does not fit in %zu bytes", cap);
    }
    if (err == CAIRN_OK) {
        memcpy(buf, w.p, w.len);
        buf[w.len] = '\0';
        *len = w.len;
        if (cp != NULL) {
            *cp = head;
        }
    }
    cairn__wr_free(&w);
    return err;
}
