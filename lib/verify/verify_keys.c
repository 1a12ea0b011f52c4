/*
 * verify_keys.c - the verifier's side of key rotation (docs/FORMAT.md
 * section 24.4): the journal's key history, checked, and which keys a
 * pinned key makes trusted.
 *
 * A pinned key that is in the chain K0 -> K1 -> ... -> Kn trusts the whole
 * chain: the keys after it because each rotation is signed by the key it
 * retires, the keys before it because the head (signed by Kn, trusted
 * forward) covers the log tree that holds every rotation record naming
 * them (each record is proven in the tree here).  Then:
 *   - the head of size N must be signed by the key in force at N (a head
 *     signed by a retired key is TAMPERED, field "head");
 *   - a checkpoint at position p by the key in force at p, a run created
 *     at position p under that key (verify_core.c, field
 *     "checkpoint.key_id" / "key_id").
 * A broken history (bad signature, a rotation not by the then-current
 * key, moved, removed or inserted) is TAMPERED, field "rotation".
 */
#include "verify/verify.h"

#include "base/bytes.h"
#include "format/note.h"

#include <stdlib.h>
#include <string.h>

void cairn__vkeys_free(cairn__vkeys *vk)
{
    cairn__keyhist_free(&vk->kh);
    free(vk->set);
    vk->set = NULL;
    vk->trusted = 0;
}

/* Is @p pinned (a set) holding a key of the chain, id and public key? */
static int chain_pinned(const cairn_keyhist *kh, const cairn_pubkey *pinned)
{
    for (const cairn_pubkey *k = pinned; k != NULL; k = k->next) {
        if (cairn__keyhist_find(kh, k->key_id, k->pk) != NULL) {
            return 1;
        }
    }
    return 0;
}

cairn_err cairn__vkeys_load(cairn_txn *txn,
                            const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                            const cairn_pubkey *pinned, cairn__vkeys *vk,
                            cairn_verify_report *rep)
{
    char why[sizeof(rep->reason)];
    uint64_t bad_pos = 0;
    memset(vk, 0, sizeof(*vk));
    cairn_err err = cairn__keyhist_load(txn, journal_id, &vk->kh, &bad_pos, why,
                                        sizeof(why));
    if (err == CAIRN_ETAMPERED) {
        cairn__report_tampered(rep, bad_pos != 0, bad_pos, "rotation", NULL,
                               NULL, "%s", why);
        return err;
    }
    return err == CAIRN_OK ? cairn__vkeys_trust(vk, pinned) : err;
}

cairn_err cairn__vkeys_trust(cairn__vkeys *vk, const cairn_pubkey *pinned)
{
    if (vk->kh.n == 0 || !chain_pinned(&vk->kh, pinned)) {
        return CAIRN_OK;
    }
    vk->set = calloc(vk->kh.n, sizeof(*vk->set));
    if (vk->set == NULL) {
        cairn__vkeys_free(vk);
        return CAIRN_ENOMEM;
    }
    for (size_t i = 0; i < vk->kh.n; i++) {
        memcpy(vk->set[i].key_id, vk->kh.keys[i].key_id, CAIRN_KEY_ID_BYTES);
        memcpy(vk->set[i].pk, vk->kh.keys[i].pk, CAIRN_PUBLIC_KEY_BYTES);
        /* The current key first: the head is tried with it first. */
        vk->set[i].next = i > 0 ? &vk->set[i - 1] : NULL;
    }
    vk->trusted = 1;
    return CAIRN_OK;
}

const cairn_pubkey *cairn__vkeys_pinned(const cairn__vkeys *vk,
                                        const cairn_pubkey *pinned)
{
    return vk->trusted ? &vk->set[vk->kh.n - 1] : pinned;
}

/* The key of the chain whose note key id is @p nid, or NULL. */
static const cairn_key_entry *by_note_id(const cairn_keyhist *kh,
                                         const char *origin, uint32_t nid)
{
    for (size_t i = 0; i < kh->n; i++) {
        if (cairn__note_key_id(origin, strlen(origin), CAIRN_NOTE_ALG_ED25519,
                               kh->keys[i].pk) == nid) {
            return &kh->keys[i];
        }
    }
    return NULL;
}

cairn_err cairn__vkeys_check_head(cairn_txn *txn, const cairn__vkeys *vk,
                                  const uint8_t journal_id[16],
                                  cairn_verify_report *rep)
{
    const cairn_verify_head *h = &rep->journal_head;
    if (vk->kh.n == 0 || rep->format != 2 || !h->present || !h->is_signed) {
        return CAIRN_OK;
    }
    char origin[sizeof("cairn/journal/") + 2 * CAIRN_JOURNAL_ID_BYTES];
    memcpy(origin, "cairn/journal/", sizeof("cairn/journal/") - 1);
    cairn__hex(journal_id, CAIRN_JOURNAL_ID_BYTES,
               origin + sizeof("cairn/journal/") - 1);
    const cairn_key_entry *want = cairn__keyhist_at(&vk->kh, h->size);
    const cairn_key_entry *got =
        by_note_id(&vk->kh, origin, cairn__load32_be(h->key_id));
    if (vk->trusted && h->signature_ok && got != want) {
        char g[17] = "?", w[17];
        if (got != NULL) {
            cairn__key_id_text(got->key_id, g);
        }
        cairn__key_id_text(want->key_id, w);
        cairn__report_tampered(rep, 0, 0, "head", w, g,
                               "the head (size %llu) is signed by key %s, "
                               "which is not the key in force at that size "
                               "(%s, from position %llu): a retired key "
                               "signed it",
                               (unsigned long long)h->size, g, w,
                               (unsigned long long)want->from);
        return CAIRN_ETAMPERED;
    }
    /* Every rotation record is in the tree the head signs. */
    cairn__vtree t;
    cairn__vtree_init(&t, txn, CAIRN_DBI_TREE, "rotation", rep);
    for (size_t i = 1; i < vk->kh.n; i++) {
        const cairn_key_entry *k = &vk->kh.keys[i];
        int ok = 0;
        cairn_err err = k->from > h->size
                            ? CAIRN_EINVAL
                            : cairn__vtree_prove_leaf(&t, h->size, k->from - 1,
                                                      k->leaf, h->root, &ok);
        if (err == CAIRN_ETAMPERED) {
            return err;
        }
        if (err == CAIRN_EINVAL || (err == CAIRN_OK && !ok)) {
            cairn__report_tampered(rep, 1, k->from, "rotation", NULL, NULL,
                                   "rotation %zu (position %llu) is not in "
                                   "the log tree the head signs",
                                   i - 1, (unsigned long long)k->from);
            return CAIRN_ETAMPERED;
        }
        if (err != CAIRN_OK) {
            return err;
        }
    }
    return CAIRN_OK;
}
