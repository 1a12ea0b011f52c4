/*
 * bundle.c - a bundle in memory: parse it strictly (framing first, with
 * every count and length checked against the input and the format
 * limits), check that its key is the pinned key, then feed its records
 * and checkpoints to the verifier core in position order; a version-2
 * trailer is parsed and checked by bundle_v2.c.  The byte layout is
 * docs/FORMAT.md sections 12 and 19.  The files (FILE.minisig,
 * FILE.tlog-proof) are bundle_file.c's.
 */
#include "verify/bundle_anchor.h"

#include "base/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_ENTRY_MIN 13u /* u64 position, u32 length, >= 1 byte */
#define CP_ENTRY_BYTES (8u + CAIRN_CHECKPOINT_BYTES)

typedef struct bundle_hdr {
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
    char run_id[CAIRN_MAX_ID + 1];
    uint8_t key_id[CAIRN_KEY_ID_BYTES];
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES];
    uint32_t n_records;
    size_t rec_off; /* first record entry */
    uint32_t n_cps;
    size_t cp_off; /* first checkpoint entry */
    uint8_t version;
    cairn__bundle_v2 v2; /* version 2 only */
} bundle_hdr;

static cairn_err parse_header(cairn_rd *r, bundle_hdr *h, char *detail,
                              size_t detail_len)
{
    const uint8_t *p;
    uint8_t version;
    uint16_t n;
    if (cairn__rd_view(r, CAIRN__BUNDLE_MAGIC_LEN, &p) != 0 ||
        memcmp(p, CAIRN__BUNDLE_MAGIC, CAIRN__BUNDLE_MAGIC_LEN) != 0) {
        return cairn__bundle_fail(detail, detail_len, 0,
                                  "not a cairn bundle (magic)");
    }
    if (cairn__rd_u8(r, &version) != 0 ||
        (version != CAIRN__BUNDLE_VERSION &&
         version != CAIRN__BUNDLE_VERSION_2 &&
         version != CAIRN__BUNDLE_VERSION_3)) {
        return cairn__bundle_fail(detail, detail_len, 8,
                                  "unsupported bundle version");
    }
    h->version = version;
    if (cairn__rd_bytes(r, h->journal_id, CAIRN_JOURNAL_ID_BYTES) != 0 ||
        cairn__rd_u16(r, &n) != 0) {
        return cairn__bundle_fail(detail, detail_len, r->off,
                                  "header truncated");
    }
    if (n == 0 || n > CAIRN_MAX_ID || cairn__rd_view(r, n, &p) != 0 ||
        memchr(p, 0, n) != NULL) {
        return cairn__bundle_fail(detail, detail_len, 25,
                                  "run id: length %u invalid, "
                                  "truncated or holding a NUL byte",
                                  (unsigned)n);
    }
    memcpy(h->run_id, p, n);
    h->run_id[n] = '\0';
    if (cairn__rd_bytes(r, h->key_id, CAIRN_KEY_ID_BYTES) != 0 ||
        cairn__rd_bytes(r, h->pk, CAIRN_PUBLIC_KEY_BYTES) != 0 ||
        cairn__rd_u32(r, &h->n_records) != 0) {
        return cairn__bundle_fail(detail, detail_len, r->off,
                                  "header truncated");
    }
    if (h->n_records > CAIRN__BUNDLE_MAX_RECORDS ||
        h->n_records > cairn__rd_left(r) / RECORD_ENTRY_MIN) {
        return cairn__bundle_fail(
            detail, detail_len, r->off - 4,
            "record count %lu exceeds the limit or the input",
            (unsigned long)h->n_records);
    }
    h->rec_off = r->off;
    return CAIRN_OK;
}

