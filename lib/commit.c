/*
 * commit.c - the one commit path: a record, its index entry, the run's new
 * state and a signed checkpoint, all in one durable LMDB transaction.
 * Also the per-run writer locks held by a handle.
 */
#include "journal.h"

#include "bytes.h"
#include "crypto.h"
#include "sys.h"

#include <stdlib.h>
#include <string.h>

/* ---- run locks held by the handle ---------------------------------- */

static cairn_held_lock *find_lock(cairn_journal *j, uint64_t run_num)
{
    for (size_t i = 0; i < j->n_locks; i++) {
        if (j->locks[i].run_num == run_num) {
            return &j->locks[i];
        }
    }
    return NULL;
}

static cairn_err take_lock(cairn_journal *j, uint64_t run_num, int *took)
{
    *took = 0;
    if (find_lock(j, run_num) != NULL) {
        return CAIRN_OK;
    }
    cairn_held_lock *n =
        realloc(j->locks, (j->n_locks + 1) * sizeof(cairn_held_lock));
    if (n == NULL) {
        return CAIRN_ENOMEM;
    }
    j->locks = n;
    int fd = -1;
    char why[600];
    cairn_err err = cairn__run_lock(j->dir, run_num, &fd, why, sizeof(why));
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "run lock: %s", why);
    }
    j->locks[j->n_locks].run_num = run_num;
    j->locks[j->n_locks].fd = fd;
    j->n_locks++;
    *took = 1;
    return CAIRN_OK;
}

static void drop_lock(cairn_journal *j, uint64_t run_num)
{
    for (size_t i = 0; i < j->n_locks; i++) {
        if (j->locks[i].run_num == run_num) {
            cairn__run_unlock(j->locks[i].fd);
            j->locks[i] = j->locks[j->n_locks - 1];
            j->n_locks--;
            return;
        }
    }
}

static cairn_err lookup_outside(cairn_journal *j, const char *run_id,
                                uint64_t *run_num)
{
    cairn_txn *txn = NULL;
    cairn_err err = cairn__store_read(j->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    err = cairn__lookup_run(j, txn, run_id, run_num);
    cairn__txn_end(txn);
    return err;
}

cairn_err cairn_run_lock(cairn_journal *journal, const char *run_id)
{
    if (journal == NULL || run_id == NULL) {
        return CAIRN_EINVAL;
    }
    uint64_t run_num;
    int took;
    cairn_err err = lookup_outside(journal, run_id, &run_num);
    return err != CAIRN_OK ? err : take_lock(journal, run_num, &took);
}

void cairn_run_unlock(cairn_journal *journal, const char *run_id)
{
    uint64_t run_num;
    if (journal != NULL && run_id != NULL &&
        lookup_outside(journal, run_id, &run_num) == CAIRN_OK) {
        drop_lock(journal, run_num);
    }
}

/* ---- the commit path ----------------------------------------------- */

typedef struct append_ctx {
    cairn_journal *j;
    const char *run_id;
    cairn_build_fn build;
    void *ctx;
    cairn_state *after;
    int wrote;
} append_ctx;

static cairn_err check_key(cairn_journal *j, const cairn_state *st)
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
    return cairn__jfail(j, CAIRN_EKEYMISMATCH,
                        "run %s is %s%s, the writer has %s%s", st->run_id,
                        st->signed_run ? "signed by key " : "unsigned",
                        st->signed_run ? want : "", s ? "key " : "no key",
                        s ? have : "");
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
    if (cairn__boot_id(rec->boot_id) != CAIRN_OK) {
        return cairn__jfail(j, CAIRN_EIO, "cannot read the boot id");
    }
    if (st != NULL) {
        memcpy(rec->prev, st->head, CAIRN_HASH_BYTES);
    }
    return CAIRN_OK;
}

