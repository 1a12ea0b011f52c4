/*
 * rotate.c - cairn_rotate_key(): hand a format-2 journal over from its
 * signing key to a new one (docs/FORMAT.md section 24).
 *
 * One durable write transaction: under the journal's head, proven with
 * the old key (the handle's signer), a ROTATE record (run 0, the next
 * rotation number, chained to the one before) naming the new key and its
 * own position is appended, signed by the old key and by the new one; it
 * goes into the log tree, and the head of that commit is signed with the
 * new key.  From then on the handle signs with the new key, and a writer
 * holding only the old one is refused (journal/head.c names the rotation).
 *
 * The journal must have no other writer while this runs: the handle's
 * shared hold on DIR/writers.lock is made exclusive for the commit (a
 * runner or any other writable handle makes it CAIRN_ELOCKED), so no
 * process keeps signing with the old key across the rotation.  Runs that
 * are open (not finished) stay open: their later records are sealed by
 * the new key.
 */
#include "commit/commit.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "base/sys.h"
#include "base/wlock.h"
#include "journal/head.h"
#include "journal/keyhist.h"
#include "keys/key.h"

#include <stdlib.h>
#include <string.h>

typedef struct rot_ctx {
    cairn_journal *j;
    const cairn_signer *old_key;
    const cairn_signer *new_key;
    const cairn_actor_info *who;
    uint64_t pos; /* out: the ROTATE record's position */
    char detail[CAIRN__DETAIL_MAX];
} rot_ctx;

/* The record, without its signatures yet. */
static cairn_err build(rot_ctx *c, uint64_t seq, uint64_t pos,
                       const uint8_t prev[CAIRN_HASH_BYTES], cairn_record *rec)
{
    cairn_journal *j = c->j;
    rec->version = CAIRN_FORMAT_VERSION;
    rec->type = CAIRN_REC_ROTATE;
    rec->run_num = 0;
    rec->seq = seq;
    rec->wall_ns = cairn__wall_ns();
    rec->mono_ns = cairn__mono_ns();
    if (j->have_boot_id) {
        memcpy(rec->boot_id, j->boot_id, CAIRN_BOOT_ID_BYTES);
    } else if (cairn__boot_id(rec->boot_id) != CAIRN_OK) {
        return cairn__fail(c->detail, sizeof(c->detail), CAIRN_EIO,
                           "cannot read the boot id");
    }
    memcpy(rec->prev, prev, CAIRN_HASH_BYTES);
    memcpy(rec->journal_id, j->journal_id, CAIRN_JOURNAL_ID_BYTES);
    rec->from_size = pos;
    memcpy(rec->key_id, c->old_key->key_id, CAIRN_KEY_ID_BYTES);
    memcpy(rec->old_pk, c->old_key->pk, CAIRN_PUBLIC_KEY_BYTES);
    memcpy(rec->new_key_id, c->new_key->key_id, CAIRN_KEY_ID_BYTES);
    memcpy(rec->new_pk, c->new_key->pk, CAIRN_PUBLIC_KEY_BYTES);
    cairn_err err = cairn__record_set_str(&rec->actor, c->who->actor);
    if (err == CAIRN_OK) {
        err = cairn__record_set_str(&rec->reason, c->who->reason);
    }
    return err;
}

/* Encode @p rec and sign the bytes with both keys (the signatures are the
 * last 128 bytes).  *bytes is malloc'd. */