/* Framing of the record and checkpoint sections; nothing is decoded. */
static cairn_err parse_frames(cairn_rd *r, bundle_hdr *h, char *detail,
                              size_t detail_len)
{
    uint64_t pos, prev = 0;
    uint32_t len;
    const uint8_t *p;
    for (uint32_t i = 0; i < h->n_records; i++) {
        size_t off = r->off;
        if (cairn__rd_u64(r, &pos) != 0 || cairn__rd_u32(r, &len) != 0 ||
            len == 0 || len > CAIRN_MAX_CREATE_RECORD_BYTES ||
            cairn__rd_view(r, len, &p) != 0) {
            return cairn__bundle_fail(detail, detail_len, off,
                                      "record %lu: truncated or "
                                      "length out of range",
                                      (unsigned long)i);
        }
    }
    if (cairn__rd_u32(r, &h->n_cps) != 0 ||
        h->n_cps > CAIRN__BUNDLE_MAX_RECORDS ||
        h->n_cps > cairn__rd_left(r) / CP_ENTRY_BYTES) {
        return cairn__bundle_fail(detail, detail_len, r->off,
                                  "checkpoint count missing, "
                                  "over the limit or beyond the input");
    }
    h->cp_off = r->off;
    for (uint32_t i = 0; i < h->n_cps; i++) {
        size_t off = r->off;
        if (cairn__rd_u64(r, &pos) != 0 ||
            cairn__rd_view(r, CAIRN_CHECKPOINT_BYTES, &p) != 0) {
            return cairn__bundle_fail(detail, detail_len, off,
                                      "checkpoint %lu: "
                                      "truncated",
                                      (unsigned long)i);
        }
        if (pos <= prev) {
            return cairn__bundle_fail(detail, detail_len, off,
                                      "checkpoint %lu: "
                                      "positions not ascending",
                                      (unsigned long)i);
        }
        prev = pos;
    }
    if (h->version == CAIRN__BUNDLE_VERSION_2) {
        return cairn__bundle_v2_parse(r, &h->v2, detail, detail_len);
    }
    if (h->version == CAIRN__BUNDLE_VERSION_3) {
        return cairn__bundle_v3_parse(r, &h->v2, detail, detail_len);
    }
    if (cairn__rd_left(r) != 0) {
        return cairn__bundle_fail(detail, detail_len, r->off,
                                  "%zu bytes after the last checkpoint",
                                  cairn__rd_left(r));
    }
    return CAIRN_OK;
}

typedef struct cp_iter {
    cairn_rd r;
    uint32_t left;
    int have;
    uint64_t pos;
    const uint8_t *bytes;
} cp_iter;

static void cp_step(cp_iter *it)
{
    it->have = it->left > 0 && cairn__rd_u64(&it->r, &it->pos) == 0 &&
               cairn__rd_view(&it->r, CAIRN_CHECKPOINT_BYTES, &it->bytes) == 0;
    if (it->have) {
        it->left--;
    }
}

/* Records and checkpoints to the core, merged on position. */
static cairn_err feed(const uint8_t *buf, size_t len, const bundle_hdr *h,
                      cairn_vcore *v)
{
    cairn_rd r;
    cp_iter it;
    cairn__rd_init(&r, buf, len);
    r.off = h->rec_off;
    cairn__rd_init(&it.r, buf, len);
    it.r.off = h->cp_off;
    it.left = h->n_cps;
    cp_step(&it);
    cairn_err err = CAIRN_OK;
    for (uint32_t i = 0; i < h->n_records && err == CAIRN_OK; i++) {
        uint64_t pos;
        uint32_t n;
        const uint8_t *p;
        if (cairn__rd_u64(&r, &pos) != 0 || cairn__rd_u32(&r, &n) != 0 ||
            cairn__rd_view(&r, n, &p) != 0) {
            return CAIRN_EBUNDLE; /* unreachable: framing was checked */
        }
        while (err == CAIRN_OK && it.have && it.pos < pos) {
            err = cairn__vcore_checkpoint(v, it.pos, it.bytes,
                                          CAIRN_CHECKPOINT_BYTES);
            cp_step(&it);
        }
        if (err == CAIRN_OK) {
            err = cairn__vcore_record(v, pos, p, n);
        }
        if (err == CAIRN_OK && it.have && it.pos == pos) {
            err = cairn__vcore_checkpoint(v, pos, it.bytes,
                                          CAIRN_CHECKPOINT_BYTES);
            cp_step(&it);
        }
    }
    while (err == CAIRN_OK && it.have) {
        err = cairn__vcore_checkpoint(v, it.pos, it.bytes,
                                      CAIRN_CHECKPOINT_BYTES);
        cp_step(&it);
    }
    return err;
}

