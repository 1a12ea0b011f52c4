/*
 * bundle_prune.c - cairn_verify_bundle_pruned(): an archived bundle tied
 * to the tombstone its run left in the journal (docs/FORMAT.md section
 * 22.6).
 *
 * The bundle is first verified as cairn_verify_bundle_flags() does (its
 * own chain, checkpoints, key and .minisig).  Then, against the run's
 * PRUNE record in the journal: the file's SHA-256 and size are the ones
 * the tombstone records; the bundle holds exactly the records the
 * tombstone lists (same count, each at the listed position with the
 * listed leaf hash); and the PRUNE record applies to the state the
 * bundle's records replay to, at the PRUNE record's own time (the run
 * was ended, nothing pending, not held, and the record's facts are the
 * run's).  Only the header and the record section of the bundle are read
 * here; its strict parse is the first step's.
 */
#include "verify/verify.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "journal/journal.h"

#include <stdlib.h>
#include <string.h>

/* The bundle's journal id, run id and record section (framing checked by
 * the bundle verification already; checked again, never trusted). */
typedef struct brecs {
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
    char run_id[CAIRN_MAX_ID + 1];
    uint32_t n;
    cairn_rd r; /* at the first record entry */
} brecs;

static int read_header(const uint8_t *buf, size_t len, brecs *b)
{
    const uint8_t *p;
    uint8_t version;
    uint16_t n;
    cairn__rd_init(&b->r, buf, len);
    if (cairn__rd_view(&b->r, CAIRN__BUNDLE_MAGIC_LEN, &p) != 0 ||
        memcmp(p, CAIRN__BUNDLE_MAGIC, CAIRN__BUNDLE_MAGIC_LEN) != 0 ||
        cairn__rd_u8(&b->r, &version) != 0 || version == 0 ||
        cairn__rd_bytes(&b->r, b->journal_id, CAIRN_JOURNAL_ID_BYTES) != 0 ||
        cairn__rd_u16(&b->r, &n) != 0 || n == 0 || n > CAIRN_MAX_ID ||
        cairn__rd_view(&b->r, n, &p) != 0 ||
        cairn__rd_view(&b->r, CAIRN_KEY_ID_BYTES + CAIRN_PUBLIC_KEY_BYTES,
                       &p) != 0 ||
        cairn__rd_u32(&b->r, &b->n) != 0) {
        return -1;
    }
    memcpy(b->run_id, buf + 27, n);
    b->run_id[n] = '\0';
    return 0;
}

static int next_record(brecs *b, uint64_t *pos, const uint8_t **bytes,
                       size_t *len)
{
    uint32_t l;
    if (cairn__rd_u64(&b->r, pos) != 0 || cairn__rd_u32(&b->r, &l) != 0 ||
        l == 0 || l > CAIRN_MAX_CREATE_RECORD_BYTES ||
        cairn__rd_view(&b->r, l, bytes) != 0) {
        return -1;
    }
    *len = l;
    return 0;
}

static cairn_err mismatch(cairn_verify_report *out, int has_seq, uint64_t seq,
                          const char *field, const char *expected,
                          const char *found, const char *reason)
{
    cairn__report_tampered(out, has_seq, seq, field, expected, found, "%s",
                           reason);
    return CAIRN_ETAMPERED;
}

