/*
 * head.c - reading and proving the journal-wide head of format 2 (see
 * head.h), and the node storage of its two trees.
 */
#include "journal/head.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "format/merkle.h"
#include "format/note.h"
#include "journal/keyhist.h"
#include "keys/key.h"

#include <stdio.h>
#include <string.h>

void cairn__head_origin(const cairn_journal *j, char out[CAIRN__ORIGIN_MAX])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = sizeof(CAIRN__ORIGIN_PREFIX) - 1;
    memcpy(out, CAIRN__ORIGIN_PREFIX, n);
    for (size_t i = 0; i < CAIRN_JOURNAL_ID_BYTES; i++) {
        out[n++] = hex[j->journal_id[i] >> 4];
        out[n++] = hex[j->journal_id[i] & 15];
    }
    out[n] = '\0';
}

/* ---- node storage ------------------------------------------------------ */

static void node_key(uint8_t key[9], unsigned level, uint64_t index)
{
    key[0] = (uint8_t)level;
    cairn__store64_be(key + 1, index);
}

cairn_err cairn__nodes_get(void *ctx, unsigned level, uint64_t index,
                           uint8_t out[CAIRN_HASH_BYTES])
{
    cairn_nodes *n = ctx;
    uint8_t key[9];
    const uint8_t *v;
    size_t vl;
    int found;
    if (level > 255) {
        return CAIRN_EINVAL;
    }
    node_key(key, level, index);
    cairn_err err =
        cairn__txn_get(n->txn, n->dbi, key, sizeof(key), &v, &vl, &found);
    if (err != CAIRN_OK) {
        return err;
    }
    if (!found || vl != CAIRN_HASH_BYTES) {
        /* Missing or resized: the proof it belongs to fails. */
        return CAIRN_ETAMPERED;
    }
    memcpy(out, v, CAIRN_HASH_BYTES);
    return CAIRN_OK;
}

cairn_err cairn__nodes_put(void *ctx, unsigned level, uint64_t index,
                           const uint8_t h[CAIRN_HASH_BYTES])
{
    cairn_nodes *n = ctx;
    uint8_t key[9];
    if (level > 255) {
        return CAIRN_EINVAL;
    }
    node_key(key, level, index);
    return cairn__txn_put(n->txn, n->dbi, key, sizeof(key), h, CAIRN_HASH_BYTES,
                          0);
}

void cairn__state_leaf(const uint8_t *blob, size_t len,
                       uint8_t out[CAIRN_HASH_BYTES])
{
    cairn__leaf_hash(blob, len, out);
}

/* ---- the head ------------------------------------------------------------ */

/* The body's fields: exactly the origin, size, root and the two cairn
 * extension lines, in this order. */
static cairn_err parse_body(const cairn_journal *j, const char *text,
                            size_t len, cairn_head *h, char *detail,
                            size_t detail_len)
{
    cairn_tlog_checkpoint cp;
    char why[256], origin[CAIRN__ORIGIN_MAX];
    if (cairn__tlog_checkpoint_parse(text, len, &cp, why, sizeof(why)) !=
        CAIRN_OK) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "head: not a checkpoint: %s", why);
    }
    cairn__head_origin(j, origin);
    if (cp.origin_len != strlen(origin) ||
        memcmp(cp.origin, origin, cp.origin_len) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "head: origin \"%.*s\" is not this journal's "
                           "(\"%s\")",
                           (int)(cp.origin_len > 80 ? 80 : cp.origin_len),
                           cp.origin, origin);
    }
    h->size = cp.size;
    memcpy(h->root, cp.root, CAIRN_HASH_BYTES);
    size_t bad =
        cairn__tlog_cairn_ext_parse(&cp, &h->runs, h->state_root, &h->time_ns);
    if (bad > cp.n_ext) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "head: the cairn-state and cairn-time lines are "
                           "missing");
    }
    if (bad != 0) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "head: extension line %zu is not %s", bad,
                           bad == 1   ? "\"cairn-state <runs> <root>\""
                           : bad == 2 ? "\"cairn-time <ns>\""
                                      : "expected (only two exist)");
    }
    return CAIRN_OK;
}

/* The number of entries of @p dbi and, for records and runs, that the
 * keys are exactly 1..count (the last key is count): leaf i of a tree is
 * key i + 1, which a gap would shift. */
static cairn_err count_of(cairn_journal *j, cairn_txn *txn, cairn_dbi dbi,
                          uint64_t *count, char *detail, size_t detail_len)
{
    const uint8_t *k;
    size_t kl = 0;
    int found = 0;
    cairn_err err = cairn__txn_count(txn, dbi, count);
    if (err == CAIRN_OK && *count > 0) {
        err = cairn__txn_last_key(txn, dbi, &k, &kl, &found);
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "%s",
                           cairn__store_detail(j->store));
    }
    if (*count > 0 && (!found || kl != 8 || cairn__load64_be(k) != *count)) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "%s: %llu entries, but the keys are not 1..%llu",
                           cairn__dbi_name(dbi), (unsigned long long)*count,
                           (unsigned long long)*count);
    }
    return CAIRN_OK;
}