/* The bundle's key must be a valid key and, when pinned, the pinned one. */
static cairn_err check_key(const bundle_hdr *h, const cairn_pubkey *pinned,
                           cairn_verify_report *out, char *detail,
                           size_t detail_len)
{
    cairn_pubkey *emb = NULL;
    uint8_t pid[CAIRN_KEY_ID_BYTES], ppk[CAIRN_PUBLIC_KEY_BYTES];
    char e[17], f[17];
    cairn_err err = cairn__pubkey_from_raw(h->key_id, h->pk, &emb);
    cairn_pubkey_free(emb);
    if (err == CAIRN_ENOMEM) {
        return err;
    }
    if (err != CAIRN_OK) {
        return cairn__bundle_fail(detail, detail_len, 0,
                                  "public key: not a valid "
                                  "Ed25519 key");
    }
    if (pinned == NULL) {
        return CAIRN_OK;
    }
    if (cairn__pubkey_find(pinned, h->key_id) == NULL) {
        /* Another key: a key mismatch (INCOMPLETE, the run's check says
         * so), not proof of tampering. */
        out->key_mismatch = 1;
        return CAIRN_OK;
    }
    pinned = cairn__pubkey_find(pinned, h->key_id);
    cairn_pubkey_key_id(pinned, pid);
    cairn_pubkey_bytes(pinned, ppk);
    if (memcmp(pid, h->key_id, CAIRN_KEY_ID_BYTES) == 0 &&
        memcmp(ppk, h->pk, CAIRN_PUBLIC_KEY_BYTES) == 0) {
        return CAIRN_OK;
    }
    cairn__key_id_text(pid, e);
    cairn__key_id_text(h->key_id, f);
    cairn__report_tampered(out, 0, 0, "bundle.key", e, f,
                           "bundle key is not the pinned key (bundle key "
                           "%s, pinned key %s)",
                           f, e);
    return CAIRN_ETAMPERED;
}

static void append_reason(cairn_verify_report *rep, const char *text)
{
    size_t n = strlen(rep->reason);
    cairn__fmt(rep->reason + n, sizeof(rep->reason) - n, "%s%s",
               n > 0 ? "; " : "", text);
}

/* A version-1 bundle has no head: no anchor can be checked. */
static void anchors_v1(const cairn__bundle_check *c, cairn_verify_report *out,
                       cairn_bundle_info *info)
{
    for (size_t i = 0; i < c->n_anchors; i++) {
        info->anchors[i].size = c->anchors[i].size;
        info->anchors[i].verdict = CAIRN_VERDICT_INCOMPLETE;
        cairn__fmt(info->anchors[i].reason, sizeof(info->anchors[i].reason),
                   "a version-1 bundle carries no journal head: re-export "
                   "from a format-2 journal");
    }
    info->n_anchors = c->n_anchors;
    if (c->n_anchors > 0 && out->verdict == CAIRN_VERDICT_VERIFIED) {
        out->verdict = CAIRN_VERDICT_INCOMPLETE;
    }
    if (c->n_anchors > 0) {
        append_reason(out, "anchors not checked: a version-1 bundle carries "
                           "no journal head");
    }
}

/* A run with head-sealed checkpoints is VERIFIED only when its bundle's
 * head signature verified under the pinned key and its state was proven
 * under that head: whatever path got here, nothing else signs it. */
static void head_guard(cairn_verify_report *out, const cairn_bundle_info *info)
{
    const cairn_verify_head *hd = &out->journal_head;
    if (out->verdict != CAIRN_VERDICT_VERIFIED || out->head_sealed == 0 ||
        (hd->present && hd->signature_ok && !hd->key_mismatch &&
         info->state_proven)) {
        return;
    }
    out->verdict = CAIRN_VERDICT_INCOMPLETE;
    append_reason(out, "the run's checkpoints are sealed by a journal head "
                       "whose signature was not verified");
}

/* Version 3 and a trusted chain: the key in force at the head, alone
 * (it signs the head and FILE.minisig); @p out receives a copy. */
static cairn_err head_key(const cairn__vkeys *vk, cairn_pubkey *one,
                          const cairn__bundle_check *c)
{
    const cairn_key_entry *k = &vk->kh.keys[vk->kh.n - 1];
    memset(one, 0, sizeof(*one));
    memcpy(one->key_id, k->key_id, CAIRN_KEY_ID_BYTES);
    memcpy(one->pk, k->pk, CAIRN_PUBLIC_KEY_BYTES);
    if (c->minisig_key == NULL) {
        return CAIRN_OK;
    }
    cairn_err err = cairn__pubkey_from_raw(k->key_id, k->pk, c->minisig_key);
    return err == CAIRN_ENOMEM ? err : CAIRN_OK;
}

