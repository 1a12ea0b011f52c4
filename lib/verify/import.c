/*
 * import.c - cairn_import(): verify a bundle with the checks of `cairn
 * verify-bundle` (the verifier core, and the .minisig under the pinned
 * key), replay it into the run's state and a record index, and store the
 * bundle bytes, its .minisig and both in the `imports` database in one
 * durable write (docs/FORMAT.md section 21).  Also the verification of a
 * stored import (cairn_verify_run() of an imported run); the export of
 * its bundle, byte for byte, is import_export.c.
 *
 * A zstd bundle (export --zstd) is stored as given, compressed, so that
 * its .minisig still checks the stored bytes and export gives back the
 * very file; it is decompressed (cairn__bundle_unpack()) for every check
 * and for the replay, and the record index points into the decompressed
 * bytes.
 *
 * Nothing of an import is covered by the journal's signed head: what
 * authenticates an imported run is its own bundle, re-verified under the
 * key verify pins (docs/SECURITY.md).
 */
#include "verify/verify.h"

#include "base/bytes.h"
#include "base/sys.h"
#include "format/import_value.h"
#include "journal/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void append_reason(cairn_verify_report *rep, const char *text)
{
    size_t n = strlen(rep->reason);
    cairn__fmt(rep->reason + n, sizeof(rep->reason) - n, "%s%s",
               n > 0 ? "; " : "", text);
}

/* A bundle file as given (@c stored, @c stored_len: what its .minisig
 * signs and what an import keeps) and its plain bytes (@c bytes, @c len:
 * the stored bytes, or their zstd decompression in @c owned). */
typedef struct ibundle {
    const uint8_t *stored;
    size_t stored_len;
    uint8_t *owned;
    const uint8_t *bytes;
    size_t len;
} ibundle;

/* The .minisig of the bundle (@p sig, NULL: none): its signature over the
 * stored bytes under @p pinned and a trusted comment that describes the
 * bundle (version 1's comment, which a later version extends after a
 * space). */
static void check_sig(const ibundle *b, const char *sig, size_t sl,
                      const cairn_pubkey *pinned, unsigned flags,
                      cairn_verify_report *out)
{
    char want[400], got[CAIRN__TRUSTED_COMMENT_MAX + 1], why[512];
    uint8_t jid[CAIRN_JOURNAL_ID_BYTES];
    if ((flags & CAIRN_BUNDLE_NO_SIGNATURE) != 0) {
        append_reason(out, "detached signature (.minisig) not checked "
                           "(--no-signature): a bundle cut back to an "
                           "earlier commit would look the same");
        return;
    }
    if (pinned == NULL) {
        append_reason(out, ".minisig not checked (no pinned key)");
        return;
    }
    if (out->key_mismatch) {
        append_reason(out, ".minisig not checked (key mismatch)");
        return;
    }
    if (sig == NULL) {
        if (out->verdict == CAIRN_VERDICT_VERIFIED) {
            out->verdict = CAIRN_VERDICT_INCOMPLETE;
        }
        append_reason(out, "no .minisig: the bundle may be cut back to an "
                           "earlier commit");
        return;
    }
    if (cairn__minisig_verify(pinned, b->stored, b->stored_len, sig, sl, got,
                              sizeof(got), why, sizeof(why)) != CAIRN_OK) {
        cairn__report_tampered(out, 0, 0, "minisig", "valid", why,
                               "the .minisig does not verify: %s", why);
        return;
    }
    memcpy(jid, b->bytes + CAIRN__BUNDLE_MAGIC_LEN + 1, sizeof(jid));
    cairn__bundle_comment(out->run_id, out->records, out->head, jid, want,
                          sizeof(want));
    size_t wl = strlen(want);
    if (strncmp(got, want, wl) != 0 || (got[wl] != '\0' && got[wl] != ' ')) {
        cairn__report_tampered(out, 0, 0, "minisig.comment", want, got,
                               "the trusted comment of the .minisig does "
                               "not describe this bundle");
        return;
    }
    append_reason(out, ".minisig verified (trusted comment matches)");
}

/* Verify the bundle @p b->stored in memory as verify-bundle does: a zstd
 * frame is decompressed into @p b first (the caller frees b->owned).
 * CAIRN_OK with the verdict in @p out; an error only when verification
 * could not run. */