void cairn__head_remember(cairn_journal *j, const uint8_t *v, size_t vl)
{
    uint8_t digest[CAIRN_HASH_BYTES];
    cairn__sha256(v, vl, digest);
    pthread_mutex_lock(&j->sync->head_mu);
    memcpy(j->sync->head_seen, digest, sizeof(digest));
    j->sync->head_seen_ok = 1;
    pthread_mutex_unlock(&j->sync->head_mu);
}

void cairn__head_forget(cairn_journal *j)
{
    pthread_mutex_lock(&j->sync->head_mu);
    j->sync->head_seen_ok = 0;
    pthread_mutex_unlock(&j->sync->head_mu);
}

/* A head the signer's key signed, in a journal whose key history retired
 * that key (docs/FORMAT.md section 24), was signed by a key no longer in
 * force: someone holding the retired key forged it.  Checked when a head
 * is proven afresh (one seek when the journal never rotated). */
static cairn_err check_in_force(const cairn_journal *j, cairn_txn *txn,
                                char *detail, size_t detail_len)
{
    cairn_keyhist kh;
    uint64_t bad = 0;
    char why[256];
    cairn_err err =
        cairn__keyhist_load(txn, j->journal_id, &kh, &bad, why, sizeof(why));
    if (err == CAIRN_ETAMPERED) {
        return cairn__fail(detail, detail_len, err, "key history: %s", why);
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "key history: %s",
                           why[0] != '\0' ? why
                                          : cairn__store_detail(j->store));
    }
    const cairn_key_entry *last = kh.n > 0 ? &kh.keys[kh.n - 1] : NULL;
    if (last != NULL &&
        (memcmp(last->key_id, j->signer->key_id, CAIRN_KEY_ID_BYTES) != 0 ||
         memcmp(last->pk, j->signer->pk, CAIRN_PUBLIC_KEY_BYTES) != 0)) {
        char was[17], now[17];
        cairn__key_id_text(j->signer->key_id, was);
        cairn__key_id_text(last->key_id, now);
        err = cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                          "head: signed by key %s, which the journal's key "
                          "history retired (key %s signs from position "
                          "%llu): a retired key signed the head",
                          was, now, (unsigned long long)last->from);
    }
    cairn__keyhist_free(&kh);
    return err;
}

/* Is the signature of @p v (a signed note) the signer's?  An unchanged
 * head is proven once per handle. */
static cairn_err prove_signature(cairn_journal *j, cairn_txn *txn,
                                 const uint8_t *v, size_t vl,
                                 const cairn_note *note, char *detail,
                                 size_t detail_len)
{
    uint8_t digest[CAIRN_HASH_BYTES];
    cairn__sha256(v, vl, digest);
    pthread_mutex_lock(&j->sync->head_mu);
    int seen = j->sync->head_seen_ok &&
               memcmp(j->sync->head_seen, digest, sizeof(digest)) == 0;
    pthread_mutex_unlock(&j->sync->head_mu);
    if (seen) {
        return CAIRN_OK;
    }
    char origin[CAIRN__ORIGIN_MAX], why[256];
    cairn__head_origin(j, origin);
    cairn_err err = cairn__note_verify(note, origin, strlen(origin),
                                       j->signer->pk, why, sizeof(why));
    if (err == CAIRN_EKEYMISMATCH) {
        return cairn__fail(detail, detail_len, err,
                           "head: not signed by this key (%s)", why);
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "head: bad signature: %s", why);
    }
    err = check_in_force(j, txn, detail, detail_len);
    if (err == CAIRN_OK) {
        cairn__head_remember(j, v, vl);
    }
    return err;
}

/* A signer whose key does not sign the head: when the journal's key
 * history retired that key, say so in @p out (the rotation records are
 * not authenticated here; the refusal does not depend on them). */
static void rotated_why(const cairn_journal *j, cairn_txn *txn, char *out,
                        size_t out_len)
{
    cairn_keyhist kh;
    uint64_t bad = 0;
    if (cairn__keyhist_load(txn, j->journal_id, &kh, &bad, NULL, 0) !=
        CAIRN_OK) {
        return;
    }
    for (size_t i = 0; i + 1 < kh.n; i++) {
        const cairn_key_entry *k = &kh.keys[i], *next = &kh.keys[i + 1];
        if (memcmp(k->key_id, j->signer->key_id, CAIRN_KEY_ID_BYTES) == 0 &&
            memcmp(k->pk, j->signer->pk, CAIRN_PUBLIC_KEY_BYTES) == 0) {
            char was[17], now[17];
            cairn__key_id_text(k->key_id, was);
            cairn__key_id_text(kh.keys[kh.n - 1].key_id, now);
            cairn__fmt(out, out_len,
                       "key %s was rotated out by the journal's rotation "
                       "%zu at position %llu (cairn rotate-key); the "
                       "journal is signed by key %s now: write with that "
                       "key",
                       was, i, (unsigned long long)next->from, now);
            break;
        }
    }
    cairn__keyhist_free(&kh);
}

