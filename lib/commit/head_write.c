/*
 * head_write.c - the end of every format-2 commit: extend the log tree by
 * the commit's records, move the state map leaves of the runs it touched,
 * and write the new head, signed once (journal/head.h, docs/FORMAT.md
 * section 13).
 *
 * Nothing stored is built upon before it is proven: the log tree's peaks
 * are checked against the old head's root before the first append, and
 * every state map path against the current root before its leaf moves
 * (format/merkle.h does both).  So a forged node is refused, never signed.
 */
#include "commit/head_write.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "base/sys.h"
#include "format/merkle.h"
#include "format/note.h"
#include "journal/head.h"
#include "keys/key.h"

#include <stdio.h>
#include <string.h>

/* Who may write: the head's signedness is fixed by the journal's first
 * commit, and a signed head is extended only by its key's holder. */
static cairn_err check_signer(const cairn_journal *j, const cairn_head *old,
                              char *detail, size_t detail_len)
{
    if (!old->present) {
        return CAIRN_OK;
    }
    if (old->is_signed && j->signer == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EKEYMISMATCH,
                           "the journal is signed: writing to it needs its "
                           "secret key (--secret-key or CAIRN_SECRET_KEY)");
    }
    if (!old->is_signed && j->signer != NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EKEYMISMATCH,
                           "the journal is unsigned: a key cannot vouch for "
                           "its unsigned history; write without a key, or "
                           "start a new journal with the key");
    }
    if (old->foreign) {
        return cairn__fail(detail, detail_len, CAIRN_EKEYMISMATCH,
                           "the journal is signed by another key: %s",
                           old->foreign_why);
    }
    if (old->is_signed && !old->proven) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "head: its signature was not proven");
    }
    return CAIRN_OK;
}

/* Move the state map: updated runs first (their paths proven against the
 * root as it moves), then new runs appended in number order. */
static cairn_err move_map(cairn_txn *txn, const cairn_head *old,
                          const cairn_run_leaf *runs, size_t n_runs,
                          uint64_t *size, uint8_t root[CAIRN_HASH_BYTES],
                          char *detail, size_t detail_len)
{
    cairn_nodes nodes = {txn, CAIRN_DBI_SMAP};
    char why[256];
    *size = old->runs;
    memcpy(root, old->state_root, CAIRN_HASH_BYTES);
    for (size_t i = 0; i < n_runs; i++) {
        const cairn_run_leaf *r = &runs[i];
        if (r->is_new) {
            continue;
        }
        why[0] = '\0';
        uint8_t trusted[CAIRN_HASH_BYTES];
        memcpy(trusted, root, CAIRN_HASH_BYTES);
        cairn_err err = cairn__mt_update(
            *size, r->run_num - 1, r->old_leaf, r->new_leaf, trusted,
            cairn__nodes_get, cairn__nodes_put, &nodes, root, why, sizeof(why));
        if (err != CAIRN_OK) {
            return cairn__fail(detail, detail_len, err,
                               "run %llu: state map: %s",
                               (unsigned long long)r->run_num, why);
        }
    }
    for (size_t i = 0; i < n_runs; i++) {
        const cairn_run_leaf *r = &runs[i];
        if (!r->is_new) {
            continue;
        }
        if (r->run_num != *size + 1) {
            return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                               "new run %llu after %llu runs: runs are not "
                               "numbered 1..R",
                               (unsigned long long)r->run_num,
                               (unsigned long long)*size);
        }
        why[0] = '\0';
        uint8_t trusted[CAIRN_HASH_BYTES];
        memcpy(trusted, root, CAIRN_HASH_BYTES);
        cairn_err err =
            cairn__mt_append(*size, r->new_leaf, trusted, cairn__nodes_get,
                             cairn__nodes_put, &nodes, root, why, sizeof(why));
        if (err != CAIRN_OK) {
            return cairn__fail(detail, detail_len, err, "state map: %s", why);
        }
        (*size)++;
    }
    return CAIRN_OK;
}