static cairn_err encode_signed(rot_ctx *c, cairn_record *rec, uint8_t **bytes,
                               size_t *len)
{
    char why[256];
    uint8_t *msg = NULL;
    size_t n = 0;
    cairn_err err = cairn__record_encode(rec, bytes, len, why, sizeof(why));
    if (err != CAIRN_OK) {
        return cairn__fail(c->detail, sizeof(c->detail), err,
                           "rotate record: %s", why);
    }
    err = cairn__rotate_message(*bytes, *len, &msg, &n);
    if (err == CAIRN_OK) {
        err = cairn__signer_sign(c->old_key, msg, n, rec->old_sig);
    }
    if (err == CAIRN_OK) {
        err = cairn__signer_sign(c->new_key, msg, n, rec->new_sig);
    }
    free(msg);
    if (err != CAIRN_OK) {
        free(*bytes);
        *bytes = NULL;
        return cairn__fail(c->detail, sizeof(c->detail), err,
                           "signing the rotate record failed");
    }
    uint8_t *sigs = *bytes + *len - CAIRN_ROTATE_SIGS_BYTES;
    memcpy(sigs, rec->old_sig, CAIRN_SIGNATURE_BYTES);
    memcpy(sigs + CAIRN_SIGNATURE_BYTES, rec->new_sig, CAIRN_SIGNATURE_BYTES);
    return CAIRN_OK;
}

/* The head must be the old key's, proven, and the history's last key
 * must be that key too. */
static cairn_err check_head(rot_ctx *c, const cairn_head *h,
                            const cairn_keyhist *kh)
{
    char *d = c->detail;
    size_t dl = sizeof(c->detail);
    if (!h->present) {
        return cairn__fail(d, dl, CAIRN_EINVAL,
                           "the journal holds no record yet: there is no "
                           "key to rotate (write to it with the new key)");
    }
    if (!h->is_signed) {
        return cairn__fail(d, dl, CAIRN_EKEYMISMATCH,
                           "the journal is unsigned: it has no key to "
                           "rotate");
    }
    if (h->foreign) {
        return cairn__fail(d, dl, CAIRN_EKEYMISMATCH,
                           "the journal is signed by another key: %s",
                           h->foreign_why);
    }
    if (!h->proven) {
        return cairn__fail(d, dl, CAIRN_ETAMPERED,
                           "head: its signature was not proven");
    }
    if (kh->n > 0 && memcmp(kh->keys[kh->n - 1].key_id, c->old_key->key_id,
                            CAIRN_KEY_ID_BYTES) != 0) {
        return cairn__fail(d, dl, CAIRN_ETAMPERED,
                           "the key history's last key is not the key "
                           "that signs the head");
    }
    return CAIRN_OK;
}

static cairn_err write_fn(cairn_txn *txn, void *vc)
{
    rot_ctx *c = vc;
    cairn_journal *j = c->j;
    cairn_head head;
    cairn_keyhist kh;
    cairn_record rec;
    uint8_t prev[CAIRN_HASH_BYTES], leaf[CAIRN_HASH_BYTES], key[8], ikey[16];
    uint8_t *bytes = NULL;
    size_t len = 0;
    uint64_t pos = 0, bad_pos = 0;
    c->detail[0] = '\0';
    j->signer = c->old_key; /* again, after a map growth */
    cairn_err err =
        cairn__head_load(j, txn, &head, c->detail, sizeof(c->detail));
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn__keyhist_load(txn, j->journal_id, &kh, &bad_pos, c->detail,
                              sizeof(c->detail));
    if (err != CAIRN_OK) {
        return err;
    }
    err = check_head(c, &head, &kh);
    if (err == CAIRN_OK) {
        err = cairn__next_position(j->store, txn, &pos, c->detail,
                                   sizeof(c->detail));
    }
    uint64_t seq = kh.n == 0 ? 0 : kh.n - 1;
    if (kh.n == 0) {
        cairn__keys_genesis(j->journal_id, prev);
    } else {
        memcpy(prev, kh.keys[kh.n - 1].leaf, CAIRN_HASH_BYTES);
    }
    cairn__keyhist_free(&kh);
    cairn__record_init(&rec);
    if (err == CAIRN_OK) {
        err = build(c, seq, pos, prev, &rec);
    }
    if (err == CAIRN_OK) {
        err = encode_signed(c, &rec, &bytes, &len);
    }
    cairn__record_free(&rec);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__leaf_hash(bytes, len, leaf);
    cairn__store64_be(key, pos);
    cairn__store64_be(ikey, 0);
    cairn__store64_be(ikey + 8, seq);
    err = cairn__txn_put(txn, CAIRN_DBI_RECORDS, key, sizeof(key), bytes, len,
                         CAIRN_PUT_APPEND);
    free(bytes);
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_INDEX, ikey, sizeof(ikey), key,
                             sizeof(key), CAIRN_PUT_NOOVERWRITE);
    }
    if (err != CAIRN_OK) {
        cairn__fmt(c->detail, sizeof(c->detail), "%s",
                   cairn__store_detail(j->store));
        return err;
    }
    /* The head of this commit is the new key's. */
    j->signer = c->new_key;
    err = cairn__head_write(j, txn, &head,
                            (const uint8_t(*)[CAIRN_HASH_BYTES])leaf, 1, NULL,
                            0, c->detail, sizeof(c->detail));
    if (err != CAIRN_OK) {
        j->signer = c->old_key;
    }
    c->pos = pos;
    return err;
}