cairn_err cairn__head_load(cairn_journal *j, cairn_txn *txn, cairn_head *h,
                           char *detail, size_t detail_len)
{
    memset(h, 0, sizeof(*h));
    if (j->format < 2) {
        return cairn__fail(detail, detail_len, CAIRN_EVERSION,
                           "journal format %u has no signed head: run "
                           "`cairn migrate` to write to it",
                           j->format);
    }
    const uint8_t *v;
    size_t vl;
    int found;
    uint64_t records, runs;
    cairn_err err = cairn__txn_get(txn, CAIRN_DBI_META, CAIRN__HEAD_KEY,
                                   strlen(CAIRN__HEAD_KEY), &v, &vl, &found);
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "%s",
                           cairn__store_detail(j->store));
    }
    if ((err = count_of(j, txn, CAIRN_DBI_RECORDS, &records, detail,
                        detail_len)) != CAIRN_OK ||
        (err = count_of(j, txn, CAIRN_DBI_RUNS, &runs, detail, detail_len)) !=
            CAIRN_OK) {
        return err;
    }
    if (!found) {
        if (records != 0 || runs != 0) {
            return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                               "head: missing, but the journal holds %llu "
                               "records of %llu runs",
                               (unsigned long long)records,
                               (unsigned long long)runs);
        }
        cairn__mt_empty_root(h->root);
        cairn__mt_empty_root(h->state_root);
        return CAIRN_OK;
    }
    if (vl == 0 || vl > CAIRN__HEAD_MAX) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "head: %zu bytes (1..%u)", vl, CAIRN__HEAD_MAX);
    }
    const char *text = (const char *)v;
    size_t text_len = vl;
    cairn_note note;
    h->present = 1;
    h->is_signed = memmem(v, vl, "\n\n", 2) != NULL;
    if (h->is_signed) {
        char why[256];
        if (cairn__note_parse(text, vl, &note, why, sizeof(why)) != CAIRN_OK) {
            return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                               "head: not a signed note: %s", why);
        }
        text = note.text;
        text_len = note.text_len;
    }
    err = parse_body(j, text, text_len, h, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    if (h->size != records || h->runs != runs) {
        return cairn__fail(
            detail, detail_len, CAIRN_ETAMPERED,
            "head: covers %llu records of %llu runs, the "
            "journal holds %llu records of %llu runs",
            (unsigned long long)h->size, (unsigned long long)h->runs,
            (unsigned long long)records, (unsigned long long)runs);
    }
    if (h->is_signed && j->signer != NULL) {
        err = prove_signature(j, txn, v, vl, &note, h->foreign_why,
                              sizeof(h->foreign_why));
        h->proven = err == CAIRN_OK;
        if (err == CAIRN_EKEYMISMATCH) {
            h->foreign = 1;
            rotated_why(j, txn, h->foreign_why, sizeof(h->foreign_why));
            err = CAIRN_OK;
        } else if (err != CAIRN_OK) {
            cairn__fmt(detail, detail_len, "%s", h->foreign_why);
            h->foreign_why[0] = '\0';
        }
    }
    return err;
}

cairn_err cairn__head_prove_state(cairn_txn *txn, const cairn_head *h,
                                  uint64_t run_num, const uint8_t *leaf,
                                  char *detail, size_t detail_len)
{
    if (run_num == 0 || run_num > h->runs) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "run %llu is not in the signed state map (%llu "
                           "runs)",
                           (unsigned long long)run_num,
                           (unsigned long long)h->runs);
    }
    uint8_t proof[CAIRN_MT_MAX_PROOF][CAIRN_HASH_BYTES];
    size_t count = 0;
    cairn_nodes nodes = {txn, CAIRN_DBI_SMAP};
    char why[200];
    why[0] = '\0';
    cairn_err err = cairn__mt_prove_inclusion(
        run_num - 1, h->runs, cairn__nodes_get, &nodes, proof,
        CAIRN_MT_MAX_PROOF, &count, why, sizeof(why));
    if (err == CAIRN_OK &&
        cairn__mt_check_inclusion(run_num - 1, h->runs, leaf,
                                  (const uint8_t(*)[CAIRN_HASH_BYTES])proof,
                                  count, h->state_root) != 0) {
        err = CAIRN_ETAMPERED;
        cairn__fmt(why, sizeof(why),
                   "its state is not the one the head "
                   "signs");
    }
    if (err == CAIRN_ETAMPERED) {
        return cairn__fail(detail, detail_len, err, "run %llu: %s",
                           (unsigned long long)run_num,
                           why[0] != '\0' ? why
                                          : "a state map node is "
                                            "missing or resized");
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "run %llu: state map: %s",
                           (unsigned long long)run_num, why);
    }
    return CAIRN_OK;
}