static cairn_err run_core(const uint8_t *buf, size_t len, const bundle_hdr *h,
                          const cairn__bundle_check *c,
                          cairn_verify_report *out, cairn_bundle_info *info)
{
    cairn_vcore v;
    cairn__vkeys vk;
    cairn_pubkey cur;
    char e[17], f[17];
    const cairn_pubkey *pinned = c->pinned;
    int v3 = h->version == CAIRN__BUNDLE_VERSION_3;
    memset(&vk, 0, sizeof(vk));
    cairn__vcore_init(&v, h->journal_id, 0, out->run_id, pinned, out);
    /* Head-sealed checkpoints (docs/FORMAT.md section 25) only in a
     * bundle of version 2 or 3, whose head cairn__bundle_v2_check() proves
     * below: it reports TAMPERED unless that head verifies under the key
     * in force and covers the run's last record and state, and
     * head_guard() takes VERIFIED back if it did not say so. */
    v.head_seals = h->version != CAIRN__BUNDLE_VERSION;
    v.head_proven = v.head_seals;
    cairn_err err =
        v3 ? cairn__bundle_keys_begin(&h->v2, h->journal_id, h->key_id, h->pk,
                                      pinned, &vk, &v, out)
           : CAIRN_OK;
    info->rotations = (uint32_t)h->v2.n_rotations;
    if (err == CAIRN_OK) {
        err = feed(buf, len, h, &v);
    }
    if (err == CAIRN_OK && out->run_signed &&
        memcmp(out->key_id, h->key_id, CAIRN_KEY_ID_BYTES) != 0) {
        cairn__key_id_text(h->key_id, e);
        cairn__key_id_text(out->key_id, f);
        err = cairn__vcore_tampered(&v, 1, 0, "bundle.key_id", e, f,
                                    "the run is signed by another key than "
                                    "the bundle's");
    }
    if (err == CAIRN_OK) {
        out->replay_ok = 1;
        cairn__vcore_finish(&v, NULL);
    }
    if (err == CAIRN_OK && out->verdict != CAIRN_VERDICT_TAMPERED) {
        /* Of a pinned key set, the bundle's own key signs head and
         * anchors (none on a key mismatch); version 3: the key in force
         * at the head, when a pinned key trusts the chain. */
        cairn__bundle_check one = *c;
        one.pinned =
            pinned != NULL ? cairn__pubkey_find(pinned, h->key_id) : NULL;
        if (v3) {
            one.keys = &vk.kh;
            one.pinned = NULL;
            if (vk.trusted) {
                err = head_key(&vk, &cur, c);
                one.pinned = &cur;
            }
        }
        if (err == CAIRN_OK && h->version != CAIRN__BUNDLE_VERSION) {
            err = cairn__bundle_v2_check(&h->v2, h->journal_id, &v.st,
                                         v.last_pos, &one, out, info);
        } else if (err == CAIRN_OK) {
            anchors_v1(c, out, info);
        }
        head_guard(out, info);
    }
    if (err == CAIRN_OK && h->version != CAIRN__BUNDLE_VERSION &&
        c->tlog_proof != NULL && v.n > 0) {
        uint8_t proof[CAIRN_MT_MAX_PROOF][CAIRN_HASH_BYTES];
        memcpy(proof, h->v2.tree_proof, h->v2.n_tree_proof * CAIRN_HASH_BYTES);
        err = cairn__tlog_proof_encode(
            c->tlog_proof, NULL, 0, v.last_pos - 1,
            (const uint8_t(*)[CAIRN_HASH_BYTES])proof, h->v2.n_tree_proof,
            (const char *)h->v2.head, h->v2.head_len);
        err = err == CAIRN_ENOMEM ? err : CAIRN_OK;
    }
    cairn__vcore_free(&v);
    cairn__vkeys_free(&vk);
    return err == CAIRN_ETAMPERED ? CAIRN_OK : err;
}

cairn_err cairn__verify_bundle_mem(const uint8_t *buf, size_t len,
                                   const cairn_pubkey *pinned,
                                   cairn_verify_report *out, char *detail,
                                   size_t detail_len)
{
    cairn__bundle_check c = {pinned, NULL, 0, NULL, NULL, NULL};
    return cairn__verify_bundle_mem_ex(buf, len, &c, out, NULL, detail,
                                       detail_len);
}

