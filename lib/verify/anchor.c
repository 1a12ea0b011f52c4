/*
 * anchor.c - checking a saved checkpoint (an anchor, docs/FORMAT.md
 * section 18.1) against the journal's current head: the origin, the
 * signature under the pinned key (or set of keys), and a consistency
 * proof from the anchor to the head; one status and reason per anchor.
 */
#include "verify/anchor_note.h"
#include "verify/checkpoint.h"

#include "format/note.h"
#include "journal/journal.h"

#include <string.h>

const char *cairn_anchor_status_name(cairn_anchor_status status)
{
    switch (status) {
    case CAIRN_ANCHOR_OK:
        return "ok";
    case CAIRN_ANCHOR_UNVERIFIED:
        return "unverified";
    case CAIRN_ANCHOR_OTHER_JOURNAL:
        return "other-journal";
    case CAIRN_ANCHOR_BAD_SIGNATURE:
        return "bad-signature";
    case CAIRN_ANCHOR_ROLLBACK:
        return "rollback";
    case CAIRN_ANCHOR_FORK:
        return "fork";
    }
    return NULL;
}

/* ---- checking an anchor ------------------------------------------------ */

/* Of a pinned set (several --key), the member a signature line names;
 * the first key when none does. */
static const cairn_pubkey *named_member(const cairn__anchor_note *a,
                                        const char *origin, size_t ol,
                                        const cairn_pubkey *pinned)
{
    for (const cairn_pubkey *k = pinned; k != NULL; k = k->next) {
        uint32_t kid =
            cairn__note_key_id(origin, ol, CAIRN_NOTE_ALG_ED25519, k->pk);
        for (size_t i = 0; a->is_signed && i < a->note.n_sigs; i++) {
            if (a->note.sigs[i].key_id == kid) {
                return k;
            }
        }
    }
    return pinned;
}

static void anchor_sig(const cairn__anchor_note *a, const char *origin,
                       const cairn_pubkey *pinned, cairn_anchor_result *out,
                       char *why, size_t why_len)
{
    size_t ol = strlen(origin);
    pinned = named_member(a, origin, ol, pinned);
    uint32_t id =
        pinned != NULL
            ? cairn__note_key_id(origin, ol, CAIRN_NOTE_ALG_ED25519, pinned->pk)
            : 0;
    for (size_t i = 0; a->is_signed && i < a->note.n_sigs; i++) {
        const cairn_note_sig *s = &a->note.sigs[i];
        int log_line = s->name_len == ol && memcmp(s->name, origin, ol) == 0 &&
                       (pinned == NULL || s->key_id == id);
        out->cosignatures += log_line ? 0u : 1u;
    }
    why[0] = '\0';
    if (pinned == NULL) {
        return;
    }
    cairn_err err =
        cairn__anchor_signature(a, origin, pinned->pk, why, why_len);
    if (err == CAIRN_OK) {
        out->signature_ok = 1;
    } else if (err == CAIRN_ETAMPERED) {
        out->status = CAIRN_ANCHOR_BAD_SIGNATURE;
    }
}

static void anchor_verdict(cairn_anchor_result *out, const char *sig_why,
                           const cairn_pubkey *pinned, int consistent)
{
    char e[2 * CAIRN_HASH_BYTES + 1], f[2 * CAIRN_HASH_BYTES + 1];
    cairn__hash_hex(out->root, e);
    cairn__hash_hex(out->head_root, f);
    if (out->status == CAIRN_ANCHOR_BAD_SIGNATURE) {
        cairn__fmt(out->reason, sizeof(out->reason),
                   "the anchor's signature does not verify under the "
                   "pinned key: %s",
                   sig_why);
    } else if (out->size > out->head_size) {
        out->status = CAIRN_ANCHOR_ROLLBACK;
        cairn__fmt(out->reason, sizeof(out->reason),
                   "the anchor has %llu records, the journal now has %llu: "
                   "rolled back or truncated",
                   (unsigned long long)out->size,
                   (unsigned long long)out->head_size);
    } else if (!consistent) {
        out->status = CAIRN_ANCHOR_FORK;
        cairn__fmt(out->reason, sizeof(out->reason),
                   out->size == out->head_size
                       ? "the anchor has root %.16s... at %llu records, the "
                         "journal root %.16s...: forked or replaced"
                       : "no consistency proof from the anchor (root "
                         "%.16s..., %llu records) to the journal's head "
                         "(root %.16s...): forked or replaced",
                   e, (unsigned long long)out->size, f);
    } else {
        out->records_after = out->head_size - out->size;
        out->status =
            out->signature_ok ? CAIRN_ANCHOR_OK : CAIRN_ANCHOR_UNVERIFIED;
        cairn__fmt(out->reason, sizeof(out->reason),
                   "the journal extends the anchor (%llu records, %llu "
                   "after it)%s",
                   (unsigned long long)out->size,
                   (unsigned long long)out->records_after,
                   out->signature_ok ? ""
                   : pinned == NULL  ? "; its signature was not checked "
                                       "(no pinned key)"
                   : out->is_signed  ? "; it is not signed by the pinned key"
                                     : "; it is unsigned");
    }
}

