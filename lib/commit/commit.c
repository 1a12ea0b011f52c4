/*
 * commit.c - the pieces of the commit path: stamping, the key binding,
 * positions, signed checkpoints, and the single-record commit that run
 * creation uses (a record, its index entry, the run's new state and a
 * signed checkpoint, all in one durable LMDB transaction).  Transitions
 * go through group commit (group.c, group_batch.c), built from the same
 * pieces.  Also the per-run writer locks held by a handle, shared by its
 * threads (reference counted under sync->locks_mu).
 */
#include "journal/journal.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "base/sys.h"

#include <stdlib.h>
#include <string.h>

/* ---- run locks held by the handle ---------------------------------- */

/* Under sync->locks_mu. */
static cairn_held_lock *find_lock(cairn_journal *j, uint64_t run_num)
{
    for (size_t i = 0; i < j->n_locks; i++) {
        if (j->locks[i].run_num == run_num) {
            return &j->locks[i];
        }
    }
    return NULL;
}

/* Open the lock of a run the handle does not hold (under locks_mu). */
static cairn_err open_lock(cairn_journal *j, uint64_t run_num, int pin,
                           char *detail, size_t detail_len)
{
    cairn_held_lock *n =
        realloc(j->locks, (j->n_locks + 1) * sizeof(cairn_held_lock));
    if (n == NULL) {
        cairn__fmt(detail, detail_len, "run lock: out of memory");
        return CAIRN_ENOMEM;
    }
    j->locks = n;
    int fd = -1;
    char why[600];
    cairn_err err = cairn__run_lock(j->dfd, j->dir, &j->data_st, j->data_fd,
                                    run_num, &fd, why, sizeof(why));
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "run lock: %s", why);
        return err;
    }
    n[j->n_locks].run_num = run_num;
    n[j->n_locks].fd = fd;
    n[j->n_locks].users = pin ? 0 : 1;
    n[j->n_locks].pinned = pin;
    j->n_locks++;
    return CAIRN_OK;
}

cairn_err cairn__run_lock_get(cairn_journal *j, uint64_t run_num, int pin,
                              char *detail, size_t detail_len)
{
    cairn_err err = CAIRN_OK;
    pthread_mutex_lock(&j->sync->locks_mu);
    cairn_held_lock *l = find_lock(j, run_num);
    if (l != NULL && pin) {
        l->pinned = 1;
    } else if (l != NULL) {
        l->users++;
    } else {
        err = open_lock(j, run_num, pin, detail, detail_len);
    }
    pthread_mutex_unlock(&j->sync->locks_mu);
    return err;
}

void cairn__run_lock_put(cairn_journal *j, uint64_t run_num, int unpin)
{
    pthread_mutex_lock(&j->sync->locks_mu);
    cairn_held_lock *l = find_lock(j, run_num);
    if (l != NULL) {
        if (unpin) {
            l->pinned = 0;
        } else if (l->users > 0) {
            l->users--;
        }
        if (!l->pinned && l->users == 0) {
            cairn__run_unlock(j->data_fd, l->run_num, l->fd);
            *l = j->locks[j->n_locks - 1];
            j->n_locks--;
        }
    }
    pthread_mutex_unlock(&j->sync->locks_mu);
}

cairn_err cairn_run_lock(cairn_journal *journal, const char *run_id)
{
    if (journal == NULL || run_id == NULL) {
        return CAIRN_EINVAL;
    }
    uint64_t run_num;
    char detail[CAIRN__DETAIL_MAX];
    cairn_err err = cairn__lookup_outside(journal, run_id, &run_num, detail,
                                          sizeof(detail));
    if (err == CAIRN_OK) {
        err = cairn__run_lock_get(journal, run_num, 1, detail, sizeof(detail));
    }
    if (err != CAIRN_OK) {
        cairn__publish_detail(journal, detail);
    }
    return err;
}

void cairn_run_unlock(cairn_journal *journal, const char *run_id)
{
    uint64_t run_num;
    char detail[CAIRN__DETAIL_MAX];
    if (journal != NULL && run_id != NULL &&
        cairn__lookup_outside(journal, run_id, &run_num, detail,
                              sizeof(detail)) == CAIRN_OK) {
        cairn__run_lock_put(journal, run_num, 1);
    }
}

/* ---- the commit path ----------------------------------------------- */

cairn_err cairn__check_key(cairn_journal *j, const cairn_state *st)
{
    const cairn_signer *s = j->signer;
    if (!st->signed_run && s == NULL) {
        return CAIRN_OK;
    }
    if (st->signed_run && s != NULL &&
        memcmp(st->key_id, s->key_id, CAIRN_KEY_ID_BYTES) == 0) {
        return CAIRN_OK;
    }
    char want[17], have[17];
    cairn__key_id_text(st->key_id, want);
    if (s != NULL) {
        cairn__key_id_text(s->key_id, have);
    }
    return cairn__jfail(
        j, CAIRN_EKEYMISMATCH, "run %s is %s%s, the writer has %s%s",
        st->run_id, st->signed_run ? "signed by key " : "unsigned",
        st->signed_run ? want : "", s ? "key " : "no key", s ? have : "");
}

