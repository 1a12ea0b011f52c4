/*
 * bundle_v2.c - the trailer of a version-2 bundle (docs/FORMAT.md section
 * 19): strict parse, then the checks that tie the run to the journal's
 * signed head - the head note itself, the inclusion proof of the run's
 * last record in the log tree, the state blob (equal to the replay, and
 * in the state map), and the anchors' consistency proofs.
 *
 * Nothing in the trailer is believed because it is there: the head only
 * when it parses strictly, names the bundle's journal and is signed by
 * the pinned key; the proofs only when they lead to that head's roots;
 * the state blob only when it is the encoding of the replayed state.
 */
#include "verify/bundle_anchor.h"

#include "base/bytes.h"
#include "journal/journal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define HASH CAIRN_HASH_BYTES

/* A proof's hashes (views into the file) as the array merkle.h takes. */
typedef struct proof_buf {
    uint8_t h[CAIRN_MT_MAX_PROOF][HASH];
} proof_buf;

static const uint8_t (*proof_of(proof_buf *b, const uint8_t *p, size_t n))[HASH]
{
    if (n > 0) {
        memcpy(b->h, p, n * HASH);
    }
    return (const uint8_t(*)[HASH])b->h;
}

cairn_err cairn__bundle_fail(char *detail, size_t detail_len, size_t off,
                             const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(what, sizeof(what), fmt, ap);
    va_end(ap);
    cairn__fmt(detail, detail_len, "offset %zu: %s", off, what);
    return CAIRN_EBUNDLE;
}

/* u8 count (at most @p max), then count hashes. */
static int rd_hashes(cairn_rd *r, size_t max, const uint8_t **p, size_t *n)
{
    uint8_t c;
    size_t off = r->off;
    if (cairn__rd_u8(r, &c) != 0 || c > max ||
        cairn__rd_view(r, (size_t)c * HASH, p) != 0) {
        r->off = off;
        return -1;
    }
    *n = c;
    return 0;
}

static cairn_err parse_anchors(cairn_rd *r, cairn__bundle_v2 *t, char *detail,
                               size_t detail_len)
{
    uint8_t n;
    size_t at = r->off;
    if (cairn__rd_u8(r, &n) != 0 || n > CAIRN_BUNDLE_MAX_ANCHORS) {
        return cairn__bundle_fail(detail, detail_len, at,
                                  "anchor count missing or over %u",
                                  CAIRN_BUNDLE_MAX_ANCHORS);
    }
    t->n_anchors = n;
    for (size_t i = 0; i < n; i++) {
        size_t off = r->off;
        uint64_t size;
        if (cairn__rd_u64(r, &size) != 0 || size >= CAIRN_MT_MAX_SIZE ||
            (i > 0 && size <= t->anchors[i - 1].size)) {
            return cairn__bundle_fail(
                detail, detail_len, off,
                "anchor %zu: size missing, over 2^63 - 1 or not "
                "ascending",
                i);
        }
        t->anchors[i].size = size;
        off = r->off;
        if (rd_hashes(r, CAIRN_MT_MAX_PROOF, &t->anchors[i].proof,
                      &t->anchors[i].n_proof) != 0) {
            return cairn__bundle_fail(
                detail, detail_len, off,
                "anchor %zu: proof length over %u or beyond the "
                "input",
                i, CAIRN_MT_MAX_PROOF);
        }
    }
    return CAIRN_OK;
}

static cairn_err parse_trailer(cairn_rd *r, cairn__bundle_v2 *t, int keys,
                               char *detail, size_t detail_len);

cairn_err cairn__bundle_v2_parse(cairn_rd *r, cairn__bundle_v2 *t, char *detail,
                                 size_t detail_len)
{
    return parse_trailer(r, t, 0, detail, detail_len);
}

cairn_err cairn__bundle_v3_parse(cairn_rd *r, cairn__bundle_v2 *t, char *detail,
                                 size_t detail_len)
{
    return parse_trailer(r, t, 1, detail, detail_len);
}

