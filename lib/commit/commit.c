/*
 * commit.c - the pieces of the commit path: the transition builder every
 * commit path uses (check the key binding, stamp, build, encode,
 * leaf-hash, apply), positions, checkpoints (sealed by the signed journal
 * head in format 2, signed on their own in format 1), and the single-record
 * commit that run creation uses (a record, its index entry, the run's new
 * state and a checkpoint, all in one durable LMDB transaction).
 * Transitions go through group commit (group.c, group_batch.c) or shared
 * commits (xq_commit.c), built by the same function.  Failures are
 * described in the caller's buffer, never on the handle.
 */
#include "commit/commit.h"
#include "journal/head.h"
#include "journal/oprows.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "base/sys.h"

#include <stdlib.h>
#include <string.h>

/* CAIRN_EKEYMISMATCH unless the handle's signer matches the run's key
 * binding.  In format 2 a signed run created under a key the journal has
 * rotated away from (docs/FORMAT.md section 24) is written with the
 * journal's current key: there the head decides, and the commit refuses
 * any signer whose key does not sign it (head_write.c, xq_write.c). */
static cairn_err check_key(const cairn_journal *j, const cairn_state *st,
                           char *detail, size_t detail_len)
{
    const cairn_signer *s = j->signer;
    if (!st->signed_run && s == NULL) {
        return CAIRN_OK;
    }
    if (st->signed_run && s != NULL &&
        (j->format >= 2 ||
         memcmp(st->key_id, s->key_id, CAIRN_KEY_ID_BYTES) == 0)) {
        return CAIRN_OK;
    }
    char want[17], have[17];
    cairn__key_id_text(st->key_id, want);
    if (s != NULL) {
        cairn__key_id_text(s->key_id, have);
    }
    return cairn__fail(detail, detail_len, CAIRN_EKEYMISMATCH,
                       "run %s is %s%s, the writer has %s%s", st->run_id,
                       st->signed_run ? "signed by key " : "unsigned",
                       st->signed_run ? want : "", s ? "key " : "no key",
                       s ? have : "");
}

/* Fill the fields every record shares: version, run, seq, clocks, boot
 * id, and prev (from @p st, or left zero when @p st is NULL). */
static cairn_err stamp(const cairn_journal *j, const cairn_state *st,
                       cairn_record *rec, uint64_t run_num, uint64_t seq,
                       char *detail, size_t detail_len)
{
    rec->version = CAIRN_FORMAT_VERSION;
    rec->run_num = run_num;
    rec->seq = seq;
    rec->wall_ns = cairn__wall_ns();
    rec->mono_ns = cairn__mono_ns();
    if (j->have_boot_id) {
        memcpy(rec->boot_id, j->boot_id, CAIRN_BOOT_ID_BYTES);
    } else {
        cairn_err err = cairn__boot_id(rec->boot_id);
        if (err != CAIRN_OK) {
            return cairn__fail(detail, detail_len, err,
                               "cannot read the boot id%s",
                               err == CAIRN_ENOMEM ? ": out of memory" : "");
        }
    }
    if (st != NULL) {
        memcpy(rec->prev, st->head, CAIRN_HASH_BYTES);
    }
    return CAIRN_OK;
}

void cairn__transition_free(cairn_transition *t)
{
    cairn__record_free(&t->rec);
    free(t->bytes);
    t->bytes = NULL;
    t->len = 0;
}

cairn_err cairn__transition_build(cairn_journal *j, cairn_state *st,
                                  cairn_append_req *r, const cairn_plan *plan,
                                  uint64_t pos, cairn_transition *t)
{
    char *detail = r->detail, why[512];
    size_t detail_len = sizeof(r->detail);
    memset(t, 0, sizeof(*t));
    cairn__record_init(&t->rec);
    cairn_err err =
        plan != NULL ? CAIRN_OK : check_key(j, st, detail, detail_len);
    if (plan == NULL && st->pruned) {
        err = cairn__fail(detail, detail_len, CAIRN_EPRUNED,
                          "run %s was pruned: only its tombstone remains",
                          st->run_id);
    }
    if (err == CAIRN_OK) {
        err = stamp(j, plan != NULL ? NULL : st, &t->rec, r->run_num,
                    plan != NULL ? 0 : st->next_seq, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err = r->build(j, st, &t->rec, r->ctx, detail, detail_len);
    }
    if (err == CAIRN_OK && t->rec.type != 0) {
        why[0] = '\0';
        err =
            cairn__record_encode(&t->rec, &t->bytes, &t->len, why, sizeof(why));
        if (err == CAIRN_OK) {
            cairn__leaf_hash(t->bytes, t->len, t->hash);
            why[0] = '\0';
            /* The machine changes nothing unless the record applies. */
            err = plan != NULL ? cairn__state_init(st, plan, &t->rec, t->hash,
                                                   pos, why, sizeof(why))
                               : cairn__state_apply(st, &t->rec, t->hash, pos,
                                                    why, sizeof(why));
        }
        if (err != CAIRN_OK) {
            cairn__fmt(detail, detail_len, "%s", why);
        }
    }
    if (err != CAIRN_OK) {
        cairn__transition_free(t);
    }
    return err;
}

cairn_err cairn__next_position(cairn_store *store, cairn_txn *txn,
                               uint64_t *pos, char *detail, size_t detail_len)
{
    const uint8_t *k;
    size_t kl;
    int found = 0;
    cairn_err err =
        cairn__txn_last_key(txn, CAIRN_DBI_RECORDS, &k, &kl, &found);
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "%s",
                           cairn__store_detail(store));
    }
    if (found && kl != 8) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "records: key of %zu bytes", kl);
    }
    *pos = found ? cairn__load64_be(k) + 1 : 1;
    return CAIRN_OK;
}