/* Fill the fields every record shares. */
static cairn_err stamp(cairn_journal *j, const cairn_state *st,
                       cairn_record *rec, uint64_t run_num, uint64_t seq)
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
            return cairn__jfail(j, err, "cannot read the boot id%s",
                                err == CAIRN_ENOMEM ? ": out of memory" : "");
        }
    }
    if (st != NULL) {
        memcpy(rec->prev, st->head, CAIRN_HASH_BYTES);
    }
    return CAIRN_OK;
}

cairn_err cairn__next_position(cairn_journal *j, cairn_txn *txn, uint64_t *pos)
{
    const uint8_t *k;
    size_t kl;
    int found;
    cairn_err err =
        cairn__txn_last_key(txn, CAIRN_DBI_RECORDS, &k, &kl, &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (found && kl != 8) {
        return cairn__jfail(j, CAIRN_ECORRUPT, "records: key of %zu bytes", kl);
    }
    *pos = found ? cairn__load64_be(k) + 1 : 1;
    return CAIRN_OK;
}

cairn_err cairn__make_checkpoint(const cairn_journal *j, const cairn_state *st,
                                 uint8_t out[CAIRN_CHECKPOINT_BYTES])
{
    cairn_checkpoint cp;
    uint8_t msg[CAIRN_CHECKPOINT_MSG_MAX];
    memset(&cp, 0, sizeof(cp));
    cp.version = 1;
    cp.run_num = st->run_num;
    cp.seq = st->next_seq - 1;
    memcpy(cp.head, st->head, CAIRN_HASH_BYTES);
    cp.wall_ns = st->updated_ns;
    if (j->signer != NULL) {
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
                                const cairn_state *st, uint64_t pos)
{
    uint8_t bytes[CAIRN_CHECKPOINT_BYTES], key[8];
    cairn_err err = cairn__make_checkpoint(j, st, bytes);
    if (err == CAIRN_EINVAL) {
        return cairn__jfail(j, err, "bad run id for signing");
    }
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "signing the checkpoint failed");
    }
    cairn__store64_be(key, pos);
    return cairn__txn_put(txn, CAIRN_DBI_CHECKPOINTS, key, sizeof(key), bytes,
                          sizeof(bytes), CAIRN_PUT_APPEND);
}

cairn_err cairn__commit_write(cairn_journal *j, cairn_txn *txn,
                              const uint8_t *bytes, size_t len, uint64_t pos,
                              const cairn_state *next)
{
    uint8_t key[8], ikey[16];
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    cairn__store64_be(key, pos);
    cairn__store64_be(ikey, next->run_num);
    cairn__store64_be(ikey + 8, next->next_seq - 1);
    cairn_err err = cairn__txn_put(txn, CAIRN_DBI_RECORDS, key, sizeof(key),
                                   bytes, len, CAIRN_PUT_APPEND);
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_INDEX, ikey, sizeof(ikey), key,
                             sizeof(key), CAIRN_PUT_NOOVERWRITE);
    }
    if (err == CAIRN_OK) {
        err = cairn__state_encode(next, &blob, &blob_len);
    }
    if (err == CAIRN_OK) {
        cairn__store64_be(key, next->run_num);
        err = cairn__txn_put(txn, CAIRN_DBI_RUNS, key, sizeof(key), blob,
                             blob_len, 0);
    }
    free(blob);
    if (err == CAIRN_OK) {
        err = cairn__put_checkpoint(j, txn, next, pos);
    }
    if (err != CAIRN_OK && cairn__jdetail(j)[0] == '\0') {
        cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    return err;
}

cairn_err cairn__commit_new_run(cairn_journal *j, cairn_txn *txn,
                                const cairn_record *create,
                                const cairn_plan *plan, cairn_state *st)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    uint8_t hash[CAIRN_HASH_BYTES];
    uint64_t pos;
    char why[512];
    cairn_err err =
        cairn__record_encode(create, &bytes, &len, why, sizeof(why));
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", why);
    }
    cairn__leaf_hash(bytes, len, hash);
    err = cairn__next_position(j, txn, &pos);
    if (err == CAIRN_OK) {
        err = cairn__state_init(st, plan, create, hash, pos, why, sizeof(why));
        if (err != CAIRN_OK) {
            cairn__jfail(j, err, "%s", why);
        }
    }
    if (err == CAIRN_OK) {
        err = cairn__commit_write(j, txn, bytes, len, pos, st);
    }
    free(bytes);
    return err;
}

cairn_err cairn__stamp(cairn_journal *j, const cairn_state *st,
                       cairn_record *rec, uint64_t run_num, uint64_t seq)
{
    return stamp(j, st, rec, run_num, seq);
}