static cairn_err parse_trailer(cairn_rd *r, cairn__bundle_v2 *t, int keys,
                               char *detail, size_t detail_len)
{
    uint16_t hl;
    uint32_t sl;
    size_t off = r->off;
    memset(t, 0, sizeof(*t));
    if (cairn__rd_u64(r, &t->exported_ns) != 0 || t->exported_ns == 0 ||
        t->exported_ns >= CAIRN_MT_MAX_SIZE) {
        return cairn__bundle_fail(detail, detail_len, off,
                                  "export time missing, 0 or over 2^63 - 1");
    }
    off = r->off;
    if (cairn__rd_u16(r, &hl) != 0 || hl == 0 || hl > CAIRN__BUNDLE_HEAD_MAX ||
        cairn__rd_view(r, hl, &t->head) != 0) {
        return cairn__bundle_fail(
            detail, detail_len, off,
            "head: length %u out of range (1..%u) or beyond the "
            "input",
            (unsigned)hl, CAIRN__BUNDLE_HEAD_MAX);
    }
    t->head_len = hl;
    off = r->off;
    if (rd_hashes(r, CAIRN_TLOG_PROOF_MAX_HASHES, &t->tree_proof,
                  &t->n_tree_proof) != 0) {
        return cairn__bundle_fail(
            detail, detail_len, off,
            "tree proof: length over %u or beyond the input",
            CAIRN_TLOG_PROOF_MAX_HASHES);
    }
    off = r->off;
    if (cairn__rd_u32(r, &sl) != 0 || sl == 0 || sl > CAIRN__BUNDLE_STATE_MAX ||
        cairn__rd_view(r, sl, &t->state) != 0) {
        return cairn__bundle_fail(
            detail, detail_len, off,
            "state: length %lu out of range (1..%u) or beyond the "
            "input",
            (unsigned long)sl, CAIRN__BUNDLE_STATE_MAX);
    }
    t->state_len = sl;
    off = r->off;
    if (rd_hashes(r, CAIRN_TLOG_PROOF_MAX_HASHES, &t->state_proof,
                  &t->n_state_proof) != 0) {
        return cairn__bundle_fail(
            detail, detail_len, off,
            "state proof: length over %u or beyond the input",
            CAIRN_TLOG_PROOF_MAX_HASHES);
    }
    cairn_err err = parse_anchors(r, t, detail, detail_len);
    if (err == CAIRN_OK && keys) {
        err = cairn__bundle_keys_parse(r, t, detail, detail_len);
    }
    if (err == CAIRN_OK && cairn__rd_left(r) != 0) {
        err = cairn__bundle_fail(detail, detail_len, r->off,
                                 "%zu bytes after the trailer",
                                 cairn__rd_left(r));
    }
    return err;
}

/* ---- the run's state as a bundle shows it ---------------------------- */

cairn_err cairn__bundle_state(const cairn_state *st, cairn_bundle_info *info)
{
    cairn_state copy;
    cairn_summary *s = NULL;
    cairn_err err = cairn__state_copy(st, &copy);
    if (err != CAIRN_OK) {
        return err;
    }
    /* A bundle is a snapshot: no claimer can be seen alive in it, so a
     * pending operation is in doubt (cairn__proc_alive() of pid 0 on no
     * host with no boot id is "gone"). */
    for (uint32_t i = 0; i < copy.n_ops; i++) {
        copy.ops[i].holder_pid = 0;
        copy.ops[i].host[0] = '\0';
        memset(copy.ops[i].holder_boot, 0, sizeof(copy.ops[i].holder_boot));
    }
    err = cairn__summary_from_state(&copy, &s);
    cairn__state_free(&copy);
    if (err != CAIRN_OK) {
        return err;
    }
    info->state = s->state;
    info->total = s->total;
    info->done = s->counts[CAIRN_OP_COMPLETED] + s->counts[CAIRN_OP_SKIPPED];
    info->failed = s->counts[CAIRN_OP_FAILED];
    info->in_doubt = s->counts[CAIRN_OP_PENDING];
    cairn_summary_free(s);
    return CAIRN_OK;
}

