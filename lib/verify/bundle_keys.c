/*
 * bundle_keys.c - the key history a version-3 bundle carries
 * (docs/FORMAT.md section 26): every ROTATE record of the journal, in
 * order, each with its inclusion proof in the log tree of the bundle's
 * head.  Framing (strict, nothing decoded), reading the chain with the
 * journal's own rules (cairn__keyhist_push()), the checks against the
 * head, and the export side.
 *
 * The whole history is carried, from the journal's first rotation: its
 * first record chains to the keys genesis of the bundle's journal id, so
 * a record dropped, moved or edited anywhere breaks a rule the bundle
 * alone can check, and any key of the chain can be the pinned one.
 */
#include "verify/verify.h"

#include "base/bytes.h"
#include "journal/head.h"
#include "journal/journal.h"

#include <stdarg.h>
#include <string.h>

#define HASH CAIRN_HASH_BYTES
#define ORIGIN_PREFIX "cairn/journal/"
#define ORIGIN_LEN (sizeof(ORIGIN_PREFIX) - 1 + 2 * CAIRN_JOURNAL_ID_BYTES)

/* One entry of the block, as views into the bundle. */
typedef struct rot_entry {
    uint64_t pos;
    const uint8_t *rec;
    size_t len;
    const uint8_t *proof;
    size_t n_proof;
} rot_entry;

/* The next entry at @p r; -1 (r unchanged) when it is not all there. */
static int next_entry(cairn_rd *r, rot_entry *e)
{
    uint16_t len;
    uint8_t c;
    size_t off = r->off;
    if (cairn__rd_u64(r, &e->pos) != 0 || cairn__rd_u16(r, &len) != 0 ||
        len == 0 || cairn__rd_view(r, len, &e->rec) != 0 ||
        cairn__rd_u8(r, &c) != 0 || c > CAIRN_TLOG_PROOF_MAX_HASHES ||
        cairn__rd_view(r, (size_t)c * HASH, &e->proof) != 0) {
        r->off = off;
        return -1;
    }
    e->len = len;
    e->n_proof = c;
    return 0;
}

cairn_err cairn__bundle_keys_parse(cairn_rd *r, cairn__bundle_v2 *t,
                                   char *detail, size_t detail_len)
{
    uint16_t n;
    size_t off = r->off;
    if (cairn__rd_u16(r, &n) != 0 || n == 0 || n > CAIRN__MAX_ROTATIONS) {
        return cairn__bundle_fail(
            detail, detail_len, off,
            "key history: rotation count missing or out of range "
            "(1..%u)",
            CAIRN__MAX_ROTATIONS);
    }
    t->n_rotations = n;
    t->rotations = r->p + r->off;
    size_t start = r->off;
    for (size_t i = 0; i < n; i++) {
        rot_entry e;
        off = r->off;
        if (next_entry(r, &e) != 0) {
            return cairn__bundle_fail(
                detail, detail_len, off,
                "key history: rotation %zu: truncated, empty or "
                "proof over %u hashes",
                i, CAIRN_TLOG_PROOF_MAX_HASHES);
        }
        /* order is the chain's to check (bundle.rotation) */
        if (e.pos == 0 || e.pos >= CAIRN_MT_MAX_SIZE) {
            return cairn__bundle_fail(
                detail, detail_len, off,
                "key history: rotation %zu: position 0 or over "
                "2^63 - 1",
                i);
        }
    }
    t->rotations_len = r->off - start;
    return CAIRN_OK;
}

cairn_err
cairn__bundle_keys_load(const cairn__bundle_v2 *t,
                        const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                        cairn_keyhist *kh, cairn_verify_report *out)
{
    char why[300];
    cairn_rd r;
    memset(kh, 0, sizeof(*kh));
    cairn__rd_init(&r, t->rotations, t->rotations_len);
    for (size_t i = 0; i < t->n_rotations; i++) {
        rot_entry e;
        if (next_entry(&r, &e) != 0) {
            return CAIRN_EBUNDLE; /* unreachable: framing was checked */
        }
        cairn_err err = cairn__keyhist_push(journal_id, kh, e.pos, e.rec, e.len,
                                            why, sizeof(why));
        if (err == CAIRN_ETAMPERED) {
            cairn__report_tampered(out, 0, 0, "bundle.rotation", NULL, NULL,
                                   "the bundle's key history: %s", why);
        }
        if (err != CAIRN_OK) {
            return err;
        }
    }
    return CAIRN_OK;
}

