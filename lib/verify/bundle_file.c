/*
 * bundle_file.c - cairn_verify_bundle_opts() and its wrappers: read the
 * bundle file (bounded), verify it in memory (bundle.c, bundle_v2.c), then
 * the files next to it: FILE.tlog-proof (version 2, optional: when present
 * it must hold exactly the bundle's proof and head) and FILE.minisig.
 *
 * With a pinned key, FILE.minisig is checked (signature and trusted
 * comment): that detects a bundle cut back to an earlier commit, which
 * the records alone cannot show.  A missing or unreadable .minisig
 * therefore fails closed (INCOMPLETE, never VERIFIED) unless the caller
 * passes CAIRN_BUNDLE_NO_SIGNATURE.
 */
#include "verify/bundle_anchor.h"

#include "base/zstd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void append_reason(cairn_verify_report *rep, const char *text)
{
    size_t n = strlen(rep->reason);
    cairn__fmt(rep->reason + n, sizeof(rep->reason) - n, "%s%s",
               n > 0 ? "; " : "", text);
}

/* The journal id is not in the report: take it from the header again. */
static void journal_id_of(const uint8_t *buf, uint8_t out[16])
{
    memcpy(out, buf + CAIRN__BUNDLE_MAGIC_LEN + 1, CAIRN_JOURNAL_ID_BYTES);
}

/* The detached signature could not be checked: the bundle's records may
 * still be an earlier commit cut back, so VERIFIED becomes INCOMPLETE
 * (fail closed).  @p why goes first in the reason and into @p detail. */
static void signature_missing(cairn_verify_report *out, const char *why,
                              char *detail, size_t detail_len)
{
    char rest[sizeof(out->reason)];
    if (out->verdict == CAIRN_VERDICT_VERIFIED) {
        out->verdict = CAIRN_VERDICT_INCOMPLETE;
    }
    cairn__fmt(rest, sizeof(rest), "%s", out->reason);
    cairn__fmt(out->reason, sizeof(out->reason),
               "detached signature not checked (%s): the bundle may be cut "
               "back to an earlier commit",
               why);
    append_reason(out, rest);
    cairn__fmt(detail, detail_len, "%s", why);
}

/* FILE.minisig: signature (over @p buf, the file as stored) and trusted
 * comment (of @p bundle, the parsed, decompressed bytes).  It must be a
 * readable regular file unless the caller asked not to check it. */
static cairn_err check_minisig(const char *path, const uint8_t *buf, size_t len,
                               const uint8_t *bundle,
                               const cairn_pubkey *pinned, unsigned flags,
                               const cairn_bundle_info *info,
                               cairn_verify_report *out, char *detail,
                               size_t detail_len)
{
    char sig_path[4096], want[600], got[CAIRN__TRUSTED_COMMENT_MAX + 1];
    char why[4400];
    char *text = NULL;
    size_t tl = 0;
    uint8_t jid[CAIRN_JOURNAL_ID_BYTES];
    if ((flags & CAIRN_BUNDLE_NO_SIGNATURE) != 0) {
        append_reason(out, "detached signature (.minisig) not checked "
                           "(--no-signature): a bundle cut back to an "
                           "earlier commit would look the same");
        return CAIRN_OK;
    }
    int n = snprintf(sig_path, sizeof(sig_path), "%s.minisig", path);
    if (n < 0 || (size_t)n >= sizeof(sig_path)) {
        signature_missing(out, "the .minisig path is too long", detail,
                          detail_len);
        return CAIRN_OK;
    }
    if (pinned == NULL) {
        append_reason(out, ".minisig not checked (no pinned key)");
        return CAIRN_OK;
    }
    if (out->key_mismatch) {
        append_reason(out, ".minisig not checked (key mismatch)");
        return CAIRN_OK;
    }
    cairn_err err = cairn__read_file(sig_path, CAIRN__MINISIG_TEXT_MAX, &text,
                                     &tl, why, sizeof(why));
    if (err == CAIRN_EIO) {
        signature_missing(out, why, detail, detail_len);
        return CAIRN_OK;
    }
    if (err == CAIRN_OK) {
        err = cairn__minisig_verify(pinned, buf, len, text, tl, got,
                                    sizeof(got), why, sizeof(why));
    } else if (err == CAIRN_EINVAL) {
        cairn__fmt(why, sizeof(why), "larger than %u bytes",
                   CAIRN__MINISIG_TEXT_MAX);
    }
    free(text);
    if (err == CAIRN_ENOMEM) {
        return err;
    }
    if (err != CAIRN_OK) {
        cairn__report_tampered(out, 0, 0, "minisig", "valid", why,
                               "%s does not verify: %s", sig_path, why);
        return CAIRN_OK;
    }
    journal_id_of(bundle, jid);
    cairn__bundle_comment_v2 v2 = {info->exported_ns, info->state,
                                   out->journal_head.size};
    cairn__bundle_comment_ex(out->run_id, out->records, out->head, jid,
                             info->version >= CAIRN__BUNDLE_VERSION_2 ? &v2
                                                                      : NULL,
                             want, sizeof(want));
    if (strcmp(want, got) != 0) {
        cairn__report_tampered(out, 0, 0, "minisig.comment", want, got,
                               "the trusted comment of %s does not "
                               "describe this bundle",
                               sig_path);
        return CAIRN_OK;
    }
    append_reason(out, ".minisig verified (trusted comment matches)");
    return CAIRN_OK;
}