static cairn_err next_position(cairn_journal *j, cairn_txn *txn,
                               uint64_t *pos)
{
    const uint8_t *k;
    size_t kl;
    int found;
    cairn_err err = cairn__txn_last_key(txn, CAIRN_DBI_RECORDS, &k, &kl,
                                        &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (found && kl != 8) {
        return cairn__jfail(j, CAIRN_ECORRUPT, "records: key of %zu bytes",
                            kl);
    }
    *pos = found ? cairn__load64_be(k) + 1 : 1;
    return CAIRN_OK;
}

static cairn_err put_checkpoint(cairn_journal *j, cairn_txn *txn,
                                const cairn_state *st, uint64_t pos)
{
    cairn_checkpoint cp;
    uint8_t msg[CAIRN_CHECKPOINT_MSG_MAX], bytes[CAIRN_CHECKPOINT_BYTES];
    uint8_t key[8];
    memset(&cp, 0, sizeof(cp));
    cp.version = 1;
    cp.run_num = st->run_num;
    cp.seq = st->next_seq - 1;
    memcpy(cp.head, st->head, CAIRN_HASH_BYTES);
    cp.wall_ns = st->updated_ns;
    if (j->signer != NULL) {
        cp.is_signed = 1;
        memcpy(cp.key_id, j->signer->key_id, CAIRN_KEY_ID_BYTES);
        size_t n = cairn__checkpoint_message(&cp, j->journal_id, st->run_id,
                                             msg);
        if (n == 0) {
            return cairn__jfail(j, CAIRN_EINVAL, "bad run id for signing");
        }
        cairn_err err = cairn__signer_sign(j->signer, msg, n, cp.sig);
        if (err != CAIRN_OK) {
            return cairn__jfail(j, err, "signing the checkpoint failed");
        }
    }
    cairn__checkpoint_encode(&cp, bytes);
    cairn__store64_be(key, pos);
    return cairn__txn_put(txn, CAIRN_DBI_CHECKPOINTS, key, sizeof(key), bytes,
                          sizeof(bytes), CAIRN_PUT_APPEND);
}

cairn_err cairn__commit_write(cairn_journal *j, cairn_txn *txn,
                              const uint8_t *bytes, size_t len,
                              uint64_t pos, const cairn_state *next)
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
        err = put_checkpoint(j, txn, next, pos);
    }
    if (err != CAIRN_OK && j->detail[0] == '\0') {
        cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    return err;
}

cairn_err cairn__commit_record(cairn_journal *j, cairn_txn *txn,
                               const cairn_record *rec,
                               const cairn_state *before, cairn_state *next)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    uint8_t hash[CAIRN_HASH_BYTES];
    uint64_t pos;
    char why[512];
    cairn_err err = cairn__record_encode(rec, &bytes, &len, why, sizeof(why));
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", why);
    }
    cairn__leaf_hash(bytes, len, hash);
    err = next_position(j, txn, &pos);
    if (err == CAIRN_OK) {
        err = cairn__state_copy(before, next);
    }
    if (err == CAIRN_OK) {
        why[0] = '\0';
        err = cairn__state_apply(next, rec, hash, pos, why, sizeof(why));
        if (err != CAIRN_OK) {
            cairn__jfail(j, err, "%s", why);
        }
    }
    if (err == CAIRN_OK) {
        err = cairn__commit_write(j, txn, bytes, len, pos, next);
    }
    free(bytes);
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
    err = next_position(j, txn, &pos);
    if (err == CAIRN_OK) {
        err = cairn__state_init(st, plan, create, hash, pos, why,
                                sizeof(why));
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

static cairn_err append_fn(cairn_txn *txn, void *vctx)
{
    append_ctx *c = vctx;
    cairn_journal *j = c->j;
    uint64_t run_num;
    cairn_state st, next;
    cairn_record rec;
    memset(&next, 0, sizeof(next));
    cairn_err err = cairn__lookup_run(j, txn, c->run_id, &run_num);
    if (err != CAIRN_OK || (err = cairn__load_state(j, txn, run_num, &st))) {
        return err;
    }
    cairn__record_init(&rec);
    err = check_key(j, &st);
    if (err == CAIRN_OK) {
        err = stamp(j, &st, &rec, run_num, st.next_seq);
    }
    if (err == CAIRN_OK) {
        err = c->build(j, &st, &rec, c->ctx);
    }
    if (err == CAIRN_OK && rec.type != 0) {
        err = cairn__commit_record(j, txn, &rec, &st, &next);
        c->wrote = err == CAIRN_OK;
    }
    if (err == CAIRN_OK && c->after != NULL) {
        cairn__state_free(c->after);
        err = c->wrote ? cairn__state_copy(&next, c->after)
                       : cairn__state_copy(&st, c->after);
    }
    cairn__state_free(&next);
    cairn__state_free(&st);
    cairn__record_free(&rec);
    return err;
}

cairn_err cairn__journal_append(cairn_journal *j, const char *run_id,
                                cairn_build_fn build, void *ctx,
                                cairn_state *after)
{
    if (j->readonly) {
        return cairn__jfail(j, CAIRN_EINVAL, "journal opened read-only");
    }
    if (cairn__store_fatal(j->store)) {
        return cairn__jfail(j, CAIRN_EFATAL, "a commit failed earlier: "
                                             "close and reopen the journal");
    }
    j->detail[0] = '\0';
    uint64_t run_num;
    int took = 0;
    cairn_err err = lookup_outside(j, run_id, &run_num);
    if (err == CAIRN_OK) {
        err = take_lock(j, run_num, &took);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    append_ctx c = {j, run_id, build, ctx, after, 0};
    if (after != NULL) {
        memset(after, 0, sizeof(*after));
    }
    err = cairn__store_write(j->store, append_fn, &c);
    if (err != CAIRN_OK && j->detail[0] == '\0') {
        cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (err != CAIRN_OK && after != NULL) {
        cairn__state_free(after);
    }
    if (took) {
        drop_lock(j, run_num);
    }
    return err;
}