/* The head is signed by the chain's last key (the one in force at N). */
static int check_head_key(const cairn_keyhist *kh,
                          const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                          cairn_verify_report *out)
{
    const cairn_verify_head *h = &out->journal_head;
    char origin[ORIGIN_LEN + 1], g[17] = "", w[17];
    memcpy(origin, ORIGIN_PREFIX, sizeof(ORIGIN_PREFIX) - 1);
    cairn__hex(journal_id, CAIRN_JOURNAL_ID_BYTES,
               origin + sizeof(ORIGIN_PREFIX) - 1);
    uint32_t got = cairn__load32_be(h->key_id);
    const cairn_key_entry *want = &kh->keys[kh->n - 1], *by = NULL;
    for (size_t i = 0; i < kh->n && by == NULL; i++) {
        if (cairn__note_key_id(origin, ORIGIN_LEN, CAIRN_NOTE_ALG_ED25519,
                               kh->keys[i].pk) == got) {
            by = &kh->keys[i];
        }
    }
    if (by == want) {
        return 0;
    }
    cairn__key_id_text(want->key_id, w);
    if (by != NULL) {
        cairn__key_id_text(by->key_id, g);
    } else {
        cairn__fmt(g, sizeof(g), "%08lx", (unsigned long)got);
    }
    cairn__report_tampered(out, 0, 0, "bundle.head", w, g,
                           "the bundle's journal head (size %llu) is signed "
                           "by %s %s, not by the key in force at that size "
                           "(%s, the last of the bundle's key history)%s",
                           (unsigned long long)h->size,
                           by != NULL ? "key" : "note key id", g, w,
                           by != NULL ? ": a retired key signed it" : "");
    return -1;
}

int cairn__bundle_keys_check(const cairn__bundle_v2 *t, const cairn_keyhist *kh,
                             const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                             cairn_verify_report *out)
{
    const cairn_verify_head *h = &out->journal_head;
    uint8_t proof[CAIRN_MT_MAX_PROOF][HASH];
    cairn_rd r;
    if (kh->n == 0 || check_head_key(kh, journal_id, out) != 0) {
        return kh->n == 0 ? 0 : -1;
    }
    cairn__rd_init(&r, t->rotations, t->rotations_len);
    for (size_t i = 1; i < kh->n; i++) {
        rot_entry e;
        const cairn_key_entry *k = &kh->keys[i];
        if (next_entry(&r, &e) != 0) {
            return -1; /* unreachable: framing was checked */
        }
        if (e.n_proof > 0) {
            memcpy(proof, e.proof, e.n_proof * HASH);
        }
        if (k->from > h->size ||
            cairn__mt_check_inclusion(k->from - 1, h->size, k->leaf,
                                      (const uint8_t(*)[HASH])proof, e.n_proof,
                                      h->root) != 0) {
            cairn__report_tampered(out, 0, 0, "bundle.rotation", NULL, NULL,
                                   "the bundle's key history: rotation %zu "
                                   "(position %llu) is not proven in the log "
                                   "tree of the head (%llu records)",
                                   i - 1, (unsigned long long)k->from,
                                   (unsigned long long)h->size);
            return -1;
        }
    }
    size_t n = strlen(out->reason);
    cairn__fmt(out->reason + n, sizeof(out->reason) - n,
               "%sthe key history (%zu rotation(s)) is proven under the "
               "journal head",
               n > 0 ? "; " : "", kh->n - 1);
    return 0;
}

cairn_err cairn__bundle_keys_put(cairn_journal *j, cairn_txn *txn,
                                 const cairn_keyhist *kh,
                                 const cairn_verify_head *h, cairn_wr *w)
{
    uint8_t proof[CAIRN_MT_MAX_PROOF][HASH], key[8];
    cairn_nodes nodes = {txn, CAIRN_DBI_TREE};
    char why[200] = "";
    size_t count = 0;
    cairn__wr_u16(w, (uint16_t)(kh->n - 1));
    for (size_t i = 1; i < kh->n; i++) {
        const cairn_key_entry *k = &kh->keys[i];
        const uint8_t *v = NULL;
        size_t vl = 0;
        int found = 0;
        cairn__store64_be(key, k->from);
        cairn_err err = cairn__txn_get(txn, CAIRN_DBI_RECORDS, key, sizeof(key),
                                       &v, &vl, &found);
        if (err != CAIRN_OK) {
            return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
        }
        uint8_t leaf[HASH];
        if (found) {
            cairn__leaf_hash(v, vl, leaf);
        }
        if (!found || vl == 0 || vl > CAIRN__BUNDLE_ROTATE_MAX ||
            memcmp(leaf, k->leaf, HASH) != 0 || k->from > h->size) {
            return cairn__jfail(j, CAIRN_ECORRUPT,
                                "rotation %zu (position %llu) changed under "
                                "the export",
                                i - 1, (unsigned long long)k->from);
        }
        err = cairn__mt_prove_inclusion(k->from - 1, h->size, cairn__nodes_get,
                                        &nodes, proof, CAIRN_MT_MAX_PROOF,
                                        &count, why, sizeof(why));
        if (err == CAIRN_OK &&
            (count > CAIRN_TLOG_PROOF_MAX_HASHES ||
             cairn__mt_check_inclusion(k->from - 1, h->size, k->leaf,
                                       (const uint8_t(*)[HASH])proof, count,
                                       h->root) != 0)) {
            err = CAIRN_ETAMPERED;
        }
        if (err != CAIRN_OK) {
            return cairn__jfail(j,
                                err == CAIRN_ETAMPERED ? err : CAIRN_ECORRUPT,
                                "no inclusion proof of rotation %zu (position "
                                "%llu) under the signed head of %llu records",
                                i - 1, (unsigned long long)k->from,
                                (unsigned long long)h->size);
        }
        cairn__wr_u64(w, k->from);
        cairn__wr_u16(w, (uint16_t)vl);
        cairn__wr_bytes(w, v, vl);
        cairn__wr_u8(w, (uint8_t)count);
        cairn__wr_bytes(w, proof, count * HASH);
    }
    return CAIRN_OK;
}

