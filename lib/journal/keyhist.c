/*
 * keyhist.c - reading and checking a journal's key history (keyhist.h,
 * docs/FORMAT.md section 24).  O(rotations) reads: the index entries of
 * run 0 and the records they point at.
 */
#include "journal/keyhist.h"

#include "base/bytes.h"
#include "base/crypto.h"

#include <stdlib.h>
#include <string.h>

void cairn__keyhist_free(cairn_keyhist *kh)
{
    if (kh != NULL) {
        free(kh->keys);
        kh->keys = NULL;
        kh->n = 0;
        kh->cap = 0;
    }
}

const cairn_key_entry *cairn__keyhist_at(const cairn_keyhist *kh, uint64_t pos)
{
    const cairn_key_entry *k = NULL;
    for (size_t i = 0; kh != NULL && i < kh->n && kh->keys[i].from <= pos;
         i++) {
        k = &kh->keys[i];
    }
    return k;
}

const cairn_key_entry *
cairn__keyhist_find(const cairn_keyhist *kh,
                    const uint8_t key_id[CAIRN_KEY_ID_BYTES], const uint8_t *pk)
{
    for (size_t i = 0; kh != NULL && i < kh->n; i++) {
        const cairn_key_entry *k = &kh->keys[i];
        if (memcmp(k->key_id, key_id, CAIRN_KEY_ID_BYTES) == 0 &&
            (pk == NULL || memcmp(k->pk, pk, CAIRN_PUBLIC_KEY_BYTES) == 0)) {
            return k;
        }
    }
    return NULL;
}

int cairn__keyhist_is_rotation(const cairn_keyhist *kh, uint64_t pos)
{
    for (size_t i = 1; kh != NULL && i < kh->n; i++) {
        if (kh->keys[i].from == pos) {
            return 1;
        }
    }
    return 0;
}

/* Both signatures of the encoded record @p v (@p vl bytes). */
static cairn_err check_sigs(const cairn_record *rec, const uint8_t *v,
                            size_t vl, const char **which)
{
    uint8_t *msg = NULL;
    size_t n = 0;
    cairn_err err = cairn__rotate_message(v, vl, &msg, &n);
    if (err != CAIRN_OK) {
        *which = "record";
        return err == CAIRN_ENOMEM ? err : CAIRN_ETAMPERED;
    }
    if (cairn__ed25519_verify(rec->old_sig, msg, n, rec->old_pk) != 0) {
        *which = "old_sig";
        err = CAIRN_ETAMPERED;
    } else if (cairn__ed25519_verify(rec->new_sig, msg, n, rec->new_pk) != 0) {
        *which = "new_sig";
        err = CAIRN_ETAMPERED;
    }
    free(msg);
    return err;
}

/* Rotation @p seq at position @p pos (bytes @p v): its rules against the
 * history so far (@p kh, whose last key is the one it must retire). */
static cairn_err check_one(const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                           cairn_keyhist *kh, uint64_t seq, uint64_t pos,
                           const uint8_t *v, size_t vl, const uint8_t prev[],
                           char *detail, size_t detail_len)
{
    if (kh->n > 0 && kh->n - 1 >= CAIRN__MAX_ROTATIONS) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "rotation %llu: more rotations than the limit",
                           (unsigned long long)seq);
    }
    cairn_record rec;
    char why[200];
    const char *which = NULL;
    cairn_err err = cairn__record_decode(v, vl, &rec, why, sizeof(why));
    if (err == CAIRN_ENOMEM) {
        return err;
    }
#define BAD(...)                                                               \
    do {                                                                       \
        err = cairn__fail(detail, detail_len, CAIRN_ETAMPERED, __VA_ARGS__);   \
        goto out;                                                              \
    } while (0)
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "rotation %llu (position %llu): does not decode: "
                           "%s",
                           (unsigned long long)seq, (unsigned long long)pos,
                           why);
    }
    const char *at = "rotation";
    if (rec.type != CAIRN_REC_ROTATE || rec.seq != seq) {
        BAD("%s %llu (position %llu): record: a %s record of run %llu seq "
            "%llu is indexed as the journal's rotation %llu",
            at, (unsigned long long)seq, (unsigned long long)pos,
            cairn_record_type_name(rec.type), (unsigned long long)rec.run_num,
            (unsigned long long)rec.seq, (unsigned long long)seq);
    }
    if (memcmp(rec.journal_id, journal_id, CAIRN_JOURNAL_ID_BYTES) != 0) {
        BAD("%s %llu (position %llu): journal_id: another journal's", at,
            (unsigned long long)seq, (unsigned long long)pos);
    }
    if (memcmp(rec.prev, prev, CAIRN_HASH_BYTES) != 0) {
        BAD("%s %llu (position %llu): prev: not the %s", at,
            (unsigned long long)seq, (unsigned long long)pos,
            seq == 0 ? "keys genesis hash"
                     : "hash of the rotation before it (one was changed, "
                       "removed or inserted)");
    }
    if (rec.from_size != pos) {
        BAD("%s %llu (position %llu): from_size: %llu, not its position "
            "(moved)",
            at, (unsigned long long)seq, (unsigned long long)pos,
            (unsigned long long)rec.from_size);
    }
    if (kh->n > 0) {
        const cairn_key_entry *cur = &kh->keys[kh->n - 1];
        if (pos <= cur->from) {
            BAD("%s %llu (position %llu): not after the rotation before it", at,
                (unsigned long long)seq, (unsigned long long)pos);
        }
        if (memcmp(cur->key_id, rec.key_id, CAIRN_KEY_ID_BYTES) != 0 ||
            memcmp(cur->pk, rec.old_pk, CAIRN_PUBLIC_KEY_BYTES) != 0) {
            BAD("%s %llu (position %llu): old_key_id: it retires a key "
                "that was not in force (not signed by the then-current "
                "key)",
                at, (unsigned long long)seq, (unsigned long long)pos);
        }
    }
    if (kh->n + 2 > kh->cap) {
        size_t cap = kh->cap == 0 ? 4 : 2 * kh->cap;
        cairn_key_entry *keys = realloc(kh->keys, cap * sizeof(*keys));
        if (keys == NULL) {
            err = CAIRN_ENOMEM;
            goto out;
        }
        kh->keys = keys;
        kh->cap = cap;
    }
    err = check_sigs(&rec, v, vl, &which);
    if (err == CAIRN_ETAMPERED) {
        BAD("%s %llu (position %llu): %s: the signature of the %s key does "
            "not verify",
            at, (unsigned long long)seq, (unsigned long long)pos, which,
            strcmp(which, "new_sig") == 0 ? "new" : "old");
    }
    if (err != CAIRN_OK) {
        goto out;
    }
    if (kh->n == 0) {
        cairn_key_entry *k0 = &kh->keys[0];
        memset(k0, 0, sizeof(*k0));
        memcpy(k0->key_id, rec.key_id, CAIRN_KEY_ID_BYTES);
        memcpy(k0->pk, rec.old_pk, CAIRN_PUBLIC_KEY_BYTES);
        kh->n = 1;
    }
    cairn_key_entry *k = &kh->keys[kh->n++];
    k->from = pos;
    memcpy(k->key_id, rec.new_key_id, CAIRN_KEY_ID_BYTES);
    memcpy(k->pk, rec.new_pk, CAIRN_PUBLIC_KEY_BYTES);
    cairn__leaf_hash(v, vl, k->leaf);