static cairn_err check_bundle(ibundle *b, const char *sig, size_t sl,
                              const cairn_pubkey *pinned, unsigned flags,
                              cairn_verify_report *out)
{
    char detail[256];
    cairn_err err = cairn__bundle_unpack(
        b->stored, b->stored_len, CAIRN__BUNDLE_MAX_BYTES, &b->owned, &b->bytes,
        &b->len, detail, sizeof(detail));
    if (err == CAIRN_EBUNDLE) {
        cairn__report_tampered(out, 0, 0, "bundle", NULL, detail,
                               "bundle malformed: %s", detail);
        return CAIRN_OK;
    }
    if (err != CAIRN_OK) {
        return err;
    }
    /* version 3: the key in force at the head signs the .minisig */
    cairn_pubkey *signer = NULL;
    cairn__bundle_check c = {pinned, NULL, 0, NULL, &signer, NULL};
    err = cairn__verify_bundle_mem_ex(b->bytes, b->len, &c, out, NULL, detail,
                                      sizeof(detail));
    if (err == CAIRN_OK && (out->verdict == CAIRN_VERDICT_VERIFIED ||
                            out->verdict == CAIRN_VERDICT_INCOMPLETE)) {
        check_sig(b, sig, sl, signer != NULL ? signer : pinned, flags, out);
    }
    cairn_pubkey_free(signer);
    /* CAIRN_EBUNDLE: the report says TAMPERED, field "bundle" */
    return err == CAIRN_EBUNDLE ? CAIRN_OK : err;
}

/* ---- replay: the state and the record index ------------------------- */

typedef struct derive {
    const uint8_t *buf;
    cairn_state st;
    cairn_import_rec *recs;
    size_t n, cap;
    char detail[256];
} derive;

static cairn_err derive_step(void *vctx, uint64_t position, size_t offset,
                             size_t len)
{
    derive *d = vctx;
    cairn_record rec;
    uint8_t hash[CAIRN_HASH_BYTES];
    const uint8_t *bytes = d->buf + offset;
    if (offset > UINT32_MAX || len > UINT32_MAX) {
        cairn__fmt(d->detail, sizeof(d->detail), "bundle too large");
        return CAIRN_EINVAL;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap == 0 ? 64 : d->cap * 2;
        cairn_import_rec *r = realloc(d->recs, cap * sizeof(*r));
        if (r == NULL) {
            return CAIRN_ENOMEM;
        }
        d->recs = r;
        d->cap = cap;
    }
    cairn_err err =
        cairn__record_decode(bytes, len, &rec, d->detail, sizeof(d->detail));
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__leaf_hash(bytes, len, hash);
    if (d->n == 0) {
        cairn_plan *plan = NULL;
        err = cairn__plan_from_canonical(rec.plan_json, rec.plan_len, &plan,
                                         d->detail, sizeof(d->detail));
        if (err == CAIRN_OK) {
            err = cairn__state_init(&d->st, plan, &rec, hash, position,
                                    d->detail, sizeof(d->detail));
        }
        cairn_plan_free(plan);
    } else {
        err = cairn__state_apply(&d->st, &rec, hash, position, d->detail,
                                 sizeof(d->detail));
    }
    cairn__record_free(&rec);
    if (err == CAIRN_OK) {
        d->recs[d->n].position = position;
        d->recs[d->n].offset = (uint32_t)offset;
        d->recs[d->n].len = (uint32_t)len;
        d->n++;
    }
    return err;
}

/* The value to store for a verified bundle: its stored bytes, @p sig,
 * the state replayed from its plain bytes and where each record lies in
 * those. */
static cairn_err build_value(const ibundle *b, const char *sig, size_t sl,
                             uint64_t imported_ns, uint8_t **out,
                             size_t *out_len, char *detail, size_t detail_len)
{
    derive d;
    uint8_t *state = NULL;
    size_t state_len = 0;
    memset(&d, 0, sizeof(d));
    d.buf = b->bytes;
    cairn_err err = cairn__bundle_records(b->bytes, b->len, derive_step, &d,
                                          d.detail, sizeof(d.detail));
    if (err == CAIRN_OK && d.n == 0) {
        cairn__fmt(d.detail, sizeof(d.detail), "the bundle holds no record");
        err = CAIRN_EBUNDLE;
    }
    if (err == CAIRN_OK) {
        err = cairn__state_encode(&d.st, &state, &state_len);
    }
    if (err == CAIRN_OK) {
        cairn_import_value v = {imported_ns,
                                b->stored,
                                b->stored_len,
                                (const uint8_t *)sig,
                                sl,
                                state,
                                state_len,
                                d.recs,
                                d.n,
                                b->owned != NULL,
                                b->len};
        err = cairn__import_value_encode(&v, out, out_len);
    }
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "replaying the bundle: %s", d.detail);
    }
    free(state);
    free(d.recs);
    cairn__state_free(&d.st);
    return err;
}