cairn_err cairn__make_checkpoint(const cairn_journal *j, const cairn_state *st,
                                 uint64_t wall_ns,
                                 uint8_t out[CAIRN_CHECKPOINT_BYTES])
{
    cairn_checkpoint cp;
    uint8_t msg[CAIRN_CHECKPOINT_MSG_MAX];
    memset(&cp, 0, sizeof(cp));
    cp.version = 1;
    cp.run_num = st->run_num;
    cp.seq = st->next_seq - 1;
    memcpy(cp.head, st->head, CAIRN_HASH_BYTES);
    cp.wall_ns = wall_ns;
    if (j->signer != NULL && j->format >= 2) {
        /* docs/FORMAT.md section 25: the journal head, signed once by the
         * commit that stores this checkpoint, is its signature. */
        cp.head_sealed = 1;
        memcpy(cp.key_id, j->signer->key_id, CAIRN_KEY_ID_BYTES);
    } else if (j->signer != NULL) {
        cp.is_signed = 1;
        memcpy(cp.key_id, j->signer->key_id, CAIRN_KEY_ID_BYTES);
        size_t n =
            cairn__checkpoint_message(&cp, j->journal_id, st->run_id, msg);
        if (n == 0) {
            return CAIRN_EINVAL;
        }
        cairn_err err = cairn__signer_sign(j->signer, msg, n, cp.sig);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    cairn__checkpoint_encode(&cp, out);
    return CAIRN_OK;
}

cairn_err cairn__put_checkpoint(cairn_journal *j, cairn_txn *txn,
                                const cairn_state *st, uint64_t wall_ns,
                                uint64_t pos, char *detail, size_t detail_len)
{
    uint8_t bytes[CAIRN_CHECKPOINT_BYTES], key[8];
    cairn_err err = cairn__make_checkpoint(j, st, wall_ns, bytes);
    if (err == CAIRN_EINVAL) {
        return cairn__fail(detail, detail_len, err, "bad run id for signing");
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err,
                           "sealing the checkpoint failed");
    }
    cairn__store64_be(key, pos);
    return cairn__txn_put(txn, CAIRN_DBI_CHECKPOINTS, key, sizeof(key), bytes,
                          sizeof(bytes), CAIRN_PUT_APPEND);
}

cairn_err cairn__commit_write(cairn_journal *j, cairn_txn *txn,
                              const cairn_transition *t, uint64_t pos,
                              const cairn_state *prev, cairn_state *next,
                              uint8_t state_leaf[CAIRN_HASH_BYTES],
                              char *detail, size_t detail_len)
{
    uint8_t key[8], ikey[16];
    cairn__store64_be(key, pos);
    cairn__store64_be(ikey, next->run_num);
    cairn__store64_be(ikey + 8, next->next_seq - 1);
    cairn_err err = cairn__txn_put(txn, CAIRN_DBI_RECORDS, key, sizeof(key),
                                   t->bytes, t->len, CAIRN_PUT_APPEND);
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_INDEX, ikey, sizeof(ikey), key,
                             sizeof(key), CAIRN_PUT_NOOVERWRITE);
    }
    if (err == CAIRN_OK) {
        err = cairn__runstate_put(txn, prev, next, state_leaf, detail,
                                  detail_len);
    }
    if (err == CAIRN_OK) {
        err = cairn__put_checkpoint(j, txn, next, t->rec.wall_ns, pos, detail,
                                    detail_len);
    }
    if (err != CAIRN_OK && detail[0] == '\0') {
        cairn__fmt(detail, detail_len, "%s", cairn__store_detail(j->store));
    }
    return err;
}

cairn_err cairn__commit_new_run(cairn_journal *j, cairn_txn *txn,
                                cairn_append_req *r, const cairn_plan *plan,
                                cairn_state *st)
{
    uint64_t pos = 0;
    cairn_transition t;
    cairn_head head;
    cairn_err err =
        cairn__head_load(j, txn, &head, r->detail, sizeof(r->detail));
    if (err != CAIRN_OK) {
        return err;
    }
    err =
        cairn__next_position(j->store, txn, &pos, r->detail, sizeof(r->detail));
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn__transition_build(j, st, r, plan, pos, &t);
    if (err != CAIRN_OK) {
        return err;
    }
    if (t.bytes == NULL) {
        cairn__transition_free(&t);
        return cairn__fail(r->detail, sizeof(r->detail), CAIRN_EINVAL,
                           "run creation built no record");
    }
    cairn_run_leaf run;
    memset(&run, 0, sizeof(run));
    run.run_num = st->run_num;
    run.is_new = 1;
    err = cairn__commit_write(j, txn, &t, pos, NULL, st, run.new_leaf,
                              r->detail, sizeof(r->detail));
    if (err == CAIRN_OK) {
        err = cairn__head_write(j, txn, &head,
                                (const uint8_t(*)[CAIRN_HASH_BYTES])t.hash, 1,
                                &run, 1, r->detail, sizeof(r->detail));
    }
    cairn__transition_free(&t);
    return err;
}