/* FILE.tlog-proof, when it exists, must be exactly the proof and head the
 * bundle carries (@p want, from the bundle).  Its absence is fine. */
static void check_tlog_proof(const char *path, const cairn_wr *want,
                             cairn_verify_report *out, cairn_bundle_info *info)
{
    char tp[4096], why[4400];
    char *text = NULL;
    size_t tl = 0;
    struct stat st;
    int n = snprintf(tp, sizeof(tp), "%s.tlog-proof", path);
    if (n < 0 || (size_t)n >= sizeof(tp) ||
        (lstat(tp, &st) != 0 && errno == ENOENT)) {
        return;
    }
    cairn_err err = cairn__read_file(tp, CAIRN__BUNDLE_HEAD_MAX * 4u, &text,
                                     &tl, why, sizeof(why));
    if (err != CAIRN_OK) {
        info->tlog_proof = -1;
        if (out->verdict == CAIRN_VERDICT_VERIFIED) {
            out->verdict = CAIRN_VERDICT_INCOMPLETE;
        }
        append_reason(out, "the .tlog-proof next to the bundle cannot be "
                           "read");
        free(text);
        return;
    }
    int same = want != NULL && want->failed == 0 && want->len == tl &&
               memcmp(want->p, text, tl) == 0;
    free(text);
    if (!same) {
        info->tlog_proof = -1;
        cairn__report_tampered(out, 0, 0, "tlog-proof",
                               "the bundle's proof and head", "other bytes",
                               "%s does not hold the inclusion proof and "
                               "head the bundle carries",
                               tp);
        return;
    }
    info->tlog_proof = 1;
    append_reason(out, ".tlog-proof matches");
}

/* Parse the anchors of @p opts (syntax only). */
static cairn_err parse_anchors(const cairn_bundle_verify_opts *opts,
                               cairn__anchor_note **out, char *detail,
                               size_t detail_len)
{
    char why[300];
    *out = NULL;
    if (opts->n_anchors == 0) {
        return CAIRN_OK;
    }
    if (opts->n_anchors > CAIRN_BUNDLE_MAX_ANCHORS || opts->anchors == NULL ||
        opts->anchor_lens == NULL) {
        cairn__fmt(detail, detail_len, "at most %u anchors",
                   CAIRN_BUNDLE_MAX_ANCHORS);
        return CAIRN_EINVAL;
    }
    cairn__anchor_note *a = calloc(opts->n_anchors, sizeof(*a));
    if (a == NULL) {
        return CAIRN_ENOMEM;
    }
    for (size_t i = 0; i < opts->n_anchors; i++) {
        if (cairn__bundle_anchor_parse(opts->anchors[i], opts->anchor_lens[i],
                                       &a[i], why, sizeof(why)) != CAIRN_OK) {
            cairn__fmt(detail, detail_len, "anchor %zu: %s", i + 1, why);
            free(a);
            return CAIRN_EINVAL;
        }
    }
    *out = a;
    return CAIRN_OK;
}

cairn_err cairn__bundle_unpack(const uint8_t *stored, size_t len, size_t max,
                               uint8_t **owned, const uint8_t **bytes,
                               size_t *bytes_len, char *detail,
                               size_t detail_len)
{
    *owned = NULL;
    *bytes = stored;
    *bytes_len = len;
    if (!cairn__zstd_is_frame(stored, len)) {
        return CAIRN_OK;
    }
    cairn_err err = cairn__zstd_decompress(stored, len, max, owned, bytes_len,
                                           detail, detail_len);
    if (err == CAIRN_ENOMEM) {
        return err;
    }
    if (err != CAIRN_OK) {
        if (strncmp(detail, "offset ", 7) != 0) {
            char why[200];
            cairn__fmt(why, sizeof(why), "%s", detail);
            cairn__fmt(detail, detail_len, "offset 0: %s", why);
        }
        *bytes_len = 0;
        return CAIRN_EBUNDLE;
    }
    *bytes = *owned;
    return CAIRN_OK;
}

