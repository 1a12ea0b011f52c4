/*
 * anchor.c - the journal's signed checkpoint as an anchor (docs/FORMAT.md
 * section 18): reading the current head for `cairn checkpoint`, the
 * tlog-witness add-checkpoint request body with its consistency proof,
 * and checking a saved checkpoint (an anchor) against the current head.
 *
 * Every proof handed out or accepted is built from the stored `tree`
 * nodes and then checked against the head's root (RFC 9162 section
 * 2.1.4.2): a forged node gives no proof, never a wrong one.
 */
#include "verify/anchor.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "format/note.h"
#include "journal/head.h"
#include "journal/journal.h"

#include <string.h>

#define B64_HASH_LEN 44u

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

void cairn__anchor_origin(const uint8_t id[CAIRN_JOURNAL_ID_BYTES],
                          char out[CAIRN_ORIGIN_MAX])
{
    size_t n = sizeof(CAIRN__ORIGIN_PREFIX) - 1;
    memcpy(out, CAIRN__ORIGIN_PREFIX, n);
    cairn__hex(id, CAIRN_JOURNAL_ID_BYTES, out + n);
}

/* ---- parsing a saved checkpoint ---------------------------------------- */

/* Strict decimal: 1..19 digits, no leading zero but "0", < 2^63. */
static int parse_dec(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 19 || (len > 1 && s[0] == '0')) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (CAIRN_TLOG_MAX_SIZE - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int parse_state(const char *s, size_t len, cairn__anchor_note *a)
{
    static const char tag[] = "cairn-state ";
    size_t tl = sizeof(tag) - 1;
    if (len < tl + 2 + B64_HASH_LEN || memcmp(s, tag, tl) != 0) {
        return -1;
    }
    size_t dl = len - tl - 1 - B64_HASH_LEN;
    if (s[tl + dl] != ' ' || parse_dec(s + tl, dl, &a->runs) != 0 ||
        cairn__b64_decode(s + tl + dl + 1, B64_HASH_LEN, a->state_root,
                          CAIRN_HASH_BYTES) != 0) {
        return -1;
    }
    return 0;
}

static int parse_time(const char *s, size_t len, cairn__anchor_note *a)
{
    static const char tag[] = "cairn-time ";
    size_t tl = sizeof(tag) - 1;
    if (len <= tl || memcmp(s, tag, tl) != 0) {
        return -1;
    }
    return parse_dec(s + tl, len - tl, &a->time_ns);
}

cairn_err cairn__anchor_parse(const char *s, size_t len, cairn__anchor_note *a,
                              char *detail, size_t detail_len)
{
    cairn_tlog_checkpoint cp;
    const char *text = s, *line;
    size_t text_len = len, ll, pos = 0;
    char why[256];
    memset(a, 0, sizeof(*a));
    if (s == NULL || len == 0) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT, "empty");
    }
    if (memmem(s, len, "\n\n", 2) != NULL) {
        if (cairn__note_parse(s, len, &a->note, why, sizeof(why)) != CAIRN_OK) {
            return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                               "not a signed note: %s", why);
        }
        a->is_signed = 1;
        text = a->note.text;
        text_len = a->note.text_len;
    }
    if (cairn__tlog_checkpoint_parse(text, text_len, &cp, why, sizeof(why)) !=
        CAIRN_OK) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "not a checkpoint: %s", why);
    }
    if (cp.origin_len >= CAIRN_ORIGIN_MAX) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "origin of %zu bytes is no cairn journal's",
                           cp.origin_len);
    }
    memcpy(a->origin, cp.origin, cp.origin_len);
    a->origin[cp.origin_len] = '\0';
    a->size = cp.size;
    memcpy(a->root, cp.root, CAIRN_HASH_BYTES);
    if (cp.n_ext != 2 ||
        !cairn__tlog_checkpoint_next_ext(&cp, &pos, &line, &ll) ||
        parse_state(line, ll, a) != 0 ||
        !cairn__tlog_checkpoint_next_ext(&cp, &pos, &line, &ll) ||
        parse_time(line, ll, a) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "the extension lines are not exactly "
                           "\"cairn-state <R> <root>\" and \"cairn-time "
                           "<ns>\": not a cairn journal's checkpoint");
    }
    return CAIRN_OK;
}

cairn_err cairn__anchor_signature(const cairn__anchor_note *a,
                                  const char *origin, const uint8_t pk[32],
                                  char *why, size_t why_len)
{
    if (!a->is_signed) {
        return cairn__fail(why, why_len, CAIRN_EKEYMISMATCH, "unsigned");
    }
    cairn_err err =
        cairn__note_verify(&a->note, origin, strlen(origin), pk, why, why_len);
    return err == CAIRN_OK || err == CAIRN_EKEYMISMATCH ? err : CAIRN_ETAMPERED;
}

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

static cairn_err with_txn(cairn_journal *j, cairn_txn **txn, char *detail,
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
    cairn_err err = with_txn(journal, &txn, detail, detail_len);
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
    cairn_err err = with_txn(journal, &txn, detail, detail_len);
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
    anchor_sig(&a, origin, pinned, out, why, sizeof(why));
    if ((err = with_txn(journal, &txn, out->reason, sizeof(out->reason))) !=
        CAIRN_OK) {
        return err;
    }
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