/* The head's text: checkpoint body, and the signature line when signed. */
static cairn_err encode_head(const cairn_journal *j, int sign, uint64_t size,
                             const uint8_t root[CAIRN_HASH_BYTES],
                             uint64_t runs,
                             const uint8_t state_root[CAIRN_HASH_BYTES],
                             uint64_t time_ns, cairn_wr *w, char *detail,
                             size_t detail_len)
{
    char origin[CAIRN__ORIGIN_MAX], b64[48], ext[160];
    cairn__head_origin(j, origin);
    cairn__b64_encode(state_root, CAIRN_HASH_BYTES, b64, sizeof(b64));
    int n =
        snprintf(ext, sizeof(ext), "cairn-state %llu %s\ncairn-time %llu\n",
                 (unsigned long long)runs, b64, (unsigned long long)time_ns);
    if (n < 0 || (size_t)n >= sizeof(ext)) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "head: extension lines too long");
    }
    cairn_tlog_checkpoint cp;
    memset(&cp, 0, sizeof(cp));
    cp.origin = origin;
    cp.origin_len = strlen(origin);
    cp.size = size;
    memcpy(cp.root, root, CAIRN_HASH_BYTES);
    cp.ext = ext;
    cp.ext_len = (size_t)n;
    cp.n_ext = 2;
    cairn_err err = cairn__tlog_checkpoint_encode(w, &cp);
    if (err != CAIRN_OK || !sign) {
        return err != CAIRN_OK ? cairn__fail(detail, detail_len, err,
                                             "head: encoding failed")
                               : CAIRN_OK;
    }
    size_t text_len = w->len;
    uint8_t sig[CAIRN_SIGNATURE_BYTES];
    err = cairn__signer_sign(j->signer, w->p, text_len, sig);
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "signing the head failed");
    }
    cairn__wr_bytes(w, "\n", 1);
    uint32_t key_id = cairn__note_key_id(origin, cp.origin_len,
                                         CAIRN_NOTE_ALG_ED25519, j->signer->pk);
    err = cairn__note_sig_line(w, origin, cp.origin_len, key_id, sig,
                               sizeof(sig));
    if (err == CAIRN_OK && w->failed) {
        err = CAIRN_ENOMEM;
    }
    return err != CAIRN_OK
               ? cairn__fail(detail, detail_len, err, "head: encoding failed")
               : CAIRN_OK;
}

cairn_err cairn__head_write(cairn_journal *j, cairn_txn *txn,
                            const cairn_head *old,
                            const uint8_t (*leaves)[CAIRN_HASH_BYTES],
                            size_t n_leaves, const cairn_run_leaf *runs,
                            size_t n_runs, char *detail, size_t detail_len)
{
    cairn_err err = check_signer(j, old, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    int sign = old->present ? old->is_signed : j->signer != NULL;
    uint8_t root[CAIRN_HASH_BYTES], state_root[CAIRN_HASH_BYTES];
    uint64_t runs_after = 0;
    char why[256];
    why[0] = '\0';
    cairn_nodes log = {txn, CAIRN_DBI_TREE};
    memcpy(root, old->root, CAIRN_HASH_BYTES);
    if (n_leaves > 0) {
        err = cairn__mt_append_batch(old->size, leaves, n_leaves, old->root,
                                     cairn__nodes_get, cairn__nodes_put, &log,
                                     root, why, sizeof(why));
        if (err != CAIRN_OK) {
            return cairn__fail(detail, detail_len, err, "log tree: %s", why);
        }
    }
    err = move_map(txn, old, runs, n_runs, &runs_after, state_root, detail,
                   detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    return cairn__head_put(j, txn, sign, old->size + n_leaves, root, runs_after,
                           state_root, detail, detail_len);
}

cairn_err cairn__head_put(cairn_journal *j, cairn_txn *txn, int sign,
                          uint64_t size, const uint8_t root[CAIRN_HASH_BYTES],
                          uint64_t runs,
                          const uint8_t state_root[CAIRN_HASH_BYTES],
                          char *detail, size_t detail_len)
{
    if (sign && j->signer == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "head: no signer to sign it");
    }
    cairn_wr w;
    cairn__wr_init(&w, CAIRN__HEAD_MAX);
    cairn_err err = encode_head(j, sign, size, root, runs, state_root,
                                cairn__wall_ns(), &w, detail, detail_len);
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_META, CAIRN__HEAD_KEY,
                             strlen(CAIRN__HEAD_KEY), w.p, w.len, 0);
    }
    if (err == CAIRN_OK && sign) {
        cairn__head_remember(j, w.p, w.len); /* its own signature */
    }
    cairn__wr_free(&w);
    return err;
}
