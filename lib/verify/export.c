/*
 * export.c - cairn_export_bundle() and cairn_checkpoint_each().
 *
 * A bundle is written from one read transaction: the run is verified with
 * the signer's own public key first (anything but VERIFIED writes
 * nothing), then its records and checkpoints are streamed to a temporary
 * file in the target directory while BLAKE2b-512 is computed over the
 * same bytes.  The file is fsynced, renamed into place without replacing
 * anything, and the directory fsynced; then FILE.minisig, made from that
 * hash, follows the same path.  If the .minisig cannot be written the
 * bundle is removed again.
 */
#include "verify/verify.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "journal/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- cairn_checkpoint_each ------------------------------------------ */

typedef struct cp_each {
    int (*fn)(void *ctx, const cairn_checkpoint_view *cp);
    void *ctx;
} cp_each;

static cairn_err cp_step(void *vctx, cairn_journal *j, cairn_txn *txn,
                         uint64_t seq, uint64_t pos)
{
    cp_each *c = vctx;
    uint8_t key[8];
    const uint8_t *v;
    size_t vl;
    int found;
    cairn_checkpoint cp;
    cairn_checkpoint_view view;
    char why[160];
    cairn__store64_be(key, pos);
    cairn_err err = cairn__txn_get(txn, CAIRN_DBI_CHECKPOINTS, key, sizeof(key),
                                   &v, &vl, &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (!found) {
        return CAIRN_OK;
    }
    if (cairn__checkpoint_decode(v, vl, &cp, why, sizeof(why)) != CAIRN_OK) {
        return cairn__jfail(
            j, CAIRN_ECORRUPT, "seq %llu: checkpoint at position %llu: %s",
            (unsigned long long)seq, (unsigned long long)pos, why);
    }
    memset(&view, 0, sizeof(view));
    view.position = pos;
    view.seq = cp.seq;
    memcpy(view.head, cp.head, CAIRN_HASH_BYTES);
    view.wall_ns = cp.wall_ns;
    view.is_signed = cp.is_signed != 0;
    view.head_sealed = cp.head_sealed != 0;
    memcpy(view.key_id, cp.key_id, CAIRN_KEY_ID_BYTES);
    memcpy(view.signature, cp.sig, CAIRN_SIGNATURE_BYTES);
    return c->fn(c->ctx, &view) ? CAIRN_EINTR : CAIRN_OK;
}

cairn_err cairn_checkpoint_each(cairn_journal *journal, const char *run_id,
                                int (*fn)(void *ctx,
                                          const cairn_checkpoint_view *cp),
                                void *ctx)
{
    if (journal == NULL || run_id == NULL || fn == NULL) {
        return CAIRN_EINVAL;
    }
    cp_each c = {fn, ctx};
    return cairn__walk_run_id(journal, run_id, 0, cp_step, &c);
}

/* ---- the bundle's sections ------------------------------------------ */

typedef struct section_ctx {
    cairn__bout *out;
    uint64_t count; /* entries written */
} section_ctx;

static cairn_err put_record(void *vctx, cairn_journal *j, cairn_txn *txn,
                            uint64_t seq, uint64_t pos)
{
    section_ctx *c = vctx;
    uint8_t key[8], head[12];
    const uint8_t *v;
    size_t vl;
    int found;
    cairn__store64_be(key, pos);
    cairn_err err = cairn__txn_get(txn, CAIRN_DBI_RECORDS, key, sizeof(key), &v,
                                   &vl, &found);
    if (err == CAIRN_OK && (!found || vl > CAIRN_MAX_RECORD_BYTES)) {
        err = cairn__jfail(j, CAIRN_ECORRUPT,
                           "seq %llu changed under the "
                           "export",
                           (unsigned long long)seq);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__store64_be(head, pos);
    cairn__store32_be(head + 8, (uint32_t)vl);
    cairn__bout_put(c->out, head, sizeof(head));
    cairn__bout_put(c->out, v, vl);
    c->count++;
    return CAIRN_OK;
}

static cairn_err put_checkpoint(void *vctx, cairn_journal *j, cairn_txn *txn,
                                uint64_t seq, uint64_t pos)
{
    section_ctx *c = vctx;
    uint8_t key[8];
    const uint8_t *v;
    size_t vl;
    int found;
    (void)seq;
    cairn__store64_be(key, pos);
    cairn_err err = cairn__txn_get(txn, CAIRN_DBI_CHECKPOINTS, key, sizeof(key),
                                   &v, &vl, &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (found && vl == CAIRN_CHECKPOINT_BYTES) {
        cairn__bout_put(c->out, key, sizeof(key));
        cairn__bout_put(c->out, v, vl);
        c->count++;
    }
    return CAIRN_OK;
}

typedef struct export_job {
    cairn_journal *j;
    cairn_txn *txn;
    const char *run_id;
    uint64_t run_num;
    const cairn_signer *signer;
    cairn_vrun_mode mode; /* VRUN_DIR_CHECKED for CAIRN_EXPORT_RUN_ONLY */
    cairn_verify_report rep;
    int v2; /* a format-2 journal: bundle version 2 */
    int zstd;
    uint64_t bytes; /* of FILE */
    uint64_t raw_bytes;
    cairn__export_v2 x2;
} export_job;

static void put_header(const export_job *x, cairn__bout *out)
{
    uint8_t b[8];
    size_t n = strlen(x->run_id);
    cairn__bout_put(out, CAIRN__BUNDLE_MAGIC, CAIRN__BUNDLE_MAGIC_LEN);
    b[0] = x->v2 ? CAIRN__BUNDLE_VERSION_2 : CAIRN__BUNDLE_VERSION;
    cairn__bout_put(out, b, 1);
    cairn__bout_put(out, x->j->journal_id, CAIRN_JOURNAL_ID_BYTES);
    cairn__store16_be(b, (uint16_t)n);
    cairn__bout_put(out, b, 2);
    cairn__bout_put(out, x->run_id, n);
    cairn__bout_put(out, x->signer->key_id, CAIRN_KEY_ID_BYTES);
    cairn__bout_put(out, x->signer->pk, CAIRN_PUBLIC_KEY_BYTES);
    cairn__store32_be(b, (uint32_t)x->rep.records);
    cairn__bout_put(out, b, 4);
}

/* Header, records, checkpoints: the whole bundle into @p out. */
static cairn_err write_sections(export_job *x, cairn__bout *out)
{
    section_ctx rc = {out, 0}, cc = {out, 0};
    uint8_t b[4];
    put_header(x, out);
    cairn_err err =
        cairn__walk_run(x->j, x->txn, x->run_num, 0, put_record, &rc);
    if (err == CAIRN_OK) {
        cairn__store32_be(b, (uint32_t)x->rep.checkpoints);
        cairn__bout_put(out, b, 4);
        err = cairn__walk_run(x->j, x->txn, x->run_num, 0, put_checkpoint, &cc);
    }
    if (err == CAIRN_OK &&
        (rc.count != x->rep.records || cc.count != x->rep.checkpoints)) {
        err = cairn__jfail(x->j, CAIRN_ECORRUPT,
                           "the run changed under "
                           "the export");
    }
    if (err == CAIRN_OK && x->v2) {
        cairn__bout_put(out, x->x2.trailer.p, x->x2.trailer.len);
    }
    return err;
}

#define WRITE_BUF (64u * 1024u)

/* The run must be bound to the signer's key (its materialised state). */
static cairn_err check_binding(export_job *x)
{
    cairn_state st;
    cairn_err err = cairn__lookup_run(x->j, x->txn, x->run_id, &x->run_num);
    if (err != CAIRN_OK ||
        (err = cairn__load_state(x->j, x->txn, x->run_num, &st, x->j->detail,
                                 sizeof(x->j->detail))) != CAIRN_OK) {
        return err;
    }
    int same = st.signed_run &&
               memcmp(st.key_id, x->signer->key_id, CAIRN_KEY_ID_BYTES) == 0;
    char want[17], have[17];
    cairn__key_id_text(st.key_id, want);
    cairn__key_id_text(x->signer->key_id, have);
    if (st.pruned) {
        err = cairn__jfail(x->j, CAIRN_EPRUNED,
                           "run %s was pruned: its records are in the bundle "
                           "archived before (cairn prune)",
                           x->run_id);
    } else if (!same) {
        err = cairn__jfail(x->j, CAIRN_EKEYMISMATCH,
                           "run %s is %s%s; the key given is %s%s", x->run_id,
                           st.signed_run ? "signed by key " : "unsigned",
                           st.signed_run ? want : "", have,
                           st.signed_run ? " (a run created under a key "
                                           "the journal rotated away from "
                                           "is not exported: verify it in "
                                           "the journal)"
                                         : "");
    }
    cairn__state_free(&st);
    return err;
}

/* Verify with the signer's public key; only VERIFIED may be exported. */
static cairn_err verify_first(export_job *x)
{
    cairn_pubkey *pk = NULL;
    cairn_err err =
        cairn__pubkey_from_raw(x->signer->key_id, x->signer->pk, &pk);
    if (err == CAIRN_OK) {
        cairn__report_init(&x->rep, x->run_id, pk);
        err = cairn__verify_run_txn(x->j, x->txn, x->run_id, pk, x->mode, NULL,
                                    &x->rep, NULL);
    }
    cairn_pubkey_free(pk);
    if (err != CAIRN_OK) {
        return err == CAIRN_EKEY ? cairn__jfail(x->j, CAIRN_EKEY,
                                                "the "
                                                "signer's public key is "
                                                "invalid")
                                 : err;
    }
    switch (x->rep.verdict) {
    case CAIRN_VERDICT_VERIFIED:
        break;
    case CAIRN_VERDICT_TAMPERED:
        return cairn__jfail(x->j, CAIRN_ETAMPERED, "run %s: %s", x->run_id,
                            x->rep.reason);
    case CAIRN_VERDICT_INCOMPLETE:
        return cairn__jfail(x->j, CAIRN_EINCOMPLETE, "run %s: %s", x->run_id,
                            x->rep.reason);
    case CAIRN_VERDICT_ERROR:
        return cairn__jfail(x->j, CAIRN_ESTORE, "run %s: %s", x->run_id,
                            x->rep.reason);
    }
    if (x->rep.records > CAIRN__BUNDLE_MAX_RECORDS) {
        return cairn__jfail(x->j, CAIRN_EINVAL,
                            "run %s has %llu records; "
                            "a bundle holds at most %u",
                            x->run_id, (unsigned long long)x->rep.records,
                            CAIRN__BUNDLE_MAX_RECORDS);
    }
    return CAIRN_OK;
}

/* The bundle file itself; its BLAKE2b-512 into @p hash. */
static cairn_err write_bundle(export_job *x, const char *path, uint8_t hash[64])
{
    char *tmp = NULL;
    int fd = -1;
    char why[600];
    uint8_t *buf = malloc(WRITE_BUF);
    cairn__bout out;
    if (buf == NULL) {
        return CAIRN_ENOMEM;
    }
    cairn_err err = cairn__temp_create(path, &tmp, &fd, why, sizeof(why));
    if (err != CAIRN_OK) {
        free(buf);
        return cairn__jfail(x->j, err, "%s", why);
    }
    cairn__bout_init(&out, fd, buf, WRITE_BUF);
    if (x->zstd) {
        err = cairn__bout_zstd(&out);
    }
    if (err == CAIRN_OK) {
        err = write_sections(x, &out);
    }
    cairn_err ferr = cairn__bout_finish(&out, hash, why, sizeof(why));
    x->bytes = out.total;
    x->raw_bytes = out.raw;
    if (err == CAIRN_OK && ferr != CAIRN_OK) {
        err = cairn__jfail(x->j, ferr, "%s: %s", path, why);
    }
    if (err == CAIRN_OK) {
        err = cairn__temp_publish(tmp, path, why, sizeof(why));
        if (err != CAIRN_OK) {
            cairn__jfail(x->j, err, "%s", why);
        }
    } else {
        (void)unlink(tmp);
    }
    free(tmp);
    free(buf);
    return err;
}

static cairn_err write_minisig(export_job *x, const char *sig_path,
                               const uint8_t hash[64])
{
    char comment[600], why[600];
    char *text = NULL;
    size_t len = 0;
    cairn__bundle_comment_v2 v2 = {x->x2.exported_ns, x->x2.state,
                                   x->x2.tree_size};
    cairn__bundle_comment_ex(x->run_id, x->rep.records, x->rep.head,
                             x->j->journal_id, x->v2 ? &v2 : NULL, comment,
                             sizeof(comment));
    cairn_err err = cairn__minisig_create_hashed(x->signer, hash, NULL, comment,
                                                 &text, &len);
    if (err != CAIRN_OK) {
        return cairn__jfail(x->j, err, "signing the bundle failed (%s)",
                            cairn_errname(err));
    }
    err = cairn__file_write_new(sig_path, text, len, why, sizeof(why));
    free(text);
    return err == CAIRN_OK ? err : cairn__jfail(x->j, err, "%s", why);
}

static cairn_err refuse_existing(cairn_journal *j, const char *path)
{
    if (access(path, F_OK) == 0) {
        return cairn__jfail(j, CAIRN_EEXIST, "%s exists: not overwritten",
                            path);
    }
    return CAIRN_OK;
}

cairn_err cairn_export_bundle(cairn_journal *journal, const char *run_id,
                              const cairn_signer *signer, const char *path)
{
    return cairn_export_bundle_flags(journal, run_id, signer, path, 0);
}

cairn_err cairn_export_bundle_flags(cairn_journal *journal, const char *run_id,
                                    const cairn_signer *signer,
                                    const char *path, unsigned flags)
{
    cairn_export_opts opts = {flags, NULL, NULL, 0};
    return cairn_export_bundle_opts(journal, run_id, signer, path, &opts, NULL);
}

/* "<path><suffix>" (malloc'd), or NULL. */
static char *with_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path) + strlen(suffix) + 1;
    char *s = malloc(n);
    if (s != NULL) {
        snprintf(s, n, "%s%s", path, suffix);
    }
    return s;
}

/* Verify, then build (version 2) and write FILE, all in one read
 * transaction. */
static cairn_err export_in_txn(export_job *x, const cairn_export_opts *opts,
                               const char *path, uint8_t hash[64])
{
    cairn_err err = cairn__store_read(x->j->store, &x->txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(x->j, err, "%s", cairn__store_detail(x->j->store));
    }
    err = check_binding(x);
    if (err == CAIRN_OK) {
        err = verify_first(x);
    }
    if (err == CAIRN_OK) {
        x->v2 = x->rep.format == 2;
        if (x->v2) {
            err = cairn__export_v2_build(x->j, x->txn, x->run_num, x->signer,
                                         &x->rep, opts, &x->x2);
        } else if (opts->n_anchors > 0) {
            err = cairn__jfail(x->j, CAIRN_EINVAL,
                               "a format-1 journal has no signed head: "
                               "anchors need a format-2 journal (cairn "
                               "migrate)");
        }
    }
    if (err == CAIRN_OK) {
        err = write_bundle(x, path, hash);
    }
    cairn__txn_end(x->txn);
    x->txn = NULL;
    return err;
}

/* FILE.tlog-proof (version 2) and FILE.minisig; on failure what was
 * written is removed again, FILE included. */
static cairn_err write_companions(export_job *x, const char *path,
                                  const char *tp_path, const char *sig_path,
                                  const uint8_t hash[64])
{
    char why[600];
    cairn_err err = CAIRN_OK;
    if (x->v2) {
        err = cairn__file_write_new(tp_path, x->x2.tlog_proof.p,
                                    x->x2.tlog_proof.len, why, sizeof(why));
        if (err != CAIRN_OK) {
            err = cairn__jfail(x->j, err, "%s", why);
        }
    }
    if (err == CAIRN_OK) {
        err = write_minisig(x, sig_path, hash);
        if (err != CAIRN_OK && x->v2) {
            (void)unlink(tp_path);
        }
    }
    if (err != CAIRN_OK) {
        (void)unlink(path);
    }
    return err;
}

cairn_err cairn_export_bundle_opts(cairn_journal *journal, const char *run_id,
                                   const cairn_signer *signer, const char *path,
                                   const cairn_export_opts *opts,
                                   cairn_export_result *out)
{
    cairn_export_opts none = {0, NULL, NULL, 0};
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (opts == NULL) {
        opts = &none;
    }
    if (journal == NULL || run_id == NULL || signer == NULL || path == NULL ||
        path[0] == '\0' ||
        (opts->flags & ~(CAIRN_EXPORT_RUN_ONLY | CAIRN_EXPORT_ZSTD)) != 0) {
        return CAIRN_EINVAL;
    }
    journal->detail[0] = '\0';
    char *sig_path = with_suffix(path, ".minisig");
    char *tp_path = with_suffix(path, ".tlog-proof");
    export_job x = {.j = journal,
                    .run_id = run_id,
                    .signer = signer,
                    .mode = (opts->flags & CAIRN_EXPORT_RUN_ONLY) != 0
                                ? VRUN_DIR_CHECKED
                                : VRUN_ALONE,
                    .zstd = (opts->flags & CAIRN_EXPORT_ZSTD) != 0};
    uint8_t hash[64];
    cairn_err err =
        sig_path == NULL || tp_path == NULL ? CAIRN_ENOMEM : CAIRN_OK;
    if (err == CAIRN_OK) {
        err = refuse_existing(journal, path);
    }
    if (err == CAIRN_OK) {
        err = refuse_existing(journal, tp_path);
    }
    if (err == CAIRN_OK) {
        err = refuse_existing(journal, sig_path);
    }
    if (err == CAIRN_OK) {
        err = export_in_txn(&x, opts, path, hash);
    }
    if (err == CAIRN_OK) {
        err = write_companions(&x, path, tp_path, sig_path, hash);
    }
    if (err == CAIRN_OK && out != NULL) {
        out->version = x.v2 ? CAIRN__BUNDLE_VERSION_2 : CAIRN__BUNDLE_VERSION;
        out->tlog_proof = x.v2;
        out->exported_ns = x.x2.exported_ns;
        out->tree_size = x.x2.tree_size;
        out->state = x.x2.state;
        out->bytes = x.bytes;
        out->raw_bytes = x.raw_bytes;
    }
    cairn__export_v2_free(&x.x2);
    free(sig_path);
    free(tp_path);
    return err;
}