#undef BAD
out:
    cairn__record_free(&rec);
    return err;
}

cairn_err cairn__keyhist_push(const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                              cairn_keyhist *kh, uint64_t pos, const uint8_t *v,
                              size_t vl, char *detail, size_t detail_len)
{
    uint8_t prev[CAIRN_HASH_BYTES];
    uint64_t seq = kh->n == 0 ? 0 : (uint64_t)(kh->n - 1);
    if (kh->n == 0) {
        cairn__keys_genesis(journal_id, prev);
    } else {
        memcpy(prev, kh->keys[kh->n - 1].leaf, CAIRN_HASH_BYTES);
    }
    cairn__clear(detail, detail_len);
    return check_one(journal_id, kh, seq, pos, v, vl, prev, detail, detail_len);
}

/* The records the index lists for run 0, in order. */
static cairn_err walk(cairn_txn *txn,
                      const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                      cairn_cursor *cur, cairn_keyhist *kh, uint64_t *bad_pos,
                      char *detail, size_t detail_len)
{
    uint8_t key[16], prev[CAIRN_HASH_BYTES];
    const uint8_t *k, *v, *rv;
    size_t kl, vl, rvl;
    int found = 0, rfound = 0;
    memset(key, 0, sizeof(key));
    cairn__keys_genesis(journal_id, prev);
    cairn_err err =
        cairn__cursor_seek(cur, key, sizeof(key), &k, &kl, &v, &vl, &found);
    for (uint64_t seq = 0;
         err == CAIRN_OK && found && kl == 16 && cairn__load64_be(k) == 0;
         seq++) {
        uint64_t pos = vl == 8 ? cairn__load64_be(v) : 0;
        *bad_pos = pos;
        if (cairn__load64_be(k + 8) != seq || pos == 0 ||
            seq >= CAIRN__MAX_ROTATIONS) {
            return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                               "rotation %llu: index: %s",
                               (unsigned long long)seq,
                               seq >= CAIRN__MAX_ROTATIONS
                                   ? "more rotations than the limit"
                                   : "the journal's rotations are not "
                                     "numbered 0, 1, ... (one removed?)");
        }
        uint8_t pkey[8];
        cairn__store64_be(pkey, pos);
        err = cairn__txn_get(txn, CAIRN_DBI_RECORDS, pkey, sizeof(pkey), &rv,
                             &rvl, &rfound);
        if (err != CAIRN_OK) {
            return err;
        }
        if (!rfound) {
            return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                               "rotation %llu (position %llu): no record",
                               (unsigned long long)seq,
                               (unsigned long long)pos);
        }
        err = check_one(journal_id, kh, seq, pos, rv, rvl, prev, detail,
                        detail_len);
        if (err == CAIRN_OK) {
            memcpy(prev, kh->keys[kh->n - 1].leaf, CAIRN_HASH_BYTES);
            err = cairn__cursor_next(cur, &k, &kl, &v, &vl, &found);
        }
    }
    if (err == CAIRN_OK) {
        *bad_pos = 0;
    }
    return err;
}

cairn_err cairn__keyhist_load(cairn_txn *txn,
                              const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                              cairn_keyhist *kh, uint64_t *bad_pos,
                              char *detail, size_t detail_len)
{
    cairn_cursor *cur = NULL;
    memset(kh, 0, sizeof(*kh));
    *bad_pos = 0;
    cairn__clear(detail, detail_len);
    cairn_err err = cairn__cursor_open(txn, CAIRN_DBI_INDEX, &cur);
    if (err == CAIRN_OK) {
        err = walk(txn, journal_id, cur, kh, bad_pos, detail, detail_len);
    }
    cairn__cursor_close(cur);
    if (err != CAIRN_OK) {
        cairn__keyhist_free(kh);
    }
    return err;
}