static cairn_err check_args(cairn_journal *j, const cairn_signer *new_key,
                            const cairn_actor_info *who)
{
    if (j->readonly || j->format < 2) {
        return cairn__jfail(j, j->readonly ? CAIRN_EINVAL : CAIRN_EVERSION,
                            "%s",
                            j->readonly ? "the journal is open read-only"
                                        : "journal format 1 has no signed "
                                          "head: run `cairn migrate` first");
    }
    if (j->signer == NULL) {
        return cairn__jfail(j, CAIRN_EKEYMISMATCH,
                            "a rotation is signed by the journal's current "
                            "secret key: none was given");
    }
    if (memcmp(new_key->key_id, j->signer->key_id, CAIRN_KEY_ID_BYTES) == 0 ||
        memcmp(new_key->pk, j->signer->pk, CAIRN_PUBLIC_KEY_BYTES) == 0) {
        return cairn__jfail(j, CAIRN_EINVAL,
                            "the new key is the current key (same key id "
                            "or public key)");
    }
    if (who != NULL && who->reason != NULL &&
        strlen(who->reason) > CAIRN_MAX_TEXT) {
        return cairn__jfail(j, CAIRN_EINVAL, "reason: longer than %d bytes",
                            CAIRN_MAX_TEXT);
    }
    if (who != NULL && who->actor != NULL &&
        strlen(who->actor) > CAIRN_MAX_TEXT) {
        return cairn__jfail(j, CAIRN_EINVAL, "actor: longer than %d bytes",
                            CAIRN_MAX_TEXT);
    }
    return CAIRN_OK;
}

cairn_err cairn_rotate_key(cairn_journal *journal, const cairn_signer *new_key,
                           const cairn_actor_info *who, uint64_t *position)
{
    static const cairn_actor_info nobody = {NULL, NULL};
    if (position != NULL) {
        *position = 0;
    }
    if (journal == NULL || new_key == NULL) {
        return CAIRN_EINVAL;
    }
    cairn_journal *j = journal;
    cairn_err err = check_args(j, new_key, who);
    if (err != CAIRN_OK) {
        return err;
    }
    rot_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return cairn__jfail(j, CAIRN_ENOMEM, "out of memory");
    }
    c->j = j;
    c->old_key = j->signer;
    c->new_key = new_key;
    c->who = who != NULL ? who : &nobody;
    err = cairn__writers_relock(j->writers_fd, j->dir, 1, c->detail,
                                sizeof(c->detail));
    if (err == CAIRN_ELOCKED) {
        size_t n = strlen(c->detail);
        cairn__fmt(c->detail + n, sizeof(c->detail) - n,
                   ": a rotation needs the journal to itself (stop the "
                   "runners and writers first)");
    }
    if (err == CAIRN_OK) {
        err = cairn__store_write(j->store, write_fn, c);
        (void)cairn__writers_relock(j->writers_fd, j->dir, 0, NULL, 0);
        if (err != CAIRN_OK) {
            j->signer = c->old_key;
        }
    }
    if (err == CAIRN_OK) {
        if (position != NULL) {
            *position = c->pos;
        }
        j->detail[0] = '\0';
    } else {
        cairn__jfail(j, err, "%s",
                     c->detail[0] != '\0' ? c->detail
                                          : cairn__store_detail(j->store));
    }
    free(c);
    return err;
}