cairn_err cairn__bundle_keys_begin(
    const cairn__bundle_v2 *t, const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
    const uint8_t key_id[CAIRN_KEY_ID_BYTES],
    const uint8_t pk[CAIRN_PUBLIC_KEY_BYTES], const cairn_pubkey *pinned,
    cairn__vkeys *vk, cairn_vcore *v, cairn_verify_report *out)
{
    char e[17], f[17];
    memset(vk, 0, sizeof(*vk));
    cairn_err err = cairn__bundle_keys_load(t, journal_id, &vk->kh, out);
    if (err != CAIRN_OK) {
        return err;
    }
    if (cairn__keyhist_find(&vk->kh, key_id, pk) == NULL) {
        cairn__key_id_text(key_id, f);
        cairn__key_id_text(vk->kh.keys[0].key_id, e);
        cairn__report_tampered(out, 0, 0, "bundle.key", e, f,
                               "the bundle's key %s (id and public key) is "
                               "not a key of its key history",
                               f);
        return CAIRN_ETAMPERED;
    }
    err = cairn__vkeys_trust(vk, pinned);
    if (err != CAIRN_OK) {
        return err;
    }
    v->keys = &vk->kh;
    v->keys_trusted = vk->trusted;
    v->pinned = vk->trusted ? cairn__vkeys_pinned(vk, pinned) : NULL;
    if (!vk->trusted && pinned != NULL) {
        /* A pinned key outside the chain: a key mismatch, never
         * tampering (docs/FORMAT.md 24.4). */
        cairn__key_id_text(vk->kh.keys[0].key_id, e);
        cairn__key_id_text(vk->kh.keys[vk->kh.n - 1].key_id, f);
        out->key_mismatch = 1;
        cairn__fmt(v->mismatch, sizeof(v->mismatch),
                   "key mismatch: no pinned key is a key of the bundle's "
                   "key history (%zu keys, %s to %s); its signatures were "
                   "not checked",
                   vk->kh.n, e, f);
    }
    return CAIRN_OK;
}

/* The run's key for the header: the signer's, or, in a journal that
 * rotated its key (docs/FORMAT.md section 26), any key of the history
 * when the signer is the key in force now (it signs the head and the
 * .minisig; the bundle carries the history between them). */
cairn_err cairn__export_bind_key(cairn_journal *j, cairn_txn *txn,
                                 const char *run_id, const cairn_signer *signer,
                                 const cairn_state *st, cairn_keyhist *kh,
                                 uint8_t key_id[CAIRN_KEY_ID_BYTES],
                                 uint8_t pk[CAIRN_PUBLIC_KEY_BYTES])
{
    char want[17], have[17], now[17];
    uint64_t bad = 0;
    cairn_err err = cairn__keyhist_load(txn, j->journal_id, kh, &bad, j->detail,
                                        sizeof(j->detail));
    if (err != CAIRN_OK) {
        return err;
    }
    const cairn_key_entry *run_key =
        st->signed_run ? cairn__keyhist_find(kh, st->key_id, NULL) : NULL;
    const cairn_key_entry *cur = kh->n > 0 ? &kh->keys[kh->n - 1] : NULL;
    memcpy(key_id, signer->key_id, CAIRN_KEY_ID_BYTES);
    memcpy(pk, signer->pk, CAIRN_PUBLIC_KEY_BYTES);
    int same = st->signed_run &&
               memcmp(st->key_id, signer->key_id, CAIRN_KEY_ID_BYTES) == 0;
    cairn__key_id_text(st->key_id, want);
    cairn__key_id_text(signer->key_id, have);
    if (cur != NULL &&
        (memcmp(cur->key_id, signer->key_id, CAIRN_KEY_ID_BYTES) != 0 ||
         memcmp(cur->pk, signer->pk, CAIRN_PUBLIC_KEY_BYTES) != 0)) {
        cairn__key_id_text(cur->key_id, now);
        return cairn__jfail(j, CAIRN_EKEYMISMATCH,
                            "the journal rotated its key: it is signed by key "
                            "%s now; the key given is %s (a bundle is "
                            "exported with the key in force)",
                            now, have);
    }
    if (run_key != NULL) {
        memcpy(key_id, run_key->key_id, CAIRN_KEY_ID_BYTES);
        memcpy(pk, run_key->pk, CAIRN_PUBLIC_KEY_BYTES);
        return CAIRN_OK;
    }
    if (!same) {
        return cairn__jfail(j, CAIRN_EKEYMISMATCH,
                            "run %s is %s%s; the key given is %s", run_id,
                            st->signed_run ? "signed by key " : "unsigned",
                            st->signed_run ? want : "", have);
    }
    return CAIRN_OK;
}