/* The bundle's records are exactly the ones the tombstone lists. */
static cairn_err same_records(brecs *b, const cairn_tombstone *t,
                              cairn_vcore *v, cairn_verify_report *out)
{
    char e[2 * CAIRN_HASH_BYTES + 1], f[2 * CAIRN_HASH_BYTES + 1];
    char reason[256];
    if (b->n != t->n_records) {
        cairn__fmt(e, sizeof(e), "%zu", t->n_records);
        cairn__fmt(f, sizeof(f), "%lu", (unsigned long)b->n);
        return mismatch(out, 0, 0, "bundle.records", e, f,
                        "the bundle holds another number of records than the "
                        "tombstone lists");
    }
    for (uint32_t i = 0; i < b->n; i++) {
        uint64_t pos;
        const uint8_t *bytes;
        size_t len;
        uint8_t leaf[CAIRN_HASH_BYTES];
        if (next_record(b, &pos, &bytes, &len) != 0) {
            return mismatch(out, 1, i, "bundle", NULL, NULL,
                            "bundle record section truncated");
        }
        cairn__leaf_hash(bytes, len, leaf);
        if (pos != t->positions[i] ||
            memcmp(leaf, t->leaves[i], CAIRN_HASH_BYTES) != 0) {
            cairn__hash_hex(t->leaves[i], e);
            cairn__hash_hex(leaf, f);
            cairn__fmt(reason, sizeof(reason),
                       "seq %lu: the bundle's record (position %llu) is not "
                       "the one the tombstone lists (position %llu)",
                       (unsigned long)i, (unsigned long long)pos,
                       (unsigned long long)t->positions[i]);
            return mismatch(out, 1, i, "bundle.records", e, f, reason);
        }
        cairn_err err = cairn__vcore_record(v, pos, bytes, len);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    return CAIRN_OK;
}

/* The journal's PRUNE record applies to the state the bundle replays to. */
static cairn_err tombstone_applies(cairn_journal *j, const cairn_tombstone *t,
                                   cairn_vcore *v, cairn_verify_report *out)
{
    cairn_txn *txn = NULL;
    cairn_record rec;
    uint8_t leaf[CAIRN_HASH_BYTES];
    char why[256], reason[400];
    cairn_err err = cairn__store_read(j->store, &txn);
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn__read_record(j, txn, t->seq, t->position, &rec, leaf);
    cairn__txn_end(txn);
    if (err != CAIRN_OK) {
        return err;
    }
    why[0] = '\0';
    err = cairn__state_apply(&v->st, &rec, leaf, t->position, why, sizeof(why));
    cairn__record_free(&rec);
    if (err == CAIRN_ENOMEM) {
        return err;
    }
    if (err != CAIRN_OK) {
        cairn__fmt(reason, sizeof(reason),
                   "the tombstone does not apply to the archived run: %s (%s)",
                   why, cairn_errname(err));
        return mismatch(out, 1, t->seq, err == CAIRN_EHELD ? "held" : "prune",
                        "a valid prune", cairn_errname(err), reason);
    }
    return CAIRN_OK;
}

static cairn_err tie(cairn_journal *j, const uint8_t *file, size_t file_len,
                     const uint8_t *buf, size_t len, const cairn_pubkey *pinned,
                     cairn_verify_report *out, char *detail, size_t detail_len)
{
    brecs b;
    uint8_t digest[CAIRN_HASH_BYTES];
    char e[2 * CAIRN_HASH_BYTES + 1], f[2 * CAIRN_HASH_BYTES + 1];
    cairn_tombstone *t = NULL;
    if (read_header(buf, len, &b) != 0) {
        return mismatch(out, 0, 0, "bundle", NULL, NULL,
                        "bundle header unreadable");
    }
    if (memcmp(b.journal_id, j->journal_id, CAIRN_JOURNAL_ID_BYTES) != 0) {
        cairn__fmt(detail, detail_len, "the bundle is from another journal");
        return CAIRN_ENORUN;
    }
    cairn_err err = cairn_prune_tombstone(j, b.run_id, &t);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s", cairn_journal_errdetail(j));
        return err;
    }
    cairn__sha256(file, file_len, digest);
    if (file_len != t->bundle_bytes ||
        memcmp(digest, t->bundle_sha256, CAIRN_HASH_BYTES) != 0) {
        cairn__hash_hex(t->bundle_sha256, e);
        cairn__hash_hex(digest, f);
        err = mismatch(out, 0, 0, "bundle.sha256", e, f,
                       file_len != t->bundle_bytes
                           ? "the file's size is not the one the tombstone "
                             "records"
                           : "the file's SHA-256 is not the one the "
                             "tombstone records");
    }
    cairn_vcore v;
    cairn_verify_report scratch;
    cairn__report_init(&scratch, b.run_id, pinned);
    cairn__vcore_init(&v, b.journal_id, t->run_num, b.run_id, pinned, &scratch);
    if (err == CAIRN_OK) {
        err = same_records(&b, t, &v, out);
    }
    if (err == CAIRN_OK) {
        err = tombstone_applies(j, t, &v, out);
    }
    if (err == CAIRN_OK) {
        size_t n = strlen(out->reason);
        cairn__fmt(out->reason + n, sizeof(out->reason) - n,
                   "%sarchived copy of pruned run %s (tombstone at position "
                   "%llu, pruned by rule %s)",
                   n > 0 ? "; " : "", t->run_id,
                   (unsigned long long)t->position, t->rule);
        out->pruned = 1;
        out->prune_position = t->position;
        out->pruned_records = t->n_records;
    }
    cairn__vcore_free(&v);
    cairn_tombstone_free(t);
    return err;
}

cairn_err cairn_verify_bundle_pruned(cairn_journal *journal, const char *path,
                                     const cairn_pubkey *pinned, unsigned flags,
                                     cairn_verify_report *out, char *detail,
                                     size_t detail_len)
{
    if (journal == NULL) {
        if (out != NULL) {
            memset(out, 0, sizeof(*out));
        }
        return CAIRN_EINVAL;
    }
    cairn_err err =
        cairn_verify_bundle_flags(path, pinned, flags, out, detail, detail_len);
    if (err != CAIRN_OK || out->verdict == CAIRN_VERDICT_TAMPERED ||
        out->verdict == CAIRN_VERDICT_ERROR) {
        return err;
    }
    char *buf = NULL;
    size_t len = 0;
    err = cairn__read_file(path, CAIRN__BUNDLE_MAX_BYTES, &buf, &len, detail,
                           detail_len);
    if (err != CAIRN_OK) {
        cairn__report_error(out, "%s", detail);
        return err;
    }
    /* The tombstone hashes the stored file; the records are parsed from
     * its bytes, decompressed when it is a zstd frame. */
    uint8_t *owned = NULL;
    const uint8_t *bytes = NULL;
    size_t n = 0;
    err =
        cairn__bundle_unpack((const uint8_t *)buf, len, CAIRN__BUNDLE_MAX_BYTES,
                             &owned, &bytes, &n, detail, detail_len);
    if (err == CAIRN_OK) {
        err = tie(journal, (const uint8_t *)buf, len, bytes, n, pinned, out,
                  detail, detail_len);
    }
    free(owned);
    free(buf);
    return err == CAIRN_ETAMPERED ? CAIRN_OK : err;
}