cairn_err cairn_anchor_check(cairn_journal *journal, const cairn_pubkey *pinned,
                             const char *note, size_t note_len,
                             cairn_anchor_result *out)
{
    cairn__anchor_note a;
    cairn_journal_checkpoint head;
    cairn_txn *txn;
    char origin[CAIRN_ORIGIN_MAX], why[300];
    int consistent = 0;
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (journal == NULL || note == NULL || out == NULL) {
        return CAIRN_EINVAL;
    }
    cairn_err err = cairn__anchor_parse(note, note_len, &a, out->reason,
                                        sizeof(out->reason));
    if (err != CAIRN_OK) {
        return err;
    }
    out->size = a.size;
    memcpy(out->root, a.root, CAIRN_HASH_BYTES);
    out->time_ns = a.time_ns;
    out->is_signed = a.is_signed;
    cairn__anchor_origin(journal->journal_id, origin);
    if (strcmp(a.origin, origin) != 0) {
        out->status = CAIRN_ANCHOR_OTHER_JOURNAL;
        cairn__fmt(out->reason, sizeof(out->reason),
                   "the anchor is journal \"%s\"'s, this journal is \"%s\": "
                   "substituted",
                   a.origin, origin);
        return CAIRN_OK;
    }
    if ((err = cairn__anchor_read(journal, &txn, out->reason,
                                  sizeof(out->reason))) != CAIRN_OK) {
        return err;
    }
    /* After a key rotation (docs/FORMAT.md section 24) an anchor of size
     * S is signed by the key in force at S: with a pinned key of the
     * chain, that key is the one to check. */
    cairn__vkeys vk;
    cairn_verify_report vrep;
    cairn_pubkey in_force;
    cairn__report_init(&vrep, "", pinned);
    err = cairn__vkeys_load(txn, journal->journal_id, pinned, &vk, &vrep);
    if (err == CAIRN_ETAMPERED) {
        cairn__txn_end(txn);
        cairn__vkeys_free(&vk);
        cairn__fmt(out->reason, sizeof(out->reason), "%s", vrep.reason);
        return err;
    }
    if (err == CAIRN_OK && vk.trusted) {
        const cairn_key_entry *k = cairn__keyhist_at(&vk.kh, a.size);
        memset(&in_force, 0, sizeof(in_force));
        memcpy(in_force.key_id, k->key_id, CAIRN_KEY_ID_BYTES);
        memcpy(in_force.pk, k->pk, CAIRN_PUBLIC_KEY_BYTES);
        pinned = &in_force;
    }
    cairn__vkeys_free(&vk);
    if (err != CAIRN_OK) {
        cairn__txn_end(txn);
        return err;
    }
    anchor_sig(&a, origin, pinned, out, why, sizeof(why));
    err = cairn__anchor_head(journal, txn, NULL, &head, out->reason,
                             sizeof(out->reason));
    if (err == CAIRN_ENOTHING) {
        err = CAIRN_OK; /* size 0, the empty root */
    }
    if (err == CAIRN_OK) {
        out->head_size = head.size;
        memcpy(out->head_root, head.root, CAIRN_HASH_BYTES);
        err = cairn__anchor_consistent(txn, a.size, a.root, head.size,
                                       head.root, &consistent);
    }
    cairn__txn_end(txn);
    if (err == CAIRN_OK) {
        anchor_verdict(out, why, pinned, consistent);
    }
    return err;
}
