/*
 * verify_head.c - the journal-wide signed head of format 2 (meta "head",
 * docs/FORMAT.md section 13.3): strict parse, origin, signature under the
 * pinned key, and the cheap check of one run against it.
 *
 * The head is a C2SP signed note whose text is a tlog checkpoint:
 *     cairn/journal/<32 hex journal id>\n <N>\n <base64 log root>\n
 *     cairn-state <R> <base64 state-map root>\n cairn-time <wall ns>\n
 * then, when signed, "\n" and exactly one signature line by the key named
 * like the origin.  An unsigned journal stores the text alone.  Parsing
 * is note.h's (strict, bounded); this file checks cairn's own rules.
 *
 * A signature line of another key is a key mismatch (head.key_mismatch,
 * not tampering: the journal may simply be someone else's); a line of the
 * pinned key that does not verify is TAMPERED.
 */
#include "verify/verify.h"

#include "base/bytes.h"
#include "format/note.h"

#include <stdlib.h>
#include <string.h>

#define ORIGIN_PREFIX "cairn/journal/"
#define ORIGIN_LEN (sizeof(ORIGIN_PREFIX) - 1 + 2 * CAIRN_JOURNAL_ID_BYTES)

static cairn_err bad_head(cairn_verify_report *rep, const char *field,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static cairn_err bad_head(cairn_verify_report *rep, const char *field,
                          const char *fmt, ...)
{
    char reason[sizeof(rep->reason)];
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    cairn__report_tampered(rep, 0, 0, field, NULL, NULL, "%s", reason);
    return CAIRN_ETAMPERED;
}

/* The checkpoint text: origin, size, root and cairn's two lines. */
static cairn_err parse_text(const char *text, size_t len, const char *origin,
                            cairn_verify_report *rep)
{
    cairn_tlog_checkpoint cp;
    char why[200];
    if (cairn__tlog_checkpoint_parse(text, len, &cp, why, sizeof(why)) !=
        CAIRN_OK) {
        return bad_head(rep, "head", "the head is not a checkpoint: %s", why);
    }
    if (cp.origin_len != ORIGIN_LEN ||
        memcmp(cp.origin, origin, ORIGIN_LEN) != 0) {
        return bad_head(rep, "head",
                        "the head's origin \"%.*s\" is not this journal's "
                        "(%s): another journal's head",
                        (int)(cp.origin_len > 80 ? 80 : cp.origin_len),
                        cp.origin, origin);
    }
    rep->journal_head.size = cp.size;
    memcpy(rep->journal_head.root, cp.root, CAIRN_HASH_BYTES);
    cairn_verify_head *h = &rep->journal_head;
    if (cairn__tlog_cairn_ext_parse(&cp, &h->runs, h->state_root,
                                    &h->time_ns) != 0) {
        return bad_head(rep, "head",
                        "the head's extension lines are not exactly "
                        "\"cairn-state <R> <root>\" and \"cairn-time "
                        "<ns>\"");
    }
    return CAIRN_OK;
}

/* The signature line: exactly one, named like the origin; with a pinned
 * key, valid under it (or a key mismatch). */
static cairn_err check_signature(const cairn_note *note, const char *origin,
                                 const cairn_pubkey *pinned, int known,
                                 cairn_verify_report *rep)
{
    char why[300];
    const cairn_note_sig *sig = &note->sigs[0];
    if (note->n_sigs != 1) {
        return bad_head(rep, "head",
                        "the head has %zu signature lines, not exactly one",
                        note->n_sigs);
    }
    if (sig->name_len != ORIGIN_LEN ||
        memcmp(sig->name, origin, ORIGIN_LEN) != 0) {
        return bad_head(rep, "head",
                        "the head's signature line names the key \"%.*s\", "
                        "not the journal's origin",
                        (int)(sig->name_len > 80 ? 80 : sig->name_len),
                        sig->name);
    }
    cairn__store32_be(rep->journal_head.key_id, sig->key_id);
    if (pinned == NULL) {
        return CAIRN_OK;
    }
    if (known) {
        /* These very bytes verified under this key set before. */
        rep->journal_head.signature_ok = 1;
        return CAIRN_OK;
    }
    /* The member of the pinned set the line names decides; a line no
     * pinned key names is a key mismatch. */
    cairn_err err = CAIRN_EKEYMISMATCH;
    for (const cairn_pubkey *k = pinned; k != NULL && err == CAIRN_EKEYMISMATCH;
         k = k->next) {
        err = cairn__note_verify(note, origin, ORIGIN_LEN, k->pk, why,
                                 sizeof(why));
    }
    if (err == CAIRN_OK) {
        rep->journal_head.signature_ok = 1;
    } else if (err == CAIRN_EKEYMISMATCH) {
        rep->journal_head.key_mismatch = 1;
    } else {
        return bad_head(rep, "head",
                        "the head's signature does not verify under the "
                        "pinned key: %s",
                        why);
    }
    return CAIRN_OK;
}

static int has_blank_line(const uint8_t *v, size_t vl)
{
    for (size_t i = 0; i + 1 < vl; i++) {
        if (v[i] == '\n' && v[i + 1] == '\n') {
            return 1;
        }
    }
    return 0;
}

static cairn_err parse_head(const uint8_t *v, size_t vl,
                            const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                            const cairn_pubkey *pinned, cairn__vhead_memo *memo,
                            cairn_verify_report *rep)
{
    char origin[ORIGIN_LEN + 1], why[200];
    cairn_note note;
    memcpy(origin, ORIGIN_PREFIX, sizeof(ORIGIN_PREFIX) - 1);
    cairn__hex(journal_id, CAIRN_JOURNAL_ID_BYTES,
               origin + sizeof(ORIGIN_PREFIX) - 1);
    if (vl == 0 || vl > CAIRN__VHEAD_MAX) {
        return bad_head(rep, "head", "the head is %zu bytes (1..%u)", vl,
                        CAIRN__VHEAD_MAX);
    }
    if (!has_blank_line(v, vl)) {
        /* Unsigned journal: the checkpoint text alone. */
        return parse_text((const char *)v, vl, origin, rep);
    }
    rep->journal_head.is_signed = 1;
    if (cairn__note_parse((const char *)v, vl, &note, why, sizeof(why)) !=
        CAIRN_OK) {
        return bad_head(rep, "head", "the head is not a signed note: %s", why);
    }
    cairn_err err = parse_text(note.text, note.text_len, origin, rep);
    int known = memo != NULL && pinned != NULL && memo->bytes != NULL &&
                memo->key == pinned && memo->len == vl &&
                memcmp(memo->bytes, v, vl) == 0;
    if (err == CAIRN_OK) {
        err = check_signature(&note, origin, pinned, known, rep);
    }
    if (err == CAIRN_OK && memo != NULL && !known &&
        rep->journal_head.signature_ok) {
        uint8_t *copy = malloc(vl);
        if (copy != NULL) {
            memcpy(copy, v, vl);
            free(memo->bytes);
            memo->bytes = copy;
            memo->len = vl;
            memo->key = pinned;
        }
    }
    return err;
}

cairn_err
cairn__verify_head_note(const uint8_t *v, size_t vl,
                        const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                        const cairn_pubkey *pinned, cairn_verify_report *rep)
{
    rep->journal_head.present = 1;
    return parse_head(v, vl, journal_id, pinned, NULL, rep);
}

static cairn_err meta_get(cairn_txn *txn, const char *key, const uint8_t **v,
                          size_t *vl, int *found)
{
    return cairn__txn_get(txn, CAIRN_DBI_META, key, strlen(key), v, vl, found);
}

static cairn_err head_read(cairn_txn *txn,
                           const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                           const cairn_pubkey *pinned, cairn__vhead_memo *memo,
                           cairn_verify_report *rep)
{
    const uint8_t *v;
    size_t vl;
    int found = 0;
    uint64_t records = 0;
    cairn_err err = meta_get(txn, "format", &v, &vl, &found);
    if (err != CAIRN_OK) {
        return err;
    }
    if (!found || vl != 4 || cairn__load32_be(v) < 1 ||
        cairn__load32_be(v) > 2) {
        return bad_head(rep, "meta",
                        "meta \"format\" is missing or not 1 "
                        "or 2");
    }
    rep->format = cairn__load32_be(v);
    err = meta_get(txn, "head", &v, &vl, &found);
    if (err != CAIRN_OK || (rep->format == 1 && !found)) {
        return err;
    }
    if (rep->format == 1) {
        return bad_head(rep, "meta",
                        "a format-1 journal holds meta "
                        "\"head\", which only format 2 writes");
    }
    if (found) {
        rep->journal_head.present = 1;
        return parse_head(v, vl, journal_id, pinned, memo, rep);
    }
    err = cairn__txn_count(txn, CAIRN_DBI_RECORDS, &records);
    if (err == CAIRN_OK && records != 0) {
        return bad_head(rep, "head",
                        "meta \"head\" is missing but the journal holds "
                        "%llu records",
                        (unsigned long long)records);
    }
    return err;
}

cairn_err
cairn__verify_head_read(cairn_txn *txn,
                        const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                        const cairn_pubkey *pinned, cairn_verify_report *rep)
{
    return head_read(txn, journal_id, pinned, NULL, rep);
}

/* N and R of the head against the databases (O(1) counts). */
cairn_err cairn__verify_head_counts(cairn_txn *txn, cairn_verify_report *rep)
{
    uint64_t records = 0, runs = 0;
    cairn_err err = cairn__txn_count(txn, CAIRN_DBI_RECORDS, &records);
    if (err == CAIRN_OK) {
        err = cairn__txn_count(txn, CAIRN_DBI_RUNS, &runs);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    if (records != rep->journal_head.size) {
        return bad_head(rep, "head",
                        "the signed head covers %llu records, the journal "
                        "holds %llu",
                        (unsigned long long)rep->journal_head.size,
                        (unsigned long long)records);
    }
    if (runs != rep->journal_head.runs) {
        return bad_head(rep, "head",
                        "the signed head covers %llu runs, the journal "
                        "holds %llu",
                        (unsigned long long)rep->journal_head.runs,
                        (unsigned long long)runs);
    }
    return CAIRN_OK;
}

/* The value stored under u64 BE @p num in @p dbi is leaf num - 1 of the
 * tree in @p tree_dbi of @p n leaves whose root is @p want. */
static cairn_err leaf_in(cairn_txn *txn, cairn_dbi dbi, uint64_t num,
                         cairn_dbi tree_dbi, const char *field, uint64_t n,
                         const uint8_t want[CAIRN_HASH_BYTES],
                         cairn_verify_report *rep)
{
    uint8_t key[8], leaf[CAIRN_HASH_BYTES];
    const uint8_t *v;
    size_t vl;
    int found = 0, ok = 0;
    cairn__vtree t;
    cairn__store64_be(key, num);
    cairn_err err = cairn__txn_get(txn, dbi, key, sizeof(key), &v, &vl, &found);
    if (err != CAIRN_OK) {
        return err;
    }
    if (!found || num == 0 || num > n) {
        return bad_head(rep, field, "%s %llu is not covered by the head",
                        dbi == CAIRN_DBI_RUNS ? "run" : "position",
                        (unsigned long long)num);
    }
    cairn__leaf_hash(v, vl, leaf);
    cairn__vtree_init(&t, txn, tree_dbi, field, rep);
    err = cairn__vtree_prove_leaf(&t, n, num - 1, leaf, want, &ok);
    if (err == CAIRN_OK && !ok) {
        char e[2 * CAIRN_HASH_BYTES + 1];
        cairn__hash_hex(want, e);
        cairn__report_tampered(
            rep, 0, 0, field, e, "",
            dbi == CAIRN_DBI_RUNS
                ? "the run's state (run %llu) is not the one the signed "
                  "head's state map covers (no inclusion proof from the "
                  "stored nodes)"
                : "the run's last record (position %llu) is not in the "
                  "signed head's log tree (no inclusion proof from the "
                  "stored nodes)",
            (unsigned long long)num);
        err = CAIRN_ETAMPERED;
    }
    return err;
}

cairn_err
cairn__verify_head_run(cairn_txn *txn,
                       const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                       const cairn_pubkey *pinned, uint64_t run_num,
                       uint64_t last_pos, cairn_verify_report *rep)
{
    return cairn__verify_head_run_memo(txn, journal_id, pinned, run_num,
                                       last_pos, NULL, 1, rep);
}

cairn_err cairn__verify_head_run_memo(
    cairn_txn *txn, const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
    const cairn_pubkey *pinned, uint64_t run_num, uint64_t last_pos,
    cairn__vhead_memo *memo, int counts, cairn_verify_report *rep)
{
    cairn_err err = head_read(txn, journal_id, pinned, memo, rep);
    if (err != CAIRN_OK || rep->format != 2 || !rep->journal_head.present) {
        return err;
    }
    err = counts ? cairn__verify_head_counts(txn, rep) : CAIRN_OK;
    if (err == CAIRN_OK) {
        err =
            leaf_in(txn, CAIRN_DBI_RUNS, run_num, CAIRN_DBI_SMAP, "state-map",
                    rep->journal_head.runs, rep->journal_head.state_root, rep);
    }
    if (err == CAIRN_OK && last_pos != 0) {
        err = leaf_in(txn, CAIRN_DBI_RECORDS, last_pos, CAIRN_DBI_TREE, "tree",
                      rep->journal_head.size, rep->journal_head.root, rep);
    }
    return err;
}