static cairn_err verify_bytes(const char *path, const uint8_t *stored,
                              size_t stored_len,
                              const cairn_bundle_verify_opts *opts,
                              const cairn__anchor_note *anchors,
                              cairn_verify_report *out, cairn_bundle_info *info,
                              char *detail, size_t detail_len)
{
    cairn_wr want;
    uint8_t *owned = NULL;
    const uint8_t *bytes;
    size_t len;
    cairn_err err =
        cairn__bundle_unpack(stored, stored_len, CAIRN__BUNDLE_MAX_BYTES,
                             &owned, &bytes, &len, detail, detail_len);
    if (err == CAIRN_EBUNDLE) {
        cairn__report_tampered(out, 0, 0, "bundle", NULL, detail,
                               "bundle malformed: %s", detail);
        info->compressed = 1;
        info->stored_bytes = stored_len;
    }
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__wr_init(&want, CAIRN__BUNDLE_HEAD_MAX * 4u);
    cairn_pubkey *signer = NULL; /* version 3: the key in force at the head */
    cairn__bundle_check c = {opts->pinned, anchors, opts->n_anchors,
                             &want,        &signer, NULL};
    err = cairn__verify_bundle_mem_ex(bytes, len, &c, out, info, detail,
                                      detail_len);
    info->compressed = owned != NULL;
    info->stored_bytes = stored_len;
    info->bytes = len;
    if (err == CAIRN_OK && (out->verdict == CAIRN_VERDICT_VERIFIED ||
                            out->verdict == CAIRN_VERDICT_INCOMPLETE)) {
        if (info->version >= CAIRN__BUNDLE_VERSION_2) {
            check_tlog_proof(path, &want, out, info);
        }
    }
    cairn__wr_free(&want);
    if (err == CAIRN_OK && (out->verdict == CAIRN_VERDICT_VERIFIED ||
                            out->verdict == CAIRN_VERDICT_INCOMPLETE)) {
        cairn__clear(detail, detail_len);
        err = check_minisig(path, stored, stored_len, bytes,
                            signer != NULL ? signer : opts->pinned, opts->flags,
                            info, out, detail, detail_len);
    }
    cairn_pubkey_free(signer);
    free(owned);
    return err;
}

cairn_err cairn_verify_bundle_opts(const char *path,
                                   const cairn_bundle_verify_opts *opts,
                                   cairn_verify_report *out,
                                   cairn_bundle_info *info, char *detail,
                                   size_t detail_len)
{
    char *buf = NULL;
    size_t len = 0;
    cairn_bundle_info scratch;
    cairn__anchor_note *anchors = NULL;
    cairn__clear(detail, detail_len);
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (info == NULL) {
        info = &scratch;
    }
    memset(info, 0, sizeof(*info));
    if (path == NULL || out == NULL || opts == NULL ||
        (opts->flags & ~(unsigned)CAIRN_BUNDLE_NO_SIGNATURE) != 0) {
        return CAIRN_EINVAL;
    }
    cairn__report_init(out, NULL, opts->pinned);
    cairn_err err = parse_anchors(opts, &anchors, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn__read_file(path, CAIRN__BUNDLE_MAX_BYTES, &buf, &len, detail,
                           detail_len);
    if (err == CAIRN_EINVAL) {
        cairn__report_tampered(out, 0, 0, "bundle", NULL, NULL,
                               "bundle malformed: larger than 1 GiB");
        cairn__fmt(detail, detail_len, "%s: larger than 1 GiB", path);
        free(anchors);
        return CAIRN_EBUNDLE;
    }
    if (err != CAIRN_OK) {
        cairn__report_error(out, "%s", detail);
        free(anchors);
        return err;
    }
    err = verify_bytes(path, (const uint8_t *)buf, len, opts, anchors, out,
                       info, detail, detail_len);
    free(anchors);
    free(buf);
    return err;
}

cairn_err cairn_verify_bundle_flags(const char *path,
                                    const cairn_pubkey *pinned, unsigned flags,
                                    cairn_verify_report *out, char *detail,
                                    size_t detail_len)
{
    cairn_bundle_verify_opts opts = {pinned, flags, NULL, NULL, 0};
    return cairn_verify_bundle_opts(path, &opts, out, NULL, detail, detail_len);
}

cairn_err cairn_verify_bundle(const char *path, const cairn_pubkey *pinned,
                              cairn_verify_report *out, char *detail,
                              size_t detail_len)
{
    return cairn_verify_bundle_flags(path, pinned, 0, out, detail, detail_len);
}