/* ---- checks --------------------------------------------------------- */

static void add_reason(cairn_verify_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_reason(cairn_verify_report *rep, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(text, sizeof(text), fmt, ap);
    va_end(ap);
    size_t n = strlen(rep->reason);
    cairn__fmt(rep->reason + n, sizeof(rep->reason) - n, "%s%s",
               n > 0 ? "; " : "", text);
}

/* The head: strict, this journal's, signed by the pinned key. */
static int check_head(const cairn__bundle_v2 *t,
                      const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                      const cairn__bundle_check *c, cairn_verify_report *out)
{
    const cairn_pubkey *pinned = c->pinned;
    cairn_verify_head *h = &out->journal_head;
    char reason[sizeof(out->reason)];
    out->format = 2;
    if (cairn__verify_head_note(t->head, t->head_len, journal_id, pinned,
                                out) != CAIRN_OK) {
        cairn__fmt(reason, sizeof(reason), "%s", out->reason);
        cairn__report_tampered(out, 0, 0, "bundle.head", NULL, NULL,
                               "the bundle's journal head: %s", reason);
        return -1;
    }
    if (!h->is_signed) {
        cairn__report_tampered(out, 0, 0, "bundle.head", "signed", "unsigned",
                               "the bundle's journal head is unsigned (an "
                               "export never writes one)");
        return -1;
    }
    if (c->keys != NULL &&
        cairn__bundle_keys_check(t, c->keys, journal_id, out) != 0) {
        return -1; /* version 3: the key in force at N, the rotations */
    }
    if (h->key_mismatch) {
        cairn__report_tampered(out, 0, 0, "bundle.head", "the pinned key",
                               "another key",
                               "the bundle's journal head is not signed by "
                               "the pinned key that signs the run");
        return -1;
    }
    return 0;
}

/* The run's last record in the head's log tree. */
static int check_tree(const cairn__bundle_v2 *t, uint64_t last_pos,
                      cairn_verify_report *out)
{
    const cairn_verify_head *h = &out->journal_head;
    char e[2 * HASH + 1];
    if (last_pos == 0 || last_pos > h->size) {
        cairn__report_tampered(out, 0, 0, "bundle.tree_proof", NULL, NULL,
                               "the run's last record (position %llu) is not "
                               "among the %llu records the head covers",
                               (unsigned long long)last_pos,
                               (unsigned long long)h->size);
        return -1;
    }
    proof_buf b;
    if (cairn__mt_check_inclusion(last_pos - 1, h->size, out->head,
                                  proof_of(&b, t->tree_proof, t->n_tree_proof),
                                  t->n_tree_proof, h->root) != 0) {
        cairn__hash_hex(h->root, e);
        cairn__report_tampered(out, 0, 0, "bundle.tree_proof", e, "",
                               "the inclusion proof does not lead from the "
                               "run's last record (leaf %llu) to the head's "
                               "root of %llu records",
                               (unsigned long long)(last_pos - 1),
                               (unsigned long long)h->size);
        return -1;
    }
    return 0;
}

/* The state blob: the replay's encoding (section 9's blob, or the run
 * summary of section 23.2), and in the head's state map. */
static cairn_err check_state(const cairn__bundle_v2 *t, const cairn_state *st,
                             cairn_verify_report *out, int *ok)
{
    const cairn_verify_head *h = &out->journal_head;
    uint8_t *enc = NULL, leaf[HASH];
    size_t el = 0;
    proof_buf b;
    char e[40], f[40];
    *ok = 0;
    cairn_err err;
    if (t->state_len > 0 && t->state[0] == 2) {
        /* a run summary (docs/FORMAT.md 23.6): its ops_root is the
         * replayed rows' (a shallow copy: only ops_root is written) */
        cairn_state sum = *st;
        err = cairn__state_ops_root(&sum, NULL, NULL);
        if (err == CAIRN_OK) {
            err = cairn__summary_encode(&sum, &enc, &el);
        }
    } else {
        err = cairn__state_encode(st, &enc, &el);
    }
    if (err != CAIRN_OK) {
        return err == CAIRN_ENOMEM ? err : CAIRN_OK;
    }
    int same = el == t->state_len && memcmp(enc, t->state, el) == 0;
    free(enc);
    if (!same) {
        cairn__fmt(e, sizeof(e), "%zu bytes", el);
        cairn__fmt(f, sizeof(f), "%zu bytes", t->state_len);
        cairn__report_tampered(out, 0, 0, "bundle.state", e, f,
                               "the bundle's state blob is not the state its "
                               "records replay to");
        return CAIRN_OK;
    }
    cairn__leaf_hash(t->state, t->state_len, leaf);
    if (st->run_num == 0 || st->run_num > h->runs ||
        cairn__mt_check_inclusion(
            st->run_num - 1, h->runs, leaf,
            proof_of(&b, t->state_proof, t->n_state_proof), t->n_state_proof,
            h->state_root) != 0) {
        cairn__report_tampered(out, 0, 0, "bundle.state_proof", NULL, NULL,
                               "the state proof does not lead from run "
                               "%llu's state to the head's state root of "
                               "%llu runs",
                               (unsigned long long)st->run_num,
                               (unsigned long long)h->runs);
        return CAIRN_OK;
    }
    *ok = 1;
    return CAIRN_OK;
}

/* One anchor against the head: its verdict and reason into @p res. */
static void check_anchor(const cairn__bundle_v2 *t, const cairn__anchor_note *a,
                         const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                         const cairn_pubkey *pinned, const cairn_verify_head *h,
                         cairn_bundle_anchor_result *res)
{
    char why[300];
    uint64_t m = a->size;
    res->size = m;
    cairn_err err = cairn__bundle_anchor_check(
        a, journal_id, pinned != NULL ? pinned->pk : NULL, why, sizeof(why));
    res->verdict = CAIRN_VERDICT_VERIFIED;
    if (err == CAIRN_EINVAL || err == CAIRN_ETAMPERED) {
        res->verdict = CAIRN_VERDICT_TAMPERED;
        cairn__fmt(res->reason, sizeof(res->reason), "%s", why);
        return;
    }
    if (m > h->size) {
        res->verdict = CAIRN_VERDICT_INCOMPLETE;
        cairn__fmt(res->reason, sizeof(res->reason),
                   "the bundle predates the anchor (head of %llu records, "
                   "anchor of %llu); re-export",
                   (unsigned long long)h->size, (unsigned long long)m);
        return;
    }
    size_t i = 0;
    while (i < t->n_anchors && t->anchors[i].size != m) {
        i++;
    }
    int have = m == h->size || i < t->n_anchors;
    const uint8_t *proof = i < t->n_anchors ? t->anchors[i].proof : NULL;
    size_t n = i < t->n_anchors ? t->anchors[i].n_proof : 0;
    proof_buf b;
    if (have && cairn__mt_check_consistency(m, h->size, a->root, h->root,
                                            proof_of(&b, proof, n), n) != 0) {
        res->verdict = CAIRN_VERDICT_TAMPERED;
        cairn__fmt(res->reason, sizeof(res->reason),
                   m == h->size ? "another root at the same size (%llu "
                                  "records): a fork"
                                : "the bundle's head (%llu records) is not "
                                  "consistent with the anchor",
                   (unsigned long long)h->size);
        return;
    }
    if (!have) {
        res->verdict = CAIRN_VERDICT_INCOMPLETE;
        cairn__fmt(res->reason, sizeof(res->reason),
                   "the bundle carries no consistency proof from %llu "
                   "records: export with --anchor",
                   (unsigned long long)m);
        return;
    }
    if (err != CAIRN_OK) {
        res->verdict = CAIRN_VERDICT_INCOMPLETE;
        cairn__fmt(res->reason, sizeof(res->reason),
                   "consistent, but the anchor is not signed by the pinned "
                   "key (%s)",
                   why);
        return;
    }
    cairn__fmt(res->reason, sizeof(res->reason),
               "consistent: the head of %llu records extends the anchor of "
               "%llu",
               (unsigned long long)h->size, (unsigned long long)m);
}

static void check_anchors(const cairn__bundle_v2 *t,
                          const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                          const cairn__bundle_check *c,
                          cairn_verify_report *out, cairn_bundle_info *info)
{
    size_t tampered = SIZE_MAX, incomplete = 0;
    for (size_t i = 0; i < c->n_anchors; i++) {
        cairn_bundle_anchor_result *res = &info->anchors[i];
        const cairn_pubkey *pinned = c->pinned;
        cairn_pubkey at;
        const cairn_key_entry *k =
            c->keys != NULL && c->pinned != NULL
                ? cairn__keyhist_at(c->keys, c->anchors[i].size)
                : NULL;
        if (k != NULL) {
            /* version 3, a trusted chain: the key in force at the
             * anchor's size signs it (docs/FORMAT.md 24.4, 26.2) */
            memset(&at, 0, sizeof(at));
            memcpy(at.key_id, k->key_id, CAIRN_KEY_ID_BYTES);
            memcpy(at.pk, k->pk, CAIRN_PUBLIC_KEY_BYTES);
            pinned = &at;
        }
        check_anchor(t, &c->anchors[i], journal_id, pinned, &out->journal_head,
                     res);
        if (res->verdict == CAIRN_VERDICT_TAMPERED && tampered == SIZE_MAX) {
            tampered = i;
        }
        incomplete += res->verdict == CAIRN_VERDICT_INCOMPLETE;
    }
    info->n_anchors = c->n_anchors;
    if (tampered != SIZE_MAX) {
        cairn__report_tampered(out, 0, 0, "anchor", NULL, NULL,
                               "anchor %zu (%llu records): %s", tampered + 1,
                               (unsigned long long)info->anchors[tampered].size,
                               info->anchors[tampered].reason);
        return;
    }
    for (size_t i = 0; i < c->n_anchors; i++) {
        if (info->anchors[i].verdict == CAIRN_VERDICT_INCOMPLETE) {
            if (out->verdict == CAIRN_VERDICT_VERIFIED) {
                out->verdict = CAIRN_VERDICT_INCOMPLETE;
            }
            add_reason(out, "anchor %zu (%llu records): %s", i + 1,
                       (unsigned long long)info->anchors[i].size,
                       info->anchors[i].reason);
        }
    }
    if (c->n_anchors > 0 && incomplete == 0) {
        add_reason(out, "consistent with %zu anchor(s)", c->n_anchors);
    }
}

cairn_err cairn__bundle_v2_check(
    const cairn__bundle_v2 *t, const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
    const cairn_state *st, uint64_t last_pos, const cairn__bundle_check *c,
    cairn_verify_report *out, cairn_bundle_info *info)
{
    int ok = 0;
    info->exported_ns = t->exported_ns;
    if (check_head(t, journal_id, c, out) != 0 ||
        check_tree(t, last_pos, out) != 0) {
        return CAIRN_OK;
    }
    cairn_err err = check_state(t, st, out, &ok);
    if (err != CAIRN_OK || !ok) {
        return err;
    }
    err = cairn__bundle_state(st, info);
    if (err != CAIRN_OK) {
        return err;
    }
    info->state_proven = 1;
    add_reason(out,
               "the run's last record and state are proven under the "
               "journal head of %llu records",
               (unsigned long long)out->journal_head.size);
    check_anchors(t, journal_id, c, out, info);
    return CAIRN_OK;
}