/* ---- the write ---------------------------------------------------------- */

typedef struct import_ctx {
    cairn_journal *j;
    const char *run_id;
    const uint8_t *value;
    size_t value_len;
    char detail[CAIRN__DETAIL_MAX];
} import_ctx;

static cairn_err import_fn(cairn_txn *txn, void *vctx)
{
    import_ctx *c = vctx;
    const uint8_t *v;
    size_t vl, n = strlen(c->run_id);
    int found = 0;
    c->detail[0] = '\0';
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_NAMES, c->run_id, n, &v, &vl, &found);
    if (err == CAIRN_OK &&
        (found || cairn__import_has(c->j, txn, c->run_id, n))) {
        return cairn__fail(c->detail, sizeof(c->detail), CAIRN_EEXIST,
                           "run \"%s\" already exists in this journal%s: a "
                           "run id is never reused",
                           c->run_id, found ? "" : " (imported)");
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_create_imports(txn);
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_IMPORTS, c->run_id, n, c->value,
                             c->value_len, CAIRN_PUT_NOOVERWRITE);
    }
    return err;
}

static uint64_t wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Read PATH.minisig if it exists (NULL when it does not). */
static cairn_err read_sig(const char *path, char **sig, size_t *sl,
                          char *detail, size_t detail_len)
{
    char sig_path[4096];
    *sig = NULL;
    *sl = 0;
    int n = snprintf(sig_path, sizeof(sig_path), "%s.minisig", path);
    if (n < 0 || (size_t)n >= sizeof(sig_path)) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "%s: path too long", path);
    }
    if (access(sig_path, F_OK) != 0) {
        return CAIRN_OK;
    }
    cairn_err err = cairn__read_file(sig_path, CAIRN__IMPORT_MINISIG_MAX, sig,
                                     sl, detail, detail_len);
    if (err == CAIRN_OK && (*sl == 0 || memchr(*sig, 0, *sl) != NULL)) {
        free(*sig);
        *sig = NULL;
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "%s: empty or holding a NUL byte", sig_path);
    }
    return err;
}

static cairn_err verdict_err(const cairn_verify_report *r)
{
    switch (r->verdict) {
    case CAIRN_VERDICT_VERIFIED:
        return CAIRN_OK;
    case CAIRN_VERDICT_TAMPERED:
        return CAIRN_ETAMPERED;
    case CAIRN_VERDICT_INCOMPLETE:
        return CAIRN_EINCOMPLETE;
    case CAIRN_VERDICT_ERROR:
        return CAIRN_EIO;
    }
    return CAIRN_EIO;
}

cairn_err cairn_import(cairn_journal *journal, const char *path,
                       const cairn_pubkey *pinned, unsigned flags,
                       cairn_verify_report *out)
{
    char *buf = NULL, *sig = NULL;
    size_t len = 0, sl = 0;
    uint8_t *value = NULL;
    size_t value_len = 0;
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (journal == NULL || path == NULL || out == NULL ||
        (flags & ~(unsigned)CAIRN_BUNDLE_NO_SIGNATURE) != 0) {
        return CAIRN_EINVAL;
    }
    cairn__report_init(out, NULL, pinned);
    if (journal->readonly || journal->format < 2) {
        return cairn__jfail(journal, CAIRN_EINVAL,
                            journal->readonly ? "journal not writable"
                                              : "a format-1 journal takes no "
                                                "imports: migrate it first");
    }
    cairn_err err = cairn__read_file(path, CAIRN__BUNDLE_MAX_BYTES, &buf, &len,
                                     journal->detail, sizeof(journal->detail));
    if (err == CAIRN_EINVAL) {
        cairn__report_tampered(out, 0, 0, "bundle", NULL, NULL,
                               "bundle malformed: larger than 1 GiB");
        err = CAIRN_ETAMPERED;
    }
    if (err == CAIRN_OK && (flags & CAIRN_BUNDLE_NO_SIGNATURE) == 0) {
        err =
            read_sig(path, &sig, &sl, journal->detail, sizeof(journal->detail));
    }
    ibundle b = {(const uint8_t *)buf, len, NULL, NULL, 0};
    if (err == CAIRN_OK) {
        err = check_bundle(&b, sig, sl, pinned, flags, out);
    }
    if (err == CAIRN_OK && (err = verdict_err(out)) != CAIRN_OK) {
        cairn__jfail(journal, err, "%s: %s: %s", path,
                     cairn_verdict_name(out->verdict), out->reason);
    }
    if (err == CAIRN_OK) {
        err = build_value(&b, sig, sl, wall_now(), &value, &value_len,
                          journal->detail, sizeof(journal->detail));
    }
    if (err == CAIRN_OK) {
        import_ctx c = {journal, out->run_id, value, value_len, ""};
        int had = cairn__store_has(journal->store, CAIRN_DBI_IMPORTS);
        err = cairn__store_write(journal->store, import_fn, &c);
        if (err != CAIRN_OK) {
            cairn__store_forget_imports(journal->store, had);
            cairn__jfail(journal, err, "%s",
                         c.detail[0] ? c.detail
                                     : cairn__store_detail(journal->store));
        }
    }
    free(value);
    free(b.owned);
    free(sig);
    free(buf);
    return err;
}