cairn_err cairn__verify_bundle_mem_ex(const uint8_t *buf, size_t len,
                                      const cairn__bundle_check *c,
                                      cairn_verify_report *out,
                                      cairn_bundle_info *info, char *detail,
                                      size_t detail_len)
{
    bundle_hdr h;
    cairn_rd r;
    cairn_bundle_info scratch;
    const cairn_pubkey *pinned = c != NULL ? c->pinned : NULL;
    cairn__clear(detail, detail_len);
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (info == NULL) {
        info = &scratch;
    }
    memset(info, 0, sizeof(*info));
    if (out == NULL || c == NULL || (buf == NULL && len > 0)) {
        return CAIRN_EINVAL;
    }
    cairn__report_init(out, NULL, pinned);
    memset(&h, 0, sizeof(h));
    cairn__rd_init(&r, buf, len);
    cairn_err err =
        len > CAIRN__BUNDLE_MAX_BYTES
            ? cairn__bundle_fail(detail, detail_len, 0, "larger than 1 GiB")
            : parse_header(&r, &h, detail, detail_len);
    if (err == CAIRN_OK) {
        err = parse_frames(&r, &h, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        info->version = h.version;
        cairn__fmt(out->run_id, sizeof(out->run_id), "%s", h.run_id);
        /* version 3: its key history decides (run_core) */
        err =
            check_key(&h, h.version == CAIRN__BUNDLE_VERSION_3 ? NULL : pinned,
                      out, detail, detail_len);
    }
    if (err == CAIRN_EBUNDLE) {
        cairn__report_tampered(out, 0, 0, "bundle", NULL, detail,
                               "bundle malformed: %s", detail);
        return err;
    }
    if (err != CAIRN_OK) {
        return err == CAIRN_ETAMPERED ? CAIRN_OK : err;
    }
    return run_core(buf, len, &h, c, out, info);
}

void cairn__bundle_comment(const char *run_id, uint64_t records,
                           const uint8_t head[CAIRN_HASH_BYTES],
                           const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                           char *out, size_t out_len)
{
    cairn__bundle_comment_ex(run_id, records, head, journal_id, NULL, out,
                             out_len);
}

void cairn__bundle_comment_ex(const char *run_id, uint64_t records,
                              const uint8_t head[CAIRN_HASH_BYTES],
                              const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                              const cairn__bundle_comment_v2 *v2, char *out,
                              size_t out_len)
{
    char hh[2 * CAIRN_HASH_BYTES + 1], jh[2 * CAIRN_JOURNAL_ID_BYTES + 1];
    char more[120] = "";
    cairn__hex(head, CAIRN_HASH_BYTES, hh);
    cairn__hex(journal_id, CAIRN_JOURNAL_ID_BYTES, jh);
    if (v2 != NULL) {
        cairn__fmt(more, sizeof(more), " exported=%llu state=%s tree=%llu",
                   (unsigned long long)v2->exported_ns,
                   cairn_run_state_name(v2->state),
                   (unsigned long long)v2->tree_size);
    }
    cairn__fmt(out, out_len,
               "cairn bundle run=%s records=%llu head=%s "
               "journal=%s%s",
               run_id, (unsigned long long)records, hh, jh, more);
}

cairn_err cairn__bundle_records(const uint8_t *buf, size_t len,
                                cairn__bundle_record_fn fn, void *ctx,
                                char *detail, size_t detail_len)
{
    bundle_hdr h;
    cairn_rd r;
    memset(&h, 0, sizeof(h));
    cairn__rd_init(&r, buf, len);
    cairn_err err = parse_header(&r, &h, detail, detail_len);
    if (err == CAIRN_OK) {
        err = parse_frames(&r, &h, detail, detail_len);
    }
    cairn__rd_init(&r, buf, len);
    r.off = h.rec_off;
    for (uint32_t i = 0; err == CAIRN_OK && i < h.n_records; i++) {
        uint64_t pos;
        uint32_t n;
        const uint8_t *p;
        if (cairn__rd_u64(&r, &pos) != 0 || cairn__rd_u32(&r, &n) != 0 ||
            cairn__rd_view(&r, n, &p) != 0) {
            return CAIRN_EBUNDLE; /* unreachable: framing was checked */
        }
        err = fn(ctx, pos, r.off - n, n);
    }
    return err;
}