/* ---- verifying a stored import ---------------------------------------- */

/* The pinned key is not the bundle's: nothing proves tampering, the run
 * just needs its own key. */
static void other_key(cairn_verify_report *out)
{
    char bundle_key[160];
    cairn__fmt(bundle_key, sizeof(bundle_key), "%s", out->found);
    out->verdict = CAIRN_VERDICT_INCOMPLETE;
    out->has_bad = 0;
    cairn__fmt(out->reason, sizeof(out->reason),
               "imported run: its bundle is signed by key %s, not by the "
               "pinned key %s: verify it with that key's public key file "
               "(--key)",
               bundle_key, out->expected);
}

cairn_err cairn__verify_import(cairn_journal *j, cairn_txn *txn,
                               const char *run_id, const cairn_pubkey *pinned,
                               cairn_verify_report *out)
{
    cairn_import_value v;
    char detail[CAIRN__DETAIL_MAX];
    uint8_t *again = NULL;
    size_t again_len = 0;
    cairn__report_init(out, run_id, pinned);
    cairn_err err =
        cairn__import_load(j, txn, run_id, &v, NULL, detail, sizeof(detail));
    if (err == CAIRN_ECORRUPT) {
        cairn__report_tampered(out, 0, 0, "imports", NULL, NULL, "%s", detail);
        return CAIRN_OK;
    }
    if (err != CAIRN_OK) {
        cairn__report_error(out, "%s", detail);
        return err == CAIRN_ENOMEM ? err : CAIRN_OK;
    }
    unsigned flags = v.minisig == NULL ? CAIRN_BUNDLE_NO_SIGNATURE : 0;
    ibundle b = {v.bundle, v.bundle_len, NULL, NULL, 0};
    err = check_bundle(&b, (const char *)v.minisig, v.minisig_len, pinned,
                       flags, out);
    if (err == CAIRN_OK && out->verdict == CAIRN_VERDICT_TAMPERED &&
        strcmp(out->bad_field, "bundle.key") == 0) {
        other_key(out);
    }
    if (err == CAIRN_OK && out->verdict != CAIRN_VERDICT_TAMPERED &&
        strcmp(out->run_id, run_id) != 0) {
        cairn__report_tampered(out, 0, 0, "imports", run_id, out->run_id,
                               "stored under run id %s, the bundle is of "
                               "run %s",
                               run_id, out->run_id);
    }
    /* The stored state and record index must be what the bundle gives. */
    if (err == CAIRN_OK && out->verdict != CAIRN_VERDICT_TAMPERED) {
        err = build_value(&b, (const char *)v.minisig, v.minisig_len,
                          v.imported_ns, &again, &again_len, detail,
                          sizeof(detail));
        if (err == CAIRN_OK) {
            uint8_t *stored = NULL;
            size_t stored_len = 0;
            err = cairn__import_value_encode(&v, &stored, &stored_len);
            if (err == CAIRN_OK && (stored_len != again_len ||
                                    memcmp(stored, again, again_len) != 0)) {
                cairn__report_tampered(out, 0, 0, "imports.state",
                                       "the bundle's replay",
                                       "another state or record index",
                                       "the stored state or record index of "
                                       "the import is not the bundle's");
            }
            free(stored);
        } else if (err != CAIRN_ENOMEM) {
            cairn__report_tampered(out, 0, 0, "bundle", NULL, NULL, "%s",
                                   detail);
            err = CAIRN_OK;
        }
    }
    if (err == CAIRN_OK) {
        append_reason(out, "imported run: its own bundle, not covered by "
                           "this journal's head");
        out->replay_ok = out->verdict != CAIRN_VERDICT_TAMPERED;
    }
    free(again);
    free(b.owned);
    cairn__import_value_free(&v);
    return err;
}
